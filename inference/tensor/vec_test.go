package tensor

import (
	"math/rand/v2"
	"testing"
)

// TestDotF32Rows: every score equals DotF32 of its row, for lengths with
// and without a 16-float tail and strides wider than the rows.
func TestDotF32Rows(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, n := range []int{1, 15, 16, 48, 64, 70, 128} {
		for _, extra := range []int{0, 3, 64} {
			stride, count := n+extra, 1+rng.IntN(40)
			x := randVec(rng, n, 1)
			rows := randVec(rng, (count-1)*stride+n, 2)
			dst := make([]float32, count)
			DotF32Rows(dst, x, rows, stride)
			for j := range dst {
				if want := DotF32(x, rows[j*stride:j*stride+n]); !sameFloat(dst[j], want) {
					t.Fatalf("n=%d stride=%d row %d: %v, DotF32 %v", n, stride, j, dst[j], want)
				}
				if want := canonicalDot(x, rows[j*stride:j*stride+n]); !sameFloat(dst[j], want) {
					t.Fatalf("n=%d stride=%d row %d: %v, canonical order %v", n, stride, j, dst[j], want)
				}
			}
		}
	}
	DotF32Rows(nil, []float32{1}, nil, 1) // no rows: nothing to read
	defer func() {
		if recover() == nil {
			t.Error("rows past the end: no panic")
		}
	}()
	DotF32Rows(make([]float32, 2), make([]float32, 16), make([]float32, 31), 16)
}

// TestAddScaledF32: every element equals the plain rounded multiply-add.
func TestAddScaledF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for n := 0; n < 40; n++ {
		dst, x := randVec(rng, n, 1), randVec(rng, n, 3)
		a := float32(rng.NormFloat64())
		want := make([]float32, n)
		for i := range want {
			want[i] = dst[i] + float32(a*x[i])
		}
		AddScaledF32(dst, a, x)
		for i := range dst {
			if !sameFloat(dst[i], want[i]) {
				t.Fatalf("n=%d element %d: %v, want %v", n, i, dst[i], want[i])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("length mismatch: no panic")
		}
	}()
	AddScaledF32(make([]float32, 2), 1, make([]float32, 3))
}

// TestAddScaledRows: every element equals AddScaledF32 applied row by row.
func TestAddScaledRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	for _, n := range []int{1, 7, 8, 33, 64, 70, 100} {
		for _, extra := range []int{0, 5} {
			stride, count := n+extra, 1+rng.IntN(30)
			w := randVec(rng, count, 0.3)
			rows := randVec(rng, (count-1)*stride+n, 2)
			got := randVec(rng, n, 1)
			want := append([]float32(nil), got...)
			AddScaledRows(got, w, rows, stride)
			for j := range w {
				for i := range want {
					want[i] += float32(w[j] * rows[j*stride+i])
				}
			}
			for i := range got {
				if !sameFloat(got[i], want[i]) {
					t.Fatalf("n=%d stride=%d element %d: %v, want %v", n, stride, i, got[i], want[i])
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("rows past the end: no panic")
		}
	}()
	AddScaledRows(make([]float32, 8), make([]float32, 2), make([]float32, 15), 8)
}
