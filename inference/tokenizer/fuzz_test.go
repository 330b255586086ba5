package tokenizer

import (
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

var (
	fuzzOnce sync.Once
	fuzzTks  map[string]*Tokenizer
)

func fuzzTokenizers(t testing.TB) map[string]*Tokenizer {
	fuzzOnce.Do(func() { fuzzTks = roundTripTokenizers(t) })
	return fuzzTks
}

func addFuzzSeeds(f *testing.F, add func(string)) {
	for _, s := range goldenTexts(f) {
		add(s)
	}
	for _, s := range []string{"\xff\xfe\xfd", "\xe2\x96", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x00b", "<s><s></s>"} {
		add(s)
	}
}

// FuzzEncode: Encode accepts any input, returns only vocabulary ids,
// round-trips where llama.cpp guarantees it (see roundTrip), and its tokens
// stream as valid UTF-8.
func FuzzEncode(f *testing.F) {
	addFuzzSeeds(f, func(s string) { f.Add(s, false); f.Add(s, true) })
	tks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, s string, special bool) {
		for name, tk := range tks {
			ids := tk.Encode(s, true, special)
			for _, id := range ids {
				if !tk.valid(id) {
					t.Fatalf("%s: Encode(%q) gave id %d", name, s, id)
				}
			}
			streamAll(t, tk, ids)
			if special {
				continue
			}
			if want, ok := roundTrip(tk, s); ok {
				if got := tk.Decode(tk.Encode(s, false, false)); got != want {
					t.Fatalf("%s: Decode(Encode(%q)) = %q, want %q", name, s, got, want)
				}
			}
		}
	})
}

// FuzzDecode: any id sequence, valid or not, decodes without panic and
// streams as valid UTF-8.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{1, 0, 0x93, 1, 0x97, 1})
	f.Add([]byte{0xff, 0xff, 0x00, 0x80, 0x10, 0x27})
	tks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, tk := range tks {
			n := tk.VocabSize()
			ids := make([]int32, 0, len(data)/2)
			for i := 0; i+1 < len(data); i += 2 {
				// Mostly valid ids, with a margin of invalid ones on both sides.
				v := int(binary.LittleEndian.Uint16(data[i:])) % (n + 16)
				ids = append(ids, int32(v-8))
			}
			if d := tk.Decode(ids); tk.typ == vocabSPM && !utf8.ValidString(d) && !containsByteToken(tk, ids) {
				t.Fatalf("%s: Decode(%v) = %q: invalid UTF-8 without byte tokens", name, ids, d)
			}
			tk.DecodeSpecial(ids)
			streamAll(t, tk, ids)
		}
	})
}

// FuzzVocab builds a vocabulary from fuzz input and checks that FromGGUF
// either rejects it with a documented error or yields a tokenizer that
// encodes and decodes anything without panicking.
func FuzzVocab(f *testing.F) {
	f.Add(byte(0), "<unk>\x00<s>\x00</s>\x00▁a\x00a\x00<0x41>\x00▁", []byte{2, 3, 3, 1, 1, 6, 1}, "a a A b")
	f.Add(byte(1), "a\x00b\x00ab\x00Ġ\x00Ġa\x00<|im_end|>", []byte{1, 1, 1, 1, 1, 3}, "ab a<|im_end|>\xff")
	f.Add(byte(3), "x\x00\x00y\x00 \x00x y", []byte{4, 5, 0, 7, 1}, "xy x y  ")
	f.Fuzz(func(t *testing.T, kind byte, vocab string, types []byte, text string) {
		tokens := strings.Split(vocab, "\x00")
		if len(tokens) > 64 {
			tokens = tokens[:64]
		}
		tt := make([]int32, len(tokens))
		scores := make([]float32, len(tokens))
		for i := range tt {
			if i < len(types) {
				tt[i] = int32(types[i] % 8)
				scores[i] = -float32(types[i])
			}
		}
		kv := map[string]any{
			"tokenizer.ggml.tokens":     tokens,
			"tokenizer.ggml.token_type": tt,
			"tokenizer.ggml.scores":     scores,
		}
		switch kind % 4 {
		case 0, 2:
			kv["tokenizer.ggml.model"] = "llama"
			kv["tokenizer.ggml.add_space_prefix"] = kind%4 == 0
		default:
			kv["tokenizer.ggml.model"] = "gpt2"
			kv["tokenizer.ggml.pre"] = []string{"gpt-2", "llama-bpe", "qwen2", "default", "tekken", "smollm"}[int(kind/4)%6]
			var merges []string
			for i := 0; i+1 < len(tokens); i++ {
				merges = append(merges, tokens[i]+" "+tokens[i+1])
			}
			kv["tokenizer.ggml.merges"] = merges
		}
		tk, err := FromGGUF(synth(t, kv))
		if err != nil {
			if !errors.Is(err, ErrMetadata) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("FromGGUF: undocumented error %v", err)
			}
			return
		}
		for _, special := range []bool{false, true} {
			ids := tk.Encode(text, true, special)
			for _, id := range ids {
				if !tk.valid(id) {
					t.Fatalf("Encode(%q) gave id %d of %d", text, id, tk.VocabSize())
				}
			}
			tk.Decode(ids)
			tk.DecodeSpecial(ids)
			streamAll(t, tk, ids)
		}
	})
}

// containsByteToken reports whether ids hold a byte token, whose piece may
// be part of a UTF-8 sequence.
func containsByteToken(tk *Tokenizer, ids []int32) bool {
	for _, id := range ids {
		if tk.valid(id) && tk.attrs[id]&attrByte != 0 {
			return true
		}
	}
	return false
}
