package tensor

// 4-bit formats with 32-element blocks (ggml-common.h), little-endian:
//
//	Q4_0 (18 bytes): d f16 | qs[16]           x = d·(q-8)
//	Q4_1 (20 bytes): d f16 | m f16 | qs[16]   x = d·q + m
//
// Byte j of qs holds element j in its low nibble and element j+16 in its
// high nibble.

const (
	q4_0Bytes = 18
	q4_1Bytes = 20
)

func dequantQ4_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*q4_0Bytes : (b+1)*q4_0Bytes]
		d := f16At(blk)
		y := dst[b*32 : b*32+32]
		for j, q := range blk[2:18] {
			y[j] = float32(int(q&0xf)-8) * d
			y[j+16] = float32(int(q>>4)-8) * d
		}
	}
}

func dequantQ4_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*q4_1Bytes : (b+1)*q4_1Bytes]
		d, m := f16At(blk), f16At(blk[2:])
		y := dst[b*32 : b*32+32]
		for j, q := range blk[4:20] {
			y[j] = float32(float32(q&0xf)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
	}
}

// absMax returns the element of largest magnitude (the first one on ties)
// and its magnitude, as ggml's "amax/max" loops do.
func absMax(x []float32) (maxv, amax float32) {
	for _, v := range x {
		if a := absf(v); amax < a {
			amax, maxv = a, v
		}
	}
	return maxv, amax
}

// minMax returns the smallest and largest element.
func minMax(x []float32) (lo, hi float32) {
	lo, hi = x[0], x[0]
	for _, v := range x[1:] {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// quantQ4_0 follows quantize_row_q4_0_ref: d = max/-8 where max is the
// element of largest magnitude, q = min(15, trunc(x/d + 8.5)).
func quantQ4_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : b*32+32]
		blk := dst[b*q4_0Bytes : (b+1)*q4_0Bytes]
		maxv, _ := absMax(x)
		d := maxv / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(blk, d)
		for j := 0; j < 16; j++ {
			q0 := min(15, int8(float32(x[j]*id)+8.5))
			q1 := min(15, int8(float32(x[j+16]*id)+8.5))
			blk[2+j] = byte(q0) | byte(q1)<<4
		}
	}
}

// quantQ4_1 follows quantize_row_q4_1_ref: m = min, d = (max-min)/15,
// q = min(15, trunc((x-m)/d + 0.5)).
func quantQ4_1(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : b*32+32]
		blk := dst[b*q4_1Bytes : (b+1)*q4_1Bytes]
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(blk, d)
		putF16(blk[2:], lo)
		for j := 0; j < 16; j++ {
			q0 := min(15, int8(float32((x[j]-lo)*id)+0.5))
			q1 := min(15, int8(float32((x[j+16]-lo)*id)+0.5))
			blk[4+j] = byte(q0) | byte(q1)<<4
		}
	}
}
