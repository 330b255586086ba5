// Package tensor holds the GGML tensor formats: their block layouts, reference
// dequantisation and dot-product kernels, quantisers, and the matrix-vector
// products the engine runs on them.
//
// Codecs: DequantizeRow and QuantizeRow follow ggml byte for byte (the
// quantisers port quantize_row_*_ref; a test compares them with llama.cpp's
// library when the CI tools are installed).
//
// Kernels: a Pool runs MatVec/MatMul/MatMuls over a Matrix. For block
// formats the activations are first quantised to the format's vec dot type
// (Q8_0, Q8_1 or Q8_K, see act.go), as in ggml, once per call for all its
// tokens and matrices. Every kernel has a canonical floating-point
// reduction order (dot_f32.go, dot_q.go, dot_k.go) that any faster version
// must reproduce bit for bit: integer block sums are exact, float products
// are rounded to float32 before they are added (no FMA), and partial sums
// live in fixed lanes folded by a fixed pairwise tree. So a result never
// depends on thread count, scheduling, CPU features or MatVec vs MatMul.
//
// Kernel tiers (kernelTiers): the reference kernels; the portable Go
// kernels (dot_swar.go, every platform); on amd64, Go assembly picked at run
// time from the CPU's features, with no build flags: AVX2+F16C for every
// format (dotf, dotq, dotk*_amd64.s: tiles of rows × tokens, tile_amd64.h)
// and, where AVX512-VNNI is present, vpdpbusd kernels that transpose blocks
// so lanes hold whole blocks (dotqt, dotq8t, dotkt_amd64.s: one token, and
// eight tokens at a time for prefill). Tests and fuzzers check every tier
// the machine runs against the references.
package tensor

import (
	"errors"
	"fmt"
)

// Type is a GGML tensor type, numbered as in ggml.h and stored in GGUF files.
type Type uint32

// GGML type ids. Gaps are ids that ggml has retired.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
)

// QK_K is the super-block size of the k-quant formats.
const QK_K = 256

type typeInfo struct {
	name      string
	blockSize int // elements per block
	typeSize  int // bytes per block
}

var types = map[Type]typeInfo{
	F32:     {"F32", 1, 4},
	F16:     {"F16", 1, 2},
	Q4_0:    {"Q4_0", 32, 18},
	Q4_1:    {"Q4_1", 32, 20},
	Q5_0:    {"Q5_0", 32, 22},
	Q5_1:    {"Q5_1", 32, 24},
	Q8_0:    {"Q8_0", 32, 34},
	Q8_1:    {"Q8_1", 32, 36},
	Q2_K:    {"Q2_K", QK_K, 84},
	Q3_K:    {"Q3_K", QK_K, 110},
	Q4_K:    {"Q4_K", QK_K, 144},
	Q5_K:    {"Q5_K", QK_K, 176},
	Q6_K:    {"Q6_K", QK_K, 210},
	Q8_K:    {"Q8_K", QK_K, 292},
	IQ2_XXS: {"IQ2_XXS", QK_K, 66},
	IQ2_XS:  {"IQ2_XS", QK_K, 74},
	IQ3_XXS: {"IQ3_XXS", QK_K, 98},
	IQ1_S:   {"IQ1_S", QK_K, 50},
	IQ4_NL:  {"IQ4_NL", 32, 18},
	IQ3_S:   {"IQ3_S", QK_K, 110},
	IQ2_S:   {"IQ2_S", QK_K, 82},
	IQ4_XS:  {"IQ4_XS", QK_K, 136},
	I8:      {"I8", 1, 1},
	I16:     {"I16", 1, 2},
	I32:     {"I32", 1, 4},
	I64:     {"I64", 1, 8},
	F64:     {"F64", 1, 8},
	IQ1_M:   {"IQ1_M", QK_K, 56},
	BF16:    {"BF16", 1, 2},
	TQ1_0:   {"TQ1_0", QK_K, 54},
	TQ2_0:   {"TQ2_0", QK_K, 66},
	MXFP4:   {"MXFP4", 32, 17},
}

// ErrUnknownType reports a type id that ggml does not define.
var ErrUnknownType = errors.New("unknown tensor type")

// ErrUnsupportedType reports a known type that this engine has no kernels for.
var ErrUnsupportedType = errors.New("unsupported tensor type")

// Known reports whether t is a type id ggml defines (its layout is known).
func (t Type) Known() bool { _, ok := types[t]; return ok }

// String returns ggml's name for the type, e.g. "Q4_K".
func (t Type) String() string {
	if ti, ok := types[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of elements one block of t holds (1 for plain types).
func (t Type) BlockSize() int { return types[t].blockSize }

// TypeSize is the number of bytes one block of t occupies.
func (t Type) TypeSize() int { return types[t].typeSize }

// RowSize returns the bytes n elements of type t occupy. n must be a whole
// number of blocks.
func (t Type) RowSize(n int64) (int64, error) {
	ti, ok := types[t]
	if !ok {
		return 0, fmt.Errorf("%w: %d", ErrUnknownType, uint32(t))
	}
	if n < 0 || n%int64(ti.blockSize) != 0 {
		return 0, fmt.Errorf("tensor type %s: %d elements is not a whole number of %d-element blocks", ti.name, n, ti.blockSize)
	}
	return n / int64(ti.blockSize) * int64(ti.typeSize), nil
}

// ParseType returns the type with ggml's name s (case-insensitive).
func ParseType(s string) (Type, error) {
	for t, ti := range types {
		if equalFold(ti.name, s) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownType, s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'a' <= ca && ca <= 'z' {
			ca -= 'a' - 'A'
		}
		if 'a' <= cb && cb <= 'z' {
			cb -= 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
