package tensor

import (
	"encoding/binary"
	"math"
)

// Dot kernels for the k-quants against Q8_K activations (the
// ggml_vec_dot_*_q8_K family).
//
// Canonical order. For super-block b, with integer weight levels w_e,
// per-16-element scales sc_g and mins m_g (sub-blocks of 32 share one pair),
// activation quants q_e and group sums bsum_g = Σ_{e∈g} q_e, compute exactly
// in int32:
//
//	isum_b = Σ_g sc_g · Σ_{e∈g} w_e·q_e      msum_b = Σ_g m_g · bsum_g
//
// then with the weight's d, dmin (f16; Q8_K: f32) and the activation's d:
//
//	term_b = float32(float32(isum_b)·float32(d·dx)) - float32(float32(msum_b)·float32(dmin·dx))
//
// (the second product is absent for Q3_K, Q6_K and Q8_K), accumulated in
// the eight block lanes acc[b%8] and folded by reduce8, as in dot_q.go.
// The levels are those of the dequantisers: Q2_K q ∈ [0,3] with
// sc = scales&15, m = scales>>4; Q3_K q-4 with the 6-bit scale-32; Q4_K and
// Q5_K q with get_scale_min_k4's pair; Q6_K q-32 with the int8 scale.

// termK is the canonical super-block term of a format with mins.
func termK(isum, msum int32, d, dmin, dx float32) float32 {
	return float32(float32(isum)*float32(d*dx)) - float32(float32(msum)*float32(dmin*dx))
}

func dotQ8K(w []byte, a *qvec) float32 {
	var acc [8]float32
	for b := range a.d {
		blk := (*[q8KBytes]byte)(w[b*q8KBytes:])
		y := (*[QK_K]int8)(a.qs[QK_K*b:])
		var s0, s1, s2, s3 int32
		for j := 0; j < QK_K; j += 4 {
			s0 += int32(int8(blk[4+j])) * int32(y[j])
			s1 += int32(int8(blk[5+j])) * int32(y[j+1])
			s2 += int32(int8(blk[6+j])) * int32(y[j+2])
			s3 += int32(int8(blk[7+j])) * int32(y[j+3])
		}
		d := math.Float32frombits(binary.LittleEndian.Uint32(blk[:4]))
		acc[b&7] += term0(s0+s1+s2+s3, d, a.d[b])
	}
	return reduce8(&acc)
}

// dotKRef is the reference for the k-quants: decode every element's level
// and every group's scale and min with the dequantisers' accessors, then
// apply the canonical definition literally.
func dotKRef(t Type, w []byte, a *qvec) float32 {
	var acc [8]float32
	var lv [QK_K]int32
	var sc, mn [16]int32
	size := t.TypeSize()
	for b := range a.d {
		blk := w[b*size : (b+1)*size]
		d, dmin := levelsK(t, blk, &lv, &sc, &mn)
		var isum, msum int32
		for g := 0; g < 16; g++ {
			var s int32
			for e := 16 * g; e < 16*g+16; e++ {
				s += lv[e] * int32(a.qs[QK_K*b+e])
			}
			isum += sc[g] * s
			msum += mn[g] * a.bsum[16*b+g]
		}
		if t == Q2_K || t == Q4_K || t == Q5_K {
			acc[b%8] += termK(isum, msum, d, dmin, a.d[b])
		} else {
			acc[b%8] += term0(isum, d, a.d[b])
		}
	}
	return reduce8(&acc)
}

// levelsK decodes a k-quant super-block: value_e = d·sc_g·lv_e - dmin·mn_g
// with g = e/16.
func levelsK(t Type, blk []byte, lv *[QK_K]int32, sc, mn *[16]int32) (d, dmin float32) {
	*mn = [16]int32{}
	switch t {
	case Q2_K:
		for e := range lv {
			lv[e] = int32(q2Bits(blk[16:80], e))
		}
		for g := range sc {
			sc[g], mn[g] = int32(blk[g]&0xf), int32(blk[g]>>4)
		}
		return f16At(blk[80:]), f16At(blk[82:])
	case Q3_K:
		for e := range lv {
			lv[e] = q3KValue(blk, e)
		}
		q3KScales(sc, blk[96:108])
		return f16At(blk[108:]), 0
	case Q4_K, Q5_K:
		for e := range lv {
			if t == Q4_K {
				lv[e] = int32(q4KValue(blk[16:144], e))
			} else {
				lv[e] = int32(q4KValue(blk[48:176], e) | (blk[16+e%32]>>(e/32)&1)<<4)
			}
		}
		for g := range sc {
			s, m := getScaleMinK4(g/2, blk[4:16])
			sc[g], mn[g] = int32(s), int32(m)
		}
		return f16At(blk), f16At(blk[2:])
	case Q6_K:
		for e := range lv {
			lv[e] = q6KValue(blk, e)
		}
		for g := range sc {
			sc[g] = int32(int8(blk[192+g]))
		}
		return f16At(blk[208:]), 0
	case Q8_K:
		for e := range lv {
			lv[e] = int32(int8(blk[4+e]))
		}
		for g := range sc {
			sc[g] = 1
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(blk)), 0
	}
	return 0, 0
}
