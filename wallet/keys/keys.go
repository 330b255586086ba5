// Package keys derives and imports the wallet's Solana signing key: BIP39
// mnemonics with SLIP-0010 ed25519 derivation on Phantom's and Solflare's path,
// and the Solana CLI's keypair JSON files.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/anyproto/go-slip10"
	"github.com/gagliardetto/solana-go"
	"github.com/tyler-smith/go-bip39"
	"golang.org/x/text/unicode/norm"
)

// DerivationPath is the path Phantom, Solflare and the Solana CLI
// (`solana-keygen recover 'prompt://?key=0/0'`) use for a wallet's first account.
const DerivationPath = "m/44'/501'/0'/0'"

var (
	// ErrInvalidMnemonic reports a phrase that is not a valid BIP39 English mnemonic.
	ErrInvalidMnemonic = errors.New("invalid mnemonic")
	// ErrInvalidPath reports a derivation path that is not all-hardened SLIP-0010.
	ErrInvalidPath = errors.New("invalid derivation path")
	// ErrInvalidKeypair reports a malformed or inconsistent keypair.
	ErrInvalidKeypair = errors.New("invalid keypair")
)

// Key is an ed25519 signing key. The zero Key is not usable.
type Key struct {
	priv ed25519.PrivateKey // (64,) seed || public key
}

// NewMnemonic returns a fresh 24-word English BIP39 mnemonic (256 bits of entropy).
func NewMnemonic() (string, error) {
	entropy, err := bip39.NewEntropy(256)
	if err != nil {
		return "", fmt.Errorf("generate entropy: %w", err)
	}
	m, err := bip39.NewMnemonic(entropy)
	if err != nil {
		return "", fmt.Errorf("encode mnemonic: %w", err)
	}
	return m, nil
}

// NormalizeMnemonic lowercases the phrase, collapses whitespace and applies
// NFKD, as BIP39 requires before hashing.
func NormalizeMnemonic(mnemonic string) string {
	return norm.NFKD.String(strings.Join(strings.Fields(strings.ToLower(mnemonic)), " "))
}

// ValidateMnemonic reports whether mnemonic (after normalisation) has a valid
// word count, words from the English list and a correct checksum. The error
// never contains the phrase.
func ValidateMnemonic(mnemonic string) error {
	m := NormalizeMnemonic(mnemonic)
	n := len(strings.Fields(m))
	switch n {
	case 12, 15, 18, 21, 24:
	default:
		return fmt.Errorf("%w: %d words, want 12, 15, 18, 21 or 24", ErrInvalidMnemonic, n)
	}
	for i, w := range strings.Fields(m) {
		if _, ok := bip39.GetWordIndex(w); !ok {
			return fmt.Errorf("%w: word %d is not in the BIP39 English list", ErrInvalidMnemonic, i+1)
		}
	}
	if _, err := bip39.EntropyFromMnemonic(m); err != nil {
		return fmt.Errorf("%w: bad checksum", ErrInvalidMnemonic)
	}
	return nil
}

// FromMnemonic derives the key at DerivationPath from mnemonic and an optional
// BIP39 passphrase (the "25th word"; empty for most wallets).
func FromMnemonic(mnemonic, passphrase string) (Key, error) {
	return FromMnemonicPath(mnemonic, passphrase, DerivationPath)
}

// FromMnemonicPath derives the key at a SLIP-0010 path such as "m/44'/501'/1'/0'".
func FromMnemonicPath(mnemonic, passphrase, path string) (Key, error) {
	if err := ValidateMnemonic(mnemonic); err != nil {
		return Key{}, err
	}
	if !slip10.IsValidPath(path) {
		return Key{}, fmt.Errorf("%w: %q", ErrInvalidPath, path)
	}
	seed := bip39.NewSeed(NormalizeMnemonic(mnemonic), norm.NFKD.String(passphrase))
	defer clear(seed)
	node, err := slip10.DeriveForPath(path, seed)
	if err != nil {
		return Key{}, fmt.Errorf("derive %s: %w", path, err)
	}
	raw := node.RawSeed()
	return Key{priv: ed25519.NewKeyFromSeed(raw)}, nil
}

// Generate returns a random key that has no mnemonic.
func Generate() (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return Key{priv: priv}, nil
}

// FromPrivateKey checks a 64-byte ed25519 private key (seed || public key):
// the public half must be the one the seed derives.
func FromPrivateKey(b []byte) (Key, error) {
	if len(b) != ed25519.PrivateKeySize {
		return Key{}, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKeypair, len(b), ed25519.PrivateKeySize)
	}
	k := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
	if !ed25519.PublicKey(k[ed25519.SeedSize:]).Equal(ed25519.PublicKey(b[ed25519.SeedSize:])) {
		return Key{}, fmt.Errorf("%w: public key does not match the secret key", ErrInvalidKeypair)
	}
	return Key{priv: k}, nil
}

// Valid reports whether k holds a key.
func (k Key) Valid() bool { return len(k.priv) == ed25519.PrivateKeySize }

// PublicKey returns the 32-byte ed25519 public key.
func (k Key) PublicKey() ed25519.PublicKey {
	if !k.Valid() {
		return nil
	}
	return ed25519.PublicKey(k.priv[ed25519.SeedSize:])
}

// Address returns the base58 Solana address (the public key).
func (k Key) Address() string {
	if !k.Valid() {
		return ""
	}
	return solana.PublicKeyFromBytes(k.PublicKey()).String()
}

// Sign signs msg with plain ed25519.
func (k Key) Sign(msg []byte) []byte {
	if !k.Valid() {
		panic("keys: Sign on a zero Key")
	}
	return ed25519.Sign(k.priv, msg)
}

// PrivateKey returns a copy of the 64-byte private key. Handle with care.
func (k Key) PrivateKey() ed25519.PrivateKey {
	return append(ed25519.PrivateKey(nil), k.priv...)
}

// Solana returns the key as solana-go's type, for signing transactions.
func (k Key) Solana() solana.PrivateKey {
	return solana.PrivateKey(k.PrivateKey())
}

// String redacts the key so that it never ends up in a log or an error.
func (k Key) String() string { return "keys.Key(" + k.Address() + ")" }

// GoString redacts the key for %#v.
func (k Key) GoString() string { return k.String() }
