package tensor

// tileArgs describes a tile: rows × tokens dot products of one matrix
// with quantised activations. The assembly reads it by the offsets in
// go_asm.h. Strides are in bytes.
type tileArgs struct {
	w         *byte // row 0
	rowBytes  int
	rows      int
	qs        *int8    // token 0's quants
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
	a.bsum = &b.bsum16[t*c/16]
	a.qsStride, a.bStride, a.bsStride = c, 4*nb, 2*(c/16)
}
