package discovery

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/node/p2p"
)

// The /hearth/announce/1 protocol: one request and one response per stream.
//
//	request:  version (1 byte, = 1) | model hash (32 bytes)
//	response: status (1 byte) | if status == ok: length (uvarint) | signed announcement
//
// The provider answers with its own latest signed announcement for the
// model (a withdrawal included, until it expires), or status notFound.
const (
	fetchVersion         = 1
	statusOK        byte = 0
	statusNotFound  byte = 1
	statusBadVer    byte = 2
	fetchReqLen          = 1 + len(ModelHash{})
	serveFetchTimeo      = 10 * time.Second
)

// ErrNoAnnouncement is returned when a peer has no announcement for a model.
var ErrNoAnnouncement = errors.New("peer has no announcement for the model")

// requestAnnouncement asks peer p for its signed announcement of model.
// Relayed connections are allowed: the exchange is a few hundred bytes.
func requestAnnouncement(ctx context.Context, h host.Host, p peer.ID, model ModelHash) ([]byte, error) {
	ctx = network.WithAllowLimitedConn(ctx, "hearth announce fetch")
	s, err := h.NewStream(ctx, p, p2p.AnnounceProtocol)
	if err != nil {
		return nil, fmt.Errorf("open announce stream to %s: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := s.SetDeadline(dl); err != nil {
			s.Reset()
			return nil, fmt.Errorf("set deadline: %w", err)
		}
	}
	req := append([]byte{fetchVersion}, model[:]...)
	if _, err := s.Write(req); err != nil {
		s.Reset()
		return nil, fmt.Errorf("send announce request: %w", err)
	}
	if err := s.CloseWrite(); err != nil {
		s.Reset()
		return nil, fmt.Errorf("close announce request: %w", err)
	}
	raw, err := readFetchResponse(s)
	if err != nil {
		s.Reset()
		return nil, fmt.Errorf("announce response from %s: %w", p, err)
	}
	return raw, nil
}

// readFetchResponse parses a response from r.
func readFetchResponse(r io.Reader) ([]byte, error) {
	br := &byteReader{r: r}
	status, err := br.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	switch status {
	case statusOK:
	case statusNotFound:
		return nil, ErrNoAnnouncement
	case statusBadVer:
		return nil, errors.New("peer does not speak this request version")
	default:
		return nil, fmt.Errorf("%w: unknown status %d", ErrMalformed, status)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, fmt.Errorf("read length: %w", err)
	}
	if n == 0 || n > MaxWireSize {
		return nil, fmt.Errorf("%w: announcement of %d bytes", ErrMalformed, n)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("read announcement: %w", err)
	}
	return raw, nil
}

// byteReader adapts an io.Reader to io.ByteReader without read-ahead.
type byteReader struct {
	r   io.Reader
	buf [1]byte
}

func (b *byteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(b.r, b.buf[:]); err != nil {
		return 0, err
	}
	return b.buf[0], nil
}

// handleFetch serves /hearth/announce/1.
func (s *Service) handleFetch(st network.Stream) {
	defer st.Close()
	if err := st.SetDeadline(time.Now().Add(serveFetchTimeo)); err != nil {
		st.Reset()
		return
	}
	req := make([]byte, fetchReqLen)
	if _, err := io.ReadFull(st, req); err != nil {
		s.log.Debug("announce request", "peer", st.Conn().RemotePeer(), "err", err)
		st.Reset()
		return
	}
	if req[0] != fetchVersion {
		if _, err := st.Write([]byte{statusBadVer}); err != nil {
			st.Reset()
		}
		return
	}
	var model ModelHash
	copy(model[:], req[1:])
	raw := s.ownRaw(model)
	resp := []byte{statusNotFound}
	if raw != nil {
		resp = binary.AppendUvarint([]byte{statusOK}, uint64(len(raw)))
		resp = append(resp, raw...)
	}
	if _, err := st.Write(resp); err != nil {
		s.log.Debug("announce response", "peer", st.Conn().RemotePeer(), "err", err)
		st.Reset()
	}
}
