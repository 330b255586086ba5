package gpu

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/oliverbestmann/webgpu/wgpu"

	"github.com/hearth-p2p/hearth/inference/kvcache"
	"github.com/hearth-p2p/hearth/inference/model"
)

// MaxBatch is the most positions one submission evaluates; longer batches
// (prompts) run as several submissions of this size, like llama.cpp's
// micro-batches.
const MaxBatch = 128

// initialCache is the KV capacity a session starts with (it doubles on
// demand up to the session's maximum context).
const initialCache = 256

// Session is one conversation's state in a GPU stage: its KV cache and
// working buffers, all on the device. It satisfies model.Forwarder with
// the same contract as model.Session. A Session is not safe for concurrent
// use; sessions of one device may run concurrently (their submissions are
// serialised).
type Session struct {
	st     *Stage
	maxCtx int
	n      int // positions cached
	cap    int // positions the cache buffers hold
	kmax   int // widest activation row (quantised buffers' stride)

	kc, vc                    []*wgpu.Buffer // per layer (cap × kvDim)
	x, xn, q, k, v, att, g, u *wgpu.Buffer   // (MaxBatch × width) f32
	xq8, xq8k                 *wgpu.Buffer   // quantised activations
	ids, rope, logits         *wgpu.Buffer
	step, paramBuf, readback  *wgpu.Buffer

	prog     []op
	ropeHost []float32
	rb       []byte    // readback bytes
	out      []float32 // returned by Forward
	closed   bool
}

// actLayout places quantised activations in their buffer (in words).
type actLayout struct {
	xStride, dOff, dStride, sOff, sumOff, gOff, gStride int
}

// q8Layout: qs (MaxBatch × kmax/4), then d, s and Σq per 32-block.
func (s *Session) q8Layout() actLayout {
	qs, blocks := MaxBatch*s.kmax/4, MaxBatch*s.kmax/32
	return actLayout{xStride: s.kmax / 4, dOff: qs, dStride: s.kmax / 32, sOff: qs + blocks, sumOff: qs + 2*blocks}
}

// q8kLayout: qs, then d per super-block and Σq per 16 elements.
func (s *Session) q8kLayout() actLayout {
	qs, blocks := MaxBatch*s.kmax/4, MaxBatch*s.kmax/256
	return actLayout{xStride: s.kmax / 4, dOff: qs, dStride: s.kmax / 256, gOff: qs + blocks, gStride: s.kmax / 16}
}

// NewSession starts a session that can hold up to maxCtx positions (0: the
// model's training context). The KV cache grows on the device as needed.
func (st *Stage) NewSession(maxCtx int) (*Session, error) {
	m, d := st.m, st.dev
	if maxCtx <= 0 {
		maxCtx = m.ContextLen
	}
	kvDim := m.KVDim()
	if limit := int(d.maxBinding / uint64(4*kvDim)); maxCtx > limit {
		return nil, fmt.Errorf("gpu session: context %d needs %d-byte cache buffers, over the device's %d-byte binding limit (at most %d positions)",
			maxCtx, 4*kvDim*maxCtx, d.maxBinding, limit)
	}
	qDim := m.Heads * m.HeadDim
	s := &Session{st: st, maxCtx: maxCtx, kmax: roundUp(max(m.Dim, qDim, m.FFN), 256)}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.Err(); err != nil {
		return nil, err
	}
	if err := s.alloc(); err != nil {
		s.release()
		return nil, err
	}
	if err := s.grow(min(maxCtx, initialCache)); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

func roundUp(n, k int) int { return (n + k - 1) / k * k }

// alloc creates the working buffers. The caller holds the device lock.
func (s *Session) alloc() error {
	st, m, d := s.st, s.st.m, s.st.dev
	qDim, kvDim := m.Heads*m.HeadDim, m.KVDim()
	var err error
	f32s := func(label string, n int) *wgpu.Buffer {
		if err != nil {
			return nil
		}
		var b *wgpu.Buffer
		b, err = d.buffer(label, uint64(4*n), usageStorage)
		return b
	}
	s.x = f32s("x", MaxBatch*m.Dim)
	s.xn = f32s("xn", MaxBatch*m.Dim)
	s.q = f32s("q", MaxBatch*qDim)
	s.k = f32s("k", MaxBatch*kvDim)
	s.v = f32s("v", MaxBatch*kvDim)
	s.att = f32s("att", MaxBatch*qDim)
	s.g = f32s("g", MaxBatch*m.FFN)
	s.u = f32s("u", MaxBatch*m.FFN)
	s.rope = f32s("rope", MaxBatch*m.RopeDims)
	s.ids = f32s("ids", MaxBatch)
	s.xq8 = f32s("xq8", MaxBatch*s.kmax/4+3*MaxBatch*s.kmax/32)
	s.xq8k = f32s("xq8k", MaxBatch*s.kmax/4+MaxBatch*s.kmax/256+MaxBatch*s.kmax/16)
	outFloats := MaxBatch * m.Dim
	if st.IsLast() {
		s.logits = f32s("logits", m.Vocab)
		outFloats = m.Vocab
	}
	if err != nil {
		return err
	}
	if s.step, err = d.buffer("step", 16, usageUniform); err != nil {
		return err
	}
	if s.readback, err = d.buffer("readback", uint64(4*outFloats), usageReadback); err != nil {
		return err
	}
	s.ropeHost = make([]float32, MaxBatch*m.RopeDims)
	return nil
}

// grow makes the KV cache hold at least need positions, copying what it
// holds, and rebuilds the program. The caller holds the device lock.
func (s *Session) grow(need int) error {
	if need <= s.cap {
		return nil
	}
	d, kvDim := s.st.dev, s.st.m.KVDim()
	capacity := min(s.maxCtx, max(need, 2*s.cap))
	kc := make([]*wgpu.Buffer, len(s.st.layers))
	vc := make([]*wgpu.Buffer, len(s.st.layers))
	fail := func(err error) error {
		for i := range kc {
			if kc[i] != nil {
				kc[i].Release()
			}
			if vc[i] != nil {
				vc[i].Release()
			}
		}
		return err
	}
	enc, err := d.dev.TryCreateCommandEncoder(nil)
	if err != nil {
		return fail(fmt.Errorf("gpu: grow cache: %w", err))
	}
	defer enc.Release()
	for i := range kc {
		if kc[i], err = d.buffer(fmt.Sprintf("k%d", i), uint64(4*capacity*kvDim), usageStorage); err != nil {
			return fail(err)
		}
		if vc[i], err = d.buffer(fmt.Sprintf("v%d", i), uint64(4*capacity*kvDim), usageStorage); err != nil {
			return fail(err)
		}
		if s.n > 0 {
			size := uint64(4 * s.n * kvDim)
			if err := enc.TryCopyBufferToBuffer(s.kc[i], 0, kc[i], 0, size); err != nil {
				return fail(fmt.Errorf("gpu: grow cache: %w", err))
			}
			if err := enc.TryCopyBufferToBuffer(s.vc[i], 0, vc[i], 0, size); err != nil {
				return fail(fmt.Errorf("gpu: grow cache: %w", err))
			}
		}
	}
	cmd, err := enc.TryFinish(nil)
	if err != nil {
		return fail(fmt.Errorf("gpu: grow cache: %w", err))
	}
	d.queue.Submit(cmd)
	cmd.Release()
	d.dev.Poll(true, nil)
	oldK, oldV, oldCap := s.kc, s.vc, s.cap
	s.kc, s.vc, s.cap = kc, vc, capacity
	if err := s.build(); err != nil {
		s.kc, s.vc, s.cap = oldK, oldV, oldCap
		return fail(err)
	}
	for i := range oldK {
		oldK[i].Release()
		oldV[i].Release()
	}
	return nil
}

// Len is the number of positions in the session's cache.
func (s *Session) Len() int { return s.n }

// MaxContext is the most positions the session can hold.
func (s *Session) MaxContext() int { return s.maxCtx }

// CacheBytes is the device memory the session's KV cache holds.
func (s *Session) CacheBytes() int64 {
	return int64(2*len(s.st.layers)) * int64(s.cap) * int64(4*s.st.m.KVDim())
}

// Truncate forgets positions at and after n.
func (s *Session) Truncate(n int) error {
	if n < 0 || n > s.n {
		return fmt.Errorf("gpu session: truncate to %d, have %d positions", n, s.n)
	}
	s.n = n
	return nil
}

// Close releases the session's device memory.
func (s *Session) Close() {
	d := s.st.dev
	d.mu.Lock()
	defer d.mu.Unlock()
	s.release()
}

func (s *Session) release() {
	s.releaseProgram()
	for _, b := range append(append([]*wgpu.Buffer{}, s.kc...), s.vc...) {
		b.Release()
	}
	s.kc, s.vc = nil, nil
	for _, b := range []*wgpu.Buffer{s.x, s.xn, s.q, s.k, s.v, s.att, s.g, s.u, s.xq8, s.xq8k,
		s.ids, s.rope, s.logits, s.step, s.paramBuf, s.readback} {
		if b != nil {
			b.Release()
		}
	}
	s.x, s.xn, s.q, s.k, s.v, s.att, s.g, s.u, s.xq8, s.xq8k = nil, nil, nil, nil, nil, nil, nil, nil, nil, nil
	s.ids, s.rope, s.logits, s.step, s.paramBuf, s.readback = nil, nil, nil, nil, nil, nil
	s.n, s.cap, s.closed = 0, 0, true
}

func (s *Session) releaseProgram() {
	for _, o := range s.prog {
		for _, v := range o.v {
			if v.bg != nil {
				v.bg.Release()
			}
		}
	}
	s.prog = nil
}

// Forward runs a batch of n positions starting at pos through the stage,
// exactly as model.Session.Forward: the first stage takes tokens (n ids),
// later stages hidden (n × Dim floats); pos below Len truncates the cache
// first, pos above it is an error. It returns n × Dim hidden states, or for
// the last stage the last position's logits (Vocab floats). The returned
// slice is owned by the session and valid until its next call.
//
// Each batch of up to MaxBatch positions is one submission: the whole layer
// range runs on the device between the input upload and the readback.
func (s *Session) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	if s.closed {
		return nil, fmt.Errorf("gpu session: closed")
	}
	n, err := s.checkInput(pos, tokens, hidden)
	if err != nil {
		return nil, err
	}
	if pos+n > s.maxCtx {
		return nil, fmt.Errorf("%w: %d positions needed, limit %d", kvcache.ErrFull, pos+n, s.maxCtx)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, d := s.st.m, s.st.dev
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.Err(); err != nil {
		return nil, err
	}
	if pos < s.n {
		s.n = pos // as the CPU stage: a failed call leaves the cache truncated
	}
	if err := s.grow(pos + n); err != nil {
		return nil, err
	}
	outLen := n * m.Dim
	if s.st.IsLast() {
		outLen = m.Vocab
	}
	if cap(s.out) < outLen {
		s.out = make([]float32, outLen)
	}
	out := s.out[:outLen]
	for c := 0; c < n; c += MaxBatch {
		if c > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		b := min(MaxBatch, n-c)
		var tok []int32
		var hid []float32
		if s.st.IsFirst() {
			tok = tokens[c : c+b]
		} else {
			hid = hidden[c*m.Dim : (c+b)*m.Dim]
		}
		dst := out
		if !s.st.IsLast() {
			dst = out[c*m.Dim : (c+b)*m.Dim]
		}
		if err := s.run(pos+c, b, tok, hid, dst); err != nil {
			return nil, err
		}
	}
	s.n = pos + n
	return out, nil
}

// run evaluates one submission of n ≤ MaxBatch positions and reads its
// output into dst. The caller holds the device lock.
func (s *Session) run(pos, n int, tokens []int32, hidden, dst []float32) error {
	st, m, d := s.st, s.st.m, s.st.dev
	if err := d.queue.TryWriteBuffer(s.step, 0, params(n, pos)); err != nil {
		return fmt.Errorf("gpu: write step: %w", err)
	}
	cs := s.ropeHost[:n*m.RopeDims]
	st.rope.fill(cs, pos, n)
	if err := d.write(s.rope, 0, f32Bytes(cs)); err != nil {
		return err
	}
	if st.IsFirst() {
		ids := make([]byte, 4*n)
		for i, id := range tokens {
			binary.LittleEndian.PutUint32(ids[4*i:], uint32(id))
		}
		if err := d.write(s.ids, 0, ids); err != nil {
			return err
		}
	} else if err := d.write(s.x, 0, f32Bytes(hidden)); err != nil {
		return err
	}
	src := s.x
	if st.IsLast() {
		src = s.logits
	}
	if cap(s.rb) < len(dst)*4 {
		s.rb = make([]byte, len(dst)*4)
	}
	rb := s.rb[:len(dst)*4]
	if err := d.submit(s.prog, n, src, s.readback, rb); err != nil {
		return err
	}
	bytesF32(dst, rb)
	return nil
}

// submit records ops for a batch of n tokens into one compute pass, copies
// the first len(out) bytes of src to readback, submits, and reads them into
// out. The caller holds d.mu and has written the step uniform and inputs.
func (d *Device) submit(ops []op, n int, src, readback *wgpu.Buffer, out []byte) error {
	enc, err := d.dev.TryCreateCommandEncoder(nil)
	if err != nil {
		return fmt.Errorf("gpu: encoder: %w", err)
	}
	defer enc.Release()
	pass := enc.BeginComputePass(nil)
	for _, o := range ops {
		k := n
		if o.fixed > 0 {
			k = o.fixed
		}
		batched := k > 1 && o.v[1].k != nil
		v := o.v[0]
		if batched {
			v = o.v[1]
		}
		x, y, z := o.groups(k, batched)
		pass.SetPipeline(v.k.pipe)
		pass.SetBindGroup(0, v.bg, nil)
		pass.DispatchWorkgroups(x, y, z)
	}
	err = pass.TryEnd()
	pass.Release() // before Finish (gfx-rs/wgpu-native#412)
	if err != nil {
		return fmt.Errorf("gpu: compute pass: %w", err)
	}
	if err := enc.TryCopyBufferToBuffer(src, 0, readback, 0, align4(uint64(len(out)))); err != nil {
		return fmt.Errorf("gpu: readback copy: %w", err)
	}
	cmd, err := enc.TryFinish(nil)
	if err != nil {
		return fmt.Errorf("gpu: finish: %w", err)
	}
	d.queue.Submit(cmd)
	cmd.Release()
	return d.read(readback, out)
}

// checkInput validates a Forward call as the CPU stage does.
func (s *Session) checkInput(pos int, tokens []int32, hidden []float32) (int, error) {
	m := s.st.m
	if pos < 0 || pos > s.n {
		return 0, fmt.Errorf("%w: position %d with %d cached", model.ErrBadInput, pos, s.n)
	}
	var n int
	if s.st.IsFirst() {
		n = len(tokens)
		for _, id := range tokens {
			if id < 0 || int(id) >= m.Vocab {
				return 0, fmt.Errorf("%w: token %d outside vocabulary of %d", model.ErrBadInput, id, m.Vocab)
			}
		}
	} else {
		if len(hidden)%m.Dim != 0 {
			return 0, fmt.Errorf("%w: %d hidden floats is not a multiple of dim %d", model.ErrBadInput, len(hidden), m.Dim)
		}
		n = len(hidden) / m.Dim
		for _, v := range hidden {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("%w: non-finite hidden state", model.ErrBadInput)
			}
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: empty batch", model.ErrBadInput)
	}
	return n, nil
}
