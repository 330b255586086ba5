package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExp: the portable exp is within two ulps of math.Exp (each is within one of e^x) everywhere it is
// used (softmax and SiLU arguments), and exact at the special cases.
func TestExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for i := 0; i < 200000; i++ {
		x := (rng.Float64()*2 - 1) * 700 // math.Exp's amd64 code overflows early, above 709.1
		if i%2 == 0 {
			x = (rng.Float64()*2 - 1) * 20
		}
		got, want := exp(x), math.Exp(x)
		if want == 0 || math.IsInf(want, 0) {
			if got != want {
				t.Fatalf("exp(%v) = %v, want %v", x, got, want)
			}
			continue
		}
		if ulps := math.Abs(got-want) / (math.Nextafter(want, math.Inf(1)) - want); ulps > 2 {
			t.Fatalf("exp(%v) = %v, math.Exp %v (%.1f ulp)", x, got, want, ulps)
		}
	}
	for _, c := range []struct{ x, want float64 }{
		{0, 1}, {math.Inf(1), math.Inf(1)}, {math.Inf(-1), 0}, {1000, math.Inf(1)}, {-1000, 0}, {1e-300, 1},
	} {
		if got := exp(c.x); got != c.want {
			t.Errorf("exp(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if !math.IsNaN(exp(math.NaN())) {
		t.Error("exp(NaN) is not NaN")
	}
}

// TestExpScaling: the power-of-two fast path gives exactly what Ldexp
// gives, across the whole range, subnormal results included.
func TestExpScaling(t *testing.T) {
	for x := -745.0; x <= 709.7; x += 1.0 / 64 {
		if math.Abs(x) < 1.0/(1<<28) {
			continue
		}
		y, k := expParts(x)
		if got, want := exp(x), math.Ldexp(y, k); got != want {
			t.Fatalf("exp(%v) = %v, Ldexp(%v, %d) = %v", x, got, y, k, want)
		}
	}
}
