package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExp: the portable Exp is within two ulps of math.Exp (each is within one of e^x) everywhere it is
// used (softmax and SiLU arguments), and exact at the special cases.
func TestExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for i := 0; i < 200000; i++ {
		x := (rng.Float64()*2 - 1) * 700 // math.Exp's amd64 code overflows early, above 709.1
		if i%2 == 0 {
			x = (rng.Float64()*2 - 1) * 20
		}
		got, want := Exp(x), math.Exp(x)
		if want == 0 || math.IsInf(want, 0) {
			if got != want {
				t.Fatalf("Exp(%v) = %v, want %v", x, got, want)
			}
			continue
		}
		if ulps := math.Abs(got-want) / (math.Nextafter(want, math.Inf(1)) - want); ulps > 2 {
			t.Fatalf("Exp(%v) = %v, math.Exp %v (%.1f ulp)", x, got, want, ulps)
		}
	}
	for _, c := range []struct{ x, want float64 }{
		{0, 1}, {math.Inf(1), math.Inf(1)}, {math.Inf(-1), 0}, {1000, math.Inf(1)}, {-1000, 0}, {1e-300, 1},
	} {
		if got := Exp(c.x); got != c.want {
			t.Errorf("Exp(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if !math.IsNaN(Exp(math.NaN())) {
		t.Error("Exp(NaN) is not NaN")
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
		if got, want := Exp(x), math.Ldexp(y, k); got != want {
			t.Fatalf("Exp(%v) = %v, Ldexp(%v, %d) = %v", x, got, y, k, want)
		}
	}
}

// TestSwiGLUMatchesScalar: the vector SwiGLU gives the scalar formula's
// bits for ordinary, tiny, huge and non-finite gates, in every position.
func TestSwiGLUMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	for iter := range 300 {
		n := rng.IntN(70)
		g, u := make([]float32, n), make([]float32, n)
		for i := range g {
			g[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(8)-4)))
			u[i] = float32(rng.NormFloat64())
			switch rng.IntN(40) {
			case 0:
				g[i] = float32(math.NaN())
			case 1:
				g[i] = float32(math.Inf(1 - 2*rng.IntN(2)))
			case 2:
				g[i] = float32(rng.NormFloat64() * 1e-9)
			case 3:
				g[i] = float32(rng.NormFloat64() * 800)
			case 4:
				g[i] = 0
			}
		}
		want := make([]float32, n)
		for i, v := range g {
			silu := v / float32(1+Exp(float64(-v)))
			want[i] = silu * u[i]
		}
		SwiGLU(g, u)
		for i := range g {
			if math.Float32bits(g[i]) != math.Float32bits(want[i]) && !(g[i] != g[i] && want[i] != want[i]) {
				t.Fatalf("iter %d element %d: %v, scalar %v", iter, i, g[i], want[i])
			}
		}
	}
}

// TestExpAllMatchesExp: the vector Exp gives Exp's bits (float64, so a
// changed rounding anywhere in its algorithm shows), special cases included.
func TestExpAllMatchesExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(75, 76))
	for iter := range 200 {
		x := make([]float64, rng.IntN(100))
		for i := range x {
			x[i] = (rng.Float64()*2 - 1) * []float64{1, 10, 100, 750}[rng.IntN(4)]
			switch rng.IntN(50) {
			case 0:
				x[i] = math.NaN()
			case 1:
				x[i] = 1e-12
			case 2:
				x[i] = math.Inf(-1)
			}
		}
		want := make([]float64, len(x))
		for i, v := range x {
			want[i] = Exp(v)
		}
		ExpAll(x)
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(want[i]) && !(x[i] != x[i] && want[i] != want[i]) {
				t.Fatalf("iter %d element %d: %v, Exp %v", iter, i, x[i], want[i])
			}
		}
	}
}
