package shard

import (
	"errors"
	"fmt"
	"time"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// ProtocolID is the libp2p protocol of shard streams.
const ProtocolID = p2p.ShardProtocol

// ErrInvalidConfig reports a server configuration that cannot work.
var ErrInvalidConfig = errors.New("invalid shard server config")

// Config bounds what a shard server serves and to whom.
type Config struct {
	MaxSessions int   // concurrent sessions
	MaxKVBytes  int64 // KV cache memory reserved by all sessions (worst case: max context)
	MaxContext  int   // most positions per session (also capped by the model)
	MaxBatch    int   // most positions per forward
	MaxFrame    int   // largest frame read once a session is open, in bytes

	// IdleTimeout closes a session that has not forwarded for this long.
	IdleTimeout time.Duration
	// FrameTimeout is how long a frame may take to arrive once its first
	// byte has: a peer trickling bytes is cut off.
	FrameTimeout time.Duration
	// HandshakeTimeout bounds Hello, Info and Open.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each frame written to a peer that does not read.
	WriteTimeout time.Duration

	Price  receipt.Price     // per 1,000 token-layers; zero: free
	Payout receipt.PublicKey // receipts' provider; required when paid
	// CreditLimit is the most a session may owe beyond its last receipt,
	// in base units, before it is paused.
	CreditLimit uint64
	Backend     string // compute backend named in Info
}

// handshakeMaxFrame is the largest frame read before a session is open.
const handshakeMaxFrame = 16 << 10

// Default returns limits for a desktop node lending spare capacity.
func Default() Config {
	return Config{
		MaxSessions:      16,
		MaxKVBytes:       4 << 30,
		MaxContext:       8192,
		MaxBatch:         512,
		MaxFrame:         64 << 20,
		IdleTimeout:      5 * time.Minute,
		FrameTimeout:     30 * time.Second,
		HandshakeTimeout: 10 * time.Second,
		WriteTimeout:     30 * time.Second,
		CreditLimit:      100_000,
		Backend:          "cpu",
	}
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case c.MaxSessions <= 0:
		return fmt.Errorf("%w: max sessions %d", ErrInvalidConfig, c.MaxSessions)
	case c.MaxKVBytes <= 0:
		return fmt.Errorf("%w: max KV bytes %d", ErrInvalidConfig, c.MaxKVBytes)
	case c.MaxContext <= 0 || c.MaxBatch <= 0:
		return fmt.Errorf("%w: max context %d, max batch %d", ErrInvalidConfig, c.MaxContext, c.MaxBatch)
	case c.MaxFrame < handshakeMaxFrame || c.MaxFrame > 1<<30:
		return fmt.Errorf("%w: max frame %d outside [%d, 1 GiB]", ErrInvalidConfig, c.MaxFrame, handshakeMaxFrame)
	case c.IdleTimeout <= 0 || c.FrameTimeout <= 0 || c.HandshakeTimeout <= 0 || c.WriteTimeout <= 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrInvalidConfig)
	case c.Price.PerKiloUnit > 0 && c.Payout.IsZero():
		return fmt.Errorf("%w: a paid server needs a payout address", ErrInvalidConfig)
	case len(c.Backend) > maxBackendLen:
		return fmt.Errorf("%w: backend name %q too long", ErrInvalidConfig, c.Backend)
	}
	return nil
}
