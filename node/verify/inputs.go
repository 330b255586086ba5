package verify

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// InputsProtocol serves the input histories of fraud reports too large to
// carry: the request is the 32-byte hash of the encoded inputs, the answer
// a status byte (0: found, 1: unknown), a big-endian u32 length and the
// bytes.
const InputsProtocol protocol.ID = "/hearth/fraud-inputs/1"

const inputsTimeout = 30 * time.Second

// serveInputs answers one request.
func (f *Fraud) serveInputs(st network.Stream) {
	defer st.Close()
	st.SetDeadline(time.Now().Add(inputsTimeout))
	var hash [32]byte
	if _, err := io.ReadFull(st, hash[:]); err != nil {
		st.Reset()
		return
	}
	b, ok := f.blob(hash)
	w := bufio.NewWriter(st)
	if !ok {
		w.WriteByte(1)
		w.Flush()
		return
	}
	w.WriteByte(0)
	binary.Write(w, binary.BigEndian, uint32(len(b)))
	w.Write(b)
	if err := w.Flush(); err != nil {
		st.Reset()
	}
}

// fetchInputs asks a reporter for the inputs of a report: want bytes
// hashing to hash.
func fetchInputs(ctx context.Context, h host.Host, from peer.ID, hash [32]byte, want int) ([]byte, error) {
	if want <= 0 || want > MaxInputs {
		return nil, fmt.Errorf("%w: %d bytes of inputs", ErrBadReport, want)
	}
	ctx, cancel := context.WithTimeout(ctx, inputsTimeout)
	defer cancel()
	st, err := h.NewStream(ctx, from, InputsProtocol)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if _, err := st.Write(hash[:]); err != nil {
		st.Reset()
		return nil, err
	}
	if err := st.CloseWrite(); err != nil {
		st.Reset()
		return nil, err
	}
	r := bufio.NewReader(st)
	status, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if status != 0 {
		return nil, fmt.Errorf("%s no longer has them", from)
	}
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return nil, err
	}
	if int(n) != want {
		st.Reset()
		return nil, fmt.Errorf("%w: %d bytes of inputs offered, the report says %d", ErrBadReport, n, want)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	if sha256Sum(b) != hash {
		return nil, fmt.Errorf("%w: inputs do not match their hash", ErrBadReport)
	}
	return b, nil
}
