package bridge

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/hearth-p2p/hearth/app"
)

// uiHarness runs the real GUI on the Fyne test driver over the real
// bridge. UI updates are queued and run on the test's goroutine.
type uiHarness struct {
	t *testing.T
	u *app.UI
	w fyne.Window

	mu    sync.Mutex
	queue []func()
}

func startUI(t *testing.T, b app.Backend, tab string) *uiHarness {
	h := &uiHarness{t: t}
	a := test.NewTempApp(t)
	h.u = app.New(a, b, app.Options{Tab: tab, Dispatch: h.dispatch})
	h.w = test.NewTempWindow(t, nil)
	h.u.Attach(h.w)
	h.u.Start()
	t.Cleanup(h.u.Close)
	return h
}

func (h *uiHarness) dispatch(f func()) {
	h.mu.Lock()
	h.queue = append(h.queue, f)
	h.mu.Unlock()
}

func (h *uiHarness) pump() {
	h.mu.Lock()
	q := h.queue
	h.queue = nil
	h.mu.Unlock()
	for _, f := range q {
		f()
	}
}

// waitFor pumps UI updates until cond holds (30 s: a bound for loaded
// machines under -race, not a timing check).
func (h *uiHarness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.pump()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, strings.Join(h.texts(), " | "))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// objects lists what the window shows.
func (h *uiHarness) objects() []fyne.CanvasObject {
	return test.LaidOutObjects(h.w.Canvas().Content())
}

// texts lists the visible labels' and rich texts' text.
func (h *uiHarness) texts() []string {
	var out []string
	for _, o := range h.objects() {
		if !o.Visible() {
			continue
		}
		switch w := o.(type) {
		case *widget.Label:
			out = append(out, w.Text)
		case *widget.RichText:
			out = append(out, w.String())
		}
	}
	return out
}

// button finds a visible button by its text.
func (h *uiHarness) button(text string) *widget.Button {
	for _, o := range h.objects() {
		if b, ok := o.(*widget.Button); ok && b.Text == text && b.Visible() {
			return b
		}
	}
	return nil
}

// entry finds the focusable entry with the given placeholder.
func (h *uiHarness) entry(placeholder string) fyne.Focusable {
	for _, o := range h.objects() {
		f, ok := o.(fyne.Focusable)
		if !ok {
			continue
		}
		v := reflect.ValueOf(o)
		if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
			if p := v.Elem().FieldByName("PlaceHolder"); p.IsValid() && p.String() == placeholder {
				return f
			}
		}
	}
	return nil
}

func (h *uiHarness) shows(sub string) bool {
	for _, s := range h.texts() {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestAppOnTheBridge renders the real app over the real runtime: the Chat
// tab opens the conversation, a sent message streams a reply from
// stories260K with its stats, and the other tabs render the runtime's
// state.
func TestAppOnTheBridge(t *testing.T) {
	b, _ := open(t)
	ctx := context.Background()
	c, err := b.NewConversation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Configure(ctx, c.ID, app.ChatSettings{Model: "stories260K", Sampling: greedy(16)}); err != nil {
		t.Fatal(err)
	}
	h := startUI(t, b, app.TabChat)
	h.waitFor("the conversation to open", func() bool { send := h.button("Send"); return send != nil && !send.Disabled() })
	in := h.entry("Message Hearth…")
	if in == nil {
		t.Fatal("no message input on the Chat tab")
	}
	h.w.Canvas().Focus(in)
	test.Type(in, "Once upon a time")
	test.Tap(h.button("Send"))
	h.waitFor("the reply's stats", func() bool { return h.shows(" tokens · ") })
	msgs, err := b.Messages(ctx, c.ID)
	if err != nil || len(msgs) != 2 || msgs[1].Text == "" {
		t.Fatalf("messages %+v, %v", msgs, err)
	}
	h.waitFor("the reply on screen", func() bool {
		for _, s := range h.texts() {
			if strings.TrimSpace(s) == strings.TrimSpace(msgs[1].Text) {
				return true
			}
		}
		return false
	})
	h.waitFor("the title from the first message", func() bool { return h.shows("Once upon a time") })

	h.u.SelectTab(app.TabModels)
	h.waitFor("the installed model on the Models tab", func() bool { return h.shows("stories260K") || h.shows("llama") })
	h.u.SelectTab(app.TabSettings)
	h.waitFor("the Settings tab", func() bool { return h.button("Save") != nil })
	h.waitFor("the status line", func() bool { return h.shows("Lending off") })
}
