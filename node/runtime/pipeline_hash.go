package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ModelHash returns the sha256 of the file at path: the model's identity on
// the network. The result is cached in cacheDir (default: the user cache
// directory's hearth/model-hashes) in a small file named after the path and
// keyed by the file's size and modification time, so a multi-gigabyte model
// is hashed once, not at every start.
func ModelHash(path, cacheDir string) ([32]byte, error) {
	var sum [32]byte
	abs, err := filepath.Abs(path)
	if err != nil {
		return sum, fmt.Errorf("model hash: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return sum, fmt.Errorf("model hash: %w", err)
	}
	if cacheDir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cacheDir = filepath.Join(d, "hearth", "model-hashes")
		}
	}
	key := fmt.Sprintf("v1 %d %d", st.Size(), st.ModTime().UnixNano())
	var side string
	if cacheDir != "" {
		name := sha256.Sum256([]byte(abs))
		side = filepath.Join(cacheDir, hex.EncodeToString(name[:16])+".sha256")
		if b, err := os.ReadFile(side); err == nil {
			if k, h, ok := strings.Cut(strings.TrimSpace(string(b)), " sha256="); ok && k == key {
				if d, err := hex.DecodeString(h); err == nil && len(d) == len(sum) {
					copy(sum[:], d)
					return sum, nil
				}
			}
		}
	}
	f, err := os.Open(abs)
	if err != nil {
		return sum, fmt.Errorf("model hash: %w", err)
	}
	defer f.Close()
	hh := sha256.New()
	if _, err := io.Copy(hh, f); err != nil {
		return sum, fmt.Errorf("model hash: %w", err)
	}
	copy(sum[:], hh.Sum(nil))
	if side != "" {
		writeSidecar(side, key+" sha256="+hex.EncodeToString(sum[:])+"\n")
	}
	return sum, nil
}

// writeSidecar writes a cache file atomically; failing to cache only costs
// a re-hash next time, so errors are dropped.
func writeSidecar(path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hash-*")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(content)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}
