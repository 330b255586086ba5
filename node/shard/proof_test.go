package shard

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/meter"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// sentInput is one position's input as it went on the wire.
type sentInput struct {
	dt   DType
	data []byte
}

// chainOf recomputes a session's input digest from the inputs as sent.
func chainOf(kind Kind, positions []sentInput) [32]byte {
	var c [32]byte
	for _, p := range positions {
		c = ChainInput(c, kind, p.dt, p.data)
	}
	return c
}

// TestSignedResults checks that every result carries the provider's
// signature over a statement the client can rebuild on its own, including
// after a replay from an earlier position, and that a change to any part of
// it fails verification.
func TestSignedResults(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	srv := startServer(t, Default(), nil, tm.backend(t, 0, n))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	for _, dt := range []DType{F32, F16} {
		t.Run(dt.String(), func(t *testing.T) {
			head := openStage(t, c, SessionConfig{Model: tm.hash, From: 0, To: 2, MaxContext: 32, DType: dt})
			tail := openStage(t, c, SessionConfig{Model: tm.hash, From: 2, To: n, MaxContext: 32, DType: dt})
			if _, ok := head.Evidence(); ok {
				t.Fatal("evidence before any result")
			}
			ctx := context.Background()
			var sent []sentInput // the tail's inputs, position by position, as sent
			step := func(pos int, ids []int32) {
				t.Helper()
				hidden, err := head.Forward(ctx, pos, ids, nil)
				if err != nil {
					t.Fatal(err)
				}
				ev, ok := head.Evidence()
				if !ok || ev.Verify() != nil || ev.Statement.Kind != KindHidden || ev.Statement.Pos != pos || ev.Statement.N != len(ids) {
					t.Fatalf("head evidence %+v: %v", ev.Statement, ev.Verify())
				}
				if _, err := tail.Forward(ctx, pos, nil, hidden); err != nil {
					t.Fatal(err)
				}
				sent = sent[:pos]
				wdt := wireDType(dt, hidden)
				for i := range len(ids) {
					sent = append(sent, sentInput{wdt, appendFloats(nil, wdt, hidden[i*tm.m.Dim:(i+1)*tm.m.Dim])})
				}
			}
			step(0, prompt)
			step(len(prompt), []int32{42})
			step(2, []int32{7, 8, 9}) // replay from an earlier position
			ev, ok := tail.Evidence()
			if !ok {
				t.Fatal("no evidence")
			}
			if err := ev.Verify(); err != nil {
				t.Fatal(err)
			}
			st := ev.Statement
			if st.Kind != KindLogits || st.DType != F32 || st.Pos != 2 || st.N != 3 || st.From != 2 || st.To != n ||
				st.Backend != "cpu" || st.Model != tm.hash || st.Session != tail.Session() || ev.Provider != srv.h.ID() {
				t.Fatalf("statement %+v", st)
			}
			if st.Inputs != chainOf(KindHidden, sent) {
				t.Fatal("input digest differs from the chain of the inputs sent")
			}
			if len(ev.InputDTypes) != len(sent) {
				t.Fatalf("%d input dtypes for %d positions", len(ev.InputDTypes), len(sent))
			}
			for i, in := range sent {
				if ev.InputDTypes[i] != in.dt {
					t.Fatalf("position %d sent as %s, evidence says %s", i, in.dt, ev.InputDTypes[i])
				}
			}
			logits, err := ev.Floats()
			if err != nil || len(logits) != tm.m.Vocab {
				t.Fatalf("%d logits: %v", len(logits), err)
			}
			// Tampering with anything breaks the proof.
			for name, mut := range map[string]func(*Evidence){
				"output":   func(e *Evidence) { e.Output[5] ^= 1 },
				"inputs":   func(e *Evidence) { e.Statement.Inputs[0] ^= 1 },
				"range":    func(e *Evidence) { e.Statement.From-- },
				"position": func(e *Evidence) { e.Statement.Pos++ },
				"session":  func(e *Evidence) { e.Statement.Session[0] ^= 1 },
				"backend":  func(e *Evidence) { e.Statement.Backend = "webgpu" },
				"provider": func(e *Evidence) { e.Provider = c.h.ID() },
			} {
				e, _ := tail.Evidence()
				mut(&e)
				if e.Statement.Output != sha256.Sum256(e.Output) {
					e.Statement.Output = sha256.Sum256(e.Output) // a consistent forgery
				}
				if err := e.Verify(); !errors.Is(err, ErrBadSignature) {
					t.Errorf("tampered %s: %v", name, err)
				}
			}
		})
	}
}

func TestResultStatementEncoding(t *testing.T) {
	s := ResultStatement{Session: [16]byte{1}, Model: [32]byte{2}, From: 3, To: 5, Pos: 7, N: 2, Backend: "cpu",
		Inputs: [32]byte{4}, Kind: KindHidden, DType: F16, Output: [32]byte{5}}
	b := s.AppendBinary(nil)
	if len(b) != statementLen+len(s.Backend) {
		t.Fatalf("%d bytes", len(b))
	}
	got, err := DecodeResultStatement(b)
	if err != nil || got != s {
		t.Fatalf("round trip %+v, %v", got, err)
	}
	if _, err := DecodeResultStatement(b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
	bad := s
	bad.Kind = KindTokens
	if _, err := DecodeResultStatement(bad.AppendBinary(nil)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("token output: %v", err)
	}
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(id, sig); err != nil {
		t.Fatal(err)
	}
	if s.Digest() == bad.Digest() {
		t.Fatal("different statements share a digest")
	}
}

func TestWeightChallenge(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	srv := startServer(t, Default(), nil, tm.backend(t, 1, n))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	r := openStage(t, c, SessionConfig{Model: tm.hash, From: 1, To: n, MaxContext: 8, DType: F32})
	var nonce [32]byte
	rand.Read(nonce[:])
	slices := []Slice{{Tensor: "blk.1.attn_q.weight", Off: 100, Len: 300}, {Tensor: "output.weight", Off: 0, Len: 4096},
		{Tensor: "blk.4.ffn_down.weight", Off: 8, Len: 1}}
	if !r.CanChallenge() {
		t.Fatal("a model backend's session says it cannot be challenged")
	}
	got, err := r.Challenge(context.Background(), Challenge{Nonce: nonce, Slices: slices})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range slices {
		_, data, err := tm.m.File.TensorData(s.Tensor)
		if err != nil {
			t.Fatal(err)
		}
		if got[i] != SliceDigest(nonce, data[s.Off:s.Off+s.Len]) {
			t.Errorf("slice %d (%s): wrong digest", i, s.Tensor)
		}
	}
	// The session goes on after a challenge.
	if _, err := r.Forward(context.Background(), 0, nil, make([]float32, tm.m.Dim)); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Slice{
		"layer outside the session": {Tensor: "blk.0.attn_q.weight", Len: 4},
		"embeddings of a tail":      {Tensor: "token_embd.weight", Len: 4},
		"beyond the tensor":         {Tensor: "blk.2.attn_norm.weight", Off: 1 << 20, Len: 4},
		"unknown tensor":            {Tensor: "blk.2.nothing", Len: 4},
	} {
		r := openStage(t, c, SessionConfig{Model: tm.hash, From: 1, To: n, MaxContext: 8, DType: F32})
		if _, err := r.Challenge(context.Background(), Challenge{Nonce: nonce, Slices: []Slice{s}}); !errors.Is(err, ErrBadRequest) || !errors.Is(err, ErrBroken) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTensorInRange(t *testing.T) {
	tests := []struct {
		name     string
		from, to int
		tied     bool
		want     bool
	}{
		{"blk.0.attn_q.weight", 0, 2, false, true},
		{"blk.2.attn_q.weight", 0, 2, false, false},
		{"blk.12.ffn_up.weight", 10, 22, false, true},
		{"blk.x.ffn_up.weight", 0, 22, false, false},
		{"blk.3", 0, 22, false, false},
		{"token_embd.weight", 0, 2, false, true},
		{"token_embd.weight", 2, 5, false, false},
		{"token_embd.weight", 2, 5, true, true},
		{"output.weight", 2, 5, false, true},
		{"output_norm.weight", 2, 4, false, false},
		{"rope_freqs.weight", 0, 5, false, false},
	}
	for _, tc := range tests {
		if got := TensorInRange(tc.name, tc.from, tc.to, 5, tc.tied); got != tc.want {
			t.Errorf("%s in [%d,%d) tied=%v: %v", tc.name, tc.from, tc.to, tc.tied, got)
		}
	}
}

// TestAbortPaysNothing checks that aborting a paid session (a provider
// caught cheating) sends no further receipt, where Close would pay.
func TestAbortPaysNothing(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	provider, consumer := walletKey(t), walletKey(t)
	led := meter.NewMemoryLedger()
	srv := startServer(t, paidConfig(provider, 1000, 1_000_000), led, tm.backend(t, 0, n))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	for _, abort := range []bool{false, true} {
		r, err := c.OpenSession(context.Background(), SessionConfig{Model: tm.hash, From: 2, To: n, MaxContext: 16,
			DType: F32, MaxPrice: receipt.Price{PerKiloUnit: 1000}, Signer: consumer})
		if err != nil {
			t.Fatal(err)
		}
		decode(t, model.Chain{tm.localStage(t, 0, 2, 16), r}, prompt, 3)
		before := len(led.All())
		if abort {
			r.Abort()
			if _, err := r.Forward(context.Background(), 0, nil, make([]float32, tm.m.Dim)); !errors.Is(err, ErrBroken) {
				t.Fatalf("forward after abort: %v", err)
			}
		} else if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // a receipt in flight would land by now
		if got := len(led.All()) - before; (got == 0) != abort {
			t.Fatalf("abort=%v: %d receipts at the end", abort, got)
		}
	}
}

func TestEncodeHelpers(t *testing.T) {
	v := []float32{1, -2, 0.5}
	for _, dt := range []DType{F32, F16} {
		got, err := DecodeFloats(dt, EncodeFloats(dt, v))
		if err != nil || len(got) != 3 || got[1] != -2 {
			t.Fatalf("%s: %v %v", dt, got, err)
		}
	}
	if _, err := DecodeFloats(I32, make([]byte, 4)); !errors.Is(err, ErrMalformed) {
		t.Fatal("decoded ints as floats")
	}
	ids, err := DecodeTokens(EncodeTokens([]int32{1, 511}))
	if err != nil || !bytes.Equal(EncodeTokens(ids), EncodeTokens([]int32{1, 511})) {
		t.Fatalf("tokens %v %v", ids, err)
	}
}

// opaqueBackend serves layers but not their weights' bytes.
type opaqueBackend struct{ Backend }

func TestChallengeNotOffered(t *testing.T) {
	tm := openTestModel(t, stories260K)
	srv := startServer(t, Default(), nil, opaqueBackend{tm.backend(t, 0, tm.m.NumLayers)})
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	r := openStage(t, c, SessionConfig{Model: tm.hash, From: 1, To: tm.m.NumLayers, MaxContext: 8, DType: F32})
	if r.CanChallenge() || c.Info().Models[0].Challenges {
		t.Fatal("a backend without tensor bytes offers challenges")
	}
	if _, err := r.Challenge(context.Background(), Challenge{Slices: []Slice{{Tensor: "blk.1.attn_q.weight", Len: 4}}}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("challenge anyway: %v", err)
	}
}
