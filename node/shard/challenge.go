package shard

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Weight challenges. A client that holds the model file can check that a
// provider really holds the weights of the layers it serves: it sends a
// fresh nonce and a few random byte ranges of the range's tensors, and the
// provider answers sha256(nonce ‖ bytes) for each. The nonce makes old
// answers useless; the random slices make holding only part of the weights
// a gamble that fails fast.

// Limits of a Challenge.
const (
	MaxChallengeSlices = 16
	MaxSliceLen        = 1 << 20
	maxTensorNameLen   = 256
)

// ErrWrongWeights reports a provider whose challenge answers do not match
// the model's weights.
var ErrWrongWeights = errors.New("provider does not hold the weights")

// Slice is a byte range [Off, Off+Len) of a tensor's data.
type Slice struct {
	Tensor string
	Off    uint64
	Len    uint64
}

// Challenge asks the server of an open session for the digest of each slice.
type Challenge struct {
	Nonce  [32]byte
	Slices []Slice
}

// ChallengeOK answers a Challenge, one digest per slice in order.
type ChallengeOK struct{ Digests [][32]byte }

func (Challenge) Type() MsgType   { return MsgChallenge }
func (ChallengeOK) Type() MsgType { return MsgChallengeOK }

func (m Challenge) appendPayload(b []byte) []byte {
	e := encoder{b}
	e.bytes(m.Nonce[:])
	e.u8(uint8(len(m.Slices)))
	for _, s := range m.Slices {
		e.str(s.Tensor, maxTensorNameLen)
		e.u64(s.Off)
		e.u32(uint32(s.Len))
	}
	return e.b
}

func (m ChallengeOK) appendPayload(b []byte) []byte {
	e := encoder{b}
	e.u8(uint8(len(m.Digests)))
	for _, d := range m.Digests {
		e.bytes(d[:])
	}
	return e.b
}

func decodeChallenge(d *decoder) (Message, error) {
	var m Challenge
	d.array(m.Nonce[:])
	n := int(d.u8())
	if d.err == nil && (n == 0 || n > MaxChallengeSlices) {
		return nil, malformed("%d challenge slices (1…%d)", n, MaxChallengeSlices)
	}
	for range n {
		s := Slice{Tensor: d.str(maxTensorNameLen), Off: d.u64(), Len: uint64(d.u32())}
		if d.err != nil {
			return nil, d.err
		}
		if s.Len == 0 || s.Len > MaxSliceLen || s.Off > 1<<62 {
			return nil, malformed("challenge slice of %d bytes at %d", s.Len, s.Off)
		}
		m.Slices = append(m.Slices, s)
	}
	return m, nil
}

func decodeChallengeOK(d *decoder) (Message, error) {
	n := int(d.u8())
	if d.err == nil && n > MaxChallengeSlices {
		return nil, malformed("%d challenge digests", n)
	}
	m := ChallengeOK{Digests: make([][32]byte, n)}
	for i := range m.Digests {
		d.array(m.Digests[i][:])
	}
	return m, nil
}

// SliceDigest is the answer to one slice: sha256(nonce ‖ bytes).
func SliceDigest(nonce [32]byte, data []byte) [32]byte {
	h := sha256.New()
	h.Write(nonce[:])
	h.Write(data)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// TensorSource is the optional capability of a Backend to answer weight
// challenges: the bytes of a tensor of the served layers.
type TensorSource interface {
	TensorBytes(name string) ([]byte, error)
}

// TensorInRange reports whether the tensor named name belongs to a stage
// [from,to) of a model of numLayers layers: its blocks' tensors, the token
// embeddings for a first stage, the output norm and head for a last one
// (and the embeddings again when the head is tied to them).
func TensorInRange(name string, from, to, numLayers int, tied bool) bool {
	if rest, ok := strings.CutPrefix(name, "blk."); ok {
		num, _, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(num)
		return ok && err == nil && i >= from && i < to
	}
	switch name {
	case "token_embd.weight":
		return from == 0 || (tied && to == numLayers)
	case "output.weight", "output_norm.weight":
		return to == numLayers
	}
	return false
}

// TensorBytes returns a tensor of the served range's weights.
func (b *ModelBackend) TensorBytes(name string) ([]byte, error) {
	if !TensorInRange(name, b.info.From, b.info.To, b.info.NumLayers, b.m.TiedEmbeddings()) {
		return nil, fmt.Errorf("tensor %q is not in the served layers [%d,%d)", name, b.info.From, b.info.To)
	}
	_, data, err := b.m.File.TensorData(name)
	return data, err
}

// answer computes a challenge's digests from the session's backend.
func (h *handler) answer(c Challenge) (ChallengeOK, *Error) {
	src, ok := h.sess.model.b.(TensorSource)
	if !ok {
		return ChallengeOK{}, errorf(CodeBadRequest, "this server cannot answer weight challenges")
	}
	ss := h.sess
	var ok2 ChallengeOK
	for _, s := range c.Slices {
		if !TensorInRange(s.Tensor, ss.from, ss.to, ss.model.info.NumLayers, true) {
			return ChallengeOK{}, errorf(CodeBadRequest, "tensor %q is outside the session's layers", s.Tensor)
		}
		data, err := src.TensorBytes(s.Tensor)
		if err != nil {
			return ChallengeOK{}, errorf(CodeBadRequest, "%v", err)
		}
		if s.Off > uint64(len(data)) || s.Len > uint64(len(data))-s.Off {
			return ChallengeOK{}, errorf(CodeBadRequest, "slice [%d,+%d) outside tensor %q of %d bytes", s.Off, s.Len, s.Tensor, len(data))
		}
		ok2.Digests = append(ok2.Digests, SliceDigest(c.Nonce, data[s.Off:s.Off+s.Len]))
	}
	return ok2, nil
}

// CanChallenge reports whether the provider answers weight challenges for
// the session's model (its Info says so).
func (r *RemoteStage) CanChallenge() bool { return r.info.Challenges }

// Challenge asks the provider for the digests of c's slices; the caller
// compares them with its own copy of the weights (see SliceDigest). A
// failure breaks the stage.
func (r *RemoteStage) Challenge(ctx context.Context, c Challenge) ([][32]byte, error) {
	if len(c.Slices) == 0 || len(c.Slices) > MaxChallengeSlices {
		return nil, fmt.Errorf("challenge of %d slices (1…%d)", len(c.Slices), MaxChallengeSlices)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken != nil {
		return nil, r.broken
	}
	if r.closed {
		return nil, fmt.Errorf("remote stage [%d,%d) on %s: closed", r.from, r.to, r.client.peer)
	}
	if err := r.st.SetDeadline(time.Time{}); err != nil {
		return nil, r.breakWith(err)
	}
	stop := context.AfterFunc(ctx, func() { r.st.SetDeadline(time.Now()) })
	defer stop()
	if err := r.c.send(c, nil, 0); err != nil {
		return nil, r.breakWith(ctxErr(ctx, r.explain(err)))
	}
	m, err := r.c.recv(nil)
	if err != nil {
		return nil, r.breakWith(ctxErr(ctx, err))
	}
	switch m := m.(type) {
	case ChallengeOK:
		if len(m.Digests) != len(c.Slices) {
			return nil, r.breakWith(fmt.Errorf("%w: %d digests for %d slices", ErrProtocol, len(m.Digests), len(c.Slices)))
		}
		return m.Digests, nil
	case *Error:
		return nil, r.breakWith(m)
	default:
		return nil, r.breakWith(fmt.Errorf("%w: %s instead of challenge-ok", ErrProtocol, m.Type()))
	}
}
