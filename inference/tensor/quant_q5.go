package tensor

import "encoding/binary"

// 5-bit formats with 32-element blocks (ggml-common.h), little-endian:
//
//	Q5_0 (22 bytes): d f16 | qh u32 | qs[16]           x = d·(q-16)
//	Q5_1 (24 bytes): d f16 | m f16 | qh u32 | qs[16]   x = d·q + m
//
// The low four bits of element j are laid out as in Q4_0 (qs[j] low nibble
// for j < 16, qs[j-16] high nibble otherwise); its fifth bit is bit j of qh.

const (
	q5_0Bytes = 22
	q5_1Bytes = 24
)

// q5Values unpacks the 32 five-bit values of a block into q.
func q5Values(q *[32]int32, qh uint32, qs []byte) {
	for j := 0; j < 16; j++ {
		q[j] = int32(qs[j]&0xf) | int32(qh>>j&1)<<4
		q[j+16] = int32(qs[j]>>4) | int32(qh>>(j+16)&1)<<4
	}
}

func dequantQ5_0(dst []float32, src []byte) {
	var q [32]int32
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*q5_0Bytes : (b+1)*q5_0Bytes]
		d := f16At(blk)
		q5Values(&q, binary.LittleEndian.Uint32(blk[2:]), blk[6:22])
		y := dst[b*32 : b*32+32]
		for j := range y {
			y[j] = float32(q[j]-16) * d
		}
	}
}

func dequantQ5_1(dst []float32, src []byte) {
	var q [32]int32
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*q5_1Bytes : (b+1)*q5_1Bytes]
		d, m := f16At(blk), f16At(blk[2:])
		q5Values(&q, binary.LittleEndian.Uint32(blk[4:]), blk[8:24])
		y := dst[b*32 : b*32+32]
		for j := range y {
			y[j] = float32(float32(q[j])*d) + m
		}
	}
}

// q5Pack stores 32 five-bit values as qh (fifth bits) and qs (nibbles).
func q5Pack(qhDst, qs []byte, q *[32]uint8) {
	var qh uint32
	for j := 0; j < 16; j++ {
		qs[j] = q[j]&0xf | (q[j+16]&0xf)<<4
		qh |= uint32(q[j]&0x10>>4) << j
		qh |= uint32(q[j+16]&0x10>>4) << (j + 16)
	}
	binary.LittleEndian.PutUint32(qhDst, qh)
}

// quantQ5_0 follows quantize_row_q5_0_ref: d = max/-16,
// q = min(31, trunc(x/d + 16.5)).
func quantQ5_0(dst []byte, src []float32) {
	var q [32]uint8
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : b*32+32]
		blk := dst[b*q5_0Bytes : (b+1)*q5_0Bytes]
		maxv, _ := absMax(x)
		d := maxv / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(blk, d)
		for j, v := range x {
			q[j] = uint8(min(31, int8(float32(v*id)+16.5)))
		}
		q5Pack(blk[2:6], blk[6:22], &q)
	}
}

// quantQ5_1 follows quantize_row_q5_1_ref: m = min, d = (max-min)/31,
// q = trunc((x-m)/d + 0.5).
func quantQ5_1(dst []byte, src []float32) {
	var q [32]uint8
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : b*32+32]
		blk := dst[b*q5_1Bytes : (b+1)*q5_1Bytes]
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(blk, d)
		putF16(blk[2:], lo)
		for j, v := range x {
			q[j] = uint8(float32((v-lo)*id) + 0.5)
		}
		q5Pack(blk[4:8], blk[8:24], &q)
	}
}
