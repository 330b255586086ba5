package hardware

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedReader plays a script of readings one per Read, a simulated second apart,
// then repeats the last one. gate, when set, blocks each Read until a value arrives.
type scriptedReader struct {
	mu     sync.Mutex
	script []Reading
	errAt  map[int]error
	n      int
	gate   chan struct{}
}

func (s *scriptedReader) Read(ctx context.Context) (Reading, error) {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return Reading{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.n
	s.n++
	if err := s.errAt[i]; err != nil {
		return Reading{}, err
	}
	r := s.script[min(i, len(s.script)-1)]
	r.Time = t0.Add(time.Duration(i) * time.Second)
	return r, nil
}

// gameReading is idleReading with a game on the GPU.
func gameReading() Reading {
	r := idleReading(t0)
	r.GPUs[0].UtilPct = 98
	r.GPUs[0].Processes = append(r.GPUs[0].Processes, GPUProc{PID: 1234, Name: "steam"})
	return r
}

func newTestMonitor(t *testing.T, r Reader, sessions func() int) *Monitor {
	t.Helper()
	cfg := MonitorConfig{Interval: time.Millisecond, Policy: testPolicy()}
	cfg.Policy.HoldIdle = 3 * time.Second // simulated: the reader's clock moves 1 s per read
	m, err := NewMonitor(cfg, r, sessions, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The monitor publishes every sample; a gaming sample stops lending on that very event.
func TestMonitorPublishesChangeOnSameSample(t *testing.T) {
	script := []Reading{}
	for range 6 {
		script = append(script, idleReading(t0)) // reads 0-5: hold from 0, lending at 3
	}
	script = append(script, gameReading()) // read 6: the game starts
	gate := make(chan struct{})
	reader := &scriptedReader{script: script, gate: gate}
	var sessions atomic.Int64
	sessions.Store(2)
	m := newTestMonitor(t, reader, func() int { return int(sessions.Load()) })

	if cur := m.Current(); cur.Decision.Mode != ModePaused || cur.Decision.AcceptSessions ||
		cur.Decision.Reasons[0].Code != ReasonTelemetry {
		t.Fatalf("before the first sample: %+v", cur.Decision)
	}
	events, cancel := m.Subscribe()
	defer cancel()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()

	want := []struct {
		mode    Mode
		changed bool
	}{
		{ModePaused, true}, {ModePaused, false}, {ModePaused, false},
		{ModeLending, true}, {ModeLending, false}, {ModeLending, false},
		{ModeDraining, true},
	}
	for i, w := range want {
		gate <- struct{}{} // one sample
		ev := <-events
		if got := ev.Reading.Time; !got.Equal(t0.Add(time.Duration(i) * time.Second)) {
			t.Fatalf("event %d is for sample at %v", i, got)
		}
		if ev.Decision.Mode != w.mode || ev.Changed != w.changed {
			t.Fatalf("event %d: mode %s changed %v; want %s %v (reasons %v)", i, ev.Decision.Mode, ev.Changed, w.mode, w.changed, ev.Decision.Reasons)
		}
		if ev.Decision.AcceptSessions != (w.mode == ModeLending) {
			t.Fatalf("event %d: accept %v", i, ev.Decision.AcceptSessions)
		}
		if cur := m.Current(); !cur.Reading.Time.Equal(ev.Reading.Time) {
			t.Fatalf("Current lags: %v vs %v", cur.Reading.Time, ev.Reading.Time)
		}
	}
	sessions.Store(0)
	gate <- struct{}{}
	if ev := <-events; ev.Decision.Mode != ModePaused || !ev.Changed || ev.Decision.Reasons[0].Code != ReasonGPUProcess {
		t.Fatalf("after the sessions ended: %+v", ev)
	}

	stop()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, ok := <-events; ok {
		t.Fatal("events channel still open after Serve returned")
	}
	cancel() // after the close: must not panic
	if err := m.Serve(context.Background()); !errors.Is(err, ErrMonitorStopped) {
		t.Fatalf("second Serve = %v", err)
	}
	if ch, _ := m.Subscribe(); ch != nil {
		if _, ok := <-ch; ok {
			t.Fatal("subscription after stop must be closed")
		}
	}
}

// A slow subscriber gets the latest event, with Changed kept from what it missed.
func TestSubscriberKeepsLatest(t *testing.T) {
	s := &subscriber{ch: make(chan Event, 1)}
	ev := func(sec int, changed bool) Event {
		return Event{Reading: Reading{Time: t0.Add(time.Duration(sec) * time.Second)}, Changed: changed}
	}
	s.offer(ev(1, false))
	s.offer(ev(2, true))
	s.offer(ev(3, false))
	got := <-s.ch
	if !got.Reading.Time.Equal(t0.Add(3*time.Second)) || !got.Changed {
		t.Fatalf("got %v changed %v; want the third event, changed", got.Reading.Time, got.Changed)
	}
	s.offer(ev(4, false))
	if got := <-s.ch; got.Changed {
		t.Fatal("Changed must not stick once delivered")
	}
}

// Many subscribers, some never reading, under -race: Serve never blocks on them.
func TestMonitorSlowSubscribers(t *testing.T) {
	reader := &scriptedReader{script: []Reading{idleReading(t0)}}
	m := newTestMonitor(t, reader, nil)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()

	var wg sync.WaitGroup
	for i := range 6 {
		ch, cancel := m.Subscribe()
		if i%2 == 0 {
			continue // never reads, never cancels
		}
		wg.Go(func() {
			defer cancel()
			var last time.Time
			for n := 0; n < 5; n++ {
				ev, ok := <-ch
				if !ok {
					return
				}
				if ev.Reading.Time.Before(last) {
					t.Errorf("events out of order: %v after %v", ev.Reading.Time, last)
				}
				last = ev.Reading.Time
				_ = m.Current()
			}
		})
	}
	wg.Wait()
	// Lending after the hold although half the subscribers never read.
	deadline := time.Now().Add(10 * time.Second)
	for m.Current().Decision.Mode != ModeLending {
		if time.Now().After(deadline) {
			t.Fatalf("never lent: %+v", m.Current().Decision)
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestMonitorReadErrorStopsLending(t *testing.T) {
	reader := &scriptedReader{
		script: []Reading{idleReading(t0)},
		errAt:  map[int]error{5: errors.New("read memory: no /proc")},
		gate:   make(chan struct{}),
	}
	m := newTestMonitor(t, reader, func() int { return 1 })
	m.now = func() time.Time { return t0.Add(5 * time.Second) }
	events, cancel := m.Subscribe()
	defer cancel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { _ = m.Serve(ctx) }()
	var ev Event
	for range 6 {
		reader.gate <- struct{}{}
		ev = <-events
	}
	if ev.Reading.Err == "" || ev.Decision.Mode != ModeDraining || ev.Decision.Reasons[0].Code != ReasonTelemetry {
		t.Fatalf("after a failed read: %+v", ev)
	}
}

func TestMonitorSetPolicy(t *testing.T) {
	reader := &scriptedReader{script: []Reading{idleReading(t0)}, gate: make(chan struct{})}
	m := newTestMonitor(t, reader, nil)
	if err := m.SetPolicy(Policy{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("invalid policy accepted: %v", err)
	}
	events, cancel := m.Subscribe()
	defer cancel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { _ = m.Serve(ctx) }()
	reader.gate <- struct{}{}
	if ev := <-events; ev.Decision.Reasons[0].Code != ReasonHolding {
		t.Fatalf("first: %+v", ev.Decision)
	}
	p := testPolicy()
	p.Enabled = false
	if err := m.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	reader.gate <- struct{}{}
	if ev := <-events; ev.Decision.Reasons[0].Code != ReasonDisabled {
		t.Fatalf("after disabling: %+v", ev.Decision)
	}
}

func TestMonitorConfigAndServeTwice(t *testing.T) {
	if _, err := NewMonitor(MonitorConfig{Policy: Default()}, &scriptedReader{}, nil, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("zero interval: %v", err)
	}
	if _, err := NewMonitor(DefaultMonitorConfig(), nil, nil, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil reader: %v", err)
	}
	reader := &scriptedReader{script: []Reading{idleReading(t0)}, gate: make(chan struct{})}
	m, err := NewMonitor(DefaultMonitorConfig(), reader, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	reader.gate <- struct{}{} // Serve is running
	if err := m.Serve(ctx); !errors.Is(err, ErrAlreadyServing) {
		t.Fatalf("concurrent Serve = %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
