package discovery

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// node is a host with a running discovery service.
type node struct {
	host *p2p.Host
	svc  *Service
	stop func() // stops Serve and waits for it
}

// testConfig: mechanisms off (tests turn on what they exercise), DHT in
// server mode on the LAN scope, which accepts 127.0.0.1.
func testConfig() Config {
	cfg := Default()
	cfg.EnablePubSub, cfg.EnableDHT, cfg.EnableMDNS = false, false, false
	cfg.DHTMode = DHTModeServer
	cfg.DHTScope = DHTScopeLAN
	cfg.TTL = time.Minute
	cfg.Refresh = time.Second
	cfg.Prune = 200 * time.Millisecond
	cfg.FetchTimeout = 5 * time.Second
	return cfg
}

func startNode(t *testing.T, cfg Config, hostCfg func(*p2p.Config)) *node {
	t.Helper()
	h := p2ptest.NewHost(t, hostCfg)
	svc, err := New(h.Raw(), nil, cfg, p2ptest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	n := &node{host: h, svc: svc}
	var stopped bool
	n.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v", err)
		}
	}
	t.Cleanup(n.stop)
	p2ptest.Eventually(t, 10*time.Second, "service running", func() bool { return svc.running() != nil })
	return n
}

// shardOf is an announcement template for the node (the service fills
// PeerID, Addrs, Seq and Expires).
func shardOf(from, to int) Announcement {
	a := sampleAnnouncement("")
	a.From, a.To = from, to
	return a
}

func TestDHTDiscoveryAcrossChain(t *testing.T) {
	cfg := testConfig()
	cfg.EnableDHT = true
	const n = 6
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, cfg, nil)
		if i > 0 { // each node bootstraps from the previous one
			p2ptest.Connect(t, nodes[i].host, nodes[i-1].host)
		}
	}
	for _, nd := range nodes {
		p2ptest.Eventually(t, 10*time.Second, "routing table has a neighbour", func() bool {
			return nd.svc.running().dht.RoutingTable().Size() > 0
		})
	}
	provider, finder := nodes[0], nodes[n-1]
	model := shardOf(0, 8).ModelHash
	if err := provider.svc.Announce(t.Context(), shardOf(0, 8)); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 30*time.Second, "provider record published", func() bool {
		provider.svc.mu.Lock()
		defer provider.svc.mu.Unlock()
		return !provider.svc.own[model].provided.IsZero()
	})
	// Whatever the provide walk did, the finder must now learn the
	// provider from the DHT alone: no connection, no known address.
	fh := finder.host.Raw()
	if err := fh.Network().ClosePeer(provider.host.ID()); err != nil {
		t.Fatal(err)
	}
	fh.Peerstore().ClearAddrs(provider.host.ID())
	if fh.Network().Connectedness(provider.host.ID()) == network.Connected {
		t.Fatal("finder still connected to provider")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	found, err := finder.svc.Find(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].PeerID != provider.host.ID() || found[0].From != 0 || found[0].To != 8 {
		t.Fatalf("Find = %+v, want the provider's [0,8) announcement", found)
	}
	if p := finder.svc.Registry().Providers(model); len(p) != 1 || p[0].PeerID != provider.host.ID() {
		t.Fatalf("registry after Find = %+v", p)
	}
	if c := finder.svc.Registry().Coverage(model, 16); c.Complete() || c.Gaps[0] != (LayerRange{8, 16}) {
		t.Fatalf("coverage = %+v, want gap [8,16)", c)
	}

	// After a withdrawal the provider serves the tombstone, and Find no
	// longer reports it.
	if err := provider.svc.Withdraw(t.Context(), model); err != nil {
		t.Fatal(err)
	}
	found, err = finder.svc.Find(ctx, model)
	if err != nil || len(found) != 0 {
		t.Fatalf("Find after withdrawal = %+v, %v, want none", found, err)
	}
	if p := finder.svc.Registry().Providers(model); len(p) != 0 {
		t.Fatalf("registry still lists withdrawn provider: %+v", p)
	}
}

func TestPubSubPropagationAndWithdrawal(t *testing.T) {
	cfg := testConfig()
	cfg.EnablePubSub = true
	const n = 4
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, cfg, nil)
		if i > 0 { // a line: 0 - 1 - 2 - 3
			p2ptest.Connect(t, nodes[i].host, nodes[i-1].host)
		}
	}
	model := shardOf(0, 16).ModelHash
	for _, nd := range nodes[1:] {
		nd.svc.Watch(model)
	}
	provider, far := nodes[0], nodes[n-1]
	if far.host.Raw().Network().Connectedness(provider.host.ID()) == network.Connected {
		t.Fatal("far node is directly connected to the provider")
	}
	if err := provider.svc.Announce(t.Context(), shardOf(0, 16)); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 30*time.Second, "announcement reaches the far end of the line", func() bool {
		p := far.svc.Registry().Providers(model)
		return len(p) == 1 && p[0].PeerID == provider.host.ID()
	})
	if !far.svc.Registry().Coverage(model, 16).Complete() {
		t.Fatal("coverage incomplete with a full-range provider")
	}
	first, _ := far.svc.Registry().Get(provider.host.ID(), model)
	p2ptest.Eventually(t, 10*time.Second, "re-announcement with a higher seq", func() bool {
		a, ok := far.svc.Registry().Get(provider.host.ID(), model)
		return ok && a.Seq > first.Seq
	})

	start := time.Now()
	if err := provider.svc.Withdraw(t.Context(), model); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 15*time.Second, "withdrawal reaches the far end", func() bool {
		a, ok := far.svc.Registry().Get(provider.host.ID(), model)
		return ok && a.Withdrawn && len(far.svc.Registry().Providers(model)) == 0
	})
	if exp := first.Expires; time.Now().After(exp) {
		t.Fatalf("withdrawal took %v: the announcement would have expired anyway", time.Since(start))
	}
	if err := provider.svc.Withdraw(t.Context(), ModelHash{1}); !errors.Is(err, ErrNotAnnounced) {
		t.Fatalf("Withdraw of an unknown model: err = %v", err)
	}
}

func TestAnnouncementsExpireWhenProviderStops(t *testing.T) {
	cfg := testConfig()
	cfg.EnablePubSub = true
	cfg.TTL, cfg.Refresh = 2*time.Second, 500*time.Millisecond
	provider, watcher := startNode(t, cfg, nil), startNode(t, cfg, nil)
	p2ptest.Connect(t, watcher.host, provider.host)
	model := shardOf(0, 16).ModelHash
	watcher.svc.Watch(model)
	if err := provider.svc.Announce(t.Context(), shardOf(0, 16)); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 20*time.Second, "watcher sees the provider", func() bool {
		return len(watcher.svc.Registry().Providers(model)) == 1
	})
	// The provider goes silent (no withdrawal): its last announcement must
	// age out of the watcher's registry.
	provider.stop()
	last, ok := watcher.svc.Registry().Get(provider.host.ID(), model)
	if !ok {
		t.Fatal("announcement vanished before expiry")
	}
	p2ptest.Eventually(t, 10*time.Second, "announcement expires and is pruned", func() bool {
		_, ok := watcher.svc.Registry().Get(provider.host.ID(), model)
		return !ok && len(watcher.svc.Registry().Providers(model)) == 0
	})
	if time.Now().Before(last.Expires) {
		t.Fatalf("announcement dropped before its expiry %v", last.Expires)
	}
}

func TestServeTwiceAndNotRunning(t *testing.T) {
	cfg := testConfig()
	cfg.EnableDHT = true
	h := p2ptest.NewHost(t, nil)
	svc, err := New(h.Raw(), nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Find(t.Context(), ModelHash{}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Find before Serve: err = %v", err)
	}
	// Announce before Serve is kept and published on start.
	if err := svc.Announce(t.Context(), shardOf(0, 4)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	p2ptest.Eventually(t, 10*time.Second, "running", func() bool { return svc.running() != nil })
	if err := svc.Serve(ctx); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Serve: err = %v", err)
	}
	if a, ok := svc.Own(shardOf(0, 4).ModelHash); !ok || a.PeerID != h.ID() || a.To != 4 {
		t.Fatalf("Own = %+v, %v", a, ok)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if svc.running() != nil {
		t.Fatal("still running after Serve returned")
	}
	noDHT := testConfig()
	svc2, err := New(p2ptest.NewHost(t, nil).Raw(), nil, noDHT, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() { done <- svc2.Serve(ctx2) }()
	p2ptest.Eventually(t, 10*time.Second, "running", func() bool { return svc2.running() != nil })
	if _, err := svc2.Find(t.Context(), ModelHash{}); !errors.Is(err, ErrDHTDisabled) {
		t.Fatalf("Find without DHT: err = %v", err)
	}
	cancel2()
	<-done
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"default", func(*Config) {}, true},
		{"private swarm", func(c *Config) { *c = c.PrivateSwarm() }, true},
		{"all off", func(c *Config) { c.EnableDHT, c.EnablePubSub, c.EnableMDNS = false, false, false }, true},
		{"bad prefix", func(c *Config) { c.DHTProtocolPrefix = "hearth" }, false},
		{"bad mode", func(c *Config) { c.DHTMode = "sometimes" }, false},
		{"bad scope", func(c *Config) { c.DHTScope = "galaxy" }, false},
		{"no mdns name", func(c *Config) { c.MDNSServiceName = "" }, false},
		{"zero ttl", func(c *Config) { c.TTL = 0 }, false},
		{"ttl too long", func(c *Config) { c.TTL = 2 * MaxAnnounceTTL }, false},
		{"refresh not below ttl", func(c *Config) { c.Refresh = c.TTL }, false},
		{"zero prune", func(c *Config) { c.Prune = 0 }, false},
		{"zero reprovide", func(c *Config) { c.Reprovide = 0 }, false},
		{"zero fetch timeout", func(c *Config) { c.FetchTimeout = 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestGossipValidator(t *testing.T) {
	h := p2ptest.NewHost(t, nil)
	svc, err := New(h.Raw(), NewRegistry(func() time.Time { return testNow }), testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.now = func() time.Time { return testNow }
	key, id := newKey(t)
	_, other := newKey(t)
	a := sampleAnnouncement(id)
	raw, err := a.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	expired := a
	expired.Expires = testNow.Add(-time.Second)
	rawExpired, err := expired.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(raw)
	tampered[len(tampered)-1] ^= 1
	msg := func(author peer.ID, data []byte) *pubsub.Message {
		return &pubsub.Message{Message: &pb.Message{From: []byte(author), Data: data}}
	}
	tests := []struct {
		name  string
		model ModelHash
		m     *pubsub.Message
		want  pubsub.ValidationResult
	}{
		{"own announcement by its author", a.ModelHash, msg(id, raw), pubsub.ValidationAccept},
		{"relayed under another author", a.ModelHash, msg(other, raw), pubsub.ValidationReject},
		{"wrong topic", ModelHash{9}, msg(id, raw), pubsub.ValidationReject},
		{"bad signature", a.ModelHash, msg(id, tampered), pubsub.ValidationReject},
		{"garbage", a.ModelHash, msg(id, []byte("hello")), pubsub.ValidationReject},
		{"expired", a.ModelHash, msg(id, rawExpired), pubsub.ValidationIgnore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := svc.validator(tt.model)(t.Context(), other, tt.m); got != tt.want {
				t.Fatalf("validator = %v, want %v", got, tt.want)
			}
		})
	}
	// Once the registry holds this seq, the same announcement is ignored.
	if err := svc.reg.Put(a); err != nil {
		t.Fatal(err)
	}
	if got := svc.validator(a.ModelHash)(t.Context(), other, msg(id, raw)); got != pubsub.ValidationIgnore {
		t.Fatalf("known seq: validator = %v, want ignore", got)
	}
}

func TestPrivateSwarmDHT(t *testing.T) {
	key, err := p2p.GenerateSwarmKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig().PrivateSwarm()
	cfg.EnableDHT = true
	inSwarm := func(c *p2p.Config) { c.PrivateSwarmKey = key }
	nodes := []*node{startNode(t, cfg, inSwarm), startNode(t, cfg, inSwarm), startNode(t, cfg, inSwarm)}
	p2ptest.Connect(t, nodes[1].host, nodes[0].host)
	p2ptest.Connect(t, nodes[2].host, nodes[1].host)
	if err := nodes[0].svc.Announce(t.Context(), shardOf(0, 16)); err != nil {
		t.Fatal(err)
	}
	model := shardOf(0, 16).ModelHash
	p2ptest.Eventually(t, 30*time.Second, "found inside the private swarm", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		found, err := nodes[2].svc.Find(ctx, model)
		return err == nil && len(found) == 1 && found[0].PeerID == nodes[0].host.ID()
	})
}
