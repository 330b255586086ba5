// Package gguf reads and writes GGUF model files (versions 2 and 3): the
// metadata key/values, the tensor index, and tensor data memory-mapped from
// disk. Every length and offset in a file is checked against the bytes
// actually present, so a truncated or corrupt file is an error, not a crash.
package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

// MaxDims is the most dimensions a GGML tensor may have.
const MaxDims = 4

// Errors returned for malformed input. Returned errors wrap one of these.
var (
	ErrNotGGUF     = errors.New("not a GGUF file")
	ErrVersion     = errors.New("unsupported GGUF version")
	ErrTruncated   = errors.New("truncated GGUF file")
	ErrCorrupt     = errors.New("corrupt GGUF file")
	ErrNoKey       = errors.New("metadata key not found")
	ErrNoTensor    = errors.New("tensor not found")
	ErrWrongType   = errors.New("metadata value has the wrong type")
	ErrBigEndian   = errors.New("big-endian GGUF files are not supported")
	maxStringBytes = uint64(1 << 30)
)

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of the file. Dims[0] is the fastest-varying
// dimension (the row length of a matrix).
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   tensor.Type
	Offset uint64 // relative to the start of the data section
	Size   uint64 // bytes of data
}

// Elements is the product of the dimensions.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Header is the parsed metadata and tensor index of a GGUF file.
type Header struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset uint64 // absolute file offset of the data section

	kvIndex     map[string]int
	tensorIndex map[string]int
}

// ParseHeader parses the header of a GGUF file from its first bytes. data may
// be a prefix of the file: if the header does not fit, the error wraps
// ErrTruncated. Tensor extents are checked for consistency with each other
// but not against the file size (see CheckSize).
func ParseHeader(data []byte) (*Header, error) {
	d := decoder{buf: data}
	magic, err := d.bytes(4)
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("%w: magic %q", ErrNotGGUF, magic)
	}
	h := &Header{}
	if h.Version, err = d.u32(); err != nil {
		return nil, err
	}
	switch {
	case h.Version == 2 || h.Version == 3:
	case h.Version == 1:
		return nil, fmt.Errorf("%w: version 1 (convert it with a newer llama.cpp)", ErrVersion)
	case h.Version&0xffff == 0 && h.Version>>16 != 0:
		return nil, ErrBigEndian
	default:
		return nil, fmt.Errorf("%w: %d", ErrVersion, h.Version)
	}
	nTensors, err := d.u64()
	if err != nil {
		return nil, err
	}
	nKV, err := d.u64()
	if err != nil {
		return nil, err
	}
	// Each KV takes at least 8+4+1 bytes and each tensor info 8+4+8+4+8; a count
	// larger than the bytes could hold is corrupt (or the prefix is short).
	if err := d.fits(nKV, 13, "metadata entries"); err != nil {
		return nil, err
	}
	h.KV = make([]KV, 0, min(nKV, 1<<16))
	h.kvIndex = make(map[string]int, min(nKV, 1<<16))
	for i := uint64(0); i < nKV; i++ {
		key, err := d.str()
		if err != nil {
			return nil, fmt.Errorf("metadata entry %d: %w", i, err)
		}
		vt, err := d.u32()
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		v, err := d.value(ValueType(vt), 0)
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		if _, dup := h.kvIndex[key]; dup {
			return nil, fmt.Errorf("%w: duplicate metadata key %q", ErrCorrupt, key)
		}
		h.kvIndex[key] = len(h.KV)
		h.KV = append(h.KV, KV{Key: key, Value: v})
	}

	h.Alignment = DefaultAlignment
	if v, ok := h.Get("general.alignment"); ok {
		a, ok := v.Uint()
		if !ok || a == 0 || a&(a-1) != 0 || a > 1<<20 {
			return nil, fmt.Errorf("%w: general.alignment %v is not a power of two", ErrCorrupt, v.Any())
		}
		h.Alignment = a
	}

	if err := d.fits(nTensors, 28, "tensor infos"); err != nil {
		return nil, err
	}
	h.Tensors = make([]TensorInfo, 0, min(nTensors, 1<<16))
	h.tensorIndex = make(map[string]int, min(nTensors, 1<<16))
	for i := uint64(0); i < nTensors; i++ {
		ti, err := d.tensorInfo()
		if err != nil {
			return nil, fmt.Errorf("tensor info %d: %w", i, err)
		}
		if ti.Offset%h.Alignment != 0 {
			return nil, fmt.Errorf("%w: tensor %q offset %d is not aligned to %d", ErrCorrupt, ti.Name, ti.Offset, h.Alignment)
		}
		if _, dup := h.tensorIndex[ti.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate tensor %q", ErrCorrupt, ti.Name)
		}
		h.tensorIndex[ti.Name] = len(h.Tensors)
		h.Tensors = append(h.Tensors, ti)
	}
	h.DataOffset = alignUp(uint64(d.off), h.Alignment)
	if err := h.checkOverlap(); err != nil {
		return nil, err
	}
	return h, nil
}

// DataSize is the number of bytes from DataOffset to the end of the last tensor.
func (h *Header) DataSize() uint64 {
	var end uint64
	for i := range h.Tensors {
		end = max(end, h.Tensors[i].Offset+h.Tensors[i].Size)
	}
	return end
}

// CheckSize reports whether a file of size bytes holds every tensor's data.
func (h *Header) CheckSize(size uint64) error {
	for i := range h.Tensors {
		t := &h.Tensors[i]
		if end := h.DataOffset + t.Offset + t.Size; end > size {
			return fmt.Errorf("%w: tensor %q ends at byte %d but the file has %d bytes", ErrTruncated, t.Name, end, size)
		}
	}
	return nil
}

func (h *Header) checkOverlap() error {
	idx := make([]int, len(h.Tensors))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return h.Tensors[idx[a]].Offset < h.Tensors[idx[b]].Offset })
	for k := 1; k < len(idx); k++ {
		prev, cur := &h.Tensors[idx[k-1]], &h.Tensors[idx[k]]
		if prev.Offset+prev.Size > cur.Offset {
			return fmt.Errorf("%w: tensors %q and %q overlap", ErrCorrupt, prev.Name, cur.Name)
		}
	}
	return nil
}

// Get returns the metadata value stored under key.
func (h *Header) Get(key string) (Value, bool) {
	i, ok := h.kvIndex[key]
	if !ok {
		return Value{}, false
	}
	return h.KV[i].Value, true
}

// Tensor returns the info of the named tensor.
func (h *Header) Tensor(name string) (*TensorInfo, bool) {
	i, ok := h.tensorIndex[name]
	if !ok {
		return nil, false
	}
	return &h.Tensors[i], true
}

// String returns the string stored under key.
func (h *Header) String(key string) (string, error) {
	v, ok := h.Get(key)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrNoKey, key)
	}
	s, ok := v.Str()
	if !ok {
		return "", fmt.Errorf("%w: %s is %s, want string", ErrWrongType, key, v.Type)
	}
	return s, nil
}

// Uint returns the non-negative integer stored under key.
func (h *Header) Uint(key string) (uint64, error) {
	v, ok := h.Get(key)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrNoKey, key)
	}
	u, ok := v.Uint()
	if !ok {
		return 0, fmt.Errorf("%w: %s is %s, want unsigned integer", ErrWrongType, key, v.Type)
	}
	return u, nil
}

// Float returns the number stored under key.
func (h *Header) Float(key string) (float64, error) {
	v, ok := h.Get(key)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrNoKey, key)
	}
	f, ok := v.Float()
	if !ok {
		return 0, fmt.Errorf("%w: %s is %s, want number", ErrWrongType, key, v.Type)
	}
	return f, nil
}

// Bool returns the bool stored under key.
func (h *Header) Bool(key string) (bool, error) {
	v, ok := h.Get(key)
	if !ok {
		return false, fmt.Errorf("%w: %s", ErrNoKey, key)
	}
	b, ok := v.Bool()
	if !ok {
		return false, fmt.Errorf("%w: %s is %s, want bool", ErrWrongType, key, v.Type)
	}
	return b, nil
}

// Array returns the typed slice stored under key (e.g. []string, []float32).
func (h *Header) Array(key string) (any, error) {
	v, ok := h.Get(key)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoKey, key)
	}
	if v.Type != TypeArray {
		return nil, fmt.Errorf("%w: %s is %s, want array", ErrWrongType, key, v.Type)
	}
	return v.v, nil
}

// Architecture returns general.architecture.
func (h *Header) Architecture() (string, error) { return h.String("general.architecture") }

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// decoder reads little-endian GGUF primitives from a byte slice, never past
// its end.
type decoder struct {
	buf []byte
	off int
}

func (d *decoder) remaining() uint64 { return uint64(len(d.buf) - d.off) }

func (d *decoder) fits(count, minSize uint64, what string) error {
	if count > d.remaining()/minSize {
		return fmt.Errorf("%w: %d %s cannot fit in the %d bytes left", ErrTruncated, count, what, d.remaining())
	}
	return nil
}

func (d *decoder) bytes(n uint64) ([]byte, error) {
	if n > d.remaining() {
		return nil, fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrTruncated, n, d.off, d.remaining())
	}
	b := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	return b, nil
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.bytes(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.bytes(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (d *decoder) str() (string, error) {
	n, err := d.u64()
	if err != nil {
		return "", err
	}
	if n > maxStringBytes {
		return "", fmt.Errorf("%w: string of %d bytes", ErrCorrupt, n)
	}
	b, err := d.bytes(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// maxNesting bounds arrays of arrays, which no real file nests deeply.
const maxNesting = 8

func (d *decoder) value(t ValueType, depth int) (Value, error) {
	if t == TypeArray {
		return d.array(depth)
	}
	v, err := d.scalar(t)
	if err != nil {
		return Value{}, err
	}
	return Value{Type: t, v: v}, nil
}

func (d *decoder) scalar(t ValueType) (any, error) {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		v, err := d.u8()
		return int8(v), err
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		v, err := d.u16()
		return int16(v), err
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		v, err := d.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case TypeBool:
		v, err := d.u8()
		if err == nil && v > 1 {
			return nil, fmt.Errorf("%w: bool value %d", ErrCorrupt, v)
		}
		return v == 1, err
	case TypeString:
		return d.str()
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		v, err := d.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	}
	return nil, fmt.Errorf("%w: value type %d", ErrCorrupt, uint32(t))
}

func (d *decoder) array(depth int) (Value, error) {
	if depth >= maxNesting {
		return Value{}, fmt.Errorf("%w: arrays nested deeper than %d", ErrCorrupt, maxNesting)
	}
	et32, err := d.u32()
	if err != nil {
		return Value{}, err
	}
	et := ValueType(et32)
	n, err := d.u64()
	if err != nil {
		return Value{}, err
	}
	minSize := uint64(et.size())
	switch et {
	case TypeString:
		minSize = 8
	case TypeArray:
		minSize = 12
	}
	if minSize == 0 {
		return Value{}, fmt.Errorf("%w: array element type %d", ErrCorrupt, et32)
	}
	if err := d.fits(n, minSize, "array elements"); err != nil {
		return Value{}, err
	}
	v := Value{Type: TypeArray, ElemType: et}
	if et == TypeString || et == TypeArray || et == TypeBool {
		v.v, err = d.slowArray(et, int(n), depth)
		return v, err
	}
	raw, err := d.bytes(n * minSize)
	if err != nil {
		return Value{}, err
	}
	v.v = decodeNumbers(et, raw, int(n))
	return v, nil
}

func (d *decoder) slowArray(et ValueType, n, depth int) (any, error) {
	switch et {
	case TypeString:
		out := make([]string, n)
		for i := range out {
			s, err := d.str()
			if err != nil {
				return nil, fmt.Errorf("string %d of %d: %w", i, n, err)
			}
			out[i] = s
		}
		return out, nil
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			b, err := d.scalar(TypeBool)
			if err != nil {
				return nil, err
			}
			out[i] = b.(bool)
		}
		return out, nil
	default:
		out := make([]Value, n)
		for i := range out {
			v, err := d.array(depth + 1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
}

func decodeNumbers(et ValueType, raw []byte, n int) any {
	le := binary.LittleEndian
	switch et {
	case TypeUint8:
		return append([]uint8(nil), raw...)
	case TypeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(raw[i])
		}
		return out
	case TypeUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(raw[2*i:])
		}
		return out
	case TypeInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(raw[2*i:]))
		}
		return out
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(raw[4*i:])
		}
		return out
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(raw[4*i:]))
		}
		return out
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(raw[8*i:])
		}
		return out
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
		return out
	case TypeFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out
	}
	panic("gguf: decodeNumbers on non-numeric type")
}

func (d *decoder) tensorInfo() (TensorInfo, error) {
	var ti TensorInfo
	var err error
	if ti.Name, err = d.str(); err != nil {
		return ti, err
	}
	nd, err := d.u32()
	if err != nil {
		return ti, err
	}
	if nd == 0 || nd > MaxDims {
		return ti, fmt.Errorf("%w: tensor %q has %d dimensions", ErrCorrupt, ti.Name, nd)
	}
	ti.Dims = make([]uint64, nd)
	elems := uint64(1)
	for i := range ti.Dims {
		if ti.Dims[i], err = d.u64(); err != nil {
			return ti, err
		}
		if ti.Dims[i] == 0 || ti.Dims[i] > 1<<40 || elems > (1<<50)/ti.Dims[i] {
			return ti, fmt.Errorf("%w: tensor %q has dimensions %v", ErrCorrupt, ti.Name, ti.Dims[:i+1])
		}
		elems *= ti.Dims[i]
	}
	tt, err := d.u32()
	if err != nil {
		return ti, err
	}
	ti.Type = tensor.Type(tt)
	if !ti.Type.Known() {
		return ti, fmt.Errorf("%w: tensor %q: %w %d", ErrCorrupt, ti.Name, tensor.ErrUnknownType, tt)
	}
	if ti.Dims[0]%uint64(ti.Type.BlockSize()) != 0 {
		return ti, fmt.Errorf("%w: tensor %q: row of %d elements is not a whole number of %s blocks", ErrCorrupt, ti.Name, ti.Dims[0], ti.Type)
	}
	size, err := ti.Type.RowSize(int64(elems))
	if err != nil {
		return ti, fmt.Errorf("%w: tensor %q: %w", ErrCorrupt, ti.Name, err)
	}
	ti.Size = uint64(size)
	if ti.Offset, err = d.u64(); err != nil {
		return ti, err
	}
	if ti.Offset > 1<<56 {
		return ti, fmt.Errorf("%w: tensor %q offset %d", ErrCorrupt, ti.Name, ti.Offset)
	}
	return ti, nil
}
