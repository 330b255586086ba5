package route

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestChooseRange(t *testing.T) {
	tests := []struct {
		name     string
		coverage []int
		n, cap   int
		want     Range
	}{
		{"empty swarm: the start", []int{0, 0, 0, 0, 0, 0}, 6, 2, Range{0, 2}},
		{"a gap in the middle", []int{2, 2, 0, 0, 2, 2}, 6, 2, Range{2, 4}},
		{"a wider window takes the gap and the scarce layers beside it", []int{3, 1, 0, 3, 3, 3}, 6, 3, Range{0, 3}},
		{"gaps first, even where the rest is crowded", []int{0, 5, 5, 5, 1, 1, 1, 1}, 8, 4, Range{0, 4}},
		{"then the fewest replicas", []int{2, 2, 1, 1, 2, 2}, 6, 2, Range{2, 4}},
		{"two gaps beat one", []int{0, 1, 1, 0, 0, 1}, 6, 3, Range{2, 5}},
		{"ties go to the earliest", []int{0, 3, 3, 3, 3, 0}, 6, 1, Range{0, 1}},
		{"the last layers", []int{1, 1, 1, 1, 0, 0}, 6, 2, Range{4, 6}},
		{"capacity of the whole model", []int{0, 0, 0}, 3, 5, Range{0, 3}},
		{"short coverage counts as gaps", []int{1, 1}, 4, 2, Range{2, 4}},
		{"negative counts as zero", []int{-3, 1, 1, 1}, 4, 1, Range{0, 1}},
		{"no capacity", []int{0, 0}, 2, 0, Range{0, 0}},
		{"no layers", nil, 0, 2, Range{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, to := ChooseRange(tc.coverage, tc.n, tc.cap)
			if got := (Range{f, to}); got != tc.want {
				t.Fatalf("ChooseRange(%v, %d, %d) = %v, want %v", tc.coverage, tc.n, tc.cap, got, tc.want)
			}
		})
	}
}

// TestChooseRangeFillsSwarm places providers one after another and checks
// that every layer gets a replica before any layer gets a third.
func TestChooseRangeFillsSwarm(t *testing.T) {
	const n, capacity = 10, 3
	cov := make([]int, n)
	for i := range 8 {
		f, to := ChooseRange(cov, n, capacity)
		for l := f; l < to; l++ {
			cov[l]++
		}
		if i == 3 {
			for l, c := range cov {
				if c == 0 {
					t.Fatalf("after 4 providers of %d layers layer %d is uncovered: %v", capacity, l, cov)
				}
			}
		}
	}
	lo, hi := cov[0], cov[0]
	for _, c := range cov {
		lo, hi = min(lo, c), max(hi, c)
	}
	if lo < 2 || hi-lo > 1 {
		t.Fatalf("8 providers of 3 layers over 10: coverage %v is not balanced", cov)
	}
}

func TestRebalance(t *testing.T) {
	tests := []struct {
		name     string
		coverage []int // including this node's replicas
		current  Range
		hyst     float64
		want     Range
		move     bool
	}{
		{"balanced: stay", []int{2, 2, 2, 2}, Range{0, 2}, 0.2, Range{0, 2}, false},
		{"fill a gap elsewhere", []int{3, 3, 0, 0}, Range{0, 2}, 0.2, Range{2, 4}, true},
		{"never open a gap", []int{1, 1, 0, 0}, Range{0, 2}, 0.2, Range{0, 2}, false},
		{"crowded here, scarce there: move", []int{5, 5, 1, 1}, Range{0, 2}, 0.2, Range{2, 4}, true},
		{"a small gain is not worth moving", []int{4, 4, 2, 2, 3, 3, 3, 3, 3, 3}, Range{0, 2}, 0.2, Range{0, 2}, false},
		{"the same gain without hysteresis moves", []int{4, 4, 2, 2, 3, 3, 3, 3, 3, 3}, Range{0, 2}, 0, Range{2, 4}, true},
		{"no gain: stay", []int{3, 3, 2, 2, 2, 2}, Range{0, 2}, 0, Range{0, 2}, false},
		{"already on the scarcest", []int{4, 4, 1, 1}, Range{2, 4}, 0.2, Range{2, 4}, false},
		{"invalid current range: choose afresh", []int{1, 1, 0, 0}, Range{3, 5}, 0.2, Range{2, 4}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, move := Rebalance(tc.coverage, len(tc.coverage), tc.current, tc.hyst)
			if got != tc.want || move != tc.move {
				t.Fatalf("Rebalance = %v, %v; want %v, %v", got, move, tc.want, tc.move)
			}
		})
	}
}

// TestRebalanceSettles lets every node of a lopsided swarm apply Rebalance
// in turn and checks that the moves stop and leave every layer served.
func TestRebalanceSettles(t *testing.T) {
	const n = 8
	nodes := []Range{{0, 2}, {0, 2}, {0, 2}, {0, 2}, {0, 2}, {2, 4}, {0, 4}, {4, 6}}
	coverage := func() []int {
		cov := make([]int, n)
		for _, r := range nodes {
			for l := r.From; l < r.To; l++ {
				cov[l]++
			}
		}
		return cov
	}
	moves := 0
	for round := 0; ; round++ {
		moved := false
		for i := range nodes {
			if next, ok := Rebalance(coverage(), n, nodes[i], 0.2); ok {
				nodes[i], moved = next, true
				moves++
			}
		}
		if !moved {
			break
		}
		if round > 20 {
			t.Fatalf("still moving after %d rounds: %v", round, nodes)
		}
	}
	for l, c := range coverage() {
		if c == 0 {
			t.Fatalf("layer %d uncovered after %d moves: %v", l, moves, coverage())
		}
	}
	if moves == 0 {
		t.Fatal("a swarm with uncovered layers did not move")
	}
}

func TestSpread(t *testing.T) {
	ms := time.Millisecond
	w := Weights{LayerTime: 10 * ms, HopPenalty: ms, UnitValue: time.Microsecond, DefaultLatency: 50 * ms}
	req := Request{NumLayers: 4, Weights: w, Candidates: []Candidate{
		cand("A", 0, 4, 2*ms, 100, 0, 0),
		cand("B", 0, 4, 2*ms, 100, 0, 0.2), // a little loaded
		cand("C", 0, 4, 2*ms, 100, 0, 0),
		cand("far", 0, 4, 900*ms, 100, 0, 0), // far beyond the slack
	}}
	p, err := PlanChain(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := Spread(p, req, nil, DefaultSlack); got.Hops[0].Provider != p.Hops[0].Provider {
		t.Fatal("Spread without a source of randomness changed the plan")
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	counts := map[string]int{}
	const draws = 3000
	for range draws {
		s := Spread(p, req, rnd, DefaultSlack)
		h := s.Hops[0]
		counts[req.Candidates[h.Provider].Peer]++
		if len(h.Alternatives) != 3 || s.Cost != h.Cost {
			t.Fatalf("hop %+v, plan cost %v", h, s.Cost)
		}
		for _, a := range h.Alternatives {
			if a == h.Provider {
				t.Fatal("the chosen provider is among its alternatives")
			}
		}
		if alt := req.Candidates[h.Alternatives[len(h.Alternatives)-1]].Peer; alt != "far" {
			t.Fatalf("alternatives not cheapest first: last is %s", alt)
		}
	}
	if counts["far"] != 0 {
		t.Fatalf("a provider beyond the slack was drawn %d times", counts["far"])
	}
	// A and C are equal; B's load makes it dearer, so it is drawn less.
	for _, p := range []string{"A", "B", "C"} {
		if counts[p] < draws/6 {
			t.Fatalf("draws %v: %s starved", counts, p)
		}
	}
	if counts["B"] >= counts["A"] || counts["B"] >= counts["C"] {
		t.Fatalf("draws %v: the loaded replica is not drawn less", counts)
	}
}

func TestLatencyBook(t *testing.T) {
	b := NewLatencyBook()
	if _, ok := b.Latency("A"); ok {
		t.Fatal("latency before any observation")
	}
	b.Observe("A", 80*time.Millisecond)
	for range 50 {
		b.Observe("A", 8*time.Millisecond)
	}
	b.Observe("A", 0) // ignored
	d, ok := b.Latency("A")
	if !ok || d < 8*time.Millisecond || d > 9*time.Millisecond {
		t.Fatalf("latency %v after converging on 8 ms", d)
	}
	cands := []Candidate{{Peer: "A", Latency: time.Second}, {Peer: "B", Latency: time.Second}}
	b.Apply(cands)
	if cands[0].Latency != d || cands[1].Latency != time.Second {
		t.Fatalf("applied %+v", cands)
	}
}

func TestDeadline(t *testing.T) {
	ms := time.Millisecond
	d := Deadline{Floor: 50 * ms, Initial: 5 * time.Second, K: 4, Window: 10, MinSamples: 4}
	if got := d.For(1); got != 5*time.Second {
		t.Fatalf("unmeasured deadline %v", got)
	}
	for range 3 {
		d.Observe(1, 20*ms)
	}
	d.Observe(7, time.Hour) // batches are not sampled
	if got := d.For(1); got != 5*time.Second {
		t.Fatalf("deadline %v with 3 of 4 samples", got)
	}
	d.Observe(1, 30*ms)
	if got := d.For(1); got != 120*ms { // 4 × p95 (30 ms)
		t.Fatalf("deadline %v, want 120ms", got)
	}
	if got := d.For(3); got != 360*ms {
		t.Fatalf("deadline of 3 positions %v", got)
	}
	for range 10 { // the window forgets the old samples
		d.Observe(1, 2*ms)
	}
	if got := d.For(1); got != 50*ms {
		t.Fatalf("deadline %v below the floor", got)
	}
	if p, ok := d.P95(); !ok || p != 2*ms {
		t.Fatalf("p95 %v %v", p, ok)
	}
	f := d.Fresh()
	if _, ok := f.P95(); ok {
		t.Fatal("a fresh deadline has samples")
	}
	if got := f.For(1); got != 50*ms { // seeded: 16 × 2 ms is below the floor
		t.Fatalf("seeded deadline %v", got)
	}
	f.Floor = ms
	if got := f.For(1); got != 32*ms {
		t.Fatalf("seeded deadline %v, want 16 × the seed", got)
	}
	var z Deadline
	if got := z.For(1); got != DefaultDeadline().Initial {
		t.Fatalf("zero deadline %v", got)
	}
}
