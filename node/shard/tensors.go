package shard

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// littleEndian reports a little-endian machine, where f32 payloads are the
// floats' memory as is and are copied in bulk.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// floatBytes views v's memory as bytes.
func floatBytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// maxF16 is the largest finite binary16 value; a hidden state beyond it is
// sent as f32 even in f16 mode.
const maxF16 = 65504

func f32bits(v float32) uint32 { return math.Float32bits(v) }

func finite32(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// appendFloats appends v encoded as dt (F32 or F16), little-endian.
func appendFloats(b []byte, dt DType, v []float32) []byte {
	switch dt {
	case F16:
		for _, x := range v {
			b = binary.LittleEndian.AppendUint16(b, tensor.F32ToF16(x))
		}
	default:
		if littleEndian {
			return append(b, floatBytes(v)...)
		}
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	return b
}

// appendTokens appends token ids as little-endian int32.
func appendTokens(b []byte, ids []int32) []byte {
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
	}
	return b
}

// wireDType is the dtype to send v in when the session asks for want: f16
// only when every value fits binary16's range.
func wireDType(want DType, v []float32) DType {
	if want != F16 {
		return F32
	}
	for _, x := range v {
		if x > maxF16 || x < -maxF16 {
			return F32
		}
	}
	return F16
}

// decodeFloats decodes data (F32 or F16) into dst, reusing its storage, and
// rejects NaN and Inf.
func decodeFloats(dst []float32, dt DType, data []byte) ([]float32, error) {
	n := len(data) / dt.size()
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	switch dt {
	case F16:
		for i := range dst {
			dst[i] = tensor.F16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case F32:
		if littleEndian {
			copy(floatBytes(dst), data)
			break
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	default:
		return dst, malformed("floats as %s", dt)
	}
	for i, x := range dst {
		if math.Float32bits(x)&0x7f800000 == 0x7f800000 { // exponent all ones: Inf or NaN
			return dst, fmt.Errorf("%w: non-finite value at %d", ErrMalformed, i)
		}
	}
	return dst, nil
}

// decodeTokens decodes n int32 ids into dst and checks them against vocab.
func decodeTokens(dst []int32, data []byte, vocab int) ([]int32, error) {
	n := len(data) / 4
	if cap(dst) < n {
		dst = make([]int32, n)
	}
	dst = dst[:n]
	for i := range dst {
		id := int32(binary.LittleEndian.Uint32(data[4*i:]))
		if id < 0 || int(id) >= vocab {
			return dst, fmt.Errorf("%w: token %d outside vocabulary of %d", ErrMalformed, id, vocab)
		}
		dst[i] = id
	}
	return dst, nil
}
