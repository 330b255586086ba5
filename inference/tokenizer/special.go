package tokenizer

import "strings"

// fragment is a piece of the input: raw text [start,end) still to tokenize,
// or an already-known special token (tok != None).
type fragment struct {
	tok        int32
	start, end int
}

// partition splits text around special tokens before tokenization, like
// llama.cpp's tokenizer_st_partition: each special token in turn, longest
// text first, is cut out of every raw fragment. Control and unknown tokens
// are matched only when parseSpecial is set; user-defined tokens always are.
// Tokens with the lstrip/rstrip attribute also swallow the whitespace before
// or after them.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{tok: None, start: 0, end: len(text)}}
	var next []fragment
	for _, id := range t.specials {
		a := t.attrs[id]
		if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
			continue
		}
		word := t.tokens[id]
		if !containsInRaw(text, frags, word) {
			continue
		}
		next = next[:0]
		for _, f := range frags {
			if f.tok != None {
				next = append(next, f)
				continue
			}
			next = splitFragment(next, text, f, id, word, a)
		}
		frags, next = next, frags
	}
	return frags
}

// containsInRaw reports whether word occurs inside any raw fragment.
func containsInRaw(text string, frags []fragment, word string) bool {
	for _, f := range frags {
		if f.tok == None && strings.Contains(text[f.start:f.end], word) {
			return true
		}
	}
	return false
}

// splitFragment appends f to dst with every occurrence of the special token
// (id, word) cut out.
func splitFragment(dst []fragment, text string, f fragment, id int32, word string, a tokenAttr) []fragment {
	start, end := f.start, f.end
	for {
		m := strings.Index(text[start:end], word)
		if m < 0 {
			if start < end {
				dst = append(dst, fragment{tok: None, start: start, end: end})
			}
			return dst
		}
		m += start
		left := m
		if a&attrLStrip != 0 {
			for left > start && isCSpace(text[left-1]) {
				left--
			}
		}
		if left > start {
			dst = append(dst, fragment{tok: None, start: start, end: left})
		}
		dst = append(dst, fragment{tok: id})
		start = m + len(word)
		if a&attrRStrip != 0 {
			for start < end && isCSpace(text[start]) {
				start++
			}
		}
	}
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}
