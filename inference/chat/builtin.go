package chat

import (
	"sort"
	"strings"
)

// Family names a prompt format. The built-in families are implemented in Go
// and used when a model has no chat template or its template cannot run.
type Family string

// Built-in prompt formats.
const (
	FamilyUnknown Family = ""
	FamilyChatML  Family = "chatml"  // <|im_start|>role\n…<|im_end|> (SmolLM2, Qwen2/2.5, many fine-tunes)
	FamilyLlama2  Family = "llama2"  // <s>[INST] <<SYS>>…<</SYS>> … [/INST] … </s>
	FamilyLlama3  Family = "llama3"  // <|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>
	FamilyPhi3    Family = "phi3"    // <|user|>\n…<|end|>\n<|assistant|>\n
	FamilyMistral Family = "mistral" // <s>[INST] …[/INST] …</s> (Mistral v0.3 "v3" format)
	FamilyGemma   Family = "gemma"   // <start_of_turn>user\n…<end_of_turn>\n<start_of_turn>model\n
)

// family describes one built-in format.
type family struct {
	bos    string   // default BOS text when the model does not say
	eos    string   // default EOS text when the model does not say
	stops  []string // strings that end an assistant turn in generated text
	render func(f *family, bos, eos string, msgs []Message, addGen bool) string
}

var families = map[Family]*family{
	FamilyChatML:  {stops: []string{"<|im_end|>", "<|im_start|>"}, render: renderChatML},
	FamilyLlama2:  {bos: "<s>", eos: "</s>", stops: []string{"</s>", "[INST]"}, render: renderLlama2},
	FamilyLlama3:  {bos: "<|begin_of_text|>", eos: "<|eot_id|>", stops: []string{"<|eot_id|>", "<|start_header_id|>", "<|end_of_text|>"}, render: renderLlama3},
	FamilyPhi3:    {bos: "<s>", eos: "<|endoftext|>", stops: []string{"<|end|>", "<|user|>", "<|endoftext|>"}, render: renderPhi3},
	FamilyMistral: {bos: "<s>", eos: "</s>", stops: []string{"</s>", "[INST]"}, render: renderMistral},
	FamilyGemma:   {bos: "<bos>", eos: "<eos>", stops: []string{"<end_of_turn>", "<start_of_turn>"}, render: renderGemma},
}

// Families lists the built-in format names, sorted.
func Families() []Family {
	out := make([]Family, 0, len(families))
	for f := range families {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Detect tells which built-in family a Jinja chat template renders, from
// marker strings it contains (the way llama.cpp's llm_chat_detect_template
// does). It returns FamilyUnknown when nothing matches. A bare family name
// ("chatml", "llama3", …) is accepted as well.
func Detect(tmpl string) Family {
	if _, ok := families[Family(tmpl)]; ok {
		return Family(tmpl)
	}
	has := func(s string) bool { return strings.Contains(tmpl, s) }
	switch {
	case has("<|im_start|>"):
		return FamilyChatML
	case has("<|start_header_id|>") && has("<|end_header_id|>"):
		return FamilyLlama3
	case has("<start_of_turn>"):
		return FamilyGemma
	case has("<|assistant|>") && has("<|end|>"):
		return FamilyPhi3
	case has("[INST]"):
		// Llama-2 templates wrap a system prompt in <<SYS>>; Mistral's do not.
		if has("<<SYS>>") {
			return FamilyLlama2
		}
		return FamilyMistral
	}
	return FamilyUnknown
}

func renderChatML(_ *family, _, _ string, msgs []Message, addGen bool) string {
	var sb strings.Builder
	for _, m := range msgs {
		sb.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
	}
	if addGen {
		sb.WriteString("<|im_start|>assistant\n")
	}
	return sb.String()
}

func renderLlama3(_ *family, bos, _ string, msgs []Message, addGen bool) string {
	var sb strings.Builder
	sb.WriteString(bos)
	for _, m := range msgs {
		sb.WriteString("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n" + strings.TrimSpace(m.Content) + "<|eot_id|>")
	}
	if addGen {
		sb.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
	return sb.String()
}

// renderLlama2 follows Meta's Llama-2-chat template: the system prompt goes
// inside the first [INST] between <<SYS>> markers and every user turn opens
// with BOS. The format always ends ready for the assistant, so addGen has no
// effect.
func renderLlama2(_ *family, bos, eos string, msgs []Message, _ bool) string {
	var sb strings.Builder
	system, rest := splitSystem(msgs)
	for i, m := range rest {
		content := strings.TrimSpace(m.Content)
		switch m.Role {
		case RoleUser:
			if i == 0 && system != "" {
				content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content
			}
			sb.WriteString(bos + "[INST] " + content + " [/INST]")
		case RoleAssistant:
			sb.WriteString(" " + content + " " + eos)
		}
	}
	return sb.String()
}

// renderMistral writes Mistral's v3 format. Unlike the v0.3 Jinja template,
// which moves the system prompt to the last user turn, the system prompt
// stays in the first one (as llama.cpp does), so each turn's rendering is a
// prefix of the next one's.
func renderMistral(_ *family, bos, eos string, msgs []Message, _ bool) string {
	var sb strings.Builder
	sb.WriteString(bos)
	system, rest := splitSystem(msgs)
	first := true
	for _, m := range rest {
		switch m.Role {
		case RoleUser:
			content := m.Content
			if first && system != "" {
				content = system + "\n\n" + content
			}
			first = false
			sb.WriteString("[INST] " + content + "[/INST]")
		case RoleAssistant:
			sb.WriteString(" " + strings.TrimSpace(m.Content) + eos)
		}
	}
	return sb.String()
}

func renderPhi3(_ *family, bos, _ string, msgs []Message, addGen bool) string {
	var sb strings.Builder
	sb.WriteString(bos)
	for _, m := range msgs {
		sb.WriteString("<|" + m.Role + "|>\n" + m.Content + "<|end|>\n")
	}
	if addGen {
		sb.WriteString("<|assistant|>\n")
	}
	return sb.String()
}

// renderGemma writes Gemma's turns; Gemma has no system role, so the system
// prompt is merged into the first user turn (as llama.cpp does).
func renderGemma(_ *family, bos, _ string, msgs []Message, addGen bool) string {
	var sb strings.Builder
	sb.WriteString(bos)
	system, rest := splitSystem(msgs)
	for _, m := range rest {
		role := m.Role
		content := strings.TrimSpace(m.Content)
		if role == RoleAssistant {
			role = "model"
		} else if system != "" {
			content = system + "\n\n" + content
			system = ""
		}
		sb.WriteString("<start_of_turn>" + role + "\n" + content + "<end_of_turn>\n")
	}
	if addGen {
		sb.WriteString("<start_of_turn>model\n")
	}
	return sb.String()
}

// splitSystem joins every system message (trimmed) and returns the others.
func splitSystem(msgs []Message) (string, []Message) {
	var sys []string
	rest := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		if m.Role == RoleSystem {
			if s := strings.TrimSpace(m.Content); s != "" {
				sys = append(sys, s)
			}
			continue
		}
		rest = append(rest, m)
	}
	return strings.Join(sys, "\n\n"), rest
}
