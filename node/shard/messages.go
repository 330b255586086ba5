package shard

import (
	"fmt"
	"time"

	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// Version is the protocol version carried by Hello and Info. Version 2
// added signed results and weight challenges.
const Version = 2

// Kind is what a tensor payload holds.
type Kind uint8

// Payload kinds.
const (
	KindTokens Kind = 1 // n token ids (first stage input)
	KindHidden Kind = 2 // n × dim hidden states
	KindLogits Kind = 3 // vocab logits of the last position
)

// DType is how a payload's elements are encoded (little-endian).
type DType uint8

// Element types.
const (
	F32 DType = 1 // IEEE binary32
	F16 DType = 2 // IEEE binary16 (hidden states in f16 wire mode)
	I32 DType = 3 // int32 token ids
)

func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case I32:
		return "i32"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// size is the bytes per element (0 for an unknown type).
func (d DType) size() int {
	switch d {
	case F32, I32:
		return 4
	case F16:
		return 2
	}
	return 0
}

// ParseDType parses "f32" or "f16", the wire modes of hidden states.
func ParseDType(s string) (DType, error) {
	switch s {
	case "f32", "":
		return F32, nil
	case "f16":
		return F16, nil
	}
	return 0, fmt.Errorf("wire dtype %q (want f32 or f16)", s)
}

// Decoding limits on variable-length fields.
const (
	maxNameLen    = 256
	maxBackendLen = 32
	maxMessageLen = 1024
	maxModels     = 64
)

// Message is one decoded frame.
type Message interface {
	Type() MsgType
	appendPayload(b []byte) []byte
}

// AppendFrame appends m as a complete frame (length, type, payload) to b.
func AppendFrame(b []byte, m Message) []byte {
	start := len(b)
	b = appendFrameHeader(b, m.Type(), 0)
	b = m.appendPayload(b)
	putFrameLen(b[start:], len(b)-start-frameHeader)
	return b
}

func putFrameLen(frame []byte, payloadLen int) {
	n := uint32(1 + payloadLen)
	frame[0], frame[1], frame[2], frame[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

// Hello opens every stream: the client's protocol version.
type Hello struct{ Version uint8 }

// ModelInfo is one model a server serves and the layers it serves of it.
type ModelInfo struct {
	Hash       [32]byte // sha256 of the GGUF file
	Name       string
	NumLayers  int
	Dim        int
	Vocab      int
	KVDim      int // keys (or values) per position per layer
	ContextLen int // the model's training context
	From, To   int // served layers [From,To)
	TokPerSec  float32
	Challenges bool // the server answers weight challenges for this model
}

// Info describes a server: what it serves, at what price, and how loaded it is.
type Info struct {
	Version     uint8
	Backend     string // "cpu"
	Price       receipt.Price
	Payout      receipt.PublicKey // receipts name it as the provider
	CreditLimit uint64            // base units a session may owe beyond its last receipt
	MaxContext  int               // most positions per session
	MaxBatch    int               // most positions per forward
	MaxFrame    int               // largest frame the server reads
	Accepting   bool              // false while draining: opens are refused
	Sessions    int
	MaxSessions int
	Models      []ModelInfo
}

// Open asks for a session on layers [From,To) of Model.
type Open struct {
	Session    [16]byte
	Model      [32]byte
	From, To   int
	MaxContext int
	Price      receipt.Price     // the most the client accepts to pay
	DType      DType             // how results' hidden states are sent: F32 or F16
	Consumer   receipt.PublicKey // signs receipts; zero for free sessions
}

// OpenOK grants a session.
type OpenOK struct {
	MaxContext  int
	Price       receipt.Price // the session's price
	Provider    receipt.PublicKey
	CreditLimit uint64
}

// Forward runs N positions from Pos through the session's layers. Data holds
// N token ids (KindTokens, I32) or N × dim hidden states (KindHidden, F32 or
// F16). A decoded Forward's Data aliases the frame buffer.
type Forward struct {
	Session [16]byte
	Pos, N  int
	Kind    Kind
	DType   DType
	Data    []byte
}

// Result answers a Forward: N × dim hidden states, or the last position's
// logits, with the units metered for it and the session's total, signed by
// the provider. A decoded Result's Sig and Data alias the frame buffer.
type Result struct {
	Pos, N  int
	Kind    Kind
	DType   DType
	Units   uint64
	Total   uint64
	Compute time.Duration // server time spent in the stage (µs resolution)
	// Sig is the provider's peer-key signature over the ResultStatement
	// of this result (see proof.go); empty when the server has no key.
	Sig  []byte
	Data []byte
}

// ReceiptMsg carries a consumer's signed cumulative receipt.
type ReceiptMsg struct{ Receipt receipt.Signed }

// Close ends a session (or an info query).
type Close struct{}

// Closed confirms a Close with the session's final metering.
type Closed struct{ Units, Receipted uint64 }

func (Hello) Type() MsgType      { return MsgHello }
func (Info) Type() MsgType       { return MsgInfo }
func (Open) Type() MsgType       { return MsgOpen }
func (OpenOK) Type() MsgType     { return MsgOpenOK }
func (Forward) Type() MsgType    { return MsgForward }
func (Result) Type() MsgType     { return MsgResult }
func (ReceiptMsg) Type() MsgType { return MsgReceipt }
func (Close) Type() MsgType      { return MsgClose }
func (Closed) Type() MsgType     { return MsgClosed }
func (*Error) Type() MsgType     { return MsgError }

func (m Hello) appendPayload(b []byte) []byte { return append(b, m.Version) }

func (m ModelInfo) encode(e *encoder) {
	e.bytes(m.Hash[:])
	e.str(m.Name, maxNameLen)
	for _, v := range []int{m.NumLayers, m.Dim, m.Vocab, m.KVDim, m.ContextLen, m.From, m.To} {
		e.u32(uint32(v))
	}
	e.u32(f32bits(m.TokPerSec))
	e.bool(m.Challenges)
}

func (m Info) appendPayload(b []byte) []byte {
	e := encoder{b}
	e.u8(m.Version)
	e.str(m.Backend, maxBackendLen)
	e.u64(m.Price.PerKiloUnit)
	e.bytes(m.Price.Mint[:])
	e.bytes(m.Payout[:])
	e.u64(m.CreditLimit)
	for _, v := range []int{m.MaxContext, m.MaxBatch, m.MaxFrame} {
		e.u32(uint32(v))
	}
	e.bool(m.Accepting)
	e.u32(uint32(m.Sessions))
	e.u32(uint32(m.MaxSessions))
	e.u16(uint16(len(m.Models)))
	for _, mi := range m.Models {
		mi.encode(&e)
	}
	return e.b
}

func (m Open) appendPayload(b []byte) []byte {
	e := encoder{b}
	e.bytes(m.Session[:])
	e.bytes(m.Model[:])
	e.u32(uint32(m.From))
	e.u32(uint32(m.To))
	e.u32(uint32(m.MaxContext))
	e.u64(m.Price.PerKiloUnit)
	e.bytes(m.Price.Mint[:])
	e.u8(uint8(m.DType))
	e.bytes(m.Consumer[:])
	return e.b
}

func (m OpenOK) appendPayload(b []byte) []byte {
	e := encoder{b}
	e.u32(uint32(m.MaxContext))
	e.u64(m.Price.PerKiloUnit)
	e.bytes(m.Price.Mint[:])
	e.bytes(m.Provider[:])
	e.u64(m.CreditLimit)
	return e.b
}

func (m Forward) appendPayload(b []byte) []byte {
	e := encoder{b}
	e.bytes(m.Session[:])
	e.u32(uint32(m.Pos))
	e.u32(uint32(m.N))
	e.u8(uint8(m.Kind))
	e.u8(uint8(m.DType))
	e.bytes(m.Data)
	return e.b
}

func (m Result) appendPayload(b []byte) []byte {
	e := encoder{b}
	e.u32(uint32(m.Pos))
	e.u32(uint32(m.N))
	e.u8(uint8(m.Kind))
	e.u8(uint8(m.DType))
	e.u64(m.Units)
	e.u64(m.Total)
	e.u32(uint32(min(m.Compute.Microseconds(), 1<<32-1)))
	e.u16(uint16(len(m.Sig)))
	e.bytes(m.Sig)
	e.bytes(m.Data)
	return e.b
}

func (m ReceiptMsg) appendPayload(b []byte) []byte {
	enc, _ := m.Receipt.MarshalBinary() // cannot fail
	return append(b, enc...)
}

func (Close) appendPayload(b []byte) []byte { return b }

func (m Closed) appendPayload(b []byte) []byte {
	e := encoder{b}
	e.u64(m.Units)
	e.u64(m.Receipted)
	return e.b
}

func (m *Error) appendPayload(b []byte) []byte {
	e := encoder{b}
	e.u8(uint8(m.Code))
	e.str(m.Message, maxMessageLen)
	return e.b
}
