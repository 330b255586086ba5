package tokenizer

import "strings"

// llama.cpp finds several special tokens by their text when the metadata
// does not name them (llama_vocab::impl::load). These lists follow it.
var (
	eotTexts = []string{
		"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
		"<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
	}
	eomTexts    = []string{"<|eom_id|>"}
	fimPreTexts = []string{
		"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
		"<|code_prefix|>", "<|prefix|>",
	}
	fimSufTexts = []string{
		"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
		"<|code_suffix|>", "<|suffix|>",
	}
	fimMidTexts = []string{
		"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
		"<|code_middle|>", "<|middle|>",
	}
	fimPadTexts = []string{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}
	fimRepTexts = []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}
	fimSepTexts = []string{"<|file_sep|>"}

	// eogTexts end generation wherever they appear in a vocabulary.
	eogTexts = []string{
		"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
		"<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
		"<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
		"<｜end▁of▁sentence｜>", "[e~[",
	}
	// alwaysRendered tokens are demoted to user-defined so they show in text (gpt-oss).
	alwaysRendered = []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}
)

// detectSpecialByText fills EOT, EOM and the FIM ids that the metadata left
// unset from well-known token texts, marks them as control tokens, and marks
// control tokens whose text contains "unused" as unused. Where a vocabulary
// holds several candidates, llama.cpp takes whichever its hash map yields
// first; here the text listed first wins (for Phi-3, <|end|> rather than
// <|endoftext|>, which is also what llama.cpp ends up with).
func (t *Tokenizer) detectSpecialByText() {
	slots := []struct {
		id    *int32
		texts []string
	}{
		{&t.eot, eotTexts}, {&t.eom, eomTexts},
		{&t.fim[0], fimPreTexts}, {&t.fim[1], fimSufTexts}, {&t.fim[2], fimMidTexts},
		{&t.fim[3], fimPadTexts}, {&t.fim[4], fimRepTexts}, {&t.fim[5], fimSepTexts},
	}
	for _, s := range slots {
		if *s.id != None {
			continue
		}
		if id := t.firstTokenOf(s.texts); id != None {
			*s.id = id
			t.attrs[id] |= attrControl
		}
	}
	for id, word := range t.tokens {
		if t.attrs[id]&attrControl != 0 && strings.Contains(word, "unused") {
			t.attrs[id] |= attrUnused
		}
	}
}

// firstTokenOf returns the id of the first of texts in the vocabulary.
func (t *Tokenizer) firstTokenOf(texts []string) int32 {
	for _, s := range texts {
		if id, ok := t.ids[s]; ok {
			return id
		}
	}
	return None
}

// buildEOG collects the tokens that end generation.
func (t *Tokenizer) buildEOG() {
	t.eog = make(map[int32]struct{})
	for _, id := range []int32{t.fim[3], t.fim[4], t.fim[5]} {
		if id != None {
			t.eog[id] = struct{}{}
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.ids[s]; ok {
			t.eog[id] = struct{}{}
			t.attrs[id] |= attrControl
		}
	}
	for _, s := range alwaysRendered {
		if id, ok := t.ids[s]; ok {
			t.attrs[id] = attrUserDefined
		}
	}
	for _, id := range []int32{t.eos, t.eot, t.eom} {
		if id != None {
			t.eog[id] = struct{}{}
		}
	}
	// Harmony-style vocabularies (<|return|> and <|call|>, or <|calls|> and
	// <|flush|>) use <|end|> between messages: it must not stop generation.
	has := func(s string) bool { id, ok := t.ids[s]; return ok && t.IsEOG(id) }
	end, hasEnd := t.ids["<|end|>"]
	hasEnd = hasEnd && t.IsEOG(end)
	hasCall := has("<|call|>") || has("<|calls|>")
	if hasEnd && ((has("<|return|>") && hasCall) || (hasCall && has("<|flush|>"))) {
		delete(t.eog, end)
		t.attrs[end] = attrUserDefined
	}
	// Gemma 4 and PaddleOCR: </s> is an ordinary token there.
	if s, ok := t.ids["</s>"]; ok && t.IsEOG(s) && has("<|tool_response>") {
		delete(t.eog, s)
		t.attrs[s] = attrNormal
	}
}
