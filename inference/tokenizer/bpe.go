package tokenizer

// bpeBigram is a candidate merge of two adjacent symbols of a word.
type bpeBigram struct {
	left, right  int32
	rank         int32
	lsize, rsize int32 // sizes when queued, to detect stale entries
}

// bpeFirst orders the queue: lowest merge rank first, then leftmost.
func bpeFirst(a, b bpeBigram) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
}

// encodeBPE appends the byte-level BPE tokens of one raw fragment to out
// (llama.cpp's llm_tokenizer_bpe_session): pre-tokenize into words, map
// each word's bytes to GPT-2's byte alphabet, merge by rank within words.
func (t *Tokenizer) encodeBPE(out []int32, text string) []int32 {
	words, ends := t.pretokenize(text)
	var syms []symbol
	q := bigramQueue[bpeBigram]{less: bpeFirst}
	start := 0
	for _, end := range ends {
		out, syms = t.encodeWord(out, words[start:end], syms, &q)
		start = end
	}
	return out
}

// encodeWord merges one pre-tokenized word; syms and q are scratch space.
func (t *Tokenizer) encodeWord(out []int32, word string, syms []symbol, q *bigramQueue[bpeBigram]) ([]int32, []symbol) {
	if word == "" {
		return out, syms
	}
	if t.ignoreMerges {
		if id, ok := t.ids[word]; ok {
			return append(out, id), syms
		}
	}
	syms = syms[:0]
	for off := 0; off < len(word); {
		n := min(utf8SeqLen(word[off]), len(word)-off)
		i := int32(len(syms))
		syms = append(syms, symbol{prev: i - 1, next: i + 1, start: int32(off), n: int32(n)})
		off += n
	}
	syms[len(syms)-1].next = -1

	q.items = q.items[:0]
	add := func(left, right int32) {
		if left < 0 || right < 0 {
			return
		}
		l, r := syms[left], syms[right]
		p := mergePair{word[l.start : l.start+l.n], word[r.start : r.start+r.n]}
		if rank, ok := t.ranks[p]; ok {
			q.push(bpeBigram{left: left, right: right, rank: rank, lsize: l.n, rsize: r.n})
		}
	}
	for i := int32(1); i < int32(len(syms)); i++ {
		add(i-1, i)
	}
	for q.len() > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n != b.lsize || r.n != b.rsize {
			continue // outdated: a side was merged since this pair was queued
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		add(l.prev, b.left)
		add(b.left, l.next)
	}
	for i := int32(0); i != -1; i = syms[i].next {
		s := word[syms[i].start : syms[i].start+syms[i].n]
		if id, ok := t.ids[s]; ok {
			out = append(out, id)
			continue
		}
		// Not a token: llama.cpp falls back to one-byte tokens and drops
		// the bytes that have none.
		for j := 0; j < len(s); j++ {
			if id, ok := t.ids[s[j:j+1]]; ok {
				out = append(out, id)
			}
		}
	}
	return out, syms
}
