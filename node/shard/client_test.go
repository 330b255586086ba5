package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// slowBackend delays every forward of a real backend, to exercise client
// deadlines.
type slowBackend struct {
	Backend
	delay time.Duration
}

type slowSession struct {
	StageSession
	delay time.Duration
}

func (b slowBackend) OpenSession(from, to, maxCtx int) (StageSession, error) {
	s, err := b.Backend.OpenSession(from, to, maxCtx)
	if err != nil {
		return nil, err
	}
	return slowSession{s, b.delay}, nil
}

func (s slowSession) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.StageSession.Forward(ctx, pos, tokens, hidden)
}

func TestClientDeadlineBreaksStage(t *testing.T) {
	tm := openTestModel(t, stories260K)
	srv := startServer(t, Default(), nil, slowBackend{tm.backend(t, 0, tm.m.NumLayers), 300 * time.Millisecond})
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	r := openStage(t, c, SessionConfig{Model: tm.hash, From: 0, To: tm.m.NumLayers, MaxContext: 8, DType: F32})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Forward(ctx, 0, []int32{1}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrBroken) {
		t.Fatalf("forward past its deadline: %v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("deadline honoured after %v", d)
	}
	if _, err := r.Forward(context.Background(), 0, []int32{1}, nil); !errors.Is(err, ErrBroken) {
		t.Fatalf("broken stage reused: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close of a broken stage: %v", err)
	}
	// The server is unharmed: a new session works.
	r2 := openStage(t, c, SessionConfig{Model: tm.hash, From: 0, To: tm.m.NumLayers, MaxContext: 8, DType: F32})
	if _, err := r2.Forward(context.Background(), 0, []int32{1}, nil); err != nil {
		t.Fatal(err)
	}
	p2ptest.Eventually(t, 5*time.Second, "broken session released", func() bool { return len(srv.s.Stats().Sessions) == 1 })
}

func TestClientChecksBeforeOpening(t *testing.T) {
	tm := openTestModel(t, stories260K)
	srv := startServer(t, Default(), nil, tm.backend(t, 1, 4))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	info := c.Info()
	if len(info.Models) != 1 || info.Models[0].From != 1 || info.Models[0].To != 4 || info.Models[0].Hash != tm.hash ||
		info.Backend != "cpu" || !info.Accepting || info.MaxSessions != Default().MaxSessions {
		t.Fatalf("info %+v", info)
	}
	if c.RTT() <= 0 {
		t.Fatal("no round trip measured")
	}
	ctx := context.Background()
	for _, cfg := range []SessionConfig{
		{Model: [32]byte{1}, From: 1, To: 4, DType: F32},
		{Model: tm.hash, From: 0, To: 4, DType: F32},
		{Model: tm.hash, From: 1, To: 5, DType: F32},
	} {
		if _, err := c.OpenSession(ctx, cfg); !errors.Is(err, ErrNotServed) {
			t.Errorf("open %+v: %v", cfg, err)
		}
	}
	r := openStage(t, c, SessionConfig{Model: tm.hash, From: 1, To: 4, DType: F32})
	for _, tc := range []struct {
		name   string
		pos    int
		hidden []float32
	}{
		{"wrong width", 0, make([]float32, tm.m.Dim+1)},
		{"empty", 0, nil},
		{"position beyond cache", 1, make([]float32, tm.m.Dim)},
	} {
		if _, err := r.Forward(ctx, tc.pos, nil, tc.hidden); err == nil || errors.Is(err, ErrBroken) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := r.Forward(ctx, 0, nil, make([]float32, tm.m.Dim)); err != nil {
		t.Fatalf("valid forward after refused calls: %v", err)
	}
}

// TestConcurrentSessions runs several pipelines on one server at once: each
// must match the local model exactly.
func TestConcurrentSessions(t *testing.T) {
	tm := openTestModel(t, tinyQ8)
	n := tm.m.NumLayers
	_, want := decode(t, model.Chain{tm.localStage(t, 0, n, 64)}, prompt, 16)
	srv := startServer(t, Default(), nil, tm.backend(t, 0, n))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		c := dial(t, p2ptest.NewHost(t, nil), srv)
		first := openStage(t, c, SessionConfig{Model: tm.hash, From: 0, To: 1, MaxContext: 64, DType: F32})
		second := openStage(t, c, SessionConfig{Model: tm.hash, From: 1, To: n, MaxContext: 64, DType: F32})
		wg.Go(func() {
			var got [][]float32
			_, _, err := model.Generate(context.Background(), model.Chain{first, second}, prompt, greedy{}, model.GenerateOptions{
				MaxTokens: 16,
				OnLogits:  func(_ int, l []float32) { got = append(got, append([]float32(nil), l...)) },
			})
			if err == nil {
				for s := range want {
					if !bitsEqual(got[s], want[s]) {
						err = fmt.Errorf("pipeline %d step %d differs", i, s)
						break
					}
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if st := srv.s.Stats(); len(st.Sessions) != 8 || st.Totals.Tokens != 8*uint64(len(prompt)+15) {
		t.Fatalf("stats: %d sessions, %d tokens", len(st.Sessions), st.Totals.Tokens)
	}
}

func TestServerEvents(t *testing.T) {
	tm := openTestModel(t, stories260K)
	srv := startServer(t, Default(), nil, tm.backend(t, 0, tm.m.NumLayers))
	events, cancel := srv.s.Subscribe(64)
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	r := openStage(t, c, SessionConfig{Model: tm.hash, From: 0, To: tm.m.NumLayers, MaxContext: 8, DType: F32})
	if _, err := r.Forward(context.Background(), 0, []int32{1, 403}, nil); err != nil {
		t.Fatal(err)
	}
	srv.s.SetAccepting(false)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var kinds []EventKind
	timeout := time.After(5 * time.Second)
	for len(kinds) < 4 {
		select {
		case e := <-events:
			kinds = append(kinds, e.Kind)
			if e.Kind == EventForward && (e.Tokens != 2 || e.Units != 2*uint64(tm.m.NumLayers) || e.Compute <= 0) {
				t.Errorf("forward event %+v", e)
			}
		case <-timeout:
			t.Fatalf("events so far: %v", kinds)
		}
	}
	if fmt.Sprint(kinds) != fmt.Sprint([]EventKind{EventOpened, EventForward, EventAccepting, EventClosed}) {
		t.Fatalf("events %v", kinds)
	}
	cancel()
	cancel() // idempotent
	if _, ok := <-events; ok {
		t.Fatal("channel open after cancel")
	}
	if info := srv.s.Info(); info.Models[0].TokPerSec != 0 {
		t.Fatalf("throughput measured from a batch of 2: %v", info.Models[0].TokPerSec)
	}
}
