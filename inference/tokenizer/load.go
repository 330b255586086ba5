package tokenizer

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hearth-p2p/hearth/inference/gguf"
)

// Metadata keys read by FromGGUF.
const (
	keyModel      = "tokenizer.ggml.model"
	keyPre        = "tokenizer.ggml.pre"
	keyTokens     = "tokenizer.ggml.tokens"
	keyScores     = "tokenizer.ggml.scores"
	keyTokenType  = "tokenizer.ggml.token_type"
	keyMerges     = "tokenizer.ggml.merges"
	keyAddBOS     = "tokenizer.ggml.add_bos_token"
	keyAddEOS     = "tokenizer.ggml.add_eos_token"
	keyAddPrefix  = "tokenizer.ggml.add_space_prefix"
	keyGeneralNam = "general.name"
)

// Token types stored in tokenizer.ggml.token_type (llama_token_type).
const (
	typeUndefined = iota
	typeNormal
	typeUnknown
	typeControl
	typeUserDefined
	typeUnused
	typeByte
)

// FromGGUF builds the tokenizer described by a GGUF file's metadata
// (tokenizer.ggml.*), with llama.cpp's defaults for absent keys. Supported
// models: "llama" (SentencePiece) and "gpt2" (byte-level BPE) with the
// pre-tokenizers listed in pretokenize.go.
func FromGGUF(h *gguf.Header) (*Tokenizer, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: nil header", ErrMetadata)
	}
	t := &Tokenizer{}
	steps := []func(*gguf.Header) error{
		t.loadType, t.loadTokens, t.loadMerges, t.loadSpecialIDs, t.loadFlags,
	}
	for _, step := range steps {
		if err := step(h); err != nil {
			return nil, err
		}
	}
	t.detectSpecialByText()
	t.buildEOG()
	t.buildSpecialCache()
	t.buildPieces()
	t.applyModelAttrs(h)
	return t, nil
}

// loadType reads the model and pre-tokenizer names and sets the defaults
// that depend on them (llama_vocab::impl::load).
func (t *Tokenizer) loadType(h *gguf.Header) error {
	model, err := h.String(keyModel)
	if err != nil {
		return fmt.Errorf("%w: read model: %w", ErrMetadata, err)
	}
	t.model = model
	if t.preName, err = optString(h, keyPre); err != nil {
		return err
	}
	t.escapeWhitespaces = true
	t.sep, t.pad, t.eot, t.eom, t.nl = None, None, None, None, None
	switch model {
	case "llama":
		t.typ = vocabSPM
		t.bos, t.eos, t.unk = 1, 2, 0
		t.addSpacePrefix, t.addBOS = true, true
	case "gpt2":
		t.typ = vocabBPE
		t.bos, t.eos, t.unk = 11, 11, None
		t.escapeWhitespaces, t.cleanSpaces = false, true
		if err := t.setPre(t.preName); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: tokenizer model %q", ErrUnsupported, model)
	}
	if v, ok, err := optBool(h, keyAddPrefix); err != nil {
		return err
	} else if ok {
		t.addSpacePrefix = v
	}
	return nil
}

// loadTokens reads the vocabulary, scores and token types.
func (t *Tokenizer) loadTokens(h *gguf.Header) error {
	raw, err := h.Array(keyTokens)
	if err != nil {
		return fmt.Errorf("%w: read tokens: %w", ErrMetadata, err)
	}
	tokens, ok := raw.([]string)
	if !ok {
		return fmt.Errorf("%w: %s is %T, want strings", ErrMetadata, keyTokens, raw)
	}
	if len(tokens) == 0 || len(tokens) > 1<<31-1 {
		return fmt.Errorf("%w: %d tokens", ErrMetadata, len(tokens))
	}
	n := len(tokens)
	scores, err := loadScores(h, n)
	if err != nil {
		return err
	}
	types, err := loadTypes(h, n)
	if err != nil {
		return err
	}
	t.tokens = make([]string, n)
	t.attrs = make([]tokenAttr, n)
	t.scores = scores
	t.ids = make(map[string]int32, n)
	for i, word := range tokens {
		if word == "" {
			word = "[EMPTY_" + strconv.Itoa(i) + "]"
		}
		if prev, dup := t.ids[word]; dup {
			return fmt.Errorf("%w: duplicate token %q has ids %d and %d", ErrMetadata, word, prev, i)
		}
		t.ids[word] = int32(i)
		t.tokens[i] = word
		t.maxLen = max(t.maxLen, len(word))
		t.attrs[i] = attrNormal
		if types != nil {
			t.attrs[i] = attrFromType(types[i])
		}
	}
	t.initByteTokens()
	return nil
}

func loadScores(h *gguf.Header, n int) ([]float32, error) {
	scores := make([]float32, n)
	if _, ok := h.Get(keyScores); !ok {
		return scores, nil
	}
	raw, err := h.Array(keyScores)
	if err != nil {
		return nil, fmt.Errorf("%w: read scores: %w", ErrMetadata, err)
	}
	switch s := raw.(type) {
	case []float32:
		if len(s) < n {
			return nil, fmt.Errorf("%w: %d scores for %d tokens", ErrMetadata, len(s), n)
		}
		copy(scores, s)
	case []int32:
		if len(s) < n {
			return nil, fmt.Errorf("%w: %d scores for %d tokens", ErrMetadata, len(s), n)
		}
		for i := range scores {
			scores[i] = float32(s[i])
		}
	default:
		return nil, fmt.Errorf("%w: %s is %T, want float32 or int32", ErrMetadata, keyScores, raw)
	}
	return scores, nil
}

func loadTypes(h *gguf.Header, n int) ([]int32, error) {
	if _, ok := h.Get(keyTokenType); !ok {
		return nil, nil
	}
	raw, err := h.Array(keyTokenType)
	if err != nil {
		return nil, fmt.Errorf("%w: read token types: %w", ErrMetadata, err)
	}
	types, ok := raw.([]int32)
	if !ok {
		return nil, fmt.Errorf("%w: %s is %T, want int32", ErrMetadata, keyTokenType, raw)
	}
	if len(types) < n {
		return nil, fmt.Errorf("%w: %d token types for %d tokens", ErrMetadata, len(types), n)
	}
	return types, nil
}

func attrFromType(typ int32) tokenAttr {
	switch typ {
	case typeUnknown:
		return attrUnknown
	case typeUnused:
		return attrUnused
	case typeNormal:
		return attrNormal
	case typeControl:
		return attrControl
	case typeUserDefined:
		return attrUserDefined
	case typeByte:
		return attrByte
	}
	return attrUndefined
}

// initByteTokens finds the token of each byte for SentencePiece's byte
// fallback: <0xXX>, else the one-byte token (llama_vocab::byte_to_token).
func (t *Tokenizer) initByteTokens() {
	for b := range 256 {
		t.byteToken[b] = None
		if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			t.byteToken[b] = id
		} else if id, ok := t.ids[string([]byte{byte(b)})]; ok {
			t.byteToken[b] = id
		}
	}
}

// loadMerges reads the BPE merge rules; rank is the position in the list.
func (t *Tokenizer) loadMerges(h *gguf.Header) error {
	if t.typ != vocabBPE {
		return nil
	}
	raw, err := h.Array(keyMerges)
	if err != nil {
		return fmt.Errorf("%w: read merges: %w", ErrMetadata, err)
	}
	merges, ok := raw.([]string)
	if !ok {
		return fmt.Errorf("%w: %s is %T, want strings", ErrMetadata, keyMerges, raw)
	}
	t.ranks = make(map[mergePair]int32, len(merges))
	for i, m := range merges {
		var p mergePair
		// Split at the first space after the first byte, so a merge may
		// start with a space; a rule without one is the empty pair.
		if len(m) > 1 {
			if j := strings.IndexByte(m[1:], ' '); j >= 0 {
				p = mergePair{m[:j+1], m[j+2:]}
			}
		}
		if _, seen := t.ranks[p]; !seen {
			t.ranks[p] = int32(i)
		}
	}
	return nil
}

// specialIDKeys lists the metadata keys of special token ids.
func (t *Tokenizer) specialIDKeys(fim *[6]int32) []struct {
	key string
	id  *int32
} {
	return []struct {
		key string
		id  *int32
	}{
		{"tokenizer.ggml.bos_token_id", &t.bos},
		{"tokenizer.ggml.eos_token_id", &t.eos},
		{"tokenizer.ggml.eot_token_id", &t.eot},
		{"tokenizer.ggml.eom_token_id", &t.eom},
		{"tokenizer.ggml.unknown_token_id", &t.unk},
		{"tokenizer.ggml.seperator_token_id", &t.sep},
		{"tokenizer.ggml.padding_token_id", &t.pad},
		{"tokenizer.ggml.fim_pre_token_id", &fim[0]},
		{"tokenizer.ggml.fim_suf_token_id", &fim[1]},
		{"tokenizer.ggml.fim_mid_token_id", &fim[2]},
		{"tokenizer.ggml.fim_pad_token_id", &fim[3]},
		{"tokenizer.ggml.fim_rep_token_id", &fim[4]},
		{"tokenizer.ggml.fim_sep_token_id", &fim[5]},
		{"tokenizer.ggml.prefix_token_id", &fim[0]},
		{"tokenizer.ggml.suffix_token_id", &fim[1]},
		{"tokenizer.ggml.middle_token_id", &fim[2]},
	}
}

// fimIDs holds the fill-in-the-middle ids between loading and EOG detection:
// pre, suf, mid, pad, rep, sep.
type fimIDs = [6]int32

// loadSpecialIDs finds the newline token and reads the special token ids. An
// id outside the vocabulary (e.g. 4294967295, "none") keeps the default.
func (t *Tokenizer) loadSpecialIDs(h *gguf.Header) error {
	t.nl = t.findNewline()
	fim := fimIDs{None, None, None, None, None, None}
	for _, k := range t.specialIDKeys(&fim) {
		if !t.valid(*k.id) {
			*k.id = None
		}
		v, ok := h.Get(k.key)
		if !ok {
			continue
		}
		if id, ok := v.Int(); ok && id >= 0 && id < int64(len(t.tokens)) {
			*k.id = int32(id)
		} else if !ok {
			if _, isUint := v.Uint(); !isUint {
				return fmt.Errorf("%w: %s is %s, want integer", ErrMetadata, k.key, v.Type)
			}
		}
	}
	t.fim = fim
	return nil
}

// findNewline mirrors llama.cpp, which looks up the newline before reading
// the special ids (so its fallback is the default padding id, i.e. none).
func (t *Tokenizer) findNewline() int32 {
	if t.typ == vocabSPM {
		return t.byteToken['\n']
	}
	if ids := t.encodeBPE(nil, "\n"); len(ids) > 0 {
		return ids[0]
	}
	return None
}

// loadFlags reads add_bos_token and add_eos_token.
func (t *Tokenizer) loadFlags(h *gguf.Header) error {
	if v, ok, err := optBool(h, keyAddBOS); err != nil {
		return err
	} else if ok {
		t.addBOS = v
	}
	if v, ok, err := optBool(h, keyAddEOS); err != nil {
		return err
	} else if ok {
		t.addEOS = v
	}
	if t.addBOS && t.bos == None {
		return fmt.Errorf("%w: %s is true but there is no BOS token", ErrMetadata, keyAddBOS)
	}
	if t.addEOS && t.eos == None {
		return fmt.Errorf("%w: %s is true but there is no EOS token", ErrMetadata, keyAddEOS)
	}
	return nil
}

// buildSpecialCache lists the tokens matched in raw text before
// tokenization: control, user-defined and unknown ones, longest first.
func (t *Tokenizer) buildSpecialCache() {
	for id, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.specials = append(t.specials, int32(id))
		}
	}
	slices.SortStableFunc(t.specials, func(a, b int32) int {
		return cmp.Compare(len(t.tokens[b]), len(t.tokens[a]))
	})
}

// applyModelAttrs sets the strip attributes llama.cpp assigns by model name:
// Phi-3's special tokens swallow the whitespace that follows them.
func (t *Tokenizer) applyModelAttrs(h *gguf.Header) {
	name, _ := optString(h, keyGeneralNam)
	name = strings.ToLower(name)
	if !strings.Contains(name, "phi-3") && !strings.Contains(name, "phi3") {
		return
	}
	for _, id := range t.specials {
		t.attrs[id] |= attrRStrip
	}
	if id, ok := t.ids["</s>"]; ok {
		t.attrs[id] |= attrRStrip
	}
	for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
		if id, ok := t.ids[s]; ok {
			t.attrs[id] &^= attrRStrip
		}
	}
}

func optString(h *gguf.Header, key string) (string, error) {
	s, err := h.String(key)
	if errors.Is(err, gguf.ErrNoKey) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMetadata, err)
	}
	return s, nil
}

func optBool(h *gguf.Header, key string) (v, ok bool, err error) {
	v, err = h.Bool(key)
	if errors.Is(err, gguf.ErrNoKey) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("%w: %w", ErrMetadata, err)
	}
	return v, true, nil
}
