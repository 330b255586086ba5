package tensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrNonFinite reports a NaN or infinite input to a quantiser of a block
// format, which has no encoding for it.
var ErrNonFinite = errors.New("non-finite value")

// ErrLength reports a buffer whose length does not fit the element count.
var ErrLength = errors.New("buffer length mismatch")

// DequantizeRow decodes len(dst) elements of type t from src into dst.
// len(dst) must be a whole number of blocks and len(src) exactly the bytes
// those blocks occupy. Types without a decoder give ErrUnsupportedType.
func DequantizeRow(t Type, dst []float32, src []byte) error {
	dec, ok := decoders[t]
	if !ok {
		return unsupported(t)
	}
	if err := checkRow(t, len(dst), len(src)); err != nil {
		return err
	}
	dec(dst, src)
	return nil
}

// QuantizeRow encodes src as type t into dst, following ggml's reference
// quantisers (quantize_row_*_ref), so the blocks are what llama.cpp would
// write. len(src) must be a whole number of blocks and len(dst) exactly the
// bytes they occupy. Block formats reject NaN and ±Inf with ErrNonFinite.
func QuantizeRow(t Type, dst []byte, src []float32) error {
	enc, ok := encoders[t]
	if !ok {
		return unsupported(t)
	}
	if err := checkRow(t, len(src), len(dst)); err != nil {
		return err
	}
	if t.BlockSize() > 1 {
		for i, v := range src {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("quantize %s: element %d is %v: %w", t, i, v, ErrNonFinite)
			}
		}
	}
	enc(dst, src)
	return nil
}

func unsupported(t Type) error { return fmt.Errorf("%w: %s", ErrUnsupportedType, t) }

// checkRow verifies that n elements of t are whole blocks occupying size bytes.
func checkRow(t Type, n, size int) error {
	want, err := t.RowSize(int64(n))
	if err != nil {
		return err
	}
	if int64(size) != want {
		return fmt.Errorf("%s row of %d elements: %d bytes, want %d: %w", t, n, size, want, ErrLength)
	}
	return nil
}

// decoders and encoders map each supported type to its reference row codec.
// Arguments are pre-validated: whole blocks, matching lengths.
var (
	decoders = map[Type]func(dst []float32, src []byte){
		F32:  dequantF32,
		F16:  dequantF16,
		BF16: dequantBF16,
		Q4_0: dequantQ4_0,
		Q4_1: dequantQ4_1,
		Q5_0: dequantQ5_0,
		Q5_1: dequantQ5_1,
		Q8_0: dequantQ8_0,
		Q8_1: dequantQ8_1,
		Q2_K: dequantQ2K,
		Q3_K: dequantQ3K,
		Q4_K: dequantQ4K,
		Q5_K: dequantQ5K,
		Q6_K: dequantQ6K,
		Q8_K: dequantQ8K,
	}
	encoders = map[Type]func(dst []byte, src []float32){
		F32:  quantF32,
		F16:  quantF16,
		BF16: quantBF16,
		Q4_0: quantQ4_0,
		Q4_1: quantQ4_1,
		Q5_0: quantQ5_0,
		Q5_1: quantQ5_1,
		Q8_0: quantQ8_0,
		Q8_1: quantQ8_1,
		Q2_K: quantQ2K,
		Q3_K: quantQ3K,
		Q4_K: quantQ4K,
		Q5_K: quantQ5K,
		Q6_K: quantQ6K,
		Q8_K: quantQ8K,
	}
)

// Plain float formats.

func dequantF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func dequantF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func dequantBF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func quantF32(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func quantF16(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
	}
}

func quantBF16(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
	}
}

// Helpers shared by the block formats.

// f16At reads the little-endian binary16 at b[0:2] as float32.
func f16At(b []byte) float32 { return f16Table[binary.LittleEndian.Uint16(b)] }

// putF16 stores f as little-endian binary16 at b[0:2].
func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, F32ToF16(f)) }

// nearestInt rounds to the nearest integer, ties to even, by ggml's
// magic-number trick (exact for |f| ≤ 4194303, the range ggml asserts).
func nearestInt(f float32) int {
	v := f + 12582912
	return int(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// roundAway rounds half away from zero, like C's roundf.
func roundAway(f float32) float32 { return float32(math.Round(float64(f))) }

func absf(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
