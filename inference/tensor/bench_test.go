package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchMatrix builds a rows×cols matrix of typ by tiling 64 quantised
// Gaussian rows (quantising millions of elements with the k-quant searches
// would dominate the benchmark's setup).
func benchMatrix(b *testing.B, typ Type, rows, cols int) Matrix {
	b.Helper()
	rng := rand.New(rand.NewPCG(51, 52))
	var tile []byte
	for range 64 {
		tile = append(tile, quantizedRow(b, typ, randVec(rng, cols, 0.05))...)
	}
	rb := len(tile) / 64
	data := make([]byte, rows*rb)
	for off := 0; off < len(data); off += len(tile) {
		copy(data[off:], tile)
	}
	m, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

var benchTypes = []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K}

// BenchmarkMatVec reports ns/op and, as MB/s, the weight bytes read per
// second, on all CPUs (NewPool(0)).
func BenchmarkMatVec(b *testing.B) {
	p := NewPool(0)
	defer p.Close()
	for _, typ := range benchTypes {
		for _, shape := range [][2]int{{2048, 2048}, {5632, 2048}} {
			rows, cols := shape[0], shape[1]
			b.Run(fmt.Sprintf("%s/%dx%d", typ, rows, cols), func(b *testing.B) {
				m := benchMatrix(b, typ, rows, cols)
				x := randVec(rand.New(rand.NewPCG(53, 54)), cols, 1)
				dst := make([]float32, rows)
				b.SetBytes(int64(len(m.Data)))
				b.ResetTimer()
				for b.Loop() {
					p.MatVec(dst, m, x)
				}
			})
		}
	}
}

// BenchmarkMatMul is prefill: 64 tokens against a 2048×2048 matrix, on one
// thread and on all.
func BenchmarkMatMul(b *testing.B) {
	const n = 64
	for _, threads := range []int{1, 0} {
		p := NewPool(threads)
		defer p.Close()
		for _, typ := range []Type{F16, Q8_0, Q4_0, Q4_K, Q6_K} {
			b.Run(fmt.Sprintf("%s/threads=%d", typ, p.Threads()), func(b *testing.B) {
				m := benchMatrix(b, typ, 2048, 2048)
				x := randVec(rand.New(rand.NewPCG(55, 56)), n*2048, 1)
				dst := make([]float32, n*2048)
				b.SetBytes(int64(len(m.Data)))
				b.ResetTimer()
				for b.Loop() {
					p.MatMul(dst, m, x, n)
				}
			})
		}
	}
}

func BenchmarkDotF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(57, 58))
	x, y := randVec(rng, 4096, 1), randVec(rng, 4096, 1)
	b.SetBytes(2 * 4 * 4096)
	var s float32
	for b.Loop() {
		s += DotF32(x, y)
	}
	_ = s
}

// BenchmarkKernel compares the kernel tiers on one thread: 64 rows of 2048
// (cache-resident, so this measures compute, not memory).
func BenchmarkKernel(b *testing.B) {
	const rows, cols = 64, 2048
	for _, typ := range benchTypes {
		m := benchMatrix(b, typ, rows, cols)
		x := randVec(rand.New(rand.NewPCG(59, 60)), cols, 1)
		a, err := quantizeAct(typ, x)
		if err != nil {
			b.Fatal(err)
		}
		for _, tier := range kernelTiers() {
			k := tier.kernels[typ]
			b.Run(fmt.Sprintf("%s/%s", typ, tier.name), func(b *testing.B) {
				b.SetBytes(int64(len(m.Data)))
				var s float32
				for b.Loop() {
					for r := range rows {
						s += k.dot(m.Row(r), &a)
					}
				}
				_ = s
			})
		}
	}
}
