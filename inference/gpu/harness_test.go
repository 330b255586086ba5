package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/oliverbestmann/webgpu/wgpu"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// harness is a probe that fails the test on errors.
type harness struct {
	t testing.TB
	p *probe
}

func newHarness(t testing.TB, d *Device, kmax int) *harness {
	t.Helper()
	p, err := newProbe(d, kmax)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return &harness{t: t, p: p}
}

func (h *harness) f32(x []float32, n int) *wgpu.Buffer {
	h.t.Helper()
	b, err := h.p.f32(x, n)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func (h *harness) matrix(typ tensor.Type, rows, cols int, data []byte) *matrix {
	h.t.Helper()
	m, err := h.p.matrix(typ, rows, cols, data)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) run(build func(b *builder), n, pos int, out *wgpu.Buffer, count int) []float32 {
	h.t.Helper()
	res, err := h.p.run(build, n, pos, out, count)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// randFloats returns n values uniform in ±scale with a few outliers, as
// activations have.
func randFloats(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(scale * (2*r.Float64() - 1))
		if r.IntN(50) == 0 {
			x[i] *= 8
		}
	}
	return x
}

// quantized returns rows × cols random weights encoded as typ.
func quantized(t testing.TB, r *rand.Rand, typ tensor.Type, rows, cols int) []byte {
	t.Helper()
	rb, err := typ.RowSize(int64(cols))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, rows*int(rb))
	for i := 0; i < rows; i++ {
		if err := tensor.QuantizeRow(typ, out[i*int(rb):(i+1)*int(rb)], randFloats(r, cols, 1/math.Sqrt(float64(cols)))); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
