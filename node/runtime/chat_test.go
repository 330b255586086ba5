package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/chat"
	"github.com/hearth-p2p/hearth/inference/sample"
)

// sharedModel returns a model from ../shared/models beside the repository.
func sharedModel(t testing.TB, name string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", "models", name)
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("shared model: %v", err)
			}
			return p
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above the working directory")
		}
	}
}

func openLocal(t testing.TB, name string) *LocalModel {
	t.Helper()
	lm, err := OpenModel(sharedModel(t, name), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.Close() })
	return lm
}

func greedyParams() sample.Params {
	p := sample.Default()
	p.Temperature = 0
	p.RepeatPenalty = 1
	return p
}

// TestChatReusesKVCache runs three turns of a conversation and checks that
// each turn evaluates only the tokens the cache does not hold, and that the
// replies equal those of a fresh cache.
func TestChatReusesKVCache(t *testing.T) {
	lm := openLocal(t, "TinyStories-656K-Q8_0.gguf")
	tmpl, err := chat.Builtin(string(chat.FamilyChatML))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewChatEngine(lm, ChatOptions{Context: 512, Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	msgs := []chat.Message{{Role: chat.RoleSystem, Content: "Tell stories."}}
	users := []string{"Once upon a time", "Tom had a red ball.", "The end"}
	prevCached, prevPrompt := 0, 0
	for turn, u := range users {
		msgs = append(msgs, chat.Message{Role: chat.RoleUser, Content: u})
		var streamed strings.Builder
		req := ChatRequest{Session: "conv", Messages: msgs, Sampling: greedyParams(), MaxTokens: 24}
		r, err := e.Complete(ctx, req, func(s string) { streamed.WriteString(s) })
		if err != nil {
			t.Fatal(err)
		}
		if streamed.String() != r.Text || r.Completion == 0 {
			t.Fatalf("turn %d: streamed %q, reply %q (%d tokens)", turn, streamed.String(), r.Text, r.Completion)
		}
		if r.Reused+r.Evaluated != r.PromptTokens {
			t.Fatalf("turn %d: reused %d + evaluated %d != prompt %d", turn, r.Reused, r.Evaluated, r.PromptTokens)
		}
		if turn == 0 && r.Reused != 0 {
			t.Fatalf("first turn reused %d tokens", r.Reused)
		}
		if turn > 0 {
			// The whole previous prompt is reused, and the reply as far as
			// its text re-tokenizes to the ids the model generated.
			if r.Reused < prevPrompt || r.Reused > prevCached {
				t.Errorf("turn %d: reused %d tokens; previous prompt %d, cached %d", turn, r.Reused, prevPrompt, prevCached)
			}
			if r.Evaluated >= r.PromptTokens/2 {
				t.Errorf("turn %d: evaluated %d of %d prompt tokens", turn, r.Evaluated, r.PromptTokens)
			}
		}
		t.Logf("turn %d: prompt %d tokens, reused %d, evaluated %d, generated %d", turn, r.PromptTokens, r.Reused, r.Evaluated, r.Completion)
		prevCached, prevPrompt = r.Stats.Cached, r.PromptTokens
		// A fresh cache gives the very same reply.
		fresh, err := e.Complete(ctx, ChatRequest{Messages: msgs, Sampling: greedyParams(), MaxTokens: 24}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.Text != r.Text || fresh.Reused != 0 {
			t.Fatalf("turn %d: with reuse %q, fresh %q (reused %d)", turn, r.Text, fresh.Text, fresh.Reused)
		}
		msgs = append(msgs, chat.Message{Role: chat.RoleAssistant, Content: r.Text})
	}
}

func TestChatRegenerateAndCancel(t *testing.T) {
	lm := openLocal(t, "stories260K.gguf")
	e, err := NewChatEngine(lm, ChatOptions{Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	msgs := []chat.Message{{Role: chat.RoleUser, Content: "Lily"}}
	req := ChatRequest{Session: "c", Messages: msgs, Sampling: greedyParams(), MaxTokens: 16}
	a, err := e.Complete(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Regenerating the same turn reuses the whole prompt but one token.
	b, err := e.Complete(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Text != b.Text || b.Evaluated != 1 {
		t.Fatalf("regenerate: %q vs %q, evaluated %d", a.Text, b.Text, b.Evaluated)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	r, err := e.Complete(ctx, ChatRequest{Session: "c", Messages: msgs, Sampling: greedyParams(), MaxTokens: 100}, func(string) {
		if n++; n == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || r == nil || r.Finish != "cancelled" {
		t.Fatalf("cancel: %v %+v", err, r)
	}
	// The session still works after a cancelled turn.
	c, err := e.Complete(context.Background(), req, nil)
	if err != nil || c.Text != a.Text {
		t.Fatalf("after cancel: %v %q", err, c.Text)
	}
}

func TestChatContextLimits(t *testing.T) {
	lm := openLocal(t, "stories260K.gguf")
	e, err := NewChatEngine(lm, ChatOptions{Context: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	long := strings.Repeat("Lily and Tom play in the park. ", 20)
	_, err = e.Complete(context.Background(), ChatRequest{Messages: []chat.Message{{Role: chat.RoleUser, Content: long}}, Sampling: greedyParams()}, nil)
	if !errors.Is(err, chat.ErrContextExceeded) {
		t.Fatalf("oversized message: %v", err)
	}
	// Old turns are dropped with a notice rather than failing.
	var msgs []chat.Message
	for i := 0; i < 6; i++ {
		msgs = append(msgs, chat.Message{Role: chat.RoleUser, Content: "Tom had a ball."}, chat.Message{Role: chat.RoleAssistant, Content: "He played with it all day."})
	}
	msgs = append(msgs, chat.Message{Role: chat.RoleUser, Content: "Then?"})
	r, err := e.Complete(context.Background(), ChatRequest{Messages: msgs, Sampling: greedyParams(), MaxTokens: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Notice, "dropped") {
		t.Errorf("no notice: %+v", r)
	}
}
