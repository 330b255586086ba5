package shard

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// sampleMessages returns one valid message of every type.
func sampleMessages(t testing.TB) []Message {
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	r := receipt.Receipt{Session: [16]byte{1}, Consumer: receipt.PublicKey(k.PublicKey()), Provider: receipt.PublicKey{2},
		Model: [32]byte{3}, From: 1, To: 4, Units: 30, Amount: 3, Seq: 1}
	signed, err := receipt.Sign(r, k)
	if err != nil {
		t.Fatal(err)
	}
	hidden := appendFloats(nil, F32, []float32{1, -2.5, 3, 0.125})
	return []Message{
		Hello{Version: Version},
		Info{Version: Version, Backend: "cpu", Price: receipt.Price{PerKiloUnit: 7, Mint: receipt.PublicKey{9}},
			Payout: receipt.PublicKey{8}, CreditLimit: 1000, MaxContext: 2048, MaxBatch: 512, MaxFrame: 1 << 20,
			Accepting: true, Sessions: 1, MaxSessions: 4, Models: []ModelInfo{{Hash: [32]byte{1, 2}, Name: "stories",
				NumLayers: 5, Dim: 64, Vocab: 512, KVDim: 32, ContextLen: 2048, From: 1, To: 5, TokPerSec: 123.5, Challenges: true}}},
		Open{Session: [16]byte{4}, Model: [32]byte{5}, From: 0, To: 3, MaxContext: 100,
			Price: receipt.Price{PerKiloUnit: 10}, DType: F16, Consumer: receipt.PublicKey{6}},
		OpenOK{MaxContext: 100, Price: receipt.Price{PerKiloUnit: 10}, Provider: receipt.PublicKey{7}, CreditLimit: 99},
		Forward{Session: [16]byte{4}, Pos: 3, N: 2, Kind: KindTokens, DType: I32, Data: appendTokens(nil, []int32{5, 6})},
		Forward{Session: [16]byte{4}, Pos: 3, N: 2, Kind: KindHidden, DType: F32, Data: hidden},
		Result{Pos: 3, N: 1, Kind: KindLogits, DType: F32, Units: 3, Total: 9, Compute: 1500 * time.Microsecond, Data: hidden},
		Result{Pos: 0, N: 1, Kind: KindHidden, DType: F32, Units: 3, Total: 3, Sig: bytes.Repeat([]byte{7}, 64), Data: hidden},
		Challenge{Nonce: [32]byte{1, 2}, Slices: []Slice{{Tensor: "blk.1.attn_q.weight", Off: 64, Len: 128}, {Tensor: "output.weight", Off: 0, Len: 1}}},
		ChallengeOK{Digests: [][32]byte{{3}, {4}}},
		Result{Pos: 3, N: 2, Kind: KindHidden, DType: F16, Units: 6, Total: 6, Data: appendFloats(nil, F16, []float32{1, 2, 3, 4})},
		ReceiptMsg{Receipt: signed},
		Close{},
		Closed{Units: 10, Receipted: 8},
		&Error{Code: CodeBusy, Message: "draining"},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages(t) {
		t.Run(m.Type().String(), func(t *testing.T) {
			frame := AppendFrame(nil, m)
			typ, payload, err := readFrame(bufio.NewReader(bytes.NewReader(frame)), 1<<20, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if typ != m.Type() {
				t.Fatalf("type %s, want %s", typ, m.Type())
			}
			got, err := DecodeMessage(typ, payload)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, m)
			}
		})
	}
}

func TestReadFrameLimits(t *testing.T) {
	valid := AppendFrame(nil, Hello{Version: 1})
	tests := []struct {
		name  string
		input []byte
		max   int
		want  error
	}{
		{"valid", valid, 16, nil},
		{"too large", []byte{0, 0, 1, 0, byte(MsgHello)}, 255, ErrFrameTooLarge},
		{"huge length, no allocation", []byte{0xff, 0xff, 0xff, 0xff, 5}, 1 << 20, ErrFrameTooLarge},
		{"zero length", []byte{0, 0, 0, 0, 1}, 16, ErrMalformed},
		{"truncated header", []byte{0, 0}, 16, io.ErrUnexpectedEOF},
		{"truncated payload", valid[:len(valid)-1], 16, io.ErrUnexpectedEOF},
		{"empty", nil, 16, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readFrame(bufio.NewReader(bytes.NewReader(tc.input)), tc.max, nil, nil)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("readFrame = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReadGrowingBounded checks that a frame announcing many bytes costs
// memory only for the bytes that arrive.
func TestReadGrowingBounded(t *testing.T) {
	hdr := []byte{0x03, 0xff, 0xff, 0xff, byte(MsgForward)} // ~64 MiB announced
	src := io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(make([]byte, 1000)))
	_, buf, err := readFrame(bufio.NewReader(src), 64<<20, nil, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v", err)
	}
	if cap(buf) > 2*readChunk {
		t.Fatalf("buffer grew to %d bytes for 1000 received", cap(buf))
	}
}

func TestDecodeRejects(t *testing.T) {
	fwd := func(mut func(*Forward)) []byte {
		f := Forward{Pos: 0, N: 2, Kind: KindHidden, DType: F32, Data: make([]byte, 16)}
		mut(&f)
		return f.appendPayload(nil)
	}
	tests := []struct {
		name    string
		typ     MsgType
		payload []byte
	}{
		{"unknown type", 99, nil},
		{"hello version 0", MsgHello, []byte{0}},
		{"hello trailing", MsgHello, []byte{1, 2}},
		{"forward n=0", MsgForward, fwd(func(f *Forward) { f.N = 0 })},
		{"forward bad kind", MsgForward, fwd(func(f *Forward) { f.Kind = KindLogits })},
		{"forward tokens as f32", MsgForward, fwd(func(f *Forward) { f.Kind = KindTokens; f.Data = make([]byte, 8) })},
		{"forward token bytes", MsgForward, fwd(func(f *Forward) { f.Kind, f.DType = KindTokens, I32; f.Data = make([]byte, 7) })},
		{"forward hidden bytes", MsgForward, fwd(func(f *Forward) { f.Data = make([]byte, 12) })},
		{"forward hidden empty", MsgForward, fwd(func(f *Forward) { f.Data = nil })},
		{"forward bad dtype", MsgForward, fwd(func(f *Forward) { f.DType = 9 })},
		{"forward huge pos", MsgForward, fwd(func(f *Forward) { f.Pos = -1 })},
		{"open empty range", MsgOpen, Open{From: 3, To: 3, DType: F32}.appendPayload(nil)},
		{"open bad dtype", MsgOpen, Open{From: 0, To: 3, DType: I32}.appendPayload(nil)},
		{"result over-total", MsgResult, Result{N: 1, Kind: KindLogits, DType: F32, Units: 5, Total: 4, Data: make([]byte, 4)}.appendPayload(nil)},
		{"error code 0", MsgError, (&Error{Code: 0}).appendPayload(nil)},
		{"receipt short", MsgReceipt, make([]byte, 10)},
		{"info bad range", MsgInfo, Info{Version: 1, Models: []ModelInfo{{NumLayers: 2, Dim: 1, Vocab: 1, KVDim: 1, ContextLen: 1, From: 1, To: 3}}}.appendPayload(nil)},
		{"info NaN throughput", MsgInfo, Info{Version: 1, Models: []ModelInfo{{NumLayers: 2, Dim: 1, Vocab: 1, KVDim: 1, ContextLen: 1, From: 0, To: 2, TokPerSec: float32(math.NaN())}}}.appendPayload(nil)},
		{"string too long", MsgError, append([]byte{1, 0xff, 0xff}, strings.Repeat("x", 70000)...)},
		{"result huge signature", MsgResult, append(Result{N: 1, Kind: KindLogits, DType: F32, Units: 1, Total: 1}.appendPayload(nil)[:30], 0xff, 0xff)},
		{"challenge without slices", MsgChallenge, Challenge{}.appendPayload(nil)},
		{"challenge empty slice", MsgChallenge, Challenge{Slices: []Slice{{Tensor: "x", Len: 0}}}.appendPayload(nil)},
		{"challenge huge slice", MsgChallenge, Challenge{Slices: []Slice{{Tensor: "x", Len: MaxSliceLen + 1}}}.appendPayload(nil)},
		{"challenge too many slices", MsgChallenge, Challenge{Slices: make([]Slice, MaxChallengeSlices+1)}.appendPayload(nil)},
		{"challenge-ok truncated", MsgChallengeOK, []byte{2, 1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := DecodeMessage(tc.typ, tc.payload); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeMessage = %#v, %v; want ErrMalformed", m, err)
			}
		})
	}
}

func TestTensorCoding(t *testing.T) {
	v := []float32{0, 1, -1, 3.14159, 1e-3, 65504, -65504}
	for _, dt := range []DType{F32, F16} {
		got, err := decodeFloats(nil, dt, appendFloats(nil, dt, v))
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			tol := 0.0
			if dt == F16 {
				tol = math.Abs(float64(v[i])) / 1024 // 10-bit mantissa
			}
			if d := math.Abs(float64(got[i] - v[i])); d > tol {
				t.Errorf("%s: %v → %v", dt, v[i], got[i])
			}
		}
	}
	if wireDType(F16, []float32{1, 70000}) != F32 || wireDType(F16, []float32{1, -2}) != F16 || wireDType(F32, []float32{1}) != F32 {
		t.Error("wireDType does not fall back to f32 beyond the f16 range")
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		if _, err := decodeFloats(nil, F32, appendFloats(nil, F32, []float32{1, bad})); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodeFloats accepted %v", bad)
		}
	}
	if _, err := decodeTokens(nil, appendTokens(nil, []int32{1, 512}), 512); !errors.Is(err, ErrMalformed) {
		t.Error("decodeTokens accepted a token outside the vocabulary")
	}
	if _, err := decodeTokens(nil, appendTokens(nil, []int32{-1}), 512); !errors.Is(err, ErrMalformed) {
		t.Error("decodeTokens accepted a negative token")
	}
}

func TestErrorMatchesSentinel(t *testing.T) {
	for code, sentinel := range codeErrs {
		e := errorf(code, "x")
		if !errors.Is(e, sentinel) {
			t.Errorf("code %d does not match %v", code, sentinel)
		}
		if errors.Is(e, ErrMalformed) {
			t.Errorf("code %d matches an unrelated sentinel", code)
		}
	}
}

// FuzzDecodeFrame feeds arbitrary bytes to the frame reader and decoder: they
// must return an error or a message that re-encodes to a frame decoding to
// the same message, and never panic or allocate beyond the limit.
func FuzzDecodeFrame(f *testing.F) {
	for _, m := range sampleMessages(f) {
		f.Add(AppendFrame(nil, m))
	}
	f.Add([]byte{0, 0, 0, 1, 5})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for range 4 {
			typ, payload, err := readFrame(r, 1<<16, nil, nil)
			if err != nil {
				return
			}
			m, err := DecodeMessage(typ, payload)
			if err != nil {
				continue
			}
			decodePayload(t, m)
			again, err := DecodeMessage(typ, AppendFrame(nil, m)[frameHeader:])
			if err != nil {
				t.Fatalf("re-encoded %s does not decode: %v", typ, err)
			}
			if !reflect.DeepEqual(normalize(again), normalize(m)) {
				t.Fatalf("re-encoding changed %s:\n%#v\n%#v", typ, m, again)
			}
		}
	})
}

// decodePayload runs the tensor decoders on a message's payload: they must
// return values or an error, never panic.
func decodePayload(t *testing.T, m Message) {
	var kind Kind
	var dt DType
	var data []byte
	switch v := m.(type) {
	case Forward:
		kind, dt, data = v.Kind, v.DType, v.Data
	case Result:
		kind, dt, data = v.Kind, v.DType, v.Data
	default:
		return
	}
	if kind == KindTokens {
		ids, err := decodeTokens(nil, data, 1000)
		if err == nil && len(ids) != len(data)/4 {
			t.Fatalf("%d ids from %d bytes", len(ids), len(data))
		}
		return
	}
	v, err := decodeFloats(nil, dt, data)
	if err == nil {
		for _, x := range v {
			if !finite32(x) {
				t.Fatalf("decodeFloats let %v through", x)
			}
		}
	}
}

// normalize maps nil and empty byte slices together for comparison.
func normalize(m Message) Message {
	switch v := m.(type) {
	case Forward:
		if len(v.Data) == 0 {
			v.Data = nil
		}
		return v
	case Result:
		if len(v.Data) == 0 {
			v.Data = nil
		}
		if len(v.Sig) == 0 {
			v.Sig = nil
		}
		return v
	}
	return m
}
