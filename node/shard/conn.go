package shard

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// stream is what a conn needs of a libp2p stream.
type stream interface {
	io.ReadWriter
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// conn reads and writes frames on one stream, reusing its buffers. It is not
// safe for concurrent use; the byte counters are.
type conn struct {
	s     stream
	r     *bufio.Reader
	in    []byte // last frame read; Data fields of decoded messages alias it
	out   []byte // frame being written
	maxIn int

	bytesIn, bytesOut atomic.Uint64
}

func newConn(s stream, maxIn int) *conn {
	return &conn{s: s, r: bufio.NewReaderSize(s, 64<<10), maxIn: maxIn}
}

// recv reads and decodes one frame. first runs when its first byte arrives.
func (c *conn) recv(first func() error) (Message, error) {
	t, payload, err := readFrame(c.r, c.maxIn, c.in, first)
	c.in = payload
	if err != nil {
		return nil, err
	}
	c.bytesIn.Add(uint64(frameHeader + len(payload)))
	return DecodeMessage(t, payload)
}

// send writes m as one frame, with tail (when not nil) appending the rest of
// its payload (tensor data) straight into the frame buffer.
func (c *conn) send(m Message, tail func([]byte) []byte, timeout time.Duration) error {
	b := AppendFrame(c.out[:0], m)
	if tail != nil {
		b = tail(b)
		putFrameLen(b, len(b)-frameHeader)
	}
	c.out = b
	if timeout > 0 {
		if err := c.s.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
	}
	_, err := c.s.Write(b)
	c.bytesOut.Add(uint64(len(b)))
	return err
}

// isTimeout reports a deadline error from a stream.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
