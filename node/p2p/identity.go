package p2p

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/crypto/pb"
)

// IdentityFile is the name of the node key file inside the data directory.
const IdentityFile = "identity.key"

// ErrCorruptIdentity is returned when the identity file exists but does not
// hold a valid ed25519 libp2p private key.
var ErrCorruptIdentity = errors.New("corrupt identity key file")

// maxIdentityFile bounds how much of a key file is read (an ed25519 key is
// 68 bytes once marshalled).
const maxIdentityFile = 4 << 10

// LoadOrCreateIdentity returns the node's ed25519 key stored in dir, creating
// dir and the key on first use. The file is written atomically (temp file,
// fsync, link/rename) with mode 0600, so a crash never leaves a half-written
// key and two processes racing on first start end up with the same key.
// A file that exists but cannot be decoded yields ErrCorruptIdentity; it is
// never overwritten, since that would silently change the node's peer ID.
func LoadOrCreateIdentity(dir string) (crypto.PrivKey, error) {
	if dir == "" {
		return nil, errors.New("load identity: empty data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, IdentityFile)
	key, err := loadIdentity(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, _, err = crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	data, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal identity: %w", err)
	}
	if err := writeNewFileAtomic(path, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs.
			return loadIdentity(path)
		}
		return nil, fmt.Errorf("write identity: %w", err)
	}
	return key, nil
}

func loadIdentity(path string) (crypto.PrivKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open identity: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIdentityFile+1))
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	if len(data) > maxIdentityFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorruptIdentity, path, maxIdentityFile)
	}
	key, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptIdentity, path, err)
	}
	if key.Type() != pb.KeyType_Ed25519 {
		return nil, fmt.Errorf("%w: %s holds a %s key, want Ed25519", ErrCorruptIdentity, path, key.Type())
	}
	if runtime.GOOS != "windows" {
		if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, fmt.Errorf("restrict identity permissions: %w", err)
			}
		}
	}
	return key, nil
}

// writeNewFileAtomic writes data to a temp file next to path, syncs it and
// links it into place. It fails with fs.ErrExist if path already exists.
func writeNewFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".identity-*.tmp")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if rmErr := os.Remove(tmpName); err == nil && rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = fmt.Errorf("remove temp file: %w", rmErr)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("chmod temp file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write temp file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync temp file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temp file: %w", err)
	}
	// A hard link never replaces an existing file, unlike rename.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// File systems without hard links: fall back to a no-clobber check
		// plus rename (a tiny race window, but still never half-written).
		if _, statErr := os.Lstat(path); statErr == nil {
			return fs.ErrExist
		}
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("rename temp file: %w", err)
		}
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
