package tokenizer

import (
	"sync"
	"unicode"
)

// This file holds the code point helpers the tokenizers share. They follow
// llama.cpp's src/unicode.cpp rather than Go's unicode/utf8, because the two
// disagree on malformed input and the token ids must match llama.cpp's.

// runeError is U+FFFD, which llama.cpp substitutes for each undecodable byte.
const runeError = 0xFFFD

// maxCodepoint is one past the largest Unicode code point.
const maxCodepoint = 0x110000

// utf8SeqLen is the length a UTF-8 lead byte announces, without validation
// (llama.cpp's unicode_len_utf8): 1 for ASCII and stray continuation bytes,
// 2, 3 or 4 for lead bytes, 4 for 0xF8..0xFF.
func utf8SeqLen(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

// decodeCodepoints appends the code points of s to dst the way llama.cpp's
// unicode_cpts_from_utf8 does: continuation bytes are checked only for their
// 10xxxxxx prefix (so overlong forms and surrogates decode), and each byte
// that starts no valid sequence becomes U+FFFD.
func decodeCodepoints(dst []rune, s string) []rune {
	for i := 0; i < len(s); {
		r, n := decodeCodepoint(s, i)
		dst = append(dst, r)
		i += n
	}
	return dst
}

// decodeCodepoint decodes the code point at s[i] (see decodeCodepoints) and
// returns it with the number of bytes it used.
func decodeCodepoint(s string, i int) (rune, int) {
	c := s[i]
	cont := func(k int) bool { return i+k < len(s) && s[i+k]&0xC0 == 0x80 }
	switch {
	case c < 0x80:
		return rune(c), 1
	case c&0x40 == 0:
		return runeError, 1
	case c&0x20 == 0:
		if !cont(1) {
			return runeError, 1
		}
		return rune(c&0x1F)<<6 | rune(s[i+1]&0x3F), 2
	case c&0x10 == 0:
		if !cont(1) || !cont(2) {
			return runeError, 1
		}
		return rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
	case c&0x08 == 0:
		if !cont(1) || !cont(2) || !cont(3) {
			return runeError, 1
		}
		return rune(c&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F), 4
	}
	return runeError, 1
}

// appendCodepoint appends the UTF-8 form of r like llama.cpp's
// unicode_cpt_to_utf8, which also encodes surrogates. llama.cpp aborts on
// values above U+10FFFF (only reachable from malformed 4-byte input); they
// become U+FFFD here.
func appendCodepoint(dst []byte, r rune) []byte {
	switch {
	case r < 0:
		r = runeError
	case r <= 0x7F:
		return append(dst, byte(r))
	case r <= 0x7FF:
		return append(dst, 0xC0|byte(r>>6), 0x80|byte(r&0x3F))
	case r >= maxCodepoint:
		r = runeError
	}
	if r <= 0xFFFF {
		return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	}
	return append(dst, 0xF0|byte(r>>18), 0x80|byte(r>>12&0x3F), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
}

// cptFlags are llama.cpp's per-code-point flags (unicode_cpt_flags): one
// general category bit plus the White_Space property. A code point outside
// the text being split has no flags at all (zero), which the splitters use
// as their end-of-range marker.
type cptFlags uint16

const (
	flagUndefined   cptFlags = 1 << iota // Cn: unassigned
	flagNumber                           // \p{N}
	flagLetter                           // \p{L}
	flagSeparator                        // \p{Z}
	flagAccentMark                       // \p{M}
	flagPunctuation                      // \p{P}
	flagSymbol                           // \p{S}
	flagControl                          // \p{C} except Cn
	flagWhitespace                       // \s (Unicode White_Space)

	categoryMask = flagUndefined | flagNumber | flagLetter | flagSeparator |
		flagAccentMark | flagPunctuation | flagSymbol | flagControl
)

func (f cptFlags) has(g cptFlags) bool { return f&g != 0 }

var (
	bmpFlagsOnce sync.Once
	bmpFlags     []cptFlags // flags of U+0000..U+FFFF, built on first use
)

// flagsOf returns the flags of code point r; r beyond U+10FFFF is undefined.
func flagsOf(r rune) cptFlags {
	if r >= 0 && r < 0x10000 {
		bmpFlagsOnce.Do(buildBMPFlags)
		return bmpFlags[r]
	}
	return computeFlags(r)
}

func buildBMPFlags() {
	t := make([]cptFlags, 0x10000)
	for r := range t {
		t[r] = computeFlags(rune(r))
	}
	bmpFlags = t
}

func computeFlags(r rune) cptFlags {
	if r < 0 || r >= maxCodepoint {
		return flagUndefined
	}
	var f cptFlags
	switch {
	case unicode.IsLetter(r):
		f = flagLetter
	case unicode.IsNumber(r):
		f = flagNumber
	case unicode.IsMark(r):
		f = flagAccentMark
	case unicode.IsPunct(r):
		f = flagPunctuation
	case unicode.IsSymbol(r):
		f = flagSymbol
	case unicode.In(r, unicode.Z):
		f = flagSeparator
	case unicode.In(r, unicode.C):
		f = flagControl
	default:
		f = flagUndefined
	}
	if unicode.Is(unicode.White_Space, r) {
		f |= flagWhitespace
	}
	return f
}

// GPT-2's byte-level alphabet: every byte maps to a printable code point so
// that byte strings can be stored as text. Printable Latin-1 bytes map to
// themselves, the rest to U+0100 onwards in byte order.
var (
	byteToRune    [256]rune
	byteToUnicode [256]string // UTF-8 of byteToRune
	runeToByte    map[rune]byte
)

func init() {
	printable := func(b int) bool {
		return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	runeToByte = make(map[rune]byte, 256)
	n := rune(0)
	for b := range 256 {
		r := rune(b)
		if !printable(b) {
			r = 256 + n
			n++
		}
		byteToRune[b] = r
		byteToUnicode[b] = string(r)
		runeToByte[r] = byte(b)
	}
}
