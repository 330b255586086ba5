package tensor

// Q6_K (210 bytes / 256): ql[128] | qh[64] | scales[16] int8 | d f16
// (ggml-common.h). x = d·sc_j·(q-32) with q ∈ [0,63] and j = e/16.
//
// Element e = 128c + 32k + l has its low four bits in ql[64c + l + 32(k&1)]
// (low nibble for k < 2, high nibble for k ≥ 2) and its top two bits at bits
// 2k of qh[32c + l].

const q6KBytes = 210

// q6KValue returns the signed 6-bit value (q-32 ∈ [-32,31]) of element e.
func q6KValue(blk []byte, e int) int32 {
	c, k, l := e/128, e%128/32, e%32
	lo := blk[64*c+l+32*(k&1)]
	if k >= 2 {
		lo >>= 4
	}
	hi := blk[128+32*c+l] >> (2 * k) & 3
	return int32(lo&0xf|hi<<4) - 32
}

func dequantQ6K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		blk := src[b*q6KBytes : (b+1)*q6KBytes]
		d := f16At(blk[208:])
		y := dst[b*QK_K : (b+1)*QK_K]
		for e := range y {
			dl := d * float32(int8(blk[192+e/16]))
			y[e] = dl * float32(q6KValue(blk, e))
		}
	}
}

// quantQ6K follows quantize_row_q6_K_ref: per sub-block of 16 a symmetric
// 6-bit fit (make_qx_quants), the scales quantised to int8 against the scale
// of largest magnitude, then the elements requantised.
func quantQ6K(dst []byte, src []float32) {
	var (
		L      [QK_K]int8
		scales [16]float32
	)
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		blk := dst[b*q6KBytes : (b+1)*q6KBytes]
		var maxScale, maxAbs float32
		for j := 0; j < 16; j++ {
			scales[j] = makeQXQuants(32, x[16*j:16*j+16], L[16*j:])
			if a := absf(scales[j]); a > maxAbs {
				maxAbs, maxScale = a, scales[j]
			}
		}
		if maxAbs < groupMaxEps {
			clear(blk)
			continue
		}
		iscale := -128 / maxScale
		putF16(blk[208:], 1/iscale)
		for j := 0; j < 16; j++ {
			blk[192+j] = byte(int8(min(127, nearestInt(iscale*scales[j]))))
		}
		d := f16At(blk[208:])
		for j := 0; j < 16; j++ {
			dl := d * float32(int8(blk[192+j]))
			if dl == 0 {
				continue
			}
			for i := 16 * j; i < 16*j+16; i++ {
				L[i] = int8(clampInt(nearestInt(x[i]/dl), -32, 31) + 32)
			}
		}
		packQ6K(blk, &L)
	}
}

// packQ6K stores the levels L[e] ∈ [0,63] in ql and qh.
func packQ6K(blk []byte, L *[QK_K]int8) {
	ql, qh := blk[:128], blk[128:192]
	for c := 0; c < 2; c++ {
		for l := 0; l < 32; l++ {
			var q [4]uint8
			for k := range q {
				q[k] = uint8(L[128*c+32*k+l])
			}
			ql[64*c+l] = q[0]&0xf | q[2]&0xf<<4
			ql[64*c+l+32] = q[1]&0xf | q[3]&0xf<<4
			qh[32*c+l] = q[0]>>4 | q[1]>>4<<2 | q[2]>>4<<4 | q[3]>>4<<6
		}
	}
}
