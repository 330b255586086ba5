package app_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

var ctrlEnter = &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// sendMessage types text and presses Ctrl+Enter, then waits for the reply
// to start.
func (h *harness) sendMessage(text string) {
	h.t.Helper()
	in := h.u.ChatInput()
	h.w.Canvas().Focus(in)
	test.Type(in, text)
	in.TypedShortcut(ctrlEnter)
	id := h.u.ChatCurrent()
	h.waitFor("reply to start", func() bool { return h.b.Streaming(id) })
}

// windowShortcut types s on the window's canvas, as the desktop driver does
// when no focused widget takes it. The test driver's canvas wraps the
// software canvas that holds the registered shortcuts.
func (h *harness) windowShortcut(s fyne.Shortcut) {
	h.t.Helper()
	h.w.Canvas().Unfocus()
	inner := reflect.ValueOf(h.w.Canvas()).Elem().FieldByName("WindowlessCanvas")
	sc, ok := inner.Interface().(fyne.Shortcutable)
	if !ok {
		h.t.Fatal("the test canvas does not handle shortcuts")
	}
	sc.TypedShortcut(s)
}

func TestChatStreamsThenStops(t *testing.T) {
	h := start(t, demo.Options{}, app.TabChat)
	if got := h.u.ChatCurrent(); got != "kv" {
		t.Fatalf("open conversation %q, want the most recent (kv)", got)
	}
	before := len(h.u.ChatMessages())
	h.sendMessage("Say hello")
	if got := h.u.ChatInput().Text; got != "" {
		t.Errorf("input not cleared: %q", got)
	}
	msgs := h.u.ChatMessages()
	if len(msgs) != before+2 || msgs[before] != "Say hello" {
		t.Fatalf("messages after send: %q", msgs[before:])
	}
	if !h.u.ChatSend().Disabled() || h.u.ChatStop().Disabled() {
		t.Error("while replying Send should be disabled and Stop enabled")
	}
	for _, tok := range []string{"Hello", " **there**", ", friend"} {
		if !h.b.Emit("kv", tok) {
			t.Fatal("emit: no reply running")
		}
	}
	h.waitFor("streamed tokens", func() bool { return last(h.u.ChatMessages()) == "Hello there, friend" })
	if got := h.u.ChatRate(); got != "18.4 tok/s" {
		t.Errorf("rate %q", got)
	}

	h.u.ChatInput().TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	h.waitFor("reply to stop", func() bool { return !h.u.ChatSend().Disabled() })
	if !h.u.ChatStop().Disabled() {
		t.Error("Stop still enabled after the reply ended")
	}
	if got := last(h.u.ChatStats()); !strings.Contains(got, "3 tokens") || !strings.Contains(got, "stopped") {
		t.Errorf("stats line %q, want 3 tokens … stopped", got)
	}
	ms, err := h.b.Messages(context.Background(), "kv")
	if err != nil {
		t.Fatal(err)
	}
	if m := ms[len(ms)-1]; m.Role != app.RoleAssistant || m.Stats.Finish != "cancelled" || m.Text != "Hello **there**, friend" {
		t.Errorf("stored reply %+v", m)
	}
}

func TestChatFinishAndRegenerate(t *testing.T) {
	h := start(t, demo.Options{}, app.TabChat)
	h.sendMessage("Write a haiku")
	h.b.Emit("kv", "Embers")
	h.b.Finish("kv")
	h.waitFor("reply to finish", func() bool { return !h.u.ChatSend().Disabled() })
	if got := last(h.u.ChatStats()); got != "1 tokens · 18.4 tok/s" {
		t.Errorf("stats %q", got)
	}
	n := len(h.u.ChatMessages())

	test.Tap(h.u.ChatRegenerate())
	h.waitFor("regenerated reply to start", func() bool { return h.b.Streaming("kv") })
	h.b.Emit("kv", "Coals")
	h.b.Finish("kv")
	h.waitFor("regenerated reply", func() bool { return last(h.u.ChatMessages()) == "Coals" && !h.u.ChatSend().Disabled() })
	if got := len(h.u.ChatMessages()); got != n {
		t.Errorf("%d messages after regenerate, want %d (the old reply replaced)", got, n)
	}
	ms, _ := h.b.Messages(context.Background(), "kv")
	if len(ms) != n || ms[n-1].Text != "Coals" {
		t.Errorf("backend has %d messages ending %q", len(ms), ms[len(ms)-1].Text)
	}
}

func TestChatSendIgnoresBlankInput(t *testing.T) {
	h := start(t, demo.Options{}, app.TabChat)
	n := len(h.u.ChatMessages())
	test.Type(h.u.ChatInput(), "   ")
	test.Tap(h.u.ChatSend())
	h.settle()
	if h.b.Streaming("kv") || len(h.u.ChatMessages()) != n {
		t.Error("blank input was sent")
	}
}

func TestNewChatShortcut(t *testing.T) {
	h := start(t, demo.Options{}, app.TabSettings)
	h.windowShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault})
	h.waitFor("new conversation", func() bool { return h.u.ChatCurrent() == "c4" })
	if h.u.SelectedTab() != app.TabChat {
		t.Errorf("tab %q after Ctrl+N, want chat", h.u.SelectedTab())
	}
	if h.u.ChatTitle() != "New chat" || len(h.u.ChatMessages()) != 0 {
		t.Errorf("new chat shows %q with %d messages", h.u.ChatTitle(), len(h.u.ChatMessages()))
	}
	h.settle()
	if cs := h.u.ChatConversations(); len(cs) != 4 || cs[0].ID != "c4" {
		t.Errorf("conversation list %v", cs)
	}
	// Ctrl+Enter from the window (input not focused) sends too.
	h.u.ChatInput().SetText("hello")
	h.windowShortcut(ctrlEnter)
	h.waitFor("reply in the new chat", func() bool { return h.b.Streaming("c4") })
	h.b.Finish("c4")
	h.waitFor("title from the first message", func() bool { return h.u.ChatTitle() == "hello" })
}

func TestChatOffloadBadge(t *testing.T) {
	h := start(t, demo.Options{}, app.TabChat)
	if got := h.u.ChatBadge(); got != "Local only" {
		t.Fatalf("badge %q for a local conversation", got)
	}
	i := slices.IndexFunc(h.u.ChatConversations(), func(c app.Conversation) bool { return c.ID == "go-rust" })
	h.u.ChatConversationsList().Select(i)
	h.waitFor("go-rust open", func() bool { return h.u.ChatCurrent() == "go-rust" })
	if got := h.u.ChatBadge(); got != "Peers allowed" {
		t.Errorf("badge %q before a reply, want Peers allowed", got)
	}
	h.sendMessage("Which one is faster to compile?")
	h.b.Emit("go-rust", "Go")
	h.waitFor("peers badge", func() bool { return h.u.ChatBadge() == "Using 2 peers" })
	h.b.Finish("go-rust")
	h.waitFor("reply end", func() bool { return !h.u.ChatSend().Disabled() })

	h.u.ChatSettingsFill()
	h.u.ChatSettingsOffload().SetSelected(h.u.ChatSettingsOffload().Options[0])
	if err := h.u.ChatSettingsSave(); err != nil {
		t.Fatal(err)
	}
	h.waitFor("local badge", func() bool { return h.u.ChatBadge() == "Local only" })
	s, err := h.b.ConversationSettings("go-rust")
	if err != nil || s.Offload != app.OffloadLocal {
		t.Errorf("backend offload %v, %v", s.Offload, err)
	}
}

func TestChatSettingsForm(t *testing.T) {
	h := start(t, demo.Options{}, app.TabChat)
	h.u.ChatSettingsFill()
	if got := h.u.ChatSettingsPreset().Selected; got != "Balanced" {
		t.Errorf("preset %q", got)
	}
	h.u.ChatSettingsPreset().SetSelected("Precise")
	if got := h.u.ChatSettingsTemperature().Text; got != "0.2" {
		t.Errorf("Precise temperature %q", got)
	}
	h.u.ChatSettingsTemperature().SetText("3")
	if h.u.ChatSettingsPreset().Selected != "Custom" {
		t.Error("editing a value should switch the preset to Custom")
	}
	if err := h.u.ChatSettingsSave(); err == nil {
		t.Fatal("temperature 3 was accepted")
	}
	h.u.ChatSettingsTemperature().SetText("0.35")
	h.u.ChatSettingsSystem().SetText("Answer in French.")
	if err := h.u.ChatSettingsSave(); err != nil {
		t.Fatal(err)
	}
	h.waitFor("settings stored", func() bool {
		s, _ := h.b.ConversationSettings("kv")
		return s.Sampling.Temperature == 0.35
	})
	s, _ := h.b.ConversationSettings("kv")
	if s.SystemPrompt != "Answer in French." || s.Sampling.Preset != "custom" || s.Sampling.TopK != 20 {
		t.Errorf("stored %+v", s)
	}
}

func TestChatModelPicker(t *testing.T) {
	h := start(t, demo.Options{}, app.TabChat)
	sel := h.u.ChatModel()
	if sel.Selected != "Qwen2.5 7B Instruct" || len(sel.Options) != 4 || sel.Options[3] != "Llama 3.3 70B Instruct (peers)" {
		t.Fatalf("model picker shows %q of %v", sel.Selected, sel.Options)
	}
	sel.SetSelected("TinyLlama 1.1B Chat")
	h.waitFor("model stored", func() bool {
		s, _ := h.b.ConversationSettings("kv")
		return s.Model == "tinyllama-1.1b-chat-q4_k_m"
	})
}
