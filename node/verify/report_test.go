package verify

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/node/shard"
)

func TestInputsCoding(t *testing.T) {
	tokens := []int32{1, 403, 7}
	b, err := EncodeInputs(tokens, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := DecodeInputs(b)
	if err != nil || !reflect.DeepEqual(in.Tokens, tokens) || in.Len() != 3 {
		t.Fatalf("tokens %+v %v", in, err)
	}
	var want [32]byte
	for _, id := range tokens {
		want = shard.ChainInput(want, shard.KindTokens, shard.I32, shard.EncodeTokens([]int32{id}))
	}
	if in.Chain != want {
		t.Fatal("token inputs digest differs from the chain a provider computes")
	}
	hidden := []float32{1, 2, 3, 4, 5.5, 6, 70000, 8}
	dts := []shard.DType{shard.F16, shard.F16, shard.F32, shard.F32}
	b, err = EncodeInputs(nil, hidden, 2, dts)
	if err != nil {
		t.Fatal(err)
	}
	in, err = DecodeInputs(b)
	if err != nil || in.Dim != 2 || !reflect.DeepEqual(in.Hidden, hidden) || !reflect.DeepEqual(in.DTypes, dts) {
		t.Fatalf("hidden %+v %v", in, err)
	}
	want = [32]byte{}
	for i, dt := range dts {
		want = shard.ChainInput(want, shard.KindHidden, dt, shard.EncodeFloats(dt, hidden[2*i:2*i+2]))
	}
	if in.Chain != want {
		t.Fatal("hidden inputs digest differs from the chain a provider computes")
	}
	for name, bad := range map[string][]byte{
		"empty":      nil,
		"truncated":  b[:len(b)-1],
		"trailing":   append(append([]byte(nil), b...), 0),
		"bad dtype":  append(append([]byte(nil), b[:9]...), 9),
		"huge count": {2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2},
		"no dim":     {2, 0, 0, 0, 1, 0, 0, 0, 0},
	} {
		if _, err := DecodeInputs(bad); !errors.Is(err, ErrBadReport) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := EncodeInputs(nil, hidden, 3, nil); err == nil {
		t.Error("encoded 8 values as positions of 3")
	}
}

func sampleReport(t testing.TB) Report {
	out := shard.EncodeFloats(shard.F32, []float32{1, 2})
	inputs, err := EncodeInputs([]int32{1, 2}, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.Decode("12D3KooWNVW9Dy6NoZLgryB8gYTbgcfcbQEdthemdrq6CdJ7Uqef")
	if err != nil {
		t.Fatal(err)
	}
	return Report{Provider: id, Sig: make([]byte, 64), Output: out, Inputs: inputs, InputsHash: sha256Sum(inputs), InputsLen: len(inputs),
		Statement: shard.ResultStatement{From: 0, To: 2, Pos: 1, N: 1, Backend: "cpu", Kind: shard.KindLogits, DType: shard.F32, Output: sha256Sum(out)}}
}

func TestReportCoding(t *testing.T) {
	r := sampleReport(t)
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, r)
	}
	if err := got.Verify(); !errors.Is(err, shard.ErrBadSignature) {
		t.Fatalf("zero signature verified: %v", err)
	}
	for name, mut := range map[string]func(*Report){
		"output not the signed one": func(r *Report) { r.Output = []byte{1, 2, 3, 4} },
		"inputs not their hash":     func(r *Report) { r.InputsHash[0] ^= 1 },
		"inputs length":             func(r *Report) { r.InputsLen++ },
	} {
		r := sampleReport(t)
		mut(&r)
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := new(Report).UnmarshalBinary(b); !errors.Is(err, ErrBadReport) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := new(Report).UnmarshalBinary(b[:len(b)-1]); !errors.Is(err, ErrBadReport) {
		t.Errorf("truncated: %v", err)
	}
	big := sampleReport(t)
	big.Inputs = make([]byte, InlineInputs+1)
	if _, err := big.MarshalBinary(); !errors.Is(err, ErrBadReport) {
		t.Errorf("oversized inline inputs: %v", err)
	}
}

// FuzzReport feeds arbitrary bytes to the report and inputs decoders: they
// must fail cleanly or give a report that encodes back to the same bytes.
func FuzzReport(f *testing.F) {
	r := sampleReport(f)
	b, _ := r.MarshalBinary()
	f.Add(b)
	f.Add(r.Inputs)
	in, _ := EncodeInputs(nil, []float32{1, 2, 3, 4}, 2, []shard.DType{shard.F16, shard.F32})
	f.Add(in)
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeInputs(data)
		var r Report
		if r.UnmarshalBinary(data) != nil {
			return
		}
		again, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded report does not encode: %v", err)
		}
		var r2 Report
		if err := r2.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-encoding changed the report: %v", err)
		}
	})
}

func TestBanList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "bans.json")
	b, err := OpenBanList(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.IsBanned("p") || b.IsDistrusted("q") {
		t.Fatal("empty list bans")
	}
	if err := b.Ban("p", "wrong logits", [32]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("p", "second reason", [32]byte{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Distrust("q", "forged report"); err != nil {
		t.Fatal(err)
	}
	again, err := OpenBanList(path)
	if err != nil {
		t.Fatal(err)
	}
	e := again.Entries()
	if len(e) != 2 || !again.IsBanned("p") || again.IsBanned("q") || !again.IsDistrusted("q") || again.IsDistrusted("p") {
		t.Fatalf("reloaded %+v", e)
	}
	if e[0].Reason != "wrong logits" || e[0].Evidence == "" {
		t.Fatalf("first ban %+v", e[0])
	}
	if err := again.Lift("p"); err != nil {
		t.Fatal(err)
	}
	if third, _ := OpenBanList(path); third.IsBanned("p") || !third.IsDistrusted("q") {
		t.Fatalf("after lifting: %+v", third.Entries())
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBanList(path); err == nil {
		t.Fatal("corrupt ban list opened")
	}
	var none *BanList
	if none.IsBanned("p") {
		t.Fatal("nil list bans")
	}
	mem, _ := OpenBanList("")
	if mem.Ban("x", "", [32]byte{}) != nil || !mem.IsBanned("x") {
		t.Fatal("in-memory list")
	}
}

func TestMismatch(t *testing.T) {
	ref := []float32{0, 1, 2, 3, 10, 20, 30, 40}
	near := []float32{0, 1, 2, 3.02, 10, 20, 30.2, 40}
	tests := []struct {
		claimed []float32
		row     int
		exact   bool
		same    bool
	}{
		{ref, 4, true, true},
		{near, 4, true, false},
		{near, 4, false, true}, // within 1% of each row's range (0.03, 0.3)
		{near, 8, false, true}, // one row: range 40
		{[]float32{0, 1, 2, 3.05, 10, 20, 30, 40}, 4, false, false},
		{ref[:7], 4, true, false},
	}
	for i, tc := range tests {
		if got := mismatch(tc.claimed, ref, tc.row, tc.exact, 0.01) == ""; got != tc.same {
			t.Errorf("case %d: same = %v", i, got)
		}
	}
	r, err := asReceived([]float32{1.0001, 2, 3, 4}, 2, []shard.DType{shard.F16, shard.F32})
	if err != nil || r[0] != 1 || r[2] != 3 {
		t.Fatalf("as received %v %v", r, err)
	}
}
