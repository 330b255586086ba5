package keys

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gagliardetto/solana-go"
	"golang.org/x/text/unicode/norm"
)

const abandon = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

func TestFromMnemonicPhantomVector(t *testing.T) {
	k, err := FromMnemonic(abandon, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.Address(), "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"; got != want {
		t.Fatalf("address = %s, want %s", got, want)
	}
}

// TestDerivationMatchesIndependentImplementation checks our SLIP-0010 path
// against solana-go's own implementation for several accounts and passphrases.
func TestDerivationMatchesIndependentImplementation(t *testing.T) {
	m, err := NewMnemonic()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ mnemonic, pass, path string }{
		{abandon, "", DerivationPath},
		{abandon, "TREZOR", DerivationPath},
		{abandon, "", "m/44'/501'/1'/0'"},
		{abandon, "", "m/44'/501'"},
		{m, "", DerivationPath},
		{m, "pässwörd", "m/44'/501'/7'/0'"},
	} {
		t.Run(tc.path+"/"+tc.pass, func(t *testing.T) {
			k, err := FromMnemonicPath(tc.mnemonic, tc.pass, tc.path)
			if err != nil {
				t.Fatal(err)
			}
			// solana-go does not NFKD-normalise the passphrase; BIP39 (and
			// Phantom's bip39 library) do, so hand it the normalised form.
			ref, err := solana.PrivateKeyFromMnemonicAtPath(tc.mnemonic, norm.NFKD.String(tc.pass), tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if k.Address() != ref.PublicKey().String() {
				t.Fatalf("address %s, solana-go says %s", k.Address(), ref.PublicKey())
			}
		})
	}
}

func TestMnemonicDistinctKeys(t *testing.T) {
	base, _ := FromMnemonic(abandon, "")
	withPass, _ := FromMnemonic(abandon, "x")
	acct1, _ := FromMnemonicPath(abandon, "", "m/44'/501'/1'/0'")
	if base.Address() == withPass.Address() || base.Address() == acct1.Address() {
		t.Fatal("passphrase or account index did not change the key")
	}
	// NFC and NFKD spellings of a passphrase are the same passphrase.
	nfc, _ := FromMnemonic(abandon, "p\u00e4ss")
	nfd, _ := FromMnemonic(abandon, "pa\u0308ss")
	if nfc.Address() != nfd.Address() {
		t.Fatal("passphrase is not NFKD-normalised")
	}
	// Normalisation: case and whitespace do not matter.
	messy, err := FromMnemonic("  ABANDON abandon\tabandon abandon abandon abandon abandon abandon abandon abandon abandon  About\n", "")
	if err != nil {
		t.Fatal(err)
	}
	if messy.Address() != base.Address() {
		t.Fatal("normalised mnemonic derived a different key")
	}
}

func TestNewMnemonic(t *testing.T) {
	a, err := NewMnemonic()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewMnemonic()
	if len(strings.Fields(a)) != 24 {
		t.Fatalf("%d words", len(strings.Fields(a)))
	}
	if a == b {
		t.Fatal("two fresh mnemonics are equal")
	}
	if err := ValidateMnemonic(a); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidMnemonics(t *testing.T) {
	for _, tc := range []struct{ name, m, path string }{
		{"empty", "", DerivationPath},
		{"eleven words", strings.Repeat("abandon ", 10) + "about", DerivationPath},
		{"bad checksum", strings.Repeat("abandon ", 12), DerivationPath},
		{"unknown word", strings.Replace(abandon, "about", "aboot", 1), DerivationPath},
		{"swapped words", "about " + strings.Repeat("abandon ", 11), DerivationPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromMnemonicPath(tc.m, "", tc.path)
			if !errors.Is(err, ErrInvalidMnemonic) {
				t.Fatalf("err = %v, want ErrInvalidMnemonic", err)
			}
			if strings.Contains(err.Error(), "abandon") {
				t.Fatalf("error leaks the phrase: %v", err)
			}
		})
	}
	for _, p := range []string{"m/44/501", "44'/501'", "m/44'/501'/x'", "m/4294967296'", ""} {
		if _, err := FromMnemonicPath(abandon, "", p); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("path %q: err = %v, want ErrInvalidPath", p, err)
		}
	}
}

func TestKeypairJSONRoundTrip(t *testing.T) {
	k, err := FromMnemonic(abandon, "")
	if err != nil {
		t.Fatal(err)
	}
	data, err := MarshalKeypairJSON(k)
	if err != nil {
		t.Fatal(err)
	}
	// The format solana-keygen writes: the same bytes solana-go writes.
	if ref := fmt.Sprint([]byte(k.Solana())); strings.ReplaceAll(ref, " ", ",") != "["+strings.Trim(string(data), "[]")+"]" {
		t.Fatalf("format %s does not list the 64 bytes", data)
	}
	back, err := ParseKeypairJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Address() != k.Address() {
		t.Fatal("round trip changed the key")
	}
	msg := []byte("hello")
	if !ed25519.Verify(back.PublicKey(), msg, k.Sign(msg)) {
		t.Fatal("signature does not verify")
	}
}

func TestParseKeypairJSONErrors(t *testing.T) {
	k, _ := FromMnemonic(abandon, "")
	good, _ := MarshalKeypairJSON(k)
	other, _ := Generate()
	otherJSON, _ := MarshalKeypairJSON(other)
	// Secret of k with the public half of other.
	mixed := "[" + strings.Join(strings.Split(strings.Trim(string(good), "[]"), ",")[:32], ",") + "," +
		strings.Join(strings.Split(strings.Trim(string(otherJSON), "[]"), ",")[32:], ",") + "]"
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"object", `{"a":1}`},
		{"63 bytes", "[" + strings.Repeat("1,", 62) + "1]"},
		{"65 bytes", "[" + strings.Repeat("1,", 64) + "1]"},
		{"256", "[256" + strings.Repeat(",1", 63) + "]"},
		{"negative", "[-1" + strings.Repeat(",1", 63) + "]"},
		{"float", "[1.5" + strings.Repeat(",1", 63) + "]"},
		{"string", `["1"` + strings.Repeat(",1", 63) + "]"},
		{"trailing", string(good) + "[1]"},
		{"mismatched public key", mixed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeypairJSON([]byte(tc.in))
			if !errors.Is(err, ErrInvalidKeypair) {
				t.Fatalf("err = %v, want ErrInvalidKeypair", err)
			}
		})
	}
}

func TestKeyRedacted(t *testing.T) {
	k, _ := FromMnemonic(abandon, "")
	secret := fmt.Sprint([]byte(k.PrivateKey()[:8]))
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, strings.Trim(secret, "[]")) {
			t.Fatalf("formatted key leaks secret bytes: %s", s)
		}
		if !strings.Contains(s, k.Address()) {
			t.Fatalf("formatted key %q lacks the address", s)
		}
	}
	var zero Key
	if zero.Valid() || zero.Address() != "" || zero.PublicKey() != nil {
		t.Fatal("zero key looks usable")
	}
	if _, err := MarshalKeypairJSON(zero); !errors.Is(err, ErrInvalidKeypair) {
		t.Fatal("marshalled a zero key")
	}
}
