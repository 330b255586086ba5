package route

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Range is the layers [From,To).
type Range struct{ From, To int }

// Len is the number of layers.
func (r Range) Len() int { return r.To - r.From }

// String names the layers inclusively: "layer 4" or "layers 4–6".
func (r Range) String() string {
	if r.To-r.From == 1 {
		return fmt.Sprintf("layer %d", r.From)
	}
	return fmt.Sprintf("layers %d–%d", r.From, r.To-1)
}

func (r Range) valid(n int) bool { return r.From >= 0 && r.From < r.To && r.To <= n }

func (r Range) overlaps(o Range) bool { return r.From < o.To && o.From < r.To }

// Candidate is a provider able to serve a layer range.
type Candidate struct {
	Peer      string        // the provider's identity (a peer ID)
	Range                   // the layers it serves; any sub-range can be asked for
	Latency   time.Duration // measured round trip (0: unknown, counted as Weights.DefaultLatency)
	TokPerSec float64       // measured or advertised decode throughput over Range (0: unknown)
	Price     uint64        // base units per 1,000 token-layers
	Load      float64       // 0 idle … 1 saturated
	Backend   string        // compute backend ("cpu", "webgpu"; "": unknown)
}

// Weights turn a hop into a per-token cost.
type Weights struct {
	// LayerTime is the per-token time of one layer at a provider whose
	// throughput is unknown.
	LayerTime time.Duration
	// LocalLayerTime is this node's per-token time per layer (0: LayerTime).
	LocalLayerTime time.Duration
	// DefaultLatency is the round trip assumed when none was measured.
	DefaultLatency time.Duration
	// HopPenalty is added per hop, so that fewer hops win near-ties.
	HopPenalty time.Duration
	// UnitValue is the time one base unit of price is worth: a provider
	// charging p per 1000 units costs p × layers / 1000 × UnitValue per token.
	UnitValue time.Duration
}

// DefaultWeights suit a desktop CPU and a LAN or good internet path.
func DefaultWeights() Weights {
	return Weights{
		LayerTime:      5 * time.Millisecond,
		DefaultLatency: 50 * time.Millisecond,
		HopPenalty:     time.Millisecond,
		UnitValue:      10 * time.Microsecond,
	}
}

// Request is what to plan.
type Request struct {
	NumLayers  int
	Local      []Range // layers this node can run itself
	KeepLocal  bool    // the local layers must run here (no provider may serve them)
	Candidates []Candidate
	Weights    Weights
}

// Hop is one stage of a plan.
type Hop struct {
	Range
	Local    bool // this node runs it
	Provider int  // index into Request.Candidates; -1 when local
	// Alternatives are the other candidates able to serve exactly Range,
	// cheapest first.
	Alternatives []int
	Cost         time.Duration // per-token cost of the hop
}

// Plan is an ordered chain of hops covering [0,NumLayers).
type Plan struct {
	Hops []Hop
	Cost time.Duration // per-token cost of the whole chain
}

// Describe renders the plan for req, e.g. "[0,2) local → [2,5) 12D3…".
func (p Plan) Describe(req Request) string {
	parts := make([]string, len(p.Hops))
	for i, h := range p.Hops {
		who := "local"
		if !h.Local {
			who = req.Candidates[h.Provider].Peer
		}
		parts[i] = fmt.Sprintf("[%d,%d) %s", h.From, h.To, who)
	}
	return strings.Join(parts, " → ")
}

var (
	// ErrGap reports layers that neither this node nor any provider serves.
	ErrGap = errors.New("layers not covered")
	// ErrBadRequest reports a request that cannot be planned.
	ErrBadRequest = errors.New("bad route request")
)

// GapError lists the uncovered layers.
type GapError struct{ Gaps []Range }

func (e *GapError) Error() string {
	parts := make([]string, len(e.Gaps))
	for i, g := range e.Gaps {
		parts[i] = g.String()
	}
	return "no provider serves " + strings.Join(parts, ", ")
}

// Unwrap makes a GapError match ErrGap.
func (e *GapError) Unwrap() error { return ErrGap }

// edge is a way to run layers [from,to): locally (cand -1) or at a candidate.
type edge struct {
	from, cand int
	cost       float64 // seconds per token
}

// PlanChain finds the cheapest chain covering [0,NumLayers). Candidates with
// ranges outside the model are ignored. It returns a *GapError (matching
// ErrGap) when some layers cannot be covered.
func PlanChain(req Request) (Plan, error) {
	n := req.NumLayers
	if n <= 0 {
		return Plan{}, fmt.Errorf("%w: %d layers", ErrBadRequest, n)
	}
	for _, l := range req.Local {
		if !l.valid(n) {
			return Plan{}, fmt.Errorf("%w: local %v outside [0,%d)", ErrBadRequest, l, n)
		}
	}
	if gaps := uncovered(req); len(gaps) > 0 {
		return Plan{}, &GapError{Gaps: gaps}
	}
	w := req.Weights
	if w.LayerTime <= 0 {
		w.LayerTime = DefaultWeights().LayerTime
	}
	if w.LocalLayerTime <= 0 {
		w.LocalLayerTime = w.LayerTime
	}
	local := merge(req.Local)
	// best[j] is the cheapest way to reach boundary j; hops[j] how many hops.
	best := make([]float64, n+1)
	hops := make([]int, n+1)
	via := make([]edge, n+1)
	for j := 1; j <= n; j++ {
		best[j] = math.Inf(1)
		for i := 0; i < j; i++ {
			if math.IsInf(best[i], 1) {
				continue
			}
			r := Range{i, j}
			consider := func(e edge) {
				c := best[i] + e.cost
				if better(c, hops[i]+1, e, best[j], hops[j], via[j]) {
					best[j], hops[j], via[j] = c, hops[i]+1, e
				}
			}
			if containedIn(r, local) {
				consider(edge{from: i, cand: -1, cost: localCost(r, w)})
			}
			for ci, c := range req.Candidates {
				if ok := c.Range.valid(n) && c.From <= i && j <= c.To; ok && !(req.KeepLocal && overlapsAny(r, local)) {
					consider(edge{from: i, cand: ci, cost: remoteCost(r, c, w)})
				}
			}
		}
	}
	if math.IsInf(best[n], 1) {
		// Unreachable only when KeepLocal leaves a layer to nobody, which
		// uncovered has ruled out; kept as a safeguard.
		return Plan{}, &GapError{Gaps: []Range{{0, n}}}
	}
	var plan Plan
	for j := n; j > 0; j = via[j].from {
		e := via[j]
		h := Hop{Range: Range{e.from, j}, Local: e.cand < 0, Provider: e.cand, Cost: seconds(e.cost)}
		if !h.Local {
			h.Alternatives = alternatives(req, w, local, h)
		}
		plan.Hops = append(plan.Hops, h)
	}
	slices.Reverse(plan.Hops)
	plan.Cost = seconds(best[n])
	return plan, nil
}

// better orders candidate paths: lower cost (beyond rounding noise), then
// fewer hops, then local before remote, then the earlier candidate.
func better(c float64, h int, e edge, bestC float64, bestH int, bestE edge) bool {
	const eps = 1e-12
	switch {
	case math.IsInf(bestC, 1):
		return true
	case c < bestC-eps:
		return true
	case c > bestC+eps:
		return false
	case h != bestH:
		return h < bestH
	case (e.cand < 0) != (bestE.cand < 0):
		return e.cand < 0
	}
	return e.cand < bestE.cand
}

func localCost(r Range, w Weights) float64 {
	return float64(r.Len())*w.LocalLayerTime.Seconds() + w.HopPenalty.Seconds()
}

func remoteCost(r Range, c Candidate, w Weights) float64 {
	layer := w.LayerTime.Seconds()
	if c.TokPerSec > 0 && !math.IsInf(c.TokPerSec, 0) {
		layer = 1 / (c.TokPerSec * float64(c.Len()))
	}
	load := min(max(c.Load, 0), 0.95)
	if math.IsNaN(load) {
		load = 0
	}
	lat := c.Latency
	if lat <= 0 {
		lat = w.DefaultLatency
	}
	price := float64(c.Price) * float64(r.Len()) / 1000 * w.UnitValue.Seconds()
	return lat.Seconds() + float64(r.Len())*layer/(1-load) + w.HopPenalty.Seconds() + price
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// alternatives lists the other candidates that can serve exactly h's range,
// cheapest first.
func alternatives(req Request, w Weights, local []Range, h Hop) []int {
	type alt struct {
		i    int
		cost float64
	}
	var alts []alt
	for ci, c := range req.Candidates {
		if ci == h.Provider || !c.Range.valid(req.NumLayers) || c.From > h.From || c.To < h.To {
			continue
		}
		alts = append(alts, alt{ci, remoteCost(h.Range, c, w)})
	}
	sort.SliceStable(alts, func(a, b int) bool { return alts[a].cost < alts[b].cost })
	out := make([]int, len(alts))
	for i, a := range alts {
		out[i] = a.i
	}
	return out
}

// merge returns the union of ranges as sorted disjoint ranges.
func merge(rs []Range) []Range {
	s := slices.Clone(rs)
	sort.Slice(s, func(a, b int) bool { return s[a].From < s[b].From })
	var out []Range
	for _, r := range s {
		if len(out) > 0 && r.From <= out[len(out)-1].To {
			out[len(out)-1].To = max(out[len(out)-1].To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}

func containedIn(r Range, merged []Range) bool {
	for _, m := range merged {
		if m.From <= r.From && r.To <= m.To {
			return true
		}
	}
	return false
}

func overlapsAny(r Range, rs []Range) bool {
	for _, o := range rs {
		if r.overlaps(o) {
			return true
		}
	}
	return false
}

// uncovered returns the layers no local range or valid candidate covers.
func uncovered(req Request) []Range {
	all := slices.Clone(req.Local)
	for _, c := range req.Candidates {
		if c.Range.valid(req.NumLayers) {
			all = append(all, c.Range)
		}
	}
	var gaps []Range
	at := 0
	for _, r := range merge(all) {
		if r.From > at {
			gaps = append(gaps, Range{at, r.From})
		}
		at = max(at, r.To)
	}
	if at < req.NumLayers {
		gaps = append(gaps, Range{at, req.NumLayers})
	}
	return gaps
}
