package chat

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

func TestDetect(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want Family
	}{
		{"smollm2 fixture", "@smollm2-instruct.jinja", FamilyChatML},
		{"qwen2.5 fixture", "@qwen2.5-instruct.jinja", FamilyChatML},
		{"llama3.2 fixture", "@llama-3.2-instruct.jinja", FamilyLlama3},
		{"mistral fixture", "@mistral-7b-instruct-v0.3.jinja", FamilyMistral},
		{"gemma fixture", "@gemma-2-it.jinja", FamilyGemma},
		{"llama2 chat", "{% if messages[0]['role'] == 'system' %}<<SYS>>\\n{% endif %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}", FamilyLlama2},
		{"phi3", "{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + '\\n'}}", FamilyPhi3},
		{"family name", "llama3", FamilyLlama3},
		{"unknown", "{% for m in messages %}{{ m.content }}{% endfor %}", FamilyUnknown},
		{"empty", "", FamilyUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			if name, ok := strings.CutPrefix(src, "@"); ok {
				b, err := os.ReadFile(filepath.Join("testdata", "templates", name))
				if err != nil {
					t.Fatal(err)
				}
				src = string(b)
			}
			if got := Detect(src); got != tc.want {
				t.Errorf("Detect = %q, want %q", got, tc.want)
			}
		})
	}
}

// The built-in formats render what the models' own templates render for the
// same conversation (where the template has no extra text such as a default
// system prompt or a date header), and llama.cpp's built-ins agree.
func TestBuiltinMatchesFixtures(t *testing.T) {
	cases := []struct {
		family Family
		msgs   []Message
		addGen bool
		want   string
	}{
		{FamilyChatML, withSystem(threeTurn), true, chatmlSys + chatmlTurns + chatmlGen},
		{FamilyChatML, threeTurn, false, chatmlTurns},
		{FamilyLlama3, threeTurn, true, "<|begin_of_text|>" + llama3Turns + llama3Gen},
		{FamilyMistral, threeTurn, true, mistralTurns},
		{FamilyMistral, withSystem(threeTurn), true, "<s>[INST] Be brief.\n\nHello, how are you?[/INST] I'm doing great. How can I help you today?</s>[INST] I'd like to show off how chat templating works![/INST]"},
		{FamilyGemma, threeTurn, true, gemmaTurns + gemmaGen},
		{FamilyGemma, withSystem(threeTurn)[:2], false, "<bos><start_of_turn>user\nBe brief.\n\nHello, how are you?<end_of_turn>\n"},
		{FamilyPhi3, threeTurn, true, "<s><|user|>\nHello, how are you?<|end|>\n<|assistant|>\nI'm doing great. How can I help you today?<|end|>\n<|user|>\nI'd like to show off how chat templating works!<|end|>\n<|assistant|>\n"},
		{FamilyLlama2, withSystem(threeTurn), true, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHello, how are you? [/INST] I'm doing great. How can I help you today? </s><s>[INST] I'd like to show off how chat templating works! [/INST]"},
	}
	for _, tc := range cases {
		t.Run(string(tc.family), func(t *testing.T) {
			tpl, err := Builtin(string(tc.family))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tpl.Render(tc.msgs, tc.addGen)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
	if _, err := Builtin("vicuna"); !errors.Is(err, ErrUnknownTemplate) {
		t.Errorf("Builtin(vicuna): %v, want ErrUnknownTemplate", err)
	}
}

func TestStopStrings(t *testing.T) {
	cases := []struct {
		family Family
		want   []string
	}{
		{FamilyChatML, []string{"<|im_end|>"}},
		{FamilyLlama3, []string{"<|eot_id|>"}},
		{FamilyPhi3, []string{"<|end|>"}},
		{FamilyMistral, []string{"</s>", "[INST]"}},
		{FamilyLlama2, []string{"</s>", "[INST]"}},
		{FamilyGemma, []string{"<end_of_turn>"}},
	}
	for _, tc := range cases {
		tpl, err := Builtin(string(tc.family))
		if err != nil {
			t.Fatal(err)
		}
		got := tpl.StopStrings()
		for _, w := range tc.want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("%s: stop strings %q lack %q", tc.family, got, w)
			}
		}
	}
}

// headerWith builds a GGUF header holding the given metadata.
func headerWith(t *testing.T, kv map[string]any) *gguf.Header {
	t.Helper()
	w := gguf.NewWriter()
	w.Set("general.architecture", "llama")
	for k, v := range kv {
		w.Set(k, v)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	h, err := gguf.ParseHeader(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestFromGGUFFallbacks(t *testing.T) {
	t.Run("no template: chatml", func(t *testing.T) {
		f, err := gguf.Open(testmodels.Path(t, testmodels.Stories260K))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tpl, err := FromGGUF(f.Header)
		if err != nil {
			t.Fatal(err)
		}
		if !tpl.Fallback() || tpl.IsJinja() || tpl.Family() != FamilyChatML {
			t.Fatalf("got %s, want chatml fallback", tpl.Name())
		}
		if tpl.BOS() != "<s>" || tpl.EOS() != "</s>" {
			t.Errorf("bos/eos %q %q, want the vocabulary's <s> </s>", tpl.BOS(), tpl.EOS())
		}
		got, err := tpl.Render([]Message{{Role: RoleUser, Content: "hi"}}, true)
		if err != nil || got != "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n" {
			t.Errorf("render %q, %v", got, err)
		}
	})
	t.Run("no template: llama3 vocabulary", func(t *testing.T) {
		h := headerWith(t, map[string]any{"tokenizer.ggml.tokens": []string{"a", "<|start_header_id|>", "<|begin_of_text|>"}, "tokenizer.ggml.bos_token_id": uint32(2)})
		tpl, err := FromGGUF(h)
		if err != nil {
			t.Fatal(err)
		}
		if tpl.Family() != FamilyLlama3 || tpl.BOS() != "<|begin_of_text|>" {
			t.Errorf("got %s bos %q", tpl.Name(), tpl.BOS())
		}
	})
	t.Run("unparsable template of a known family", func(t *testing.T) {
		h := headerWith(t, map[string]any{KeyChatTemplate: "{% for m in messages %}<|im_start|>{{ m.role }"})
		tpl, err := FromGGUF(h)
		if err != nil {
			t.Fatal(err)
		}
		if !tpl.Fallback() || tpl.Family() != FamilyChatML || tpl.Source() == "" {
			t.Errorf("got %s", tpl.Name())
		}
	})
	t.Run("unparsable template of an unknown family", func(t *testing.T) {
		h := headerWith(t, map[string]any{KeyChatTemplate: "{% for m in messages %}{{ m.role }"})
		if _, err := FromGGUF(h); !errors.Is(err, ErrBadTemplate) {
			t.Errorf("err = %v, want ErrBadTemplate", err)
		}
	})
	t.Run("template of the wrong type", func(t *testing.T) {
		h := headerWith(t, map[string]any{KeyChatTemplate: uint32(7)})
		if _, err := FromGGUF(h); !errors.Is(err, gguf.ErrWrongType) {
			t.Errorf("err = %v, want gguf.ErrWrongType", err)
		}
	})
	t.Run("nil header", func(t *testing.T) {
		if _, err := FromGGUF(nil); err == nil {
			t.Error("no error for a nil header")
		}
	})
}

func TestRenderFallbackAtRuntime(t *testing.T) {
	msgs := []Message{{Role: RoleUser, Content: "hi"}}
	// Parses, but calls a filter gonja does not have.
	known, err := FromString("{% for m in messages %}<|im_start|>{{ m.role | nosuchfilter }}{% endfor %}", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := known.renderJinja(msgs, true); !errors.Is(err, ErrRender) {
		t.Fatalf("jinja render: %v, want ErrRender", err)
	}
	got, err := known.Render(msgs, true)
	if err != nil || got != "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n" {
		t.Errorf("fallback render %q, %v", got, err)
	}
	unknown, err := FromString("{{ messages[0].content | nosuchfilter }}", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unknown.Render(msgs, true); !errors.Is(err, ErrRender) {
		t.Errorf("unknown family: %v, want ErrRender", err)
	}
}

func TestHostileTemplates(t *testing.T) {
	msgs := []Message{{Role: RoleUser, Content: "hi"}}
	cases := []struct {
		name, src string
		want      error
	}{
		{"huge output", "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(20) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}{{ ns.s }}", ErrRender},
		{"huge range", "{% for i in range(100000000) %}{% endfor %}", ErrRender},
		{"include a file", "{% include '/etc/passwd' %}", nil},
		{"empty", "   ", ErrBadTemplate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := FromString(tc.src, "", "")
			if err == nil {
				_, err = tpl.Render(msgs, true)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && err == nil {
				t.Fatal("a template read a file from disk")
			}
		})
	}
}

func TestStrftimeNowDefaultsToToday(t *testing.T) {
	tpl, err := FromString(`{{ strftime_now("%Y-%m-%d") }}`, "", "")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Format("2006-01-02")
	got, err := tpl.Render([]Message{{Role: RoleUser}}, false)
	after := time.Now().Format("2006-01-02")
	if err != nil || (got != before && got != after) {
		t.Errorf("strftime_now = %q, %v; want today %s", got, err, before)
	}
}

// FuzzTemplate feeds arbitrary template sources and messages through
// compile and render: errors are fine, panics and hangs are not. (Sources
// with nested loops are skipped: gonja runs a few µs per iteration, so a
// 16384² loop is slow by design, not a bug.)
func FuzzTemplate(f *testing.F) {
	for _, name := range []string{"smollm2-instruct.jinja", "qwen2.5-instruct.jinja", "gemma-2-it.jinja"} {
		b, err := os.ReadFile(filepath.Join("testdata", "templates", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), "user", "hi")
	}
	f.Add("{{ raise_exception('x') }}", "user", "")
	f.Add("{% for m in messages %}{{ m.content | tojson(indent=2) }}{% endfor %}", "assistant", "\x00\"")
	f.Fuzz(func(t *testing.T, src, role, content string) {
		if strings.Count(src, "for") > 1 || strings.Count(src, "range") > 1 {
			t.Skip()
		}
		tpl, err := FromString(src, "<s>", "</s>")
		if err != nil {
			return
		}
		_, _ = tpl.Render([]Message{{Role: role, Content: content}}, true)
	})
}
