package chat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

// The conversation every fixture renders (the one Hugging Face's chat
// template docs and test suites use).
var (
	sysMsg    = Message{Role: RoleSystem, Content: "Be brief."}
	threeTurn = []Message{
		{Role: RoleUser, Content: "Hello, how are you?"},
		{Role: RoleAssistant, Content: "I'm doing great. How can I help you today?"},
		{Role: RoleUser, Content: "I'd like to show off how chat templating works!"},
	}
)

func withSystem(msgs []Message) []Message {
	return append([]Message{sysMsg}, msgs...)
}

func loadFixture(t *testing.T, name, bos, eos string) *Template {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "templates", name))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := FromString(string(src), bos, eos)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return tpl
}

// Expected renderings, derived by hand from each template's source; the
// ChatML, Llama-3 and Mistral ones agree with llama.cpp's built-in
// formatting (src/llama-chat.cpp) where the formats overlap, which
// TestBuiltinMatchesFixtures checks.
const (
	smolDefaultSys = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
	qwenDefaultSys = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
	chatmlTurns    = "<|im_start|>user\nHello, how are you?<|im_end|>\n" +
		"<|im_start|>assistant\nI'm doing great. How can I help you today?<|im_end|>\n" +
		"<|im_start|>user\nI'd like to show off how chat templating works!<|im_end|>\n"
	chatmlSys = "<|im_start|>system\nBe brief.<|im_end|>\n"
	chatmlGen = "<|im_start|>assistant\n"

	llama3Head = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" +
		"Cutting Knowledge Date: December 2023\nToday Date: 05 Mar 2025\n\n"
	llama3Turns = "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>" +
		"<|start_header_id|>assistant<|end_header_id|>\n\nI'm doing great. How can I help you today?<|eot_id|>" +
		"<|start_header_id|>user<|end_header_id|>\n\nI'd like to show off how chat templating works!<|eot_id|>"
	llama3Gen = "<|start_header_id|>assistant<|end_header_id|>\n\n"

	mistralTurns = "<s>[INST] Hello, how are you?[/INST] I'm doing great. How can I help you today?</s>" +
		"[INST] I'd like to show off how chat templating works![/INST]"
	mistralSysLast = "<s>[INST] Hello, how are you?[/INST] I'm doing great. How can I help you today?</s>" +
		"[INST] Be brief.\n\nI'd like to show off how chat templating works![/INST]"

	gemmaTurns = "<bos><start_of_turn>user\nHello, how are you?<end_of_turn>\n" +
		"<start_of_turn>model\nI'm doing great. How can I help you today?<end_of_turn>\n" +
		"<start_of_turn>user\nI'd like to show off how chat templating works!<end_of_turn>\n"
	gemmaGen = "<start_of_turn>model\n"

	phi3Turns = "<s><|user|>\nHello, how are you?<|end|>\n<|assistant|>\n" +
		"I'm doing great. How can I help you today?<|end|>\n" +
		"<|user|>\nI'd like to show off how chat templating works!<|end|>\n<|assistant|>\n"
)

func TestRealTemplates(t *testing.T) {
	fixed := time.Date(2025, 3, 5, 14, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		file     string
		bos, eos string
		family   Family
		msgs     []Message
		addGen   bool
		want     string
	}{
		{"smollm2", "smollm2-instruct.jinja", "<|im_start|>", "<|im_end|>", FamilyChatML, threeTurn, true, smolDefaultSys + chatmlTurns + chatmlGen},
		{"smollm2 system", "smollm2-instruct.jinja", "<|im_start|>", "<|im_end|>", FamilyChatML, withSystem(threeTurn), false, chatmlSys + chatmlTurns},
		{"qwen2.5", "qwen2.5-instruct.jinja", "", "<|im_end|>", FamilyChatML, threeTurn, false, qwenDefaultSys + chatmlTurns},
		{"qwen2.5 system gen", "qwen2.5-instruct.jinja", "", "<|im_end|>", FamilyChatML, withSystem(threeTurn), true, chatmlSys + chatmlTurns + chatmlGen},
		{"llama3.2", "llama-3.2-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", FamilyLlama3, threeTurn, true, llama3Head + "<|eot_id|>" + llama3Turns + llama3Gen},
		{"llama3.2 system", "llama-3.2-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", FamilyLlama3, withSystem(threeTurn), false, llama3Head + "Be brief.<|eot_id|>" + llama3Turns},
		{"mistral v0.3", "mistral-7b-instruct-v0.3.jinja", "<s>", "</s>", FamilyMistral, threeTurn, true, mistralTurns},
		{"mistral v0.3 system", "mistral-7b-instruct-v0.3.jinja", "<s>", "</s>", FamilyMistral, withSystem(threeTurn), true, mistralSysLast},
		{"gemma-2", "gemma-2-it.jinja", "<bos>", "<eos>", FamilyGemma, threeTurn, true, gemmaTurns + gemmaGen},
		{"gemma-2 no gen", "gemma-2-it.jinja", "<bos>", "<eos>", FamilyGemma, threeTurn, false, gemmaTurns},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl := loadFixture(t, tc.file, tc.bos, tc.eos)
			tpl.SetNow(func() time.Time { return fixed })
			if tpl.Family() != tc.family {
				t.Errorf("family %q, want %q", tpl.Family(), tc.family)
			}
			got, err := tpl.renderJinja(tc.msgs, tc.addGen) // no built-in fallback
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("render mismatch\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
}

func TestPhi3FromGGUF(t *testing.T) {
	f, err := gguf.Open(testmodels.Path(t, testmodels.VocabPhi3))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tpl, err := FromGGUF(f.Header)
	if err != nil {
		t.Fatal(err)
	}
	if !tpl.IsJinja() || tpl.Fallback() || tpl.Family() != FamilyPhi3 {
		t.Fatalf("template %s: jinja=%v fallback=%v", tpl.Name(), tpl.IsJinja(), tpl.Fallback())
	}
	if tpl.BOS() != "<s>" || tpl.EOS() != "<|endoftext|>" {
		t.Errorf("bos %q eos %q, want <s> <|endoftext|>", tpl.BOS(), tpl.EOS())
	}
	for _, gen := range []bool{false, true} { // phi-3's template always ends with <|assistant|>
		got, err := tpl.renderJinja(threeTurn, gen)
		if err != nil {
			t.Fatal(err)
		}
		if got != phi3Turns {
			t.Errorf("gen=%v\n got: %q\nwant: %q", gen, got, phi3Turns)
		}
	}
	stops := strings.Join(tpl.StopStrings(), " ")
	for _, s := range []string{"<|end|>", "<|endoftext|>"} {
		if !strings.Contains(stops, s) {
			t.Errorf("stop strings %q lack %q", stops, s)
		}
	}
}

func TestRaiseException(t *testing.T) {
	notAlternating := []Message{{Role: RoleUser, Content: "a"}, {Role: RoleUser, Content: "b"}}
	cases := []struct {
		name, file string
		msgs       []Message
		wantMsg    string
	}{
		{"mistral alternation", "mistral-7b-instruct-v0.3.jinja", notAlternating, "conversation roles must alternate user/assistant"},
		{"gemma alternation", "gemma-2-it.jinja", notAlternating, "Conversation roles must alternate"},
		{"gemma system", "gemma-2-it.jinja", withSystem(threeTurn), "System role not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl := loadFixture(t, tc.file, "<s>", "</s>")
			_, err := tpl.Render(tc.msgs, true)
			if !errors.Is(err, ErrTemplateRaised) {
				t.Fatalf("err = %v, want ErrTemplateRaised", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not carry the template's message %q", err, tc.wantMsg)
			}
		})
	}
}

func TestBOSEOSAndGenerationPrompt(t *testing.T) {
	src := "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}" +
		"{% if add_generation_prompt %}[assistant]{% endif %}"
	tpl, err := FromString(src, "<B>", "<E>")
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{{Role: RoleUser, Content: "hi"}}
	for _, tc := range []struct {
		gen  bool
		want string
	}{{false, "<B>[user]hi<E>"}, {true, "<B>[user]hi<E>[assistant]"}} {
		got, err := tpl.Render(msgs, tc.gen)
		if err != nil || got != tc.want {
			t.Errorf("gen=%v: %q, %v; want %q", tc.gen, got, err, tc.want)
		}
	}
	if _, err := tpl.Render(nil, true); !errors.Is(err, ErrNoMessages) {
		t.Errorf("empty messages: %v, want ErrNoMessages", err)
	}
}

func TestJinjaExtras(t *testing.T) {
	fixed := time.Date(2024, 7, 26, 9, 5, 3, 0, time.UTC)
	msgs := []Message{{Role: RoleUser, Content: "  padded  "}, {Role: RoleAssistant, Content: "x"}}
	cases := []struct {
		name, src, want string
	}{
		{"strip method", "{{ messages[0].content.strip() }}|", "padded|"},
		{"trim filter", "{{ messages[0]['content'] | trim }}|", "padded|"},
		{"strftime_now", `{{ strftime_now("%d %b %Y %H:%M:%S %A %B %y %j %%") }}`, "26 Jul 2024 09:05:03 Friday July 24 208 %"},
		{"namespace", "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", "2"},
		{"loop controls", "{% for i in range(10) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}", "023"},
		{"loop vars", "{% for m in messages %}{{ loop.index0 }}{{ loop.first }}{{ loop.last }};{% endfor %}", "0TrueFalse;1FalseTrue;"},
		{"tools none", "{% if tools is not none %}tools{% else %}none{% endif %}{% if not tools %}!{% endif %}", "none!"},
		{"slice and negative index", "{{ messages[1:] | length }}{{ messages[-1].role }}", "1assistant"},
		{"selectattr", "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}", "1"},
		{"tojson python style", `{{ {"b": [1, "é"], "a": "x<y"} | tojson }}`, `{"a": "x<y", "b": [1, "é"]}`},
		{"tojson indent", `{{ {"a": 1} | tojson(indent=2) }}`, "{\n  \"a\": 1\n}"},
		{"trim_blocks", "{% if true %}\nA\n{% endif %}\nB", "A\nB"},
		{"lstrip_blocks", "x\n    {% if true %}\nA\n    {% endif %}\ny", "x\nA\ny"},
		{"in dict", "{{ 'content' in messages[0] }}{{ 'tool_calls' in messages[0] }}", "TrueFalse"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := FromString(tc.src, "", "")
			if err != nil {
				t.Fatal(err)
			}
			tpl.SetNow(func() time.Time { return fixed })
			got, err := tpl.renderJinja(msgs, false)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRenderConcurrently(t *testing.T) {
	tpl := loadFixture(t, "mistral-7b-instruct-v0.3.jinja", "<s>", "</s>")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				got, err := tpl.Render(threeTurn, true)
				if err == nil && got != mistralTurns {
					err = errors.New("wrong rendering under concurrency: " + got)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
