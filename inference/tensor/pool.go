package tensor

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Pool runs matrix kernels row-parallel on a fixed set of worker goroutines
// started once by NewPool. The calling goroutine works too, so a Pool of N
// threads has N-1 background workers.
//
// A Pool may be shared by several goroutines: MatVec and MatMul calls are
// serialised by a mutex (one call uses all threads; concurrent callers wait
// their turn). Results never depend on the thread count or on scheduling:
// each output element is computed by exactly one goroutine with the
// kernel's fixed reduction order.
type Pool struct {
	threads int
	wake    chan struct{}  // one token per helper per parallel step
	done    sync.WaitGroup // helpers finishing a step

	mu     sync.Mutex // serialises calls; guards everything below
	closed bool
	job    job
	buf    qbuf        // quantised activations of the current call
	acts   []qvec      // per token: its view of buf, or of x for float kernels
	rowBuf [][]float32 // per worker id (0 = caller): a decoded float row
}

// job describes the current call to the workers. It is written by the
// caller before the helpers are woken (channel send) and only read until
// they report done.
type job struct {
	quantize bool // step: quantise activations (else: dot products)
	k        *kernel
	w        Matrix
	x, dst   []float32
	n        int
	rowsPer  int // rows per chunk (dot step)
	chunks   int
	next     atomic.Int64 // next chunk to claim
}

// Work below this many weight elements per call runs on the caller alone:
// waking helpers costs more than it saves.
const minParallelWork = 1 << 15

// tokenTile is how many tokens MatMul runs against a weight row while the
// row is in cache.
const tokenTile = 16

// NewPool starts a pool of threads workers (threads <= 0: runtime.NumCPU()).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, wake: make(chan struct{}, threads)}
	p.rowBuf = make([][]float32, threads)
	for id := 1; id < threads; id++ {
		go p.helper(id)
	}
	return p
}

// Threads is the number of goroutines a call runs on.
func (p *Pool) Threads() int { return p.threads }

// Close stops the workers. Later calls still work, on the caller alone.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.wake)
	}
}

func (p *Pool) helper(id int) {
	for range p.wake {
		p.work(id)
		p.done.Done()
	}
}

// MatVec computes dst[r] = dot(row r of w, x) for every row. len(x) must be
// w.Cols and len(dst) w.Rows; it panics otherwise (a programming error).
func (p *Pool) MatVec(dst []float32, w Matrix, x []float32) {
	p.MatMul(dst, w, x, 1)
}

// MatMul multiplies n tokens at once (prefill): x is n×w.Cols token-major,
// dst n×w.Rows token-major. dst[t*w.Rows+r] is bit-identical to what MatVec
// gives for token t alone. It panics on mismatched lengths.
func (p *Pool) MatMul(dst []float32, w Matrix, x []float32, n int) {
	k, ok := kernels[w.Type]
	if !ok {
		panic(fmt.Sprintf("tensor: MatMul on %s matrix, which has no kernel", w.Type))
	}
	if n < 0 || len(x) != n*w.Cols || len(dst) != n*w.Rows || len(w.Data) != w.Rows*w.RowBytes() {
		panic(fmt.Sprintf("tensor: MatMul of %d×%d %s matrix (%d bytes) with %d tokens: len(x)=%d, len(dst)=%d",
			w.Rows, w.Cols, w.Type, len(w.Data), n, len(x), len(dst)))
	}
	if n == 0 || w.Rows == 0 {
		return
	}
	if k.act != actF32 && w.Cols%k.act.blockLen() != 0 {
		panic(fmt.Sprintf("tensor: %s matrix with %d columns", w.Type, w.Cols))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	j := &p.job
	j.k, j.w, j.x, j.dst, j.n = k, w, x, dst, n
	defer func() { j.w, j.x, j.dst = Matrix{}, nil, nil }() // drop references

	parallel := int64(w.Rows)*int64(w.Cols)*int64(n) >= minParallelWork
	p.buf.reset(k.act, n, w.Cols)
	p.acts = grow(p.acts, n)
	for t := range n {
		if k.act == actF32 {
			p.acts[t] = qvec{f: x[t*w.Cols : (t+1)*w.Cols]}
		} else {
			p.acts[t] = p.buf.token(t)
		}
	}
	defer clear(p.acts) // drop references to x
	if k.act != actF32 {
		j.quantize = true
		if n > 1 && parallel {
			p.run(n)
		} else {
			for t := range n {
				p.quantizeToken(t)
			}
		}
	}
	j.quantize = false
	j.rowsPer = max(1, w.Rows/(4*p.threads))
	chunks := (w.Rows + j.rowsPer - 1) / j.rowsPer
	if parallel {
		p.run(chunks)
	} else {
		j.chunks = chunks
		for c := range chunks {
			p.runChunk(c, 0)
		}
	}
}

// run executes chunks 0..chunks-1 of the current job on the caller and the
// helpers, returning when all are done.
func (p *Pool) run(chunks int) {
	j := &p.job
	j.chunks = chunks
	j.next.Store(0)
	helpers := min(p.threads-1, chunks-1)
	if p.closed {
		helpers = 0
	}
	p.done.Add(helpers)
	for range helpers {
		p.wake <- struct{}{}
	}
	p.work(0)
	p.done.Wait()
}

// work claims and runs chunks until none are left; id names the worker's
// scratch.
func (p *Pool) work(id int) {
	j := &p.job
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.chunks {
			return
		}
		p.runChunk(c, id)
	}
}

// runChunk runs chunk c of the current step: token c's quantisation, or
// the dot products of a range of rows with every token.
func (p *Pool) runChunk(c, id int) {
	j := &p.job
	if j.quantize {
		p.quantizeToken(c)
		return
	}
	w, rb := j.w, j.w.RowBytes()
	r0 := c * j.rowsPer
	r1 := min(r0+j.rowsPer, w.Rows)
	acts := p.acts[:j.n]
	if j.k.act == actF32 && j.n > 1 {
		// Decode each float row once and reuse it for every token: the
		// float kernels are "decode exactly, then DotF32", so this is the
		// same arithmetic.
		buf := grow(p.rowBuf[id], w.Cols)
		p.rowBuf[id] = buf
		dec := decoders[w.Type]
		for r := r0; r < r1; r++ {
			dec(buf, w.Data[r*rb:(r+1)*rb])
			for t := range acts {
				j.dst[t*w.Rows+r] = DotF32(buf, acts[t].f)
			}
		}
		return
	}
	for t0 := 0; t0 < j.n; t0 += tokenTile {
		t1 := min(t0+tokenTile, j.n)
		for r := r0; r < r1; r++ {
			row := w.Data[r*rb : (r+1)*rb]
			for t := t0; t < t1; t++ {
				j.dst[t*w.Rows+r] = j.k.dot(row, &acts[t])
			}
		}
	}
}

// quantizeToken quantises token t's activation into the pool's buffer.
func (p *Pool) quantizeToken(t int) {
	j := &p.job
	p.acts[t].quantize(j.k.act, j.x[t*j.w.Cols:(t+1)*j.w.Cols])
}
