package model

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/hearth-p2p/hearth/inference/kvcache"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// ErrBadInput reports a Forward call whose tokens, hidden states or position
// do not fit the stage.
var ErrBadInput = errors.New("bad stage input")

// Stage runs the layers [From, To) of a model. The first stage (From == 0)
// owns the token embeddings and takes token ids; the last (To == NumLayers)
// owns the output norm and LM head and returns logits. Any other stage maps
// hidden states to hidden states.
type Stage struct {
	m        *Model
	from, to int
	layers   []*layer
	fused    []fusedLayer // per layer: the matrices that share an input
	pool     *tensor.Pool
	rope     rope
}

// fusedLayer groups a layer's matrices that read the same activations, so
// one MatMuls call quantises the input once and runs them in one step.
type fusedLayer struct {
	qkv [3]tensor.Matrix // wq, wk, wv
	gu  [2]tensor.Matrix // gate, up
}

// NewStage prepares the layers [from, to) of m, reading only their tensors.
// Kernels run on pool.
func (m *Model) NewStage(from, to int, pool *tensor.Pool) (*Stage, error) {
	if from < 0 || to > m.NumLayers || from >= to {
		return nil, fmt.Errorf("stage: layer range [%d,%d) outside [0,%d)", from, to, m.NumLayers)
	}
	if pool == nil {
		return nil, errors.New("stage: nil pool")
	}
	if err := m.checkStage(from, to); err != nil {
		return nil, err
	}
	s := &Stage{m: m, from: from, to: to, pool: pool, rope: newRope(m.Config, m.ropeFreqs)}
	for i := from; i < to; i++ {
		l, err := m.loadLayer(i)
		if err != nil {
			return nil, err
		}
		s.layers = append(s.layers, l)
		s.fused = append(s.fused, fusedLayer{qkv: [3]tensor.Matrix{l.wq, l.wk, l.wv}, gu: [2]tensor.Matrix{l.gate, l.up}})
	}
	return s, nil
}

// Model returns the model the stage belongs to.
func (s *Stage) Model() *Model { return s.m }

// From is the first layer of the stage.
func (s *Stage) From() int { return s.from }

// To is one past the last layer of the stage.
func (s *Stage) To() int { return s.to }

// IsFirst reports whether the stage takes token ids.
func (s *Stage) IsFirst() bool { return s.from == 0 }

// IsLast reports whether the stage returns logits.
func (s *Stage) IsLast() bool { return s.to == s.m.NumLayers }

// Session is one conversation's state in a stage: its KV cache and scratch
// buffers. A Session is not safe for concurrent use.
type Session struct {
	st        *Stage
	cache     *kvcache.Cache
	allLogits bool
	buf       scratch
	step      step // the layer step the parallel kernels work on
	// The parallel kernels as bound method values, made once so that a
	// decode step allocates nothing.
	attendFn, normFn, swigluFn func(lo, hi int)
	outs                       [3][]float32 // MatMuls outputs
}

// NewSession starts a session that can hold up to maxCtx positions.
func (s *Stage) NewSession(maxCtx int) (*Session, error) {
	if maxCtx <= 0 {
		maxCtx = s.m.ContextLen
	}
	c, err := kvcache.New(len(s.layers), s.m.KVDim(), maxCtx)
	if err != nil {
		return nil, err
	}
	ss := &Session{st: s, cache: c}
	ss.attendFn, ss.normFn, ss.swigluFn = ss.attendHeads, ss.normTokens, ss.swigluChunks
	return ss, nil
}

// SetAllLogits makes a last-stage Forward return the logits of every
// position of the batch (n × vocab) instead of only the last one.
func (ss *Session) SetAllLogits(all bool) { ss.allLogits = all }

// Len is the number of positions in the session's cache.
func (ss *Session) Len() int { return ss.cache.Len() }

// MaxContext is the most positions the session can hold.
func (ss *Session) MaxContext() int { return ss.cache.MaxContext() }

// CacheBytes is the memory the session's KV cache holds.
func (ss *Session) CacheBytes() int64 { return ss.cache.Bytes() }

// Truncate forgets positions at and after n.
func (ss *Session) Truncate(n int) error { return ss.cache.Truncate(n) }

// Close releases the session's memory.
func (ss *Session) Close() { ss.cache.Reset(); ss.buf = scratch{} }

// Forward runs a batch of n positions starting at pos through the stage.
// The first stage takes tokens (n ids, hidden nil); later stages take hidden
// (n × Dim floats, tokens ignored). If pos is below Len the cache is first
// truncated to pos; pos above Len is an error.
//
// It returns n × Dim hidden states, or for the last stage the logits of the
// last position (Vocab floats; n × Vocab with SetAllLogits). The returned
// slice is owned by the session and valid until its next call.
func (ss *Session) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	st, m := ss.st, ss.st.m
	n, err := ss.checkInput(pos, tokens, hidden)
	if err != nil {
		return nil, err
	}
	if pos < ss.cache.Len() {
		if err := ss.cache.Truncate(pos); err != nil {
			return nil, err
		}
	}
	if err := ss.cache.Reserve(n); err != nil {
		return nil, err
	}
	b := &ss.buf
	b.ensure(m.Config, n, pos+n)
	for t := range n {
		st.rope.table(b.rope[t*m.RopeDims:(t+1)*m.RopeDims], pos+t)
	}
	x := b.x[:n*m.Dim]
	if st.IsFirst() {
		for t, id := range tokens {
			if err := tensor.DequantizeRow(m.embd.Type, x[t*m.Dim:(t+1)*m.Dim], m.embd.Row(int(id))); err != nil {
				return nil, fmt.Errorf("embed token %d: %w", id, err)
			}
		}
	} else {
		copy(x, hidden)
	}
	for i, l := range st.layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ss.layerForward(i, l, &st.fused[i], x, n, pos)
	}
	ss.cache.Commit(n)
	if !st.IsLast() {
		return x, nil
	}
	return ss.head(x, n), nil
}

func (ss *Session) checkInput(pos int, tokens []int32, hidden []float32) (int, error) {
	st, m := ss.st, ss.st.m
	if pos < 0 || pos > ss.cache.Len() {
		return 0, fmt.Errorf("%w: position %d with %d cached", ErrBadInput, pos, ss.cache.Len())
	}
	var n int
	if st.IsFirst() {
		n = len(tokens)
		for _, id := range tokens {
			if id < 0 || int(id) >= m.Vocab {
				return 0, fmt.Errorf("%w: token %d outside vocabulary of %d", ErrBadInput, id, m.Vocab)
			}
		}
	} else {
		if len(hidden)%m.Dim != 0 {
			return 0, fmt.Errorf("%w: %d hidden floats is not a multiple of dim %d", ErrBadInput, len(hidden), m.Dim)
		}
		n = len(hidden) / m.Dim
		for _, v := range hidden {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("%w: non-finite hidden state", ErrBadInput)
			}
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: empty batch", ErrBadInput)
	}
	return n, nil
}

// head applies the output norm and LM head to the last row of x (or to every
// row with allLogits).
func (ss *Session) head(x []float32, n int) []float32 {
	m, b := ss.st.m, &ss.buf
	first := n - 1
	if ss.allLogits {
		first = 0
	}
	rows := n - first
	xn := b.xn[:rows*m.Dim]
	for t := first; t < n; t++ {
		rmsnorm(xn[(t-first)*m.Dim:(t-first+1)*m.Dim], x[t*m.Dim:(t+1)*m.Dim], m.outNorm, m.RMSEps)
	}
	if cap(b.logits) < rows*m.Vocab {
		b.logits = make([]float32, rows*m.Vocab)
	}
	logits := b.logits[:rows*m.Vocab]
	ss.st.pool.MatMul(logits, m.output, xn, rows)
	return logits
}

// scratch holds a session's working buffers, grown on demand.
type scratch struct {
	x, xn, q, k, v, att, o, g, u []float32
	scores                       []float32 // (heads, ctx) attention weights
	rope                         []float32 // (n, ropeDims) cos/sin per position
	logits                       []float32
}

func (b *scratch) ensure(c Config, n, ctx int) {
	fit := func(s *[]float32, size int) {
		if cap(*s) < size {
			*s = make([]float32, size)
		}
		*s = (*s)[:size]
	}
	qDim := c.Heads * c.HeadDim
	fit(&b.x, n*c.Dim)
	fit(&b.xn, n*c.Dim)
	fit(&b.q, n*qDim)
	fit(&b.k, n*c.KVDim())
	fit(&b.v, n*c.KVDim())
	fit(&b.att, n*qDim)
	fit(&b.o, n*c.Dim)
	fit(&b.g, n*c.FFN)
	fit(&b.u, n*c.FFN)
	fit(&b.scores, c.Heads*ctx)
	fit(&b.rope, n*c.RopeDims)
}
