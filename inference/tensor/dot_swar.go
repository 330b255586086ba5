package tensor

import "encoding/binary"

// SWAR integer dot products (plain Go, no SIMD instructions).
//
// Four small unsigned weight levels q_0..q_3 sit in the 16-bit lanes of a
// word P = Σ q_i·2^(16i); four activation quants y_0..y_3 are packed in
// reverse, Y = Σ y_i·2^(16(3-i)) (as an exact signed int64). In the 64-bit
// product P·Y the coefficient of 2^48 is Σ q_i·y_i; higher terms fall off
// the top and the lower ones sum to L with |L| < 2^47 as long as every
// partial coefficient stays below 2^15 in magnitude. So
//
//	Σ q_i·y_i = (P·Y + 2^47) >> 48      (arithmetic shift)
//
// and several products may be added before the shift while the bounds
// hold: with |y| ≤ 128, levels < 16 allow 16 elements per shift (|D| ≤
// 16·15·128 = 30720 < 2^15), levels < 32 allow 8, levels < 64 allow 4.
// The integer results are exact, so these kernels give exactly the
// reference kernels' sums (and, after the shared float step, their bits).
//
// Weight levels come eight at a time as the bytes of a uint64 u, for eight
// consecutive elements base..base+7 (base a multiple of 8). The even bytes
// (u & 0x00ff…) are elements base, base+2, base+4, base+6 and the odd ones
// (u>>8 & 0x00ff…) base+1, …, base+7; yw[2·(base/8)] and yw[2·(base/8)+1]
// hold the matching Y words, built once per activation by packYWords.

const (
	evenBytes = 0x00ff00ff00ff00ff
	nibbles   = 0x0f0f0f0f0f0f0f0f
	twoBits   = 0x0303030303030303
	lowBits   = 0x0101010101010101
	swarRound = 1 << 47
)

// packYWords builds the Y words of quants q (len a multiple of 8).
func packYWords(yw []int64, q []int8) {
	for g := 0; g+8 <= len(q); g += 8 {
		y := (*[8]int8)(q[g:])
		w := (*[2]int64)(yw[g/4:])
		w[0] = int64(y[0])<<48 + int64(y[2])<<32 + int64(y[4])<<16 + int64(y[6])
		w[1] = int64(y[1])<<48 + int64(y[3])<<32 + int64(y[5])<<16 + int64(y[7])
	}
}

// dot8 is the raw SWAR product of eight levels (bytes of u) with their Y
// words; the sum sits at bit 48 (see above).
func dot8(u uint64, yw *[2]int64) int64 {
	return int64(u&evenBytes)*yw[0] + int64(u>>8&evenBytes)*yw[1]
}

// swarSum extracts the integer sum from accumulated raw products.
func swarSum(raw int64) int32 { return int32((raw + swarRound) >> 48) }

func dotQ4_0(w []byte, a *qvec) float32 {
	var acc [8]float32
	for b := range a.d {
		blk := (*[q4_0Bytes]byte)(w[b*q4_0Bytes:])
		yw := (*[8]int64)(a.yw[8*b:])
		v0 := binary.LittleEndian.Uint64(blk[2:])
		v1 := binary.LittleEndian.Uint64(blk[10:])
		lo := dot8(v0&nibbles, (*[2]int64)(yw[0:])) + dot8(v1&nibbles, (*[2]int64)(yw[2:]))
		hi := dot8(v0>>4&nibbles, (*[2]int64)(yw[4:])) + dot8(v1>>4&nibbles, (*[2]int64)(yw[6:]))
		// Σ(q-8)·y = Σq·y - 8·Σy.
		sumi := swarSum(lo) + swarSum(hi) - 8*a.sum[b]
		dw := f16Table[uint16(blk[0])|uint16(blk[1])<<8]
		acc[b&7] += term0(sumi, dw, a.d[b])
	}
	return reduce8(&acc)
}

func dotQ4_1(w []byte, a *qvec) float32 {
	var acc [8]float32
	for b := range a.d {
		blk := (*[q4_1Bytes]byte)(w[b*q4_1Bytes:])
		yw := (*[8]int64)(a.yw[8*b:])
		v0 := binary.LittleEndian.Uint64(blk[4:])
		v1 := binary.LittleEndian.Uint64(blk[12:])
		lo := dot8(v0&nibbles, (*[2]int64)(yw[0:])) + dot8(v1&nibbles, (*[2]int64)(yw[2:]))
		hi := dot8(v0>>4&nibbles, (*[2]int64)(yw[4:])) + dot8(v1>>4&nibbles, (*[2]int64)(yw[6:]))
		dw := f16Table[uint16(blk[0])|uint16(blk[1])<<8]
		mw := f16Table[uint16(blk[2])|uint16(blk[3])<<8]
		acc[b&7] += term1(swarSum(lo)+swarSum(hi), dw, a.d[b], mw, a.s[b])
	}
	return reduce8(&acc)
}

// q4KChunk returns the level sums of one 64-element chunk of Q4_K/Q5_K:
// the 32 low nibbles of qs (elements 0..31) and the 32 high nibbles
// (32..63), with fifth bits from qh shifted by hshift when qh is not nil.
func q4KChunk(qs *[32]byte, qh *[32]byte, hshift uint, yw *[16]int64) (s0, s1 int32) {
	var r0, r1 int64
	for k := 0; k < 4; k++ {
		v := binary.LittleEndian.Uint64(qs[8*k:])
		lo, hi := v&nibbles, v>>4&nibbles
		if qh != nil {
			h := binary.LittleEndian.Uint64(qh[8*k:]) >> hshift
			lo |= (h & lowBits) << 4
			hi |= (h >> 1 & lowBits) << 4
			// Five-bit levels: at most 8 elements per extraction.
			s0 += swarSum(dot8(lo, (*[2]int64)(yw[2*k:])))
			s1 += swarSum(dot8(hi, (*[2]int64)(yw[8+2*k:])))
			continue
		}
		r0 += dot8(lo, (*[2]int64)(yw[2*k:]))
		r1 += dot8(hi, (*[2]int64)(yw[8+2*k:]))
		if k&1 == 1 { // four-bit levels: 16 elements per extraction
			s0 += swarSum(r0)
			s1 += swarSum(r1)
			r0, r1 = 0, 0
		}
	}
	return s0, s1
}

// dotQ45K is the Q4_K (qhOff < 0) and Q5_K kernel.
func dotQ45K(w []byte, a *qvec, size, qsOff, qhOff int) float32 {
	var acc [8]float32
	for b := range a.d {
		blk := w[b*size : (b+1)*size]
		bs := (*[16]int32)(a.bsum[16*b:])
		var isum, msum int32
		for c := 0; c < 4; c++ {
			var qh *[32]byte
			if qhOff >= 0 {
				qh = (*[32]byte)(blk[qhOff:])
			}
			s0, s1 := q4KChunk((*[32]byte)(blk[qsOff+32*c:]), qh, uint(2*c), (*[16]int64)(a.yw[64*b+16*c:]))
			sc0, m0 := getScaleMinK4(2*c, blk[4:16])
			sc1, m1 := getScaleMinK4(2*c+1, blk[4:16])
			isum += int32(sc0)*s0 + int32(sc1)*s1
			msum += int32(m0)*(bs[4*c]+bs[4*c+1]) + int32(m1)*(bs[4*c+2]+bs[4*c+3])
		}
		d := f16Table[uint16(blk[0])|uint16(blk[1])<<8]
		dmin := f16Table[uint16(blk[2])|uint16(blk[3])<<8]
		acc[b&7] += termK(isum, msum, d, dmin, a.d[b])
	}
	return reduce8(&acc)
}

func dotQ4K(w []byte, a *qvec) float32 { return dotQ45K(w, a, q4KBytes, 16, -1) }
func dotQ5K(w []byte, a *qvec) float32 { return dotQ45K(w, a, q5KBytes, 48, 16) }

func dotQ6K(w []byte, a *qvec) float32 {
	var acc [8]float32
	for b := range a.d {
		blk := (*[q6KBytes]byte)(w[b*q6KBytes:])
		bs := (*[16]int32)(a.bsum[16*b:])
		yw := (*[64]int64)(a.yw[64*b:])
		var isum, msum int32
		for c := 0; c < 2; c++ {
			for k := 0; k < 4; k++ {
				// Element 128c+32k+l: low nibble from ql[64c+32(k&1)+l]
				// (high nibble for k ≥ 2), top bits from qh[32c+l] >> 2k.
				ql := blk[64*c+32*(k&1):]
				qh := blk[128+32*c:]
				g0 := 8*c + 2*k // first 16-element group
				var s [2]int32
				for q := 0; q < 4; q++ { // four runs of 8 elements
					lo := binary.LittleEndian.Uint64(ql[8*q:]) >> (4 * uint(k>>1)) & nibbles
					hi := binary.LittleEndian.Uint64(qh[8*q:]) >> (2 * uint(k)) & twoBits
					v := lo | hi<<4
					ywq := (*[2]int64)(yw[(g0*16+8*q)/4:])
					// Six-bit levels: one word per extraction.
					s[q/2] += swarSum(int64(v&evenBytes)*ywq[0]) + swarSum(int64(v>>8&evenBytes)*ywq[1])
				}
				sc0, sc1 := int32(int8(blk[192+g0])), int32(int8(blk[193+g0]))
				isum += sc0*s[0] + sc1*s[1]
				msum += sc0*bs[g0] + sc1*bs[g0+1]
			}
		}
		// Σ sc·(q-32)·y = Σ sc·q·y - 32·Σ sc·bsum.
		d := f16Table[uint16(blk[208])|uint16(blk[209])<<8]
		acc[b&7] += term0(isum-32*msum, d, a.d[b])
	}
	return reduce8(&acc)
}

// dotQ23K is the Q2_K (q3 false) and Q3_K kernel: 2- or 3-bit levels, one
// scale per 16 elements.
func dotQ23K(w []byte, a *qvec, q3 bool) float32 {
	var acc [8]float32
	var sc [16]int32
	size, qsOff := q2KBytes, 16
	if q3 {
		size, qsOff = q3KBytes, 32
	}
	for b := range a.d {
		blk := w[b*size : (b+1)*size]
		bs := (*[16]int32)(a.bsum[16*b:])
		yw := (*[64]int64)(a.yw[64*b:])
		if q3 {
			q3KScales(&sc, blk[96:108])
		}
		var isum, msum int32
		for g := 0; g < 16; g++ {
			// Group g = 8c + 2j + h holds bits 2j of qs[32c+16h+l], and for
			// Q3_K bit 4c+j of hmask[16h+l], l = 0..15.
			c, j, h := g/8, g%8/2, g%2
			qs := blk[qsOff+32*c+16*h:]
			var raw int64
			for q := 0; q < 2; q++ {
				v := binary.LittleEndian.Uint64(qs[8*q:]) >> (2 * uint(j)) & twoBits
				if q3 {
					v |= (binary.LittleEndian.Uint64(blk[16*h+8*q:]) >> uint(4*c+j) & lowBits) << 2
				}
				raw += dot8(v, (*[2]int64)(yw[4*g+2*q:]))
			}
			s := swarSum(raw)
			if q3 {
				// Signed level q-4: Σ(q-4)·y = Σq·y - 4·bsum.
				isum += sc[g] * (s - 4*bs[g])
				continue
			}
			isum += int32(blk[g]&0xf) * s
			msum += int32(blk[g]>>4) * bs[g]
		}
		if q3 {
			d := f16Table[uint16(blk[108])|uint16(blk[109])<<8]
			acc[b&7] += term0(isum, d, a.d[b])
			continue
		}
		d := f16Table[uint16(blk[80])|uint16(blk[81])<<8]
		dmin := f16Table[uint16(blk[82])|uint16(blk[83])<<8]
		acc[b&7] += termK(isum, msum, d, dmin, a.d[b])
	}
	return reduce8(&acc)
}

func dotQ2K(w []byte, a *qvec) float32 { return dotQ23K(w, a, false) }
func dotQ3K(w []byte, a *qvec) float32 { return dotQ23K(w, a, true) }

// dotQ8_0 splits each int8 weight, offset to q+128 ∈ [0,255], into two
// nibbles: Σq·y = Σlo·y + 16·Σhi·y - 128·Σy.
func dotQ8_0(w []byte, a *qvec) float32 {
	var acc [8]float32
	for b := range a.d {
		blk := (*[q8_0Bytes]byte)(w[b*q8_0Bytes:])
		yw := (*[8]int64)(a.yw[8*b:])
		var sumi int32
		for h := 0; h < 2; h++ { // 16 elements per extraction
			u0 := binary.LittleEndian.Uint64(blk[2+16*h:]) ^ 0x8080808080808080
			u1 := binary.LittleEndian.Uint64(blk[10+16*h:]) ^ 0x8080808080808080
			y0, y1 := (*[2]int64)(yw[4*h:]), (*[2]int64)(yw[4*h+2:])
			lo := dot8(u0&nibbles, y0) + dot8(u1&nibbles, y1)
			hi := dot8(u0>>4&nibbles, y0) + dot8(u1>>4&nibbles, y1)
			sumi += swarSum(lo) + 16*swarSum(hi)
		}
		dw := f16Table[uint16(blk[0])|uint16(blk[1])<<8]
		acc[b&7] += term0(sumi-128*a.sum[b], dw, a.d[b])
	}
	return reduce8(&acc)
}

// spreadBits moves bit i of b to bit 0 of byte i.
func spreadBits(b uint8) uint64 {
	x := uint64(b) * lowBits & 0x8040201008040201  // byte i keeps bit i
	return (x + 0x7f7f7f7f7f7f7f7f) >> 7 & lowBits // nonzero byte → 1
}

// q5Sum returns Σ q_j·y_j over a Q5_0/Q5_1 block's unsigned 5-bit levels.
func q5Sum(qs *[16]byte, qh uint32, yw *[8]int64) int32 {
	v0 := binary.LittleEndian.Uint64(qs[0:])
	v1 := binary.LittleEndian.Uint64(qs[8:])
	// Five-bit levels: one extraction per 8 elements.
	s := swarSum(dot8(v0&nibbles|spreadBits(uint8(qh))<<4, (*[2]int64)(yw[0:])))
	s += swarSum(dot8(v1&nibbles|spreadBits(uint8(qh>>8))<<4, (*[2]int64)(yw[2:])))
	s += swarSum(dot8(v0>>4&nibbles|spreadBits(uint8(qh>>16))<<4, (*[2]int64)(yw[4:])))
	s += swarSum(dot8(v1>>4&nibbles|spreadBits(uint8(qh>>24))<<4, (*[2]int64)(yw[6:])))
	return s
}

func dotQ5_0(w []byte, a *qvec) float32 {
	var acc [8]float32
	for b := range a.d {
		blk := (*[q5_0Bytes]byte)(w[b*q5_0Bytes:])
		qh := binary.LittleEndian.Uint32(blk[2:6])
		sumi := q5Sum((*[16]byte)(blk[6:]), qh, (*[8]int64)(a.yw[8*b:])) - 16*a.sum[b]
		dw := f16Table[uint16(blk[0])|uint16(blk[1])<<8]
		acc[b&7] += term0(sumi, dw, a.d[b])
	}
	return reduce8(&acc)
}

func dotQ5_1(w []byte, a *qvec) float32 {
	var acc [8]float32
	for b := range a.d {
		blk := (*[q5_1Bytes]byte)(w[b*q5_1Bytes:])
		qh := binary.LittleEndian.Uint32(blk[4:8])
		sumi := q5Sum((*[16]byte)(blk[8:]), qh, (*[8]int64)(a.yw[8*b:]))
		dw := f16Table[uint16(blk[0])|uint16(blk[1])<<8]
		mw := f16Table[uint16(blk[2])|uint16(blk[3])<<8]
		acc[b&7] += term1(sumi, dw, a.d[b], mw, a.s[b])
	}
	return reduce8(&acc)
}
