package chat

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// GGUF metadata keys read by FromGGUF.
const (
	KeyChatTemplate = "tokenizer.chat_template"
	keyTokens       = "tokenizer.ggml.tokens"
	keyBOS          = "tokenizer.ggml.bos_token_id"
	keyEOS          = "tokenizer.ggml.eos_token_id"
	keyArch         = "general.architecture"
)

// Template turns a list of messages into the prompt text a model was trained
// on. It is either a Jinja template (a GGUF's tokenizer.chat_template,
// rendered with gonja the way Hugging Face's apply_chat_template does) or a
// built-in format. A Template is safe for concurrent use.
//
// BOS: like the Hugging Face templates, renderings include the BOS text when
// the format has one (Llama 3, Mistral, Gemma, Phi-3 …). Tokenize the result
// with special-token parsing on and do not add another BOS when the text
// already starts with BOS().
type Template struct {
	family   Family         // format family (detected for Jinja templates)
	source   string         // Jinja source, "" for a built-in
	jinja    *exec.Template // nil for a built-in
	bos, eos string
	fallback bool // no usable template in the model: a built-in stands in

	mu  sync.Mutex
	now func() time.Time // clock for strftime_now
}

// FromGGUF builds the template of a model from its metadata: the Jinja
// source under tokenizer.chat_template, and the BOS/EOS texts from the
// vocabulary. When the model has no template, or its template does not
// parse, a built-in format stands in (the detected family of the template,
// else one guessed from the architecture and vocabulary, else ChatML);
// Fallback then reports true.
func FromGGUF(h *gguf.Header) (*Template, error) {
	if h == nil {
		return nil, errors.New("chat template: nil GGUF header")
	}
	bos, eos := specialText(h, keyBOS), specialText(h, keyEOS)
	src, err := h.String(KeyChatTemplate)
	switch {
	case errors.Is(err, gguf.ErrNoKey):
		t := builtinTemplate(guessFamily(h), bos, eos)
		t.fallback = true
		return t, nil
	case err != nil:
		return nil, fmt.Errorf("chat template: %w", err)
	}
	t, err := FromString(src, bos, eos)
	if err == nil {
		return t, nil
	}
	fam := Detect(src)
	if fam == FamilyUnknown {
		return nil, err
	}
	t = builtinTemplate(fam, bos, eos)
	t.source = src
	t.fallback = true
	return t, nil
}

// FromString compiles a Jinja chat template. bos and eos are the texts the
// template sees as bos_token and eos_token.
func FromString(src, bos, eos string) (*Template, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("%w: empty template", ErrBadTemplate)
	}
	j, err := compileJinja(src)
	if err != nil {
		return nil, err
	}
	return &Template{family: Detect(src), source: src, jinja: j, bos: bos, eos: eos}, nil
}

// Builtin returns a built-in format by family name (see Families), with the
// family's usual BOS/EOS texts.
func Builtin(name string) (*Template, error) {
	if _, ok := families[Family(name)]; !ok {
		return nil, fmt.Errorf("%w: %q (have %v)", ErrUnknownTemplate, name, Families())
	}
	return builtinTemplate(Family(name), "", ""), nil
}

func builtinTemplate(fam Family, bos, eos string) *Template {
	f := families[fam]
	if bos == "" {
		bos = f.bos
	}
	if eos == "" {
		eos = f.eos
	}
	return &Template{family: fam, bos: bos, eos: eos}
}

// Family is the format the template renders (FamilyUnknown for a Jinja
// template of a format this package does not recognise).
func (t *Template) Family() Family { return t.family }

// Source is the Jinja source ("" for a built-in format).
func (t *Template) Source() string { return t.source }

// IsJinja reports whether rendering runs the model's own Jinja template.
func (t *Template) IsJinja() bool { return t.jinja != nil }

// Fallback reports whether a built-in format stands in for a template the
// model lacks or that could not be compiled.
func (t *Template) Fallback() bool { return t.fallback }

// BOS and EOS are the special-token texts the template renders.
func (t *Template) BOS() string { return t.bos }

// EOS is the end-of-sequence text (see BOS).
func (t *Template) EOS() string { return t.eos }

// Name describes the template for logs and the UI: "jinja (chatml)",
// "builtin llama3", "builtin chatml (fallback)".
func (t *Template) Name() string {
	fam := string(t.family)
	if fam == "" {
		fam = "unknown"
	}
	switch {
	case t.jinja != nil:
		return "jinja (" + fam + ")"
	case t.fallback:
		return "builtin " + fam + " (fallback)"
	}
	return "builtin " + fam
}

// SetNow sets the clock strftime_now reads (Llama 3.x templates print
// today's date). Pin it per conversation so every turn renders the same
// date and earlier renderings stay a prefix of later ones. nil means
// time.Now.
func (t *Template) SetNow(now func() time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.now = now
}

func (t *Template) clock() time.Time {
	t.mu.Lock()
	now := t.now
	t.mu.Unlock()
	if now == nil {
		return time.Now()
	}
	return now()
}

// Render renders msgs as a prompt. With addGenerationPrompt the text ends
// with the assistant header, ready for the model's reply. A template that
// rejects the conversation returns ErrTemplateRaised with its message. A
// Jinja template that fails for another reason (a construct gonja lacks)
// falls back to the built-in format of its family when one is known.
func (t *Template) Render(msgs []Message, addGenerationPrompt bool) (string, error) {
	if len(msgs) == 0 {
		return "", ErrNoMessages
	}
	if t.jinja == nil {
		f := families[t.family]
		return f.render(f, t.bos, t.eos, msgs, addGenerationPrompt), nil
	}
	out, err := t.renderJinja(msgs, addGenerationPrompt)
	if err == nil {
		return out, nil
	}
	if errors.Is(err, ErrTemplateRaised) || t.family == FamilyUnknown {
		return "", err
	}
	f := families[t.family]
	return f.render(f, t.bos, t.eos, msgs, addGenerationPrompt), nil
}

// renderJinja runs the Jinja template alone, with no built-in fallback.
func (t *Template) renderJinja(msgs []Message, addGen bool) (string, error) {
	return executeJinja(t.jinja, t.vars(msgs, addGen), t.clock())
}

func (t *Template) vars(msgs []Message, addGen bool) map[string]any {
	list := make([]any, len(msgs))
	for i, m := range msgs {
		list[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	return map[string]any{
		"messages":              list,
		"bos_token":             t.bos,
		"eos_token":             t.eos,
		"add_generation_prompt": addGen,
		"tools":                 nil,
	}
}

// StopStrings lists texts that end the assistant's turn when they appear in
// generated text: the family's turn delimiters plus the EOS text. The engine
// stops on end-of-generation token ids first; these catch the same markers
// when a model spells them out as ordinary text.
func (t *Template) StopStrings() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if f, ok := families[t.family]; ok {
		for _, s := range f.stops {
			add(s)
		}
	}
	add(t.eos)
	return out
}

// specialText returns the vocabulary text of the token whose id is stored
// under key, or "" when either is missing.
func specialText(h *gguf.Header, key string) string {
	id, err := h.Uint(key)
	if err != nil {
		return ""
	}
	arr, err := h.Array(keyTokens)
	if err != nil {
		return ""
	}
	toks, ok := arr.([]string)
	if !ok || id >= uint64(len(toks)) {
		return ""
	}
	return toks[id]
}

// guessFamily picks a built-in format for a model without a chat template.
func guessFamily(h *gguf.Header) Family {
	arch, _ := h.String(keyArch)
	switch {
	case strings.HasPrefix(arch, "gemma"):
		return FamilyGemma
	case strings.HasPrefix(arch, "phi3"):
		return FamilyPhi3
	}
	if arr, err := h.Array(keyTokens); err == nil {
		if toks, ok := arr.([]string); ok {
			for _, s := range toks {
				switch s {
				case "<|im_start|>":
					return FamilyChatML
				case "<|start_header_id|>":
					return FamilyLlama3
				}
			}
		}
	}
	return FamilyChatML
}
