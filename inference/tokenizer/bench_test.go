package tokenizer

import (
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

// benchText is about 4 KB of mixed prose, code, numbers and non-Latin text,
// the size of a long chat prompt.
func benchText() string {
	parts := []string{
		"Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ",
		"One day, she saw a big, red ball under a tree. \"Can I play with it?\" she asked her mom.\n\n",
		"func main() {\n\tfmt.Println(\"hello, world\", 42, 3.14159)\n}\n",
		"Prices rose 12.5% in 2024; 1,000,000 units shipped. ",
		"Привет, мир! 日本語のテキスト。 naïve café. 🚀✨\n",
	}
	var sb strings.Builder
	for i := 0; sb.Len() < 4096; i++ {
		sb.WriteString(parts[i%len(parts)])
	}
	return sb.String()
}

func BenchmarkEncode(b *testing.B) {
	text := benchText()
	cases := []struct {
		name string
		tk   *Tokenizer
	}{
		{"stories260K", load(b, testmodels.Stories260K)},
		{"llama-spm", load(b, testmodels.VocabLlamaSPM)},
		{"gpt-2", load(b, testmodels.VocabGPT2)},
		{"gpt-2@llama-bpe", variant(b, testmodels.VocabGPT2, map[string]any{"tokenizer.ggml.pre": "llama-bpe"})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = len(c.tk.Encode(text, true, true))
			}
			b.ReportMetric(float64(n), "tokens")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	text := benchText()
	tk := load(b, testmodels.VocabLlamaSPM)
	ids := tk.Encode(text, true, false)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.Decode(ids)
	}
}
