package tokenizer

import (
	"fmt"
	"unicode"
)

// preType is a byte-level BPE pre-tokenizer: how text is cut into words
// before merging. Each is a hand-written equivalent of the regular
// expressions llama.cpp uses (Go's regexp has no lookahead), following
// src/unicode.cpp's custom splitters.
type preType int

const (
	preDefault   preType = iota // llama.cpp's fallback for vocabularies without a known pre-tokenizer
	preGPT2                     // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
	preStarCoder                // \p{N} (single digits), then GPT-2
	preLlama3                   // (?i:'s|…)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
	preQwen2                    // Llama 3's with single digits: \p{N}
	preTekken                   // Mistral's: words split at lower→upper case changes, single digits
)

// preConfig is what a pre-tokenizer name selects.
type preConfig struct {
	pre          preType
	cleanSpaces  bool // tidy spaces before punctuation in Decode
	ignoreMerges bool // a word that is a whole token skips merging
	addBOS       bool
	noBOS        bool
}

// preConfigs maps tokenizer.ggml.pre to llama.cpp's settings for it.
var preConfigs = func() map[string]preConfig {
	m := map[string]preConfig{
		"":        {pre: preDefault, cleanSpaces: true},
		"default": {pre: preDefault, cleanSpaces: true},
		"tekken":  {pre: preTekken, ignoreMerges: true, addBOS: true},
	}
	set := func(c preConfig, names ...string) {
		for _, n := range names {
			m[n] = c
		}
	}
	set(preConfig{pre: preLlama3, cleanSpaces: true, ignoreMerges: true, addBOS: true},
		"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano")
	set(preConfig{pre: preLlama3, cleanSpaces: true}, "dbrx", "smaug-bpe")
	set(preConfig{pre: preLlama3, cleanSpaces: true, noBOS: true}, "glm4", "chatglm-bpe")
	set(preConfig{pre: preGPT2, cleanSpaces: true},
		"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
		"mellum", "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais")
	set(preConfig{pre: preGPT2}, "trillion", "granite-docling")
	set(preConfig{pre: preStarCoder, cleanSpaces: true},
		"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2")
	set(preConfig{pre: preStarCoder}, "command-r", "smollm")
	set(preConfig{pre: preQwen2},
		"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2")
	set(preConfig{pre: preQwen2, cleanSpaces: true}, "stablelm2", "megrez")
	return m
}()

// setPre applies the settings of the named pre-tokenizer.
func (t *Tokenizer) setPre(name string) error {
	c, ok := preConfigs[name]
	if !ok {
		return fmt.Errorf("%w: pre-tokenizer %q", ErrUnsupported, name)
	}
	t.pre, t.cleanSpaces, t.ignoreMerges = c.pre, c.cleanSpaces, c.ignoreMerges
	if c.addBOS {
		t.addBOS = true
	}
	if c.noBOS {
		t.bos = None
	}
	return nil
}

// pretokenize cuts text into words and maps their bytes to GPT-2's byte
// alphabet. It returns the words concatenated and the end offset of each.
// Malformed UTF-8 becomes U+FFFD first, as in llama.cpp.
func (t *Tokenizer) pretokenize(text string) (string, []int) {
	cpts := decodeCodepoints(make([]rune, 0, len(text)), text)
	lens := []int{len(cpts)}
	switch t.pre {
	case preDefault:
		lens = splitRuns(cpts, lens, isDefaultPunct)
		lens = splitGPT2(cpts, lens)
		lens = splitRuns(cpts, lens, func(r rune) bool { return flagsOf(r).has(flagNumber) })
		lens = splitDigitTriples(cpts, lens)
	case preGPT2:
		lens = splitGPT2(cpts, lens)
	case preStarCoder:
		lens = splitEach(cpts, lens, func(r rune) bool { return flagsOf(r).has(flagNumber) })
		lens = splitGPT2(cpts, lens)
	case preLlama3:
		lens = splitLlama3(cpts, lens, 3)
	case preQwen2:
		lens = splitLlama3(cpts, lens, 1)
	case preTekken:
		lens = splitTekken(cpts, lens)
	}
	buf := make([]byte, 0, 2*len(text))
	ends := make([]int, 0, len(lens))
	var utf []byte
	pos := 0
	for _, n := range lens {
		utf = utf[:0]
		for _, r := range cpts[pos : pos+n] {
			utf = appendCodepoint(utf, r)
		}
		for _, b := range utf {
			buf = append(buf, byteToUnicode[b]...)
		}
		ends = append(ends, len(buf))
		pos += n
	}
	return string(buf), ends
}

// isDefaultPunct is the class [\p{P}\$\+<=>\^~\|] of the default
// pre-tokenizer.
func isDefaultPunct(r rune) bool {
	switch r {
	case '$', '+', '<', '=', '>', '^', '~', '|':
		return true
	}
	f := flagsOf(r)
	return f&categoryMask == flagPunctuation && !f.has(flagWhitespace)
}

// segment gives bounds-checked access to the code points of one span being
// split: outside [ini,end) a code point is -1 and has no flags.
type segment struct {
	cpts     []rune
	ini, end int
}

func (s segment) cpt(i int) rune {
	if i < s.ini || i >= s.end {
		return -1
	}
	return s.cpts[i]
}

func (s segment) flags(i int) cptFlags {
	if i < s.ini || i >= s.end {
		return 0
	}
	return flagsOf(s.cpts[i])
}

// lower is unicode_tolower, with -1 (out of range) kept.
func lower(r rune) rune {
	if r < 0 {
		return r
	}
	return unicode.ToLower(r)
}

// splitter walks one segment and collects the lengths of the pieces it
// cuts, like the _add_token helper of llama.cpp's splitters.
type splitter struct {
	out  []int
	prev int
}

// cut ends the current piece at end and returns its length.
func (c *splitter) cut(end int) int {
	n := end - c.prev
	if n > 0 {
		c.out = append(c.out, n)
	}
	c.prev = end
	return n
}

// forEachSegment runs split on every span of lens and returns the new lengths.
func forEachSegment(cpts []rune, lens []int, split func(s segment, c *splitter)) []int {
	c := &splitter{out: make([]int, 0, len(lens)*2)}
	start := 0
	for _, n := range lens {
		s := segment{cpts: cpts, ini: start, end: start + n}
		c.prev = start
		split(s, c)
		start += n
	}
	return c.out
}

// splitRuns cuts out maximal runs of code points matching in: the effect
// of splitting with a regular expression [class]+.
func splitRuns(cpts []rune, lens []int, in func(rune) bool) []int {
	return forEachSegment(cpts, lens, func(s segment, c *splitter) {
		for pos := s.ini; pos < s.end; {
			if !in(cpts[pos]) {
				pos++
				continue
			}
			c.cut(pos)
			for pos < s.end && in(cpts[pos]) {
				pos++
			}
			c.cut(pos)
		}
		c.cut(s.end)
	})
}

// splitEach cuts out every code point matching in on its own.
func splitEach(cpts []rune, lens []int, in func(rune) bool) []int {
	return forEachSegment(cpts, lens, func(s segment, c *splitter) {
		for pos := s.ini; pos < s.end; pos++ {
			if in(cpts[pos]) {
				c.cut(pos)
				c.cut(pos + 1)
			}
		}
		c.cut(s.end)
	})
}

// splitDigitTriples cuts out each [0-9][0-9][0-9], scanning left to right.
func splitDigitTriples(cpts []rune, lens []int) []int {
	digit := func(r rune) bool { return r >= '0' && r <= '9' }
	return forEachSegment(cpts, lens, func(s segment, c *splitter) {
		for pos := s.ini; pos < s.end; {
			if pos+2 < s.end && digit(cpts[pos]) && digit(cpts[pos+1]) && digit(cpts[pos+2]) {
				c.cut(pos)
				pos += 3
				c.cut(pos)
				continue
			}
			pos++
		}
		c.cut(s.end)
	})
}
