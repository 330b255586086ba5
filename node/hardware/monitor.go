package hardware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Reader takes a sample of the machine. *Sampler is one.
type Reader interface {
	Read(ctx context.Context) (Reading, error)
}

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	Interval time.Duration // between samples
	Policy   Policy
}

// DefaultMonitorConfig samples every second under the default policy.
func DefaultMonitorConfig() MonitorConfig {
	return MonitorConfig{Interval: time.Second, Policy: Default()}
}

// Validate checks the configuration.
func (c MonitorConfig) Validate() error {
	if c.Interval <= 0 {
		return fmt.Errorf("monitor config: %w: interval %v: want > 0", ErrInvalidConfig, c.Interval)
	}
	return c.Policy.Validate()
}

// Event is one sample and the decision taken on it. Its slices are shared between
// subscribers: read them, never modify them.
type Event struct {
	Reading  Reading  `json:"reading"`
	Decision Decision `json:"decision"`
	// Changed is true when Mode or AcceptSessions differ from the previous event this
	// subscriber received (and on its first event).
	Changed bool `json:"changed"`
}

// Errors from Serve.
var (
	ErrAlreadyServing = errors.New("monitor already serving")
	ErrMonitorStopped = errors.New("monitor stopped")
)

// Monitor samples the machine, applies the lending policy and publishes each result on
// the same sample, so the runtime can stop accepting sessions at once.
type Monitor struct {
	interval time.Duration
	reader   Reader
	sessions func() int
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex // guards everything below
	policy  Policy
	state   State
	current Event
	subs    map[*subscriber]struct{}
	serving bool
	stopped bool // Serve has returned: new subscribers get a closed channel
	failing bool // the last Read failed (to log failures once, not every second)
}

type subscriber struct {
	ch chan Event // capacity 1: holds the latest undelivered event
}

// NewMonitor returns a Monitor reading from r. sessions reports the running shard
// sessions (nil: none); it must be cheap and safe to call from another goroutine.
func NewMonitor(cfg MonitorConfig, r Reader, sessions func() int, log *slog.Logger) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("new monitor: %w: nil reader", ErrInvalidConfig)
	}
	if sessions == nil {
		sessions = func() int { return 0 }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{
		interval: cfg.Interval,
		reader:   r,
		sessions: sessions,
		log:      log.With("sub", "hardware"),
		now:      time.Now,
		policy:   cfg.Policy,
		current: Event{Decision: Decision{
			Mode:    ModePaused,
			Reasons: []Reason{{ReasonTelemetry, "no sample yet"}},
		}},
		subs: make(map[*subscriber]struct{}),
	}, nil
}

// SetPolicy replaces the policy from the next sample on.
func (m *Monitor) SetPolicy(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	m.policy = p
	m.mu.Unlock()
	return nil
}

// Current is the latest event (Paused with "no sample yet" before the first sample).
func (m *Monitor) Current() Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.current
}

// Subscribe returns a channel of events and a function to stop them. A subscriber that
// falls behind loses intermediate events, never the latest one; Changed accumulates
// over what it missed. The channel is closed by cancel or when Serve returns.
func (m *Monitor) Subscribe() (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, 1)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		close(s.ch)
		return s.ch, func() {}
	}
	m.subs[s] = struct{}{}
	if !m.current.Reading.Time.IsZero() {
		first := m.current
		first.Changed = true
		s.offer(first)
	}
	return s.ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.subs[s]; ok {
			delete(m.subs, s)
			close(s.ch)
		}
	}
}

// offer delivers ev without blocking, replacing an undelivered older event. Callers hold
// Monitor.mu, so there is a single sender.
func (s *subscriber) offer(ev Event) {
	select {
	case s.ch <- ev:
		return
	default:
	}
	select {
	case old := <-s.ch:
		ev.Changed = ev.Changed || old.Changed
	default:
	}
	select {
	case s.ch <- ev:
	default: // unreachable: we are the only sender and just made room
	}
}

// Serve samples until ctx ends, then closes the subscriber channels and returns nil.
func (m *Monitor) Serve(ctx context.Context) error {
	m.mu.Lock()
	if m.serving {
		m.mu.Unlock()
		return ErrAlreadyServing
	}
	if m.stopped {
		m.mu.Unlock()
		return ErrMonitorStopped
	}
	m.serving = true
	m.mu.Unlock()
	defer m.stop()

	ticker := time.NewTicker(m.interval)
	defer ticker.Stop()
	for {
		m.sample(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func (m *Monitor) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.serving, m.stopped = false, true
	for s := range m.subs {
		delete(m.subs, s)
		close(s.ch)
	}
}

// sample reads, decides and publishes once.
func (m *Monitor) sample(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 2*m.interval+time.Second)
	r, err := m.reader.Read(rctx)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: not a telemetry failure
	}
	if err != nil {
		r = Reading{Time: m.now(), Err: err.Error()}
	}
	sessions := m.sessions()

	m.mu.Lock()
	defer m.mu.Unlock()
	m.logRead(err)
	d, st := Decide(m.policy, m.state, r, sessions)
	prev := m.current.Decision
	ev := Event{
		Reading:  r,
		Decision: d,
		Changed:  m.current.Reading.Time.IsZero() || d.Mode != prev.Mode || d.AcceptSessions != prev.AcceptSessions,
	}
	m.state, m.current = st, ev
	if ev.Changed {
		m.log.Info("lending mode", "mode", d.Mode, "accept", d.AcceptSessions, "threads", d.Threads,
			"reasons", reasonTexts(d.Reasons), "sessions", sessions)
	}
	for s := range m.subs {
		s.offer(ev)
	}
}

// logRead logs the first failure of a run of failed reads and the recovery.
func (m *Monitor) logRead(err error) {
	switch {
	case err != nil && !m.failing:
		m.log.Warn("hardware read failed", "err", err)
	case err == nil && m.failing:
		m.log.Info("hardware read recovered")
	}
	m.failing = err != nil
}

func reasonTexts(rs []Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Text
	}
	return out
}
