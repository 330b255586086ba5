package gpu

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/oliverbestmann/webgpu/wgpu"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Buffer usages.
const (
	usageStorage  = wgpu.BufferUsageStorage | wgpu.BufferUsageCopyDst | wgpu.BufferUsageCopySrc
	usageUniform  = wgpu.BufferUsageUniform | wgpu.BufferUsageCopyDst
	usageReadback = wgpu.BufferUsageMapRead | wgpu.BufferUsageCopyDst
)

// uploadChunk is the most bytes written to the queue at once; flushEvery
// bounds the staging memory held before the queue is drained.
const (
	uploadChunk = 32 << 20
	flushEvery  = 256 << 20
)

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// buffer creates a buffer of at least size bytes (rounded up to 4, at
// least 16). The caller holds d.mu.
func (d *Device) buffer(label string, size uint64, usage wgpu.BufferUsage) (*wgpu.Buffer, error) {
	size = max(16, align4(size))
	if size > d.maxBuffer {
		return nil, fmt.Errorf("gpu: buffer %s of %d bytes exceeds the device's %d", label, size, d.maxBuffer)
	}
	b, err := d.dev.TryCreateBuffer(&wgpu.BufferDescriptor{Label: label, Size: size, Usage: usage})
	if err != nil {
		return nil, fmt.Errorf("gpu: buffer %s (%d bytes): %w", label, size, err)
	}
	return b, nil
}

// write copies data into buf at off through the queue, in chunks, padding
// the tail to a multiple of 4 bytes. The caller holds d.mu.
func (d *Device) write(buf *wgpu.Buffer, off uint64, data []byte) error {
	pending := 0
	for len(data) > 0 {
		n := min(len(data), uploadChunk)
		piece := data[:n]
		if n%4 != 0 {
			piece = make([]byte, align4(uint64(n)))
			copy(piece, data[:n])
		}
		if err := d.queue.TryWriteBuffer(buf, off, piece); err != nil {
			return fmt.Errorf("gpu: write: %w", err)
		}
		off += uint64(n)
		data = data[n:]
		if pending += n; pending >= flushEvery {
			d.flush()
			pending = 0
		}
	}
	return nil
}

// flush submits pending queue writes and waits for them, releasing their
// staging memory. The caller holds d.mu.
func (d *Device) flush() {
	d.queue.Submit()
	d.dev.Poll(true, nil)
}

// read maps buf (MapRead) and copies its first len(dst) bytes out. The
// caller holds d.mu and has submitted the work that fills buf.
func (d *Device) read(buf *wgpu.Buffer, dst []byte) error {
	size := align4(uint64(len(dst)))
	status := wgpu.MapAsyncStatus(0)
	if err := buf.TryMapAsync(wgpu.MapModeRead, 0, size, func(s wgpu.MapAsyncStatus) { status = s }); err != nil {
		return fmt.Errorf("gpu: map: %w", err)
	}
	d.dev.Poll(true, nil)
	if status != wgpu.MapAsyncStatusSuccess {
		msg := fmt.Sprintf("readback failed (map status %v)", status)
		d.lost.Store(&msg)
		return d.Err()
	}
	copy(dst, buf.GetMappedRange(0, uint(size)))
	if err := buf.TryUnmap(); err != nil {
		return fmt.Errorf("gpu: unmap: %w", err)
	}
	return nil
}

// f32Bytes returns the little-endian bytes of x.
func f32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// bytesF32 decodes little-endian float32s from b into x.
func bytesF32(x []float32, b []byte) {
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// paramSlot is the bytes of one kernel's parameter block in a uniform
// buffer: the WebGPU default minimum uniform offset alignment.
const paramSlot = 256

// params packs a parameter block: ints and uint32s as u32, float32 as f32.
func params(vals ...any) []byte {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		var w uint32
		switch v := v.(type) {
		case int:
			w = uint32(v)
		case uint32:
			w = v
		case bool:
			if v {
				w = 1
			}
		case float32:
			w = math.Float32bits(v)
		default:
			panic(fmt.Sprintf("gpu: parameter of type %T", v))
		}
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	for len(b)%16 != 0 {
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

// matrix is a 2-D weight on the GPU as its raw GGUF blocks, split by rows
// across buffers that each fit one storage binding.
type matrix struct {
	typ        tensor.Type
	rows, cols int
	rowBytes   int
	parts      []matPart
}

type matPart struct {
	buf        *wgpu.Buffer
	row0, rows int
}

func (m *matrix) bytes() int64 { return int64(m.rows) * int64(m.rowBytes) }

func (m *matrix) release() {
	for _, p := range m.parts {
		p.buf.Release()
	}
	m.parts = nil
}

// uploadMatrix copies a (rows, cols) weight of type t, given as its GGUF
// bytes, to the GPU. The caller holds d.mu.
func (d *Device) uploadMatrix(name string, t tensor.Type, rows, cols int, data []byte) (*matrix, error) {
	if !Supported(t) {
		return nil, fmt.Errorf("gpu: %s: %w: %s", name, tensor.ErrUnsupportedType, t)
	}
	rb, err := t.RowSize(int64(cols))
	if err != nil {
		return nil, fmt.Errorf("gpu: %s: %w", name, err)
	}
	rowBytes := int(rb)
	if len(data) != rows*rowBytes {
		return nil, fmt.Errorf("gpu: %s: %d bytes for %d rows of %d", name, len(data), rows, rowBytes)
	}
	if uint64(rowBytes)+4 > d.maxBinding {
		return nil, fmt.Errorf("gpu: %s: a row of %d bytes exceeds the %d-byte binding limit", name, rowBytes, d.maxBinding)
	}
	m := &matrix{typ: t, rows: rows, cols: cols, rowBytes: rowBytes}
	// Keep 4 bytes of slack: unaligned reads of a row's last bytes may touch
	// the following word.
	per := int((d.maxBinding - 4) / uint64(rowBytes))
	for r0 := 0; r0 < rows; r0 += per {
		n := min(per, rows-r0)
		buf, err := d.buffer(fmt.Sprintf("%s[%d:%d]", name, r0, r0+n), uint64(n*rowBytes)+4, usageStorage)
		if err != nil {
			m.release()
			return nil, err
		}
		m.parts = append(m.parts, matPart{buf: buf, row0: r0, rows: n})
		if err := d.write(buf, 0, data[r0*rowBytes:(r0+n)*rowBytes]); err != nil {
			m.release()
			return nil, err
		}
	}
	return m, nil
}

// uploadF32 copies a float32 vector to a new storage buffer. The caller
// holds d.mu.
func (d *Device) uploadF32(name string, x []float32) (*wgpu.Buffer, error) {
	buf, err := d.buffer(name, uint64(4*len(x)), usageStorage)
	if err != nil {
		return nil, err
	}
	if err := d.write(buf, 0, f32Bytes(x)); err != nil {
		buf.Release()
		return nil, err
	}
	return buf, nil
}
