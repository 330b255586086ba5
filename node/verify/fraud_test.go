package verify

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// node is a host running the fraud-report service.
type node struct {
	h      *p2p.Host
	bans   *BanList
	fraud  *Fraud
	tracer *streamTracer
	mu     sync.Mutex
	events []ReportEvent
}

func (n *node) add(e ReportEvent) { n.mu.Lock(); n.events = append(n.events, e); n.mu.Unlock() }

func (n *node) got(kind ReportKind) []ReportEvent {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []ReportEvent
	for _, e := range n.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// startNode runs the service on h (a fresh host when nil), re-running
// layers with exec (nil: it holds none).
func startNode(t *testing.T, h *p2p.Host, exec Executor) *node {
	return startNodeWith(t, h, FraudConfig{Exec: exec})
}

func startNodeWith(t *testing.T, h *p2p.Host, cfg FraudConfig) *node {
	t.Helper()
	if h == nil {
		h = p2ptest.NewHost(t, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := &streamTracer{out: map[peer.ID]bool{}}
	ps, err := pubsub.NewGossipSub(ctx, h.Raw(), pubsub.WithMessageSignaturePolicy(pubsub.StrictSign), pubsub.WithRawTracer(tr))
	if err != nil {
		t.Fatal(err)
	}
	bans, _ := OpenBanList("")
	n := &node{h: h, bans: bans, tracer: tr}
	cfg.Bans, cfg.OnEvent, cfg.Logger = bans, n.add, p2ptest.Logger(t, slog.LevelError)
	n.fraud, err = NewFraud(h.Raw(), ps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.fraud.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fraud service: %v", err)
		}
	})
	<-n.fraud.Ready()
	return n
}

// mesh connects the nodes pairwise and waits until each sees the others on
// the topic.
func mesh(t *testing.T, nodes ...*node) {
	t.Helper()
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			p2ptest.Connect(t, a.h, b.h)
		}
	}
	// Each must see the others on the topic and have its own stream to
	// each of them: a message published before that is lost.
	p2ptest.Eventually(t, 10*time.Second, "topic peers and pubsub streams", func() bool {
		for _, a := range nodes {
			if len(a.fraud.Topic().ListPeers()) < len(nodes)-1 || a.tracer.streams() < len(nodes)-1 {
				return false
			}
		}
		return true
	})
}

// streamTracer counts a router's open outbound streams.
type streamTracer struct {
	mu  sync.Mutex
	out map[peer.ID]bool
}

func (s *streamTracer) streams() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.out) }

func (s *streamTracer) OnNewOutboundStream(p peer.ID, _ protocol.ID) {
	s.mu.Lock()
	s.out[p] = true
	s.mu.Unlock()
}

func (s *streamTracer) OnClosedOutboundStream(p peer.ID) {
	s.mu.Lock()
	delete(s.out, p)
	s.mu.Unlock()
}

func (*streamTracer) AddPeer(peer.ID, protocol.ID)          {}
func (*streamTracer) RemovePeer(peer.ID)                    {}
func (*streamTracer) Join(string)                           {}
func (*streamTracer) Leave(string)                          {}
func (*streamTracer) Graft(peer.ID, string)                 {}
func (*streamTracer) Prune(peer.ID, string)                 {}
func (*streamTracer) ValidateMessage(*pubsub.Message)       {}
func (*streamTracer) DeliverMessage(*pubsub.Message)        {}
func (*streamTracer) RejectMessage(*pubsub.Message, string) {}
func (*streamTracer) DuplicateMessage(*pubsub.Message)      {}
func (*streamTracer) ThrottlePeer(peer.ID)                  {}
func (*streamTracer) RecvRPC(*pubsub.RPC)                   {}
func (*streamTracer) SendRPC(*pubsub.RPC, peer.ID)          {}
func (*streamTracer) DropRPC(*pubsub.RPC, peer.ID)          {}
func (*streamTracer) UndeliverableMessage(*pubsub.Message)  {}

// TestFraudReportVerifiedByThirdNode: a client catches a cheating provider
// and publishes a report; a third node holding the layers re-runs it,
// reproduces the wrong result and bans the provider too; a node without the
// layers relays the report but does not act on it.
func TestFraudReportVerifiedByThirdNode(t *testing.T) {
	tm := openModel(t)
	n := tm.m.NumLayers
	honest := tm.serve(t, 1, n, nil)
	cheater := tm.serve(t, 1, n, func(b *shard.ModelBackend) shard.Backend { return cheatBackend{b} })
	o := newOpener(t, tm, honest, cheater)
	client := startNode(t, o.h, tm.exec())
	third := startNode(t, nil, tm.exec())
	blind := startNode(t, nil, nil)
	mesh(t, client, third, blind)

	chk, err := NewChecker(CheckerConfig{Rate: 0.25, Rand: seeded(5), Dim: tm.m.Dim, Bans: client.bans,
		Local: []route.Range{{From: 0, To: n}}, OpenLocal: tm.exec().OpenLocal, Reporter: client.fraud})
	if err != nil {
		t.Fatal(err)
	}
	generate(t, o.chain(t, tm, cheater, chk), 40)
	id := cheater.h.ID().String()
	if !client.bans.IsBanned(id) {
		t.Fatalf("client did not ban the cheater: %+v", client.bans.Entries())
	}
	waitFor(t, 15*time.Second, func() bool {
		return len(client.got(ReportPublished)) == 1 && len(third.got(ReportConfirmed)) == 1 && len(blind.got(ReportUnverifiable)) == 1
	}, "the report judged", client, third, blind)
	if e := third.got(ReportConfirmed)[0]; e.Provider != id || e.Reporter != client.h.ID().String() {
		t.Fatalf("confirmation %+v", e)
	}
	if !third.bans.IsBanned(id) || third.bans.IsDistrusted(client.h.ID().String()) {
		t.Fatalf("third node's bans %+v", third.bans.Entries())
	}
	if len(blind.bans.Entries()) != 0 {
		t.Fatalf("a node that could not re-run the report acted on it: %+v", blind.bans.Entries())
	}
}

// TestForgedReports: reports that do not hold up get their authors
// distrusted and convict nobody.
func TestForgedReports(t *testing.T) {
	tm := openModel(t)
	n := tm.m.NumLayers
	honest := tm.serve(t, 1, n, nil)
	o := newOpener(t, tm, honest)
	judge := startNode(t, nil, tm.exec())
	forgers := map[string]*node{}
	for _, name := range []string{"honest result", "bad signature", "other inputs"} {
		forgers[name] = startNode(t, nil, nil)
	}
	all := []*node{judge}
	for _, f := range forgers {
		all = append(all, f)
	}
	mesh(t, all...)

	// A real, honest signed result of the provider.
	ctx := context.Background()
	s, err := o.open(ctx, honest.candidate(), route.Range{From: 1, To: n}, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hidden := make([]float32, 3*tm.m.Dim)
	for i := range hidden {
		hidden[i] = float32(i%7) * 0.1
	}
	if _, err := s.Forward(ctx, 0, nil, hidden); err != nil {
		t.Fatal(err)
	}
	ev, _ := s.(*shard.RemoteStage).Evidence()
	report := func() Report {
		r, err := reportOf(&ev, route.Audit{Hidden: hidden}, tm.m.Dim)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	bad := report()
	bad.Sig = slices.Clone(bad.Sig)
	bad.Sig[0] ^= 1
	other := report()
	moved := slices.Clone(hidden)
	moved[0] += 1
	other.Inputs, _ = EncodeInputs(nil, moved, tm.m.Dim, nil)
	other.InputsHash, other.InputsLen = sha256Sum(other.Inputs), len(other.Inputs)
	sent := map[string]Report{"honest result": report(), "bad signature": bad, "other inputs": other}
	for name, r := range sent {
		if err := forgers[name].fraud.Publish(ctx, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for name, f := range forgers {
		for !judge.bans.IsDistrusted(f.h.ID().String()) {
			if time.Now().After(deadline) {
				judge.mu.Lock()
				t.Fatalf("forger of %q not distrusted; judge's events %+v", name, judge.events)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if judge.bans.IsBanned(honest.h.ID().String()) || len(judge.got(ReportConfirmed)) != 0 {
		t.Fatalf("an honest provider was convicted: %+v", judge.bans.Entries())
	}
	for _, e := range judge.got(ReportForged) {
		t.Logf("forged: %s", e.Reason)
	}
	// A distrusted node's next report is ignored without a re-run.
	before := len(judge.got(ReportForged))
	forgers["honest result"].fraud.Publish(ctx, report())
	time.Sleep(300 * time.Millisecond)
	if len(judge.got(ReportForged)) != before {
		t.Fatal("a distrusted reporter was heard again")
	}
}

// TestFraudReportLargeInputs: a history too large to carry is served by the
// reporter on request (the reporter carries at most 16 KiB here, so that a
// short history is "large").
func TestFraudReportLargeInputs(t *testing.T) {
	tm := openModel(t)
	cheater := tm.serve(t, 1, 3, func(b *shard.ModelBackend) shard.Backend { return cheatBackend{b} })
	o := newOpener(t, tm, cheater)
	reporter := startNodeWith(t, o.h, FraudConfig{Inline: 16 << 10})
	third := startNode(t, nil, tm.exec())
	mesh(t, reporter, third)
	ctx := context.Background()
	const positions = 100 // 100 × (1 + 64 × 4) bytes > 16 KiB
	s, err := o.open(ctx, cheater.candidate(), route.Range{From: 1, To: 3}, positions)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hidden := make([]float32, positions*tm.m.Dim)
	for i := range hidden {
		hidden[i] = float32(i%13)*0.05 - 0.3
	}
	if _, err := s.Forward(ctx, 0, nil, hidden); err != nil {
		t.Fatal(err)
	}
	ev, _ := s.(*shard.RemoteStage).Evidence()
	r, err := reportOf(&ev, route.Audit{Hidden: hidden}, tm.m.Dim)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Inputs) <= 16<<10 {
		t.Fatalf("inputs of %d bytes fit inline", len(r.Inputs))
	}
	if err := reporter.fraud.Publish(ctx, r); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 20*time.Second, "the report judged", func() bool {
		third.mu.Lock()
		defer third.mu.Unlock()
		return len(third.events) > 0
	})
	if e := third.got(ReportConfirmed); len(e) != 1 || !third.bans.IsBanned(cheater.h.ID().String()) {
		t.Fatalf("events %+v", third.got(ReportUnverifiable))
	}
	// Nobody else gets the inputs for a hash the reporter does not hold.
	if _, err := fetchInputs(ctx, third.h.Raw(), reporter.h.ID(), [32]byte{1}, 10); err == nil {
		t.Fatal("fetched unknown inputs")
	}
	if _, err := fetchInputs(ctx, third.h.Raw(), peer.ID("nobody"), r.InputsHash, r.InputsLen); err == nil {
		t.Fatal("fetched from nobody")
	}
}

// waitFor polls cond and fails with the nodes' events when it does not hold
// in time.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string, nodes ...*node) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			for i, n := range nodes {
				n.mu.Lock()
				t.Logf("node %d (%s): %d topic peers, events %+v", i, n.h.ID(), len(n.fraud.Topic().ListPeers()), n.events)
				n.mu.Unlock()
			}
			t.Fatalf("timed out after %v: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
