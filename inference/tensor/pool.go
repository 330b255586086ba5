package tensor

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Pool runs kernels in parallel on a fixed set of worker goroutines started
// once by NewPool. The calling goroutine works too, so a Pool of N threads
// has N-1 helpers. Between steps a helper spins briefly on the step counter
// before it parks, so the many short steps of a decode do not each pay for
// waking a sleeping thread.
//
// A Pool may be shared by several goroutines: calls are serialised by a
// mutex (one call uses all threads; concurrent callers wait their turn).
// Results never depend on the thread count or on scheduling: each output
// element is computed by exactly one goroutine with the kernel's fixed
// reduction order.
type Pool struct {
	threads int
	helpers []*helper

	mu     sync.Mutex // serialises calls; guards everything below
	closed bool
	job    job
	buf    qbuf      // quantised activations of the current call
	acts   []qvec    // per token: its view of buf, or of x for float kernels
	ws     []scratch // per worker id (0 = caller)

	step    atomic.Uint64 // bumped to start a step
	running atomic.Int32  // helpers still in the current step
	stop    atomic.Bool   // set by Close before its last step bump

	callerParked atomic.Bool   // the caller sleeps on done until the step ends
	done         chan struct{} // the last helper of a step wakes the caller
}

// helper is one background worker's parking state.
type helper struct {
	parked atomic.Bool
	wake   chan struct{}
}

// scratch is one worker's memory.
type scratch struct {
	row  []float32 // a decoded float row
	tile tileArgs
}

// job describes the current step to the workers. It is written by the
// caller before the step counter is bumped and only read until the helpers
// report done.
type job struct {
	kind   jobKind
	mats   []Matrix // matrices of a dot step, all with the same Cols
	dsts   [][]float32
	k      []*kernel // per matrix
	x      []float32
	n      int
	quant  actFormat        // format being quantised (quantize step)
	starts [maxMats + 1]int // dot step: first chunk of each matrix
	rows   [maxMats]int     // dot step: rows per chunk of each matrix
	fn     func(lo, hi int) // parallel step
	span   int              // parallel step: items per chunk
	total  int              // parallel step: items
	chunks int              // chunks of the step
	next   atomic.Int64     // next chunk to claim
}

type jobKind uint8

const (
	jobQuantize jobKind = iota
	jobPack
	jobDot
	jobParallel
)

// maxMats is the most matrices one MatMuls call takes.
const maxMats = 4

// Work below this many weight elements per call runs on the caller alone:
// waking helpers costs more than it saves.
const minParallelWork = 1 << 15

// tileTokens is how many tokens a tile kernel runs against each weight row
// while the row is in L1; the tokens' activations then stay in L2.
const tileTokens = 64

// chunkBytes bounds the weight bytes of one prefill chunk, so the chunk's
// rows stay in L2 from one token tile to the next.
const chunkBytes = 192 << 10

// spinSteps is how many times an idle helper polls for the next step
// before it parks (tens of microseconds): long enough to bridge the serial
// work between the steps of a decode (norms, quantisation, RoPE), short
// enough not to keep the caller off a shared CPU for long. Parking sooner
// cost a quarter of the 2-thread decode speed (a woken helper is late).
const spinSteps = 1 << 16

// waitSpins is how many times the caller polls for the helpers to finish
// a step before it sleeps (tens of microseconds: about a chunk's work).
// Sleeping sooner costs more than it saves: waking a sleeping thread takes
// tens of microseconds, which on a decode's many short steps added a sixth
// to the time of the matrix products.
const waitSpins = 1 << 17

// NewPool starts a pool of threads workers (threads <= 0: runtime.NumCPU()).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, ws: make([]scratch, threads), done: make(chan struct{}, 1)}
	for id := 1; id < threads; id++ {
		h := &helper{wake: make(chan struct{}, 1)}
		p.helpers = append(p.helpers, h)
		go p.serve(id, h)
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
		p.stop.Store(true)
		p.step.Add(1) // helpers see the step, then stop
		for _, h := range p.helpers {
			close(h.wake)
		}
	}
}

// serve is helper id's loop: wait for a step, run its chunks, report.
// Every helper takes part in every step (the caller waits for all of them),
// so the step counter starts at 0 for each and advances by one per step.
func (p *Pool) serve(id int, h *helper) {
	var seen uint64
	for {
		for spins := 0; p.step.Load() == seen; spins++ {
			if spins < spinSteps {
				continue
			}
			h.parked.Store(true)
			if p.step.Load() != seen { // a step began while parking
				if h.parked.Swap(false) {
					break
				}
				<-h.wake // the caller saw parked and sends a token
				break
			}
			if _, ok := <-h.wake; !ok {
				return
			}
			spins = 0
		}
		seen++
		if p.stop.Load() {
			return
		}
		p.work(id)
		if p.running.Add(-1) == 0 && p.callerParked.Swap(false) {
			p.done <- struct{}{}
		}
	}
}

// run executes chunks 0..chunks-1 of the current job on the caller and the
// helpers, returning when all are done.
func (p *Pool) run(chunks int) {
	j := &p.job
	j.chunks = chunks
	j.next.Store(0)
	helpers := min(len(p.helpers), chunks-1)
	if p.closed || helpers <= 0 {
		p.work(0)
		return
	}
	p.running.Store(int32(len(p.helpers)))
	p.step.Add(1)
	for _, h := range p.helpers {
		if h.parked.Swap(false) {
			h.wake <- struct{}{}
		}
	}
	p.work(0)
	// The helpers are busy with their last chunks: spin a little, then
	// sleep until the last one wakes us. (Not runtime.Gosched: the caller
	// may be a goroutine locked to its thread, the GUI's main goroutine,
	// for which every yield is a thread handoff; and on a busy machine a
	// spinning caller only keeps a descheduled helper off the CPU.)
	for spins := 0; p.running.Load() != 0; spins++ {
		if spins < waitSpins {
			continue
		}
		p.callerParked.Store(true)
		if p.running.Load() == 0 && p.callerParked.Swap(false) {
			break // finished before anyone saw us parked
		}
		<-p.done // the last helper saw us parked
		break
	}
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
		switch j.kind {
		case jobQuantize:
			p.quantizeToken(c)
		case jobPack:
			p.packBlock(c)
		case jobDot:
			p.dotChunk(c, id)
		case jobParallel:
			lo := c * j.span
			j.fn(lo, min(lo+j.span, j.total))
		}
	}
}

// Parallel calls fn on disjoint ranges [lo, hi) that cover [0, n), on all
// threads, and returns when every call has returned. fn must only write
// what its range owns; then, as with the matrix kernels, the result does not
// depend on the thread count. It must not call the Pool.
func (p *Pool) Parallel(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	j := &p.job
	j.kind, j.fn, j.total = jobParallel, fn, n
	defer func() { j.fn = nil }()
	chunks := min(n, 4*p.threads)
	j.span = (n + chunks - 1) / chunks
	p.run((n + j.span - 1) / j.span)
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
	p.mu.Lock()
	defer p.mu.Unlock()
	j := &p.job
	j.mats = append(j.mats[:0], w)
	j.dsts = append(j.dsts[:0], dst)
	p.matMuls(x, n)
}

// MatMuls multiplies the same n tokens x with up to four matrices of equal
// width at once: dsts[i] = ws[i]·x, each exactly as MatMul computes it. The
// activations are quantised once per format and all the matrices' rows
// share one parallel step (q, k and v; gate and up).
func (p *Pool) MatMuls(dsts [][]float32, ws []Matrix, x []float32, n int) {
	if len(ws) != len(dsts) || len(ws) == 0 || len(ws) > maxMats {
		panic(fmt.Sprintf("tensor: MatMuls of %d matrices into %d outputs", len(ws), len(dsts)))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	j := &p.job
	j.mats = append(j.mats[:0], ws...)
	j.dsts = append(j.dsts[:0], dsts...)
	p.matMuls(x, n)
}

// matMuls runs the job's matrices on x; the caller holds the mutex.
func (p *Pool) matMuls(x []float32, n int) {
	j := &p.job
	defer func() { // drop references
		clear(j.mats)
		clear(j.dsts)
		clear(j.k)
		j.x = nil
		clear(p.acts)
	}()
	j.k = j.k[:0]
	cols := j.mats[0].Cols
	var work int64
	for i, w := range j.mats {
		k, ok := kernels[w.Type]
		if !ok {
			panic(fmt.Sprintf("tensor: MatMul on %s matrix, which has no kernel", w.Type))
		}
		dst := j.dsts[i]
		if n < 0 || w.Cols != cols || len(x) != n*w.Cols || len(dst) != n*w.Rows || len(w.Data) != w.Rows*w.RowBytes() {
			panic(fmt.Sprintf("tensor: MatMul of %d×%d %s matrix (%d bytes) with %d tokens: len(x)=%d, len(dst)=%d",
				w.Rows, w.Cols, w.Type, len(w.Data), n, len(x), len(dst)))
		}
		if k.act != actF32 && w.Cols%k.act.blockLen() != 0 {
			panic(fmt.Sprintf("tensor: %s matrix with %d columns", w.Type, w.Cols))
		}
		j.k = append(j.k, k)
		work += int64(w.Rows) * int64(w.Cols) * int64(n)
	}
	if n == 0 {
		return
	}
	j.x, j.n = x, n
	parallel := work >= minParallelWork && p.threads > 1
	// Group the matrices by activation format: quantise once per format,
	// then run that group's rows in one step.
	done := 0
	for done < len(j.mats) {
		f := j.k[done].act
		end := done + 1
		for end < len(j.mats) && j.k[end].act == f {
			end++
		}
		p.quantizeAll(f, cols, parallel)
		p.dotStep(done, end, parallel)
		done = end
	}
}

// quantizeAll quantises every token of j.x into format f.
func (p *Pool) quantizeAll(f actFormat, cols int, parallel bool) {
	j := &p.job
	p.buf.reset(f, j.n, cols)
	p.acts = grow(p.acts, j.n)
	for t := range j.n {
		if f == actF32 {
			p.acts[t] = qvec{f: j.x[t*cols : (t+1)*cols]}
		} else {
			p.acts[t] = p.buf.token(t)
		}
	}
	if f == actF32 {
		return
	}
	p.buf.qt = p.buf.qt[:0]
	if p.wants(f, (*kernel).usesMTile) {
		p.buf.qt = grow(p.buf.qt, j.n*cols)
	}
	j.kind, j.quant = jobQuantize, f
	if j.n > 1 && parallel {
		p.run(j.n)
	} else {
		j.chunks = j.n
		for t := range j.n {
			p.quantizeToken(t)
		}
	}
	p.buf.kpack, p.buf.qpack = p.buf.kpack[:0], p.buf.qpack[:0]
	if !p.wants(f, (*kernel).usesPTile) {
		return
	}
	blocks := (j.n + 7) / 8
	if f == actQ8K {
		p.buf.kpack = grow(p.buf.kpack, blocks*p.buf.blocks*kpackBytes)
	} else {
		p.buf.qpack = grow(p.buf.qpack, blocks*(p.buf.blocks/8)*qpackBytes)
	}
	j.kind = jobPack
	if parallel && blocks > 1 {
		p.run(blocks)
		return
	}
	for tb := range blocks {
		p.packBlock(tb)
	}
}

// wants reports whether a matrix of the job with activation format f runs
// the kernel use selects for the job's token count.
func (p *Pool) wants(f actFormat, use func(*kernel, int) bool) bool {
	j := &p.job
	return slices.ContainsFunc(j.k, func(k *kernel) bool { return k.act == f && use(k, j.n) })
}

// packBlock packs token block tb of the activations for the packed kernels.
func (p *Pool) packBlock(tb int) {
	if p.buf.format == actQ8K {
		p.buf.packK(tb)
	} else {
		p.buf.packQ(tb)
	}
}

// quantizeToken quantises token t's activation into the pool's buffer.
func (p *Pool) quantizeToken(t int) {
	j := &p.job
	cols := p.buf.cols
	swar, transposed := false, false
	for _, k := range j.k {
		swar = swar || k.swar && k.act == j.quant
		transposed = transposed || k.usesMTile(j.n) && k.act == j.quant
	}
	p.acts[t].quantize(j.quant, j.x[t*cols:(t+1)*cols], swar)
	if transposed {
		transposeGroups(p.buf.qt[t*cols:(t+1)*cols], p.acts[t].qs)
	}
}

// dotStep runs the rows of matrices [from, to) of the job in chunks.
func (p *Pool) dotStep(from, to int, parallel bool) {
	j := &p.job
	j.kind = jobDot
	chunks := 0
	for i := range j.starts {
		j.starts[i] = 0
	}
	for i := from; i < to; i++ {
		w := j.mats[i]
		rows := max(1, w.Rows/(8*p.threads))
		if j.n > 1 {
			rows = min(rows, max(1, chunkBytes/w.RowBytes()))
		}
		j.rows[i] = rows
		j.starts[i] = chunks
		chunks += (w.Rows + rows - 1) / rows
	}
	for i := to; i <= maxMats; i++ {
		j.starts[i] = chunks
	}
	if parallel {
		p.run(chunks)
		return
	}
	j.chunks = chunks
	for c := range chunks {
		p.dotChunk(c, 0)
	}
}

// dotChunk computes chunk c of a dot step: a range of one matrix's rows
// against every token.
func (p *Pool) dotChunk(c, id int) {
	j := &p.job
	i := 0
	for c >= j.starts[i+1] {
		i++
	}
	w, k, dst := j.mats[i], j.k[i], j.dsts[i]
	r0 := (c - j.starts[i]) * j.rows[i]
	r1 := min(r0+j.rows[i], w.Rows)
	rb := w.RowBytes()
	acts := p.acts[:j.n]
	if k.tile != nil && (w.Cols/k.act.blockLen())%k.tileGroup == 0 {
		ta := &p.ws[id].tile
		tile := k.tile
		switch {
		case k.usesPTile(j.n):
			tile = k.ptile
		case k.usesMTile(j.n):
			tile = k.mtile
		}
		for t0 := 0; t0 < j.n; t0 += tileTokens {
			t1 := min(t0+tileTokens, j.n)
			*ta = tileArgs{w: &w.Data[r0*rb], rowBytes: rb, rows: r1 - r0, tokens: t1 - t0,
				dst: &dst[t0*w.Rows+r0], dstStride: 4 * w.Rows, blocks: w.Cols / k.act.blockLen() / k.tileGroup}
			ta.setActs(&p.buf, t0)
			tile(ta)
		}
		return
	}
	if k.act == actF32 && j.n > 1 {
		// Decode each float row once and reuse it for every token: the
		// float kernels are "decode exactly, then DotF32", so this is the
		// same arithmetic.
		buf := grow(p.ws[id].row, w.Cols)
		p.ws[id].row = buf
		dec := decoders[w.Type]
		for r := r0; r < r1; r++ {
			dec(buf, w.Data[r*rb:(r+1)*rb])
			for t := range acts {
				dst[t*w.Rows+r] = DotF32(buf, acts[t].f)
			}
		}
		return
	}
	for t0 := 0; t0 < j.n; t0 += tileTokens {
		t1 := min(t0+tileTokens, j.n)
		for r := r0; r < r1; r++ {
			row := w.Data[r*rb : (r+1)*rb]
			for t := t0; t < t1; t++ {
				dst[t*w.Rows+r] = k.dot(row, &acts[t])
			}
		}
	}
}
