package tensor

import "math"

// Q4_K and Q5_K: 8 sub-blocks of 32 elements, each with a 6-bit scale and a
// 6-bit min (ggml-common.h).
//
//	Q4_K (144 bytes): d f16 | dmin f16 | scales[12] | qs[128]
//	Q5_K (176 bytes): d f16 | dmin f16 | scales[12] | qh[32] | qs[128]
//	  x = d·sc_j·q - dmin·m_j for element e in sub-block j = e/32
//
// Element e = 64c + 32h + l has its low four bits in qs[32c+l] (low nibble
// for h = 0, high for h = 1) and, in Q5_K, its fifth bit at bit 2c+h of
// qh[l]. The (sc, m) pairs are packed as in getScaleMinK4.

const (
	q4KBytes = 144
	q5KBytes = 176
)

// getScaleMinK4 unpacks sub-block j's 6-bit scale and min (get_scale_min_k4):
// j < 4 in the low six bits of bytes j and j+4; j ≥ 4 in the nibbles of
// byte j+4 plus the top two bits of bytes j-4 and j.
func getScaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | q[j-4]>>6<<4, q[j+4]>>4 | q[j]>>6<<4
}

// putScaleMinK4 packs eight (scale, min) pairs, each < 64, as getScaleMinK4
// reads them.
func putScaleMinK4(q []byte, ls, lm *[8]uint8) {
	for j := 0; j < 8; j++ {
		if j < 4 {
			q[j] = ls[j]
			q[j+4] = lm[j]
		} else {
			q[j+4] = ls[j]&0xf | (lm[j]&0xf)<<4
			q[j-4] |= ls[j] >> 4 << 6
			q[j] |= lm[j] >> 4 << 6
		}
	}
}

// q4KValue returns the 4-bit value (Q4_K) of element e from qs.
func q4KValue(qs []byte, e int) uint8 {
	v := qs[32*(e/64)+e%32]
	if e%64 >= 32 {
		return v >> 4
	}
	return v & 0xf
}

func dequantQ4K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		blk := src[b*q4KBytes : (b+1)*q4KBytes]
		d, dmin := f16At(blk), f16At(blk[2:])
		y := dst[b*QK_K : (b+1)*QK_K]
		for e := range y {
			sc, m := getScaleMinK4(e/32, blk[4:16])
			dl, ml := d*float32(sc), dmin*float32(m)
			y[e] = float32(dl*float32(q4KValue(blk[16:144], e))) - ml
		}
	}
}

func dequantQ5K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		blk := src[b*q5KBytes : (b+1)*q5KBytes]
		d, dmin := f16At(blk), f16At(blk[2:])
		y := dst[b*QK_K : (b+1)*QK_K]
		for e := range y {
			sc, m := getScaleMinK4(e/32, blk[4:16])
			dl, ml := d*float32(sc), dmin*float32(m)
			q := q4KValue(blk[48:176], e) | (blk[16+e%32]>>(e/32)&1)<<4
			y[e] = float32(dl*float32(q)) - ml
		}
	}
}

// quantKX2 is the common body of quantize_row_q4_K_ref and
// quantize_row_q5_K_ref for one super-block: per sub-block a make_qkx2_quants
// fit with weights rms(x)+|x|, the scales and mins quantised to 6 bits, then
// the elements requantised to [0, nmax]. It fills blk's d, dmin and scales
// and returns the levels in L.
func quantKX2(p qkx2Params, blk []byte, x []float32, L *[QK_K]uint8) {
	var (
		laux         [32]uint8
		w            [32]float32
		scales, mins [8]float32
		ls, lm       [8]uint8
		maxS, maxM   float32
	)
	for j := 0; j < 8; j++ {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := float32(math.Sqrt(float64(sumX2 / 32)))
		for l, v := range xs {
			w[l] = avX + absf(v)
		}
		scales[j], mins[j] = makeQKX2Quants(p, xs, w[:], L[32*j:], laux[:])
		if scales[j] > maxS {
			maxS = scales[j]
		}
		if mins[j] > maxM {
			maxM = mins[j]
		}
	}
	var invS, invM float32
	if maxS > 0 {
		invS = 63 / maxS
	}
	if maxM > 0 {
		invM = 63 / maxM
	}
	for j := 0; j < 8; j++ {
		ls[j] = min(63, uint8(nearestInt(invS*scales[j])))
		lm[j] = min(63, uint8(nearestInt(invM*mins[j])))
	}
	putScaleMinK4(blk[4:16], &ls, &lm)
	putF16(blk, maxS/63)
	putF16(blk[2:], maxM/63)
	d, dmin := f16At(blk), f16At(blk[2:])
	for j := 0; j < 8; j++ {
		sc, m := getScaleMinK4(j, blk[4:16])
		dl := d * float32(sc)
		if dl == 0 {
			continue
		}
		ml := dmin * float32(m)
		for i := 32 * j; i < 32*j+32; i++ {
			L[i] = uint8(clampInt(nearestInt((x[i]+ml)/dl), 0, p.nmax))
		}
	}
}

// quantQ4K follows quantize_row_q4_K_ref.
func quantQ4K(dst []byte, src []float32) {
	var L [QK_K]uint8
	p := qkx2Params{nmax: 15, rmin: -1, rdelta: 0.1, nstep: 20}
	for b := 0; b < len(src)/QK_K; b++ {
		blk := dst[b*q4KBytes : (b+1)*q4KBytes]
		quantKX2(p, blk, src[b*QK_K:(b+1)*QK_K], &L)
		qs := blk[16:144]
		for c := 0; c < 4; c++ {
			for l := 0; l < 32; l++ {
				qs[32*c+l] = L[64*c+l] | L[64*c+l+32]<<4
			}
		}
	}
}

// quantQ5K follows quantize_row_q5_K_ref.
func quantQ5K(dst []byte, src []float32) {
	var L [QK_K]uint8
	p := qkx2Params{nmax: 31, rmin: -0.5, rdelta: 0.1, nstep: 15}
	for b := 0; b < len(src)/QK_K; b++ {
		blk := dst[b*q5KBytes : (b+1)*q5KBytes]
		quantKX2(p, blk, src[b*QK_K:(b+1)*QK_K], &L)
		qh, qs := blk[16:48], blk[48:176]
		clear(qh)
		for c := 0; c < 4; c++ {
			for l := 0; l < 32; l++ {
				l1, l2 := L[64*c+l], L[64*c+l+32]
				if l1 > 15 {
					l1 -= 16
					qh[l] |= 1 << (2 * c)
				}
				if l2 > 15 {
					l2 -= 16
					qh[l] |= 2 << (2 * c)
				}
				qs[32*c+l] = l1 | l2<<4
			}
		}
	}
}
