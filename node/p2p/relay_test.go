package p2p_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// relayTrio starts A (public relay service), C (private, reserving a slot on
// A, holding no other connection) and B (an ordinary host).
func relayTrio(t *testing.T, mutate func(*p2p.Config)) (a, b, c *p2p.Host) {
	t.Helper()
	apply := func(cfg *p2p.Config) {
		if mutate != nil {
			mutate(cfg)
		}
	}
	a = p2ptest.NewHost(t, func(cfg *p2p.Config) {
		cfg.EnableRelayService = true
		cfg.ForceReachability = p2p.ReachabilityPublic
		apply(cfg)
	})
	relayAddr := addrWith(a, ma.P_TCP)
	c = p2ptest.NewHost(t, func(cfg *p2p.Config) {
		cfg.ForceReachability = p2p.ReachabilityPrivate
		cfg.StaticRelays = []string{relayAddr}
		apply(cfg)
	})
	b = p2ptest.NewHost(t, apply)
	p2ptest.Eventually(t, 20*time.Second, "C holds a reservation on A", func() bool {
		r := c.Reservations()
		return len(r) == 1 && r[0].Relay == a.ID()
	})
	return a, b, c
}

func TestCircuitRelayV2(t *testing.T) {
	a, b, c := relayTrio(t, nil)
	p2ptest.ServeEcho(c)

	r := c.Reservations()[0]
	if r.Expires.Before(time.Now().Add(time.Minute)) {
		t.Fatalf("reservation expires %v, want a fresh one", r.Expires)
	}
	wantCircuit := relayAddr(a, c)
	if !containsAddr(r.Addrs, wantCircuit) || !containsAddr(c.Addrs(), wantCircuit) {
		t.Fatalf("circuit address %s missing from reservation %v or host addrs %v", wantCircuit, r.Addrs, c.Addrs())
	}
	// B knows nothing about C but the circuit address.
	if n := len(b.Raw().Peerstore().Addrs(c.ID())); n != 0 {
		t.Fatalf("B already knows %d addresses of C", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := b.Connect(ctx, wantCircuit); err != nil {
		t.Fatalf("dial C through relay: %v", err)
	}
	conns := b.Raw().Network().ConnsToPeer(c.ID())
	if len(conns) != 1 || !conns[0].Stat().Limited || !isCircuit(conns[0].RemoteMultiaddr()) {
		t.Fatalf("B->C connections = %v, want one limited circuit connection", conns)
	}
	sctx := network.WithAllowLimitedConn(ctx, "test")
	got, conn, err := echo(sctx, b, c.ID(), []byte("through the relay"))
	if err != nil {
		t.Fatalf("echo through relay: %v", err)
	}
	if string(got) != "through the relay" || !isCircuit(conn.RemoteMultiaddr()) {
		t.Fatalf("echo = %q over %s", got, conn.RemoteMultiaddr())
	}
}

// relayAddr is the circuit address of c through a's TCP address.
func relayAddr(a, c *p2p.Host) string {
	return addrWith(a, ma.P_TCP) + "/p2p-circuit/p2p/" + c.ID().String()
}

func containsAddr(addrs []ma.Multiaddr, want string) bool {
	for _, a := range addrs {
		if a.String() == want {
			return true
		}
	}
	return false
}

func isCircuit(a ma.Multiaddr) bool {
	return strings.Contains(a.String(), "/p2p-circuit")
}

func TestRelayReservationRenewedAfterDisconnect(t *testing.T) {
	a, b, c := relayTrio(t, nil)
	p2ptest.ServeEcho(c)
	if !c.Raw().ConnManager().IsProtected(a.ID(), "") {
		t.Fatal("relay connection is not protected from trimming")
	}
	// The relay forgets a reservation when its connection drops; the
	// keeper must notice and reserve again for C to stay reachable.
	if err := c.Raw().Network().ClosePeer(a.ID()); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 20*time.Second, "C reconnects to the relay", func() bool {
		return c.Raw().Network().Connectedness(a.ID()) == network.Connected
	})
	p2ptest.Eventually(t, 20*time.Second, "B reaches C through the relay again", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		if _, err := b.Connect(ctx, relayAddr(a, c)); err != nil {
			return false
		}
		got, _, err := echo(network.WithAllowLimitedConn(ctx, "test"), b, c.ID(), []byte("again"))
		return err == nil && string(got) == "again"
	})
}
