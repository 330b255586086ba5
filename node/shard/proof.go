package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Signed results. A server signs every Result with its libp2p peer key over
// a ResultStatement: which session, model and layers, which positions, a
// digest of every input the session has received up to them, and a digest
// of the output bytes. A client that finds the output wrong can hand the
// statement, the signature and the inputs to anyone, who re-runs the layers
// and sees the mismatch without trusting the client.

// resultDomain separates result signatures from anything else a peer key
// signs (libp2p records, announcements).
const resultDomain = "hearth/shard-result/v1\x00"

// maxSigLen bounds a result signature (ed25519: 64 bytes; the bound leaves
// room for the other libp2p key types).
const maxSigLen = 512

// ErrBadSignature reports a result signature that does not verify.
var ErrBadSignature = errors.New("bad result signature")

// ChainInput extends an input digest by one position's input: its payload
// kind, its wire dtype and its bytes exactly as sent (4 bytes of token id,
// or dim hidden values in dtype). A session's digest starts at zero and is
// extended position by position, so it commits to the whole history; a
// replay from an earlier position restarts from that position's digest.
func ChainInput(prev [32]byte, kind Kind, dt DType, data []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write([]byte{byte(kind), byte(dt)})
	h.Write(data)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// chainInputs extends chain (one digest per position already received) with
// the n positions of a payload.
func chainInputs(chain [][32]byte, kind Kind, dt DType, n int, data []byte) [][32]byte {
	var prev [32]byte
	if len(chain) > 0 {
		prev = chain[len(chain)-1]
	}
	per := len(data) / n
	for i := range n {
		prev = ChainInput(prev, kind, dt, data[i*per:(i+1)*per])
		chain = append(chain, prev)
	}
	return chain
}

// ResultStatement is what a provider signs for one Result.
type ResultStatement struct {
	Session  [16]byte
	Model    [32]byte
	From, To int
	Pos, N   int    // the positions the result answers
	Backend  string // the provider's compute backend ("cpu": bit-exact)
	// Inputs is the chained digest (ChainInput) of positions [0, Pos+N).
	Inputs [32]byte
	Kind   Kind  // KindHidden or KindLogits
	DType  DType // of the output bytes
	// Output is the sha256 of the result's data bytes.
	Output [32]byte
}

// statementLen is the encoded size without the backend name.
const statementLen = 16 + 32 + 4*4 + 2 + 32 + 2 + 32

// AppendBinary appends the statement's canonical encoding.
func (s ResultStatement) AppendBinary(b []byte) []byte {
	e := encoder{b}
	e.bytes(s.Session[:])
	e.bytes(s.Model[:])
	for _, v := range []int{s.From, s.To, s.Pos, s.N} {
		e.u32(uint32(v))
	}
	e.str(s.Backend, maxBackendLen)
	e.bytes(s.Inputs[:])
	e.u8(uint8(s.Kind))
	e.u8(uint8(s.DType))
	e.bytes(s.Output[:])
	return e.b
}

// DecodeResultStatement decodes a canonical encoding and checks its fields.
func DecodeResultStatement(b []byte) (ResultStatement, error) {
	d := &decoder{b: b}
	s := decodeStatement(d)
	if err := d.end(); err != nil {
		return ResultStatement{}, fmt.Errorf("result statement: %w", err)
	}
	if err := s.validate(); err != nil {
		return ResultStatement{}, err
	}
	return s, nil
}

func decodeStatement(d *decoder) ResultStatement {
	var s ResultStatement
	d.array(s.Session[:])
	d.array(s.Model[:])
	s.From, s.To, s.Pos, s.N = d.u32int(), d.u32int(), d.u32int(), d.u32int()
	s.Backend = d.str(maxBackendLen)
	d.array(s.Inputs[:])
	s.Kind, s.DType = Kind(d.u8()), DType(d.u8())
	d.array(s.Output[:])
	return s
}

func (s ResultStatement) validate() error {
	switch {
	case s.From < 0 || s.From >= s.To:
		return malformed("statement layers [%d,%d)", s.From, s.To)
	case s.N <= 0 || s.Pos < 0 || s.Pos > math.MaxInt32-s.N:
		return malformed("statement positions %d+%d", s.Pos, s.N)
	case s.Kind != KindHidden && s.Kind != KindLogits:
		return malformed("statement output kind %d", s.Kind)
	case s.DType != F32 && s.DType != F16:
		return malformed("statement output dtype %s", s.DType)
	}
	return nil
}

// signedBytes is what the signature covers.
func (s ResultStatement) signedBytes() []byte {
	return s.AppendBinary(append(make([]byte, 0, len(resultDomain)+statementLen+len(s.Backend)+2), resultDomain...))
}

// Sign signs the statement with a peer key.
func (s ResultStatement) Sign(key crypto.PrivKey) ([]byte, error) {
	sig, err := key.Sign(s.signedBytes())
	if err != nil {
		return nil, fmt.Errorf("sign result: %w", err)
	}
	return sig, nil
}

// Verify checks sig against the public key inside the provider's peer ID
// (ed25519 and other inlined keys).
func (s ResultStatement) Verify(provider peer.ID, sig []byte) error {
	pub, err := provider.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("%w: no public key in peer id %s: %v", ErrBadSignature, provider, err)
	}
	ok, err := pub.Verify(s.signedBytes(), sig)
	if err != nil || !ok {
		return fmt.Errorf("%w: from %s", ErrBadSignature, provider)
	}
	return nil
}

// Digest identifies the statement (and so the result): sha256 of its
// encoding.
func (s ResultStatement) Digest() [32]byte { return sha256.Sum256(s.AppendBinary(nil)) }

// Evidence is a provider's signed answer to one Forward, as a client holds
// it: the statement the client expects the provider signed (built from what
// it sent and received), the signature, and the output bytes.
type Evidence struct {
	Provider  peer.ID
	Statement ResultStatement
	Sig       []byte
	Output    []byte // the result's data bytes (Statement.DType)
	// InputDTypes are the wire dtypes of the inputs of positions
	// [0, Pos+N) (I32 for token ids): with the input values they give the
	// exact bytes the provider hashed, and the exact values it computed on.
	InputDTypes []DType
}

// Verify checks the signature and that Output matches the statement.
func (e *Evidence) Verify() error {
	if sha256.Sum256(e.Output) != e.Statement.Output {
		return fmt.Errorf("%w: output bytes do not match the statement", ErrBadSignature)
	}
	return e.Statement.Verify(e.Provider, e.Sig)
}

// Floats decodes the output bytes.
func (e *Evidence) Floats() ([]float32, error) { return DecodeFloats(e.Statement.DType, e.Output) }

// EncodeFloats encodes v as dt (F32 or F16), little-endian: the bytes a
// hidden-state or logit payload carries.
func EncodeFloats(dt DType, v []float32) []byte { return appendFloats(nil, dt, v) }

// DecodeFloats decodes an F32 or F16 payload, rejecting NaN and Inf.
func DecodeFloats(dt DType, data []byte) ([]float32, error) {
	if dt.size() == 0 || dt == I32 || len(data)%dt.size() != 0 {
		return nil, malformed("%d bytes of %s floats", len(data), dt)
	}
	return decodeFloats(nil, dt, data)
}

// EncodeTokens encodes token ids as a tokens payload.
func EncodeTokens(ids []int32) []byte { return appendTokens(nil, ids) }

// DecodeTokens decodes a tokens payload (no vocabulary check).
func DecodeTokens(data []byte) ([]int32, error) {
	if len(data)%4 != 0 {
		return nil, malformed("%d token bytes", len(data))
	}
	ids := make([]int32, len(data)/4)
	for i := range ids {
		ids[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return ids, nil
}
