package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hearth-p2p/hearth/inference/chat"
)

// Chat errors.
var (
	// ErrNoConversation: no conversation has that id.
	ErrNoConversation = chat.ErrNotFound
	// ErrTurnRunning: the conversation is generating a reply already.
	ErrTurnRunning = errors.New("a reply is already being generated in this conversation")
	// ErrNothingToRegenerate: the conversation has no message to reply to.
	ErrNothingToRegenerate = errors.New("nothing to regenerate")
	// ErrNoModel: the conversation has no usable model.
	ErrNoModel = errors.New("no model")
)

// NewChatTitle is the title of a conversation before its first message.
const NewChatTitle = "New chat"

// ChatSettings are a conversation's choices; they apply from its next reply.
type ChatSettings struct {
	Model    string // an installed model's name
	System   string
	Sampling SamplingSettings
	// Offload lets peers run the middle layers; the first and last stay
	// here, so no peer sees the tokens.
	Offload bool
}

// ConversationInfo is a conversation as listed.
type ConversationInfo struct {
	ID       string
	Title    string
	Updated  time.Time
	Settings ChatSettings
}

// ChatMessage is one message of a conversation.
type ChatMessage struct {
	Role string // chat.RoleUser or chat.RoleAssistant
	Text string
	// Stats of a generated reply (stored with it); zero for the user's.
	Stats ReplyStats
}

// ReplyStats describe a finished reply.
type ReplyStats struct {
	Finish       string // "stop", "length", "cancelled" or "error"
	Tokens       int
	TokensPerSec float64
	Peers        int // peers that ran layers of the reply
}

// TurnDelta is one step of a streamed reply: new text, or (Done) the end.
type TurnDelta struct {
	Text         string
	Peers        int
	TokensPerSec float64
	Done         bool
	Stats        ReplyStats // on the final delta
	Err          error      // on the final delta of a failed reply
}

// chatState is the replies being generated.
type chatState struct {
	mu    sync.Mutex // guards turns
	turns map[string]*turn
}

// turn is one reply being generated.
type turn struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (c *chatState) init() {
	c.turns = map[string]*turn{}
}

// reserve claims conversation id for a new turn.
func (c *chatState) reserve(id string) (*turn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.turns[id] != nil {
		return nil, ErrTurnRunning
	}
	t := &turn{done: make(chan struct{}), cancel: func() {}}
	c.turns[id] = t
	return t, nil
}

func (c *chatState) release(id string, t *turn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.turns[id] == t {
		delete(c.turns, id)
	}
	close(t.done)
}

// infoOf is a stored conversation as listed.
func infoOf(id, title, model string, updated time.Time, conv *chat.Conversation) ConversationInfo {
	if title == "" {
		title = NewChatTitle
	}
	ci := ConversationInfo{ID: id, Title: title, Updated: updated, Settings: ChatSettings{Model: model}}
	if conv != nil {
		ci.Settings.System = conv.System
		ci.Settings.Sampling = decodeSampling(conv.Sampling)
		ci.Settings.Offload = !conv.Offload.LocalOnly
	}
	return ci
}

// Conversations lists the conversations, most recently updated first.
func (d *Desktop) Conversations(ctx context.Context) ([]ConversationInfo, error) {
	heads, err := d.convs.Heads() // no messages: a long history costs nothing here
	if err != nil {
		return nil, err
	}
	out := make([]ConversationInfo, 0, len(heads))
	for _, c := range heads {
		out = append(out, infoOf(c.ID, c.Title, c.Model, c.Updated, c))
	}
	return out, ctx.Err()
}

// Conversation returns one conversation.
func (d *Desktop) Conversation(id string) (ConversationInfo, error) {
	c, err := d.convs.Get(id)
	if err != nil {
		return ConversationInfo{}, err
	}
	return infoOf(c.ID, c.Title, c.Model, c.Updated, c), nil
}

// NewConversation creates an empty conversation on the first installed
// model, with the default sampling, local only.
func (d *Desktop) NewConversation(ctx context.Context) (ConversationInfo, error) {
	if err := ctx.Err(); err != nil {
		return ConversationInfo{}, err
	}
	model := ""
	if ms, err := d.installedModels(); err == nil && len(ms) > 0 {
		model = ms[0].ID
	}
	c := chat.NewConversation(model, "")
	c.Sampling = encodeSampling(DefaultSampling())
	if err := d.convs.Create(c); err != nil {
		return ConversationInfo{}, err
	}
	d.publish(ConversationsChanged{})
	return infoOf(c.ID, c.Title, c.Model, c.Updated, c), nil
}

// DeleteConversation stops its reply, drops its caches and deletes it.
func (d *Desktop) DeleteConversation(ctx context.Context, id string) error {
	d.Stop(id)
	if err := d.convs.Delete(id); err != nil {
		return err
	}
	d.forgetSessions(id)
	d.publish(ConversationsChanged{})
	return nil
}

// RenameConversation sets a conversation's title.
func (d *Desktop) RenameConversation(ctx context.Context, id, title string) error {
	title = strings.Join(strings.Fields(title), " ")
	if title == "" {
		return errors.New("rename: empty title")
	}
	if err := d.convs.Update(id, func(c *chat.Conversation) error { c.Title = title; return nil }); err != nil {
		return err
	}
	d.publish(ConversationsChanged{})
	return nil
}

// Messages loads a conversation's messages, oldest first (the system
// prompt is a setting, not a message).
func (d *Desktop) Messages(ctx context.Context, id string) ([]ChatMessage, error) {
	c, err := d.convs.Get(id)
	if err != nil {
		return nil, err
	}
	out := make([]ChatMessage, 0, len(c.Messages))
	for _, m := range c.Messages {
		if m.Role != chat.RoleUser && m.Role != chat.RoleAssistant {
			continue
		}
		cm := ChatMessage{Role: m.Role, Text: m.Content}
		if m.Finish != "" {
			cm.Stats = ReplyStats{Finish: m.Finish, Tokens: m.Tokens, TokensPerSec: m.TokensPerSec, Peers: m.Peers}
		}
		out = append(out, cm)
	}
	return out, nil
}

// Configure sets a conversation's model, system prompt, sampling and
// offloading; they apply from its next reply.
func (d *Desktop) Configure(ctx context.Context, id string, s ChatSettings) error {
	if s.Model == "" {
		return fmt.Errorf("configure: %w: pick an installed model", ErrNoModel)
	}
	if _, err := d.store.Get(s.Model); err != nil {
		return fmt.Errorf("configure: model %q: %w", s.Model, err)
	}
	if _, err := s.Sampling.Params(); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if s.Offload && d.Settings().Privacy == PrivacyNever {
		return fmt.Errorf("configure: %w", ErrOffloadOff)
	}
	var changedChain bool
	err := d.convs.Update(id, func(c *chat.Conversation) error {
		changedChain = c.Model != s.Model || c.Offload.LocalOnly == s.Offload
		c.Model, c.System = s.Model, s.System
		c.Sampling = encodeSampling(s.Sampling)
		c.Offload.LocalOnly = !s.Offload
		return nil
	})
	if err != nil {
		return err
	}
	if changedChain {
		d.forgetSessions(id)
	}
	d.publish(ConversationsChanged{})
	return nil
}

// Send appends the user's text and streams the reply. The channel gets
// text deltas, then one final delta (Done) and closes. Cancelling ctx or
// calling Stop ends the reply early with Finish "cancelled"; what was
// written so far is kept.
func (d *Desktop) Send(ctx context.Context, id, text string) (<-chan TurnDelta, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("send: empty message")
	}
	if _, err := d.convs.Get(id); err != nil {
		return nil, err
	}
	t, err := d.chat.reserve(id)
	if err != nil {
		return nil, err
	}
	if err := d.convs.Append(id, chat.Message{Role: chat.RoleUser, Content: text, Time: time.Now()}); err != nil {
		d.chat.release(id, t)
		return nil, err
	}
	d.publish(ConversationsChanged{})
	return d.startTurn(ctx, id, t)
}

// Regenerate replaces the last reply with a new one (or writes the reply
// a stopped turn never began). The prompt's KV cache is reused.
func (d *Desktop) Regenerate(ctx context.Context, id string) (<-chan TurnDelta, error) {
	t, err := d.chat.reserve(id)
	if err != nil {
		return nil, err
	}
	err = d.convs.Update(id, func(c *chat.Conversation) error {
		n := len(c.Messages)
		if n > 0 && c.Messages[n-1].Role == chat.RoleAssistant {
			c.Messages = c.Messages[:n-1]
			n--
		}
		if n == 0 || c.Messages[n-1].Role != chat.RoleUser {
			return ErrNothingToRegenerate
		}
		return nil
	})
	if err != nil {
		d.chat.release(id, t)
		return nil, err
	}
	return d.startTurn(ctx, id, t)
}

// Stop ends the reply being generated in conversation id, if any. It
// returns at once; the reply's channel gets its final delta shortly.
func (d *Desktop) Stop(id string) {
	d.chat.mu.Lock()
	t := d.chat.turns[id]
	d.chat.mu.Unlock()
	if t != nil {
		t.cancel()
	}
}

// startTurn generates the reply to the conversation's messages in the
// background and streams it.
func (d *Desktop) startTurn(ctx context.Context, id string, t *turn) (<-chan TurnDelta, error) {
	tctx, cancel := context.WithCancel(ctx)
	stopWithDesktop := context.AfterFunc(d.life, cancel)
	d.chat.mu.Lock()
	t.cancel = cancel
	d.chat.mu.Unlock()
	p := newDeltaPump(ctx)
	if !d.goBackground(func() {
		final := d.runTurn(tctx, id, p)
		stopWithDesktop()
		cancel()
		d.chat.release(id, t) // before the final delta: the reader may send again at once
		p.finish(final)
	}) {
		cancel()
		stopWithDesktop()
		d.chat.release(id, t)
		return nil, errors.New("send: the desktop is shutting down")
	}
	go p.run()
	return p.out, nil
}

// runTurn generates one reply, stores it, and returns the final delta.
func (d *Desktop) runTurn(ctx context.Context, id string, p *deltaPump) TurnDelta {
	failed := func(err error) TurnDelta {
		d.log.Warn("reply failed", "conversation", id, "err", err)
		return TurnDelta{Done: true, Err: err, Stats: ReplyStats{Finish: "error"}}
	}
	conv, err := d.convs.Get(id)
	if err != nil {
		return failed(err)
	}
	res, err := d.complete(ctx, conv, p.push)
	if res == nil || (err != nil && ctx.Err() == nil) {
		if err == nil {
			err = errors.New("no reply")
		}
		return failed(err)
	}
	st := ReplyStats{Finish: res.reply.Finish, Tokens: res.reply.Completion, TokensPerSec: res.reply.Stats.DecodeTokS(), Peers: res.peers}
	if ctx.Err() != nil {
		st.Finish = "cancelled"
	}
	if res.reply.Text != "" {
		msg := chat.Message{Role: chat.RoleAssistant, Content: res.reply.Text, Time: time.Now(), Tokens: res.reply.Completion,
			Finish: st.Finish, TokensPerSec: st.TokensPerSec, Peers: st.Peers}
		if err := d.convs.Append(id, msg); err != nil {
			return failed(fmt.Errorf("save the reply: %w", err))
		}
		d.publish(ConversationsChanged{})
	}
	return TurnDelta{Done: true, Stats: st, TokensPerSec: st.TokensPerSec, Peers: st.Peers}
}

// pumpGrace is how long a reply's deltas wait for a reader whose context
// has ended before they are dropped.
const pumpGrace = 5 * time.Second

// deltaPump decouples generation from the reader: text is merged while
// the reader is busy, so the engine never waits for the GUI.
type deltaPump struct {
	ctx  context.Context // the caller's: when done, the reader may be gone
	out  chan TurnDelta
	wake chan struct{}

	mu      sync.Mutex // guards the fields below
	pending strings.Builder
	peers   int
	rate    float64
	final   *TurnDelta
	pieces  int
	first   time.Time
}

func newDeltaPump(ctx context.Context) *deltaPump {
	return &deltaPump{ctx: ctx, out: make(chan TurnDelta), wake: make(chan struct{}, 1)}
}

// push adds generated text; peers is how many peers serve layers now.
func (p *deltaPump) push(text string, peers int) {
	p.mu.Lock()
	now := time.Now()
	if p.pieces == 0 {
		p.first = now
	}
	p.pieces++
	if dt := now.Sub(p.first).Seconds(); dt > 0 {
		p.rate = float64(p.pieces-1) / dt
	}
	p.pending.WriteString(text)
	p.peers = peers
	p.mu.Unlock()
	p.signal()
}

// finish sets the final delta; text still pending goes with it.
func (p *deltaPump) finish(d TurnDelta) {
	p.mu.Lock()
	p.final = &d
	p.mu.Unlock()
	p.signal()
}

func (p *deltaPump) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run delivers deltas until the final one, then closes out.
func (p *deltaPump) run() {
	defer close(p.out)
	for range p.wake {
		p.mu.Lock()
		d := TurnDelta{Text: p.pending.String(), Peers: p.peers, TokensPerSec: p.rate}
		p.pending.Reset()
		final := p.final
		p.mu.Unlock()
		if final != nil {
			final.Text = d.Text + final.Text
			p.send(*final)
			return
		}
		if d.Text != "" && !p.send(d) {
			return
		}
	}
}

// send hands d to the reader; once the caller's context is done it waits
// at most pumpGrace.
func (p *deltaPump) send(d TurnDelta) bool {
	select {
	case p.out <- d:
		return true
	case <-p.ctx.Done():
	}
	t := time.NewTimer(pumpGrace)
	defer t.Stop()
	select {
	case p.out <- d:
		return true
	case <-t.C:
		return false
	}
}
