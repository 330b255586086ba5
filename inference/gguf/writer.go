package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Writer builds a GGUF version 3 file: metadata in insertion order, then the
// tensor index, then aligned tensor data.
type Writer struct {
	kv      []KV
	kvIndex map[string]int
	tensors []writerTensor
	names   map[string]bool
}

type writerTensor struct {
	info  TensorInfo
	write func(io.Writer) error
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer {
	return &Writer{kvIndex: map[string]int{}, names: map[string]bool{}}
}

// Set stores a metadata value (see NewValue for accepted Go types). Setting a
// key again replaces its value in place.
func (w *Writer) Set(key string, v any) {
	val := NewValue(v)
	if i, ok := w.kvIndex[key]; ok {
		w.kv[i].Value = val
		return
	}
	w.kvIndex[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: val})
}

// CopyKV copies every metadata entry of h into w.
func (w *Writer) CopyKV(h *Header) {
	for _, kv := range h.KV {
		w.Set(kv.Key, kv.Value)
	}
}

// AddTensor adds a tensor whose data is held in memory.
func (w *Writer) AddTensor(name string, t tensor.Type, dims []uint64, data []byte) error {
	return w.AddTensorFunc(name, t, dims, func(out io.Writer) error {
		_, err := out.Write(data)
		return err
	}, uint64(len(data)))
}

// AddTensorFunc adds a tensor whose data is produced by write when the file is
// written; write must produce exactly size bytes (checked).
func (w *Writer) AddTensorFunc(name string, t tensor.Type, dims []uint64, write func(io.Writer) error, size uint64) error {
	if w.names[name] {
		return fmt.Errorf("gguf writer: duplicate tensor %q", name)
	}
	if len(dims) == 0 || len(dims) > MaxDims {
		return fmt.Errorf("gguf writer: tensor %q has %d dimensions", name, len(dims))
	}
	elems := int64(1)
	for _, d := range dims {
		elems *= int64(d)
	}
	if dims[0]%uint64(t.BlockSize()) != 0 {
		return fmt.Errorf("gguf writer: tensor %q row %d is not a multiple of %s block size %d", name, dims[0], t, t.BlockSize())
	}
	want, err := t.RowSize(elems)
	if err != nil {
		return fmt.Errorf("gguf writer: tensor %q: %w", name, err)
	}
	if uint64(want) != size {
		return fmt.Errorf("gguf writer: tensor %q is %d bytes, want %d for %s %v", name, size, want, t, dims)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, writerTensor{
		info:  TensorInfo{Name: name, Dims: append([]uint64(nil), dims...), Type: t, Size: size},
		write: write,
	})
	return nil
}

func (w *Writer) alignment() uint64 {
	if i, ok := w.kvIndex["general.alignment"]; ok {
		if a, ok := w.kv[i].Value.Uint(); ok && a > 0 && a&(a-1) == 0 {
			return a
		}
	}
	return DefaultAlignment
}

// WriteTo writes the file to out.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	cw := &countWriter{w: bufio.NewWriterSize(out, 1<<20)}
	e := encoder{w: cw}
	align := w.alignment()
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kv)))
	for _, kv := range w.kv {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.Type))
		e.value(kv.Value)
	}
	var off uint64
	for i := range w.tensors {
		t := &w.tensors[i].info
		t.Offset = off
		off = alignUp(off+t.Size, align)
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
	}
	if e.err != nil {
		return cw.n, e.err
	}
	if len(w.tensors) > 0 { // llama.cpp writes no padding after a tensor-less header
		e.pad(align)
	}
	for i := range w.tensors {
		wt := &w.tensors[i]
		start := cw.n
		if err := wt.write(cw); err != nil {
			return cw.n, fmt.Errorf("write tensor %q: %w", wt.info.Name, err)
		}
		if got := uint64(cw.n - start); got != wt.info.Size {
			return cw.n, fmt.Errorf("write tensor %q: wrote %d bytes, want %d", wt.info.Name, got, wt.info.Size)
		}
		if i < len(w.tensors)-1 {
			e.pad(align)
		}
	}
	if e.err != nil {
		return cw.n, e.err
	}
	return cw.n, cw.w.(*bufio.Writer).Flush()
}

// WriteFile writes the file atomically: to a temporary file in the same
// directory, synced, then renamed over path.
func (w *Writer) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = w.WriteTo(tmp); err != nil {
		return fmt.Errorf("write gguf %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write gguf %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write gguf %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write gguf %s: %w", path, err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type encoder struct {
	w   *countWriter
	err error
	buf [8]byte
}

func (e *encoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u8(v uint8) { e.raw([]byte{v}) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.raw(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.raw(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.raw(e.buf[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

func (e *encoder) pad(align uint64) {
	if n := alignUp(uint64(e.w.n), align) - uint64(e.w.n); n > 0 {
		e.raw(make([]byte, n))
	}
}

func (e *encoder) value(v Value) {
	switch x := v.v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	default:
		e.array(v)
	}
}

func (e *encoder) array(v Value) {
	if v.Type != TypeArray {
		e.err = errors.New("gguf writer: value of unknown type")
		return
	}
	e.u32(uint32(v.ElemType))
	e.u64(uint64(v.Len()))
	switch a := v.v.(type) {
	case []uint8:
		e.raw(a)
	case []int8:
		for _, x := range a {
			e.u8(uint8(x))
		}
	case []uint16:
		for _, x := range a {
			e.u16(x)
		}
	case []int16:
		for _, x := range a {
			e.u16(uint16(x))
		}
	case []uint32:
		for _, x := range a {
			e.u32(x)
		}
	case []int32:
		for _, x := range a {
			e.u32(uint32(x))
		}
	case []float32:
		for _, x := range a {
			e.u32(math.Float32bits(x))
		}
	case []bool:
		for _, x := range a {
			e.value(NewValue(x))
		}
	case []string:
		for _, x := range a {
			e.str(x)
		}
	case []uint64:
		for _, x := range a {
			e.u64(x)
		}
	case []int64:
		for _, x := range a {
			e.u64(uint64(x))
		}
	case []float64:
		for _, x := range a {
			e.u64(math.Float64bits(x))
		}
	case []Value:
		for _, x := range a {
			e.array(x)
		}
	}
}
