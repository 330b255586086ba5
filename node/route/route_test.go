package route

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// describe renders a plan as "0-2:local 2-5:B" for comparisons.
func describe(req Request, p Plan) string {
	parts := make([]string, len(p.Hops))
	for i, h := range p.Hops {
		who := "local"
		if !h.Local {
			who = req.Candidates[h.Provider].Peer
		}
		parts[i] = fmt.Sprintf("%d-%d:%s", h.From, h.To, who)
	}
	return strings.Join(parts, " ")
}

func cand(peer string, from, to int, latency time.Duration, tokS float64, price uint64, load float64) Candidate {
	return Candidate{Peer: peer, Range: Range{from, to}, Latency: latency, TokPerSec: tokS, Price: price, Load: load}
}

func TestPlanChain(t *testing.T) {
	ms := time.Millisecond
	w := Weights{LayerTime: 10 * ms, HopPenalty: ms, UnitValue: time.Microsecond, DefaultLatency: 50 * ms}
	tests := []struct {
		name  string
		req   Request
		want  string
		alts  map[int][]string // hop index → alternative peers
		gaps  string           // expected GapError text
		cost  time.Duration    // checked when non-zero
		isBad bool
	}{
		{
			name: "all local",
			req:  Request{NumLayers: 4, Local: []Range{{0, 4}}},
			want: "0-4:local",
			cost: 41 * ms,
		},
		{
			name: "local head, one provider for the rest",
			req: Request{NumLayers: 6, Local: []Range{{0, 2}}, KeepLocal: true,
				Candidates: []Candidate{cand("A", 0, 6, 2*ms, 0, 0, 0)}},
			want: "0-2:local 2-6:A",
		},
		{
			name: "fewer hops win when one provider covers everything",
			req: Request{NumLayers: 6, Candidates: []Candidate{
				cand("A", 0, 3, ms, 0, 0, 0), cand("B", 3, 6, ms, 0, 0, 0), cand("C", 0, 6, ms, 0, 0, 0)}},
			want: "0-6:C",
			alts: map[int][]string{0: nil},
		},
		{
			name: "faster providers beat a slow one despite the extra hop",
			req: Request{NumLayers: 6, Candidates: []Candidate{
				cand("slow", 0, 6, ms, 5, 0, 0), // 5 tok/s over 6 layers: 200 ms/token
				cand("A", 0, 3, ms, 100, 0, 0), cand("B", 3, 6, ms, 100, 0, 0)}},
			want: "0-3:A 3-6:B",
			alts: map[int][]string{0: {"slow"}, 1: {"slow"}},
		},
		{
			name: "cheaper provider wins when equally fast",
			req: Request{NumLayers: 4, Candidates: []Candidate{
				cand("dear", 0, 4, ms, 100, 1_000_000, 0), cand("cheap", 0, 4, ms, 100, 10, 0)}},
			want: "0-4:cheap",
			alts: map[int][]string{0: {"dear"}},
		},
		{
			name: "a loaded provider loses to an idle one",
			req: Request{NumLayers: 4, Candidates: []Candidate{
				cand("busy", 0, 4, ms, 100, 0, 0.9), cand("idle", 0, 4, ms, 100, 0, 0)}},
			want: "0-4:idle",
		},
		{
			name: "high latency loses",
			req: Request{NumLayers: 4, Candidates: []Candidate{
				cand("far", 0, 4, 300*ms, 100, 0, 0), cand("near", 0, 4, 2*ms, 100, 0, 0)}},
			want: "0-4:near",
		},
		{
			name: "local middle kept, providers around it",
			req: Request{NumLayers: 8, Local: []Range{{3, 5}}, KeepLocal: true,
				Candidates: []Candidate{cand("A", 0, 8, ms, 0, 0, 0)}},
			want: "0-3:A 3-5:local 5-8:A",
		},
		{
			name: "without KeepLocal a fast provider takes over local layers",
			req: Request{NumLayers: 4, Local: []Range{{0, 2}},
				Weights:    Weights{LayerTime: 10 * ms, LocalLayerTime: 100 * ms, HopPenalty: ms},
				Candidates: []Candidate{cand("fast", 0, 4, ms, 1000, 0, 0)}},
			want: "0-4:fast",
		},
		{
			name: "overlapping providers: the faster one takes the shared layers",
			req: Request{NumLayers: 10, Candidates: []Candidate{
				cand("A", 0, 7, ms, 200, 0, 0), cand("B", 4, 10, ms, 20, 0, 0)}},
			want: "0-7:A 7-10:B",
			alts: map[int][]string{0: nil, 1: nil},
		},
		{
			name: "adjacent local ranges merge",
			req:  Request{NumLayers: 4, Local: []Range{{2, 4}, {0, 2}}},
			want: "0-4:local",
		},
		{
			name: "invalid candidates are ignored",
			req: Request{NumLayers: 4, Local: []Range{{0, 4}},
				Candidates: []Candidate{cand("bad", 3, 9, 0, 0, 0, 0), cand("empty", 2, 2, 0, 0, 0, 0)}},
			want: "0-4:local",
		},
		{
			name: "gap in the middle",
			req: Request{NumLayers: 10, Local: []Range{{0, 4}},
				Candidates: []Candidate{cand("A", 7, 10, ms, 0, 0, 0)}},
			gaps: "no provider serves layers 4–6",
		},
		{
			name: "several gaps",
			req: Request{NumLayers: 10, Candidates: []Candidate{
				cand("A", 1, 4, ms, 0, 0, 0), cand("B", 5, 9, ms, 0, 0, 0)}},
			gaps: "no provider serves layer 0, layer 4, layer 9",
		},
		{
			name: "nothing at all",
			req:  Request{NumLayers: 3},
			gaps: "no provider serves layers 0–2",
		},
		{name: "no layers", req: Request{NumLayers: 0}, isBad: true},
		{name: "local outside", req: Request{NumLayers: 3, Local: []Range{{2, 5}}}, isBad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.req.Weights == (Weights{}) {
				tc.req.Weights = w
			}
			p, err := PlanChain(tc.req)
			switch {
			case tc.isBad:
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("err %v, want ErrBadRequest", err)
				}
				return
			case tc.gaps != "":
				var ge *GapError
				if !errors.As(err, &ge) || !errors.Is(err, ErrGap) || err.Error() != tc.gaps {
					t.Fatalf("err %v, want gap error %q", err, tc.gaps)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if got := describe(tc.req, p); got != tc.want {
				t.Fatalf("plan %s, want %s", got, tc.want)
			}
			checkCovers(t, tc.req.NumLayers, p)
			if tc.cost != 0 && p.Cost != tc.cost {
				t.Errorf("cost %v, want %v", p.Cost, tc.cost)
			}
			for hop, want := range tc.alts {
				var got []string
				for _, a := range p.Hops[hop].Alternatives {
					got = append(got, tc.req.Candidates[a].Peer)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("hop %d alternatives %v, want %v", hop, got, want)
				}
			}
		})
	}
}

// checkCovers requires the hops to tile [0,n) in order.
func checkCovers(t *testing.T, n int, p Plan) {
	t.Helper()
	at := 0
	var sum time.Duration
	for _, h := range p.Hops {
		if h.From != at || h.To <= h.From {
			t.Fatalf("hops do not tile: %+v", p.Hops)
		}
		at = h.To
		sum += h.Cost
	}
	if at != n {
		t.Fatalf("hops end at %d of %d", at, n)
	}
	if d := sum - p.Cost; d < -time.Microsecond || d > time.Microsecond {
		t.Fatalf("hop costs add to %v, plan says %v", sum, p.Cost)
	}
}

func TestPlanDescribe(t *testing.T) {
	req := Request{NumLayers: 5, Local: []Range{{0, 2}}, KeepLocal: true, Candidates: []Candidate{cand("peerA", 0, 5, time.Millisecond, 0, 0, 0)}}
	p, err := PlanChain(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Describe(req); got != "[0,2) local → [2,5) peerA" {
		t.Fatalf("Describe = %q", got)
	}
}

func TestRangeString(t *testing.T) {
	for r, want := range map[Range]string{{4, 5}: "layer 4", {4, 7}: "layers 4–6", {0, 22}: "layers 0–21"} {
		if got := r.String(); got != want {
			t.Errorf("%v: %q, want %q", r, got, want)
		}
	}
}

// TestPlanChainIsOptimal compares the planner with brute force over every
// chain on small random instances.
func TestPlanChainIsOptimal(t *testing.T) {
	w := DefaultWeights()
	seed := uint64(1)
	next := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	for iter := range 300 {
		n := 2 + next(6)
		req := Request{NumLayers: n, Weights: w}
		for c := range 1 + next(4) {
			from := next(n)
			to := from + 1 + next(n-from)
			req.Candidates = append(req.Candidates, cand(fmt.Sprint("P", c), from, to,
				time.Duration(1+next(20))*time.Millisecond, float64(next(200)), uint64(next(3000)), float64(next(10))/10))
		}
		if next(2) == 0 {
			from := next(n)
			req.Local = []Range{{from, from + 1 + next(n-from)}}
		}
		p, err := PlanChain(req)
		want, ok := bruteForce(req, w, 0)
		if !ok {
			if !errors.Is(err, ErrGap) {
				t.Fatalf("iter %d: no chain exists but PlanChain gave %v, %v", iter, describe(req, p), err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		checkCovers(t, n, p)
		if d := p.Cost - seconds(want); d > time.Microsecond || d < -time.Microsecond {
			t.Fatalf("iter %d: plan %s costs %v, brute force finds %v", iter, describe(req, p), p.Cost, seconds(want))
		}
	}
}

// bruteForce returns the cheapest cost from boundary i to the end.
func bruteForce(req Request, w Weights, i int) (float64, bool) {
	if i == req.NumLayers {
		return 0, true
	}
	if w.LocalLayerTime == 0 {
		w.LocalLayerTime = w.LayerTime
	}
	best, found := 0.0, false
	for j := i + 1; j <= req.NumLayers; j++ {
		r := Range{i, j}
		var costs []float64
		for _, l := range req.Local {
			if l.From <= i && j <= l.To {
				costs = append(costs, localCost(r, w))
			}
		}
		for _, c := range req.Candidates {
			if c.From <= i && j <= c.To {
				costs = append(costs, remoteCost(r, c, w))
			}
		}
		for _, c := range costs {
			if rest, ok := bruteForce(req, w, j); ok && (!found || c+rest < best) {
				best, found = c+rest, true
			}
		}
	}
	return best, found
}
