package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/gpu"
	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/hardware"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/node/route"
)

// testNodeConfig serves spec on 127.0.0.1 with gossip only (no DHT, no
// mDNS outside a namespace).
func testNodeConfig(t *testing.T, spec ServeSpec) NodeConfig {
	cfg := DefaultNodeConfig(t.TempDir())
	cfg.Serve = []ServeSpec{spec}
	cfg.Threads = 1
	cfg.P2P = p2ptest.Config()
	cfg.Discovery.EnableDHT, cfg.Discovery.EnableMDNS = false, false
	return cfg
}

// startNode runs a node until the test ends.
func startNode(t *testing.T, cfg NodeConfig) *Node {
	t.Helper()
	n, _ := startNodeEvents(t, cfg)
	return n
}

// startNodeEvents runs a node until the test ends, once it accepts
// sessions, and returns its events from then on.
func startNodeEvents(t *testing.T, cfg NodeConfig) (*Node, <-chan NodeEvent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := NewNode(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	events, stop := n.Subscribe()
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	t.Cleanup(func() {
		stop()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node serve: %v", err)
		}
		n.Close()
	})
	select {
	case <-n.Ready():
	case err := <-done:
		t.Fatalf("node stopped: %v", err)
	}
	waitAccepting(t, events, true)
	return n, events
}

type greedySampler struct{}

func (greedySampler) Sample(logits []float32, _ []int32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return int32(best)
}

const storiesGreedy40 = "[403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352]"

// TestNodeServesAPipeline runs stories260K's layers 2–5 on a node and the
// rest locally: the greedy ids are the reference ids.
func TestNodeServesAPipeline(t *testing.T) {
	path := sharedModel(t, "stories260K.gguf")
	n := startNode(t, testNodeConfig(t, ServeSpec{Model: path, From: 2}))
	if sm := n.ServedModels(); len(sm) != 1 || sm[0].From != 2 || sm[0].To != 5 || sm[0].TokPerSec <= 0 {
		t.Fatalf("served %+v", sm)
	}
	if a, ok := n.Discovery().Own(n.ServedModels()[0].Hash); !ok || a.Withdrawn || a.ThroughputTokS <= 0 {
		t.Fatalf("announcement %+v %v", a, ok)
	}
	ids := generateVia(t, n, path, 40)
	if fmt.Sprint(ids) != storiesGreedy40 {
		t.Fatalf("ids %v", ids)
	}
}

func generateVia(t *testing.T, n *Node, path string, steps int) []int32 {
	t.Helper()
	lm := openLocal(t, "stories260K.gguf")
	client := p2ptest.NewHost(t, nil)
	ctx := context.Background()
	p, err := BuildPipeline(ctx, client, lm, []LayerRange{{From: 0, To: 2}}, PipelineOptions{Peers: []string{n.ListenAddr().String()}, MaxContext: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ids, _, err := model.Generate(ctx, p.Chain, []int32{1}, greedySampler{}, model.GenerateOptions{MaxTokens: steps})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// scriptedReader replays readings: idle until busy is set.
type scriptedReader struct {
	busy  atomic.Bool
	mu    sync.Mutex
	flips []time.Time // when a busy reading was first returned
}

func (r *scriptedReader) Read(context.Context) (hardware.Reading, error) {
	rd := hardware.Reading{Time: time.Now(), CPU: hardware.CPU{Cores: 4, Threads: 8, UsagePct: 5, OthersPct: 2},
		Mem: hardware.Mem{Total: 32 << 30, Available: 24 << 30}}
	if r.busy.Load() {
		rd.CPU.UsagePct, rd.CPU.OthersPct = 95, 90
		r.mu.Lock()
		if len(r.flips) == 0 {
			r.flips = append(r.flips, rd.Time)
		}
		r.mu.Unlock()
	}
	return rd, nil
}

// TestNodeFollowsLendingPolicy drives a node with the lending policy on:
// it accepts sessions only after the machine was idle for the hold time,
// and on the first busy sample it refuses new sessions and withdraws its
// announcement, while a running session goes on.
func TestNodeFollowsLendingPolicy(t *testing.T) {
	path := sharedModel(t, "stories260K.gguf")
	cfg := testNodeConfig(t, ServeSpec{Model: path, From: 2})
	reader := &scriptedReader{}
	cfg.Reader = reader
	cfg.SampleInterval = 50 * time.Millisecond
	cfg.Lending.Enabled = true
	cfg.Lending.HoldIdle = 300 * time.Millisecond
	cfg.Lending.DrainTimeout = 5 * time.Second
	cfg.Lending.RAMReserveBytes = 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := NewNode(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	events, stop := n.Subscribe()
	defer stop()
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	<-n.Ready()
	if n.Server().Accepting() {
		t.Fatal("accepting before the machine was idle for the hold time")
	}
	waitAccepting(t, events, true)
	hash := n.ServedModels()[0].Hash

	// A client starts a session while the machine is idle.
	lm := openLocal(t, "stories260K.gguf")
	client := p2ptest.NewHost(t, nil)
	p, err := BuildPipeline(ctx, client, lm, []LayerRange{{From: 0, To: 2}}, PipelineOptions{Peers: []string{n.ListenAddr().String()}, MaxContext: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Chain.Forward(ctx, 0, []int32{1}); err != nil {
		t.Fatal(err)
	}

	// The user comes back.
	reader.busy.Store(true)
	stoppedAt := waitAccepting(t, events, false)
	reader.mu.Lock()
	t.Logf("stopped accepting %v after the first busy sample", stoppedAt.Sub(reader.flips[0]))
	reader.mu.Unlock()
	if a, ok := n.Discovery().Own(hash); !ok || !a.Withdrawn {
		t.Errorf("announcement not withdrawn: %+v", a)
	}
	_, err = BuildPipeline(ctx, client, lm, []LayerRange{{From: 0, To: 2}}, PipelineOptions{Peers: []string{n.ListenAddr().String()}, MaxContext: 64})
	if !errors.Is(err, route.ErrGap) || !strings.Contains(err.Error(), "not accepting sessions") {
		t.Errorf("new session while busy: %v", err)
	}
	// The running session is allowed to finish its turn.
	if _, err := p.Chain.Forward(ctx, 1, []int32{403}); err != nil {
		t.Errorf("running session after the user came back: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// waitAccepting waits for an event with the given accepting state and
// returns when it came.
func waitAccepting(t *testing.T, events <-chan NodeEvent, want bool) time.Time {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Accepting == want {
				return e.Time
			}
		case <-timeout:
			t.Fatalf("no event with accepting=%v", want)
		}
	}
}

// TestGPUNodeServesAPipeline serves stories260K's layers 2–5 from a GPU
// (lavapipe in CI): the node announces its WebGPU backend and a client's
// pipeline gives the reference greedy ids.
func TestGPUNodeServesAPipeline(t *testing.T) {
	t.Setenv(gpu.EnvAllowCPU, "1")
	if _, err := gpu.Adapters(gpu.Options{AllowCPU: true}); err != nil && !gpu.RequireGPU() {
		t.Skipf("no WebGPU: %v", err)
	}
	path := sharedModel(t, "stories260K.gguf")
	n := startNode(t, testNodeConfig(t, ServeSpec{Model: path, From: 2, GPU: true}))
	sm := n.ServedModels()[0]
	if !strings.HasPrefix(sm.Backend, "webgpu:") || sm.TokPerSec <= 0 {
		t.Fatalf("served %+v", sm)
	}
	if a, ok := n.Discovery().Own(sm.Hash); !ok || a.Backend != sm.Backend {
		t.Fatalf("announcement backend %q, served %q", a.Backend, sm.Backend)
	}
	if ids := generateVia(t, n, path, 40); fmt.Sprint(ids) != storiesGreedy40 {
		t.Fatalf("ids %v", ids)
	}
}

// TestNodeDrainEndsSessionsAndClientsFailOver: when the user comes back
// the node lets its running session go on until the drain deadline, then
// ends it; the client fails over to another provider of the layers and the
// generation's ids are those of an undisturbed run.
func TestNodeDrainEndsSessionsAndClientsFailOver(t *testing.T) {
	path := sharedModel(t, "stories260K.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var nodes []*Node
	var readers []*scriptedReader
	var subs []<-chan NodeEvent
	for range 2 {
		cfg := testNodeConfig(t, ServeSpec{Model: path, From: 2})
		r := &scriptedReader{}
		cfg.Reader, cfg.SampleInterval = r, 50*time.Millisecond
		cfg.Lending.Enabled, cfg.Lending.HoldIdle, cfg.Lending.RAMReserveBytes = true, 100*time.Millisecond, 0
		cfg.Lending.DrainTimeout = 400 * time.Millisecond
		n, events := startNodeEvents(t, cfg)
		nodes, readers, subs = append(nodes, n), append(readers, r), append(subs, events)
	}
	lm := openLocal(t, "stories260K.gguf")
	var ev pipelineEvents
	p, err := BuildPipeline(ctx, p2ptest.NewHost(t, nil), lm, []LayerRange{{From: 0, To: 2}}, PipelineOptions{
		Peers: []string{nodes[0].ListenAddr().String(), nodes[1].ListenAddr().String()}, MaxContext: 64,
		CheckRate: -1, OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	v := 0 // the provider the pipeline starts on is the one whose user comes back
	if p.Route()[1].Peer == nodes[1].Host().ID().String() {
		v = 1
	}
	victim, spare := nodes[v], nodes[1-v]
	var endedAfter time.Duration
	got := generateWith(t, p, func(step int) {
		if step != 10 {
			return
		}
		backAt := time.Now()
		readers[v].busy.Store(true)
		waitAccepting(t, subs[v], false)
		// The session may finish its turn: it still runs while draining.
		if n := len(victim.Server().Stats().Sessions); n != 1 {
			t.Fatalf("%d sessions while draining, want 1", n)
		}
		p2ptest.Eventually(t, 10*time.Second, "session ended at the drain deadline", func() bool {
			return len(victim.Server().Stats().Sessions) == 0
		})
		endedAfter = time.Since(backAt)
	})
	if endedAfter < 400*time.Millisecond {
		t.Errorf("session ended %v after the user came back, before the drain deadline", endedAfter)
	}
	if got != storiesGreedyIDs {
		t.Fatalf("ids %s\nwant %s", got, storiesGreedyIDs)
	}
	fo := ev.failovers()
	if len(fo) != 1 || fo[0].From != victim.Host().ID().String() || len(fo[0].To) != 1 || fo[0].To[0] != spare.Host().ID().String() {
		t.Fatalf("failovers %+v", fo)
	}
	t.Logf("failed over in %v: %s", fo[0].Recovery, fo[0].Reason)
	if st := victim.Server().Stats(); st.KVBytes != 0 {
		t.Errorf("drained node still reserves %d KV bytes", st.KVBytes)
	}
}
