package p2p_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// addrWith returns h's first address containing the protocol code, or "".
func addrWith(h *p2p.Host, code int) string {
	for _, a := range h.Addrs() {
		if _, err := a.ValueForProtocol(code); err == nil {
			return a.String()
		}
	}
	return ""
}

// echo opens an EchoProtocol stream from a to b, sends payload, and returns
// what came back together with the stream's connection.
func echo(ctx context.Context, a *p2p.Host, b peer.ID, payload []byte) ([]byte, network.Conn, error) {
	s, err := a.Raw().NewStream(ctx, b, p2ptest.EchoProtocol)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	if _, err := s.Write(payload); err != nil {
		return nil, nil, err
	}
	if err := s.CloseWrite(); err != nil {
		return nil, nil, err
	}
	got, err := io.ReadAll(s)
	return got, s.Conn(), err
}

func TestEchoOverTransports(t *testing.T) {
	tests := []struct {
		name string
		code int
	}{
		{"tcp", ma.P_TCP},
		{"quic", ma.P_QUIC_V1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := p2ptest.NewHost(t, nil), p2ptest.NewHost(t, nil)
			p2ptest.ServeEcho(b)
			addr := addrWith(b, tt.code)
			if addr == "" || !strings.Contains(addr, "/ip4/127.0.0.1/") || !strings.HasSuffix(addr, "/p2p/"+b.ID().String()) {
				t.Fatalf("no loopback %s address with /p2p suffix in %v", tt.name, b.Addrs())
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			if id, err := a.Connect(ctx, addr); err != nil || id != b.ID() {
				t.Fatalf("Connect = %v, %v", id, err)
			}
			payload := make([]byte, 64<<10)
			if _, err := rand.Read(payload); err != nil {
				t.Fatal(err)
			}
			got, conn, err := echo(ctx, a, b.ID(), payload)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("echo returned %d bytes, want the %d sent", len(got), len(payload))
			}
			if _, err := conn.RemoteMultiaddr().ValueForProtocol(tt.code); err != nil {
				t.Fatalf("stream ran over %s, want %s", conn.RemoteMultiaddr(), tt.name)
			}
		})
	}
}

func TestPrivateSwarm(t *testing.T) {
	k1, err := p2p.GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := p2p.GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		keyA, keyB string
		connect    bool
	}{
		{"same key", k1, k1, true},
		{"different keys", k1, k2, false},
		{"key vs open swarm", k1, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withKey := func(k string) func(*p2p.Config) {
				return func(c *p2p.Config) { c.PrivateSwarmKey = k }
			}
			a, b := p2ptest.NewHost(t, withKey(tt.keyA)), p2ptest.NewHost(t, withKey(tt.keyB))
			p2ptest.ServeEcho(b)
			if a.PrivateSwarm() != (tt.keyA != "") {
				t.Fatalf("PrivateSwarm() = %v", a.PrivateSwarm())
			}
			if q := addrWith(a, ma.P_QUIC_V1); q != "" {
				t.Fatalf("private swarm host listens on QUIC: %s", q)
			}
			addr := addrWith(b, ma.P_TCP)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, err := a.Connect(ctx, addr)
			if !tt.connect {
				if err == nil {
					t.Fatal("hosts with different swarm keys connected")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := echo(ctx, a, b.ID(), []byte("only my devices"))
			if err != nil || string(got) != "only my devices" {
				t.Fatalf("echo = %q, %v", got, err)
			}
		})
	}
}

func TestConnectErrors(t *testing.T) {
	a := p2ptest.NewHost(t, nil)
	tests := []struct {
		name, addr string
	}{
		{"garbage", "not a multiaddr"},
		{"missing peer id", "/ip4/127.0.0.1/tcp/4001"},
		{"self", a.Addrs()[0].String()},
		{"nobody listening", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if _, err := a.Connect(ctx, tt.addr); err == nil {
				t.Fatalf("Connect(%q) succeeded", tt.addr)
			}
		})
	}
}

func TestReachabilityOverride(t *testing.T) {
	tests := []struct {
		force string
		want  network.Reachability
	}{
		{p2p.ReachabilityPublic, network.ReachabilityPublic},
		{p2p.ReachabilityPrivate, network.ReachabilityPrivate},
	}
	for _, tt := range tests {
		t.Run(tt.force, func(t *testing.T) {
			h := p2ptest.NewHost(t, func(c *p2p.Config) { c.ForceReachability = tt.force })
			p2ptest.Eventually(t, 5*time.Second, "reachability "+tt.want.String(), func() bool {
				return h.Reachability() == tt.want
			})
		})
	}
	t.Run("auto on loopback", func(t *testing.T) {
		h := p2ptest.NewHost(t, func(c *p2p.Config) { c.EnableAutoNAT = true })
		// Nobody can dial us back from outside loopback: AutoNAT has no
		// verdict, so reachability stays unknown.
		if got := h.Reachability(); got != network.ReachabilityUnknown {
			t.Fatalf("Reachability() = %v, want unknown", got)
		}
	})
}

func TestBootstrapAndServe(t *testing.T) {
	seed := p2ptest.NewHost(t, nil)
	h := p2ptest.NewHost(t, func(c *p2p.Config) {
		c.BootstrapPeers = []string{addrWith(seed, ma.P_TCP)}
		c.BootstrapInterval = 100 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx) }()
	p2ptest.Eventually(t, 10*time.Second, "connected to bootstrap peer", func() bool {
		return h.Raw().Network().Connectedness(seed.ID()) == network.Connected
	})
	// Serve re-dials when the connection is lost.
	if err := h.Raw().Network().ClosePeer(seed.ID()); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 10*time.Second, "reconnected to bootstrap peer", func() bool {
		return h.Raw().Network().Connectedness(seed.ID()) == network.Connected
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v after cancel, want nil", err)
	}

	dead := p2ptest.NewHost(t, func(c *p2p.Config) {
		c.BootstrapPeers = []string{"/ip4/127.0.0.1/tcp/1/p2p/" + seed.ID().String()}
	})
	bctx, bcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer bcancel()
	if err := dead.Bootstrap(bctx); !errors.Is(err, p2p.ErrBootstrapFailed) {
		t.Fatalf("Bootstrap to a closed port = %v, want ErrBootstrapFailed", err)
	}
}

func TestConnManagerTrimsAboveHighWatermark(t *testing.T) {
	// The grace period keeps new connections from being trimmed while the
	// peers connect, so the first trim sees all of them at once.
	const grace = 4 * time.Second
	hub := p2ptest.NewHost(t, func(c *p2p.Config) {
		c.ConnMgr = p2p.ConnMgrConfig{Low: 2, High: 4, Grace: grace, TrimInterval: 100 * time.Millisecond}
	})
	const n = 8
	peers := make([]*p2p.Host, n)
	for i := range peers {
		peers[i] = p2ptest.NewHost(t, nil)
	}
	start := time.Now()
	for _, p := range peers {
		p2ptest.Connect(t, p, hub)
	}
	protected := peers[0].ID()
	hub.Raw().ConnManager().Protect(protected, "test")
	connected := func() int { return len(hub.Raw().Network().Peers()) }
	if time.Since(start) < grace && connected() != n {
		t.Fatalf("%d peers connected during the grace period, want %d", connected(), n)
	}
	// libp2p trims unprotected peers down to the low watermark (2); the
	// protected peer comes on top.
	p2ptest.Eventually(t, 20*time.Second, "connections trimmed to the low watermark", func() bool {
		return connected() <= 3
	})
	if hub.Raw().Network().Connectedness(protected) != network.Connected {
		t.Fatal("protected peer was trimmed")
	}
}

func TestProtocolStreamCap(t *testing.T) {
	const proto = protocol.ID("/hearth/test/capped/1")
	server := p2ptest.NewHost(t, func(c *p2p.Config) {
		c.Limits.Protocols[proto] = p2p.StreamLimit{Inbound: 2, Outbound: 16, PerPeer: 16, Memory: 16 << 20}
	})
	// The handler holds each stream open until the client goes away.
	server.Raw().SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		if _, err := s.Write([]byte("k")); err != nil {
			s.Reset()
			return
		}
		if _, err := io.Copy(io.Discard, s); err != nil {
			s.Reset()
		}
	})
	client := p2ptest.NewHost(t, nil)
	p2ptest.Connect(t, client, server)

	open := func() (network.Stream, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		s, err := client.Raw().NewStream(ctx, server.ID(), proto)
		if err != nil {
			return nil, err
		}
		if err := s.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return nil, err
		}
		buf := make([]byte, 1)
		if _, err := io.ReadFull(s, buf); err != nil {
			s.Reset()
			return nil, err
		}
		return s, nil
	}
	var held []network.Stream
	for i := range 2 {
		s, err := open()
		if err != nil {
			t.Fatalf("stream %d within the cap: %v", i, err)
		}
		held = append(held, s)
	}
	if s, err := open(); err == nil {
		s.Reset()
		t.Fatal("third concurrent inbound stream was accepted above the cap of 2")
	}
	held[0].Reset()
	p2ptest.Eventually(t, 5*time.Second, "a stream slot frees up after a reset", func() bool {
		s, err := open()
		if err != nil {
			return false
		}
		held = append(held, s)
		return true
	})
	for _, s := range held {
		s.Reset()
	}
}
