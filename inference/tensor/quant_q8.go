package tensor

import (
	"encoding/binary"
	"math"
)

// 8-bit formats. Block layouts (ggml-common.h), little-endian:
//
//	Q8_0 (34 bytes / 32):  d f16 | qs[32] int8              x = d·q
//	Q8_1 (36 bytes / 32):  d f16 | s f16 | qs[32] int8      x = d·q, s = d·Σq
//	Q8_K (292 bytes / 256): d f32 | qs[256] int8 | bsums[16] int16 (Σq per 16)
//
// Q8_0, Q8_1 and Q8_K are also the "vec dot types": the formats activations
// are quantised to before an integer dot product with Q4_0/Q5_0/Q8_0, with
// Q4_1/Q5_1 and with the k-quants respectively.

const (
	q8_0Bytes = 34
	q8_1Bytes = 36
	q8KBytes  = 292
)

func dequantQ8_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*q8_0Bytes : (b+1)*q8_0Bytes]
		d := f16At(blk)
		y := dst[b*32 : b*32+32]
		for j := range y {
			y[j] = float32(int8(blk[2+j])) * d
		}
	}
}

func dequantQ8_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*q8_1Bytes : (b+1)*q8_1Bytes]
		d := f16At(blk)
		y := dst[b*32 : b*32+32]
		for j := range y {
			y[j] = float32(int8(blk[4+j])) * d
		}
	}
}

func dequantQ8K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		blk := src[b*q8KBytes : (b+1)*q8KBytes]
		d := math.Float32frombits(binary.LittleEndian.Uint32(blk))
		y := dst[b*QK_K : (b+1)*QK_K]
		for j := range y {
			y[j] = float32(int8(blk[4+j])) * d
		}
	}
}

// q8Scale returns ggml's Q8_0/Q8_1 scale d = amax/127 and its inverse.
func q8Scale(x []float32) (d, id float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, absf(v))
	}
	d = amax / 127
	if d != 0 {
		id = 1 / d
	}
	return d, id
}

// quantQ8_0 follows quantize_row_q8_0_ref: q = roundf(x/d), d = amax/127.
func quantQ8_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : b*32+32]
		blk := dst[b*q8_0Bytes : (b+1)*q8_0Bytes]
		d, id := q8Scale(x)
		putF16(blk, d)
		for j, v := range x {
			blk[2+j] = byte(int8(roundAway(v * id)))
		}
	}
}

// quantQ8_1 follows quantize_row_q8_1_ref; s = fp16(d·Σq) with the unrounded d.
func quantQ8_1(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : b*32+32]
		blk := dst[b*q8_1Bytes : (b+1)*q8_1Bytes]
		d, id := q8Scale(x)
		putF16(blk, d)
		sum := 0
		for j, v := range x {
			q := int8(roundAway(v * id))
			blk[4+j] = byte(q)
			sum += int(q)
		}
		putF16(blk[2:], float32(sum)*d)
	}
}

// quantQ8K follows quantize_row_q8_K_ref: the scale maps the element of
// largest magnitude to -127 (so q ∈ [-127,127] up to rounding), d = 1/iscale.
func quantQ8K(dst []byte, src []float32) {
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		blk := dst[b*q8KBytes : (b+1)*q8KBytes]
		var maxv, amax float32
		for _, v := range x {
			if a := absf(v); a > amax {
				amax, maxv = a, v
			}
		}
		if amax == 0 {
			clear(blk)
			continue
		}
		iscale := -127 / maxv
		for j, v := range x {
			blk[4+j] = byte(int8(min(127, nearestInt(iscale*v))))
		}
		for g := 0; g < QK_K/16; g++ {
			sum := 0
			for _, q := range blk[4+16*g : 4+16*g+16] {
				sum += int(int8(q))
			}
			binary.LittleEndian.PutUint16(blk[260+2*g:], uint16(int16(sum)))
		}
		binary.LittleEndian.PutUint32(blk, math.Float32bits(1/iscale))
	}
}
