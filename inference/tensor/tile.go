package tensor

// tileArgs describes a tile: rows × tokens dot products of one matrix
// with quantised activations. The assembly reads it by the offsets in
// go_asm.h. Strides are in bytes.
type tileArgs struct {
	w         *byte // row 0
	rowBytes  int
	rows      int
	qs        *int8    // token 0's quants
	qt        *int8    // token 0's quants transposed by groups of eight blocks (transposeGroups)
	d, s      *float32 // token 0's per-block scales (and Q8_1 s)
	sum       *int32   // token 0's per-block Σq (Q8_0/Q8_1)
	bsum      *int16   // token 0's Σq per 16 (Q8_K)
	tokens    int
	qsStride  int // between tokens' quants
	bStride   int // between tokens' per-block arrays (d, s, sum)
	bsStride  int // between tokens' bsum
	dst       *float32
	dstStride int         // between tokens' outputs
	blocks    int         // groups of eight blocks (32-element formats) or super-blocks
	accOut    *[8]float32 // set: one row and token, store the lanes
}

// setActs points a at token t of the quantised activations in b.
func (a *tileArgs) setActs(b *qbuf, t int) {
	c, nb := b.cols, b.blocks
	a.qs, a.d, a.s, a.sum = &b.qs[t*c], &b.d[t*nb], &b.s[t*nb], &b.sum[t*nb]
	if len(b.qt) > 0 {
		a.qt = &b.qt[t*c]
	}
	a.bsum = &b.bsum16[t*c/16]
	a.qsStride, a.bStride, a.bsStride = c, 4*nb, 2*(c/16)
}

// transposeGroups writes q's groups of eight 32-element blocks as 8×8
// matrices of 4-byte words, transposed: word k of block i goes to word i of
// row k. The multi-token kernels read the activations this way (lane i of
// a register is block i). A trailing partial group is left out.
func transposeGroups(dst, q []int8) {
	for g := 0; g+256 <= len(q); g += 256 {
		src, out := q[g:g+256], dst[g:g+256]
		for i := 0; i < 8; i++ {
			for k := 0; k < 8; k++ {
				copy(out[32*k+4*i:32*k+4*i+4], src[32*i+4*k:32*i+4*k+4])
			}
		}
	}
}
