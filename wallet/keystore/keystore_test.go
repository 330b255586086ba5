package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/hearth-p2p/hearth/wallet/keys"
)

const abandon = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

// fast keeps tests quick; production uses DefaultParams.
var fast = Params{Time: 1, MemoryKiB: 1024, Threads: 1}

func TestCreateOpenRoundTrip(t *testing.T) {
	k, _ := keys.Generate()
	for _, tc := range []struct {
		name   string
		secret Secret
		addr   string
	}{
		{"mnemonic", Secret{Mnemonic: abandon}, "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"},
		{"mnemonic with passphrase and path", Secret{Mnemonic: abandon, Passphrase: "x", Path: "m/44'/501'/3'/0'"}, ""},
		{"imported keypair", Secret{PrivateKey: k.PrivateKey()}, k.Address()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "wallet.json")
			addr, err := Create(path, tc.secret, []byte("correct horse"), fast)
			if err != nil {
				t.Fatal(err)
			}
			if tc.addr != "" && addr != tc.addr {
				t.Fatalf("address %s, want %s", addr, tc.addr)
			}
			if got, err := Address(path); err != nil || got != addr {
				t.Fatalf("Address = %q, %v", got, err)
			}
			s, err := Open(path, []byte("correct horse"))
			if err != nil {
				t.Fatal(err)
			}
			if s.Mnemonic != tc.secret.Mnemonic || s.Passphrase != tc.secret.Passphrase ||
				s.Path != tc.secret.Path || !bytes.Equal(s.PrivateKey, tc.secret.PrivateKey) {
				t.Fatal("secret changed in the round trip")
			}
			key, err := s.Key()
			if err != nil || key.Address() != addr {
				t.Fatalf("key %v, %v", key, err)
			}
			raw, _ := os.ReadFile(path)
			if tc.secret.Mnemonic != "" && bytes.Contains(raw, []byte("abandon")) {
				t.Fatal("mnemonic stored in clear")
			}
			if runtime.GOOS != "windows" {
				st, _ := os.Stat(path)
				if st.Mode().Perm() != 0o600 {
					t.Fatalf("mode %v, want 0600", st.Mode().Perm())
				}
			}
		})
	}
}

func TestWrongPassword(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.json")
	if _, err := Create(path, Secret{Mnemonic: abandon}, []byte("right"), fast); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"wrong", "Right", "right ", ""} {
		_, err := Open(path, []byte(pw))
		if !errors.Is(err, ErrWrongPassword) {
			t.Errorf("password %q: err = %v, want ErrWrongPassword", pw, err)
		}
	}
}

func TestCreateRefusesOverwriteAndEmptyPassword(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.json")
	if _, err := Create(path, Secret{Mnemonic: abandon}, []byte("pw"), fast); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(path, Secret{Mnemonic: abandon}, []byte("pw"), fast); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if _, err := Create(filepath.Join(t.TempDir(), "x"), Secret{Mnemonic: abandon}, nil, fast); !errors.Is(err, ErrEmptyPassword) {
		t.Fatalf("empty password: %v", err)
	}
	if _, err := Create(filepath.Join(t.TempDir(), "x"), Secret{Mnemonic: "not a phrase"}, []byte("pw"), fast); !errors.Is(err, keys.ErrInvalidMnemonic) {
		t.Fatalf("bad mnemonic: %v", err)
	}
	if _, err := Create(filepath.Join(t.TempDir(), "x"), Secret{}, []byte("pw"), fast); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("empty secret: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none"), []byte("pw")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestCorruptedFiles alters a valid keystore in the ways disks and people do.
func TestCorruptedFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if _, err := Create(good, Secret{Mnemonic: abandon}, []byte("pw"), fast); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	flip := func(field string) func(m map[string]any) {
		return func(m map[string]any) {
			b, _ := base64.StdEncoding.DecodeString(m[field].(string))
			b[len(b)/2] ^= 1
			m[field] = base64.StdEncoding.EncodeToString(b)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"truncated", raw[:len(raw)/2], ErrCorrupt},
		{"garbage", []byte("\x00\x01not json"), ErrCorrupt},
		{"newer version", edit(func(m map[string]any) { m["version"] = 2 }), ErrUnsupportedVersion},
		{"version zero", edit(func(m map[string]any) { m["version"] = 0 }), ErrCorrupt},
		{"unknown kdf", edit(func(m map[string]any) { m["kdf"].(map[string]any)["name"] = "scrypt" }), ErrCorrupt},
		{"absurd memory", edit(func(m map[string]any) { m["kdf"].(map[string]any)["memory_kib"] = 1 << 30 }), ErrCorrupt},
		{"weakened time", edit(func(m map[string]any) { m["kdf"].(map[string]any)["time"] = 2 }), ErrWrongPassword},
		{"short salt", edit(func(m map[string]any) { m["kdf"].(map[string]any)["salt"] = "AAAA" }), ErrCorrupt},
		{"bad nonce", edit(func(m map[string]any) { m["cipher"].(map[string]any)["nonce"] = "!!" }), ErrCorrupt},
		{"flipped ciphertext bit", edit(flip("ciphertext")), ErrWrongPassword},
		{"swapped address", edit(func(m map[string]any) { m["address"] = "11111111111111111111111111111111" }), ErrWrongPassword},
		{"cut ciphertext", edit(func(m map[string]any) { m["ciphertext"] = "AAAA" }), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(p, []byte("pw"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestChangePassword(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.json")
	addr, err := Create(path, Secret{Mnemonic: abandon}, []byte("old"), fast)
	if err != nil {
		t.Fatal(err)
	}
	if err := ChangePassword(path, []byte("bad"), []byte("new"), fast); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("change with bad password: %v", err)
	}
	if err := ChangePassword(path, []byte("old"), []byte("new"), fast); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, []byte("old")); !errors.Is(err, ErrWrongPassword) {
		t.Fatal("old password still opens")
	}
	s, err := Open(path, []byte("new"))
	if err != nil || s.Mnemonic != abandon {
		t.Fatalf("new password: %v", err)
	}
	if a, _ := Address(path); a != addr {
		t.Fatal("address changed")
	}
}

// TestAtomicWrite: a failed replace leaves the old file and no temporary
// files; concurrent readers never observe a partial file.
func TestAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	// Replacing a non-empty directory fails at rename, after the data was written.
	target := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Save(target, Secret{Mnemonic: abandon}, []byte("pw"), fast); err == nil {
		t.Fatal("save over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "blocked" {
			t.Fatalf("leftover file %s", e.Name())
		}
	}

	path := filepath.Join(dir, "w.json")
	if _, err := Create(path, Secret{Mnemonic: abandon}, []byte("pw0"), fast); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := Address(path); err != nil {
				select {
				case errs <- err:
				default:
				}
				return
			}
		}
	}()
	for i := 0; i < 20; i++ {
		if err := ChangePassword(path, fmt.Appendf(nil, "pw%d", i), fmt.Appendf(nil, "pw%d", i+1), fast); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("reader saw a partial keystore: %v", err)
	default:
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("want blocked + w.json, got %d entries", len(entries))
	}
}

func TestSecretRedacted(t *testing.T) {
	s := Secret{Mnemonic: abandon, PrivateKey: []byte{1, 2, 3}}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v %#v %s", s, s, s), buf.String()} {
		if strings.Contains(out, "abandon") || strings.Contains(out, "[1 2 3]") {
			t.Fatalf("secret leaked: %s", out)
		}
	}
	path := filepath.Join(t.TempDir(), "w.json")
	if _, err := Create(path, s, []byte("pw"), fast); err == nil || strings.Contains(err.Error(), "abandon") {
		t.Fatalf("err = %v", err)
	}
}

func TestParamsValidate(t *testing.T) {
	for _, tc := range []struct {
		p  Params
		ok bool
	}{
		{DefaultParams(), true},
		{fast, true},
		{Params{Time: 0, MemoryKiB: 1024, Threads: 1}, false},
		{Params{Time: 1, MemoryKiB: 7, Threads: 1}, false},
		{Params{Time: 1, MemoryKiB: 1024, Threads: 0}, false},
		{Params{Time: 65, MemoryKiB: 1024, Threads: 1}, false},
		{Params{Time: 1, MemoryKiB: 5 << 20, Threads: 1}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: err = %v", tc.p, err)
		}
	}
}
