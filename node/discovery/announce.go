package discovery

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/mr-tron/base58"
	ma "github.com/multiformats/go-multiaddr"
)

// Errors returned when checking announcements.
var (
	// ErrInvalidAnnouncement marks an announcement whose fields are not sane.
	ErrInvalidAnnouncement = errors.New("invalid announcement")
	// ErrExpired marks an announcement whose Expires is in the past.
	ErrExpired = errors.New("announcement expired")
)

// Backends a provider can run a shard on.
const (
	BackendCPU    = "cpu"
	BackendWebGPU = "webgpu"
)

// Limits on announcement fields; they keep a signed announcement small
// (well under maxWireSize) and bound what a peer can make us store.
const (
	MaxAddrs       = 16
	maxAddrLen     = 512
	maxNameLen     = 200
	maxVersionLen  = 64
	maxBase58Len   = 64
	MaxLayers      = 1 << 16
	maxThroughput  = 1e9
	MaxAnnounceTTL = time.Hour
)

// ModelHash is the content hash (SHA-256) of a model file. It prints and
// marshals as lowercase hex.
type ModelHash [32]byte

// ParseModelHash decodes 64 hex characters.
func ParseModelHash(s string) (ModelHash, error) {
	var h ModelHash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("parse model hash: %d characters, want %d", len(s), 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("parse model hash: %w", err)
	}
	return h, nil
}

func (h ModelHash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler (hex).
func (h ModelHash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex).
func (h *ModelHash) UnmarshalText(b []byte) error {
	v, err := ParseModelHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// LayerRange is a half-open range of transformer layers [From, To).
type LayerRange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// Announcement says that a peer serves layers [From, To) of a model. It is
// signed by the peer's libp2p key (see Sign) and only accepted once the
// signature, the signer and the fields check out (see DecodeAnnouncement).
type Announcement struct {
	PeerID    peer.ID        `json:"peer_id"`
	Addrs     []ma.Multiaddr `json:"addrs"`
	ModelHash ModelHash      `json:"model_hash"`
	ModelName string         `json:"model_name"`
	NumLayers int            `json:"num_layers"`
	From      int            `json:"from"`
	To        int            `json:"to"`
	Backend   string         `json:"backend"`
	// ThroughputTokS is the measured tokens/s through this layer range.
	ThroughputTokS float64 `json:"throughput_tok_s"`
	// PricePerKiloUnit is lamports (or SPL base units) per 1,000
	// token-layers.
	PricePerKiloUnit uint64 `json:"price_per_kilo_unit"`
	// Mint is the SPL token mint (base58); empty means SOL.
	Mint string `json:"mint,omitempty"`
	// PayoutAddress is the provider's Solana wallet (base58).
	PayoutAddress string `json:"payout_address,omitempty"`
	// Version is the provider's software version.
	Version string `json:"version"`
	// Load is the provider's current utilisation, 0 (idle) to 1 (full).
	Load    float64   `json:"load"`
	Expires time.Time `json:"expires"`
	// Seq orders announcements of one peer for one model; higher wins.
	Seq uint64 `json:"seq"`
	// Withdrawn announces that the peer stopped serving the model.
	Withdrawn bool `json:"withdrawn,omitempty"`
}

// validBackend accepts "cpu", "webgpu", and "webgpu:<adapter name>" (GPU
// results differ slightly from CPU ones, so verifiers compare like with
// like and need to know which engine ran a range).
func validBackend(b string) bool {
	if b == BackendCPU || b == BackendWebGPU {
		return true
	}
	name, ok := strings.CutPrefix(b, BackendWebGPU+":")
	if !ok || name == "" || len(b) > maxVersionLen {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Range returns the announced layer range.
func (a Announcement) Range() LayerRange { return LayerRange{From: a.From, To: a.To} }

// Validate checks the fields (not the signature) at time now.
func (a Announcement) Validate(now time.Time) error {
	if err := a.validateFields(); err != nil {
		return err
	}
	if !a.Expires.After(now) {
		return fmt.Errorf("%w: at %s", ErrExpired, a.Expires.UTC().Format(time.RFC3339))
	}
	if a.Expires.After(now.Add(MaxAnnounceTTL + time.Minute)) {
		return fmt.Errorf("%w: expires %s, more than %v ahead", ErrInvalidAnnouncement, a.Expires.UTC().Format(time.RFC3339), MaxAnnounceTTL)
	}
	return nil
}

func (a Announcement) validateFields() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidAnnouncement}, args...)...)
	}
	if err := a.PeerID.Validate(); err != nil {
		return bad("peer id: %v", err)
	}
	if len(a.Addrs) > MaxAddrs {
		return bad("%d addresses, at most %d", len(a.Addrs), MaxAddrs)
	}
	for _, m := range a.Addrs {
		if n := len(m.Bytes()); n == 0 || n > maxAddrLen {
			return bad("address of %d bytes", n)
		}
	}
	switch {
	case a.NumLayers <= 0 || a.NumLayers > MaxLayers:
		return bad("num layers %d not in [1,%d]", a.NumLayers, MaxLayers)
	case a.From < 0 || a.From >= a.To || a.To > a.NumLayers:
		return bad("layer range [%d,%d) not within [0,%d)", a.From, a.To, a.NumLayers)
	case !validBackend(a.Backend):
		return bad("backend %q", a.Backend)
	case math.IsNaN(a.ThroughputTokS) || a.ThroughputTokS < 0 || a.ThroughputTokS > maxThroughput:
		return bad("throughput %v", a.ThroughputTokS)
	case math.IsNaN(a.Load) || a.Load < 0 || a.Load > 1:
		return bad("load %v not in [0,1]", a.Load)
	case len(a.ModelName) > maxNameLen || !utf8.ValidString(a.ModelName):
		return bad("model name not valid UTF-8 of at most %d bytes", maxNameLen)
	case len(a.Version) > maxVersionLen || !utf8.ValidString(a.Version):
		return bad("version not valid UTF-8 of at most %d bytes", maxVersionLen)
	case a.PricePerKiloUnit > 0 && a.PayoutAddress == "":
		return bad("priced shard without payout address")
	}
	if err := checkSolanaKey("mint", a.Mint); err != nil {
		return bad("%v", err)
	}
	if err := checkSolanaKey("payout address", a.PayoutAddress); err != nil {
		return bad("%v", err)
	}
	return nil
}

// checkSolanaKey accepts "" or a base58 string that decodes to 32 bytes.
func checkSolanaKey(what, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxBase58Len {
		return fmt.Errorf("%s too long", what)
	}
	b, err := base58.Decode(s)
	if err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	if len(b) != 32 {
		return fmt.Errorf("%s decodes to %d bytes, want 32", what, len(b))
	}
	return nil
}
