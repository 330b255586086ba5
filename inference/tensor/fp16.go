package tensor

import "math"

// Half-precision conversions, bit-compatible with ggml (ggml-impl.h).
//
// F16 is IEEE 754 binary16. Conversion to float32 is exact. Conversion from
// float32 rounds to nearest, ties to even, produces binary16 subnormals, maps
// overflow to ±Inf, and turns every NaN into ggml's quiet NaN 0x7E00 with the
// input's sign.
//
// BF16 is the upper half of a float32. Conversion from float32 rounds to
// nearest even (no subnormal flush) and quiets NaNs by setting bit 6 of the
// truncated value, as ggml does.

// F16ToF32 converts an IEEE binary16 value to float32 (exactly).
func F16ToF32(h uint16) float32 { return f16Table[h] }

// f16Table holds F16ToF32 for all 65536 inputs; the kernels read it in their
// inner loops instead of decoding bits.
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16ToF32Bits(uint16(i))
	}
	return &t
}()

// f16ToF32Bits decodes binary16 by moving its fields into binary32 position.
func f16ToF32Bits(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN: keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias 15 → 127
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: value = mant · 2^-24. Normalise the mantissa.
	e := uint32(113) // biased exponent of 2^-14
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// F32ToF16 converts a float32 to IEEE binary16, rounding to nearest even.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	x := b & 0x7fffffff
	switch {
	case x > 0x7f800000: // NaN
		return sign | 0x7e00
	case x >= 0x477ff000: // ≥ 65520 rounds to Inf (and Inf itself)
		return sign | 0x7c00
	case x >= 0x38800000: // normal binary16 range, ≥ 2^-14
		// Round the 23-bit mantissa to 10 bits (ties to even), then rebias
		// the exponent 127 → 15. A mantissa carry bumps the exponent.
		x += 0xfff + (x>>13)&1
		return sign | uint16((x-0x38000000)>>13)
	case x <= 0x33000000: // ≤ 2^-25 rounds to zero (2^-25 is a tie → even 0)
		return sign
	}
	// Subnormal result: value/2^-24 = mant · 2^(e-126), rounded to even.
	e := x >> 23
	mant := x&0x7fffff | 0x800000
	shift := 126 - e // 14..24
	q := mant >> shift
	rem := mant & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	return sign | uint16(q)
}

// BF16ToF32 converts a bfloat16 value to float32 (exactly).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 converts a float32 to bfloat16 the way ggml does: round to
// nearest even, NaNs quieted.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// roundF16 returns f rounded through binary16, the value a block scale has
// once stored.
func roundF16(f float32) float32 { return f16Table[F32ToF16(f)] }
