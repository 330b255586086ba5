package shard

import (
	"fmt"
	"math"
	"time"

	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// DecodeMessage decodes and structurally validates a frame's payload. Data
// fields of Forward and Result alias payload. Checks that need a session's
// dimensions (dim, vocab, context) are made by the server and client.
func DecodeMessage(t MsgType, payload []byte) (Message, error) {
	d := &decoder{b: payload}
	var m Message
	var err error
	switch t {
	case MsgHello:
		m, err = decodeHello(d)
	case MsgInfo:
		m, err = decodeInfo(d)
	case MsgOpen:
		m, err = decodeOpen(d)
	case MsgOpenOK:
		m, err = decodeOpenOK(d)
	case MsgForward:
		m, err = decodeForward(d)
	case MsgResult:
		m, err = decodeResult(d)
	case MsgReceipt:
		var r receipt.Signed
		if err := r.UnmarshalBinary(d.rest()); err != nil {
			return nil, fmt.Errorf("%w: receipt: %w", ErrMalformed, err)
		}
		return ReceiptMsg{Receipt: r}, nil
	case MsgClose:
		m = Close{}
	case MsgClosed:
		m = Closed{Units: d.u64(), Receipted: d.u64()}
	case MsgError:
		m, err = decodeError(d)
	case MsgChallenge:
		m, err = decodeChallenge(d)
	case MsgChallengeOK:
		m, err = decodeChallengeOK(d)
	default:
		return nil, fmt.Errorf("%w: unknown frame type %d", ErrMalformed, uint8(t))
	}
	if err == nil {
		err = d.end()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	return m, nil
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

func decodeHello(d *decoder) (Message, error) {
	m := Hello{Version: d.u8()}
	if d.err == nil && m.Version == 0 {
		return nil, malformed("version 0")
	}
	return m, nil
}

// u32int reads a u32 that must fit the limits of an int field (< 2^31).
func (d *decoder) u32int() int {
	v := d.u32()
	if v > math.MaxInt32 && d.err == nil {
		d.err = malformed("field value %d too large", v)
	}
	return int(v)
}

func decodeModelInfo(d *decoder) (ModelInfo, error) {
	var m ModelInfo
	d.array(m.Hash[:])
	m.Name = d.str(maxNameLen)
	for _, p := range []*int{&m.NumLayers, &m.Dim, &m.Vocab, &m.KVDim, &m.ContextLen, &m.From, &m.To} {
		*p = d.u32int()
	}
	m.TokPerSec = math.Float32frombits(d.u32())
	m.Challenges = d.bool()
	if d.err != nil {
		return m, d.err
	}
	switch {
	case m.NumLayers <= 0 || m.Dim <= 0 || m.Vocab <= 0 || m.KVDim <= 0 || m.ContextLen <= 0:
		return m, malformed("model %q: non-positive dimension", m.Name)
	case m.From < 0 || m.From >= m.To || m.To > m.NumLayers:
		return m, malformed("model %q: layers [%d,%d) of %d", m.Name, m.From, m.To, m.NumLayers)
	case !finite32(m.TokPerSec) || m.TokPerSec < 0:
		return m, malformed("model %q: throughput %v", m.Name, m.TokPerSec)
	}
	return m, nil
}

func decodeInfo(d *decoder) (Message, error) {
	var m Info
	m.Version = d.u8()
	m.Backend = d.str(maxBackendLen)
	m.Price.PerKiloUnit = d.u64()
	d.array(m.Price.Mint[:])
	d.array(m.Payout[:])
	m.CreditLimit = d.u64()
	m.MaxContext, m.MaxBatch, m.MaxFrame = d.u32int(), d.u32int(), d.u32int()
	m.Accepting = d.bool()
	m.Sessions, m.MaxSessions = d.u32int(), d.u32int()
	n := int(d.u16())
	if d.err != nil {
		return nil, d.err
	}
	if m.Version == 0 {
		return nil, malformed("version 0")
	}
	if n > maxModels {
		return nil, malformed("%d models, limit %d", n, maxModels)
	}
	for range n {
		mi, err := decodeModelInfo(d)
		if err != nil {
			return nil, err
		}
		m.Models = append(m.Models, mi)
	}
	return m, nil
}

func decodeOpen(d *decoder) (Message, error) {
	var m Open
	d.array(m.Session[:])
	d.array(m.Model[:])
	m.From, m.To, m.MaxContext = d.u32int(), d.u32int(), d.u32int()
	m.Price.PerKiloUnit = d.u64()
	d.array(m.Price.Mint[:])
	m.DType = DType(d.u8())
	d.array(m.Consumer[:])
	if d.err != nil {
		return nil, d.err
	}
	if m.From >= m.To {
		return nil, malformed("empty layer range [%d,%d)", m.From, m.To)
	}
	if m.DType != F32 && m.DType != F16 {
		return nil, malformed("wire dtype %s", m.DType)
	}
	return m, nil
}

func decodeOpenOK(d *decoder) (Message, error) {
	var m OpenOK
	m.MaxContext = d.u32int()
	m.Price.PerKiloUnit = d.u64()
	d.array(m.Price.Mint[:])
	d.array(m.Provider[:])
	m.CreditLimit = d.u64()
	if d.err == nil && m.MaxContext <= 0 {
		return nil, malformed("max context %d", m.MaxContext)
	}
	return m, nil
}

// checkTensor validates a payload's kind, dtype and length for n positions.
func checkTensor(kind Kind, dt DType, n int, data []byte, kinds ...Kind) error {
	ok := false
	for _, k := range kinds {
		ok = ok || k == kind
	}
	switch {
	case !ok:
		return malformed("payload kind %d", kind)
	case n <= 0:
		return malformed("batch of %d positions", n)
	case kind == KindTokens && dt != I32:
		return malformed("tokens as %s", dt)
	case kind != KindTokens && dt != F32 && dt != F16:
		return malformed("floats as %s", dt)
	case kind == KindTokens && len(data) != 4*n:
		return malformed("%d token bytes for %d positions", len(data), n)
	case kind == KindHidden && (len(data) == 0 || len(data)%(n*dt.size()) != 0):
		return malformed("%d hidden bytes for %d positions of %s", len(data), n, dt)
	case kind == KindLogits && (len(data) == 0 || len(data)%dt.size() != 0):
		return malformed("%d logit bytes of %s", len(data), dt)
	}
	return nil
}

func decodeForward(d *decoder) (Message, error) {
	var m Forward
	d.array(m.Session[:])
	m.Pos, m.N = d.u32int(), d.u32int()
	m.Kind, m.DType = Kind(d.u8()), DType(d.u8())
	m.Data = d.rest()
	if d.err != nil {
		return nil, d.err
	}
	if err := checkTensor(m.Kind, m.DType, m.N, m.Data, KindTokens, KindHidden); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeResult(d *decoder) (Message, error) {
	var m Result
	m.Pos, m.N = d.u32int(), d.u32int()
	m.Kind, m.DType = Kind(d.u8()), DType(d.u8())
	m.Units, m.Total = d.u64(), d.u64()
	m.Compute = time.Duration(d.u32()) * time.Microsecond
	if n := int(d.u16()); n > maxSigLen && d.err == nil {
		d.err = malformed("signature of %d bytes, limit %d", n, maxSigLen)
	} else if n > 0 {
		m.Sig = d.take(n)
	}
	m.Data = d.rest()
	if d.err != nil {
		return nil, d.err
	}
	if err := checkTensor(m.Kind, m.DType, m.N, m.Data, KindHidden, KindLogits); err != nil {
		return nil, err
	}
	if m.Units > m.Total {
		return nil, malformed("units %d above total %d", m.Units, m.Total)
	}
	return m, nil
}

func decodeError(d *decoder) (Message, error) {
	m := &Error{Code: Code(d.u8())}
	m.Message = d.str(maxMessageLen)
	if d.err == nil && (m.Code == 0 || m.Code > codeMax) {
		return nil, malformed("error code %d", m.Code)
	}
	return m, nil
}
