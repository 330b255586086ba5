package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// kernelTypes are the weight types with dot kernels.
var kernelTypes = []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K}

// canonicalDot is the canonical float-row order written out plainly: 16
// lanes, products rounded to float32, then the halving tree.
func canonicalDot(a, b []float32) float32 {
	var lane [16]float32
	for i := range a {
		p := float32(a[i] * b[i])
		lane[i%16] = lane[i%16] + p
	}
	for width := 8; width >= 1; width /= 2 {
		for j := 0; j < width; j++ {
			lane[j] = lane[j] + lane[j+width]
		}
	}
	return lane[0]
}

func randVec(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

func TestDotF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for n := 0; n <= 70; n++ {
		for range 20 {
			a, b := randVec(rng, n, 1), randVec(rng, n, 3)
			got, want := DotF32(a, b), canonicalDot(a, b)
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("n=%d: DotF32 = %v, canonical order gives %v", n, got, want)
			}
			var exact, mag float64
			for i := range a {
				exact += float64(a[i]) * float64(b[i])
				mag += math.Abs(float64(a[i]) * float64(b[i]))
			}
			if d := math.Abs(float64(got) - exact); d > float64(n+1)*0x1p-23*mag {
				t.Fatalf("n=%d: DotF32 = %v, exact %v", n, got, exact)
			}
		}
	}
	// Lanes are independent: a product that cancels in one lane does not
	// absorb small ones elsewhere.
	a := make([]float32, 32)
	b := make([]float32, 32)
	a[0], b[0], a[16], b[16] = 1e20, 1, -1e20, 1
	a[1], b[1] = 3, 0.5
	if got := DotF32(a, b); got != 1.5 {
		t.Errorf("DotF32 = %v, want 1.5", got)
	}
}

func TestDotF32LengthMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	DotF32(make([]float32, 3), make([]float32, 4))
}

// randRow returns a random row of typ with n elements: spec-built blocks for
// block formats, rounded Gaussians for float formats.
func randRow(t testing.TB, typ Type, n int, rng *rand.Rand) []byte {
	t.Helper()
	if typ.BlockSize() == 1 {
		row := make([]byte, n*typ.TypeSize())
		if err := QuantizeRow(typ, row, randVec(rng, n, 1)); err != nil {
			t.Fatal(err)
		}
		return row
	}
	var row []byte
	for range n / typ.BlockSize() {
		b, _ := specBlock(t.(*testing.T), typ, rng)
		row = append(row, b...)
	}
	return row
}

// quantizedRow returns a row made by QuantizeRow (realistic scales).
func quantizedRow(t testing.TB, typ Type, x []float32) []byte {
	t.Helper()
	size, err := typ.RowSize(int64(len(x)))
	if err != nil {
		t.Fatal(err)
	}
	row := make([]byte, size)
	if err := QuantizeRow(typ, row, x); err != nil {
		t.Fatal(err)
	}
	return row
}

// checkTiers checks that every kernel tier this machine runs (portable Go,
// and on amd64 the AVX2 and VNNI assembly) equals the reference bit for
// bit on row·a.
func checkTiers(t testing.TB, typ Type, row []byte, a *qvec, what string) {
	t.Helper()
	want := refDot(typ, row, a)
	for _, tier := range kernelTiers() {
		if got := tier.kernels[typ].dot(row, a); !sameFloat(got, want) {
			t.Fatalf("%s %s: %s kernel %v, reference %v", typ, what, tier.name, got, want)
		}
	}
}

func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}

// TestKernelsMatchReference: every fast kernel equals its reference bit for
// bit, on spec-built blocks (all bit patterns of levels and scales) and on
// quantiser output.
func TestKernelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, typ := range kernelTypes {
		t.Run(typ.String(), func(t *testing.T) {
			sizes := []int{256, 512, 2304}
			if typ.BlockSize() == 1 {
				sizes = []int{1, 16, 31, 64, 172, 256}
			} else if typ.BlockSize() == 32 {
				sizes = append(sizes, 32, 96)
			}
			for _, n := range sizes {
				for range 10 {
					x := randVec(rng, n, 2)
					a, err := quantizeAct(typ, x)
					if err != nil {
						t.Fatal(err)
					}
					for _, row := range [][]byte{randRow(t, typ, n, rng), quantizedRow(t, typ, randVec(rng, n, 0.1))} {
						checkTiers(t, typ, row, &a, fmt.Sprintf("n=%d", n))
					}
				}
			}
		})
	}
}

// actErrorBound bounds |Σ w_i·(x_i - x̂_i)| for x̂ the activation as
// quantised: each element is off by at most half its block scale, plus the
// f16 rounding of the scale (relative 2^-11, or absolute 2^-25 per level
// where the scale is an f16 subnormal; all of x when it flushed to zero),
// plus float rounding in the sums and underflow of tiny products. Q4_1 and
// Q5_1 add their min times the activation's s = f16(d·Σq), which ggml
// computes from the unrounded d: where the rounded d differs (most of all
// when it flushes to zero) that term differs from min·Σx̂ by |m·(s - d·Σq)|.
func actErrorBound(typ Type, row []byte, w, x []float32, a *qvec) float64 {
	var bound, mag float64
	bl := kernels[typ].act.blockLen()
	for i := range w {
		ax := math.Abs(float64(x[i]))
		e := 2 * ax * 0x1p-23
		if bl > 1 {
			d := math.Abs(float64(a.d[i/bl]))
			e = d/2 + ax*0x1p-10 + d*0x1p-10 + 128*0x1p-25
			if d == 0 {
				e = ax
			}
		}
		bound += math.Abs(float64(w[i])) * e
		mag += math.Abs(float64(w[i]) * float64(x[i]))
	}
	if typ == Q4_1 || typ == Q5_1 {
		size := typ.TypeSize()
		for b := range a.d {
			m := float64(f16At(row[b*size+2:]))
			bound += math.Abs(m * (float64(a.s[b]) - float64(a.d[b])*float64(a.sum[b])))
		}
	}
	return bound + float64(len(w)/bl+16)*0x1p-22*(mag+bound) + float64(len(w)+1)*0x1p-149
}

// TestDotRowAccuracy compares DotRow with a float64 dot product of the
// decoded weights and the unquantised x.
func TestDotRowAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, typ := range kernelTypes {
		t.Run(typ.String(), func(t *testing.T) {
			n := 1024
			if typ.BlockSize() == 1 {
				n = 172
			}
			for range 50 {
				x := randVec(rng, n, 1)
				row := quantizedRow(t, typ, randVec(rng, n, 0.05))
				w := make([]float32, n)
				if err := DequantizeRow(typ, w, row); err != nil {
					t.Fatal(err)
				}
				got, err := DotRow(typ, row, x)
				if err != nil {
					t.Fatal(err)
				}
				var exact float64
				for i := range w {
					exact += float64(w[i]) * float64(x[i])
				}
				a, _ := quantizeAct(typ, x)
				if d, b := math.Abs(float64(got)-exact), actErrorBound(typ, row, w, x, &a); d > b {
					t.Fatalf("DotRow = %v, exact %v: error %g > bound %g", got, exact, d, b)
				}
			}
		})
	}
}

func TestDotRowErrors(t *testing.T) {
	if _, err := DotRow(Q4_0, make([]byte, 17), make([]float32, 32)); err == nil {
		t.Error("short row: no error")
	}
	if _, err := DotRow(IQ2_XXS, make([]byte, 66), make([]float32, 256)); err == nil {
		t.Error("unsupported type: no error")
	}
	if _, err := DotRow(Q4_K, make([]byte, 72), make([]float32, 128)); err == nil {
		t.Error("partial super-block: no error")
	}
}

// TestActivationNaN: a NaN in x makes the dot product NaN for every kernel
// (nearest-int rounding alone would quietly turn it into 0).
func TestActivationNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	for _, typ := range kernelTypes {
		n := 256
		x := randVec(rng, n, 1)
		x[100] = float32(math.NaN())
		row := quantizedRow(t, typ, randVec(rng, n, 1))
		got, err := DotRow(typ, row, x)
		if err != nil {
			t.Fatal(err)
		}
		if !math.IsNaN(float64(got)) {
			t.Errorf("%s: dot with NaN activation = %v", typ, got)
		}
	}
}
