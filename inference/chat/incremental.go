package chat

// Reusing the KV cache across turns
//
// A chat engine keeps the KV cache of the previous turn: the tokens of the
// last prompt followed by the tokens the model generated. For the next turn
// it renders the whole conversation again and only has to evaluate the
// tokens past the part it has already seen. How much can be reused is found
// by comparison, not assumed:
//
//	prompt, _ := tpl.Render(conv.Messages, true)
//	ids := tok.Encode(prompt, !strings.HasPrefix(prompt, tpl.BOS()), true)
//	n := chat.CommonPrefix(cachedIDs, ids) // tokens already in the cache
//	cache.Truncate(n)                      // drop what differs
//	eval(ids[n:])
//
// For the formats here the previous prompt plus the reply is, in text, a
// prefix of the next prompt when the reply was stored as generated (without
// the stop string; after "[/INST]" a SentencePiece model's reply begins with
// the space it generated); RenderNext reports that at the text level. Some
// templates break it on purpose (Mistral v0.3 moves the system prompt to
// the last user turn; Llama 3.x prints today's date: pin it with SetNow;
// reasoning models strip earlier <think> blocks), and tokenizers may merge
// differently across the boundary, so the token comparison above is what
// decides; at worst it re-evaluates a suffix of the prompt.

// CommonPrefix returns the length of the longest common prefix of a and b:
// use it on token id slices to find how much of a KV cache can be kept.
func CommonPrefix[T comparable](a, b []T) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// CommonPrefixString is CommonPrefix for strings (bytes).
func CommonPrefixString(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// RenderNext renders msgs with a generation prompt and compares the result
// with prev, the text already evaluated (the previous prompt plus the
// generated reply). It returns the full prompt, the byte length of the part
// shared with prev, and whether all of prev is reused (the new prompt only
// appends to it).
func (t *Template) RenderNext(prev string, msgs []Message) (prompt string, shared int, appendOnly bool, err error) {
	prompt, err = t.Render(msgs, true)
	if err != nil {
		return "", 0, false, err
	}
	shared = CommonPrefixString(prev, prompt)
	return prompt, shared, shared == len(prev), nil
}
