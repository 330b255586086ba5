package tensor

// Q2_K and Q3_K: 16 sub-blocks of 16 elements (ggml-common.h).
//
//	Q2_K (84 bytes):  scales[16] | qs[64] | d f16 | dmin f16
//	  x = d·(sc&15)·q - dmin·(sc>>4), q ∈ [0,3] two bits per element
//	Q3_K (110 bytes): hmask[32] | qs[64] | scales[12] | d f16
//	  x = d·(s-32)·(q-4), q ∈ [0,7]: two low bits in qs and the third bit
//	  in hmask; s a 6-bit scale
//
// The two-bit values are packed as in packQ2Bits; element e = 128c+32j+l has
// its Q3_K high bit at bit 4c+j of hmask[l]. Sub-block scale of element e:
// scales[e/16].

const (
	q2KBytes = 84
	q3KBytes = 110
)

func dequantQ2K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		blk := src[b*q2KBytes : (b+1)*q2KBytes]
		d, dmin := f16At(blk[80:]), f16At(blk[82:])
		y := dst[b*QK_K : (b+1)*QK_K]
		for e := range y {
			sc := blk[e/16]
			dl := d * float32(sc&0xf)
			ml := dmin * float32(sc>>4)
			y[e] = float32(dl*float32(q2Bits(blk[16:80], e))) - ml
		}
	}
}

// q3KScales unpacks Q3_K's sixteen 6-bit scales (minus 32) from 12 bytes:
// low nibbles in bytes 0-7, high two bits in bytes 8-11.
func q3KScales(sc *[16]int32, s []byte) {
	for j := 0; j < 16; j++ {
		var lo byte
		if j < 8 {
			lo = s[j] & 0xf
		} else {
			lo = s[j-8] >> 4
		}
		hi := s[8+j%4] >> (2 * (j / 4)) & 3
		sc[j] = int32(lo|hi<<4) - 32
	}
}

// q3KValue returns the signed 3-bit value (q-4 ∈ [-4,3]) of element e.
func q3KValue(blk []byte, e int) int32 {
	q := int32(q2Bits(blk[32:96], e))
	if blk[e%32]>>(e/32)&1 == 0 {
		q -= 4
	}
	return q
}

func dequantQ3K(dst []float32, src []byte) {
	var sc [16]int32
	for b := 0; b < len(dst)/QK_K; b++ {
		blk := src[b*q3KBytes : (b+1)*q3KBytes]
		d := f16At(blk[108:])
		q3KScales(&sc, blk[96:108])
		y := dst[b*QK_K : (b+1)*QK_K]
		for e := range y {
			dl := d * float32(sc[e/16])
			y[e] = dl * float32(q3KValue(blk, e))
		}
	}
}

// quantQ2K follows quantize_row_q2_K_ref: per sub-block an asymmetric
// 2-bit fit (make_qkx2_quants, weights |x|, mean absolute error), then the
// scales and mins quantised to 4 bits and the elements requantised.
func quantQ2K(dst []byte, src []float32) {
	var (
		L              [QK_K]uint8
		laux           [16]uint8
		w              [16]float32
		scales, mins   [16]float32
		p              = qkx2Params{nmax: 3, rmin: -0.5, rdelta: 0.1, nstep: 15, meanAbsoluteE: true}
		maxScale, maxM float32
	)
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		blk := dst[b*q2KBytes : (b+1)*q2KBytes]
		maxScale, maxM = 0, 0
		for j := 0; j < 16; j++ {
			xs := x[16*j : 16*j+16]
			for l, v := range xs {
				w[l] = absf(v)
			}
			scales[j], mins[j] = makeQKX2Quants(p, xs, w[:], L[16*j:], laux[:])
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxM {
				maxM = mins[j]
			}
		}
		clear(blk[:16])
		if maxScale > 0 {
			iscale := 15 / maxScale
			for j := 0; j < 16; j++ {
				blk[j] = uint8(nearestInt(iscale * scales[j]))
			}
			putF16(blk[80:], maxScale/15)
		} else {
			putF16(blk[80:], 0)
		}
		if maxM > 0 {
			iscale := 15 / maxM
			for j := 0; j < 16; j++ {
				blk[j] |= uint8(nearestInt(iscale*mins[j])) << 4
			}
			putF16(blk[82:], maxM/15)
		} else {
			putF16(blk[82:], 0)
		}
		d, dmin := f16At(blk[80:]), f16At(blk[82:])
		for j := 0; j < 16; j++ {
			dl := d * float32(blk[j]&0xf)
			if dl == 0 {
				continue
			}
			ml := dmin * float32(blk[j]>>4)
			for i := 16 * j; i < 16*j+16; i++ {
				L[i] = uint8(clampInt(nearestInt((x[i]+ml)/dl), 0, 3))
			}
		}
		packQ2Bits(blk[16:80], L[:])
	}
}

// quantQ3K follows quantize_row_q3_K_ref: a symmetric 3-bit fit per
// sub-block (make_q3_quants), scales quantised to 6 bits against the scale
// of largest magnitude, then the elements requantised.
func quantQ3K(dst []byte, src []float32) {
	var (
		L      [QK_K]int8
		scales [16]float32
		sc     [16]int32
	)
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		blk := dst[b*q3KBytes : (b+1)*q3KBytes]
		var maxScale, amax float32
		for j := 0; j < 16; j++ {
			scales[j] = makeQ3Quants(4, x[16*j:16*j+16], L[16*j:])
			if a := absf(scales[j]); a > amax {
				amax, maxScale = a, scales[j]
			}
		}
		s := blk[96:108]
		clear(s)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < 16; j++ {
				l := int(int8(nearestInt(iscale * scales[j])))
				l = clampInt(l, -32, 31) + 32
				if j < 8 {
					s[j] = byte(l & 0xf)
				} else {
					s[j-8] |= byte(l&0xf) << 4
				}
				s[8+j%4] |= byte(l>>4) << (2 * (j / 4))
			}
			putF16(blk[108:], 1/iscale)
		} else {
			putF16(blk[108:], 0)
		}
		q3KScales(&sc, s)
		d := f16At(blk[108:])
		for j := 0; j < 16; j++ {
			dl := d * float32(sc[j])
			if dl == 0 {
				continue
			}
			for i := 16 * j; i < 16*j+16; i++ {
				L[i] = int8(clampInt(nearestInt(x[i]/dl), -4, 3) + 4)
			}
		}
		packQ3K(blk, &L)
	}
}

// packQ3K splits the 3-bit values L[e] ∈ [0,7] into hmask (bit 2) and qs.
func packQ3K(blk []byte, L *[QK_K]int8) {
	var low [QK_K]uint8
	hmask := blk[:32]
	clear(hmask)
	for e, v := range L {
		if v > 3 {
			hmask[e%32] |= 1 << (e / 32)
			v -= 4
		}
		low[e] = uint8(v)
	}
	packQ2Bits(blk[32:96], low[:])
}
