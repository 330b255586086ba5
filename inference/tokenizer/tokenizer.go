package tokenizer

import (
	"errors"
	"slices"
)

// None is the id of a special token the vocabulary does not have.
const None int32 = -1

// Errors returned by FromGGUF. Returned errors wrap one of these.
var (
	// ErrUnsupported: the tokenizer model or pre-tokenizer is not implemented.
	ErrUnsupported = errors.New("unsupported tokenizer")
	// ErrMetadata: the tokenizer metadata is missing or malformed.
	ErrMetadata = errors.New("invalid tokenizer metadata")
)

// vocabType is the tokenization algorithm.
type vocabType int

const (
	vocabSPM vocabType = iota // SentencePiece BPE ("llama")
	vocabBPE                  // byte-level BPE ("gpt2")
)

// tokenAttr are llama.cpp's token attributes (llama_token_attr).
type tokenAttr uint16

const (
	attrUnknown tokenAttr = 1 << iota
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
	attrNormalized
	attrLStrip
	attrRStrip
	attrSingleWord

	attrUndefined tokenAttr = 0
)

// mergePair is one BPE merge rule, left and right part.
type mergePair struct{ left, right string }

// Tokenizer converts between text and token ids with the vocabulary of one
// model, reproducing llama.cpp's tokenizer bit for bit. It is immutable after
// FromGGUF and safe for concurrent use.
type Tokenizer struct {
	typ       vocabType
	model     string // tokenizer.ggml.model
	pre       preType
	preName   string
	tokens    []string
	scores    []float32
	attrs     []tokenAttr
	ids       map[string]int32
	ranks     map[mergePair]int32 // BPE merge ranks
	specials  []int32             // control, user-defined and unknown tokens, longest text first
	pieces    []string            // text of each token, special tokens rendered (llama.cpp's piece cache)
	byteToken [256]int32          // SPM byte fallback, None where the vocabulary has no token for a byte
	maxLen    int                 // longest token text in bytes

	bos, eos, eot, eom, unk, sep, pad, nl int32
	fim                                   fimIDs // fill-in-the-middle: pre, suf, mid, pad, rep, sep
	eog                                   map[int32]struct{}

	addBOS, addEOS    bool
	addSpacePrefix    bool
	ignoreMerges      bool
	cleanSpaces       bool
	escapeWhitespaces bool
}

// VocabSize is the number of tokens in the vocabulary.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Token returns the vocabulary text of id (e.g. "▁Once" or "Ġthe"), or ""
// for an id outside the vocabulary.
func (t *Tokenizer) Token(id int32) string {
	if !t.valid(id) {
		return ""
	}
	return t.tokens[id]
}

// TokenID returns the id whose vocabulary text is exactly text.
func (t *Tokenizer) TokenID(text string) (int32, bool) {
	id, ok := t.ids[text]
	return id, ok
}

// BOS is the beginning-of-sequence token, or None.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS is the end-of-sequence token, or None.
func (t *Tokenizer) EOS() int32 { return t.eos }

// EOT is the end-of-turn token (e.g. <|eot_id|>, <|im_end|>), or None.
func (t *Tokenizer) EOT() int32 { return t.eot }

// NL is the newline token, or None.
func (t *Tokenizer) NL() int32 { return t.nl }

// AddBOS reports whether the model expects BOS at the start of a prompt;
// Encode adds it when addSpecial is true.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether the model expects EOS at the end of a prompt.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// IsEOG reports whether id ends generation: EOS, EOT, EOM and the tokens
// llama.cpp recognises by their text (<|im_end|>, <|end|>, <|eot_id|>, …).
func (t *Tokenizer) IsEOG(id int32) bool {
	_, ok := t.eog[id]
	return ok
}

// EOG returns the end-of-generation tokens in ascending order.
func (t *Tokenizer) EOG() []int32 {
	ids := make([]int32, 0, len(t.eog))
	for id := range t.eog {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// IsControl reports whether id is a control token (BOS, EOS, <|im_start|>,
// …): Decode and Piece render such tokens as nothing.
func (t *Tokenizer) IsControl(id int32) bool {
	return t.valid(id) && t.attrs[id]&attrControl != 0
}

// Model is the tokenizer model from the metadata ("llama" or "gpt2").
func (t *Tokenizer) Model() string { return t.model }

// Pre is the pre-tokenizer name from the metadata ("" when absent).
func (t *Tokenizer) Pre() string { return t.preName }

func (t *Tokenizer) valid(id int32) bool { return id >= 0 && int(id) < len(t.tokens) }
