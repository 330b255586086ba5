package route

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// The failover engine runs here against in-process providers: stages of
// the real stories260K model behind sessions that die, stall or cheat on
// cue. The same engine over real libp2p hosts is tested in node/runtime.

func openModel(t testing.TB) (*model.Model, *tensor.Pool) {
	t.Helper()
	dir := os.Getenv("HEARTH_MODELS_DIR")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(filepath.Dir(d), "shared", "models")
				break
			}
		}
	}
	m, err := model.Open(filepath.Join(dir, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	pool := tensor.NewPool(1)
	t.Cleanup(func() { pool.Close(); m.Close() })
	return m, pool
}

// fakeProvider serves layers of the model in-process.
type fakeProvider struct {
	name string
	r    Range
	m    *model.Model
	pool *tensor.Pool

	mu      sync.Mutex // guards the fields below
	dieAt   int        // fail every call once this many calls were served (0: never)
	stallAt int        // from this many calls on, block until the caller gives up
	calls   int
	opens   int
	replays []int // batch sizes of calls at position 0
	closed  int
	aborted int
}

func (p *fakeProvider) candidate() Candidate {
	return Candidate{Peer: p.name, Range: p.r, Latency: time.Millisecond, TokPerSec: 1000}
}

type fakeSession struct {
	p *fakeProvider
	s *model.Session
}

func (p *fakeProvider) open(r Range, maxCtx int) (Session, error) {
	p.mu.Lock()
	dead := p.dieAt > 0 && p.calls >= p.dieAt
	p.opens++
	p.mu.Unlock()
	if dead {
		return nil, errors.New("connection refused")
	}
	if r.From < p.r.From || r.To > p.r.To {
		return nil, fmt.Errorf("%s does not serve %v", p.name, r)
	}
	st, err := p.m.NewStage(r.From, r.To, p.pool)
	if err != nil {
		return nil, err
	}
	s, err := st.NewSession(maxCtx)
	if err != nil {
		return nil, err
	}
	return &fakeSession{p: p, s: s}, nil
}

func (f *fakeSession) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	p := f.p
	p.mu.Lock()
	dead := p.dieAt > 0 && p.calls >= p.dieAt
	stall := p.stallAt > 0 && p.calls >= p.stallAt
	p.calls++
	if pos == 0 {
		p.replays = append(p.replays, max(len(tokens), len(hidden)/p.m.Dim))
	}
	p.mu.Unlock()
	switch {
	case dead:
		return nil, errors.New("stream reset")
	case stall:
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.s.Forward(ctx, pos, tokens, hidden)
}

func (f *fakeSession) Close() error {
	f.p.mu.Lock()
	f.p.closed++
	f.p.mu.Unlock()
	f.s.Close()
	return nil
}

func (f *fakeSession) Abort() {
	f.p.mu.Lock()
	f.p.aborted++
	f.p.mu.Unlock()
	f.s.Close()
}

// swarm is a set of fake providers and an opener for them.
type swarm map[string]*fakeProvider

func (sw swarm) open(_ context.Context, c Candidate, r Range, maxCtx int) (Session, error) {
	p := sw[c.Peer]
	if p == nil {
		return nil, fmt.Errorf("unknown provider %s", c.Peer)
	}
	return p.open(r, maxCtx)
}

func (sw swarm) add(m *model.Model, pool *tensor.Pool, name string, from, to int) *fakeProvider {
	p := &fakeProvider{name: name, r: Range{from, to}, m: m, pool: pool}
	sw[name] = p
	return p
}

// greedy picks the highest logit.
type greedy struct{}

func (greedy) Sample(logits []float32, _ []int32) int32 {
	best := 0
	for i, l := range logits {
		if l > logits[best] {
			best = i
		}
	}
	return int32(best)
}

var testPrompt = []int32{1, 403, 407, 261}

func generate(t *testing.T, chain model.Forwarder, steps int) ([]int32, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, _, err := model.Generate(ctx, model.Chain{chain}, testPrompt, greedy{}, model.GenerateOptions{MaxTokens: steps})
	return ids, err
}

// reference is the undisturbed single-machine run.
func reference(t *testing.T, m *model.Model, pool *tensor.Pool, steps int) []int32 {
	t.Helper()
	st, err := m.NewStage(0, m.NumLayers, pool)
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.NewSession(64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids, err := generate(t, s, steps)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// newChain opens segments on the named providers (a "local" name runs the
// layers here) with the given alternatives per segment.
func newChain(t *testing.T, m *model.Model, pool *tensor.Pool, sw swarm, cfg FailoverConfig, plan []Segment) *FailoverChain {
	t.Helper()
	cfg.NumLayers, cfg.Dim, cfg.MaxContext = m.NumLayers, m.Dim, 64
	cfg.Open = sw.open
	if cfg.Deadline.Floor == 0 {
		cfg.Deadline = Deadline{Floor: 200 * time.Millisecond, Initial: 5 * time.Second, K: 4, MinSamples: 4}
	}
	local := func(r Range, maxCtx int) (Session, error) {
		st, err := m.NewStage(r.From, r.To, pool)
		if err != nil {
			return nil, err
		}
		s, err := st.NewSession(maxCtx)
		if err != nil {
			return nil, err
		}
		return localSession{s}, nil
	}
	cfg.OpenLocal = local
	for i, s := range plan {
		var err error
		if s.Local {
			plan[i].Session, err = local(s.Range, 64)
		} else {
			plan[i].Session, err = sw[s.Peer].open(s.Range, 64)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := NewFailoverChain(cfg, plan)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type localSession struct{ *model.Session }

func (l localSession) Close() error { l.Session.Close(); return nil }

func cands(ps ...*fakeProvider) []Candidate {
	var out []Candidate
	for _, p := range ps {
		out = append(out, p.candidate())
	}
	return out
}

func TestFailoverMidGeneration(t *testing.T) {
	m, pool := openModel(t)
	const steps = 20
	want := reference(t, m, pool, steps)
	tests := []struct {
		name  string
		setup func(sw swarm) (plan []Segment, victim *fakeProvider, find FindFunc)
		local []Range
		to    string // the providers that take over, space-separated
		stall bool
	}{
		{
			name: "a dead provider is replaced by the plan's alternative",
			setup: func(sw swarm) ([]Segment, *fakeProvider, FindFunc) {
				a, b := sw.add(m, pool, "A", 1, 5), sw.add(m, pool, "B", 1, 5)
				a.dieAt = 8
				return []Segment{{Range: Range{0, 1}, Local: true}, {Range: Range{1, 5}, Peer: "A", Alternatives: cands(b)}}, a, nil
			},
			to: "B",
		},
		{
			name: "a stalled provider is cut off by its deadline",
			setup: func(sw swarm) ([]Segment, *fakeProvider, FindFunc) {
				a, b := sw.add(m, pool, "A", 0, 5), sw.add(m, pool, "B", 0, 5)
				a.stallAt = 12 // after enough decode steps to measure its pace
				return []Segment{{Range: Range{0, 5}, Peer: "A", Alternatives: cands(b)}}, a, nil
			},
			to:    "B",
			stall: true,
		},
		{
			name: "no provider holds the whole range: it is split",
			setup: func(sw swarm) ([]Segment, *fakeProvider, FindFunc) {
				a := sw.add(m, pool, "A", 2, 5)
				sw.add(m, pool, "head", 0, 2)
				c, d := sw.add(m, pool, "C", 2, 4), sw.add(m, pool, "D", 3, 5)
				a.dieAt = 5
				return []Segment{{Range: Range{0, 2}, Peer: "head"}, {Range: Range{2, 5}, Peer: "A"}}, a,
					func(context.Context) ([]Candidate, error) { return cands(c, d, a), nil }
			},
			to: "C D",
		},
		{
			name: "the first hop dies: tokens are replayed",
			setup: func(sw swarm) ([]Segment, *fakeProvider, FindFunc) {
				a, b := sw.add(m, pool, "A", 0, 3), sw.add(m, pool, "B", 0, 5)
				a.dieAt = 10
				return []Segment{{Range: Range{0, 3}, Peer: "A", Alternatives: cands(b)}, {Range: Range{3, 5}, Local: true}}, a, nil
			},
			to: "B",
		},
		{
			name: "nobody left: this node runs the layers",
			setup: func(sw swarm) ([]Segment, *fakeProvider, FindFunc) {
				a := sw.add(m, pool, "A", 1, 5)
				a.dieAt = 3
				return []Segment{{Range: Range{0, 1}, Local: true}, {Range: Range{1, 5}, Peer: "A"}}, a, nil
			},
			local: []Range{{0, 5}},
			to:    "local",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sw := swarm{}
			plan, victim, find := tc.setup(sw)
			var events []Event
			cfg := FailoverConfig{Find: find, Local: tc.local, OnEvent: func(e Event) { events = append(events, e) }}
			c := newChain(t, m, pool, sw, cfg, plan)
			got, err := generate(t, c, steps)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("ids after failover %v\nwant %v", got, want)
			}
			if len(events) != 1 {
				t.Fatalf("%d failover events: %+v", len(events), events)
			}
			e := events[0]
			if e.From != victim.name || fmt.Sprint(e.To) != fmt.Sprint(splitNames(tc.to)) || e.Err != nil || e.Recovery <= 0 || e.Stalled != tc.stall {
				t.Fatalf("event %+v", e)
			}
			if tc.stall && (e.Detect < 200*time.Millisecond || e.Detect > 3*time.Second) {
				t.Fatalf("stall detected after %v (floor 200 ms)", e.Detect)
			}
			t.Logf("%s: recovery %v after %v, %d positions replayed", e.Reason, e.Recovery, e.Detect, e.Replayed)
			for _, name := range splitNames(tc.to) {
				if name == "local" {
					continue
				}
				p := sw[name]
				if len(p.replays) == 0 || p.replays[0] != e.Replayed {
					t.Fatalf("%s saw batches at position 0 of %v, want one of %d", name, p.replays, e.Replayed)
				}
			}
			if st := c.Stats(); st.Failovers != 1 || st.Replayed != e.Replayed {
				t.Fatalf("stats %+v", st)
			}
			if d := c.Describe(); !containsAll(d, splitNames(tc.to)) {
				t.Fatalf("chain %s lacks %s", d, tc.to)
			}
		})
	}
}

func splitNames(s string) []string { return strings.Fields(s) }

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// cheatSession perturbs one float of every output once cheating starts.
type cheatSession struct {
	*fakeSession
	from int // calls served honestly
	n    *int
}

func (c cheatSession) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	out, err := c.fakeSession.Forward(ctx, pos, tokens, hidden)
	*c.n++
	if err == nil && *c.n > c.from {
		out[len(out)/2] += 1e-3
	}
	return out, err
}

// recompute is an auditor that re-runs every result's whole input history
// on a fresh local session and compares the output exactly.
type recompute struct {
	m      *model.Model
	pool   *tensor.Pool
	audits int
	faults []string
}

func (a *recompute) Audit(ctx context.Context, x Audit) error {
	a.audits++
	st, err := a.m.NewStage(x.Range.From, x.Range.To, a.pool)
	if err != nil {
		return err
	}
	s, err := st.NewSession(64)
	if err != nil {
		return err
	}
	defer s.Close()
	if got := max(len(x.Tokens), len(x.Hidden)/a.m.Dim); got != x.Pos+x.N {
		return fmt.Errorf("audit of [%d,+%d) got %d positions of history", x.Pos, x.N, got)
	}
	out, err := s.Forward(ctx, 0, x.Tokens, x.Hidden)
	if err != nil {
		return err
	}
	if !x.Last {
		out = out[x.Pos*a.m.Dim:]
	}
	if len(out) != len(x.Output) {
		return fmt.Errorf("audit: %d values, provider gave %d", len(out), len(x.Output))
	}
	for i := range out {
		if out[i] != x.Output[i] {
			a.faults = append(a.faults, x.Peer)
			return fmt.Errorf("%w: %s differs at %d", ErrFaulty, x.Peer, i)
		}
	}
	return nil
}

func TestFailoverOnFaultyResult(t *testing.T) {
	m, pool := openModel(t)
	const steps = 16
	want := reference(t, m, pool, steps)
	for _, r := range []Range{{0, 3}, {2, 4}, {3, 5}} { // first, middle and last hops
		t.Run(r.String(), func(t *testing.T) {
			sw := swarm{}
			cheater := sw.add(m, pool, "cheater", r.From, r.To)
			honest := sw.add(m, pool, "honest", r.From, r.To)
			auditor := &recompute{m: m, pool: pool}
			var events []Event
			var plan []Segment
			if r.From > 0 {
				plan = append(plan, Segment{Range: Range{0, r.From}, Local: true})
			}
			plan = append(plan, Segment{Range: r, Peer: "cheater", Alternatives: cands(honest)})
			if r.To < m.NumLayers {
				plan = append(plan, Segment{Range: Range{r.To, m.NumLayers}, Local: true})
			}
			c := newChain(t, m, pool, sw, FailoverConfig{Audit: auditor, OnEvent: func(e Event) { events = append(events, e) }}, plan)
			// Swap the cheater's session for one that starts lying after 6 calls.
			calls := 0
			for _, s := range c.segs {
				if s.Peer == "cheater" {
					s.Session = cheatSession{s.Session.(*fakeSession), 6, &calls}
				}
			}
			got, err := generate(t, c, steps)
			if err != nil {
				t.Fatal(err)
			}
			// Every result is audited, so the first wrong one is caught and
			// re-done by the honest provider: no token is wrong.
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("ids %v\nwant %v", got, want)
			}
			if len(auditor.faults) != 1 || auditor.faults[0] != "cheater" || len(events) != 1 || !events[0].Faulty {
				t.Fatalf("faults %v, events %+v", auditor.faults, events)
			}
			if cheater.aborted != 1 || cheater.closed != 0 {
				t.Fatalf("cheater's session aborted %d, closed %d times: a cheater is not paid", cheater.aborted, cheater.closed)
			}
			// The chain goes on, and can restart from an earlier position
			// (a chat reusing its prompt) with the replacement.
			again, err := generate(t, c, steps)
			if err != nil || fmt.Sprint(again) != fmt.Sprint(want) {
				t.Fatalf("second run %v %v", again, err)
			}
		})
	}
}

func TestFailoverSkipsBannedAndGivesUp(t *testing.T) {
	m, pool := openModel(t)
	sw := swarm{}
	a, banned, spare := sw.add(m, pool, "A", 0, 5), sw.add(m, pool, "banned", 0, 5), sw.add(m, pool, "spare", 0, 5)
	a.dieAt, spare.dieAt = 6, 1 // the spare dies as soon as it is used
	var events []Event
	var mu sync.Mutex
	available := []Candidate{}
	find := func(context.Context) ([]Candidate, error) {
		mu.Lock()
		defer mu.Unlock()
		return available, nil
	}
	cfg := FailoverConfig{Find: find, Banned: func(p string) bool { return p == "banned" },
		OnEvent: func(e Event) { events = append(events, e) }}
	c := newChain(t, m, pool, sw, cfg, []Segment{{Range: Range{0, 5}, Peer: "A", Alternatives: cands(banned, spare)}})
	_, err := generate(t, c, 12)
	if !errors.Is(err, ErrNoProvider) {
		t.Fatalf("generation with no usable provider: %v", err)
	}
	if banned.opens != 0 {
		t.Fatal("a banned provider was opened")
	}
	// A fails over to the spare, which dies too, and nobody is left.
	if len(events) != 2 || events[0].Err != nil || events[1].From != "spare" || events[1].Err == nil ||
		c.Stats().Failed != 1 || c.Stats().Failovers != 1 {
		t.Fatalf("events %+v stats %+v", events, c.Stats())
	}
	// A provider appears: the next call fails over to it.
	late := sw.add(m, pool, "late", 0, 5)
	mu.Lock()
	available = cands(late)
	mu.Unlock()
	want := reference(t, m, pool, 12)
	got, err := generate(t, c, 12)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after a provider appeared: %v %v", got, err)
	}
	if d := c.Describe(); d != "[0,5) late" {
		t.Fatalf("chain %s", d)
	}
}

func TestNewFailoverChainChecks(t *testing.T) {
	s := localSession{}
	ok := FailoverConfig{NumLayers: 4, Dim: 8, MaxContext: 16}
	tests := []struct {
		name string
		cfg  FailoverConfig
		segs []Segment
	}{
		{"no layers", FailoverConfig{Dim: 8, MaxContext: 16}, nil},
		{"gap", ok, []Segment{{Range: Range{0, 2}, Local: true, Session: s}, {Range: Range{3, 4}, Local: true, Session: s}}},
		{"short", ok, []Segment{{Range: Range{0, 2}, Local: true, Session: s}}},
		{"no session", ok, []Segment{{Range: Range{0, 4}, Local: true}}},
		{"remote without opener", ok, []Segment{{Range: Range{0, 4}, Peer: "A", Session: s}}},
	}
	for _, tc := range tests {
		if _, err := NewFailoverChain(tc.cfg, tc.segs); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestFailoverWaitsForProviders: when nobody can take over, a failover
// with patience keeps looking until a provider appears.
func TestFailoverWaitsForProviders(t *testing.T) {
	m, pool := openModel(t)
	sw := swarm{}
	a := sw.add(m, pool, "A", 0, 5)
	a.dieAt = 6
	late := sw.add(m, pool, "late", 0, 5)
	var died time.Time
	var mu sync.Mutex
	find := func(context.Context) ([]Candidate, error) {
		mu.Lock()
		defer mu.Unlock()
		if died.IsZero() {
			died = time.Now()
		}
		if time.Since(died) < 300*time.Millisecond {
			return nil, nil
		}
		return cands(late), nil
	}
	var events []Event
	c := newChain(t, m, pool, sw, FailoverConfig{Find: find, Patience: 5 * time.Second, OnEvent: func(e Event) { events = append(events, e) }},
		[]Segment{{Range: Range{0, 5}, Peer: "A"}})
	want := reference(t, m, pool, 12)
	got, err := generate(t, c, 12)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ids %v, %v", got, err)
	}
	if len(events) != 1 || events[0].Err != nil || events[0].Recovery < 300*time.Millisecond || events[0].To[0] != "late" {
		t.Fatalf("events %+v", events)
	}
}

// TestFailoverTriesAlternativesFirst: a fresh lookup (which may wait on
// dead peers' dials) is made only when the plan's alternatives fail.
func TestFailoverTriesAlternativesFirst(t *testing.T) {
	m, pool := openModel(t)
	sw := swarm{}
	a, b, dead := sw.add(m, pool, "A", 0, 5), sw.add(m, pool, "B", 0, 5), sw.add(m, pool, "dead", 0, 5)
	a.dieAt = 5
	dead.dieAt, dead.calls = 1, 1 // refuses to open
	lookups := 0
	find := func(context.Context) ([]Candidate, error) { lookups++; return cands(b), nil }
	t.Run("alternative alive", func(t *testing.T) {
		c := newChain(t, m, pool, sw, FailoverConfig{Find: find}, []Segment{{Range: Range{0, 5}, Peer: "A", Alternatives: cands(b)}})
		if _, err := generate(t, c, 8); err != nil || lookups != 0 {
			t.Fatalf("err %v, %d lookups", err, lookups)
		}
	})
	t.Run("alternative dead", func(t *testing.T) {
		a.mu.Lock()
		a.calls = 0
		a.mu.Unlock()
		c := newChain(t, m, pool, sw, FailoverConfig{Find: find}, []Segment{{Range: Range{0, 5}, Peer: "A", Alternatives: cands(dead)}})
		if _, err := generate(t, c, 8); err != nil || lookups != 1 || c.Describe() != "[0,5) B" {
			t.Fatalf("err %v, %d lookups, chain %s", err, lookups, c.Describe())
		}
	})
}
