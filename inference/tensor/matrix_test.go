package tensor

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

func TestNewMatrix(t *testing.T) {
	cases := []struct {
		name       string
		t          Type
		rows, cols int
		size       int
		want       error
	}{
		{"ok q4_0", Q4_0, 3, 64, 3 * 36, nil},
		{"ok f32 odd width", F32, 2, 5, 40, nil},
		{"short data", Q8_0, 2, 32, 67, ErrLength},
		{"long data", Q8_0, 2, 32, 69, ErrLength},
		{"partial block", Q4_K, 1, 128, 72, nil},
		{"zero rows", F32, 0, 4, 0, ErrShape},
		{"negative cols", F32, 1, -4, 0, ErrShape},
		{"no kernel", IQ2_XXS, 1, 256, 66, ErrUnsupportedType},
		{"unknown", Type(77), 1, 1, 1, ErrUnsupportedType},
		{"overflow", Q8_0, math.MaxInt / 1024, 1 << 20, 0, ErrShape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMatrix(c.t, c.rows, c.cols, make([]byte, c.size))
			wantErr := c.want != nil || c.name == "partial block"
			if wantErr != (err != nil) {
				t.Fatalf("err = %v", err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if err == nil && (len(m.Row(c.rows-1)) != c.size/c.rows || m.RowBytes() != c.size/c.rows) {
				t.Fatalf("row size %d, want %d", len(m.Row(0)), c.size/c.rows)
			}
		})
	}
}

// randMatrix builds a rows×cols matrix of typ from quantised Gaussians.
func randMatrix(t testing.TB, typ Type, rows, cols int, rng *rand.Rand) Matrix {
	t.Helper()
	var data []byte
	for range rows {
		data = append(data, quantizedRow(t, typ, randVec(rng, cols, 0.1))...)
	}
	m, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// matShape is (rows, cols) for typ: rows that every thread count splits
// differently, enough work for MatVec to go parallel, and for float types a
// width that is not a multiple of 16.
func matShape(typ Type) (rows, cols int) {
	if typ.BlockSize() == 1 {
		return 37, 1001
	}
	return 37, 1024
}

// TestMatVecThreadIndependence: MatVec and MatMul give bit-identical
// results for 1, 2, 3 and 4 threads, MatMul equals MatVec token by token,
// and every element equals the reference kernel.
func TestMatVecThreadIndependence(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	pools := map[int]*Pool{}
	for _, n := range []int{1, 2, 3, 4} {
		pools[n] = NewPool(n)
		defer pools[n].Close()
	}
	for _, typ := range kernelTypes {
		t.Run(typ.String(), func(t *testing.T) {
			rows, cols := matShape(typ)
			m := randMatrix(t, typ, rows, cols, rng)
			const ntok = 21
			x := randVec(rng, ntok*cols, 1)
			var base []float32
			for _, threads := range []int{1, 2, 3, 4} {
				p := pools[threads]
				mm := make([]float32, ntok*rows)
				p.MatMul(mm, m, x, ntok)
				for tok := range ntok {
					mv := make([]float32, rows)
					p.MatVec(mv, m, x[tok*cols:(tok+1)*cols])
					for r := range rows {
						if !sameFloat(mv[r], mm[tok*rows+r]) {
							t.Fatalf("threads=%d token %d row %d: MatVec %v, MatMul %v", threads, tok, r, mv[r], mm[tok*rows+r])
						}
					}
				}
				if base == nil {
					base = mm
					for tok := range ntok {
						a, err := quantizeAct(typ, x[tok*cols:(tok+1)*cols])
						if err != nil {
							t.Fatal(err)
						}
						for r := range rows {
							if want := refDot(typ, m.Row(r), &a); !sameFloat(want, mm[tok*rows+r]) {
								t.Fatalf("token %d row %d: %v, reference kernel %v", tok, r, mm[tok*rows+r], want)
							}
						}
					}
					continue
				}
				for i := range mm {
					if !sameFloat(mm[i], base[i]) {
						t.Fatalf("threads=%d element %d: %v, with 1 thread %v", threads, i, mm[i], base[i])
					}
				}
			}
		})
	}
}

// TestPoolConcurrentCallers shares one pool between goroutines running
// different matrices; each must get exactly its single-threaded result.
func TestPoolConcurrentCallers(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	p := NewPool(3)
	defer p.Close()
	one := NewPool(1)
	defer one.Close()
	types := []Type{Q4_0, Q8_0, F16, Q4_K, Q6_K, F32}
	type work struct {
		m    Matrix
		x    []float32
		want []float32
	}
	jobs := make([]work, len(types))
	for i, typ := range types {
		m := randMatrix(t, typ, 64, 512, rng)
		x := randVec(rng, 3*512, 1)
		want := make([]float32, 3*64)
		one.MatMul(want, m, x, 3)
		jobs[i] = work{m, x, want}
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(jobs))
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]float32, len(j.want))
			for range 20 {
				p.MatMul(got, j.m, j.x, 3)
				for i := range got {
					if !sameFloat(got[i], j.want[i]) {
						errs <- j.m.Type.String()
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for typ := range errs {
		t.Errorf("%s: concurrent result differs from single-threaded", typ)
	}
}

func TestPoolClosedStillWorks(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	m := randMatrix(t, Q8_0, 256, 512, rng)
	x := randVec(rng, 512, 1)
	p := NewPool(4)
	want := make([]float32, 256)
	p.MatVec(want, m, x)
	p.Close()
	p.Close()
	got := make([]float32, 256)
	p.MatVec(got, m, x)
	for i := range got {
		if !sameFloat(got[i], want[i]) {
			t.Fatalf("row %d: %v after Close, %v before", i, got[i], want[i])
		}
	}
	if NewPool(0).Threads() < 1 {
		t.Error("NewPool(0) has no threads")
	}
}

func TestMatVecBadShapesPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	m := randMatrix(t, Q4_0, 4, 64, rng)
	p := NewPool(2)
	defer p.Close()
	cases := map[string]func(){
		"short x":    func() { p.MatVec(make([]float32, 4), m, make([]float32, 63)) },
		"short dst":  func() { p.MatVec(make([]float32, 3), m, make([]float32, 64)) },
		"matmul n":   func() { p.MatMul(make([]float32, 8), m, make([]float32, 64), 2) },
		"negative n": func() { p.MatMul(nil, m, nil, -1) },
		"no kernel":  func() { p.MatVec(make([]float32, 1), Matrix{Type: IQ2_XXS, Rows: 1, Cols: 256}, make([]float32, 256)) },
		"truncated data": func() {
			p.MatVec(make([]float32, 4), Matrix{Type: Q4_0, Rows: 4, Cols: 64, Data: m.Data[:100]}, make([]float32, 64))
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
	p.MatMul(nil, m, nil, 0) // zero tokens: nothing to do
}

// TestMatMulTokenCounts: prefill through every tile path (token blocks of
// eight, tiles of 64 tokens, a lone token) equals the reference kernel.
func TestMatMulTokenCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	p := NewPool(2)
	defer p.Close()
	for _, typ := range []Type{Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q6_K, F16} {
		rows, cols := 19, 512
		m := randMatrix(t, typ, rows, cols, rng)
		for _, n := range []int{1, 2, 7, 8, 9, 17, 64, 70} {
			x := randVec(rng, n*cols, 1)
			dst := make([]float32, n*rows)
			p.MatMul(dst, m, x, n)
			for tok := range n {
				a, err := quantizeAct(typ, x[tok*cols:(tok+1)*cols])
				if err != nil {
					t.Fatal(err)
				}
				for r := range rows {
					if want := refDot(typ, m.Row(r), &a); !sameFloat(want, dst[tok*rows+r]) {
						t.Fatalf("%s n=%d token %d row %d: %v, reference %v", typ, n, tok, r, dst[tok*rows+r], want)
					}
				}
			}
		}
	}
}
