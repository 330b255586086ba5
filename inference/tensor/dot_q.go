package tensor

import "encoding/binary"

// Dot kernels for the 32-element block formats against Q8_0/Q8_1
// activations (the ggml_vec_dot_*_q8_0/q8_1 family).
//
// Canonical order. For block b, sumi_b = Σ_j w_j·q_j over the block's
// integer weight levels w_j (Q4_0: nibble-8, Q5_0: 5 bits-16, Q8_0: int8,
// Q4_1/Q5_1: the unsigned level) and activation quants q_j, computed
// exactly in integers (any order). Then, with dw, mw the weight block's f16
// scale and min and dx, sx the activation's scale and f16(d·Σq):
//
//	term_b = float32(float32(sumi_b) · float32(dw·dx))               Q4_0 Q5_0 Q8_0
//	term_b = float32(float32(sumi_b) · float32(dw·dx)) + float32(mw·sx)   Q4_1 Q5_1
//	acc[b%8] += term_b;  result = reduce8(acc)
//
// The k-quants use the same eight block lanes over super-blocks (dot_k.go).

// term0 is the canonical block term of a format without min.
func term0(sumi int32, dw, dx float32) float32 {
	return float32(float32(sumi) * float32(dw*dx))
}

// term1 is the canonical block term of a format with a min.
func term1(sumi int32, dw, dx, mw, sx float32) float32 {
	return float32(float32(sumi)*float32(dw*dx)) + float32(mw*sx)
}

// blockTerm32 is the canonical term of block b of a 32-element format
// (the tails of the assembly kernels).
func blockTerm32(t Type, blk []byte, a *qvec, b int) float32 {
	var lv [32]int32
	dw, mw, hasMin := levels32(t, blk, &lv)
	var sumi int32
	for j, q := range a.qs[32*b : 32*b+32] {
		sumi += lv[j] * int32(q)
	}
	if hasMin {
		return term1(sumi, dw, a.d[b], mw, a.s[b])
	}
	return term0(sumi, dw, a.d[b])
}

// dot32Ref is the reference for the 32-element block formats: decode each
// block's integer levels element by element, sum the products, and combine
// with the canonical block term.
func dot32Ref(t Type, w []byte, a *qvec) float32 {
	var acc [8]float32
	var lv [32]int32
	size := t.TypeSize()
	for b := range a.d {
		blk := w[b*size : (b+1)*size]
		dw, mw, hasMin := levels32(t, blk, &lv)
		var sumi int32
		for j, q := range a.qs[32*b : 32*b+32] {
			sumi += lv[j] * int32(q)
		}
		if hasMin {
			acc[b%8] += term1(sumi, dw, a.d[b], mw, a.s[b])
		} else {
			acc[b%8] += term0(sumi, dw, a.d[b])
		}
	}
	return reduce8(&acc)
}

// levels32 decodes one 32-element block into integer levels (so that the
// value is dw·lv + mw), following the dequantisers.
func levels32(t Type, blk []byte, lv *[32]int32) (dw, mw float32, hasMin bool) {
	dw = f16At(blk)
	switch t {
	case Q8_0:
		for j := range lv {
			lv[j] = int32(int8(blk[2+j]))
		}
	case Q4_0:
		for j := 0; j < 16; j++ {
			lv[j], lv[j+16] = int32(blk[2+j]&0xf)-8, int32(blk[2+j]>>4)-8
		}
	case Q4_1:
		for j := 0; j < 16; j++ {
			lv[j], lv[j+16] = int32(blk[4+j]&0xf), int32(blk[4+j]>>4)
		}
		return dw, f16At(blk[2:]), true
	case Q5_0:
		q5Values(lv, binary.LittleEndian.Uint32(blk[2:]), blk[6:22])
		for j := range lv {
			lv[j] -= 16
		}
	case Q5_1:
		q5Values(lv, binary.LittleEndian.Uint32(blk[4:]), blk[8:24])
		return dw, f16At(blk[2:]), true
	}
	return dw, 0, false
}
