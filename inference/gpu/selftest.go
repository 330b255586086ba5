package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/oliverbestmann/webgpu/wgpu"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// probe runs single kernels outside a stage: a bare session holding the
// quantised-activation buffers, the step uniform and the parameter buffer
// the builder binds, plus the buffers it made. Self-tests and the kernel
// tests use it.
type probe struct {
	d    *Device
	s    *Session
	bufs []*wgpu.Buffer
	mats []*matrix
}

func newProbe(d *Device, kmax int) (*probe, error) {
	s := &Session{st: &Stage{dev: d}, kmax: roundUp(kmax, 256)}
	p := &probe{d: d, s: s}
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
		if *b.dst, err = d.buffer("probe", uint64(4*b.words), b.usage); err != nil {
			s.release()
			return nil, err
		}
	}
	return p, nil
}

func (p *probe) close() {
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	for _, b := range p.bufs {
		b.Release()
	}
	for _, m := range p.mats {
		m.release()
	}
	p.s.release()
}

// f32 returns a storage buffer holding x (or n zeros when x is nil).
func (p *probe) f32(x []float32, n int) (*wgpu.Buffer, error) {
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	if x == nil {
		x = make([]float32, n)
	}
	b, err := p.d.uploadF32("probe", x)
	if err == nil {
		p.bufs = append(p.bufs, b)
	}
	return b, err
}

// matrix uploads a weight.
func (p *probe) matrix(typ tensor.Type, rows, cols int, data []byte) (*matrix, error) {
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	m, err := p.d.uploadMatrix("probe", typ, rows, cols, data)
	if err == nil {
		p.mats = append(p.mats, m)
	}
	return m, err
}

// run assembles ops with build, runs them for a batch of n tokens at pos
// and returns the first count floats of out.
func (p *probe) run(build func(b *builder), n, pos int, out *wgpu.Buffer, count int) ([]float32, error) {
	d := p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	ops, err := p.s.compile(build)
	if err != nil {
		return nil, err
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
	if err := d.queue.TryWriteBuffer(p.s.step, 0, params(n, pos)); err != nil {
		return nil, err
	}
	rb, err := d.buffer("readback", uint64(4*count), usageReadback)
	if err != nil {
		return nil, err
	}
	defer rb.Release()
	raw := make([]byte, 4*count)
	if err := d.submit(ops, n, out, rb, raw); err != nil {
		return nil, err
	}
	res := make([]float32, count)
	bytesF32(res, raw)
	return res, nil
}

// matmul runs y = W·x for n tokens of x through the quantise and matrix
// kernels.
func (p *probe) matmul(m *matrix, x []float32, n int, y0 []float32) ([]float32, error) {
	xs, err := p.f32(x, 0)
	if err != nil {
		return nil, err
	}
	ys, err := p.f32(y0, n*m.rows)
	if err != nil {
		return nil, err
	}
	return p.run(func(b *builder) { b.matmul(m, xs, ys, m.rows, y0 != nil, 0) }, n, 0, ys, n*m.rows)
}

// SelfTestResult is one format's outcome of SelfTest.
type SelfTestResult struct {
	Type tensor.Type `json:"type"`
	// MaxRelErr is the largest |GPU - CPU| of a product over Σ|w·x|.
	MaxRelErr float64 `json:"max_rel_err"`
}

// selfTestTolerance bounds MaxRelErr: the kernels reproduce the CPU's
// integer sums and float order, so anything beyond rounding is a fault.
const selfTestTolerance = 1e-5

// SelfTest runs matrix products of random weights in several formats on
// the device and compares them with the CPU engine's. It fails when a
// result is off by more than rounding (a driver or shader fault).
func SelfTest(d *Device) ([]SelfTestResult, error) {
	const rows, cols, n = 48, 512, 3
	p, err := newProbe(d, cols)
	if err != nil {
		return nil, err
	}
	defer p.close()
	r := rand.New(rand.NewPCG(1, 1))
	var out []SelfTestResult
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.Q8_0, tensor.Q4_0, tensor.Q4_K, tensor.Q6_K} {
		rb, _ := typ.RowSize(cols)
		w := make([]byte, rows*int(rb))
		row := make([]float32, cols)
		for i := 0; i < rows; i++ {
			for j := range row {
				row[j] = float32(r.NormFloat64() / math.Sqrt(cols))
			}
			if err := tensor.QuantizeRow(typ, w[i*int(rb):(i+1)*int(rb)], row); err != nil {
				return out, err
			}
		}
		x := make([]float32, n*cols)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		m, err := p.matrix(typ, rows, cols, w)
		if err != nil {
			return out, err
		}
		got, err := p.matmul(m, x, n, nil)
		if err != nil {
			return out, fmt.Errorf("gpu self-test %s: %w", typ, err)
		}
		res := SelfTestResult{Type: typ}
		for i := 0; i < rows; i++ {
			if err := tensor.DequantizeRow(typ, row, w[i*int(rb):(i+1)*int(rb)]); err != nil {
				return out, err
			}
			for t := 0; t < n; t++ {
				xt := x[t*cols : (t+1)*cols]
				want, err := tensor.DotRow(typ, w[i*int(rb):(i+1)*int(rb)], xt)
				if err != nil {
					return out, err
				}
				var scale float64
				for j := range row {
					scale += math.Abs(float64(row[j]) * float64(xt[j]))
				}
				e := math.Abs(float64(got[t*rows+i])-float64(want)) / (scale + 1e-30)
				if math.IsNaN(e) || math.IsNaN(float64(got[t*rows+i])) {
					e = math.Inf(1)
				}
				res.MaxRelErr = math.Max(res.MaxRelErr, e)
			}
		}
		out = append(out, res)
		if res.MaxRelErr > selfTestTolerance {
			return out, fmt.Errorf("gpu self-test %s: relative error %.2e (want ≤ %.0e): the device computes wrong results", typ, res.MaxRelErr, selfTestTolerance)
		}
	}
	return out, nil
}
