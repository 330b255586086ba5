package sample

import (
	"math"
	"math/rand/v2"
	"slices"
)

// seedStream is the second PCG word; the first is the caller's seed.
const seedStream = 0x9E3779B97F4A7C15

// candidate is one token under consideration.
type candidate struct {
	id    int32
	logit float32
}

// better orders candidates: higher logit first, then lower id. It is a
// total order, so every filter's result is deterministic.
func better(a, b candidate) bool {
	return a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
}

func compareCandidates(a, b candidate) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// Sampler picks tokens from logits with fixed Params and its own seeded
// random stream. After the first call for a vocabulary size it allocates
// nothing. A Sampler is not safe for concurrent use.
type Sampler struct {
	p    Params
	pcg  *rand.PCG
	rng  *rand.Rand
	cand []candidate // (vocab,) working copy of the logits
	top  []candidate // (k,) top-k heap
	seen []int32     // penalty window, sorted
}

// New returns a sampler for p. It does not validate p (see Validate):
// out-of-range values are clamped to their nearest meaningful setting.
func New(p Params) *Sampler {
	pcg := rand.NewPCG(p.Seed, seedStream)
	return &Sampler{p: sanitize(p), pcg: pcg, rng: rand.New(pcg)}
}

// Params returns the sampler's (clamped) parameters.
func (s *Sampler) Params() Params { return s.p }

// Reset restarts the random stream from seed.
func (s *Sampler) Reset(seed uint64) {
	s.p.Seed = seed
	s.pcg.Seed(seed, seedStream)
}

func sanitize(p Params) Params {
	nan := func(f float32) bool { return f != f }
	if nan(p.Temperature) {
		p.Temperature = 0
	}
	p.TopK = max(p.TopK, 0)
	if nan(p.TopP) || p.TopP > 1 {
		p.TopP = 1
	}
	p.TopP = max(p.TopP, 0)
	if nan(p.MinP) || p.MinP < 0 {
		p.MinP = 0
	}
	p.MinP = min(p.MinP, 1)
	if nan(p.RepeatPenalty) || p.RepeatPenalty <= 0 || math.IsInf(float64(p.RepeatPenalty), 0) {
		p.RepeatPenalty = 1
	}
	p.RepeatLastN = max(p.RepeatLastN, -1)
	if nan(p.FrequencyPenalty) {
		p.FrequencyPenalty = 0
	}
	if nan(p.PresencePenalty) {
		p.PresencePenalty = 0
	}
	return p
}

// Sample returns the next token for logits (one per vocabulary entry),
// given the tokens so far (history, oldest first) for the repetition
// penalties. The logits slice is not modified. NaN logits count as -Inf.
// With no logits it returns -1.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	if len(logits) == 0 {
		return -1
	}
	if cap(s.cand) < len(logits) {
		s.cand = make([]candidate, len(logits))
	}
	cand := s.cand[:len(logits)]
	for i, l := range logits {
		switch {
		case l != l:
			l = float32(math.Inf(-1))
		case l > math.MaxFloat32:
			l = math.MaxFloat32
		}
		cand[i] = candidate{id: int32(i), logit: l}
	}
	s.penalize(cand, history)
	if s.p.Temperature <= 0 {
		return argmax(cand)
	}
	cand, sorted := s.topK(cand)
	if s.p.TopP < 1 {
		cand = topP(cand, s.p.TopP, sorted)
	}
	cand = minP(cand, s.p.MinP)
	for i := range cand {
		cand[i].logit /= s.p.Temperature
	}
	return s.draw(cand)
}

// argmax returns the first (lowest id) of the most likely candidates.
func argmax(cand []candidate) int32 {
	best := cand[0]
	for _, c := range cand[1:] {
		if c.logit > best.logit {
			best = c
		}
	}
	return best.id
}

// penalize applies the repetition, frequency and presence penalties to the
// tokens in the last RepeatLastN of history, as llama.cpp does.
func (s *Sampler) penalize(cand []candidate, history []int32) {
	p := s.p
	if p.RepeatLastN == 0 || (p.RepeatPenalty == 1 && p.FrequencyPenalty == 0 && p.PresencePenalty == 0) {
		return
	}
	window := history
	if p.RepeatLastN > 0 && len(window) > p.RepeatLastN {
		window = window[len(window)-p.RepeatLastN:]
	}
	s.seen = append(s.seen[:0], window...)
	slices.Sort(s.seen)
	for i := 0; i < len(s.seen); {
		id, n := s.seen[i], 1
		for i+n < len(s.seen) && s.seen[i+n] == id {
			n++
		}
		i += n
		if id < 0 || int(id) >= len(cand) {
			continue
		}
		c := &cand[id]
		if c.logit <= 0 {
			c.logit *= p.RepeatPenalty
		} else {
			c.logit /= p.RepeatPenalty
		}
		c.logit -= float32(n)*p.FrequencyPenalty + p.PresencePenalty
	}
}

// topK keeps the TopK best candidates, sorted best first. It reports
// whether the result is sorted.
func (s *Sampler) topK(cand []candidate) ([]candidate, bool) {
	k := s.p.TopK
	if k <= 0 {
		return cand, false
	}
	if k >= len(cand) {
		slices.SortFunc(cand, compareCandidates)
		return cand, true
	}
	// A min-heap of the best k seen so far; its root is the worst of them.
	h := append(s.top[:0], cand[:k]...)
	worse := func(i, j int) bool { return better(h[j], h[i]) }
	down := func(i int) {
		for {
			l, m := 2*i+1, i
			if l < k && worse(l, m) {
				m = l
			}
			if l+1 < k && worse(l+1, m) {
				m = l + 1
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := k/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, c := range cand[k:] {
		if better(c, h[0]) {
			h[0] = c
			down(0)
		}
	}
	s.top = h
	slices.SortFunc(h, compareCandidates)
	copy(cand, h)
	return cand[:k], true
}

// topPBuckets is how many logit ranges topP uses to avoid sorting a whole
// vocabulary.
const topPBuckets = 256

// topP keeps the smallest set of most likely candidates whose probabilities
// add up to at least p (always at least one), sorted best first. Unsorted
// input is first cut down to the logit buckets that hold that mass, so only
// the survivors are sorted.
func topP(cand []candidate, p float32, sorted bool) []candidate {
	maxL, minL := math.Inf(-1), math.Inf(1)
	for _, c := range cand {
		l := float64(c.logit)
		maxL = max(maxL, l)
		if !math.IsInf(l, -1) {
			minL = min(minL, l)
		}
	}
	if math.IsInf(maxL, -1) { // nothing is possible: keep the first
		if !sorted {
			slices.SortFunc(cand, compareCandidates)
		}
		return cand[:1]
	}
	width := (maxL - minL) / (topPBuckets - 1)
	bucket := func(l float32) int {
		switch {
		case math.IsInf(float64(l), -1):
			return topPBuckets - 1
		case width == 0:
			return 0
		}
		return min(int((maxL-float64(l))/width), topPBuckets-1)
	}
	var mass [topPBuckets]float64
	sum := 0.0
	for _, c := range cand {
		w := math.Exp(float64(c.logit) - maxL)
		sum += w
		mass[bucket(c.logit)] += w
	}
	target := float64(p) * sum
	if !sorted {
		cut, cum := topPBuckets-1, 0.0
		for b, m := range mass {
			if cum += m; cum >= target {
				cut = b
				break
			}
		}
		kept := cand[:0]
		for _, c := range cand {
			if bucket(c.logit) <= cut {
				kept = append(kept, c)
			}
		}
		cand = kept
		slices.SortFunc(cand, compareCandidates)
	}
	cum := 0.0
	for i, c := range cand {
		if cum += math.Exp(float64(c.logit) - maxL); cum >= target {
			return cand[:i+1]
		}
	}
	return cand
}

// minP keeps, in order, the candidates with probability at least p times
// the largest: logit >= max + ln p.
func minP(cand []candidate, p float32) []candidate {
	if p <= 0 || len(cand) == 0 {
		return cand
	}
	maxL := cand[0].logit
	for _, c := range cand[1:] {
		maxL = max(maxL, c.logit)
	}
	threshold := float64(maxL) + math.Log(float64(p))
	kept := cand[:0]
	for _, c := range cand {
		if float64(c.logit) >= threshold {
			kept = append(kept, c)
		}
	}
	return kept
}

// draw picks a candidate with probability proportional to exp(logit).
func (s *Sampler) draw(cand []candidate) int32 {
	maxL := float64(cand[0].logit)
	for _, c := range cand[1:] {
		maxL = max(maxL, float64(c.logit))
	}
	if math.IsInf(maxL, 0) {
		return argmax(cand) // all impossible, or a tiny temperature overflowed
	}
	sum := 0.0
	for _, c := range cand {
		sum += math.Exp(float64(c.logit) - maxL)
	}
	target := s.rng.Float64() * sum
	cum, last := 0.0, cand[0].id
	for _, c := range cand {
		w := math.Exp(float64(c.logit) - maxL)
		if w == 0 {
			continue
		}
		cum += w
		last = c.id
		if cum > target {
			return c.id
		}
	}
	return last // rounding left target at or above the total
}
