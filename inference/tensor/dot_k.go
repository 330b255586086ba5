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

// dot16 returns Σ_{l<16} int32(a[l])·int32(y[l]) for unsigned levels a.
func dot16(a *[16]uint8, y *[16]int8) int32 {
	var s0, s1, s2, s3 int32
	for l := 0; l < 16; l += 4 {
		s0 += int32(a[l]) * int32(y[l])
		s1 += int32(a[l+1]) * int32(y[l+1])
		s2 += int32(a[l+2]) * int32(y[l+2])
		s3 += int32(a[l+3]) * int32(y[l+3])
	}
	return s0 + s1 + s2 + s3
}

func dotQ4K(w []byte, a *qvec) float32 {
	var acc [8]float32
	var lo, hi [32]uint8
	for b := range a.d {
		blk := (*[q4KBytes]byte)(w[b*q4KBytes:])
		y := (*[QK_K]int8)(a.qs[QK_K*b:])
		bs := (*[16]int32)(a.bsum[16*b:])
		var isum, msum int32
		for c := 0; c < 4; c++ {
			qs := (*[32]byte)(blk[16+32*c:])
			for l, q := range qs {
				lo[l], hi[l] = q&0xf, q>>4
			}
			sc0, m0 := getScaleMinK4(2*c, blk[4:16])
			sc1, m1 := getScaleMinK4(2*c+1, blk[4:16])
			s0 := dot16((*[16]uint8)(lo[:16]), (*[16]int8)(y[64*c:])) +
				dot16((*[16]uint8)(lo[16:]), (*[16]int8)(y[64*c+16:]))
			s1 := dot16((*[16]uint8)(hi[:16]), (*[16]int8)(y[64*c+32:])) +
				dot16((*[16]uint8)(hi[16:]), (*[16]int8)(y[64*c+48:]))
			isum += int32(sc0)*s0 + int32(sc1)*s1
			msum += int32(m0)*(bs[4*c]+bs[4*c+1]) + int32(m1)*(bs[4*c+2]+bs[4*c+3])
		}
		d := f16Table[uint16(blk[0])|uint16(blk[1])<<8]
		dmin := f16Table[uint16(blk[2])|uint16(blk[3])<<8]
		acc[b&7] += termK(isum, msum, d, dmin, a.d[b])
	}
	return reduce8(&acc)
}

func dotQ5K(w []byte, a *qvec) float32 {
	var acc [8]float32
	var lo, hi [32]uint8
	for b := range a.d {
		blk := (*[q5KBytes]byte)(w[b*q5KBytes:])
		y := (*[QK_K]int8)(a.qs[QK_K*b:])
		bs := (*[16]int32)(a.bsum[16*b:])
		qh := (*[32]byte)(blk[16:48])
		var isum, msum int32
		for c := 0; c < 4; c++ {
			qs := (*[32]byte)(blk[48+32*c:])
			for l, q := range qs {
				h := qh[l] >> (2 * c)
				lo[l], hi[l] = q&0xf|(h&1)<<4, q>>4|(h&2)<<3
			}
			sc0, m0 := getScaleMinK4(2*c, blk[4:16])
			sc1, m1 := getScaleMinK4(2*c+1, blk[4:16])
			s0 := dot16((*[16]uint8)(lo[:16]), (*[16]int8)(y[64*c:])) +
				dot16((*[16]uint8)(lo[16:]), (*[16]int8)(y[64*c+16:]))
			s1 := dot16((*[16]uint8)(hi[:16]), (*[16]int8)(y[64*c+32:])) +
				dot16((*[16]uint8)(hi[16:]), (*[16]int8)(y[64*c+48:]))
			isum += int32(sc0)*s0 + int32(sc1)*s1
			msum += int32(m0)*(bs[4*c]+bs[4*c+1]) + int32(m1)*(bs[4*c+2]+bs[4*c+3])
		}
		d := f16Table[uint16(blk[0])|uint16(blk[1])<<8]
		dmin := f16Table[uint16(blk[2])|uint16(blk[3])<<8]
		acc[b&7] += termK(isum, msum, d, dmin, a.d[b])
	}
	return reduce8(&acc)
}

func dotQ6K(w []byte, a *qvec) float32 {
	var acc [8]float32
	var lv [4][32]uint8 // unsigned levels q ∈ [0,63] of one 128-element chunk
	for b := range a.d {
		blk := (*[q6KBytes]byte)(w[b*q6KBytes:])
		y := (*[QK_K]int8)(a.qs[QK_K*b:])
		bs := (*[16]int32)(a.bsum[16*b:])
		var isum, msum int32
		for c := 0; c < 2; c++ {
			ql := (*[64]byte)(blk[64*c:])
			qh := (*[32]byte)(blk[128+32*c:])
			for l := 0; l < 32; l++ {
				h := qh[l]
				lv[0][l] = ql[l]&0xf | (h&3)<<4
				lv[1][l] = ql[l+32]&0xf | (h>>2&3)<<4
				lv[2][l] = ql[l]>>4 | (h>>4&3)<<4
				lv[3][l] = ql[l+32]>>4 | (h>>6)<<4
			}
			for k := 0; k < 4; k++ {
				for h := 0; h < 2; h++ {
					g := 8*c + 2*k + h
					sc := int32(int8(blk[192+g]))
					isum += sc * dot16((*[16]uint8)(lv[k][16*h:]), (*[16]int8)(y[16*g:]))
					msum += sc * bs[g]
				}
			}
		}
		// Σ sc·(q-32)·y = Σ sc·q·y - 32·Σ sc·bsum.
		isum -= 32 * msum
		d := f16Table[uint16(blk[208])|uint16(blk[209])<<8]
		acc[b&7] += term0(isum, d, a.d[b])
	}
	return reduce8(&acc)
}

func dotQ2K(w []byte, a *qvec) float32 {
	var acc [8]float32
	var lv [16]uint8
	for b := range a.d {
		blk := (*[q2KBytes]byte)(w[b*q2KBytes:])
		y := (*[QK_K]int8)(a.qs[QK_K*b:])
		bs := (*[16]int32)(a.bsum[16*b:])
		var isum, msum int32
		for g := 0; g < 16; g++ {
			// Group g = 8c + 2j + h: bits 2j of qs[32c + 16h + l].
			c, j, h := g/8, g%8/2, g%2
			qs := (*[16]byte)(blk[16+32*c+16*h:])
			for l, q := range qs {
				lv[l] = q >> (2 * j) & 3
			}
			sc := blk[g]
			isum += int32(sc&0xf) * dot16(&lv, (*[16]int8)(y[16*g:]))
			msum += int32(sc>>4) * bs[g]
		}
		d := f16Table[uint16(blk[80])|uint16(blk[81])<<8]
		dmin := f16Table[uint16(blk[82])|uint16(blk[83])<<8]
		acc[b&7] += termK(isum, msum, d, dmin, a.d[b])
	}
	return reduce8(&acc)
}

func dotQ3K(w []byte, a *qvec) float32 {
	var acc [8]float32
	var lv [16]uint8
	var sc [16]int32
	for b := range a.d {
		blk := (*[q3KBytes]byte)(w[b*q3KBytes:])
		y := (*[QK_K]int8)(a.qs[QK_K*b:])
		bs := (*[16]int32)(a.bsum[16*b:])
		q3KScales(&sc, blk[96:108])
		var isum int32
		for g := 0; g < 16; g++ {
			// Unsigned level q ∈ [0,7]: low bits, plus 4 where the hmask bit
			// is set; the signed level is q-4, so Σ(q-4)·y = Σq·y - 4·bsum.
			c, j, h := g/8, g%8/2, g%2
			qs := (*[16]byte)(blk[32+32*c+16*h:])
			hm := (*[16]byte)(blk[16*h:])
			shift := 4*c + j
			for l, q := range qs {
				lv[l] = q>>(2*j)&3 | (hm[l]>>shift&1)<<2
			}
			isum += sc[g] * (dot16(&lv, (*[16]int8)(y[16*g:])) - 4*bs[g])
		}
		d := f16Table[uint16(blk[108])|uint16(blk[109])<<8]
		acc[b&7] += term0(isum, d, a.d[b])
	}
	return reduce8(&acc)
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
