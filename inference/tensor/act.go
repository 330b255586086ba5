package tensor

import "math"

// Activations. Before a dot product with a quantised weight row, the
// activation vector x is quantised once per call into the weight format's
// "vec dot type", exactly as ggml's quantize_row_q8_0/q8_1/q8_K_ref do:
//
//	Q8_0 (for Q4_0, Q5_0, Q8_0): per 32 elements d = amax/127,
//	    q = roundf(x·(1/d)); d is then rounded through f16 as ggml stores it.
//	Q8_1 (for Q4_1, Q5_1): as Q8_0, plus s = f16(Σq · d) with the unrounded d
//	    (so where d flushes to zero in f16, a weight's min still meets Σx).
//	Q8_K (for the k-quants): per 256 elements d = max/-127 (max the element
//	    of largest magnitude), q = min(127, nearest_even(x/d)), d kept as
//	    float32, plus Σq per 16 elements.
//
// The quantised values are held in a struct-of-arrays (qvec) rather than in
// ggml's byte blocks; the numbers are the same.

// actFormat is the form of the activations a weight type's kernel reads.
type actFormat uint8

const (
	actF32  actFormat = iota // raw float32 (F32, F16, BF16 weights)
	actQ8_0                  // Q4_0, Q5_0, Q8_0 weights
	actQ8_1                  // Q4_1, Q5_1 weights
	actQ8K                   // Q2_K … Q8_K weights
)

// blockLen is the number of elements per activation block of the format.
func (f actFormat) blockLen() int {
	switch f {
	case actQ8_0, actQ8_1:
		return 32
	case actQ8K:
		return QK_K
	}
	return 1
}

// qvec is one token's activation vector in the form a kernel consumes.
type qvec struct {
	f    []float32 // actF32: x itself
	qs   []int8    // quantised elements (len n)
	d    []float32 // per block: scale (f16-rounded for Q8_0/Q8_1)
	s    []float32 // actQ8_1, per block: f16(d·Σq)
	sum  []int32   // actQ8_0/actQ8_1, per 32 block: Σq
	bsum []int32   // actQ8K, per 16 elements: Σq
	bs16 []int16   // actQ8K: bsum as int16 (for the assembly kernels)
	yw   []int64   // SWAR words, two per 8 elements (see dot_swar.go)
}

// qbuf is scratch for the quantised activations of several tokens.
type qbuf struct {
	qs, qt          []int8 // qt: qs by transposeGroups, when a kernel reads it
	kpack           []byte // Q8_K by token blocks (packK), when a kernel reads it
	qpack           []byte // Q8_0/Q8_1 by token blocks (packQ), when a kernel reads it
	d, s            []float32
	sum, bsum       []int32
	bsum16          []int16
	yw              []int64
	format          actFormat
	cols, blocks, n int
}

// reset sizes b for n tokens of cols elements in format f, reusing memory.
func (b *qbuf) reset(f actFormat, n, cols int) {
	b.format, b.cols, b.n = f, cols, n
	if f == actF32 {
		return
	}
	b.blocks = cols / f.blockLen()
	b.qs = grow(b.qs, n*cols)
	b.d = grow(b.d, n*b.blocks)
	b.s = grow(b.s, n*b.blocks)
	b.sum = grow(b.sum, n*b.blocks)
	b.bsum = grow(b.bsum, n*cols/16)
	b.bsum16 = grow(b.bsum16, n*cols/16)
	b.yw = grow(b.yw, n*cols/4)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// token returns the view of token t's quantised activation (not for actF32).
func (b *qbuf) token(t int) qvec {
	c, nb := b.cols, b.blocks
	return qvec{
		qs:   b.qs[t*c : (t+1)*c],
		d:    b.d[t*nb : (t+1)*nb],
		s:    b.s[t*nb : (t+1)*nb],
		sum:  b.sum[t*nb : (t+1)*nb],
		bsum: b.bsum[t*c/16 : (t+1)*c/16],
		bs16: b.bsum16[t*c/16 : (t+1)*c/16],
		yw:   b.yw[t*c/4 : (t+1)*c/4],
	}
}

// quantize fills v (sized for len(x)) from x in format f, with the SWAR
// words if packY (only the portable block kernels read them).
func (v *qvec) quantize(f actFormat, x []float32, packY bool) {
	switch f {
	case actQ8_0, actQ8_1:
		for b := 0; b < len(v.d); b++ {
			if useFastQuant {
				sub := *v
				sub.qs, sub.d, sub.s, sub.sum = v.qs[32*b:], v.d[b:], v.s[b:], v.sum[b:]
				if b += quantQ8Fast(&sub, x[32*b:]); b == len(v.d) {
					break
				}
			}
			quantQ8Block(v, b, x[32*b:32*b+32])
		}
	case actQ8K:
		for b := 0; b < len(v.d); b++ {
			if useFastQuant {
				sub := *v
				sub.qs, sub.d, sub.bsum, sub.bs16 = v.qs[QK_K*b:], v.d[b:], v.bsum[16*b:], v.bs16[16*b:]
				if b += quantQ8KFast(&sub, x[QK_K*b:]); b == len(v.d) {
					break
				}
			}
			quantQ8KBlock(v, b, x[QK_K*b:QK_K*b+QK_K])
		}
	}
	if f != actF32 && packY {
		packYWords(v.yw, v.qs)
	}
}

// useFastQuant lets quantize use the assembly quantiser (tests turn it
// off to compare).
var useFastQuant = true

// quantQ8Block quantises block b of a Q8_0/Q8_1 activation.
//
// It follows llama.cpp's CPU backend (the SIMD quantize_row_q8_0/q8_1 on x86
// and ARM), not ggml's scalar reference, so that logits match llama.cpp:
// the inverse scale is 127/amax (not 1/d) and rounding is ties-to-even.
func quantQ8Block(v *qvec, b int, x []float32) {
	var amax float32
	for _, xv := range x[:32] {
		amax = max(amax, absf(xv))
	}
	d, id := amax/127, float32(0)
	if amax != 0 {
		id = 127 / amax
	}
	q := v.qs[32*b : 32*b+32]
	sum := int32(0)
	for j, xv := range x[:32] {
		qj := int8(nearestInt(xv * id))
		q[j] = qj
		sum += int32(qj)
	}
	v.d[b] = roundF16(d)
	v.s[b] = roundF16(float32(sum) * d)
	v.sum[b] = sum
}

// quantQ8KBlock quantises super-block b of a Q8_K activation.
func quantQ8KBlock(v *qvec, b int, x []float32) {
	q := v.qs[QK_K*b : QK_K*b+QK_K]
	bs := v.bsum[16*b : 16*b+16]
	var maxv, amax float32
	nan := false
	for _, xv := range x[:QK_K] {
		if a := absf(xv); a > amax {
			amax, maxv = a, xv
		}
		nan = nan || xv != xv
	}
	if amax == 0 || nan {
		// All zero, or a NaN that nearest-int rounding would silently turn
		// into 0: a NaN scale makes it poison the dot product instead.
		clear(q)
		clear(bs)
		clear(v.bs16[16*b : 16*b+16])
		v.d[b] = 0
		if nan {
			v.d[b] = float32(math.NaN())
		}
		return
	}
	iscale := -127 / maxv
	for j, xv := range x[:QK_K] {
		q[j] = int8(min(127, nearestInt(iscale*xv)))
	}
	for g := range bs {
		s := int32(0)
		for _, qv := range q[16*g : 16*g+16] {
			s += int32(qv)
		}
		bs[g] = s
		v.bs16[16*b+g] = int16(s)
	}
	v.d[b] = 1 / iscale
}
