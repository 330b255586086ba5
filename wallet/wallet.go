package wallet

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	sol "github.com/gagliardetto/solana-go"
	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/keystore"
	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

var (
	// ErrNoWallet means the data directory holds no keystore yet.
	ErrNoWallet = errors.New("no wallet")
	// ErrWalletExists means Create or Import would replace an existing wallet.
	ErrWalletExists = errors.New("wallet already exists")
	// ErrLocked means the operation needs the wallet opened with its password.
	ErrLocked = errors.New("wallet is locked")
	// ErrNoMnemonic means the wallet was imported from a keypair file and has
	// no recovery phrase.
	ErrNoMnemonic = errors.New("wallet has no mnemonic")
	// ErrWrongPassword is keystore.ErrWrongPassword.
	ErrWrongPassword = keystore.ErrWrongPassword
)

// Config configures a Wallet.
type Config struct {
	// DataDir holds wallet/keystore.json and wallet/ledger.db.
	DataDir string
	Solana  solana.Config
	// KDF are the keystore's argon2id parameters for new keystores.
	KDF keystore.Params
}

// DefaultConfig uses devnet and the default KDF parameters. DataDir is left
// for the caller to set: the runtime owns the data directory.
func DefaultConfig() Config {
	return Config{Solana: solana.DefaultConfig(), KDF: keystore.DefaultParams()}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("wallet: no data directory")
	}
	if err := c.Solana.Validate(); err != nil {
		return err
	}
	return c.KDF.Validate()
}

// KeystorePath is the keystore file under DataDir.
func (c Config) KeystorePath() string { return filepath.Join(c.DataDir, "wallet", "keystore.json") }

// LedgerPath is the ledger file under DataDir.
func (c Config) LedgerPath() string { return filepath.Join(c.DataDir, "wallet", "ledger.db") }

// Wallet is an opened wallet. Opened with Open, Create or Import it is
// unlocked and can sign; opened with OpenReadOnly it can only read.
type Wallet struct {
	cfg     Config
	log     *slog.Logger
	address sol.PublicKey
	chain   *solana.Client

	mu     sync.Mutex // guards key and ledger
	key    *keys.Key  // nil when read-only or locked
	ledger *ledger.Ledger
}

// Create makes a new wallet with a fresh 24-word mnemonic, encrypted under
// password. The mnemonic is returned once, for the user to write down.
func Create(cfg Config, password []byte, log *slog.Logger) (*Wallet, string, error) {
	m, err := keys.NewMnemonic()
	if err != nil {
		return nil, "", err
	}
	w, err := create(cfg, keystore.Secret{Mnemonic: m}, password, log)
	if err != nil {
		return nil, "", err
	}
	return w, m, nil
}

// Import makes a wallet from what a user pastes: a Solana CLI keypair (a JSON
// array of 64 numbers) or a BIP39 recovery phrase without passphrase.
func Import(cfg Config, secret string, password []byte, log *slog.Logger) (*Wallet, error) {
	if t := strings.TrimSpace(secret); strings.HasPrefix(t, "[") {
		return ImportKeypair(cfg, []byte(t), password, log)
	}
	return ImportMnemonic(cfg, secret, "", password, log)
}

// ImportMnemonic makes a wallet from an existing BIP39 mnemonic (and optional
// BIP39 passphrase), deriving the Phantom/Solflare account m/44'/501'/0'/0'.
func ImportMnemonic(cfg Config, mnemonic, passphrase string, password []byte, log *slog.Logger) (*Wallet, error) {
	if err := keys.ValidateMnemonic(mnemonic); err != nil {
		return nil, err
	}
	return create(cfg, keystore.Secret{Mnemonic: keys.NormalizeMnemonic(mnemonic), Passphrase: passphrase}, password, log)
}

// ImportKeypair makes a wallet from a Solana CLI keypair file's contents.
func ImportKeypair(cfg Config, keypairJSON []byte, password []byte, log *slog.Logger) (*Wallet, error) {
	k, err := keys.ParseKeypairJSON(keypairJSON)
	if err != nil {
		return nil, err
	}
	s := keystore.Secret{PrivateKey: k.PrivateKey()}
	defer s.Wipe()
	return create(cfg, s, password, log)
}

func create(cfg Config, s keystore.Secret, password []byte, log *slog.Logger) (*Wallet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := keystore.Create(cfg.KeystorePath(), s, password, cfg.KDF); err != nil {
		if errors.Is(err, keystore.ErrExists) {
			return nil, fmt.Errorf("%w: %s", ErrWalletExists, cfg.KeystorePath())
		}
		return nil, err
	}
	k, err := s.Key()
	if err != nil {
		return nil, err
	}
	return newWallet(cfg, k.PublicKey(), &k, log)
}

// Open decrypts the wallet's keystore with password.
func Open(cfg Config, password []byte, log *slog.Logger) (*Wallet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := openKeystore(cfg, password)
	if err != nil {
		return nil, err
	}
	defer s.Wipe()
	k, err := s.Key()
	if err != nil {
		return nil, err
	}
	return newWallet(cfg, k.PublicKey(), &k, log)
}

// OpenReadOnly opens the wallet without its password: address, balances,
// history and earnings work; signing fails with ErrLocked.
func OpenReadOnly(cfg Config, log *slog.Logger) (*Wallet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	addr, err := keystore.Address(cfg.KeystorePath())
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, fmt.Errorf("%w in %s", ErrNoWallet, cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	pk, err := sol.PublicKeyFromBase58(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: keystore address: %v", keystore.ErrCorrupt, err)
	}
	return newWallet(cfg, pk[:], nil, log)
}

// Exists reports whether the data directory holds a wallet.
func Exists(cfg Config) bool {
	_, err := os.Stat(cfg.KeystorePath())
	return err == nil
}

func openKeystore(cfg Config, password []byte) (keystore.Secret, error) {
	s, err := keystore.Open(cfg.KeystorePath(), password)
	if errors.Is(err, keystore.ErrNotFound) {
		return s, fmt.Errorf("%w in %s", ErrNoWallet, cfg.DataDir)
	}
	return s, err
}

func newWallet(cfg Config, pub []byte, k *keys.Key, log *slog.Logger) (*Wallet, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	chain, err := solana.New(cfg.Solana, log)
	if err != nil {
		return nil, err
	}
	return &Wallet{cfg: cfg, log: log.With("sub", "wallet"), address: sol.PublicKeyFromBytes(pub), key: k, chain: chain}, nil
}

// Close releases the ledger and RPC connections.
func (w *Wallet) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if w.ledger != nil {
		err = w.ledger.Close()
		w.ledger = nil
	}
	return errors.Join(err, w.chain.Close())
}

// Address is the wallet's base58 Solana address.
func (w *Wallet) Address() string { return w.address.String() }

// PublicKey is the wallet's address as a receipt key.
func (w *Wallet) PublicKey() receipt.PublicKey { return receipt.PublicKey(w.address) }

// Cluster is the cluster the wallet talks to.
func (w *Wallet) Cluster() solana.Cluster { return w.cfg.Solana.Cluster }

// Signer is the wallet key, for signing receipts; ErrLocked when read-only.
func (w *Wallet) Signer() (receipt.Signer, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.key == nil {
		return nil, ErrLocked
	}
	return *w.key, nil
}

// Unlock decrypts the keystore with password, so that a wallet opened
// read-only signs (receipts, payments) until Lock.
func (w *Wallet) Unlock(password []byte) error {
	s, err := openKeystore(w.cfg, password)
	if err != nil {
		return err
	}
	defer s.Wipe()
	k, err := s.Key()
	if err != nil {
		return err
	}
	if k.Address() != w.Address() {
		return fmt.Errorf("wallet: the keystore now holds %s, not %s", k.Address(), w.Address())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.key = &k
	return nil
}

// Lock forgets the key: signing fails with ErrLocked until Unlock. Signers
// handed out before keep working.
func (w *Wallet) Lock() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.key = nil
}

// Unlocked reports whether the wallet can sign.
func (w *Wallet) Unlocked() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.key != nil
}

// Ledger opens the receipts ledger on first use. It holds a file lock, so
// only one process at a time can use it.
func (w *Wallet) Ledger() (*ledger.Ledger, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ledger == nil {
		l, err := ledger.Open(w.cfg.LedgerPath(), w.log)
		if err != nil {
			return nil, err
		}
		w.ledger = l
	}
	return w.ledger, nil
}

// ExportMnemonic returns the recovery phrase; it asks for the password again
// even on an unlocked wallet.
func (w *Wallet) ExportMnemonic(password []byte) (string, error) {
	s, err := openKeystore(w.cfg, password)
	if err != nil {
		return "", err
	}
	defer s.Wipe()
	if s.Mnemonic == "" {
		return "", ErrNoMnemonic
	}
	return s.Mnemonic, nil
}

// ExportKeypair returns the key in the Solana CLI keypair format; it asks
// for the password again.
func (w *Wallet) ExportKeypair(password []byte) ([]byte, error) {
	s, err := openKeystore(w.cfg, password)
	if err != nil {
		return nil, err
	}
	defer s.Wipe()
	k, err := s.Key()
	if err != nil {
		return nil, err
	}
	return keys.MarshalKeypairJSON(k)
}
