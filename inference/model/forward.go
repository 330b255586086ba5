package model

import (
	"math"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// One transformer block, run on the stage's pool: the matrix products are
// row-parallel (q, k, v and gate, up each share one quantised input), and
// attention is parallel across heads, the norms across tokens and SwiGLU
// across chunks of elements. Every output element is computed by one
// goroutine in a fixed order, so results do not depend on the thread count.

// step is what the parallel kernels of the current layer read.
type step struct {
	n, pos int
	norm   []float32 // rmsnorm weights (normTokens)
	src    []float32 // rmsnorm input rows (normTokens)
	kc, vc []float32 // (pos+n, kvDim) this layer's cache
	total  int       // swiglu elements
}

// Below these sizes a kernel runs on the caller alone: a parallel step
// costs a few microseconds.
const (
	parallelNormTokens = 8
	swigluChunk        = 1024
)

// layerForward runs transformer block i (weights l) on the n rows of x, the
// residual stream for positions pos … pos+n-1, in place.
func (ss *Session) layerForward(i int, l *layer, f *fusedLayer, x []float32, n, pos int) {
	m, p, b := ss.st.m, ss.st.pool, &ss.buf
	dim, qDim, kvDim, hd := m.Dim, m.Heads*m.HeadDim, m.KVDim(), m.HeadDim
	q := b.q[:n*qDim]  // (n, heads*headDim)
	k := b.k[:n*kvDim] // (n, kvDim)
	v := b.v[:n*kvDim] // (n, kvDim)
	o := b.o[:n*dim]   // (n, dim)
	s := &ss.step
	s.n, s.pos = n, pos

	// Attention.
	ss.rmsnormRows(x, l.attnNorm, n)
	ss.outs = [3][]float32{q, k, v}
	p.MatMuls(ss.outs[:3], f.qkv[:], b.xn[:n*dim], n)
	if l.bq != nil {
		addRows(q, l.bq, n)
	}
	if l.bk != nil {
		addRows(k, l.bk, n)
	}
	if l.bv != nil {
		addRows(v, l.bv, n)
	}
	rd := m.RopeDims
	for t := range n {
		cs := b.rope[t*rd : (t+1)*rd]
		ss.st.rope.apply(q[t*qDim:(t+1)*qDim], m.Heads, hd, cs)
		ss.st.rope.apply(k[t*kvDim:(t+1)*kvDim], m.KVHeads, hd, cs)
	}
	s.kc, s.vc = ss.cache.K(i, pos+n), ss.cache.V(i, pos+n)
	copy(s.kc[pos*kvDim:], k)
	copy(s.vc[pos*kvDim:], v)
	p.Parallel(m.Heads, ss.attendFn)
	p.MatMul(o, l.wo, b.att[:n*qDim], n)
	add(x, o)

	// Feed-forward.
	ss.rmsnormRows(x, l.ffnNorm, n)
	g, u := b.g[:n*m.FFN], b.u[:n*m.FFN] // (n, ffn)
	ss.outs = [3][]float32{g, u}
	p.MatMuls(ss.outs[:2], f.gu[:], b.xn[:n*dim], n)
	s.total = n * m.FFN
	if chunks := (s.total + swigluChunk - 1) / swigluChunk; chunks > 1 {
		p.Parallel(chunks, ss.swigluFn)
	} else {
		swiglu(g, u)
	}
	p.MatMul(o, l.down, g, n)
	add(x, o)
	ss.outs = [3][]float32{}
	s.kc, s.vc, s.norm, s.src = nil, nil, nil, nil
}

// rmsnormRows sets xn's n rows to rmsnorm(x's rows) with weights w.
func (ss *Session) rmsnormRows(x, w []float32, n int) {
	s := &ss.step
	s.src, s.norm = x, w
	if n >= parallelNormTokens {
		ss.st.pool.Parallel(n, ss.normFn)
		return
	}
	ss.normTokens(0, n)
}

// normTokens normalises tokens [lo, hi) of the current rmsnorm.
func (ss *Session) normTokens(lo, hi int) {
	s, m, xn := &ss.step, ss.st.m, ss.buf.xn
	dim := m.Dim
	for t := lo; t < hi; t++ {
		rmsnorm(xn[t*dim:(t+1)*dim], s.src[t*dim:(t+1)*dim], s.norm, m.RMSEps)
	}
}

// swigluChunks applies SwiGLU to chunks [lo, hi) of swigluChunk elements.
func (ss *Session) swigluChunks(lo, hi int) {
	s, b := &ss.step, &ss.buf
	a, e := lo*swigluChunk, min(hi*swigluChunk, s.total)
	swiglu(b.g[a:e], b.u[a:e])
}

// attendHeads computes the attention output of heads [lo, hi) for every
// token of the step: for token t at position pos+t, the softmax-weighted
// sum of the values of positions 0 … pos+t (grouped-query: head h reads
// KV head h/(heads/kvHeads)). Each head has its own row of scores.
func (ss *Session) attendHeads(lo, hi int) {
	s, c, b := &ss.step, ss.st.m.Config, &ss.buf
	hd, kvDim, qDim := c.HeadDim, c.KVDim(), c.Heads*c.HeadDim
	group := c.Heads / c.KVHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	maxCtx := s.pos + s.n
	for h := lo; h < hi; h++ {
		off := (h / group) * hd
		keys, values := s.kc[off:], s.vc[off:]
		for t := range s.n {
			ctx := s.pos + t + 1
			sc := b.scores[h*maxCtx : h*maxCtx+ctx]
			tensor.DotF32Rows(sc, b.q[t*qDim+h*hd:t*qDim+(h+1)*hd], keys, kvDim)
			for j := range sc {
				sc[j] *= scale
			}
			softmax(sc)
			oh := b.att[t*qDim+h*hd : t*qDim+(h+1)*hd]
			clear(oh)
			tensor.AddScaledRows(oh, sc, values, kvDim)
		}
	}
}
