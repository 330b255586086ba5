// Package keystore keeps the wallet's secret encrypted at rest: argon2id
// stretches the password into a key for XChaCha20-Poly1305, the file is
// versioned JSON that records its KDF parameters, and writes are atomic with
// mode 0600. Secrets never appear in errors or logs.
package keystore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/hearth-p2p/hearth/wallet/keys"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Version is the file format this package writes.
const Version = 1

const (
	kdfName    = "argon2id"
	cipherName = "xchacha20-poly1305"
	saltLen    = 16
	aadDomain  = "hearth-keystore-v1\x00"
)

var (
	// ErrWrongPassword means the password does not open the keystore (or the
	// file was altered: authenticated encryption cannot tell the two apart).
	ErrWrongPassword = errors.New("wrong password")
	// ErrNotFound means there is no keystore file at the path.
	ErrNotFound = errors.New("keystore not found")
	// ErrExists means Create would overwrite an existing keystore.
	ErrExists = errors.New("keystore already exists")
	// ErrCorrupt means the file is not a well-formed keystore.
	ErrCorrupt = errors.New("keystore corrupt")
	// ErrUnsupportedVersion means the file was written by a newer Hearth.
	ErrUnsupportedVersion = errors.New("unsupported keystore version")
	// ErrEmptyPassword means an empty password was given for encryption.
	ErrEmptyPassword = errors.New("empty password")
)

// Params are the argon2id cost parameters.
type Params struct {
	Time      uint32 `json:"time"`       // passes over memory
	MemoryKiB uint32 `json:"memory_kib"` // memory in KiB
	Threads   uint8  `json:"threads"`    // lanes
}

// DefaultParams returns the parameters new keystores use: 3 passes over
// 64 MiB with 4 lanes (~0.2-0.5 s on a desktop), above OWASP's argon2id floor.
func DefaultParams() Params { return Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 4} }

// Validate bounds the parameters, so a crafted file cannot ask for hours or
// terabytes of work.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > 64:
		return fmt.Errorf("%w: argon2 time %d outside [1,64]", ErrCorrupt, p.Time)
	case p.Threads < 1 || p.Threads > 64:
		return fmt.Errorf("%w: argon2 threads %d outside [1,64]", ErrCorrupt, p.Threads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 4<<20:
		return fmt.Errorf("%w: argon2 memory %d KiB outside [8*threads, 4 GiB]", ErrCorrupt, p.MemoryKiB)
	}
	return nil
}

// Secret is what the keystore protects: a mnemonic (with its optional BIP39
// passphrase and derivation path) or, for an imported keypair, the raw key.
type Secret struct {
	Mnemonic   string `json:"mnemonic,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
	Path       string `json:"path,omitempty"`
	PrivateKey []byte `json:"private_key,omitempty"` // 64 bytes; only without a mnemonic
}

// Key derives the signing key the secret stands for.
func (s Secret) Key() (keys.Key, error) {
	switch {
	case s.Mnemonic != "" && len(s.PrivateKey) != 0:
		return keys.Key{}, fmt.Errorf("%w: both a mnemonic and a private key", ErrCorrupt)
	case s.Mnemonic != "":
		path := s.Path
		if path == "" {
			path = keys.DerivationPath
		}
		return keys.FromMnemonicPath(s.Mnemonic, s.Passphrase, path)
	case len(s.PrivateKey) != 0:
		return keys.FromPrivateKey(s.PrivateKey)
	default:
		return keys.Key{}, fmt.Errorf("%w: no key material", ErrCorrupt)
	}
}

// String redacts the secret.
func (s Secret) String() string { return "keystore.Secret(redacted)" }

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Wipe overwrites the private key bytes. Strings cannot be wiped in Go.
func (s *Secret) Wipe() { clear(s.PrivateKey) }

// file is the on-disk JSON.
type file struct {
	Version    int        `json:"version"`
	Address    string     `json:"address"`
	KDF        kdfJSON    `json:"kdf"`
	Cipher     cipherJSON `json:"cipher"`
	Ciphertext string     `json:"ciphertext"`
}

type kdfJSON struct {
	Name string `json:"name"`
	Params
	Salt string `json:"salt"`
}

type cipherJSON struct {
	Name  string `json:"name"`
	Nonce string `json:"nonce"`
}

// Create encrypts s under password into a new file at path and returns the
// wallet address. It fails with ErrExists rather than overwrite a keystore.
func Create(path string, s Secret, password []byte, p Params) (string, error) {
	data, addr, err := seal(s, password, p)
	if err != nil {
		return "", err
	}
	if err := writeNew(path, data); err != nil {
		return "", err
	}
	return addr, nil
}

// Save encrypts s under password and atomically replaces the file at path.
func Save(path string, s Secret, password []byte, p Params) error {
	data, _, err := seal(s, password, p)
	if err != nil {
		return err
	}
	return writeReplace(path, data)
}

// Open decrypts the keystore at path.
func Open(path string, password []byte) (Secret, error) {
	f, err := readFile(path)
	if err != nil {
		return Secret{}, err
	}
	return f.open(password)
}

// Address returns the wallet address recorded in the keystore, without the
// password.
func Address(path string) (string, error) {
	f, err := readFile(path)
	if err != nil {
		return "", err
	}
	return f.Address, nil
}

// ChangePassword re-encrypts the keystore under a new password and parameters.
func ChangePassword(path string, oldPassword, newPassword []byte, p Params) error {
	s, err := Open(path, oldPassword)
	if err != nil {
		return err
	}
	defer s.Wipe()
	return Save(path, s, newPassword, p)
}

func seal(s Secret, password []byte, p Params) ([]byte, string, error) {
	if len(password) == 0 {
		return nil, "", ErrEmptyPassword
	}
	if err := p.Validate(); err != nil {
		return nil, "", fmt.Errorf("keystore parameters: %w", err)
	}
	k, err := s.Key()
	if err != nil {
		return nil, "", fmt.Errorf("keystore secret: %w", err)
	}
	f := file{
		Version: Version,
		Address: k.Address(),
		KDF:     kdfJSON{Name: kdfName, Params: p},
		Cipher:  cipherJSON{Name: cipherName},
	}
	salt := make([]byte, saltLen)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(salt); err != nil {
		return nil, "", fmt.Errorf("read salt: %w", err)
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", fmt.Errorf("read nonce: %w", err)
	}
	f.KDF.Salt = base64.StdEncoding.EncodeToString(salt)
	f.Cipher.Nonce = base64.StdEncoding.EncodeToString(nonce)
	plain, err := json.Marshal(s)
	if err != nil {
		return nil, "", fmt.Errorf("encode secret: %w", err)
	}
	defer clear(plain)
	aead, err := newAEAD(password, salt, p)
	if err != nil {
		return nil, "", err
	}
	f.Ciphertext = base64.StdEncoding.EncodeToString(aead.Seal(nil, nonce, plain, f.aad(salt)))
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("encode keystore: %w", err)
	}
	return append(out, '\n'), f.Address, nil
}

func (f *file) open(password []byte) (Secret, error) {
	salt, err := base64.StdEncoding.DecodeString(f.KDF.Salt)
	if err != nil || len(salt) != saltLen {
		return Secret{}, fmt.Errorf("%w: bad salt", ErrCorrupt)
	}
	nonce, err := base64.StdEncoding.DecodeString(f.Cipher.Nonce)
	if err != nil || len(nonce) != chacha20poly1305.NonceSizeX {
		return Secret{}, fmt.Errorf("%w: bad nonce", ErrCorrupt)
	}
	ct, err := base64.StdEncoding.DecodeString(f.Ciphertext)
	if err != nil || len(ct) < chacha20poly1305.Overhead {
		return Secret{}, fmt.Errorf("%w: bad ciphertext", ErrCorrupt)
	}
	aead, err := newAEAD(password, salt, f.KDF.Params)
	if err != nil {
		return Secret{}, err
	}
	plain, err := aead.Open(nil, nonce, ct, f.aad(salt))
	if err != nil {
		return Secret{}, ErrWrongPassword
	}
	defer clear(plain)
	var s Secret
	if err := json.Unmarshal(plain, &s); err != nil {
		return Secret{}, fmt.Errorf("%w: bad secret encoding", ErrCorrupt)
	}
	k, err := s.Key()
	if err != nil {
		s.Wipe()
		return Secret{}, fmt.Errorf("%w: stored secret is unusable", ErrCorrupt)
	}
	if k.Address() != f.Address {
		s.Wipe()
		return Secret{}, fmt.Errorf("%w: secret does not match the recorded address", ErrCorrupt)
	}
	return s, nil
}

// aad binds the header to the ciphertext: changing the address or the KDF
// parameters makes decryption fail.
func (f *file) aad(salt []byte) []byte {
	b := []byte(aadDomain)
	b = binary.BigEndian.AppendUint32(b, uint32(f.Version))
	b = binary.BigEndian.AppendUint32(b, f.KDF.Time)
	b = binary.BigEndian.AppendUint32(b, f.KDF.MemoryKiB)
	b = append(b, f.KDF.Threads)
	b = append(b, salt...)
	b = append(b, byte(len(f.Address)))
	return append(b, f.Address...)
}

func newAEAD(password, salt []byte, p Params) (interface {
	Seal(dst, nonce, plaintext, aad []byte) []byte
	Open(dst, nonce, ciphertext, aad []byte) ([]byte, error)
}, error) {
	key := argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("init cipher: %w", err)
	}
	return aead, nil
}

func readFile(path string) (*file, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read keystore: %w", err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %s is not keystore JSON", ErrCorrupt, path)
	}
	switch {
	case f.Version > Version:
		return nil, fmt.Errorf("%w: %d (this build reads %d)", ErrUnsupportedVersion, f.Version, Version)
	case f.Version != Version:
		return nil, fmt.Errorf("%w: version %d", ErrCorrupt, f.Version)
	case f.KDF.Name != kdfName:
		return nil, fmt.Errorf("%w: kdf %q", ErrCorrupt, f.KDF.Name)
	case f.Cipher.Name != cipherName:
		return nil, fmt.Errorf("%w: cipher %q", ErrCorrupt, f.Cipher.Name)
	case f.Address == "" || len(f.Address) > 64:
		return nil, fmt.Errorf("%w: bad address", ErrCorrupt)
	}
	if err := f.KDF.Params.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}
