package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// writeReplace writes data to a temporary file next to path, fsyncs it and
// renames it over path, so readers see the old file or the new one, never a
// part. The file is created with mode 0600.
func writeReplace(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("replace keystore: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// writeNew is writeReplace that refuses to replace an existing file. On Unix
// a hard link gives an atomic no-clobber create.
func writeNew(path string, data []byte) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if runtime.GOOS == "windows" {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("create keystore: %w", err)
		}
	} else if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, path)
		}
		return fmt.Errorf("create keystore: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func writeTemp(path string, data []byte) (name string, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create keystore directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".keystore-*.tmp")
	if err != nil {
		return "", fmt.Errorf("create temporary keystore: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return "", fmt.Errorf("chmod keystore: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return "", fmt.Errorf("write keystore: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync keystore: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close keystore: %w", err)
	}
	return f.Name(), nil
}

// syncDir makes a rename durable. Windows cannot open directories for sync.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open keystore directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync keystore directory: %w", err)
	}
	return nil
}
