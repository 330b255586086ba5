package route

import "math"

// Placement: which layers a provider should serve. A swarm's throughput is
// bounded by its scarcest layers, so a node joining with room for capacity
// layers takes the window the swarm lacks most, and a serving node moves
// only when moving makes the swarm clearly better (hysteresis), so that
// nodes do not chase each other around the layers.

// ChooseRange returns the window [from, from+capacity) of a model with
// numLayers layers that adds a replica where the swarm has fewest:
// coverage[i] is the number of providers serving layer i (missing entries
// count as zero). Windows compare by how many of their layers have 0
// replicas, then how many have 1, and so on; ties go to the earliest
// window. A capacity of the whole model or more gives [0,numLayers); no
// capacity (or no layers) gives the empty range [0,0).
func ChooseRange(coverage []int, numLayers, capacity int) (from, to int) {
	if numLayers <= 0 || capacity <= 0 {
		return 0, 0
	}
	if capacity >= numLayers {
		return 0, numLayers
	}
	cov := coverageOf(coverage, numLayers)
	best := -1
	var bestHist []int
	for f := 0; f+capacity <= numLayers; f++ {
		h := histogram(cov[f : f+capacity])
		if best < 0 || scarcer(h, bestHist) {
			best, bestHist = f, h
		}
	}
	return best, best + capacity
}

// coverageOf copies coverage to exactly n entries, negative counts as zero.
func coverageOf(coverage []int, n int) []int {
	cov := make([]int, n)
	for i := range cov {
		if i < len(coverage) {
			cov[i] = max(coverage[i], 0)
		}
	}
	return cov
}

// histogram counts layers per replica count: h[c] layers have c replicas.
func histogram(cov []int) []int {
	top := 0
	for _, c := range cov {
		top = max(top, c)
	}
	h := make([]int, top+1)
	for _, c := range cov {
		h[c]++
	}
	return h
}

// scarcer reports whether a window with histogram a covers scarcer layers
// than one with b: more layers with 0 replicas, then with 1, …
func scarcer(a, b []int) bool {
	for c := 0; c < max(len(a), len(b)); c++ {
		var x, y int
		if c < len(a) {
			x = a[c]
		}
		if c < len(b) {
			y = b[c]
		}
		if x != y {
			return x > y
		}
	}
	return false
}

// Rebalance decides whether a node serving current should move. coverage
// counts every provider of each layer, this node included. The node's own
// replicas are taken out, the best window of the same size is chosen
// (ChooseRange), and the node moves when that leaves fewer layers
// uncovered, or as many and a scarcity (the sum over layers of 1/replicas)
// lower by more than the factor 1+hysteresis. A hysteresis of 0.2 (20%) is
// a sensible default.
func Rebalance(coverage []int, numLayers int, current Range, hysteresis float64) (next Range, move bool) {
	if !current.valid(numLayers) {
		f, t := ChooseRange(coverage, numLayers, current.Len())
		return Range{f, t}, t > f
	}
	others := coverageOf(coverage, numLayers)
	for l := current.From; l < current.To; l++ {
		others[l] = max(others[l]-1, 0)
	}
	f, t := ChooseRange(others, numLayers, current.Len())
	best := Range{f, t}
	if best == current {
		return current, false
	}
	stayGaps, stay := scarcity(others, current)
	moveGaps, moved := scarcity(others, best)
	switch {
	case moveGaps != stayGaps:
		return best, moveGaps < stayGaps
	case stay > (1+max(hysteresis, 0))*moved:
		return best, true
	}
	return current, false
}

// scarcity evaluates the swarm with others' coverage plus one replica on r:
// the number of uncovered layers and Σ 1/replicas over the covered ones.
func scarcity(others []int, r Range) (gaps int, sum float64) {
	for l, c := range others {
		if l >= r.From && l < r.To {
			c++
		}
		if c == 0 {
			gaps++
			continue
		}
		sum += 1 / float64(c)
	}
	if math.IsNaN(sum) {
		sum = math.Inf(1)
	}
	return gaps, sum
}
