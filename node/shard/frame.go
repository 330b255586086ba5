package shard

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frames on a /hearth/shard/1 stream are
//
//	length u32 (big-endian) | type u8 | payload
//
// where length counts the type byte and the payload. A reader checks length
// against its maximum before reading (or allocating) anything, and grows its
// buffer only as the payload's bytes actually arrive, so a peer that
// announces a large frame and then stalls costs no memory.

// MsgType is the kind of a frame.
type MsgType uint8

// Frame types.
const (
	MsgHello   MsgType = 1  // client → server: protocol version
	MsgInfo    MsgType = 2  // server → client: what it serves
	MsgOpen    MsgType = 3  // client → server: open a session
	MsgOpenOK  MsgType = 4  // server → client: session granted
	MsgForward MsgType = 5  // client → server: run a batch
	MsgResult  MsgType = 6  // server → client: hidden states or logits
	MsgReceipt MsgType = 7  // client → server: signed cumulative receipt
	MsgClose   MsgType = 8  // client → server: end the session (or info query)
	MsgClosed  MsgType = 9  // server → client: session closed, final units
	MsgError   MsgType = 10 // either way: an error with a code

	MsgChallenge   MsgType = 11 // client → server: prove holding weights
	MsgChallengeOK MsgType = 12 // server → client: digests of the slices
)

func (t MsgType) String() string {
	names := [...]string{"", "hello", "info", "open", "open-ok", "forward", "result", "receipt", "close", "closed", "error",
		"challenge", "challenge-ok"}
	if int(t) < len(names) && t != 0 {
		return names[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

var (
	// ErrFrameTooLarge reports a frame longer than the reader accepts.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrMalformed reports a frame whose bytes do not decode.
	ErrMalformed = errors.New("malformed frame")
)

// frameHeader is the length prefix plus the type byte.
const frameHeader = 5

// readChunk is how much a frame buffer grows at a time beyond what it holds.
const readChunk = 256 << 10

// appendFrame appends a frame holding payload to b.
func appendFrameHeader(b []byte, t MsgType, payloadLen int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(1+payloadLen))
	return append(b, byte(t))
}

// readFrame reads one frame of at most max bytes (type + payload) into buf,
// reusing its storage, and returns the type and payload. first, when not
// nil, is called once the first byte has arrived (to switch from an idle
// deadline to a per-frame deadline).
func readFrame(r *bufio.Reader, max int, buf []byte, first func() error) (MsgType, []byte, error) {
	if _, err := r.Peek(1); err != nil {
		return 0, buf, err
	}
	if first != nil {
		if err := first(); err != nil {
			return 0, buf, err
		}
	}
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, buf, unexpectedEOF(err)
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n == 0 {
		return 0, buf, fmt.Errorf("%w: zero length", ErrMalformed)
	}
	if uint64(n) > uint64(max) {
		return 0, buf, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	t := MsgType(hdr[4])
	payload, err := readGrowing(r, buf[:0], int(n-1))
	return t, payload, err
}

// readGrowing appends exactly n bytes from r to buf, growing it at most
// readChunk beyond the bytes received so far.
func readGrowing(r io.Reader, buf []byte, n int) ([]byte, error) {
	for len(buf) < n {
		want := min(n, len(buf)+readChunk)
		if cap(buf) < want {
			nb := make([]byte, len(buf), max(want, min(n, 2*cap(buf))))
			copy(nb, buf)
			buf = nb
		}
		k, err := io.ReadFull(r, buf[len(buf):want])
		buf = buf[:len(buf)+k]
		if err != nil {
			return buf, unexpectedEOF(err)
		}
	}
	return buf, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// encoder appends big-endian fields.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)     { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16)   { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32)   { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)   { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) bytes(v []byte) { e.b = append(e.b, v...) }
func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *encoder) str(s string, max int) {
	if len(s) > max {
		s = s[:max]
	}
	e.u16(uint16(len(s)))
	e.b = append(e.b, s...)
}

// decoder reads big-endian fields; the first short read sets err and every
// later read returns zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.err = fmt.Errorf("%w: truncated", ErrMalformed)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) bool() bool {
	switch v := d.u8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		if d.err == nil {
			d.err = fmt.Errorf("%w: boolean %d", ErrMalformed, v)
		}
		return false
	}
}

func (d *decoder) array(dst []byte) { copy(dst, d.take(len(dst))) }

func (d *decoder) str(max int) string {
	n := int(d.u16())
	if n > max && d.err == nil {
		d.err = fmt.Errorf("%w: string of %d bytes, limit %d", ErrMalformed, n, max)
	}
	return string(d.take(n))
}

// rest returns the remaining bytes.
func (d *decoder) rest() []byte {
	v := d.b
	d.b = nil
	return v
}

// end reports the first error, or trailing bytes.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	return d.err
}
