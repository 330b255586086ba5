package tokenizer

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

var (
	loadedMu sync.Mutex
	loaded   = map[string]*Tokenizer{}
)

// load returns the tokenizer of a shared model, built once per test binary.
func load(t testing.TB, name string) *Tokenizer {
	t.Helper()
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if tk, ok := loaded[name]; ok {
		return tk
	}
	f, err := gguf.Open(testmodels.Path(t, name))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	tk, err := FromGGUF(f.Header)
	if err != nil {
		t.Fatalf("tokenizer of %s: %v", name, err)
	}
	loaded[name] = tk
	return tk
}

// vocabCase is one test string of llama.cpp's tokenizer vectors.
type vocabCase struct {
	text string
	ids  []int32
}

// readVocabCases reads X.gguf.inp and X.gguf.out the way llama.cpp's
// tests/test-tokenizer-0.cpp does: inputs are separated by
// "\n__ggml_vocab_test__\n", outputs are one whitespace-trimmed line each.
func readVocabCases(t *testing.T, name string) []vocabCase {
	t.Helper()
	path := testmodels.Path(t, name)
	inp, err := os.ReadFile(path + ".inp")
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(path + ".out")
	if err != nil {
		t.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	var texts []string
	for raw := string(inp); raw != ""; {
		i := strings.Index(raw, sep)
		if i < 0 {
			texts = append(texts, raw)
			break
		}
		texts = append(texts, raw[:i])
		raw = raw[i+len(sep):]
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d inputs but %d outputs", name, len(texts), len(lines))
	}
	cases := make([]vocabCase, len(texts))
	for i, line := range lines {
		cases[i].text = texts[i]
		for _, f := range strings.Fields(line) {
			id, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				t.Fatalf("%s line %d: %v", name, i+1, err)
			}
			cases[i].ids = append(cases[i].ids, int32(id))
		}
	}
	return cases
}

// TestVocabVectors reproduces llama.cpp's test-tokenizer-0 on its vocab files:
// add_special=false, parse_special=false, every id must match.
func TestVocabVectors(t *testing.T) {
	for _, name := range []string{testmodels.VocabLlamaSPM, testmodels.VocabPhi3, testmodels.VocabGPT2} {
		t.Run(name, func(t *testing.T) {
			tk := load(t, name)
			cases := readVocabCases(t, name)
			if len(cases) != 46 {
				t.Fatalf("%d cases, want 46", len(cases))
			}
			for i, c := range cases {
				got := tk.Encode(c.text, false, false)
				if !slices.Equal(got, c.ids) {
					t.Errorf("case %d %q:\n got %v\nwant %v", i, c.text, got, c.ids)
				}
			}
		})
	}
}
