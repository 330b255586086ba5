package discovery

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// A real Solana address (the Phantom-compatible test wallet).
const testPayout = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"

// USDC's mint, as a real SPL mint address.
const testMint = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func newKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func sampleAnnouncement(id peer.ID) Announcement {
	return Announcement{
		PeerID:           id,
		Addrs:            []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001"), ma.StringCast("/ip4/127.0.0.1/udp/4001/quic-v1")},
		ModelHash:        ModelHash{0xde, 0xad, 0xbe, 0xef, 31: 0x01},
		ModelName:        "llama-3.2-1b-instruct.Q8_0",
		NumLayers:        16,
		From:             4,
		To:               12,
		Backend:          BackendCPU,
		ThroughputTokS:   41.5,
		PricePerKiloUnit: 250,
		Mint:             testMint,
		PayoutAddress:    testPayout,
		Version:          "0.1.0",
		Load:             0.25,
		Expires:          testNow.Add(2 * time.Minute),
		Seq:              7,
	}
}

func TestSignDecodeRoundTrip(t *testing.T) {
	key, id := newKey(t)
	for _, withdrawn := range []bool{false, true} {
		a := sampleAnnouncement(id)
		a.Withdrawn = withdrawn
		a.Expires = a.Expires.Add(123456 * time.Nanosecond) // sub-ms part is dropped
		raw, err := a.Sign(key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeAnnouncement(raw, testNow)
		if err != nil {
			t.Fatalf("DecodeAnnouncement: %v", err)
		}
		want := a
		want.Expires = time.UnixMilli(a.Expires.UnixMilli())
		if !got.Expires.Equal(want.Expires) {
			t.Fatalf("expires = %v, want %v", got.Expires, want.Expires)
		}
		got.Expires, want.Expires = time.Time{}, time.Time{}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if !bytes.Equal(gj, wj) {
			t.Fatalf("round trip:\n got %s\nwant %s", gj, wj)
		}
		// Deterministic: signing the same announcement twice gives the same
		// bytes (ed25519 signatures are deterministic).
		again, err := a.Sign(key)
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("second signature differs (err %v)", err)
		}
	}
}

func TestDecodeRejectsEveryBitFlip(t *testing.T) {
	key, id := newKey(t)
	raw, err := sampleAnnouncement(id).Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(raw)
			bad[i] ^= bit
			if _, err := DecodeAnnouncement(bad, testNow); err == nil {
				t.Fatalf("flipping bit %#x of byte %d/%d went unnoticed", bit, i, len(raw))
			}
		}
	}
	for n := range raw {
		if _, err := DecodeAnnouncement(raw[:n], testNow); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d bytes: err = %v, want ErrMalformed", n, err)
		}
	}
	if _, err := DecodeAnnouncement(append(bytes.Clone(raw), 0), testNow); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: err = %v, want ErrMalformed", err)
	}
}

func TestDecodeRejectsForgedSigner(t *testing.T) {
	victimKey, victim := newKey(t)
	forgerKey, _ := newKey(t)
	a := sampleAnnouncement(victim)
	if _, err := a.Sign(forgerKey); err == nil {
		t.Fatal("Sign accepted a key that does not belong to PeerID")
	}
	// Hand-build the forgery: victim's body, forger's key and signature.
	signed := a.appendSigned(nil)
	sig, err := forgerKey.Sign(append([]byte(signDomain), signed...))
	if err != nil {
		t.Fatal(err)
	}
	forgerPub, _ := crypto.MarshalPublicKey(forgerKey.GetPublic())
	forged := appendBytes(appendBytes(bytes.Clone(signed), forgerPub), sig)
	if _, err := DecodeAnnouncement(forged, testNow); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged signer: err = %v, want ErrBadSignature", err)
	}
	// Right key, signature without the domain prefix.
	victimPub, _ := crypto.MarshalPublicKey(victimKey.GetPublic())
	noDomain, _ := victimKey.Sign(signed)
	undomained := appendBytes(appendBytes(bytes.Clone(signed), victimPub), noDomain)
	if _, err := DecodeAnnouncement(undomained, testNow); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("signature without domain: err = %v, want ErrBadSignature", err)
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	key, id := newKey(t)
	a := sampleAnnouncement(id)
	signed := a.appendSigned(nil)
	// Re-encode the peer ID length as a two-byte varint (0x80|n, 0x00),
	// which Go's varint reader accepts, and sign that.
	n := signed[len(wireMagic)+1]
	bad := append([]byte{}, signed[:len(wireMagic)+1]...)
	bad = append(bad, 0x80|n, 0x00)
	bad = append(bad, signed[len(wireMagic)+2:]...)
	sig, err := key.Sign(append([]byte(signDomain), bad...))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := crypto.MarshalPublicKey(key.GetPublic())
	wire := appendBytes(appendBytes(bad, pub), sig)
	if _, err := DecodeAnnouncement(wire, testNow); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-minimal varint: err = %v, want ErrMalformed", err)
	}
}

func TestAnnouncementValidation(t *testing.T) {
	key, id := newKey(t)
	tests := []struct {
		name    string
		mutate  func(*Announcement)
		wantErr error
	}{
		{"valid", func(*Announcement) {}, nil},
		{"free shard without payout", func(a *Announcement) { a.PricePerKiloUnit, a.PayoutAddress, a.Mint = 0, "", "" }, nil},
		{"expired", func(a *Announcement) { a.Expires = testNow.Add(-time.Second) }, ErrExpired},
		{"expires now", func(a *Announcement) { a.Expires = testNow }, ErrExpired},
		{"too far ahead", func(a *Announcement) { a.Expires = testNow.Add(3 * time.Hour) }, ErrInvalidAnnouncement},
		{"from equals to", func(a *Announcement) { a.From = a.To }, ErrInvalidAnnouncement},
		{"from above to", func(a *Announcement) { a.From, a.To = 9, 3 }, ErrInvalidAnnouncement},
		{"to beyond layers", func(a *Announcement) { a.To = a.NumLayers + 1 }, ErrInvalidAnnouncement},
		{"negative from", func(a *Announcement) { a.From = -1 }, ErrInvalidAnnouncement},
		{"zero layers", func(a *Announcement) { a.NumLayers, a.From, a.To = 0, 0, 0 }, ErrInvalidAnnouncement},
		{"too many layers", func(a *Announcement) { a.NumLayers = MaxLayers + 1 }, ErrInvalidAnnouncement},
		{"backend", func(a *Announcement) { a.Backend = "cuda" }, ErrInvalidAnnouncement},
		{"NaN throughput", func(a *Announcement) { a.ThroughputTokS = math.NaN() }, ErrInvalidAnnouncement},
		{"infinite throughput", func(a *Announcement) { a.ThroughputTokS = math.Inf(1) }, ErrInvalidAnnouncement},
		{"negative throughput", func(a *Announcement) { a.ThroughputTokS = -1 }, ErrInvalidAnnouncement},
		{"load above 1", func(a *Announcement) { a.Load = 1.01 }, ErrInvalidAnnouncement},
		{"NaN load", func(a *Announcement) { a.Load = math.NaN() }, ErrInvalidAnnouncement},
		{"priced without payout", func(a *Announcement) { a.PayoutAddress = "" }, ErrInvalidAnnouncement},
		{"payout not base58", func(a *Announcement) { a.PayoutAddress = "0OIl" + testPayout[4:] }, ErrInvalidAnnouncement},
		{"payout wrong length", func(a *Announcement) { a.PayoutAddress = testPayout[:20] }, ErrInvalidAnnouncement},
		{"mint wrong length", func(a *Announcement) { a.Mint = "11" }, ErrInvalidAnnouncement},
		{"name too long", func(a *Announcement) { a.ModelName = strings.Repeat("x", maxNameLen+1) }, ErrInvalidAnnouncement},
		{"name not utf8", func(a *Announcement) { a.ModelName = "\xff" }, ErrInvalidAnnouncement},
		{"version too long", func(a *Announcement) { a.Version = strings.Repeat("1", maxVersionLen+1) }, ErrInvalidAnnouncement},
		{"too many addrs", func(a *Announcement) {
			a.Addrs = nil
			for range MaxAddrs + 1 {
				a.Addrs = append(a.Addrs, ma.StringCast("/ip4/127.0.0.1/tcp/1"))
			}
		}, ErrInvalidAnnouncement},
		{"no peer id", func(a *Announcement) { a.PeerID = "" }, ErrInvalidAnnouncement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sampleAnnouncement(id)
			tt.mutate(&a)
			err := a.Validate(testNow)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				raw, err := a.Sign(key)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := DecodeAnnouncement(raw, testNow); err != nil {
					t.Fatalf("Decode of a valid announcement: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Validate = %v, want %v", err, tt.wantErr)
			}
			if a.PeerID == "" {
				return // cannot be signed for
			}
			// Sign refuses bad fields; what it signs (it does not know the
			// time) Decode must refuse with the same error.
			raw, err := a.Sign(key)
			if err == nil {
				_, err = DecodeAnnouncement(raw, testNow)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Sign/Decode = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeChecksExpiry(t *testing.T) {
	key, id := newKey(t)
	raw, err := sampleAnnouncement(id).Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeAnnouncement(raw, testNow.Add(time.Minute)); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	if _, err := DecodeAnnouncement(raw, testNow.Add(2*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: err = %v, want ErrExpired", err)
	}
}

func TestModelHashText(t *testing.T) {
	h := ModelHash{0x01, 0xab, 31: 0xff}
	j, err := json.Marshal(struct{ H ModelHash }{h})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"H":"01ab` + strings.Repeat("00", 29) + `ff"}`
	if string(j) != want {
		t.Fatalf("json = %s, want %s", j, want)
	}
	var back struct{ H ModelHash }
	if err := json.Unmarshal(j, &back); err != nil || back.H != h {
		t.Fatalf("unmarshal = %v, %v", back.H, err)
	}
	for _, bad := range []string{"", "01", strings.Repeat("zz", 32), strings.Repeat("0", 65)} {
		if _, err := ParseModelHash(bad); err == nil {
			t.Fatalf("ParseModelHash(%q) succeeded", bad)
		}
	}
}

func FuzzDecodeAnnouncement(f *testing.F) {
	key, id := newKey(f)
	for _, w := range []bool{false, true} {
		a := sampleAnnouncement(id)
		a.Withdrawn = w
		raw, err := a.Sign(key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(raw[:len(raw)/2])
	}
	f.Add([]byte(wireMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// The structural parser must cope with anything; whatever it
		// parses must survive field checks and re-encoding.
		if p, n, _, _, err := parseWire(data); err == nil {
			_ = p.validateFields()
			if !bytes.Equal(p.appendSigned(nil), data[:n]) {
				if _, err := DecodeAnnouncement(data, testNow); err == nil {
					t.Fatal("non-canonical bytes accepted")
				}
			}
		}
		a, err := DecodeAnnouncement(data, testNow)
		if err != nil {
			return
		}
		// Anything accepted is canonical, valid and re-verifiable.
		if err := a.Validate(testNow); err != nil {
			t.Fatalf("accepted announcement fails Validate: %v", err)
		}
		_, signedLen, _, _, err := parseWire(data)
		if err != nil || !bytes.Equal(a.appendSigned(nil), data[:signedLen]) {
			t.Fatalf("accepted announcement is not canonical (err %v)", err)
		}
	})
}
