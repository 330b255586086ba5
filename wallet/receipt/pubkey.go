package receipt

import (
	"errors"
	"fmt"

	"github.com/mr-tron/base58"
)

// PublicKey is an ed25519 public key, which on Solana is also an address.
type PublicKey [32]byte

// ErrInvalidKey reports a string that is not a base58 32-byte key.
var ErrInvalidKey = errors.New("invalid public key")

// ParsePublicKey decodes a base58 Solana address.
func ParsePublicKey(s string) (PublicKey, error) {
	var k PublicKey
	if len(s) < 32 || len(s) > 44 {
		return k, fmt.Errorf("%w: %q has %d characters", ErrInvalidKey, s, len(s))
	}
	b, err := base58.Decode(s)
	if err != nil {
		return k, fmt.Errorf("%w: %q is not base58", ErrInvalidKey, s)
	}
	if len(b) != len(k) {
		return k, fmt.Errorf("%w: %q decodes to %d bytes", ErrInvalidKey, s, len(b))
	}
	copy(k[:], b)
	return k, nil
}

// String returns the base58 form.
func (k PublicKey) String() string { return base58.Encode(k[:]) }

// IsZero reports whether k is all zeros (for a mint: native SOL).
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// MarshalText implements encoding.TextMarshaler (base58).
func (k PublicKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (base58).
func (k *PublicKey) UnmarshalText(b []byte) error {
	v, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
