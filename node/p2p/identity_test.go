package p2p_test

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

func TestIdentityPersistsAcrossRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key1, err := p2p.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, p2p.IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("identity mode = %v, want 0600", st.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only the key (temp file left behind?)", len(entries))
	}

	var ids []peer.ID
	for range 2 { // start, stop, start again
		key, err := p2p.LoadOrCreateIdentity(dir)
		if err != nil {
			t.Fatal(err)
		}
		h, err := p2p.New(t.Context(), p2ptest.Config(), key, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, h.ID())
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}
	want, err := peer.IDFromPrivateKey(key1)
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != want || ids[1] != want {
		t.Fatalf("peer IDs across restarts = %v, want %v twice", ids, want)
	}
}

func TestIdentityTightensPermissions(t *testing.T) {
	dir := t.TempDir()
	if _, err := p2p.LoadOrCreateIdentity(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, p2p.IdentityFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p2p.LoadOrCreateIdentity(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode after load = %v, want 0600", st.Mode().Perm())
	}
}

func TestIdentityCorrupt(t *testing.T) {
	good, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	goodBytes, err := crypto.MarshalPrivateKey(good)
	if err != nil {
		t.Fatal(err)
	}
	secp, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secpBytes, err := crypto.MarshalPrivateKey(secp)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("this is not a key")},
		{"truncated", goodBytes[:len(goodBytes)/2]},
		{"bit flipped type", append([]byte{goodBytes[0], goodBytes[1] ^ 0x7f}, goodBytes[2:]...)},
		{"wrong key type", secpBytes},
		{"huge", make([]byte, 64<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, p2p.IdentityFile)
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := p2p.LoadOrCreateIdentity(dir)
			if !errors.Is(err, p2p.ErrCorruptIdentity) {
				t.Fatalf("LoadOrCreateIdentity = %v, want ErrCorruptIdentity", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != string(tt.data) {
				t.Fatal("corrupt key file was overwritten")
			}
		})
	}
}

func TestIdentityDirErrors(t *testing.T) {
	if _, err := p2p.LoadOrCreateIdentity(""); err == nil {
		t.Fatal("empty dir accepted")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := p2p.LoadOrCreateIdentity(file)
	if err == nil || errors.Is(err, p2p.ErrCorruptIdentity) {
		t.Fatalf("data dir that is a file: err = %v, want a non-corruption error", err)
	}
}

func TestIdentityConcurrentFirstStart(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	ids := make([]peer.ID, n)
	errs := make([]error, n)
	done := make(chan int)
	for i := range n {
		go func() {
			defer func() { done <- i }()
			key, err := p2p.LoadOrCreateIdentity(dir)
			if err != nil {
				errs[i] = err
				return
			}
			ids[i], errs[i] = peer.IDFromPrivateKey(key)
		}()
	}
	for range n {
		<-done
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("goroutine %d got peer %s, goroutine 0 got %s", i, ids[i], ids[0])
		}
	}
}
