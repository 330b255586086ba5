package gguf

import (
	"fmt"
	"os"
)

// File is an open GGUF file whose bytes are memory-mapped read-only. Tensor
// data returned by it aliases the mapping and is valid until Close.
type File struct {
	*Header
	Path string

	data  []byte
	unmap func() error
}

// Open memory-maps the GGUF file at path and parses its header.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("open model: %s is a directory", path)
	}
	data, unmap, err := mmapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	h, err := ParseHeader(data)
	if err == nil {
		err = h.CheckSize(uint64(len(data)))
	}
	if err != nil {
		_ = unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{Header: h, Path: path, data: data, unmap: unmap}, nil
}

// FromBytes wraps an in-memory GGUF image (tests, fuzzing, downloads).
func FromBytes(data []byte) (*File, error) {
	h, err := ParseHeader(data)
	if err != nil {
		return nil, err
	}
	if err := h.CheckSize(uint64(len(data))); err != nil {
		return nil, err
	}
	return &File{Header: h, data: data, unmap: func() error { return nil }}, nil
}

// Size is the file's length in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

// Data returns the bytes of a tensor of this file.
func (f *File) Data(t *TensorInfo) []byte {
	start := f.DataOffset + t.Offset
	return f.data[start : start+t.Size : start+t.Size]
}

// TensorData returns the info and bytes of the named tensor.
func (f *File) TensorData(name string) (*TensorInfo, []byte, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s", ErrNoTensor, name)
	}
	return t, f.Data(t), nil
}

// Bytes returns the whole mapped file.
func (f *File) Bytes() []byte { return f.data }

// Close unmaps the file. Tensor data obtained from f must not be used after.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data = nil, nil
	return err
}
