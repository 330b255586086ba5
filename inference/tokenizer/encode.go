package tokenizer

// Encode tokenizes text like llama.cpp's llama_tokenize(add_special,
// parse_special). addSpecial adds BOS (and EOS) where the model asks for
// them (AddBOS, AddEOS). parseSpecial turns the text of control tokens, such
// as "<|im_start|>" or "<s>", into those tokens; without it such text is
// tokenized as plain text. User-defined tokens are always matched. Any
// input is accepted: malformed UTF-8 is handled as llama.cpp handles it.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	frags := t.partition(text, parseSpecial)
	out := make([]int32, 0, len(text)/3+2)
	if addSpecial && t.addBOS && t.bos != None {
		out = append(out, t.bos)
	}
	switch t.typ {
	case vocabSPM:
		// A space is prefixed to the text at the start and after each
		// special token, SentencePiece's "dummy prefix".
		prevSpecial := true
		for _, f := range frags {
			if f.tok != None {
				out = append(out, f.tok)
				prevSpecial = true
				continue
			}
			s := text[f.start:f.end]
			if t.addSpacePrefix && prevSpecial {
				s = " " + s
			}
			out = t.encodeSPM(out, escapeSpaces(s))
			prevSpecial = false
		}
	case vocabBPE:
		for _, f := range frags {
			if f.tok != None {
				out = append(out, f.tok)
				continue
			}
			s := text[f.start:f.end]
			if t.escapeWhitespaces {
				s = escapeSpaces(s)
			}
			out = t.encodeBPE(out, s)
		}
	}
	if addSpecial && t.addEOS && t.eos != None {
		out = append(out, t.eos)
	}
	return out
}
