package tokenizer

// The word splitters below are hand-written equivalents of pre-tokenizer
// regular expressions, step for step like llama.cpp's
// unicode_regex_split_custom_gpt2 / _llama3, so that they cut exactly where
// llama.cpp does (including its handling of a lone trailing space).

const wordChars = flagWhitespace | flagLetter | flagNumber

// isContraction reports the length (2 or 3) of 's 't 're 've 'm 'll 'd at
// pos, or 0. fold lower-cases the letters first (Llama 3's (?i:…)).
func isContraction(s segment, pos int, fold bool) int {
	if s.cpt(pos) != '\'' || pos+1 >= s.end {
		return 0
	}
	c := func(i int) rune {
		if fold {
			return lower(s.cpt(i))
		}
		return s.cpt(i)
	}
	switch c(pos + 1) {
	case 's', 't', 'm', 'd':
		return 2
	}
	if pos+2 < s.end {
		a, b := c(pos+1), c(pos+2)
		if (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') {
			return 3
		}
	}
	return 0
}

// splitGPT2 applies 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+.
func splitGPT2(cpts []rune, lens []int) []int {
	return forEachSegment(cpts, lens, func(s segment, c *splitter) {
		for pos := s.ini; pos < s.end; {
			if n := isContraction(s, pos, false); n > 0 {
				pos += c.cut(pos + n)
				continue
			}
			cpt, f := s.cpt(pos), s.flags(pos)
			f2 := f
			if cpt == ' ' {
				f2 = s.flags(pos + 1)
			}
			if class := gpt2Class(f2); class != 0 {
				if cpt == ' ' {
					pos++
				}
				for gpt2Class(f2) == class {
					pos++
					f2 = s.flags(pos)
				}
				c.cut(pos)
				continue
			}
			pos = cutWhitespace(s, c, pos)
		}
	})
}

// gpt2Class is which of ?\p{L}+, ?\p{N}+ and ?[^\s\p{L}\p{N}]+ a code point
// with flags f continues: flagLetter, flagNumber, flagSymbol (for "other"),
// or 0 for whitespace and out of range.
func gpt2Class(f cptFlags) cptFlags {
	switch {
	case f.has(flagLetter):
		return flagLetter
	case f.has(flagNumber):
		return flagNumber
	case f != 0 && !f.has(flagWhitespace):
		return flagSymbol
	}
	return 0
}

// cutWhitespace handles \s+(?!\S)|\s+ at pos (and a lone other code point
// when nothing matched) and returns the new position.
func cutWhitespace(s segment, c *splitter, pos int) int {
	n := 0
	for s.flags(pos + n).has(flagWhitespace) {
		n++
	}
	switch {
	case n > 1 && s.cpt(pos+n) != -1:
		pos += n - 1 // \s+(?!\S): leave the last space to the next word
	case n > 0:
		pos += n
	default:
		pos++
	}
	c.cut(pos)
	return pos
}

// splitLlama3 applies Llama 3's expression with \p{N}{1,digits}:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitLlama3(cpts []rune, lens []int, digits int) []int {
	return forEachSegment(cpts, lens, func(s segment, c *splitter) {
		for pos := s.ini; pos < s.end; {
			if n := isContraction(s, pos, true); n > 0 {
				pos += c.cut(pos + n)
				continue
			}
			cpt, f := s.cpt(pos), s.flags(pos)
			isNL := cpt == '\r' || cpt == '\n'
			if !isNL && !f.has(flagNumber) && (f.has(flagLetter) || s.flags(pos+1).has(flagLetter)) {
				pos++
				for s.flags(pos).has(flagLetter) {
					pos++
				}
				c.cut(pos)
				continue
			}
			if f.has(flagNumber) {
				for ini := pos; s.flags(pos).has(flagNumber); {
					if pos++; pos-ini >= digits {
						c.cut(pos)
						ini = pos
					}
				}
				c.cut(pos)
				continue
			}
			if p, ok := cutPunct(s, c, pos, cpt, f, false); ok {
				pos = p
				continue
			}
			pos = cutNewlineOrSpace(s, c, pos)
		}
	})
}

// cutPunct handles ?[^\s\p{L}\p{N}]+[\r\n]* at pos (with / allowed among
// the trailing newlines when slash is set). As in llama.cpp, a space at the
// very end of the range also takes this path (as a one-space piece).
func cutPunct(s segment, c *splitter, pos int, cpt rune, f cptFlags, slash bool) (int, bool) {
	f2 := f
	if cpt == ' ' {
		f2 = s.flags(pos + 1)
	}
	if f2.has(wordChars) || f == 0 {
		return pos, false
	}
	if cpt == ' ' {
		pos++
	}
	for !f2.has(wordChars) && f2 != 0 {
		pos++
		f2 = s.flags(pos)
	}
	for r := s.cpt(pos); r == '\r' || r == '\n' || (slash && r == '/'); r = s.cpt(pos) {
		pos++
	}
	c.cut(pos)
	return pos, true
}

// cutNewlineOrSpace handles \s*[\r\n]+|\s+(?!\S)|\s+ at pos (and a lone
// other code point when nothing matched) and returns the new position.
func cutNewlineOrSpace(s segment, c *splitter, pos int) int {
	n, lastNL := 0, -1
	for s.flags(pos + n).has(flagWhitespace) {
		if r := s.cpt(pos + n); r == '\r' || r == '\n' {
			lastNL = pos + n + 1
		}
		n++
	}
	if lastNL >= 0 {
		c.cut(lastNL)
		return lastNL
	}
	return cutWhitespace(s, c, pos)
}

// splitTekken applies Mistral's Tekken expression:
// [^\r\n\p{L}\p{N}]?\p{Lu…}*\p{Ll…}+|[^\r\n\p{L}\p{N}]?\p{Lu…}+\p{Ll…}*|\p{N}|
// ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// llama.cpp runs it (with lookaheads standing in for the case classes) on
// text where every non-ASCII letter counts as both upper and lower case;
// only ASCII letters have a case here too.
func splitTekken(cpts []rune, lens []int) []int {
	return forEachSegment(cpts, lens, func(s segment, c *splitter) {
		for pos := s.ini; pos < s.end; {
			cpt, f := s.cpt(pos), s.flags(pos)
			if end := tekkenWord(s, pos); end > pos {
				pos = end
				c.cut(pos)
				continue
			}
			if f.has(flagNumber) {
				pos++
				c.cut(pos)
				continue
			}
			if p, ok := cutPunct(s, c, pos, cpt, f, true); ok {
				pos = p
				continue
			}
			pos = cutNewlineOrSpace(s, c, pos)
		}
	})
}

// tekkenWord matches Tekken's two word alternatives at pos, with the
// backtracking order of a regex engine, and returns the end (pos if none).
func tekkenWord(s segment, pos int) int {
	letter := func(i int) bool { return s.flags(i).has(flagLetter) }
	upper := func(i int) bool { r := s.cpt(i); return letter(i) && (r < 'a' || r > 'z') }
	lowerCase := func(i int) bool { r := s.cpt(i); return letter(i) && (r < 'A' || r > 'Z') }
	run := func(in func(int) bool, i int) int {
		n := 0
		for in(i + n) {
			n++
		}
		return n
	}
	f := s.flags(pos)
	starts := []int{pos}
	if r := s.cpt(pos); f != 0 && r != '\r' && r != '\n' && !f.has(flagLetter|flagNumber) {
		starts = []int{pos + 1, pos} // the optional prefix is tried taken first
	}
	for _, q := range starts { // upper* lower+
		for k := run(upper, q); k >= 0; k-- {
			if lowerCase(q + k) {
				return q + k + run(lowerCase, q+k)
			}
		}
	}
	for _, q := range starts { // upper+ lower*
		if u := run(upper, q); u > 0 {
			return q + u + run(lowerCase, q+u)
		}
	}
	return pos
}
