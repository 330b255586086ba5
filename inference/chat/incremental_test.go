package chat

import (
	"testing"
	"time"
)

func TestCommonPrefix(t *testing.T) {
	cases := []struct {
		a, b []int32
		want int
	}{
		{nil, nil, 0},
		{[]int32{1, 2, 3}, []int32{1, 2, 3, 4}, 3},
		{[]int32{1, 2, 3}, []int32{1, 9, 3}, 1},
		{[]int32{5}, []int32{6}, 0},
	}
	for _, tc := range cases {
		if got := CommonPrefix(tc.a, tc.b); got != tc.want {
			t.Errorf("CommonPrefix(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := CommonPrefixString("<|im_start|>user", "<|im_start|>assistant"); got != len("<|im_start|>") {
		t.Errorf("CommonPrefixString = %d", got)
	}
}

// Turn after turn, the previous prompt plus the generated reply is a prefix
// of the next prompt, so a KV cache can be extended rather than rebuilt:
// for the built-in formats and for real templates with a pinned clock.
func TestRenderNextAppendOnly(t *testing.T) {
	fixed := time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC)
	llama := loadFixture(t, "llama-3.2-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>")
	llama.SetNow(func() time.Time { return fixed })
	qwen := loadFixture(t, "qwen2.5-instruct.jinja", "", "<|im_end|>")
	mistralJinja := loadFixture(t, "mistral-7b-instruct-v0.3.jinja", "<s>", "</s>")
	builtin := func(f Family) *Template {
		tpl, err := Builtin(string(f))
		if err != nil {
			t.Fatal(err)
		}
		return tpl
	}
	// After "[/INST]" a SentencePiece model's reply starts with "▁", which
	// decodes to a space; the [INST] formats render it that way.
	cases := []struct {
		name       string
		tpl        *Template
		system     bool
		lead       string
		appendOnly bool
	}{
		{"chatml", builtin(FamilyChatML), true, "", true},
		{"llama3", builtin(FamilyLlama3), true, "", true},
		{"mistral builtin keeps system first", builtin(FamilyMistral), true, " ", true},
		{"gemma", builtin(FamilyGemma), true, "", true},
		{"phi3", builtin(FamilyPhi3), true, "", true},
		{"llama2", builtin(FamilyLlama2), true, " ", true},
		{"llama3.2 jinja, pinned date", llama, true, "", true},
		{"qwen2.5 jinja", qwen, false, "", true},
		{"mistral v0.3 jinja moves the system prompt", mistralJinja, true, " ", false},
		{"mistral without the leading space", builtin(FamilyMistral), false, "", false},
	}
	replies := []string{"Fine, thanks.", "Sure: templates turn messages into text."}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conv []Message
			if tc.system {
				conv = append(conv, sysMsg)
			}
			conv = append(conv, threeTurn[0])
			prev := ""
			allAppend := true
			for turn := 0; turn < 2; turn++ {
				prompt, shared, appendOnly, err := tc.tpl.RenderNext(prev, conv)
				if err != nil {
					t.Fatal(err)
				}
				if shared > len(prev) || prompt[:shared] != prev[:shared] {
					t.Fatalf("turn %d: shared %d is not a common prefix", turn, shared)
				}
				allAppend = allAppend && appendOnly
				// The model answers; its reply (without the stop string) joins the cache.
				reply := tc.lead + replies[turn]
				prev = prompt + reply
				conv = append(conv, Message{Role: RoleAssistant, Content: reply}, Message{Role: RoleUser, Content: "And then?"})
			}
			if allAppend != tc.appendOnly {
				t.Errorf("append-only = %v, want %v", allAppend, tc.appendOnly)
			}
		})
	}
}
