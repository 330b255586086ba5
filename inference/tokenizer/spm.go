package tokenizer

import "strings"

// symbol is a span of the text being merged, linked to its neighbours.
// A symbol absorbed into its left neighbour has n == 0.
type symbol struct {
	prev, next int32
	start, n   int32
}

// spmBigram is a candidate merge of two adjacent symbols.
type spmBigram struct {
	left, right int32
	score       float32
	size        int32 // bytes of the merged text, to detect stale entries
}

// spmFirst orders the queue: best score first, then leftmost.
func spmFirst(a, b spmBigram) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

// encodeSPM appends the SentencePiece tokens of one raw fragment (spaces
// already escaped to ▁) to out, with llama.cpp's llm_tokenizer_spm: start
// from UTF-8 characters, repeatedly merge the adjacent pair whose union is
// the best-scoring token, then emit each symbol as its token or, failing
// that, as byte tokens.
//
// llama.cpp also keeps a reverse-merge table to re-split symbols that are
// not tokens, but only unmerged single characters can fail the lookup and no
// merged pair ever spells one, so that table never matches and is omitted.
func (t *Tokenizer) encodeSPM(out []int32, text string) []int32 {
	if text == "" {
		return out
	}
	syms := make([]symbol, 0, len(text))
	for off := 0; off < len(text); {
		n := min(utf8SeqLen(text[off]), len(text)-off)
		i := int32(len(syms))
		syms = append(syms, symbol{prev: i - 1, next: i + 1, start: int32(off), n: int32(n)})
		off += n
	}
	syms[len(syms)-1].next = -1

	q := bigramQueue[spmBigram]{less: spmFirst}
	try := func(left, right int32) {
		if left < 0 || right < 0 {
			return
		}
		l, r := syms[left], syms[right]
		s := text[l.start : r.start+r.n]
		if id, ok := t.ids[s]; ok {
			q.push(spmBigram{left: left, right: right, score: t.scores[id], size: int32(len(s))})
		}
	}
	for i := int32(1); i < int32(len(syms)); i++ {
		try(i-1, i)
	}
	for q.len() > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue // a side was merged since this pair was queued
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		try(l.prev, b.left)
		try(b.left, l.next)
	}
	for i := int32(0); i != -1; i = syms[i].next {
		s := syms[i]
		out = t.spmSymbol(out, text[s.start:s.start+s.n])
	}
	return out
}

// spmSymbol emits one final symbol: its token, else one token per byte.
// A byte without a token (vocabularies with no <0xXX> tokens) makes
// llama.cpp abort; here it becomes the unknown token, or is dropped when
// there is none.
func (t *Tokenizer) spmSymbol(out []int32, s string) []int32 {
	if id, ok := t.ids[s]; ok {
		return append(out, id)
	}
	for i := 0; i < len(s); i++ {
		switch id := t.byteToken[s[i]]; {
		case id != None:
			out = append(out, id)
		case t.unk != None:
			out = append(out, t.unk)
		}
	}
	return out
}

// escapeSpaces replaces each space with ▁ (U+2581), SentencePiece's space.
func escapeSpaces(s string) string {
	return strings.ReplaceAll(s, " ", "▁")
}

// bigramQueue is a binary heap; less(a, b) means a is popped before b.
type bigramQueue[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (q *bigramQueue[T]) len() int { return len(q.items) }

func (q *bigramQueue[T]) push(x T) {
	q.items = append(q.items, x)
	i := len(q.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(q.items[i], q.items[p]) {
			break
		}
		q.items[i], q.items[p] = q.items[p], q.items[i]
		i = p
	}
}

func (q *bigramQueue[T]) pop() T {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items = q.items[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && q.less(q.items[l], q.items[m]) {
			m = l
		}
		if r < last && q.less(q.items[r], q.items[m]) {
			m = r
		}
		if m == i {
			break
		}
		q.items[i], q.items[m] = q.items[m], q.items[i]
		i = m
	}
	return top
}
