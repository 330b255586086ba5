package tensor

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// Canonical float reduction orders. Every kernel in this package, and every
// SIMD or assembly version written later, must produce bit-identical results
// to these definitions. Products are rounded to float32 before they are
// added (no fused multiply-add anywhere: write float32(a*b)).
//
// Float rows (F32, F16, BF16 weights against float32 x), DotF32 included:
//
//	acc[16] = 0
//	for i in 0..n-1:  acc[i%16] += float32(w[i]·x[i])   (w converted exactly)
//	reduce16(acc)
//
// i.e. 16 lanes, each accumulating its elements in ascending order. The
// tail (n%16 elements) lands in lanes 0..n%16-1, which is what a SIMD loop
// gets when it pads the last load with zeros (adding +0 leaves an
// accumulator unchanged, since an accumulator that starts at +0 is never -0).
//
// reduce16 folds pairwise halves: acc[j] += acc[j+8] (j<8), then
// acc[j] += acc[j+4] (j<4), acc[j] += acc[j+2] (j<2), acc[0] += acc[1].
// That is a 16-lane register added to its upper half, and so on down.
//
// Block formats: see dot_q.go (per-block exact integer sums, then 8 lanes of
// float block terms folded by reduce8, the last three steps of reduce16).

// DotF32 returns the dot product of a and b in the canonical order above. It
// panics if the lengths differ.
func DotF32(a, b []float32) float32 {
	if len(a) != len(b) {
		panic("tensor: DotF32 of vectors with different lengths")
	}
	var acc [16]float32
	n := len(a) &^ 15
	if n > 0 {
		f32Body(&acc, a[:n], b[:n])
	}
	for i := n; i < len(a); i++ {
		acc[i-n] += float32(a[i] * b[i])
	}
	return reduce16(&acc)
}

// dotF32Body accumulates whole 16-element groups into acc.
func dotF32Body(acc *[16]float32, a, b []float32) {
	s0, s1, s2, s3, s4, s5, s6, s7 := acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]
	s8, s9, s10, s11, s12, s13, s14, s15 := acc[8], acc[9], acc[10], acc[11], acc[12], acc[13], acc[14], acc[15]
	for i := 0; i+16 <= len(a) && i+16 <= len(b); i += 16 {
		x := (*[16]float32)(a[i : i+16])
		y := (*[16]float32)(b[i : i+16])
		s0 += float32(x[0] * y[0])
		s1 += float32(x[1] * y[1])
		s2 += float32(x[2] * y[2])
		s3 += float32(x[3] * y[3])
		s4 += float32(x[4] * y[4])
		s5 += float32(x[5] * y[5])
		s6 += float32(x[6] * y[6])
		s7 += float32(x[7] * y[7])
		s8 += float32(x[8] * y[8])
		s9 += float32(x[9] * y[9])
		s10 += float32(x[10] * y[10])
		s11 += float32(x[11] * y[11])
		s12 += float32(x[12] * y[12])
		s13 += float32(x[13] * y[13])
		s14 += float32(x[14] * y[14])
		s15 += float32(x[15] * y[15])
	}
	*acc = [16]float32{s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15}
}

// reduce16 folds 16 lanes pairwise (see the canonical order above).
func reduce16(acc *[16]float32) float32 {
	for j := 0; j < 8; j++ {
		acc[j] += acc[j+8]
	}
	return reduce8((*[8]float32)(acc[:8]))
}

// reduce8 folds 8 lanes pairwise: j+4, then j+2, then j+1.
func reduce8(acc *[8]float32) float32 {
	a0 := acc[0] + acc[4]
	a1 := acc[1] + acc[5]
	a2 := acc[2] + acc[6]
	a3 := acc[3] + acc[7]
	a0 += a2
	a1 += a3
	return a0 + a1
}

// floatChunk is how many weights the F16/BF16 kernels decode at a time
// before accumulating them (a multiple of 16, so lanes stay aligned).
const floatChunk = 256

// dotF16 is the float-row kernel for F16 weights (w holds len(x) halves):
// decode a chunk through the table, then accumulate it like DotF32.
func dotF16(w []byte, x []float32) float32 {
	var acc [16]float32
	var buf [floatChunk]float32
	tab := f16Table
	n := len(x) &^ 15
	for i := 0; i < n; i += floatChunk {
		c := min(floatChunk, n-i)
		src := w[2*i : 2*(i+c)]
		for j := range buf[:c] {
			buf[j] = tab[uint16(src[2*j])|uint16(src[2*j+1])<<8]
		}
		dotF32Body(&acc, buf[:c], x[i:i+c])
	}
	for i := n; i < len(x); i++ {
		acc[i-n] += float32(tab[binary.LittleEndian.Uint16(w[2*i:])] * x[i])
	}
	return reduce16(&acc)
}

// dotBF16 is the float-row kernel for BF16 weights.
func dotBF16(w []byte, x []float32) float32 {
	var acc [16]float32
	var buf [floatChunk]float32
	n := len(x) &^ 15
	for i := 0; i < n; i += floatChunk {
		c := min(floatChunk, n-i)
		src := w[2*i : 2*(i+c)]
		for j := range buf[:c] {
			buf[j] = math.Float32frombits(uint32(src[2*j])<<16 | uint32(src[2*j+1])<<24)
		}
		dotF32Body(&acc, buf[:c], x[i:i+c])
	}
	for i := n; i < len(x); i++ {
		acc[i-n] += float32(BF16ToF32(binary.LittleEndian.Uint16(w[2*i:])) * x[i])
	}
	return reduce16(&acc)
}

// dotF32Row is the float-row kernel for F32 weights stored as bytes. On a
// little-endian machine with 4-byte aligned rows (always the case for
// mapped GGUF data) it reads the bytes in place as float32s.
func dotF32Row(w []byte, x []float32) float32 {
	if f, ok := asFloat32s(w); ok {
		return DotF32(f, x)
	}
	var acc [16]float32
	var buf [floatChunk]float32
	n := len(x) &^ 15
	for i := 0; i < n; i += floatChunk {
		c := min(floatChunk, n-i)
		for j := range buf[:c] {
			buf[j] = math.Float32frombits(binary.LittleEndian.Uint32(w[4*(i+j):]))
		}
		dotF32Body(&acc, buf[:c], x[i:i+c])
	}
	for i := n; i < len(x); i++ {
		acc[i-n] += float32(math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:])) * x[i])
	}
	return reduce16(&acc)
}

// littleEndian reports whether float32s in memory have GGUF's byte order.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// asFloat32s views little-endian float32 bytes as []float32 when the
// machine's order matches and the data is aligned.
func asFloat32s(w []byte) ([]float32, bool) {
	if !littleEndian || len(w) == 0 || uintptr(unsafe.Pointer(&w[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&w[0])), len(w)/4), true
}

// dotFloatRef is the reference for the float-row kernels: decode each weight
// with DequantizeRow's decoder semantics and accumulate lane by lane.
func dotFloatRef(t Type, w []byte, x []float32) float32 {
	var acc [16]float32
	for i, xv := range x {
		var wv float32
		switch t {
		case F32:
			wv = math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:]))
		case F16:
			wv = f16ToF32Bits(binary.LittleEndian.Uint16(w[2*i:]))
		case BF16:
			wv = BF16ToF32(binary.LittleEndian.Uint16(w[2*i:]))
		}
		acc[i%16] += float32(wv * xv)
	}
	return reduce16(&acc)
}

// floatAt decodes the float weight of type t (F32, F16, BF16) at the start
// of b.
func floatAt(t Type, b []byte) float32 {
	switch t {
	case F16:
		return f16Table[binary.LittleEndian.Uint16(b)]
	case BF16:
		return BF16ToF32(binary.LittleEndian.Uint16(b))
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}
