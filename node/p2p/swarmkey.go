package p2p

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/pnet"
)

// ErrBadSwarmKey is returned for a private swarm key that cannot be parsed.
var ErrBadSwarmKey = errors.New("bad private swarm key")

const swarmKeyLen = 32

// GenerateSwarmKey returns a fresh random private swarm key as 64 hex
// characters, suitable for Config.PrivateSwarmKey on all of a user's devices.
func GenerateSwarmKey() (string, error) {
	var k [swarmKeyLen]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", fmt.Errorf("generate swarm key: %w", err)
	}
	return hex.EncodeToString(k[:]), nil
}

// ParseSwarmKey decodes a private swarm key given as 64 hex characters or as
// the content of a go-ipfs style swarm.key file
// ("/key/swarm/psk/1.0.0/\n/base16/\n<hex>").
func ParseSwarmKey(s string) (pnet.PSK, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "/key/swarm/psk/") {
		psk, err := pnet.DecodeV1PSK(strings.NewReader(s))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadSwarmKey, err)
		}
		if len(psk) != swarmKeyLen {
			return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadSwarmKey, len(psk), swarmKeyLen)
		}
		return psk, nil
	}
	if len(s) != 2*swarmKeyLen {
		return nil, fmt.Errorf("%w: %d characters, want %d hex characters", ErrBadSwarmKey, len(s), 2*swarmKeyLen)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSwarmKey, err)
	}
	return pnet.PSK(b), nil
}
