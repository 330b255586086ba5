package route

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Spreading sessions. PlanChain is deterministic: every client that sees the
// same announcements picks the same provider for a hop, and a popular
// replica is swamped while its twins idle. Spread re-draws each remote hop
// among the providers able to serve it whose cost is within a slack of the
// best, with probability proportional to 1/cost²: an idle, close replica is
// still favoured, but sessions spread over every reasonable one. Load (from
// announcements) and latency (measured, see LatencyBook) enter through the
// cost.

// DefaultSlack is how much dearer than the best a replica may be and still
// be drawn: 50%.
const DefaultSlack = 0.5

// Spread returns p with each remote hop's provider drawn from the hop's
// provider and alternatives costing at most (1+slack) × the cheapest; the
// others become the hop's alternatives, cheapest first. p must come from
// PlanChain(req).
func Spread(p Plan, req Request, rnd *rand.Rand, slack float64) Plan {
	w := plannerWeights(req.Weights)
	out := Plan{Hops: make([]Hop, len(p.Hops))}
	for i, h := range p.Hops {
		if !h.Local && rnd != nil {
			h = spreadHop(h, req, w, rnd, max(slack, 0))
		}
		out.Hops[i] = h
		out.Cost += h.Cost
	}
	return out
}

func spreadHop(h Hop, req Request, w Weights, rnd *rand.Rand, slack float64) Hop {
	type option struct {
		cand int
		cost float64
	}
	var opts []option
	for _, ci := range append([]int{h.Provider}, h.Alternatives...) {
		opts = append(opts, option{ci, remoteCost(h.Range, req.Candidates[ci], w)})
	}
	sort.SliceStable(opts, func(a, b int) bool { return opts[a].cost < opts[b].cost })
	limit := opts[0].cost * (1 + slack)
	total := 0.0
	eligible := 0
	for _, o := range opts {
		if o.cost > limit {
			break
		}
		total += 1 / (o.cost * o.cost)
		eligible++
	}
	pick := 0
	if eligible > 1 && total > 0 && !math.IsInf(total, 0) {
		x := rnd.Float64() * total
		for pick = 0; pick < eligible-1; pick++ {
			if x -= 1 / (opts[pick].cost * opts[pick].cost); x < 0 {
				break
			}
		}
	}
	h.Provider, h.Cost = opts[pick].cand, seconds(opts[pick].cost)
	h.Alternatives = h.Alternatives[:0:0]
	for i, o := range opts {
		if i != pick {
			h.Alternatives = append(h.Alternatives, o.cand)
		}
	}
	return h
}

// plannerWeights fills the defaults PlanChain applies.
func plannerWeights(w Weights) Weights {
	if w.LayerTime <= 0 {
		w.LayerTime = DefaultWeights().LayerTime
	}
	if w.LocalLayerTime <= 0 {
		w.LocalLayerTime = w.LayerTime
	}
	return w
}

// LatencyBook keeps the measured round trip to each provider (a moving
// average of the hops' calls), so plans use what this node measured rather
// than an announcement or a one-off ping. It is safe for concurrent use.
type LatencyBook struct {
	mu  sync.Mutex // guards rtt
	rtt map[string]time.Duration
}

// NewLatencyBook returns an empty book.
func NewLatencyBook() *LatencyBook { return &LatencyBook{rtt: map[string]time.Duration{}} }

// Observe records one round trip to peer.
func (b *LatencyBook) Observe(peer string, rtt time.Duration) {
	if rtt <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.rtt[peer]; ok {
		rtt = old + (rtt-old)/8
	}
	b.rtt[peer] = rtt
}

// Latency returns the average round trip to peer, if measured.
func (b *LatencyBook) Latency(peer string) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.rtt[peer]
	return d, ok
}

// Apply sets the Latency of each candidate this book has measured.
func (b *LatencyBook) Apply(cands []Candidate) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range cands {
		if d, ok := b.rtt[cands[i].Peer]; ok {
			cands[i].Latency = d
		}
	}
}
