package verify

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/node/shard"
)

// A fraud report carries what a third party needs to convict a provider
// without trusting the reporter: the provider's signed result statement,
// the output bytes, and the inputs of positions [0, Pos+N) exactly as the
// provider received them — inline when small, else their hash, the inputs
// being served on request by the reporter (InputsProtocol).

// Size limits of reports.
const (
	// InlineInputs is the largest encoded input history carried in a report.
	InlineInputs = 256 << 10
	// MaxInputs is the largest input history fetched for a report.
	MaxInputs = 64 << 20
	// maxOutput is the largest output carried (logits of a 128k vocabulary).
	maxOutput = 512 << 10
	// MaxReportSize bounds an encoded report (and the pubsub message).
	MaxReportSize = InlineInputs + maxOutput + 4<<10
)

// ErrBadReport reports a fraud report that does not decode or whose parts
// do not match each other.
var ErrBadReport = errors.New("bad fraud report")

// Report accuses Provider of a wrong result.
type Report struct {
	Provider  peer.ID
	Statement shard.ResultStatement
	Sig       []byte
	Output    []byte // the result's bytes; may be empty when too large
	// Inputs is the encoded input history (EncodeInputs), when inline.
	Inputs     []byte
	InputsHash [32]byte // sha256 of the encoded inputs
	InputsLen  int
}

// Digest identifies the accused result.
func (r *Report) Digest() [32]byte { return r.Statement.Digest() }

// key identifies the report: the accused result and the inputs given, so
// that a forged report cannot shadow a true one about the same result.
func (r *Report) key() [32]byte {
	d := r.Statement.Digest()
	return sha256.Sum256(append(d[:], r.InputsHash[:]...))
}

// MarshalBinary encodes the report.
func (r *Report) MarshalBinary() ([]byte, error) {
	pid := []byte(r.Provider)
	stmt := r.Statement.AppendBinary(nil)
	switch {
	case len(pid) > 1<<10 || len(r.Sig) > 1<<10:
		return nil, fmt.Errorf("%w: provider id or signature too long", ErrBadReport)
	case len(r.Output) > maxOutput:
		return nil, fmt.Errorf("%w: output of %d bytes", ErrBadReport, len(r.Output))
	case len(r.Inputs) > InlineInputs:
		return nil, fmt.Errorf("%w: %d bytes of inline inputs", ErrBadReport, len(r.Inputs))
	}
	b := []byte{1}
	for _, f := range [][]byte{pid, stmt, r.Sig} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Output)))
	b = append(b, r.Output...)
	b = append(b, r.InputsHash[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(r.InputsLen))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Inputs)))
	return append(b, r.Inputs...), nil
}

// UnmarshalBinary decodes a report and checks that its parts agree: the
// output and inline inputs hash to what the report says. The provider's
// signature is checked by Verify.
func (r *Report) UnmarshalBinary(b []byte) error {
	if len(b) > MaxReportSize {
		return fmt.Errorf("%w: %d bytes", ErrBadReport, len(b))
	}
	rd := reader{b: b}
	if v := rd.take(1); rd.err == nil && v[0] != 1 {
		return fmt.Errorf("%w: version %d", ErrBadReport, v[0])
	}
	pid, stmt, sig := rd.field16(), rd.field16(), rd.field16()
	out := rd.take(int(rd.u32()))
	hash := rd.take(32)
	inputsLen := int(rd.u32())
	inputs := rd.take(int(rd.u32()))
	if rd.err == nil && len(rd.b) != 0 {
		rd.err = fmt.Errorf("%d trailing bytes", len(rd.b))
	}
	if rd.err != nil {
		return fmt.Errorf("%w: %w", ErrBadReport, rd.err)
	}
	p, err := peer.IDFromBytes(pid)
	if err != nil {
		return fmt.Errorf("%w: provider: %w", ErrBadReport, err)
	}
	s, err := shard.DecodeResultStatement(stmt)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadReport, err)
	}
	*r = Report{Provider: p, Statement: s, Sig: append([]byte(nil), sig...), InputsLen: inputsLen}
	copy(r.InputsHash[:], hash)
	switch {
	case len(out) > maxOutput || inputsLen > MaxInputs || len(inputs) > InlineInputs:
		return fmt.Errorf("%w: oversized parts", ErrBadReport)
	case len(out) > 0 && sha256.Sum256(out) != s.Output:
		return fmt.Errorf("%w: output bytes do not match the statement", ErrBadReport)
	case len(inputs) > 0 && (len(inputs) != inputsLen || sha256.Sum256(inputs) != r.InputsHash):
		return fmt.Errorf("%w: inline inputs do not match their hash", ErrBadReport)
	}
	if len(out) > 0 {
		r.Output = append([]byte(nil), out...)
	}
	if len(inputs) > 0 {
		r.Inputs = append([]byte(nil), inputs...)
	}
	return nil
}

// Verify checks the provider's signature on the statement: a report whose
// signature fails accuses nobody.
func (r *Report) Verify() error { return r.Statement.Verify(r.Provider, r.Sig) }

// reader takes fields off a byte slice; the first short read sets err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) field16() []byte {
	v := r.take(2)
	if v == nil {
		return nil
	}
	return r.take(int(binary.BigEndian.Uint16(v)))
}

// Inputs is a decoded input history: token ids of a first stage, or
// positions × dim hidden states with each position's wire dtype; Chain is
// its ChainInput digest.
type Inputs struct {
	Tokens []int32
	Hidden []float32
	Dim    int
	DTypes []shard.DType
	Chain  [32]byte
}

// Len is the number of positions.
func (in *Inputs) Len() int { return len(in.DTypes) }

// EncodeInputs encodes an input history as the provider received it:
// tokens (dim 0) or hidden states of dim values per position, each
// position's values encoded in its wire dtype (nil dtypes: all f32).
//
//	kind u8 | positions u32 | dim u32 | per position: dtype u8, bytes
func EncodeInputs(tokens []int32, hidden []float32, dim int, dtypes []shard.DType) ([]byte, error) {
	if tokens != nil {
		b := appendHeader(nil, shard.KindTokens, len(tokens), 0)
		for _, id := range tokens {
			b = append(b, byte(shard.I32))
			b = append(b, shard.EncodeTokens([]int32{id})...)
		}
		return b, nil
	}
	if dim <= 0 || len(hidden)%dim != 0 {
		return nil, fmt.Errorf("encode inputs: %d values of dim %d", len(hidden), dim)
	}
	n := len(hidden) / dim
	if dtypes != nil && len(dtypes) != n {
		return nil, fmt.Errorf("encode inputs: %d dtypes for %d positions", len(dtypes), n)
	}
	b := appendHeader(nil, shard.KindHidden, n, dim)
	for i := range n {
		dt := shard.F32
		if dtypes != nil {
			dt = dtypes[i]
		}
		b = append(b, byte(dt))
		b = append(b, shard.EncodeFloats(dt, hidden[i*dim:(i+1)*dim])...)
	}
	return b, nil
}

func appendHeader(b []byte, kind shard.Kind, n, dim int) []byte {
	b = append(b, byte(kind))
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return binary.BigEndian.AppendUint32(b, uint32(dim))
}

// DecodeInputs decodes an encoded input history and computes its digest.
func DecodeInputs(b []byte) (Inputs, error) {
	rd := reader{b: b}
	hdr := rd.take(9)
	if rd.err != nil {
		return Inputs{}, fmt.Errorf("%w: inputs header", ErrBadReport)
	}
	kind := shard.Kind(hdr[0])
	n, dim := int(binary.BigEndian.Uint32(hdr[1:])), int(binary.BigEndian.Uint32(hdr[5:]))
	in := Inputs{Dim: dim}
	switch {
	case kind == shard.KindTokens && dim == 0:
		if n <= 0 || n > len(rd.b)/5 {
			return Inputs{}, fmt.Errorf("%w: %d token positions", ErrBadReport, n)
		}
	case kind == shard.KindHidden && dim > 0 && dim <= 1<<20:
		if n <= 0 || n > len(rd.b)/(1+2*dim) {
			return Inputs{}, fmt.Errorf("%w: %d hidden positions of dim %d", ErrBadReport, n, dim)
		}
	default:
		return Inputs{}, fmt.Errorf("%w: inputs of kind %d, dim %d", ErrBadReport, kind, dim)
	}
	for range n {
		t := rd.take(1)
		if rd.err != nil {
			return Inputs{}, fmt.Errorf("%w: inputs truncated", ErrBadReport)
		}
		dt := shard.DType(t[0])
		var data []byte
		switch {
		case kind == shard.KindTokens && dt == shard.I32:
			data = rd.take(4)
		case kind == shard.KindHidden && dt == shard.F32:
			data = rd.take(4 * dim)
		case kind == shard.KindHidden && dt == shard.F16:
			data = rd.take(2 * dim)
		default:
			return Inputs{}, fmt.Errorf("%w: input of kind %d as %s", ErrBadReport, kind, dt)
		}
		if rd.err != nil {
			return Inputs{}, fmt.Errorf("%w: inputs truncated", ErrBadReport)
		}
		in.Chain = shard.ChainInput(in.Chain, kind, dt, data)
		in.DTypes = append(in.DTypes, dt)
		if kind == shard.KindTokens {
			ids, _ := shard.DecodeTokens(data)
			in.Tokens = append(in.Tokens, ids...)
			continue
		}
		v, err := shard.DecodeFloats(dt, data)
		if err != nil {
			return Inputs{}, fmt.Errorf("%w: %w", ErrBadReport, err)
		}
		in.Hidden = append(in.Hidden, v...)
	}
	if len(rd.b) != 0 {
		return Inputs{}, fmt.Errorf("%w: %d bytes after the inputs", ErrBadReport, len(rd.b))
	}
	return in, nil
}
