package tokenizer

import "strings"

// buildPieces renders the text of every token once, special tokens included
// (llama.cpp's cache_token_to_piece).
func (t *Tokenizer) buildPieces() {
	t.pieces = make([]string, len(t.tokens))
	for id := range t.tokens {
		t.pieces[id] = t.renderPiece(int32(id))
	}
}

func (t *Tokenizer) renderPiece(id int32) string {
	text, a := t.tokens[id], t.attrs[id]
	switch {
	case a&(attrUnknown|attrControl|attrUserDefined) != 0:
		return text
	case a&attrNormal != 0:
		if t.typ == vocabBPE && !t.escapeWhitespaces {
			return decodeByteLevel(text)
		}
		return strings.ReplaceAll(text, "▁", " ")
	case a&attrByte != 0:
		return string([]byte{byteTokenValue(text)})
	}
	return "" // unused and undefined tokens render as nothing
}

// byteTokenValue parses the XX of a byte token "<0xXX>" like llama.cpp's
// strtol on text[3:5]: leading hex digits, 0 when there are none.
func byteTokenValue(text string) byte {
	v := byte(0)
	for i := 3; i < 5 && i < len(text); i++ {
		c := text[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return v
		}
		v = v<<4 | d
	}
	return v
}

// decodeByteLevel maps GPT-2 byte-level text back to bytes. A code point
// outside the byte alphabet is kept visible the way llama.cpp does it.
func decodeByteLevel(text string) string {
	var out []byte
	for i := 0; i < len(text); {
		r, n := decodeCodepoint(text, i)
		i += n
		if b, ok := runeToByte[r]; ok {
			out = append(out, b)
			continue
		}
		out = append(out, "[UNK_BYTE_0x"...)
		for _, c := range appendCodepoint(nil, r) {
			out = append(out, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		}
		out = append(out, text...)
		out = append(out, ']')
	}
	return string(out)
}

// piece is llama.cpp's token_to_piece: control and unknown tokens render as
// nothing unless special is set; ids outside the vocabulary render as nothing.
func (t *Tokenizer) piece(id int32, special bool) string {
	if !t.valid(id) {
		return ""
	}
	if !special && t.attrs[id]&(attrUnknown|attrControl) != 0 {
		return ""
	}
	return t.pieces[id]
}

// Piece returns the bytes of one token as generated text: byte tokens give
// their raw byte, byte-level BPE tokens their original bytes, control tokens
// nothing. A piece may hold part of a UTF-8 sequence; StreamDecoder joins them.
func (t *Tokenizer) Piece(id int32) []byte {
	return []byte(t.piece(id, false))
}

// Decode turns ids back into text exactly like llama.cpp's llama_detokenize
// with remove_special=false and unparse_special=false: control tokens vanish;
// where the vocabulary adds a space prefix (SentencePiece), the first token
// loses its leading space, so Decode(Encode(s, false, false)) == s — but a
// BOS in first place takes that role, so [BOS, ▁Once] decodes to " Once", as
// in llama.cpp; and gpt2-style vocabularies tidy spaces before punctuation.
// Ids outside the vocabulary are skipped (llama.cpp aborts on them).
func (t *Tokenizer) Decode(ids []int32) string {
	return t.detokenize(ids, false)
}

// DecodeSpecial is Decode that also renders control tokens as their text
// (e.g. "<s>"), for logs and debugging.
func (t *Tokenizer) DecodeSpecial(ids []int32) string {
	return t.detokenize(ids, true)
}

// detokenize is llama_detokenize with remove_special=false.
func (t *Tokenizer) detokenize(ids []int32, unparseSpecial bool) string {
	removeSpace := t.addSpacePrefix
	var out []byte
	for _, id := range ids {
		if !t.valid(id) {
			continue
		}
		p := t.piece(id, unparseSpecial)
		if removeSpace && len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		removeSpace = false
		out = append(out, p...)
	}
	if t.cleanSpaces {
		out = cleanSpaces(out)
	}
	return string(out)
}

// cleanSpaces is llama.cpp's clean_up_tokenization_spaces, three in-place
// passes: drop the space before ?!., ; collapse " ' " to "'"; and drop the
// space before 's 'm 're 've. It reproduces llama.cpp's quirks, including
// that the second pass overwrites a skipped space with NUL, which the next
// step then sees as its previous byte.
func cleanSpaces(text []byte) []byte {
	n := len(text)
	total := min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			total--
		}
		text[total] = x
		total++
	}
	n, total = total, min(total, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if x == '\'' && i+1 < n && text[i-1] == ' ' && text[i+1] == ' ' {
			total--
			i++
			text[i] = 0
		}
		text[total] = x
		total++
	}
	n, total = total, min(total, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && x == '\'' && i+1 < n {
			x1 := text[i+1]
			switch {
			case x1 == 's' || x1 == 'm':
				total--
			case x1 == 't' || x1 == 'd':
			case i+2 < n && ((x1 == 'r' && text[i+2] == 'e') || (x1 == 'v' && text[i+2] == 'e')):
				total--
			}
		}
		text[total] = x
		total++
	}
	return text[:total]
}
