// Package receipt defines metering receipts: a consumer's signed, cumulative
// acknowledgement of the work a provider served in one session, with a
// canonical binary encoding, a domain-separated ed25519 signature and a
// digest that settlement memos name.
package receipt

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the encoding version this package writes.
const Version = 1

// EncodedLen is the size of an encoded Receipt; SignedLen adds the signature.
const (
	EncodedLen = 1 + 16 + 32 + 32 + 32 + 4 + 4 + 8 + 8 + 32 + 8
	SignedLen  = EncodedLen + ed25519.SignatureSize
)

// Domain-separation prefixes: a receipt signature can never be mistaken for a
// Solana transaction signature or any other message the wallet key signs.
const (
	signDomain   = "hearth/receipt/v1\x00"
	digestDomain = "hearth/receipt-digest/v1\x00"
)

var (
	// ErrMalformed reports an encoding that is not a canonical receipt.
	ErrMalformed = errors.New("malformed receipt")
	// ErrInvalid reports a receipt whose fields are inconsistent.
	ErrInvalid = errors.New("invalid receipt")
	// ErrBadSignature reports a signature that does not verify against the consumer.
	ErrBadSignature = errors.New("bad receipt signature")
	// ErrWrongSigner reports signing with a key other than the receipt's consumer.
	ErrWrongSigner = errors.New("signer is not the receipt's consumer")
)

// Receipt acknowledges, cumulatively for one session, the work a provider did
// for a consumer: Units token-layers of Model's layers [From,To) worth Amount
// base units of Mint (lamports when Mint is zero). Each new receipt in a
// session has a larger Seq and never smaller Units or Amount.
type Receipt struct {
	Session  [16]byte
	Consumer PublicKey // signs the receipt and pays
	Provider PublicKey // did the work and is paid
	Model    [32]byte  // content hash of the model file
	From, To uint32    // layer range [From,To)
	Units    uint64    // tokens × layers served so far in the session
	Amount   uint64    // owed so far: lamports, or SPL base units of Mint
	Mint     PublicKey // zero for SOL
	Seq      uint64    // 1, 2, … within the session
}

// Validate checks the fields' consistency.
func (r *Receipt) Validate() error {
	switch {
	case r.Consumer.IsZero():
		return fmt.Errorf("%w: zero consumer", ErrInvalid)
	case r.Provider.IsZero():
		return fmt.Errorf("%w: zero provider", ErrInvalid)
	case r.Consumer == r.Provider:
		return fmt.Errorf("%w: consumer is the provider", ErrInvalid)
	case r.From >= r.To:
		return fmt.Errorf("%w: empty layer range [%d,%d)", ErrInvalid, r.From, r.To)
	case r.Seq == 0:
		return fmt.Errorf("%w: sequence number 0", ErrInvalid)
	}
	return nil
}

// AppendBinary appends the canonical encoding (little-endian integers) to b.
func (r *Receipt) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, Version)
	b = append(b, r.Session[:]...)
	b = append(b, r.Consumer[:]...)
	b = append(b, r.Provider[:]...)
	b = append(b, r.Model[:]...)
	b = binary.LittleEndian.AppendUint32(b, r.From)
	b = binary.LittleEndian.AppendUint32(b, r.To)
	b = binary.LittleEndian.AppendUint64(b, r.Units)
	b = binary.LittleEndian.AppendUint64(b, r.Amount)
	b = append(b, r.Mint[:]...)
	b = binary.LittleEndian.AppendUint64(b, r.Seq)
	return b, nil
}

// MarshalBinary returns the canonical encoding.
func (r *Receipt) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, EncodedLen))
}

// UnmarshalBinary decodes exactly one canonical, valid receipt.
func (r *Receipt) UnmarshalBinary(b []byte) error {
	if len(b) != EncodedLen {
		return fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), EncodedLen)
	}
	if b[0] != Version {
		return fmt.Errorf("%w: version %d", ErrMalformed, b[0])
	}
	var v Receipt
	p := b[1:]
	p = p[copy(v.Session[:], p):]
	p = p[copy(v.Consumer[:], p):]
	p = p[copy(v.Provider[:], p):]
	p = p[copy(v.Model[:], p):]
	v.From = binary.LittleEndian.Uint32(p)
	v.To = binary.LittleEndian.Uint32(p[4:])
	v.Units = binary.LittleEndian.Uint64(p[8:])
	v.Amount = binary.LittleEndian.Uint64(p[16:])
	p = p[24:]
	p = p[copy(v.Mint[:], p):]
	v.Seq = binary.LittleEndian.Uint64(p)
	if err := v.Validate(); err != nil {
		return err
	}
	*r = v
	return nil
}

func (r *Receipt) encode() []byte {
	b, _ := r.MarshalBinary() // cannot fail
	return b
}

// Digest is sha256 over a domain prefix and the encoding: the receipt's name
// in settlement memos.
func (r *Receipt) Digest() [32]byte {
	return sha256.Sum256(append([]byte(digestDomain), r.encode()...))
}

// SigningMessage is the exact byte string the consumer signs.
func (r *Receipt) SigningMessage() []byte {
	return append([]byte(signDomain), r.encode()...)
}

// Signer signs with an ed25519 key; keys.Key satisfies it.
type Signer interface {
	PublicKey() ed25519.PublicKey
	Sign(msg []byte) []byte
}

// Signed is a receipt with the consumer's signature.
type Signed struct {
	Receipt
	Signature [ed25519.SignatureSize]byte
}

// Sign validates r and signs it with the consumer's key.
func Sign(r Receipt, s Signer) (Signed, error) {
	if err := r.Validate(); err != nil {
		return Signed{}, err
	}
	if pub := s.PublicKey(); len(pub) != ed25519.PublicKeySize || PublicKey(pub) != r.Consumer {
		return Signed{}, ErrWrongSigner
	}
	var out Signed
	out.Receipt = r
	copy(out.Signature[:], s.Sign(r.SigningMessage()))
	return out, nil
}

// Verify checks the fields and the consumer's signature.
func (s *Signed) Verify() error {
	if err := s.Validate(); err != nil {
		return err
	}
	if !ed25519.Verify(ed25519.PublicKey(s.Consumer[:]), s.SigningMessage(), s.Signature[:]) {
		return ErrBadSignature
	}
	return nil
}

// MarshalBinary returns the receipt encoding followed by the signature.
func (s *Signed) MarshalBinary() ([]byte, error) {
	b, err := s.Receipt.AppendBinary(make([]byte, 0, SignedLen))
	if err != nil {
		return nil, err
	}
	return append(b, s.Signature[:]...), nil
}

// UnmarshalBinary decodes a signed receipt. It does not verify the signature.
func (s *Signed) UnmarshalBinary(b []byte) error {
	if len(b) != SignedLen {
		return fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), SignedLen)
	}
	var v Signed
	if err := v.Receipt.UnmarshalBinary(b[:EncodedLen]); err != nil {
		return err
	}
	copy(v.Signature[:], b[EncodedLen:])
	*s = v
	return nil
}

// Decode decodes and verifies a signed receipt.
func Decode(b []byte) (Signed, error) {
	var s Signed
	if err := s.UnmarshalBinary(b); err != nil {
		return Signed{}, err
	}
	if err := s.Verify(); err != nil {
		return Signed{}, err
	}
	return s, nil
}
