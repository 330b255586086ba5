package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

// roundTrip returns what Decode(Encode(s, false, false)) gives back for
// valid UTF-8 s by llama.cpp's design, and whether that is guaranteed:
//   - SentencePiece with byte fallback gives s back, except that a literal
//     ▁ (its space marker) comes back as a space. Vocabularies lacking byte
//     tokens (TinyStories-656K) lose characters they cannot spell, and text
//     after a user-defined token gains a space: no guarantee there.
//   - Byte-level BPE gives s back, except that with gpt2-style clean-up
//     " ?", " 's" etc. lose their space (cleanSpaces).
//
// Malformed UTF-8 has no guarantee: BPE turns it into U+FFFD, and
// SentencePiece, which cuts text at the lengths lead bytes announce, can
// swallow the ▁ of a following space into a byte sequence.
func roundTrip(tk *Tokenizer, s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	if tk.typ == vocabSPM {
		for b := range 256 {
			if tk.byteToken[b] == None {
				return "", false
			}
		}
		for _, id := range tk.specials {
			if tk.attrs[id]&(attrControl|attrUnknown) == 0 && strings.Contains(s, tk.tokens[id]) {
				return "", false
			}
		}
		return strings.ReplaceAll(s, "▁", " "), true
	}
	if tk.cleanSpaces {
		return string(cleanSpaces([]byte(s))), true
	}
	return s, true
}

// roundTripTokenizers are the tokenizers the round-trip and stream tests use.
func roundTripTokenizers(t testing.TB) map[string]*Tokenizer {
	m := map[string]*Tokenizer{}
	for _, name := range goldenModels {
		m[name] = load(t, name)
	}
	for _, pre := range []string{"qwen2", "tekken", "llama-bpe", "default"} {
		m["gpt-2@"+pre] = variant(t, testmodels.VocabGPT2, map[string]any{"tokenizer.ggml.pre": pre})
	}
	m["llama-spm@no-space-prefix"] = variant(t, testmodels.VocabLlamaSPM, map[string]any{"tokenizer.ggml.add_space_prefix": false})
	return m
}

// goldenTexts are all prompts of the goldens.
func goldenTexts(t testing.TB) []string {
	seen := map[string]bool{}
	var texts []string
	for _, model := range goldenModels {
		for _, c := range readGolden(t, model).Cases {
			if !seen[c.Text] {
				seen[c.Text] = true
				texts = append(texts, c.Text)
			}
		}
	}
	return texts
}

func TestRoundTrip(t *testing.T) {
	texts := append(goldenTexts(t), "▁▁▁", "  two leading", "trailing  ")
	for name, tk := range roundTripTokenizers(t) {
		t.Run(name, func(t *testing.T) {
			checked := 0
			for _, s := range texts {
				want, ok := roundTrip(tk, s)
				if !ok {
					continue
				}
				checked++
				if got := tk.Decode(tk.Encode(s, false, false)); got != want {
					t.Errorf("Decode(Encode(%q)) = %q, want %q", s, got, want)
				}
			}
			if name != testmodels.TinyStoriesQ8 && checked < len(texts) {
				t.Errorf("only %d of %d texts round-trip", checked, len(texts))
			}
		})
	}
}

// streamAll feeds ids through a StreamDecoder and checks that every chunk
// is valid UTF-8; it returns the whole text.
func streamAll(t testing.TB, tk *Tokenizer, ids []int32) string {
	d := NewStreamDecoder(tk)
	var sb strings.Builder
	for _, id := range ids {
		chunk := d.Token(id)
		if !utf8.ValidString(chunk) {
			t.Fatalf("chunk %q is not valid UTF-8", chunk)
		}
		if d.Pending() > 3 {
			t.Fatalf("%d bytes held back", d.Pending())
		}
		sb.WriteString(chunk)
	}
	sb.WriteString(d.Flush())
	return sb.String()
}

func TestStreamTokens(t *testing.T) {
	texts := goldenTexts(t)
	for name, tk := range roundTripTokenizers(t) {
		t.Run(name, func(t *testing.T) {
			for _, s := range texts {
				ids := tk.Encode(s, true, true)
				var pieces []byte
				for _, id := range ids {
					pieces = append(pieces, tk.Piece(id)...)
				}
				got := streamAll(t, tk, ids)
				if utf8.Valid(pieces) && got != string(pieces) {
					t.Errorf("%q: streamed %q, pieces %q", s, got, pieces)
				}
			}
		})
	}
}

func TestStreamBytes(t *testing.T) {
	cases := []struct {
		name   string
		writes []string
		want   []string // chunk returned by each write, then by Flush
	}{
		{"ascii", []string{"ab", "c"}, []string{"ab", "c", ""}},
		{"split three-byte char", []string{"x\xe2", "\x96", "\x81y"}, []string{"x", "", "▁y", ""}},
		{"split emoji", []string{"\xf0\x9f", "\xa6", "\x99!"}, []string{"", "", "🦙!", ""}},
		{"stray continuation byte", []string{"a\x80b"}, []string{"a\ufffdb", ""}},
		{"invalid lead byte", []string{"\xff"}, []string{"\ufffd", ""}},
		{"broken sequence", []string{"\xe2\x96", "z"}, []string{"", "\ufffd\ufffdz", ""}},
		{"surrogate is invalid", []string{"\xed\xa0\x80"}, []string{"\ufffd\ufffd\ufffd", ""}},
		{"unfinished at the end", []string{"ok\xe2\x96"}, []string{"ok", "\ufffd"}},
		{"nothing", []string{""}, []string{"", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewStreamDecoder(nil)
			for i, w := range c.writes {
				if got := d.Write([]byte(w)); got != c.want[i] {
					t.Errorf("Write(%q) = %q, want %q", w, got, c.want[i])
				}
			}
			if got := d.Flush(); got != c.want[len(c.want)-1] {
				t.Errorf("Flush() = %q, want %q", got, c.want[len(c.want)-1])
			}
			if d.Pending() != 0 {
				t.Errorf("%d bytes pending after Flush", d.Pending())
			}
		})
	}
}
