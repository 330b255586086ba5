package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// quantTypes are the formats QuantizeRow encodes.
var quantTypes = []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K}

// roundTrip quantises src as typ and decodes it again.
func roundTrip(t testing.TB, typ Type, src []float32) []float32 {
	t.Helper()
	size, err := typ.RowSize(int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	row := make([]byte, size)
	if err := QuantizeRow(typ, row, src); err != nil {
		t.Fatalf("quantize %s: %v", typ, err)
	}
	out := make([]float32, len(src))
	if err := DequantizeRow(typ, out, row); err != nil {
		t.Fatalf("dequantize %s: %v", typ, err)
	}
	return out
}

// relRMSE is ‖a-b‖/‖a‖ in float64.
func relRMSE(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(a[i]) * float64(a[i])
	}
	return math.Sqrt(num / den)
}

// TestQuantizeError measures the relative RMS error of a quantise/dequantise
// round trip of Gaussian rows and bounds it. The bounds are the measured
// values (logged with -v) plus about 10%. They agree with the step sizes
// the formats imply (a uniform quantiser's error is step/√12): e.g. Q8_0's
// step is ≈ 2.2σ/127 per 32 elements, giving ≈ 0.005σ.
func TestQuantizeError(t *testing.T) {
	bounds := map[Type]float64{
		F32: 0, F16: 2.4e-4, BF16: 1.9e-3,
		Q8_0: 0.0060, Q8_1: 0.0060, Q8_K: 0.0077,
		Q6_K: 0.0195, Q5_K: 0.040, Q5_0: 0.047, Q5_1: 0.042,
		Q4_K: 0.079, Q4_0: 0.095, Q4_1: 0.086,
		Q3_K: 0.166, Q2_K: 0.33,
	}
	rng := rand.New(rand.NewPCG(9, 10))
	src := make([]float32, 64*1024)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	for _, typ := range quantTypes {
		t.Run(typ.String(), func(t *testing.T) {
			got := relRMSE(src, roundTrip(t, typ, src))
			t.Logf("%s relative RMSE %.5f", typ, got)
			if got > bounds[typ] {
				t.Errorf("%s relative RMSE %.5f, bound %.5f", typ, got, bounds[typ])
			}
		})
	}
}

// TestQuantizeShapes runs awkward inputs through every block quantiser: the
// decoded values must be finite and zero rows must stay zero.
func TestQuantizeShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	shapes := map[string]func(i int) float32{
		"zero":        func(int) float32 { return 0 },
		"constant":    func(int) float32 { return 0.75 },
		"negative":    func(int) float32 { return -1 - float32(rng.Float64()) },
		"tiny":        func(int) float32 { return float32(rng.NormFloat64() * 1e-30) },
		"huge":        func(int) float32 { return float32(rng.NormFloat64() * 1e4) },
		"outlier":     func(i int) float32 { return float32(rng.NormFloat64()) + float32(b2f(i == 77))*500 },
		"sparse":      func(i int) float32 { return float32(b2f(i%37 == 0)) * float32(rng.NormFloat64()) },
		"alternating": func(i int) float32 { return float32(1 - 2*(i%2)) },
	}
	for name, gen := range shapes {
		src := make([]float32, 512)
		for i := range src {
			src[i] = gen(i)
		}
		for _, typ := range quantTypes {
			out := roundTrip(t, typ, src)
			for i, v := range out {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s %s: element %d decodes to %v", name, typ, i, v)
				}
				if name == "zero" && v != 0 {
					t.Fatalf("%s %s: element %d decodes to %v", name, typ, i, v)
				}
			}
			// Values on a scale's grid come back almost exactly, except the
			// negative half of an alternating row in the formats whose levels
			// run from -2^(b-1) to 2^(b-1)-1 with d set by the first extreme.
			asym := typ == Q4_0 || typ == Q5_0 || typ == Q3_K
			if name == "constant" || name == "alternating" && !asym {
				if e := relRMSE(src, out); e > 0.01 {
					t.Errorf("%s %s: relative error %v", name, typ, e)
				}
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestQuantizeIdempotent: requantising decoded Q8_0/Q4_0/Q6_K data gives
// back the same bytes, as ggml's quantisers do on their own output.
func TestQuantizeIdempotent(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	src := make([]float32, 4096)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	for _, typ := range []Type{Q8_0, Q4_0, Q5_0} {
		size, _ := typ.RowSize(int64(len(src)))
		a, b := make([]byte, size), make([]byte, size)
		if err := QuantizeRow(typ, a, src); err != nil {
			t.Fatal(err)
		}
		dec := make([]float32, len(src))
		if err := DequantizeRow(typ, dec, a); err != nil {
			t.Fatal(err)
		}
		if err := QuantizeRow(typ, b, dec); err != nil {
			t.Fatal(err)
		}
		diff := 0
		for i := range a {
			if a[i] != b[i] {
				diff++
			}
		}
		if diff > len(a)/200 {
			t.Errorf("%s: requantising changed %d of %d bytes", typ, diff, len(a))
		}
	}
}
