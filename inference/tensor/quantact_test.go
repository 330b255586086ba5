package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestFastQuantMatchesGo: the assembly activation quantisers give exactly
// the Go ones' quants, scales, sums and s (Q8_0, Q8_1, Q8_K), for ordinary, tiny, huge, zero,
// tie-making and non-finite blocks.
func TestFastQuantMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	for iter := range 400 {
		n := 256 * (1 + rng.IntN(4))
		scale := math.Pow(10, float64(rng.IntN(80)-40))
		x := randVec(rng, n, scale)
		switch iter % 8 {
		case 1: // a zero block
			clear(x[:32])
		case 2: // non-finite elements
			x[rng.IntN(n)] = float32(math.NaN())
			x[rng.IntN(n)] = float32(math.Inf(1 - 2*rng.IntN(2)))
		case 3: // amax so small that 127/amax overflows
			for i := range x[:32] {
				x[i] = float32(rng.NormFloat64() * 1e-38)
			}
		case 4: // ties: x·(127/amax) lands on k+0.5
			for i := range x[:32] {
				x[i] = float32(rng.IntN(255)-127) / 2
			}
			x[0] = 63.5
		}
		if iter%8 == 5 { // the largest magnitude twice, with both signs
			x[7], x[200] = -10*float32(scale), 10*float32(scale)
		}
		for _, f := range []actFormat{actQ8_0, actQ8_1, actQ8K} {
			var fast, slow qbuf
			fast.reset(f, 1, n)
			slow.reset(f, 1, n)
			a, b := fast.token(0), slow.token(0)
			a.quantize(f, x, false)
			useFastQuant = false
			b.quantize(f, x, false)
			useFastQuant = true
			if !slices.Equal(a.qs, b.qs) || !slices.Equal(a.sum, b.sum) || !sameBits(a.d, b.d) || !sameBits(a.s, b.s) ||
				!slices.Equal(a.bsum, b.bsum) || !slices.Equal(a.bs16, b.bs16) {
				t.Fatalf("iter %d format %d: fast and Go quantisation differ\nqs %v\n   %v\nd %v\n  %v\ns %v\n  %v",
					iter, f, a.qs[:32], b.qs[:32], a.d, b.d, a.s, b.s)
			}
		}
	}
}

func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}
