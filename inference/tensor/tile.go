package tensor

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// tileArgs describes a tile: rows × tokens dot products of one matrix
// with quantised activations. The assembly reads it by the offsets in
// go_asm.h. Strides are in bytes.
type tileArgs struct {
	w         *byte // row 0
	rowBytes  int
	rows      int
	qs        *int8    // token 0's quants
	qt        *int8    // token 0's quants transposed by groups of eight blocks (transposeGroups)
	kpack     *byte    // token block 0 of the packed Q8_K activations (packK)
	qpack     *byte    // token block 0 of the packed Q8_0/Q8_1 activations (packQ)
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
	if len(b.kpack) > 0 {
		a.kpack = &b.kpack[t/8*nb*kpackBytes]
	}
	if len(b.qpack) > 0 {
		a.qpack = &b.qpack[t/8*(nb/8)*qpackBytes]
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

// kpackBytes is the size of one token block's super-block in packK's
// layout: eight tokens' transposed quants (256 bytes each), their eight Σq
// per 32 elements (int32), their eight scales (float32).
const kpackBytes = 8*QK_K + 8*8*4 + 8*4

// packK lays out token block tb (tokens 8·tb … 8·tb+7) of the Q8_K
// activations in b for the multi-token k-quant kernels: per super-block,
// kpackBytes as described there. Tokens past b.n are zeros.
func (b *qbuf) packK(tb int) {
	nb := b.blocks
	for sb := range nb {
		out := b.kpack[(tb*nb+sb)*kpackBytes : (tb*nb+sb+1)*kpackBytes]
		for t := range 8 {
			tok := 8*tb + t
			if tok >= b.n {
				clear(out[QK_K*t : QK_K*(t+1)])
				clear(out[8*QK_K+32*t : 8*QK_K+32*(t+1)])
				binary.LittleEndian.PutUint32(out[8*QK_K+256+4*t:], 0)
				continue
			}
			q := b.qs[tok*b.cols+sb*QK_K : tok*b.cols+(sb+1)*QK_K]
			transposeGroups(unsafe.Slice((*int8)(unsafe.Pointer(&out[QK_K*t])), QK_K), q)
			bs := b.bsum[tok*b.cols/16+16*sb:]
			for j := range 8 {
				binary.LittleEndian.PutUint32(out[8*QK_K+32*t+4*j:], uint32(bs[2*j]+bs[2*j+1]))
			}
			binary.LittleEndian.PutUint32(out[8*QK_K+256+4*t:], math.Float32bits(b.d[tok*nb+sb]))
		}
	}
}

// qpackBytes is the size of one token block's group of eight blocks in
// packQ's layout: eight tokens' transposed quants (256 bytes each), their
// eight scales (float32), and their eight -Σq (Q8_0, int32) or s (Q8_1,
// float32).
const qpackBytes = 8*256 + 8*8*4 + 8*8*4

// packQ lays out token block tb of the Q8_0/Q8_1 activations in b for the
// eight-token kernels: per group of eight blocks, qpackBytes as described
// there. Tokens past b.n are zeros. A trailing partial group is left out.
func (b *qbuf) packQ(tb int) {
	groups := b.blocks / 8
	for g := range groups {
		out := b.qpack[(tb*groups+g)*qpackBytes : (tb*groups+g+1)*qpackBytes]
		for t := range 8 {
			tok := 8*tb + t
			if tok >= b.n {
				clear(out[256*t : 256*(t+1)])
				clear(out[2048+32*t : 2048+32*(t+1)])
				clear(out[2304+32*t : 2304+32*(t+1)])
				continue
			}
			q := b.qs[tok*b.cols+256*g : tok*b.cols+256*(g+1)]
			transposeGroups(unsafe.Slice((*int8)(unsafe.Pointer(&out[256*t])), 256), q)
			for i := range 8 {
				blk := tok*b.blocks + 8*g + i
				binary.LittleEndian.PutUint32(out[2048+32*t+4*i:], math.Float32bits(b.d[blk]))
				third := uint32(-b.sum[blk])
				if b.format == actQ8_1 {
					third = math.Float32bits(b.s[blk])
				}
				binary.LittleEndian.PutUint32(out[2304+32*t+4*i:], third)
			}
		}
	}
}
