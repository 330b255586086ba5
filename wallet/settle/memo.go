// Package settle pays providers for their receipts on Solana and, on the
// provider's side, watches incoming payments and marks receipts settled.
//
// A payment is one transfer per provider and currency (SOL or an SPL mint) of
// what the receipts say is owed minus what was already paid, with a Memo
// "hearth:v1:<receipt digest hex>[,…]" naming the receipts it pays.
package settle

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/hearth-p2p/hearth/wallet/solana"
)

// MemoPrefix starts every settlement memo.
const MemoPrefix = "hearth:v1:"

// MaxDigestsPerMemo is how many receipt digests fit one memo
// (len(prefix) + 65·n − 1 ≤ solana.MaxMemoLen).
const MaxDigestsPerMemo = (solana.MaxMemoLen - len(MemoPrefix) + 1) / 65

// ErrBadMemo reports a memo that is not a well-formed settlement memo.
var ErrBadMemo = errors.New("bad settlement memo")

// FormatMemo names receipts by digest.
func FormatMemo(digests [][32]byte) (string, error) {
	if len(digests) == 0 || len(digests) > MaxDigestsPerMemo {
		return "", fmt.Errorf("%w: %d digests, want 1..%d", ErrBadMemo, len(digests), MaxDigestsPerMemo)
	}
	parts := make([]string, len(digests))
	for i, d := range digests {
		parts[i] = hex.EncodeToString(d[:])
	}
	return MemoPrefix + strings.Join(parts, ","), nil
}

// ParseMemo reads the digests of a settlement memo. It is strict: lowercase
// hex, no spaces, no empty or duplicate entries, at most MaxDigestsPerMemo.
func ParseMemo(memo string) ([][32]byte, error) {
	body, ok := strings.CutPrefix(memo, MemoPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: no %q prefix", ErrBadMemo, MemoPrefix)
	}
	parts := strings.Split(body, ",")
	if len(parts) > MaxDigestsPerMemo {
		return nil, fmt.Errorf("%w: %d digests, max %d", ErrBadMemo, len(parts), MaxDigestsPerMemo)
	}
	out := make([][32]byte, 0, len(parts))
	seen := map[[32]byte]bool{}
	for i, p := range parts {
		var d [32]byte
		if len(p) != 64 || strings.ToLower(p) != p {
			return nil, fmt.Errorf("%w: entry %d is not 64 lowercase hex digits", ErrBadMemo, i)
		}
		if _, err := hex.Decode(d[:], []byte(p)); err != nil {
			return nil, fmt.Errorf("%w: entry %d is not hex", ErrBadMemo, i)
		}
		if seen[d] {
			return nil, fmt.Errorf("%w: entry %d repeats a digest", ErrBadMemo, i)
		}
		seen[d] = true
		out = append(out, d)
	}
	return out, nil
}
