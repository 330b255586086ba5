package gpu

import (
	"fmt"
	"math"

	"github.com/oliverbestmann/webgpu/wgpu"
)

// A session's forward pass is a fixed program: the list of kernel
// dispatches of the whole layer range, with their bind groups and static
// parameters built once (and again when the KV cache grows). A Forward
// writes the batch size and position (the step uniform), the rope table and
// the input, records every dispatch into one compute pass and submits it.

// op is one dispatch of the program.
type op struct {
	name  string
	fixed int // tokens when nonzero, else the batch's
	// v[0] runs one token, v[1] (when set) batches of more.
	v      [2]variant
	groups func(n int, batched bool) (x, y, z uint32)
}

type variant struct {
	k  *kernel
	bg *wgpu.BindGroup
}

// quantSrc identifies the f32 activations a quantised buffer holds.
type quantSrc struct {
	buf         *wgpu.Buffer
	cols, fixed int
}

// builder assembles a session's program. The caller holds the device lock.
type builder struct {
	s         *Session
	ops       []op
	params    []byte
	q8, q8k   quantSrc
	bindFails error
	// dry only lays out the parameter blocks (to size their buffer).
	dry bool
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// grid1 spreads count 64-wide workgroups over x and y (65535 per dimension).
func grid1(count int) (uint32, uint32) {
	g := max(1, ceilDiv(count, 64))
	gx := min(g, 65535)
	return uint32(gx), uint32(ceilDiv(g, gx))
}

// slot stores a parameter block and returns its byte offset.
func (b *builder) slot(p []byte) uint64 {
	off := uint64(len(b.params))
	block := make([]byte, paramSlot)
	copy(block, p)
	b.params = append(b.params, block...)
	return off
}

// bind makes a bind group for kernel k: bufs at bindings 0…, then the
// parameter block at off and the step uniform.
func (b *builder) bind(k *kernel, off uint64, bufs ...*wgpu.Buffer) *wgpu.BindGroup {
	if b.bindFails != nil || b.dry {
		return nil
	}
	var entries []wgpu.BindGroupEntry
	for i, buf := range bufs {
		entries = append(entries, wgpu.BindGroupEntry{Binding: uint32(i), Buffer: buf, Size: wgpu.WholeSize})
	}
	entries = append(entries,
		wgpu.BindGroupEntry{Binding: uint32(len(bufs)), Buffer: b.s.paramBuf, Offset: off, Size: paramSlot},
		wgpu.BindGroupEntry{Binding: uint32(len(bufs) + 1), Buffer: b.s.step, Size: 16})
	bg, err := b.s.st.dev.dev.TryCreateBindGroup(&wgpu.BindGroupDescriptor{Label: k.name, Layout: k.layout, Entries: entries})
	if err != nil {
		b.bindFails = fmt.Errorf("gpu: bind %s: %w", k.name, err)
	}
	return bg
}

// kernel returns a kernel the stage compiled at load time.
func (b *builder) kernel(name string) *kernel {
	k, err := b.s.st.dev.kernel(name)
	if err != nil && b.bindFails == nil {
		b.bindFails = err
	}
	return k
}

// simple adds a single-variant op.
func (b *builder) simple(name string, p []byte, groups func(n int, batched bool) (uint32, uint32, uint32), bufs ...*wgpu.Buffer) {
	k := b.kernel(name)
	if k == nil {
		return
	}
	off := b.slot(p)
	b.ops = append(b.ops, op{name: name, v: [2]variant{{k, b.bind(k, off, bufs...)}}, groups: groups})
}

// wrote invalidates quantised copies of buf.
func (b *builder) wrote(buf *wgpu.Buffer) {
	if b.q8.buf == buf {
		b.q8 = quantSrc{}
	}
	if b.q8k.buf == buf {
		b.q8k = quantSrc{}
	}
}

// rmsnorm normalises the rows of x (width dim) into o.
func (b *builder) rmsnorm(x, w, o *wgpu.Buffer, lastOnly bool) {
	m := b.s.st.m
	b.simple("rmsnorm", params(m.Dim, 0, m.Dim, 0, m.Dim, lastOnly, m.RMSEps),
		func(n int, _ bool) (uint32, uint32, uint32) {
			if lastOnly {
				return 1, 1, 1
			}
			return uint32(n), 1, 1
		}, x, w, o)
	b.wrote(o)
}

// quantize makes sure the quantised buffer of kind a holds src (cols wide,
// fixed tokens when nonzero) and returns it.
func (b *builder) quantize(a actKind, src *wgpu.Buffer, cols, fixed int) *wgpu.Buffer {
	s := b.s
	want := quantSrc{src, cols, fixed}
	if a == actQ8 {
		if b.q8 != want {
			l := s.q8Layout()
			blocks := cols / 32
			b.simple("quant_q8", params(blocks, 0, cols, l.xStride, l.dOff, l.dStride, l.sOff, l.sumOff, fixed),
				func(n int, _ bool) (uint32, uint32, uint32) { return uint32(ceilDiv(blocks, 64)), uint32(n), 1 },
				src, s.xq8)
			b.q8 = want
		}
		return s.xq8
	}
	if b.q8k != want {
		l := s.q8kLayout()
		blocks := cols / 256
		b.simple("quant_q8k", params(blocks, 0, cols, l.xStride, l.dOff, l.dStride, l.gOff, l.gStride, fixed),
			func(n int, _ bool) (uint32, uint32, uint32) { return uint32(blocks), uint32(n), 1 },
			src, s.xq8k)
		b.q8k = want
	}
	return s.xq8k
}

// matmul adds y (+)= W·x for x the f32 rows of src (W.cols wide) and y
// rows outStride wide in dst.
func (b *builder) matmul(w *matrix, src, dst *wgpu.Buffer, outStride int, accumulate bool, fixed int) {
	s := b.s
	a := formats[w.typ].act
	x := src
	var l actLayout
	switch a {
	case actQ8:
		x, l = b.quantize(a, src, w.cols, fixed), s.q8Layout()
	case actQ8K:
		x, l = b.quantize(a, src, w.cols, fixed), s.q8kLayout()
	default:
		l = actLayout{xStride: w.cols}
	}
	decode := b.kernel(fmt.Sprintf("matmul:%s/%d", w.typ, tokensDecode))
	var batch *kernel
	if fixed == 0 {
		batch = b.kernel(fmt.Sprintf("matmul:%s/%d", w.typ, tokensPrefill))
	}
	if decode == nil || fixed == 0 && batch == nil {
		return
	}
	for _, part := range w.parts {
		off := b.slot(params(part.rows, w.cols, w.rowBytes, part.row0, outStride, 0, accumulate, fixed,
			0, l.xStride, l.dOff, l.dStride, l.sOff, l.sumOff, l.gOff, l.gStride))
		o := op{name: decode.name, fixed: fixed}
		o.v[0] = variant{decode, b.bind(decode, off, part.buf, x, dst)}
		if batch != nil {
			o.v[1] = variant{batch, b.bind(batch, off, part.buf, x, dst)}
		}
		rpw, _ := s.st.dev.matmulShape(w.typ)
		groups := ceilDiv(part.rows, rpw)
		o.groups = func(n int, batched bool) (uint32, uint32, uint32) {
			gx := min(groups, 65535)
			t := tokensDecode
			if batched {
				t = tokensPrefill
			}
			return uint32(gx), uint32(ceilDiv(groups, gx)), uint32(ceilDiv(n, t))
		}
		b.ops = append(b.ops, o)
	}
	b.wrote(dst)
}

// elementwise returns the groups of a kernel over perToken elements a token.
func elementwise(perToken int) func(n int, _ bool) (uint32, uint32, uint32) {
	return func(n int, _ bool) (uint32, uint32, uint32) {
		x, y := grid1(perToken * n)
		return x, y, 1
	}
}

// build assembles the program of the session's stage. The caller holds
// the device lock.
func (s *Session) build() error {
	ops, err := s.compile(s.assemble)
	if err != nil {
		return err
	}
	s.releaseProgram()
	s.prog = ops
	return nil
}

// compile runs assemble twice: a dry run sizes the parameter buffer, then
// the real one binds and the parameters are written.
func (s *Session) compile(assemble func(*builder)) ([]op, error) {
	dry := &builder{s: s, dry: true}
	assemble(dry)
	if dry.bindFails != nil {
		return nil, dry.bindFails
	}
	if s.paramBuf == nil || s.paramBuf.GetSize() < uint64(len(dry.params)) {
		if s.paramBuf != nil {
			s.paramBuf.Release()
		}
		var err error
		if s.paramBuf, err = s.st.dev.buffer("params", uint64(len(dry.params)), usageUniform); err != nil {
			return nil, err
		}
	}
	b := &builder{s: s}
	assemble(b)
	if b.bindFails != nil {
		return nil, b.bindFails
	}
	if err := s.st.dev.write(s.paramBuf, 0, b.params); err != nil {
		return nil, err
	}
	return b.ops, nil
}

// assemble lays out the stage's dispatches into b.
func (s *Session) assemble(b *builder) {
	st, m := s.st, s.st.m
	dim, qDim, kvDim, ffn := m.Dim, m.Heads*m.HeadDim, m.KVDim(), m.FFN
	if st.IsFirst() {
		for _, part := range st.embd.parts {
			b.simple("get_rows:"+st.embd.typ.String(), params(part.rows, dim, st.embd.rowBytes, part.row0, dim),
				func(n int, _ bool) (uint32, uint32, uint32) { return uint32(ceilDiv(dim, 64)), uint32(n), 1 },
				part.buf, s.ids, s.x)
		}
	}
	ropeP := func(heads, stride int) []byte {
		return params(heads, m.HeadDim, m.RopeDims, m.RopeNeoX, stride, kvDim)
	}
	scale := float32(1 / math.Sqrt(float64(m.HeadDim)))
	for i, l := range st.layers {
		// Attention.
		b.rmsnorm(s.x, l.attnNorm, s.xn, false)
		b.matmul(l.wq, s.xn, s.q, qDim, false, 0)
		b.matmul(l.wk, s.xn, s.k, kvDim, false, 0)
		b.matmul(l.wv, s.xn, s.v, kvDim, false, 0)
		for _, bias := range []struct {
			b, y  *wgpu.Buffer
			width int
		}{{l.bq, s.q, qDim}, {l.bk, s.k, kvDim}, {l.bv, s.v, kvDim}} {
			if bias.b != nil {
				b.simple("add_bias", params(bias.width), elementwise(bias.width), bias.y, bias.b)
			}
		}
		b.simple("rope_q", ropeP(m.Heads, qDim),
			func(n int, _ bool) (uint32, uint32, uint32) {
				return uint32(ceilDiv(m.Heads*m.RopeDims/2, 64)), uint32(n), 1
			}, s.q, s.rope)
		b.simple("kv_store", ropeP(m.KVHeads, kvDim),
			func(n int, _ bool) (uint32, uint32, uint32) {
				return uint32(ceilDiv(m.KVHeads*m.HeadDim/2, 64)), uint32(n), 1
			}, s.k, s.v, s.rope, s.kc[i], s.vc[i])
		b.simple("attention", params(m.Heads, m.KVHeads, m.HeadDim, qDim, kvDim, qDim, scale),
			func(n int, _ bool) (uint32, uint32, uint32) { return uint32(m.Heads), uint32(n), 1 },
			s.q, s.kc[i], s.vc[i], s.att)
		b.wrote(s.att)
		b.matmul(l.wo, s.att, s.x, dim, true, 0)

		// Feed-forward.
		b.rmsnorm(s.x, l.ffnNorm, s.xn, false)
		b.matmul(l.gate, s.xn, s.g, ffn, false, 0)
		b.matmul(l.up, s.xn, s.u, ffn, false, 0)
		b.simple("swiglu", params(ffn), elementwise(ffn), s.g, s.u)
		b.wrote(s.g)
		b.matmul(l.down, s.g, s.x, dim, true, 0)
	}
	if st.IsLast() {
		b.rmsnorm(s.x, st.outNorm, s.xn, true)
		b.matmul(st.output, s.xn, s.logits, m.Vocab, false, 1)
	}
}
