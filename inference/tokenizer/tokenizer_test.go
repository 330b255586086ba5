package tokenizer

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

func TestAddSpecial(t *testing.T) {
	cases := []struct {
		name       string
		tk         *Tokenizer
		text       string
		wantPrefix []int32
	}{
		{"spm adds bos", load(t, testmodels.Stories260K), "Once upon a time", []int32{1}},
		{"spm empty text is bos alone", load(t, testmodels.Stories260K), "", []int32{1}},
		{"656K bos", load(t, testmodels.TinyStoriesQ8), "Once upon a time", []int32{1}},
		{"gpt-2 adds nothing", load(t, testmodels.VocabGPT2), "Hello world", nil},
		{"llama3 pre adds bos", variant(t, testmodels.VocabGPT2, map[string]any{"tokenizer.ggml.pre": "llama-bpe"}), "Hello world", []int32{50256}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plain := c.tk.Encode(c.text, false, false)
			got := c.tk.Encode(c.text, true, false)
			if want := append(slices.Clone(c.wantPrefix), plain...); !slices.Equal(got, want) {
				t.Errorf("Encode(add_special) = %v, want %v", got, want)
			}
			if c.tk.AddBOS() != (len(c.wantPrefix) > 0) {
				t.Errorf("AddBOS() = %v", c.tk.AddBOS())
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	s := load(t, testmodels.Stories260K)
	g := load(t, testmodels.VocabGPT2)
	p := load(t, testmodels.VocabPhi3)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"stories vocab", s.VocabSize(), 512},
		{"stories token 403", s.Token(403), "▁Once"},
		{"stories token -1", s.Token(-1), ""},
		{"stories token 512", s.Token(512), ""},
		{"stories model", s.Model(), "llama"},
		{"gpt-2 pre", g.Pre(), "gpt-2"},
		{"stories eos is eog", s.IsEOG(2), true},
		{"stories bos is not eog", s.IsEOG(1), false},
		{"no token is eog", s.IsEOG(None), false},
		{"gpt-2 endoftext is eog", g.IsEOG(50256), true},
		{"phi-3 <|end|> is eog", p.IsEOG(32007), true},
		{"phi-3 <|endoftext|> is eog", p.IsEOG(32000), true},
		{"phi-3 <|assistant|> is not", p.IsEOG(32001), false},
		{"phi-3 <|user|> is control", p.IsControl(32010), true},
		{"stories ▁Once is not control", s.IsControl(403), false},
		{"gpt-2 has no unk", g.unk, None},
		{"stories AddEOS", s.AddEOS(), false},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if id, ok := s.TokenID("▁Once"); !ok || id != 403 {
		t.Errorf("TokenID(▁Once) = %d, %v", id, ok)
	}
	if _, ok := s.TokenID("no such token"); ok {
		t.Error("TokenID found a missing token")
	}
}

func TestPiece(t *testing.T) {
	s := load(t, testmodels.Stories260K)
	g := load(t, testmodels.VocabGPT2)
	cases := []struct {
		name string
		tk   *Tokenizer
		id   int32
		want string
	}{
		{"spm word keeps its space", s, 403, " Once"},
		{"spm byte token is its byte", s, 3 + 0x0A, "\n"},
		{"spm high byte", s, 3 + 0xE2, "\xe2"},
		{"spm control is empty", s, 1, ""},
		{"spm unknown is empty", s, 0, ""},
		{"out of range", s, 9999, ""},
		{"negative", s, -5, ""},
		{"gpt-2 space marker", g, 262, " the"},
		{"gpt-2 newline byte", g, 198, "\n"},
		{"gpt-2 NUL byte", g, 188, "\x00"}, // "Ā" stands for byte 0
		{"gpt-2 lone high byte", g, g.ids[byteToUnicode[0x80]], "\x80"},
		{"gpt-2 control", g, 50256, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(c.tk.Piece(c.id)); got != c.want {
				t.Errorf("Piece(%d %q) = %q, want %q", c.id, c.tk.Token(c.id), got, c.want)
			}
		})
	}
	// Every id of every vocabulary has a piece, and Decode of one normal
	// token is its piece (less the first-token space for SentencePiece).
	for _, name := range goldenModels {
		tk := load(t, name)
		for id := range int32(tk.VocabSize()) {
			p := tk.Piece(id)
			if tk.IsControl(id) && len(p) != 0 {
				t.Errorf("%s: control token %d has piece %q", name, id, p)
			}
		}
	}
}

// TestDecodeSpace: like llama.cpp, the first token loses its SentencePiece
// space unless a control token (BOS) came first.
func TestDecodeSpace(t *testing.T) {
	s := load(t, testmodels.Stories260K)
	for _, c := range []struct {
		ids  []int32
		want string
	}{
		{[]int32{403, 407}, "Once upon"},
		{[]int32{1, 403, 407}, " Once upon"},
		{[]int32{2, 403}, " Once"},
		{[]int32{1}, ""},
		{nil, ""},
		{[]int32{-1, 403, 9999}, "Once"}, // invalid ids are skipped
	} {
		if got := s.Decode(c.ids); got != c.want {
			t.Errorf("Decode(%v) = %q, want %q", c.ids, got, c.want)
		}
	}
	if got := s.DecodeSpecial([]int32{1, 403}); got != "<s> Once" {
		t.Errorf("DecodeSpecial = %q", got)
	}
}

func TestCleanSpaces(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{"Hello , world !", "Hello, world!"},
		{"x ? y . z", "x? y. z"},
		{"a ' b", "a'b"},
		{"it 's I 'm we 're you 've", "it's I'm we're you've"},
		{"don 't he 'll we 'd", "don 't he 'll we 'd"},
		{" .", "."},
		{"x ' ' y", "x'' y"}, // the second quote's spaces: see the goldens for llama.cpp's output
	} {
		if got := string(cleanSpaces([]byte(c.in))); got != c.want {
			t.Errorf("cleanSpaces(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// synth builds a header from metadata, as a GGUF file would carry it.
func synth(t testing.TB, kv map[string]any) *gguf.Header {
	t.Helper()
	w := gguf.NewWriter()
	for k, v := range kv {
		w.Set(k, v)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	h, err := gguf.ParseHeader(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestFromGGUFErrors(t *testing.T) {
	spm := func(extra map[string]any) map[string]any {
		kv := map[string]any{
			"tokenizer.ggml.model":  "llama",
			"tokenizer.ggml.tokens": []string{"<unk>", "<s>", "</s>", "▁a", "a"},
		}
		for k, v := range extra {
			kv[k] = v
		}
		return kv
	}
	gpt2 := map[string]any{"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": []string{"a", "b"}}
	cases := []struct {
		name string
		kv   map[string]any
		want error
	}{
		{"no model", map[string]any{"tokenizer.ggml.tokens": []string{"a"}}, ErrMetadata},
		{"model is not a string", map[string]any{"tokenizer.ggml.model": uint32(1)}, ErrMetadata},
		{"bert", map[string]any{"tokenizer.ggml.model": "bert"}, ErrUnsupported},
		{"unknown pre", map[string]any{"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "nope"}, ErrUnsupported},
		{"no tokens", map[string]any{"tokenizer.ggml.model": "llama"}, ErrMetadata},
		{"tokens not strings", spm(map[string]any{"tokenizer.ggml.tokens": []int32{1, 2}}), ErrMetadata},
		{"empty vocabulary", spm(map[string]any{"tokenizer.ggml.tokens": []string{}}), ErrMetadata},
		{"duplicate token", spm(map[string]any{"tokenizer.ggml.tokens": []string{"a", "b", "a"}}), ErrMetadata},
		{"short scores", spm(map[string]any{"tokenizer.ggml.scores": []float32{0}}), ErrMetadata},
		{"scores of strings", spm(map[string]any{"tokenizer.ggml.scores": []string{"x"}}), ErrMetadata},
		{"short token types", spm(map[string]any{"tokenizer.ggml.token_type": []int32{1}}), ErrMetadata},
		{"token types of floats", spm(map[string]any{"tokenizer.ggml.token_type": []float32{1, 1, 1, 1, 1}}), ErrMetadata},
		{"bool flag of another type", spm(map[string]any{"tokenizer.ggml.add_bos_token": "yes"}), ErrMetadata},
		{"special id of another type", spm(map[string]any{"tokenizer.ggml.bos_token_id": "one"}), ErrMetadata},
		{"add_eos without eos", spm(map[string]any{"tokenizer.ggml.add_eos_token": true, "tokenizer.ggml.tokens": []string{"a", "b"}}), ErrMetadata},
		{"gpt2 without merges", gpt2, ErrMetadata},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk, err := FromGGUF(synth(t, c.kv))
			if !errors.Is(err, c.want) {
				t.Fatalf("FromGGUF = %v, %v; want %v", tk, err, c.want)
			}
		})
	}
	if _, err := FromGGUF(nil); !errors.Is(err, ErrMetadata) {
		t.Errorf("FromGGUF(nil) = %v", err)
	}
}

// TestSynthetic exercises a hand-made vocabulary: ids of 4294967295 mean
// "none" and keep the default, scores may be integers, empty tokens get a
// placeholder, a byte token that is too short parses as 0.
func TestSynthetic(t *testing.T) {
	h := synth(t, map[string]any{
		"tokenizer.ggml.model":              "llama",
		"tokenizer.ggml.tokens":             []string{"<unk>", "<s>", "</s>", "▁a", "a", "", "<0x"},
		"tokenizer.ggml.scores":             []int32{0, 0, 0, -1, -2, 0, 0},
		"tokenizer.ggml.token_type":         []int32{2, 3, 3, 1, 1, 1, 6},
		"tokenizer.ggml.padding_token_id":   uint32(4294967295),
		"tokenizer.ggml.seperator_token_id": uint32(4294967295),
		"tokenizer.ggml.eos_token_id":       uint32(4294967295),
	})
	tk, err := FromGGUF(h)
	if err != nil {
		t.Fatal(err)
	}
	if tk.EOS() != 2 || tk.pad != None || tk.sep != None {
		t.Errorf("eos %d pad %d sep %d", tk.EOS(), tk.pad, tk.sep)
	}
	if tk.Token(5) != "[EMPTY_5]" || string(tk.Piece(6)) != "\x00" {
		t.Errorf("token 5 %q, piece 6 %q", tk.Token(5), tk.Piece(6))
	}
	// " a a b" merges to ▁a ▁a ▁ b; the three bytes of ▁ and "b" have no
	// token and no byte token, so each becomes unknown.
	if got := tk.Encode("a a b", true, false); !slices.Equal(got, []int32{1, 3, 3, 0, 0, 0, 0}) {
		t.Errorf("Encode = %v", got)
	}
}
