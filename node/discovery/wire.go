package discovery

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Wire format of a signed announcement (all integers big-endian, lengths
// as unsigned varints, strings as length-prefixed UTF-8):
//
//	"HRTA" version(1)                       header
//	peer id, addrs (count + each), model hash (32 bytes), model name,
//	num layers u32, from u32, to u32, backend, throughput f64,
//	price u64, mint, payout address, version, load f64,
//	expires (unix ms, i64), seq u64, withdrawn (0/1)    body
//	public key (libp2p protobuf), signature             trailer
//
// The signature covers signDomain || header || body. The encoding is
// canonical: decoding re-encodes the body and rejects any difference, so one
// announcement has exactly one valid byte form.

const (
	wireMagic   = "HRTA"
	wireVersion = 1
	// MaxWireSize bounds a signed announcement on the wire.
	MaxWireSize = 16 << 10
	maxKeyLen   = 1 << 10
	maxSigLen   = 1 << 10
)

// signDomain separates announcement signatures from every other use of the
// peer key.
const signDomain = "hearth/shard-announcement/v1\x00"

// ErrBadSignature is returned for an announcement whose signature or signer
// does not check out.
var ErrBadSignature = errors.New("bad announcement signature")

// ErrMalformed is returned for bytes that are not a well-formed announcement.
var ErrMalformed = errors.New("malformed announcement")

// Sign normalises a (Expires to whole milliseconds), checks its fields and
// returns its signed wire form. key must be the key of a.PeerID.
func (a Announcement) Sign(key crypto.PrivKey) ([]byte, error) {
	a.Expires = time.UnixMilli(a.Expires.UnixMilli())
	if err := a.validateFields(); err != nil {
		return nil, err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("sign announcement: %w", err)
	}
	if id != a.PeerID {
		return nil, fmt.Errorf("sign announcement: key belongs to %s, announcement to %s", id, a.PeerID)
	}
	signed := a.appendSigned(nil)
	sig, err := key.Sign(append([]byte(signDomain), signed...))
	if err != nil {
		return nil, fmt.Errorf("sign announcement: %w", err)
	}
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return nil, fmt.Errorf("sign announcement: %w", err)
	}
	out := appendBytes(signed, pub)
	return appendBytes(out, sig), nil
}

// DecodeAnnouncement parses a signed announcement and accepts it only if it
// is canonical, signed by the key of its PeerID, has sane fields and has not
// expired at now.
func DecodeAnnouncement(data []byte, now time.Time) (Announcement, error) {
	a, signedLen, pubBytes, sig, err := parseWire(data)
	if err != nil {
		return Announcement{}, err
	}
	if !bytes.Equal(a.appendSigned(nil), data[:signedLen]) {
		return Announcement{}, fmt.Errorf("%w: non-canonical encoding", ErrMalformed)
	}
	pub, err := crypto.UnmarshalPublicKey(pubBytes)
	if err != nil {
		return Announcement{}, fmt.Errorf("%w: public key: %w", ErrBadSignature, err)
	}
	if !a.PeerID.MatchesPublicKey(pub) {
		return Announcement{}, fmt.Errorf("%w: key does not match peer %s", ErrBadSignature, a.PeerID)
	}
	ok, err := pub.Verify(append([]byte(signDomain), data[:signedLen]...), sig)
	if err != nil || !ok {
		return Announcement{}, fmt.Errorf("%w: verification failed", ErrBadSignature)
	}
	if err := a.Validate(now); err != nil {
		return Announcement{}, err
	}
	return a, nil
}

// appendSigned appends header and body.
func (a Announcement) appendSigned(b []byte) []byte {
	b = append(b, wireMagic...)
	b = append(b, wireVersion)
	b = appendBytes(b, []byte(a.PeerID))
	b = binary.AppendUvarint(b, uint64(len(a.Addrs)))
	for _, m := range a.Addrs {
		b = appendBytes(b, m.Bytes())
	}
	b = append(b, a.ModelHash[:]...)
	b = appendBytes(b, []byte(a.ModelName))
	b = binary.BigEndian.AppendUint32(b, uint32(a.NumLayers))
	b = binary.BigEndian.AppendUint32(b, uint32(a.From))
	b = binary.BigEndian.AppendUint32(b, uint32(a.To))
	b = appendBytes(b, []byte(a.Backend))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(a.ThroughputTokS))
	b = binary.BigEndian.AppendUint64(b, a.PricePerKiloUnit)
	b = appendBytes(b, []byte(a.Mint))
	b = appendBytes(b, []byte(a.PayoutAddress))
	b = appendBytes(b, []byte(a.Version))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(a.Load))
	b = binary.BigEndian.AppendUint64(b, uint64(a.Expires.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, a.Seq)
	if a.Withdrawn {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// parseWire splits data into the announcement, the length of its signed
// part, the public key and the signature. Field sanity is checked later.
func parseWire(data []byte) (a Announcement, signedLen int, pub, sig []byte, err error) {
	if len(data) > MaxWireSize {
		return a, 0, nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(data), MaxWireSize)
	}
	r := &reader{b: data}
	if magic := r.take(len(wireMagic)); string(magic) != wireMagic {
		return a, 0, nil, nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	if v := r.take(1); len(v) == 1 && v[0] != wireVersion {
		return a, 0, nil, nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, v[0], wireVersion)
	}
	r.body(&a)
	signedLen = r.off
	pub = r.bytes(maxKeyLen)
	sig = r.bytes(maxSigLen)
	if r.err == nil && r.off != len(data) {
		r.err = fmt.Errorf("%d trailing bytes", len(data)-r.off)
	}
	if r.err != nil {
		return Announcement{}, 0, nil, nil, fmt.Errorf("%w: %w", ErrMalformed, r.err)
	}
	return a, signedLen, pub, sig, nil
}

// reader is a bounds-checked cursor; after the first error every read
// returns zero values and err keeps that first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("truncated at byte %d", r.off)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint at byte %d", r.off)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) bytes(limit int) []byte {
	n := r.uvarint()
	if n > uint64(limit) {
		r.fail("field of %d bytes at byte %d exceeds %d", n, r.off, limit)
		return nil
	}
	return r.take(int(n))
}

func (r *reader) str(limit int) string { return string(r.bytes(limit)) }

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) body(a *Announcement) {
	id, err := peer.IDFromBytes(r.bytes(maxKeyLen))
	if err != nil && r.err == nil {
		r.fail("peer id: %v", err)
	}
	a.PeerID = id
	n := r.uvarint()
	if n > MaxAddrs {
		r.fail("%d addresses, at most %d", n, MaxAddrs)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		m, err := ma.NewMultiaddrBytes(r.bytes(maxAddrLen))
		if err != nil && r.err == nil {
			r.fail("address %d: %v", i, err)
		}
		a.Addrs = append(a.Addrs, m)
	}
	copy(a.ModelHash[:], r.take(len(a.ModelHash)))
	a.ModelName = r.str(maxNameLen)
	a.NumLayers, a.From, a.To = int(r.u32()), int(r.u32()), int(r.u32())
	a.Backend = r.str(maxVersionLen)
	a.ThroughputTokS = math.Float64frombits(r.u64())
	a.PricePerKiloUnit = r.u64()
	a.Mint = r.str(maxBase58Len)
	a.PayoutAddress = r.str(maxBase58Len)
	a.Version = r.str(maxVersionLen)
	a.Load = math.Float64frombits(r.u64())
	a.Expires = time.UnixMilli(int64(r.u64()))
	a.Seq = r.u64()
	switch w := r.take(1); {
	case w == nil:
	case w[0] == 0:
	case w[0] == 1:
		a.Withdrawn = true
	default:
		r.fail("withdrawn flag %d", w[0])
	}
}
