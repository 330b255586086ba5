package app

import (
	"context"
	"fmt"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// chatView is the Chat tab: conversations on the left, the open
// conversation's messages, header and input on the right.
type chatView struct {
	u    *UI
	root fyne.CanvasObject

	convs   []Conversation
	models  []ChatModel
	current string // open conversation ID
	replies map[string]*reply

	list      *widget.List
	title     *widget.Label
	model     *widget.Select
	offload   *badge
	rate      *widget.Label
	messages  *fyne.Container
	scroll    *container.Scroll
	input     *chatEntry
	send      *widget.Button
	stop      *widget.Button
	regen     *widget.Button
	configure *widget.Button
	rename    *widget.Button
	remove    *widget.Button
	settings  *chatSettingsForm
}

// reply is an assistant reply being streamed.
type reply struct {
	conv   string
	text   string
	view   *widget.RichText
	stats  *widget.Label
	bubble fyne.CanvasObject
	peers  int
}

func newChatView(u *UI) *chatView {
	v := &chatView{u: u, replies: map[string]*reply{}}
	v.list = &widget.List{
		Length: func() int { return len(v.convs) },
		CreateItem: func() fyne.CanvasObject {
			return container.NewVBox(
				&widget.Label{Text: "title", Truncation: fyne.TextTruncateEllipsis, TextStyle: fyne.TextStyle{Bold: true}},
				caption("when"))
		},
		UpdateItem: func(i widget.ListItemID, o fyne.CanvasObject) {
			box := o.(*fyne.Container)
			c := v.convs[i]
			box.Objects[0].(*widget.Label).SetText(c.Title)
			box.Objects[1].(*widget.Label).SetText(ago(u.opt.Now(), c.Updated))
		},
		OnSelected: func(i widget.ListItemID) {
			if i < len(v.convs) && v.convs[i].ID != v.current {
				v.open(v.convs[i].ID)
			}
		},
	}
	newChat := &widget.Button{Text: "New chat", Icon: theme.ContentAddIcon(), Importance: widget.HighImportance, OnTapped: v.newConversation}
	left := container.NewBorder(container.NewPadded(newChat), nil, nil, nil, v.list)

	v.title = &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis, SizeName: theme.SizeNameSubHeadingText}
	v.model = &widget.Select{PlaceHolder: "Pick a model", OnChanged: v.pickModel}
	v.offload = newBadge("Local only", colorLocal)
	v.rate = caption("")
	v.configure = &widget.Button{Icon: theme.SettingsIcon(), Importance: widget.LowImportance, OnTapped: v.showSettings}
	v.rename = &widget.Button{Icon: theme.DocumentCreateIcon(), Importance: widget.LowImportance, OnTapped: v.showRename}
	v.remove = &widget.Button{Icon: theme.DeleteIcon(), Importance: widget.LowImportance, OnTapped: v.confirmDelete}
	header := container.NewBorder(nil, nil, nil,
		container.NewHBox(container.NewCenter(v.offload), v.rate, container.NewGridWrap(fyne.NewSize(240, v.model.MinSize().Height), v.model), v.configure, v.rename, v.remove), v.title)

	v.messages = container.NewVBox()
	v.scroll = container.NewVScroll(container.NewPadded(v.messages))

	v.input = newChatEntry(v)
	v.send = &widget.Button{Text: "Send", Icon: theme.MailSendIcon(), Importance: widget.HighImportance, OnTapped: v.sendInput}
	v.stop = &widget.Button{Text: "Stop", Icon: theme.MediaStopIcon(), OnTapped: v.stopReply}
	v.regen = &widget.Button{Text: "Regenerate", Icon: theme.ViewRefreshIcon(), OnTapped: v.regenerate}
	hint := caption("Ctrl+Enter to send · Esc to stop")
	buttons := container.NewHBox(hint, layout.NewSpacer(), v.regen, v.stop, v.send)
	bottom := container.NewBorder(nil, buttons, nil, nil, v.input)

	right := container.NewBorder(container.NewVBox(header, widget.NewSeparator()), bottom, nil, nil, v.scroll)
	split := container.NewHSplit(left, container.NewPadded(right))
	split.Offset = 0.24
	v.root = split
	v.settings = newChatSettingsForm(v)
	v.setOpen(false)
	return v
}

func (v *chatView) load() {
	v.loadModels()
	v.loadList()
}

// loadList reloads the conversation list and opens the first conversation
// when none is open.
func (v *chatView) loadList() {
	call(v.u, v.u.b.Conversations, func(cs []Conversation) {
		v.convs = cs
		v.list.Refresh()
		i := slices.IndexFunc(cs, func(c Conversation) bool { return c.ID == v.current })
		switch {
		case i >= 0:
			v.list.Select(i)
			v.title.SetText(cs[i].Title)
		case len(cs) > 0:
			v.open(cs[0].ID)
		default:
			v.current = ""
			v.setOpen(false)
		}
	})
}

func (v *chatView) loadModels() {
	call(v.u, v.u.b.ChatModels, func(ms []ChatModel) {
		v.models = ms
		v.model.Options = make([]string, len(ms))
		for i, m := range ms {
			v.model.Options[i] = modelLabel(m)
		}
		v.model.Refresh()
		if c, ok := v.conversation(); ok {
			v.showHeader(c)
		}
	})
}

func (v *chatView) conversation() (Conversation, bool) {
	i := slices.IndexFunc(v.convs, func(c Conversation) bool { return c.ID == v.current })
	if i < 0 {
		return Conversation{}, false
	}
	return v.convs[i], true
}

// open shows conversation id: header, then its messages once loaded.
func (v *chatView) open(id string) {
	if v.current != id {
		v.messages.RemoveAll()
	}
	v.current = id
	if i := slices.IndexFunc(v.convs, func(c Conversation) bool { return c.ID == id }); i >= 0 {
		v.list.Select(i)
		v.showHeader(v.convs[i])
	}
	v.setOpen(true)
	call(v.u, func(ctx context.Context) ([]Message, error) { return v.u.b.Messages(ctx, id) }, func(ms []Message) {
		if v.current != id {
			return
		}
		v.messages.RemoveAll()
		for _, m := range ms {
			v.messages.Add(v.bubble(m))
		}
		v.rate.SetText("")
		for _, m := range ms {
			if m.Stats.TokensPerSec > 0 {
				v.rate.SetText(formatFloat1(m.Stats.TokensPerSec) + " tok/s")
			}
		}
		if r := v.replies[id]; r != nil {
			v.messages.Add(r.bubble)
		}
		v.scroll.ScrollToBottom()
		v.setBusy(v.replies[id] != nil)
	})
}

func (v *chatView) showHeader(c Conversation) {
	v.title.SetText(c.Title)
	v.model.OnChanged = nil // selecting here is not the user picking
	v.model.ClearSelected()
	for _, m := range v.models {
		if m.ID == c.Settings.Model {
			v.model.SetSelected(modelLabel(m))
		}
	}
	v.model.OnChanged = v.pickModel
	peers := 0
	if r := v.replies[c.ID]; r != nil {
		peers = r.peers
	}
	v.setOffload(c.Settings.Offload, peers)
}

// modelLabel names a model in the picker; models too big for this
// machine say they run on peers.
func modelLabel(m ChatModel) string {
	if m.Local {
		return m.Name
	}
	return m.Name + " (peers)"
}

// setOffload shows where the conversation's layers run.
func (v *chatView) setOffload(m OffloadMode, peers int) {
	switch {
	case m == OffloadLocal:
		v.offload.Set("Local only", colorLocal)
	case peers == 1:
		v.offload.Set("Using 1 peer", colorPeers)
	case peers > 1:
		v.offload.Set(fmt.Sprintf("Using %d peers", peers), colorPeers)
	default:
		v.offload.Set("Peers allowed", colorPeers)
	}
}

// setOpen enables the conversation controls when one is open.
func (v *chatView) setOpen(open bool) {
	for _, w := range []fyne.Disableable{v.model, v.configure, v.rename, v.remove, v.input, v.send, v.regen} {
		if open {
			w.Enable()
		} else {
			w.Disable()
		}
	}
	v.stop.Disable()
	if !open {
		v.title.SetText("No conversation")
		v.messages.RemoveAll()
	}
}

// setBusy switches the controls between "replying" and "ready".
func (v *chatView) setBusy(busy bool) {
	if busy {
		v.send.Disable()
		v.regen.Disable()
		v.stop.Enable()
		return
	}
	v.send.Enable()
	v.regen.Enable()
	v.stop.Disable()
}

// bubble renders one message.
func (v *chatView) bubble(m Message) fyne.CanvasObject {
	r := &reply{view: widget.NewRichTextFromMarkdown(m.Text), stats: caption(statsLine(m.Stats))}
	return v.frame(m.Role, r)
}

func (v *chatView) frame(role Role, r *reply) fyne.CanvasObject {
	r.view.Wrapping = fyne.TextWrapWord
	who := &widget.Label{Text: "Hearth", TextStyle: fyne.TextStyle{Bold: true}}
	bg := theme.ColorNameInputBackground
	if role == RoleUser {
		who.Text = "You"
		bg = theme.ColorNameHover
	}
	body := container.NewBorder(who, r.stats, nil, nil, r.view)
	if r.stats.Text == "" {
		r.stats.Hide()
	}
	r.bubble = newPanel(bg, body)
	return r.bubble
}

func statsLine(s ReplyStats) string {
	if s.Tokens == 0 {
		return ""
	}
	line := fmt.Sprintf("%d tokens · %s tok/s", s.Tokens, formatFloat1(s.TokensPerSec))
	if s.Peers > 0 {
		line += fmt.Sprintf(" · %d peers", s.Peers)
	}
	switch s.Finish {
	case "cancelled":
		line += " · stopped"
	case "length":
		line += " · length limit"
	case "error":
		line += " · failed"
	}
	return line
}

func (v *chatView) newConversation() {
	call(v.u, v.u.b.NewConversation, func(c Conversation) {
		if !slices.ContainsFunc(v.convs, func(x Conversation) bool { return x.ID == c.ID }) {
			v.convs = append([]Conversation{c}, v.convs...)
			v.list.Refresh()
		}
		v.open(c.ID)
		v.u.SelectTab(TabChat)
		if v.u.win != nil {
			v.u.win.Canvas().Focus(v.input)
		}
	})
}

func (v *chatView) pickModel(name string) {
	c, ok := v.conversation()
	if !ok {
		return
	}
	for _, m := range v.models {
		if modelLabel(m) == name {
			c.Settings.Model = m.ID
		}
	}
	v.configureConversation(c.ID, c.Settings)
}

// configureConversation stores s for conversation id and updates the
// header once the backend accepted it.
func (v *chatView) configureConversation(id string, s ChatSettings) {
	v.u.do("conversation settings", func(ctx context.Context) error { return v.u.b.Configure(ctx, id, s) }, func() {
		if i := slices.IndexFunc(v.convs, func(c Conversation) bool { return c.ID == id }); i >= 0 {
			v.convs[i].Settings = s
			if id == v.current {
				v.showHeader(v.convs[i])
			}
		}
	})
}

func (v *chatView) showRename() {
	c, ok := v.conversation()
	if !ok || v.u.win == nil {
		return
	}
	e := &widget.Entry{Text: c.Title}
	dialog.ShowForm("Rename conversation", "Rename", "Cancel", []*widget.FormItem{{Text: "Title", Widget: e}}, func(ok bool) {
		if ok {
			v.u.do("rename", func(ctx context.Context) error { return v.u.b.RenameConversation(ctx, c.ID, e.Text) }, nil)
		}
	}, v.u.win)
}

func (v *chatView) confirmDelete() {
	c, ok := v.conversation()
	if !ok || v.u.win == nil {
		return
	}
	dialog.ShowConfirm("Delete conversation", fmt.Sprintf("Delete %q? This cannot be undone.", c.Title), func(ok bool) {
		if ok {
			v.deleteConversation(c.ID)
		}
	}, v.u.win)
}

func (v *chatView) deleteConversation(id string) {
	v.u.do("delete", func(ctx context.Context) error { return v.u.b.DeleteConversation(ctx, id) }, func() {
		if v.current == id {
			v.current = ""
		}
	})
}
