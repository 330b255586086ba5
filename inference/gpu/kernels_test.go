package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Tolerances of the matrix kernels against the CPU's reference dot
// (tensor.DotRow), relative to Σ|w·x| of the row. The quantised formats
// share the CPU's activation quantisation and exact integer block sums, so
// only float rounding of block terms (and, rarely, a quant that rounds the
// other way after a 1-ulp different scale) separates them.
const (
	tolDotFloat = 1e-6
	tolDotQuant = 1e-5
)

func sortedFormats() []tensor.Type {
	var ts []tensor.Type
	for t := range formats {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// cpuMatmul is the CPU reference: y[t][r] = tensor.DotRow(row r, x[t]),
// with scale[t][r] = Σ|w·x| for relative errors.
func cpuMatmul(t testing.TB, typ tensor.Type, w []byte, rows, cols int, x []float32, n int) (y, scale []float32) {
	t.Helper()
	rb := len(w) / rows
	y, scale = make([]float32, n*rows), make([]float32, n*rows)
	row := make([]float32, cols)
	for r := 0; r < rows; r++ {
		if err := tensor.DequantizeRow(typ, row, w[r*rb:(r+1)*rb]); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < n; k++ {
			xs := x[k*cols : (k+1)*cols]
			v, err := tensor.DotRow(typ, w[r*rb:(r+1)*rb], xs)
			if err != nil {
				t.Fatal(err)
			}
			var s float64
			for j := range row {
				s += math.Abs(float64(row[j]) * float64(xs[j]))
			}
			y[k*rows+r], scale[k*rows+r] = v, float32(s)
		}
	}
	return y, scale
}

// gpuMatmul runs y = W·x (+ y0 when acc) for n tokens through the builder's
// quantise + matrix ops.
func gpuMatmul(h *harness, m *matrix, x []float32, n int, y0 []float32) []float32 {
	h.t.Helper()
	y, err := h.p.matmul(m, x, n, y0)
	if err != nil {
		h.t.Fatal(err)
	}
	return y
}

func maxRelErr(got, want, scale []float32) float64 {
	var worst float64
	for i := range got {
		e := math.Abs(float64(got[i])-float64(want[i])) / (float64(scale[i]) + 1e-30)
		if math.IsNaN(e) || math.IsNaN(float64(got[i])) {
			return math.Inf(1)
		}
		worst = math.Max(worst, e)
	}
	return worst
}

func tolFor(typ tensor.Type) float64 {
	if formats[typ].act == actF32 {
		return tolDotFloat
	}
	return tolDotQuant
}

// TestMatmulMatchesCPU compares every format's matrix kernels (decode and
// batched, with and without accumulation) with the CPU reference dot on
// random weights and activations.
func TestMatmulMatchesCPU(t *testing.T) {
	d := testDevice(t)
	const rows, cols = 37, 512
	r := rand.New(rand.NewPCG(1, 2))
	for _, typ := range sortedFormats() {
		t.Run(typ.String(), func(t *testing.T) {
			h := newHarness(t, d, cols)
			w := quantized(t, r, typ, rows, cols)
			m := h.matrix(typ, rows, cols, w)
			for _, n := range []int{1, 11} {
				x := randFloats(r, n*cols, 1)
				want, scale := cpuMatmul(t, typ, w, rows, cols, x, n)
				got := gpuMatmul(h, m, x, n, nil)
				e := maxRelErr(got, want, scale)
				t.Logf("n=%d: max relative error %.2e", n, e)
				if e > tolFor(typ) {
					t.Errorf("n=%d: max relative error %.2e over %.0e", n, e, tolFor(typ))
				}
			}
			// Accumulating adds to what the output holds.
			x := randFloats(r, cols, 1)
			y0 := randFloats(r, rows, 1)
			want, scale := cpuMatmul(t, typ, w, rows, cols, x, 1)
			got := gpuMatmul(h, m, x, 1, y0)
			for i := range want {
				want[i] += y0[i]
				scale[i] += float32(math.Abs(float64(y0[i])))
			}
			if e := maxRelErr(got, want, scale); e > tolFor(typ) {
				t.Errorf("accumulate: max relative error %.2e", e)
			}
		})
	}
}

// TestMatmulRealTensors runs the kernels on weights of the shared models
// (Q8_0, F32 with 172 columns, F16 with 8 columns and 32000 rows).
func TestMatmulRealTensors(t *testing.T) {
	d := testDevice(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ file, tensor string }{
		{testmodels.TinyStoriesQ8, "blk.1.ffn_down.weight"},
		{testmodels.TinyStoriesQ8, "token_embd.weight"},
		{testmodels.Stories260K, "blk.0.ffn_down.weight"},
		{testmodels.Stories260K, "blk.2.attn_q.weight"},
		{testmodels.TinyRandom, "output.weight"},
	} {
		t.Run(c.file+"/"+c.tensor, func(t *testing.T) {
			m, err := model.Open(testmodels.Path(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ti, data, err := m.File.TensorData(c.tensor)
			if err != nil {
				t.Fatal(err)
			}
			cols, rows := int(ti.Dims[0]), int(ti.Dims[1])
			h := newHarness(t, d, cols)
			mat := h.matrix(ti.Type, rows, cols, data)
			n := 3
			x := randFloats(r, n*cols, 1)
			want, scale := cpuMatmul(t, ti.Type, data, rows, cols, x, n)
			got := gpuMatmul(h, mat, x, n, nil)
			e := maxRelErr(got, want, scale)
			t.Logf("%s %dx%d: max relative error %.2e", ti.Type, rows, cols, e)
			if e > tolFor(ti.Type) {
				t.Errorf("max relative error %.2e over %.0e", e, tolFor(ti.Type))
			}
		})
	}
}

// TestSplitMatrices forces tiny bindings so weights split into many
// buffers: results must not change by a bit.
func TestSplitMatrices(t *testing.T) {
	whole := testDevice(t)
	split := openDevice(t, Options{MaxBinding: 4096})
	const rows, cols = 45, 768
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []tensor.Type{tensor.F16, tensor.Q8_0, tensor.Q4_K, tensor.Q6_K} {
		t.Run(typ.String(), func(t *testing.T) {
			w := quantized(t, r, typ, rows, cols)
			x := randFloats(r, 2*cols, 1)
			var res [][]float32
			for _, d := range []*Device{whole, split} {
				h := newHarness(t, d, cols)
				m := h.matrix(typ, rows, cols, w)
				if d == split && len(m.parts) < 3 {
					t.Fatalf("%d parts with a 4 KiB binding limit", len(m.parts))
				}
				res = append(res, gpuMatmul(h, m, x, 2, nil))
			}
			if !slices.Equal(res[0], res[1]) {
				t.Fatal("split matrix gives different results")
			}
		})
	}
}

// TestDequantMatchesCPU compares the embedding lookup (row dequantisation)
// of every format with tensor.DequantizeRow.
func TestDequantMatchesCPU(t *testing.T) {
	d := testDevice(t)
	const rows, cols = 9, 512
	r := rand.New(rand.NewPCG(7, 8))
	for _, typ := range sortedFormats() {
		t.Run(typ.String(), func(t *testing.T) {
			h := newHarness(t, d, cols)
			w := quantized(t, r, typ, rows, cols)
			m := h.matrix(typ, rows, cols, w)
			ids := []int32{3, 0, 8, 3, 5}
			got := h.getRows(m, ids)
			rb := len(w) / rows
			want := make([]float32, len(ids)*cols)
			for i, id := range ids {
				if err := tensor.DequantizeRow(typ, want[i*cols:(i+1)*cols], w[int(id)*rb:(int(id)+1)*rb]); err != nil {
					t.Fatal(err)
				}
			}
			var worst float64
			diff := 0
			for i := range want {
				if got[i] != want[i] {
					diff++
					worst = math.Max(worst, math.Abs(float64(got[i]-want[i]))/math.Max(1e-30, math.Abs(float64(want[i]))))
				}
			}
			t.Logf("%d of %d values differ, max relative %.2e", diff, len(want), worst)
			// Exact but for a possible fused multiply-add in d·sc·q − m.
			if worst > 1e-6 {
				t.Errorf("dequantised values differ by up to %.2e relative", worst)
			}
		})
	}
}

// getRows dequantises rows ids of m on the device.
func (h *harness) getRows(m *matrix, ids []int32) []float32 {
	h.t.Helper()
	idf := make([]float32, len(ids))
	for i, id := range ids {
		idf[i] = math.Float32frombits(uint32(id))
	}
	idBuf := h.f32(idf, 0)
	out := h.f32(nil, len(ids)*m.cols)
	return h.run(func(b *builder) {
		for _, part := range m.parts {
			b.simple("get_rows:"+m.typ.String(), params(part.rows, m.cols, m.rowBytes, part.row0, m.cols),
				func(n int, _ bool) (uint32, uint32, uint32) { return uint32(ceilDiv(m.cols, 64)), uint32(n), 1 },
				part.buf, idBuf, out)
		}
	}, len(ids), 0, out, len(ids)*m.cols)
}

// TestQuantizeMatchesCPU checks the activation quantisers against the
// CPU's through a matrix product on weights that isolate them: an identity
// Q8_0 row picks single elements, so any quant that rounds differently
// shows.
func TestQuantizeMatchesCPU(t *testing.T) {
	d := testDevice(t)
	const cols = 256
	r := rand.New(rand.NewPCG(9, 10))
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q4_1, tensor.Q6_K} {
		t.Run(typ.String(), func(t *testing.T) {
			h := newHarness(t, d, cols)
			// Row j is the unit vector e_j.
			rows := cols
			rb, _ := typ.RowSize(cols)
			w := make([]byte, rows*int(rb))
			unit := make([]float32, cols)
			for j := 0; j < rows; j++ {
				clear(unit)
				unit[j] = 1
				if err := tensor.QuantizeRow(typ, w[j*int(rb):(j+1)*int(rb)], unit); err != nil {
					t.Fatal(err)
				}
			}
			m := h.matrix(typ, rows, cols, w)
			for trial := 0; trial < 3; trial++ {
				x := randFloats(r, cols, math.Pow(10, float64(trial-1)))
				want, _ := cpuMatmul(t, typ, w, rows, cols, x, 1)
				got := gpuMatmul(h, m, x, 1, nil)
				bad := 0
				for i := range want {
					if math.Abs(float64(got[i]-want[i])) > 1e-6*math.Abs(float64(want[i]))+1e-30 {
						bad++
					}
				}
				// WGSL division may be 2.5 ulp off, which can move a quant
				// sitting on a rounding boundary; lavapipe matches exactly.
				if bad > 2 {
					t.Errorf("trial %d: %d of %d quantised activations differ from the CPU's", trial, bad, cols)
				} else if bad > 0 {
					t.Logf("trial %d: %d quantised activations round differently", trial, bad)
				}
			}
		})
	}
}

// refRMSNorm mirrors inference/model's rmsnorm (float64 sum of squares).
func refRMSNorm(o, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(float32(v * v))
	}
	scale := 1 / float32(math.Sqrt(float64(float32(sum/float64(len(x)))+eps)))
	for i, v := range x {
		o[i] = float32(v*scale) * w[i]
	}
}

// TestRMSNorm checks RMSNorm against the CPU's arithmetic: bit for bit with
// the float64 sum (shader-f64); within an ulp or two with the f32 two-sum
// fallback (its f32 sqrt and division need not round as the CPU's float64
// ones do).
func TestRMSNorm(t *testing.T) {
	devs := map[string]*Device{"f64": testDevice(t), "two-sum": openDevice(t, Options{NoF64: true})}
	if !devs["f64"].f64 {
		delete(devs, "f64")
	}
	r := rand.New(rand.NewPCG(11, 12))
	for dname, d := range devs {
		for _, dim := range []int{64, 172, 2048} {
			t.Run(fmt.Sprintf("%s/%d", dname, dim), func(t *testing.T) {
				h := newHarness(t, d, 256)
				const n = 5
				x, w := randFloats(r, n*dim, 2), randFloats(r, dim, 1)
				xs, ws, os := h.f32(x, 0), h.f32(w, 0), h.f32(nil, n*dim)
				for _, last := range []bool{false, true} {
					got := h.run(func(b *builder) {
						b.simple("rmsnorm", params(dim, 0, dim, 0, dim, last, float32(1e-5)),
							func(n int, _ bool) (uint32, uint32, uint32) {
								if last {
									return 1, 1, 1
								}
								return uint32(n), 1, 1
							}, xs, ws, os)
					}, n, 0, os, n*dim)
					want := make([]float32, n*dim)
					for k := 0; k < n; k++ {
						refRMSNorm(want[k*dim:(k+1)*dim], x[k*dim:(k+1)*dim], w, 1e-5)
					}
					if last {
						want, got = want[(n-1)*dim:], got[:dim]
					}
					switch e := maxAbsRel(got, want); {
					case dname == "f64" && !slices.Equal(got, want):
						t.Errorf("last=%v: differs from the CPU's (max relative %.2e)", last, e)
					case e > 1e-6:
						t.Errorf("last=%v: max relative error %.2e", last, e)
					}
				}
			})
		}
	}
}

// TestFallbackPaths runs the kernels without shader-f16, dot4I8Packed and
// shader-f64: the results are the same bits.
func TestFallbackPaths(t *testing.T) {
	fast := testDevice(t)
	plain := openDevice(t, Options{NoF16: true, NoPackedDot: true, NoF64: true})
	if plain.f16 || plain.packedDot || plain.f64 {
		t.Fatal("options did not disable the optional paths")
	}
	const rows, cols = 19, 512
	r := rand.New(rand.NewPCG(19, 20))
	for _, typ := range []tensor.Type{tensor.F16, tensor.Q4_0, tensor.Q4_K} {
		t.Run(typ.String(), func(t *testing.T) {
			w := quantized(t, r, typ, rows, cols)
			x := randFloats(r, 3*cols, 1)
			var res [][]float32
			for _, d := range []*Device{fast, plain} {
				h := newHarness(t, d, cols)
				res = append(res, gpuMatmul(h, h.matrix(typ, rows, cols, w), x, 3, nil))
			}
			if !slices.Equal(res[0], res[1]) {
				t.Fatal("fallback path gives different results")
			}
		})
	}
}

func TestSelfTest(t *testing.T) {
	res, err := SelfTest(testDevice(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) < 6 {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		t.Logf("%s: %.2e", r.Type, r.MaxRelErr)
	}
}

// maxAbsRel is max |got-want| / max(1, |want|) over the slices.
func maxAbsRel(got, want []float32) float64 {
	var worst float64
	for i := range want {
		e := math.Abs(float64(got[i])-float64(want[i])) / math.Max(1, math.Abs(float64(want[i])))
		if math.IsNaN(float64(got[i])) {
			return math.Inf(1)
		}
		worst = math.Max(worst, e)
	}
	return worst
}

func TestSwiGLU(t *testing.T) {
	d := testDevice(t)
	h := newHarness(t, d, 256)
	r := rand.New(rand.NewPCG(13, 14))
	const ffn, n = 172, 4
	g, u := randFloats(r, n*ffn, 4), randFloats(r, n*ffn, 2)
	gs, us := h.f32(g, 0), h.f32(u, 0)
	got := h.run(func(b *builder) { b.simple("swiglu", params(ffn), elementwise(ffn), gs, us) }, n, 0, gs, n*ffn)
	want := make([]float32, len(g))
	for i, v := range g {
		want[i] = v / float32(1+math.Exp(float64(-v))) * u[i]
	}
	if e := maxAbsRel(got, want); e > 1e-6 {
		t.Errorf("max relative error %.2e", e)
	}
}
