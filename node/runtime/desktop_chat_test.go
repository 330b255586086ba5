package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/chat"
)

// greedySettings are sampling settings that always pick the likeliest
// token, with a reply of at most maxTokens.
func greedySettings(maxTokens int) SamplingSettings {
	return SamplingSettings{Preset: PresetCustom, Temperature: 0, TopP: 1, TopK: 0, MinP: 0, RepeatPenalty: 1, MaxTokens: maxTokens}
}

// TestDesktopChat creates a conversation, streams a reply, regenerates it,
// and finds it all again after a restart.
func TestDesktopChat(t *testing.T) {
	cfg := testDesktopConfig(t)
	d := openDesktop(t, cfg)
	model := withStories(t, d)
	ctx := context.Background()

	c, err := d.NewConversation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != NewChatTitle || c.Settings.Model != model.ID || c.Settings.Offload || c.Settings.Sampling != DefaultSampling() {
		t.Fatalf("new conversation %+v", c)
	}
	set := ChatSettings{Model: model.ID, System: "You tell short stories.", Sampling: greedySettings(24)}
	if err := d.Configure(ctx, c.ID, set); err != nil {
		t.Fatal(err)
	}
	if err := d.Configure(ctx, c.ID, ChatSettings{Model: "no-such-model", Sampling: greedySettings(1)}); err == nil {
		t.Fatal("configured a model that is not installed")
	}
	bad := set
	bad.Sampling.TopP = 2
	if err := d.Configure(ctx, c.ID, bad); err == nil || !strings.Contains(err.Error(), "top-p") {
		t.Fatalf("top-p 2 accepted or not named: %v", err)
	}

	ch, err := d.Send(ctx, c.ID, "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Send(ctx, c.ID, "again"); !errors.Is(err, ErrTurnRunning) {
		t.Errorf("a second send during a reply: %v", err)
	}
	text, deltas, final := drain(t, ch)
	if final.Err != nil || deltas == 0 || text == "" {
		t.Fatalf("reply %q in %d deltas, final %+v", text, deltas, final)
	}
	if st := final.Stats; (st.Finish != "stop" && st.Finish != "length") || st.Tokens == 0 || st.Tokens > 24 || st.TokensPerSec <= 0 || st.Peers != 0 {
		t.Fatalf("final stats %+v", st)
	}
	msgs, err := d.Messages(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Role != chat.RoleUser || msgs[1].Role != chat.RoleAssistant || msgs[1].Text != text || msgs[1].Stats != final.Stats {
		t.Fatalf("messages %+v", msgs)
	}
	convs, err := d.Conversations(ctx)
	if err != nil || len(convs) != 1 || convs[0].Title != "Once upon a time" || convs[0].Settings != set {
		t.Fatalf("conversations %+v, %v", convs, err)
	}

	// Greedy sampling on the same prompt: regenerating gives the same reply.
	ch, err = d.Regenerate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	again, _, final2 := drain(t, ch)
	if final2.Err != nil || again != text {
		t.Fatalf("regenerated %q (%v), want %q", again, final2.Err, text)
	}
	if msgs, _ := d.Messages(ctx, c.ID); len(msgs) != 2 || msgs[1].Text != again {
		t.Fatalf("after regenerate: %+v", msgs)
	}

	// A restart finds the conversation, its settings and messages.
	d.Close()
	d2 := openDesktop(t, cfg)
	convs, err = d2.Conversations(ctx)
	if err != nil || len(convs) != 1 || convs[0].ID != c.ID || convs[0].Settings != set {
		t.Fatalf("after restart: %+v, %v", convs, err)
	}
	msgs, err = d2.Messages(ctx, c.ID)
	// The reply's statistics are stored with it.
	if err != nil || len(msgs) != 2 || msgs[1].Text != text || msgs[1].Stats != final2.Stats || msgs[0].Stats != (ReplyStats{}) {
		t.Fatalf("messages after restart: %+v, %v; want the reply's stats %+v", msgs, err, final2.Stats)
	}
	if err := d2.RenameConversation(ctx, c.ID, "  Stories  "); err != nil {
		t.Fatal(err)
	}
	if got, _ := d2.Conversation(c.ID); got.Title != "Stories" {
		t.Errorf("renamed to %q", got.Title)
	}
	if err := d2.DeleteConversation(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.Messages(ctx, c.ID); !errors.Is(err, ErrNoConversation) {
		t.Errorf("messages of a deleted conversation: %v", err)
	}
}

// TestDesktopChatStop stops a reply after its first text: it ends with
// Finish "cancelled" and what was written is kept.
func TestDesktopChatStop(t *testing.T) {
	d := openDesktop(t, testDesktopConfig(t))
	model := withStories(t, d)
	ctx := context.Background()
	c, err := d.NewConversation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Configure(ctx, c.ID, ChatSettings{Model: model.ID, Sampling: greedySettings(0)}); err != nil {
		t.Fatal(err)
	}
	ch, err := d.Send(ctx, c.ID, "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	first := <-ch
	if first.Done || first.Text == "" {
		t.Fatalf("first delta %+v", first)
	}
	d.Stop(c.ID)
	rest, _, final := drain(t, ch)
	if final.Err != nil || final.Stats.Finish != "cancelled" {
		t.Fatalf("final %+v", final)
	}
	msgs, err := d.Messages(ctx, c.ID)
	if err != nil || len(msgs) != 2 || msgs[1].Text != first.Text+rest || msgs[1].Stats.Finish != "cancelled" {
		t.Fatalf("messages %+v, %v", msgs, err)
	}

	// Cancelling the caller's context stops a reply too.
	cctx, cancel := context.WithCancel(ctx)
	ch, err = d.Send(cctx, c.ID, "And then")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, _, final := drain(t, ch); final.Stats.Finish != "cancelled" && final.Stats.Finish != "stop" {
		t.Fatalf("final after cancel %+v", final)
	}
}

// TestDesktopChatErrors: turns that cannot run end with a clear error.
func TestDesktopChatErrors(t *testing.T) {
	cfg := testDesktopConfig(t)
	cfg.DiscoveryWait = 300 * time.Millisecond
	d := openDesktop(t, cfg)
	ctx := context.Background()
	c, err := d.NewConversation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := d.Send(ctx, c.ID, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, final := drain(t, ch); !errors.Is(final.Err, ErrNoModel) || final.Stats.Finish != "error" {
		t.Fatalf("send without a model: %+v", final)
	}
	if _, err := d.Send(ctx, c.ID, "   "); err == nil {
		t.Error("sent an empty message")
	}
	if _, err := d.Send(ctx, "nope", "hello"); !errors.Is(err, ErrNoConversation) {
		t.Errorf("send to a missing conversation: %v", err)
	}

	// Offloading with no provider anywhere fails with a clear message.
	model := withStories(t, d)
	serve(t, d)
	if err := d.Configure(ctx, c.ID, ChatSettings{Model: model.ID, Sampling: greedySettings(8), Offload: true}); err != nil {
		t.Fatal(err)
	}
	ch, err = d.Regenerate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, final := drain(t, ch); !errors.Is(final.Err, ErrNoProviders) || !strings.Contains(final.Err.Error(), "local only") {
		t.Fatalf("offloading without providers: %+v", final)
	}

	// With offloading off in the settings, an offloading conversation is refused.
	s := d.Settings()
	s.Privacy = PrivacyNever
	if err := d.UpdateSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	ch, err = d.Regenerate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, final := drain(t, ch); !errors.Is(final.Err, ErrOffloadOff) {
		t.Fatalf("offloading while privacy says never: %+v", final)
	}
}

// TestSamplingEncoding: a conversation's sampling settings survive the
// store's one string.
func TestSamplingEncoding(t *testing.T) {
	for _, s := range append([]SamplingSettings{greedySettings(0), greedySettings(77)}, func() []SamplingSettings {
		var out []SamplingSettings
		for _, p := range SamplingPresets() {
			out = append(out, p.Sampling)
			p.Sampling.MaxTokens = 128
			out = append(out, p.Sampling)
		}
		return out
	}()...) {
		enc := encodeSampling(s)
		if got := decodeSampling(enc); got != s {
			t.Errorf("%+v → %q → %+v", s, enc, got)
		}
	}
	if got := encodeSampling(SamplingPresets()[1].Sampling); got != "precise" {
		t.Errorf("a preset is stored as %q", got)
	}
	edited := DefaultSampling()
	edited.Temperature = 0.3
	if got := decodeSampling(encodeSampling(edited)); got.Preset != PresetCustom || got.Temperature != 0.3 {
		t.Errorf("an edited preset came back as %+v", got)
	}
	if got := decodeSampling("weird?temperature=abc"); got != DefaultSampling() {
		t.Errorf("garbage decoded to %+v", got)
	}
}
