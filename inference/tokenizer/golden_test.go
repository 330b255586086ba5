package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

// golden is one file of testdata/golden, written by testdata/gen/gen.mjs
// from llama.cpp (node-llama-cpp) itself.
type golden struct {
	Model     string            `json:"model"`
	Set       map[string]any    `json:"set"` // metadata replaced in Model, for variants
	VocabSize int               `json:"vocabSize"`
	BOS       *int32            `json:"bos"`
	EOS       *int32            `json:"eos"`
	EOT       *int32            `json:"eot"`
	NL        *int32            `json:"nl"`
	EOG       []int32           `json:"eog"`
	Attrs     map[string]uint16 `json:"attrs"` // id → llama_token_attr, for tokens that are not plain normal
	Single    []struct {
		ID      int32  `json:"id"`
		Text    string `json:"text"`
		Special string `json:"special"`
	} `json:"single"`
	Cases []goldenCase `json:"cases"`
}

type goldenCase struct {
	Text           string  `json:"text"`
	Special        bool    `json:"special"`
	IDs            []int32 `json:"ids"`
	Decoded        string  `json:"decoded"`
	DecodedSpecial string  `json:"decodedSpecial"`
	Aborts         bool    `json:"aborts"` // llama.cpp aborted on this input
}

var goldenModels = []string{
	testmodels.Stories260K, testmodels.TinyStoriesQ8,
	testmodels.VocabLlamaSPM, testmodels.VocabPhi3, testmodels.VocabGPT2,
}

func readGolden(t testing.TB, model string) *golden {
	t.Helper()
	return readGoldenFile(t, strings.TrimSuffix(filepath.Base(model), ".gguf")+".json", model)
}

func readGoldenFile(t testing.TB, name, model string) *golden {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if g.Model != model || len(g.Cases) == 0 {
		t.Fatalf("%s: golden for %q with %d cases", name, g.Model, len(g.Cases))
	}
	return &g
}

func orNone(p *int32) int32 {
	if p == nil {
		return None
	}
	return *p
}

// sameText compares our detokenization with llama.cpp's as seen through
// JavaScript, which replaces malformed UTF-8 with U+FFFD: text that is not
// valid UTF-8 can only be checked for that replacement.
func sameText(got, want string) bool {
	if utf8.ValidString(got) {
		return got == want
	}
	return strings.ContainsRune(want, utf8.RuneError)
}

// TestGoldenEncode checks Encode (add_special=false, parse_special both
// ways) and Decode against llama.cpp on every golden prompt.
func TestGoldenEncode(t *testing.T) {
	for _, model := range goldenModels {
		t.Run(model, func(t *testing.T) {
			checkCases(t, load(t, model), readGolden(t, model))
		})
	}
}

// TestGoldenVariants runs the golden prompts on vocabularies with some
// metadata replaced (another pre-tokenizer, no space prefix), built here the
// way testdata/gen/variant built them for llama.cpp.
func TestGoldenVariants(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "golden", "*@*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no variant goldens: %v", err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var base struct {
				Model string `json:"model"`
			}
			if err := json.Unmarshal(data, &base); err != nil {
				t.Fatal(err)
			}
			g := readGoldenFile(t, name, base.Model)
			tk := variant(t, g.Model, g.Set)
			checkCases(t, tk, g)
			checkSpecialIDs(t, tk, g)
		})
	}
}

// variant builds the tokenizer of a shared model with metadata replaced.
func variant(t testing.TB, model string, set map[string]any) *Tokenizer {
	t.Helper()
	f, err := gguf.Open(testmodels.Path(t, model))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	w.CopyKV(f.Header)
	for k, v := range set {
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
	tk, err := FromGGUF(h)
	if err != nil {
		t.Fatalf("variant %v of %s: %v", set, model, err)
	}
	return tk
}

func checkCases(t *testing.T, tk *Tokenizer, g *golden) {
	t.Helper()
	aborts := 0
	for i, c := range g.Cases {
		got := tk.Encode(c.Text, false, c.Special)
		if c.Aborts {
			aborts++
			checkAbortCase(t, tk, c, got)
			continue
		}
		if !slices.Equal(got, c.IDs) {
			t.Errorf("case %d %q special=%v:\n got %v\nwant %v", i, c.Text, c.Special, got, c.IDs)
		}
		if d := tk.Decode(c.IDs); !sameText(d, c.Decoded) {
			t.Errorf("case %d: Decode = %q, want %q", i, d, c.Decoded)
		}
		if d := tk.DecodeSpecial(c.IDs); !sameText(d, c.DecodedSpecial) {
			t.Errorf("case %d: DecodeSpecial = %q, want %q", i, d, c.DecodedSpecial)
		}
	}
	t.Logf("%d cases, %d on which llama.cpp aborts", len(g.Cases), aborts)
}

// checkSpecialIDs compares BOS, EOS, EOT, NL and the end-of-generation set.
func checkSpecialIDs(t *testing.T, tk *Tokenizer, g *golden) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want int32
	}{
		{"BOS", tk.BOS(), orNone(g.BOS)}, {"EOS", tk.EOS(), orNone(g.EOS)},
		{"EOT", tk.EOT(), orNone(g.EOT)}, {"NL", tk.NL(), orNone(g.NL)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if got := tk.EOG(); !slices.Equal(got, g.EOG) {
		t.Errorf("EOG = %v, want %v", got, g.EOG)
	}
}

// checkAbortCase: llama.cpp aborts when a SentencePiece vocabulary has no
// token for a byte; we emit the unknown token there instead. Such output
// holds unk, and dropping unk leaves only real tokens.
func checkAbortCase(t *testing.T, tk *Tokenizer, c goldenCase, got []int32) {
	t.Helper()
	if tk.unk == None || !slices.Contains(got, tk.unk) {
		t.Errorf("%q: llama.cpp aborts, want the unknown token %d in %v", c.Text, tk.unk, got)
	}
	for _, id := range got {
		if !tk.valid(id) {
			t.Errorf("%q: id %d outside the vocabulary", c.Text, id)
		}
	}
}

// TestGoldenVocab checks the special ids, the end-of-generation set, the
// attributes of every token and single-token detokenization.
func TestGoldenVocab(t *testing.T) {
	for _, model := range goldenModels {
		t.Run(model, func(t *testing.T) {
			g := readGolden(t, model)
			tk := load(t, model)
			if tk.VocabSize() != g.VocabSize {
				t.Fatalf("VocabSize = %d, want %d", tk.VocabSize(), g.VocabSize)
			}
			checkSpecialIDs(t, tk, g)
			for id := range tk.VocabSize() {
				want := uint16(attrNormal)
				if a, ok := g.Attrs[strconv.Itoa(id)]; ok {
					want = a
				}
				if got := uint16(tk.attrs[id]); got != want {
					t.Errorf("token %d %q: attributes %#x, want %#x", id, tk.Token(int32(id)), got, want)
				}
			}
			for _, s := range g.Single {
				ids := []int32{s.ID}
				if d := tk.Decode(ids); !sameText(d, s.Text) {
					t.Errorf("Decode([%d]) = %q, want %q", s.ID, d, s.Text)
				}
				if d := tk.DecodeSpecial(ids); !sameText(d, s.Special) {
					t.Errorf("DecodeSpecial([%d]) = %q, want %q", s.ID, d, s.Special)
				}
			}
		})
	}
}
