package app

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// chatEntry is the message input: a multi-line entry where Ctrl+Enter
// sends and Esc stops the reply; other window shortcuts (Ctrl+N, Ctrl+Q)
// still work while it has focus.
type chatEntry struct {
	widget.Entry
	v *chatView
}

func newChatEntry(v *chatView) *chatEntry {
	e := &chatEntry{v: v}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.SetMinRowsVisible(3)
	e.PlaceHolder = "Message Hearth…"
	e.ExtendBaseWidget(e)
	return e
}

// TypedShortcut sends on Ctrl+Enter and passes other custom shortcuts to
// the window.
func (e *chatEntry) TypedShortcut(s fyne.Shortcut) {
	if cs, ok := s.(*desktop.CustomShortcut); ok {
		if isSendShortcut(cs) {
			e.v.sendInput()
			return
		}
		if e.v.u.handleShortcut(cs) {
			return
		}
	}
	e.Entry.TypedShortcut(s)
}

// TypedKey stops the reply on Esc.
func (e *chatEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape {
		e.v.stopReply()
		return
	}
	e.Entry.TypedKey(k)
}

func isSendShortcut(s *desktop.CustomShortcut) bool {
	return (s.KeyName == fyne.KeyReturn || s.KeyName == fyne.KeyEnter) && s.Modifier == fyne.KeyModifierShortcutDefault
}

// sendInput sends the input's text to the open conversation.
func (v *chatView) sendInput() {
	text := strings.TrimSpace(v.input.Text)
	id := v.current
	if text == "" || id == "" || v.replies[id] != nil {
		return
	}
	v.input.SetText("")
	v.messages.Add(v.bubble(Message{Role: RoleUser, Text: text}))
	v.stream(id, func(ctx context.Context) (<-chan ChatDelta, error) { return v.u.b.Send(ctx, id, text) })
}

// regenerate asks for a new version of the last reply.
func (v *chatView) regenerate() {
	id := v.current
	if id == "" || v.replies[id] != nil {
		return
	}
	if n := len(v.messages.Objects); n > 0 {
		v.messages.Remove(v.messages.Objects[n-1])
	}
	v.stream(id, func(ctx context.Context) (<-chan ChatDelta, error) { return v.u.b.Regenerate(ctx, id) })
}

// stopReply stops the reply of the open conversation.
func (v *chatView) stopReply() {
	id := v.current
	if v.replies[id] == nil {
		return
	}
	v.stop.Disable()
	v.u.wg.Add(1)
	go func() {
		defer v.u.wg.Done()
		v.u.b.Stop(id)
	}()
}

// stopAll stops every reply, on Close.
func (v *chatView) stopAll() {
	for id := range v.replies {
		v.u.b.Stop(id)
	}
}

// stream starts a reply with start and renders its deltas as they come.
func (v *chatView) stream(id string, start func(context.Context) (<-chan ChatDelta, error)) {
	r := &reply{conv: id, view: &widget.RichText{}, stats: caption("")}
	v.frame(RoleAssistant, r)
	r.view.ParseMarkdown("…")
	v.replies[id] = r
	v.messages.Add(r.bubble)
	v.scroll.ScrollToBottom()
	v.setBusy(true)
	v.rate.SetText("")

	v.u.wg.Add(1)
	go func() {
		defer v.u.wg.Done()
		ch, err := start(v.u.ctx)
		if err != nil {
			v.u.dispatch(func() { v.apply(r, ChatDelta{Done: true, Err: err, Stats: ReplyStats{Finish: "error"}}) })
			return
		}
		for d := range ch {
			v.u.dispatch(func() { v.apply(r, d) })
		}
	}()
}

// apply renders one delta of reply r.
func (v *chatView) apply(r *reply, d ChatDelta) {
	r.text += d.Text
	if d.Peers > 0 || d.Done {
		r.peers = d.Peers
	}
	if r.text != "" {
		r.view.ParseMarkdown(r.text)
	}
	cur := r.conv == v.current
	if cur {
		v.rate.SetText(formatFloat1(d.TokensPerSec) + " tok/s")
		if c, ok := v.conversation(); ok {
			v.setOffload(c.Settings.Offload, r.peers)
		}
		v.scroll.ScrollToBottom()
	}
	if !d.Done {
		return
	}
	delete(v.replies, r.conv)
	if d.Err != nil {
		r.stats.SetText("failed: " + d.Err.Error())
		v.u.showError("reply", d.Err)
	} else {
		r.stats.SetText(statsLine(d.Stats))
	}
	r.stats.Show()
	if r.text == "" {
		r.view.ParseMarkdown("*(no reply)*")
	}
	if cur {
		v.setBusy(false)
	}
}

// chatSettingsForm edits a conversation's system prompt, sampling and
// offload mode.
type chatSettingsForm struct {
	v           *chatView
	system      *widget.Entry
	preset      *widget.Select
	temperature *widget.Entry
	topP        *widget.Entry
	topK        *widget.Entry
	maxTokens   *widget.Entry
	offload     *widget.RadioGroup
	form        *widget.Form
}

const (
	offloadLocalLabel = "Local only: nothing leaves this machine"
	offloadPeersLabel = "Allow peers to run layers"
	presetCustom      = "Custom"
)
