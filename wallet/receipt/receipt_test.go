package receipt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/hearth-p2p/hearth/wallet/keys"
)

func testKey(t testing.TB) keys.Key {
	t.Helper()
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sample(consumer keys.Key) Receipt {
	var provider PublicKey
	provider[0], provider[31] = 7, 9
	return Receipt{
		Session:  [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Consumer: PublicKey(consumer.PublicKey()),
		Provider: provider,
		Model:    [32]byte{0xaa, 31: 0xbb},
		From:     4,
		To:       20,
		Units:    123456,
		Amount:   789,
		Seq:      3,
	}
}

func TestEncodingLayout(t *testing.T) {
	k := testKey(t)
	r := sample(k)
	r.Mint = PublicKey{0xcc}
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != EncodedLen || EncodedLen != 177 {
		t.Fatalf("len %d, EncodedLen %d", len(b), EncodedLen)
	}
	checks := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"version", b[0:1], []byte{1}},
		{"session", b[1:17], r.Session[:]},
		{"consumer", b[17:49], r.Consumer[:]},
		{"provider", b[49:81], r.Provider[:]},
		{"model", b[81:113], r.Model[:]},
		{"from", b[113:117], binary.LittleEndian.AppendUint32(nil, 4)},
		{"to", b[117:121], binary.LittleEndian.AppendUint32(nil, 20)},
		{"units", b[121:129], binary.LittleEndian.AppendUint64(nil, 123456)},
		{"amount", b[129:137], binary.LittleEndian.AppendUint64(nil, 789)},
		{"mint", b[137:169], r.Mint[:]},
		{"seq", b[169:177], binary.LittleEndian.AppendUint64(nil, 3)},
	}
	for _, c := range checks {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s: % x, want % x", c.name, c.got, c.want)
		}
	}
	var back Receipt
	if err := back.UnmarshalBinary(b); err != nil || back != r {
		t.Fatalf("round trip: %v, %+v", err, back)
	}
}

func TestSignVerify(t *testing.T) {
	k := testKey(t)
	r := sample(k)
	s, err := Sign(r, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(); err != nil {
		t.Fatal(err)
	}
	wire, _ := s.MarshalBinary()
	got, err := Decode(wire)
	if err != nil || got != s {
		t.Fatalf("decode: %v", err)
	}
	// The signature is over the domain-separated message, not the raw encoding.
	raw, _ := r.MarshalBinary()
	if ed25519.Verify(k.PublicKey(), raw, s.Signature[:]) {
		t.Fatal("signature verifies without the domain prefix")
	}
	if _, err := Sign(r, testKey(t)); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("foreign signer: %v", err)
	}
}

// TestTamperedFieldsFailVerification changes each field of a signed receipt.
func TestTamperedFieldsFailVerification(t *testing.T) {
	k := testKey(t)
	s, err := Sign(sample(k), k)
	if err != nil {
		t.Fatal(err)
	}
	d0 := s.Digest()
	for _, tc := range []struct {
		name string
		f    func(r *Signed)
	}{
		{"session", func(r *Signed) { r.Session[0] ^= 1 }},
		{"provider", func(r *Signed) { r.Provider[5] ^= 1 }},
		{"model", func(r *Signed) { r.Model[9] ^= 1 }},
		{"from", func(r *Signed) { r.From++ }},
		{"to", func(r *Signed) { r.To++ }},
		{"units", func(r *Signed) { r.Units++ }},
		{"amount", func(r *Signed) { r.Amount *= 10 }},
		{"mint", func(r *Signed) { r.Mint[0] = 1 }},
		{"seq", func(r *Signed) { r.Seq++ }},
		{"consumer", func(r *Signed) { r.Consumer = PublicKey(testKey(t).PublicKey()) }},
		{"signature", func(r *Signed) { r.Signature[10] ^= 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s
			tc.f(&c)
			if err := c.Verify(); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("err = %v, want ErrBadSignature", err)
			}
			if tc.name != "signature" && c.Digest() == d0 {
				t.Fatal("digest ignores the field")
			}
			wire, _ := c.MarshalBinary()
			if _, err := Decode(wire); err == nil {
				t.Fatal("Decode accepted a tampered receipt")
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	k := testKey(t)
	s, _ := Sign(sample(k), k)
	good, _ := s.MarshalBinary()
	mut := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"short", good[:SignedLen-1], ErrMalformed},
		{"long", append(bytes.Clone(good), 0), ErrMalformed},
		{"version", mut(func(b []byte) { b[0] = 2 }), ErrMalformed},
		{"empty range", mut(func(b []byte) { copy(b[117:121], b[113:117]) }), ErrInvalid},
		{"zero seq", mut(func(b []byte) { clear(b[169:177]) }), ErrInvalid},
		{"zero consumer", mut(func(b []byte) { clear(b[17:49]) }), ErrInvalid},
		{"zero provider", mut(func(b []byte) { clear(b[49:81]) }), ErrInvalid},
		{"consumer is provider", mut(func(b []byte) { copy(b[49:81], b[17:49]) }), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPriceAmount(t *testing.T) {
	for _, tc := range []struct {
		per, units, want uint64
		overflow         bool
	}{
		{1000, 1, 1, false},
		{1, 1, 1, false}, // 0.001 rounds up to 1
		{1, 1000, 1, false},
		{1, 1001, 2, false},
		{0, 12345, 0, false},
		{5000, 0, 0, false},
		{2500, 3, 8, false}, // 7.5 → 8
		{999, 1000, 999, false},
		{math.MaxUint64, 1000, math.MaxUint64, false},
		{math.MaxUint64, 1001, 0, true},
		{math.MaxUint64, math.MaxUint64, 0, true},
	} {
		got, err := Price{PerKiloUnit: tc.per}.Amount(tc.units)
		if tc.overflow {
			if !errors.Is(err, ErrOverflow) {
				t.Errorf("%d×%d: err = %v, want overflow", tc.per, tc.units, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%d×%d/1000 = %d, %v; want %d", tc.per, tc.units, got, err, tc.want)
		}
	}
}

func TestPriceCheck(t *testing.T) {
	k := testKey(t)
	r := sample(k) // 123456 units, 789 amount, SOL
	for _, tc := range []struct {
		name string
		p    Price
		want error
	}{
		{"exact", Price{PerKiloUnit: 6}, nil}, // ceil(740.736) = 741 ≤ 789
		{"too cheap", Price{PerKiloUnit: 7}, ErrUnderpriced},
		{"other mint", Price{PerKiloUnit: 1, Mint: PublicKey{1}}, ErrWrongMint},
	} {
		if err := tc.p.Check(&r); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	k := testKey(t)
	p, err := ParsePublicKey(k.Address())
	if err != nil || p != PublicKey(k.PublicKey()) || p.String() != k.Address() {
		t.Fatalf("parse %s: %v", k.Address(), err)
	}
	for _, s := range []string{"", "abc", "0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl", k.Address() + "1111"} {
		if _, err := ParsePublicKey(s); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%q: err = %v", s, err)
		}
	}
	var zero PublicKey
	if zero.String() != "11111111111111111111111111111111" || !zero.IsZero() {
		t.Fatal("zero key is not the system program address")
	}
}

func FuzzDecodeReceipt(f *testing.F) {
	k := testKey(f)
	s, _ := Sign(sample(k), k)
	good, _ := s.MarshalBinary()
	f.Add(good)
	f.Add(good[:EncodedLen])
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{1}, SignedLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Signed
		if err := s.UnmarshalBinary(b); err != nil {
			if _, err2 := Decode(b); err2 == nil {
				t.Fatal("Decode accepted what UnmarshalBinary rejected")
			}
			return
		}
		// Canonical: what decodes re-encodes to the same bytes.
		again, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("decoded receipt invalid: %v", err)
		}
		_ = s.Verify() // must not panic on arbitrary keys and signatures
		var r Receipt
		if err := r.UnmarshalBinary(b[:EncodedLen]); err != nil || r != s.Receipt {
			t.Fatal("receipt part decodes differently")
		}
	})
}

func FuzzPriceAmount(f *testing.F) {
	f.Add(uint64(1), uint64(1))
	f.Add(uint64(math.MaxUint64), uint64(1000))
	f.Fuzz(func(t *testing.T, per, units uint64) {
		got, err := Price{PerKiloUnit: per}.Amount(units)
		exact := new(big.Int).Mul(new(big.Int).SetUint64(per), new(big.Int).SetUint64(units))
		exact.Add(exact, big.NewInt(999))
		exact.Quo(exact, big.NewInt(1000))
		if !exact.IsUint64() {
			if !errors.Is(err, ErrOverflow) {
				t.Fatalf("%d×%d: want overflow, got %d, %v", per, units, got, err)
			}
			return
		}
		if err != nil || got != exact.Uint64() {
			t.Fatalf("%d×%d: got %d, %v; want %s", per, units, got, err, exact)
		}
	})
}
