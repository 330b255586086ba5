package p2p_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// TestHolePunchDCUtR runs a real DCUtR exchange: B reaches C through relay
// A, then C (the side that received the relayed connection) coordinates a
// hole punch with B over the relay and both dial each other directly.
//
// What loopback cannot show: libp2p's DCUtR service only starts once a host
// has a public address (127.0.0.0/8 never counts), so on plain loopback the
// service stays dormant. The test therefore re-executes itself inside a
// fresh network namespace that holds only lo, with one address from a
// globally-routed range (11.0.0.1) added to lo; nothing can leave that
// namespace. What the namespace cannot show either: there is no NAT in it,
// so no mapping is punched. B's dial (the DCUtR "client") reaches C's
// listener directly; C's own simultaneous-open dial then meets an existing
// connection instead of a crossing SYN and may fail, which is why the test
// checks B's side of the punch. The test proves the protocol exchange over
// the relay and the switch to a direct connection, not NAT traversal.
//
// B advertises no direct address (NoAnnounce), so C cannot simply dial B and
// must learn B's address from the hole-punch exchange (B's address as
// observed by the relay).
func TestHolePunchDCUtR(t *testing.T) {
	setup := append(slices.Clone(p2ptest.LoopbackMulticast), "ip addr add 11.0.0.1/32 dev lo")
	if !p2ptest.InNetNS(t, setup) {
		return
	}
	// Every host listens on all addresses of the namespace (127.0.0.1 and
	// 11.0.0.1) on its own port, so 11.0.0.1:<port> reaches each of them.
	listenAll := func(c *p2p.Config) { c.ListenAddrs = []string{"/ip4/0.0.0.0/tcp/0"} }
	a := p2ptest.NewHost(t, func(c *p2p.Config) {
		listenAll(c)
		c.EnableRelayService = true
		c.ForceReachability = p2p.ReachabilityPublic
		c.EnableHolePunching = false
	})
	relay := addrContaining(t, a, "/ip4/11.0.0.1/")
	c := p2ptest.NewHost(t, func(cfg *p2p.Config) {
		listenAll(cfg)
		cfg.ForceReachability = p2p.ReachabilityPrivate
		cfg.StaticRelays = []string{relay}
	})
	b := p2ptest.NewHost(t, func(cfg *p2p.Config) {
		listenAll(cfg)
		cfg.NoAnnounce = []string{"11.0.0.0/8"}
	})
	p2ptest.ServeEcho(c)

	for _, addr := range b.Addrs() {
		if strings.Contains(addr.String(), "/ip4/11.") {
			t.Fatalf("B advertises %s despite NoAnnounce", addr)
		}
	}
	p2ptest.Eventually(t, 20*time.Second, "C holds a reservation on A", func() bool {
		return len(c.Reservations()) == 1
	})
	// B meets the relay first: the relay tells B its observed address,
	// which is what B will offer C for the punch.
	bctx, bcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer bcancel()
	if _, err := b.Connect(bctx, relay); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*p2p.Host{"B": b, "C": c} {
		p2ptest.Eventually(t, 30*time.Second, name+" serves DCUtR once it knows a public address", func() bool {
			return slices.Contains(h.Raw().Mux().Protocols(), protocol.ID(holepunch.Protocol))
		})
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := b.Connect(ctx, relay+"/p2p-circuit/p2p/"+c.ID().String()); err != nil {
		t.Fatalf("dial C through relay: %v", err)
	}
	direct := func() network.Conn {
		for _, conn := range b.Raw().Network().ConnsToPeer(c.ID()) {
			if !conn.Stat().Limited && !isCircuit(conn.RemoteMultiaddr()) {
				return conn
			}
		}
		return nil
	}
	p2ptest.Eventually(t, 30*time.Second, "B and C upgrade to a direct connection", func() bool {
		return direct() != nil
	})
	// B answers C's CONNECT on the DCUtR stream and dials C at the address
	// C sent in the exchange; its tracer records the successful punch.
	p2ptest.Eventually(t, 10*time.Second, "B records a successful hole punch", func() bool {
		return b.HolePunchStats().PunchesOK >= 1
	})
	// C never dialled B directly: B advertises no public address, so the
	// direct connection can only come from the hole-punch exchange.
	if st := c.HolePunchStats(); st.DirectDials != 0 {
		t.Fatalf("C's DCUtR stats = %+v, want no plain direct dial", st)
	}
	// The direct connection carries streams without the limited-conn opt-in.
	got, conn, err := echo(ctx, b, c.ID(), []byte("punched"))
	if err != nil || string(got) != "punched" || isCircuit(conn.RemoteMultiaddr()) {
		t.Fatalf("echo over direct connection = %q, %v (conn %v)", got, err, conn)
	}
	t.Logf("direct connection %s -> %s; DCUtR stats B %+v, C %+v",
		conn.LocalMultiaddr(), conn.RemoteMultiaddr(), b.HolePunchStats(), c.HolePunchStats())
}

func addrContaining(t *testing.T, h *p2p.Host, sub string) string {
	t.Helper()
	for _, a := range h.Addrs() {
		if strings.Contains(a.String(), sub) {
			return a.String()
		}
	}
	t.Fatalf("no address of %s contains %q: %v", h.ID(), sub, h.Addrs())
	return ""
}
