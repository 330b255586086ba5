package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/app"
)

type conv struct {
	app.Conversation
	messages []app.Message
}

// stream is a reply being generated.
type stream struct {
	conv   *conv
	out    chan app.ChatDelta
	text   strings.Builder
	tokens int
	peers  int
	cancel context.CancelFunc
	done   chan struct{} // closed when the reply ended
	ended  bool
}

var errNoConversation = errors.New("no such conversation")

func (b *Backend) find(id string) (*conv, error) {
	for _, c := range b.convs {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("conversation %q: %w", id, errNoConversation)
}

// Conversations implements app.ChatBackend.
func (b *Backend) Conversations(context.Context) ([]app.Conversation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]app.Conversation, len(b.convs))
	for i, c := range b.convs {
		out[i] = c.Conversation
	}
	slices.SortStableFunc(out, func(x, y app.Conversation) int { return y.Updated.Compare(x.Updated) })
	return out, nil
}

// NewConversation implements app.ChatBackend.
func (b *Backend) NewConversation(context.Context) (app.Conversation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextConv++
	c := &conv{Conversation: app.Conversation{
		ID:      fmt.Sprintf("c%d", b.nextConv),
		Title:   "New chat",
		Updated: b.tick(),
		Settings: app.ChatSettings{
			Model:    b.installed[0].ID,
			Sampling: presets[0].Sampling,
		},
	}}
	b.convs = append(b.convs, c)
	b.publish(app.ConversationsChanged{})
	return c.Conversation, nil
}

// tick advances the fixture clock by a minute so orderings are stable.
func (b *Backend) tick() time.Time {
	b.now = b.now.Add(time.Minute)
	return b.now
}

// DeleteConversation implements app.ChatBackend.
func (b *Backend) DeleteConversation(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.IndexFunc(b.convs, func(c *conv) bool { return c.ID == id })
	if i < 0 {
		return fmt.Errorf("conversation %q: %w", id, errNoConversation)
	}
	b.convs = slices.Delete(b.convs, i, i+1)
	b.publish(app.ConversationsChanged{})
	return nil
}

// RenameConversation implements app.ChatBackend.
func (b *Backend) RenameConversation(_ context.Context, id, title string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.find(id)
	if err != nil {
		return err
	}
	if strings.TrimSpace(title) == "" {
		return errors.New("empty title")
	}
	c.Title = strings.TrimSpace(title)
	b.publish(app.ConversationsChanged{})
	return nil
}

// Messages implements app.ChatBackend.
func (b *Backend) Messages(_ context.Context, id string) ([]app.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.find(id)
	if err != nil {
		return nil, err
	}
	return slices.Clone(c.messages), nil
}

// Configure implements app.ChatBackend.
func (b *Backend) Configure(_ context.Context, id string, s app.ChatSettings) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.find(id)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(b.chatModels(), func(m app.ChatModel) bool { return m.ID == s.Model }) {
		return fmt.Errorf("model %q is neither installed nor served by peers", s.Model)
	}
	if s.Sampling.Temperature < 0 || s.Sampling.TopP < 0 || s.Sampling.TopP > 1 {
		return errors.New("sampling out of range")
	}
	c.Settings = s
	return nil
}

// Settings of a conversation, for tests.
func (b *Backend) ConversationSettings(id string) (app.ChatSettings, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.find(id)
	if err != nil {
		return app.ChatSettings{}, err
	}
	return c.Settings, nil
}

// ChatModels implements app.ChatBackend.
func (b *Backend) ChatModels(context.Context) ([]app.ChatModel, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.chatModels(), nil
}

// chatModels lists the installed models, then the catalog models too big
// for this machine that peers serve.
func (b *Backend) chatModels() []app.ChatModel {
	var out []app.ChatModel
	for _, m := range b.installed {
		out = append(out, app.ChatModel{ID: m.ID, Name: m.Name, Local: true})
	}
	for _, e := range b.catalog {
		if e.Fit == app.FitNo && !e.Installed {
			out = append(out, app.ChatModel{ID: e.ID, Name: e.Name})
		}
	}
	return out
}

// SamplingPresets implements app.ChatBackend.
func (b *Backend) SamplingPresets() []app.SamplingPreset { return slices.Clone(presets) }

var presets = []app.SamplingPreset{
	{Name: "balanced", Label: "Balanced", Sampling: app.Sampling{Preset: "balanced", Temperature: 0.7, TopP: 0.9, TopK: 40, MinP: 0.05, RepeatPenalty: 1.1}},
	{Name: "precise", Label: "Precise", Sampling: app.Sampling{Preset: "precise", Temperature: 0.2, TopP: 0.8, TopK: 20, MinP: 0.1, RepeatPenalty: 1.05}},
	{Name: "creative", Label: "Creative", Sampling: app.Sampling{Preset: "creative", Temperature: 1.0, TopP: 0.95, TopK: 80, MinP: 0.02, RepeatPenalty: 1.15}},
}

// Send implements app.ChatBackend.
func (b *Backend) Send(ctx context.Context, id, text string) (<-chan app.ChatDelta, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("empty message")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.find(id)
	if err != nil {
		return nil, err
	}
	if b.streams[id] != nil {
		return nil, errors.New("a reply is already being generated")
	}
	c.messages = append(c.messages, app.Message{Role: app.RoleUser, Text: text})
	if c.Title == "New chat" {
		c.Title = titleFrom(text)
	}
	c.Updated = b.tick()
	b.publish(app.ConversationsChanged{})
	return b.startReply(ctx, c, replyFor(text)), nil
}

// Regenerate implements app.ChatBackend.
func (b *Backend) Regenerate(ctx context.Context, id string) (<-chan app.ChatDelta, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.find(id)
	if err != nil {
		return nil, err
	}
	if b.streams[id] != nil {
		return nil, errors.New("a reply is already being generated")
	}
	n := len(c.messages)
	if n == 0 || c.messages[n-1].Role != app.RoleAssistant {
		return nil, errors.New("nothing to regenerate")
	}
	c.messages = c.messages[:n-1]
	prompt := c.messages[len(c.messages)-1].Text
	return b.startReply(ctx, c, "Here is another take.\n\n"+replyFor(prompt)), nil
}

// startReply registers a stream; in Live mode a goroutine feeds it. b.mu
// must be held.
func (b *Backend) startReply(ctx context.Context, c *conv, reply string) <-chan app.ChatDelta {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{conv: c, out: make(chan app.ChatDelta), cancel: cancel, done: make(chan struct{})}
	if c.Settings.Offload == app.OffloadPeers {
		s.peers = 2
	}
	b.streams[c.ID] = s
	go func() { // ends the reply when ctx is cancelled (Stop or caller)
		select {
		case <-ctx.Done():
			b.end(s, "cancelled")
		case <-s.done:
		}
	}()
	if b.opt.Live {
		go b.feed(ctx, c.ID, reply)
	}
	return s.out
}

// feed streams reply word by word, as a model would.
func (b *Backend) feed(ctx context.Context, id, reply string) {
	t := time.NewTicker(35 * time.Millisecond)
	defer t.Stop()
	for _, w := range splitTokens(reply) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !b.Emit(id, w) {
			return
		}
	}
	b.Finish(id)
}

// Streaming reports whether a reply is being generated in conversation id.
func (b *Backend) Streaming(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.streams[id] != nil
}

// Emit sends the next piece of the reply being generated in conversation
// id. It blocks until the GUI has taken it and reports false when no reply
// is running.
func (b *Backend) Emit(id, text string) bool {
	b.mu.Lock()
	s := b.streams[id]
	if s == nil {
		b.mu.Unlock()
		return false
	}
	s.text.WriteString(text)
	s.tokens++
	d := app.ChatDelta{Text: text, Peers: s.peers, TokensPerSec: 18.4}
	b.mu.Unlock()
	select {
	case s.out <- d:
		return true
	case <-s.done:
		return false
	}
}

// Finish ends the reply in conversation id normally.
func (b *Backend) Finish(id string) {
	b.mu.Lock()
	s := b.streams[id]
	b.mu.Unlock()
	if s != nil {
		b.end(s, "stop")
	}
}

// end ends reply s once: it stores the message and sends the final delta.
func (b *Backend) end(s *stream, reason string) {
	b.mu.Lock()
	if s.ended {
		b.mu.Unlock()
		return
	}
	s.ended = true
	close(s.done)
	delete(b.streams, s.conv.ID)
	st := app.ReplyStats{Finish: reason, Tokens: s.tokens, TokensPerSec: 18.4, Peers: s.peers}
	s.conv.messages = append(s.conv.messages, app.Message{Role: app.RoleAssistant, Text: s.text.String(), Stats: st})
	s.conv.Updated = b.tick()
	b.mu.Unlock()
	s.cancel()
	s.out <- app.ChatDelta{Done: true, Stats: st, TokensPerSec: st.TokensPerSec, Peers: s.peers}
	close(s.out)
}

// Stop implements app.ChatBackend.
func (b *Backend) Stop(id string) {
	b.mu.Lock()
	s := b.streams[id]
	b.mu.Unlock()
	if s != nil {
		s.cancel()
	}
}

func titleFrom(text string) string {
	text = strings.TrimSpace(strings.SplitN(text, "\n", 2)[0])
	if r := []rune(text); len(r) > 32 {
		text = string(r[:31]) + "…"
	}
	return text
}

// splitTokens cuts text into word-sized pieces that keep their spaces.
func splitTokens(text string) []string {
	var out []string
	start := 0
	for i, r := range text {
		if (r == ' ' || r == '\n') && i > start {
			out = append(out, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}
