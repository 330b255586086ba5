package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/oliverbestmann/webgpu/wgpu"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// harness runs single kernels outside a stage: a bare session holding the
// quantised-activation buffers, the step uniform and the parameter buffer
// the builder binds.
type harness struct {
	t testing.TB
	d *Device
	s *Session
}

func newHarness(t testing.TB, d *Device, kmax int) *harness {
	t.Helper()
	s := &Session{st: &Stage{dev: d}, kmax: roundUp(kmax, 256)}
	h := &harness{t: t, d: d, s: s}
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	for _, b := range []struct {
		dst   **wgpu.Buffer
		words int
		usage wgpu.BufferUsage
	}{
		{&s.xq8, MaxBatch*s.kmax/4 + 3*MaxBatch*s.kmax/32, usageStorage},
		{&s.xq8k, MaxBatch*s.kmax/4 + MaxBatch*s.kmax/256 + MaxBatch*s.kmax/16, usageStorage},
		{&s.step, 4, usageUniform},
	} {
		if *b.dst, err = d.buffer("harness", uint64(4*b.words), b.usage); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		s.release()
	})
	return h
}

// f32 returns a storage buffer holding x (or n zeros when x is nil).
func (h *harness) f32(x []float32, n int) *wgpu.Buffer {
	h.t.Helper()
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	if x == nil {
		x = make([]float32, n)
	}
	b, err := h.d.uploadF32("harness", x)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(b.Release)
	return b
}

// matrix uploads a weight.
func (h *harness) matrix(typ tensor.Type, rows, cols int, data []byte) *matrix {
	h.t.Helper()
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	m, err := h.d.uploadMatrix("w", typ, rows, cols, data)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(m.release)
	return m
}

// run assembles ops with build, runs them for a batch of n tokens at pos
// and returns the first count floats of out.
func (h *harness) run(build func(b *builder), n, pos int, out *wgpu.Buffer, count int) []float32 {
	h.t.Helper()
	d := h.d
	d.mu.Lock()
	defer d.mu.Unlock()
	ops, err := h.s.compile(build)
	if err != nil {
		h.t.Fatal(err)
	}
	defer func() {
		for _, o := range ops {
			for _, v := range o.v {
				if v.bg != nil {
					v.bg.Release()
				}
			}
		}
	}()
	if err := d.queue.TryWriteBuffer(h.s.step, 0, params(n, pos)); err != nil {
		h.t.Fatal(err)
	}
	rb, err := d.buffer("readback", uint64(4*count), usageReadback)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rb.Release()
	raw := make([]byte, 4*count)
	if err := d.submit(ops, n, out, rb, raw); err != nil {
		h.t.Fatal(err)
	}
	res := make([]float32, count)
	bytesF32(res, raw)
	return res
}

// write replaces the contents of buf with x.
func (h *harness) write(buf *wgpu.Buffer, x []float32) {
	h.t.Helper()
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	if err := h.d.write(buf, 0, f32Bytes(x)); err != nil {
		h.t.Fatal(err)
	}
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
