package bridge

import (
	"context"
	"time"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/node/runtime"
)

// Conversations implements app.ChatBackend.
func (b *Backend) Conversations(ctx context.Context) ([]app.Conversation, error) {
	cs, err := b.d.Conversations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]app.Conversation, len(cs))
	for i, c := range cs {
		out[i] = conversation(c)
	}
	return out, nil
}

func conversation(c runtime.ConversationInfo) app.Conversation {
	return app.Conversation{ID: c.ID, Title: c.Title, Updated: c.Updated, Settings: chatSettings(c.Settings)}
}

func chatSettings(s runtime.ChatSettings) app.ChatSettings {
	out := app.ChatSettings{Model: s.Model, SystemPrompt: s.System, Sampling: sampling(s.Sampling)}
	if s.Offload {
		out.Offload = app.OffloadPeers
	}
	return out
}

func sampling(s runtime.SamplingSettings) app.Sampling {
	return app.Sampling{Preset: s.Preset, Temperature: s.Temperature, TopP: s.TopP, TopK: s.TopK, MinP: s.MinP,
		RepeatPenalty: s.RepeatPenalty, MaxTokens: s.MaxTokens}
}

func runtimeSampling(s app.Sampling) runtime.SamplingSettings {
	return runtime.SamplingSettings{Preset: s.Preset, Temperature: s.Temperature, TopP: s.TopP, TopK: s.TopK, MinP: s.MinP,
		RepeatPenalty: s.RepeatPenalty, MaxTokens: s.MaxTokens}
}

// NewConversation implements app.ChatBackend.
func (b *Backend) NewConversation(ctx context.Context) (app.Conversation, error) {
	c, err := b.d.NewConversation(ctx)
	if err != nil {
		return app.Conversation{}, err
	}
	return conversation(c), nil
}

// DeleteConversation implements app.ChatBackend.
func (b *Backend) DeleteConversation(ctx context.Context, id string) error {
	return b.d.DeleteConversation(ctx, id)
}

// RenameConversation implements app.ChatBackend.
func (b *Backend) RenameConversation(ctx context.Context, id, title string) error {
	return b.d.RenameConversation(ctx, id, title)
}

// Messages implements app.ChatBackend.
func (b *Backend) Messages(ctx context.Context, id string) ([]app.Message, error) {
	ms, err := b.d.Messages(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]app.Message, len(ms))
	for i, m := range ms {
		out[i] = app.Message{Role: app.Role(m.Role), Text: m.Text, Stats: replyStats(m.Stats)}
	}
	return out, nil
}

func replyStats(s runtime.ReplyStats) app.ReplyStats {
	return app.ReplyStats{Finish: s.Finish, Tokens: s.Tokens, TokensPerSec: s.TokensPerSec, Peers: s.Peers}
}

// Configure implements app.ChatBackend.
func (b *Backend) Configure(ctx context.Context, id string, s app.ChatSettings) error {
	return b.d.Configure(ctx, id, runtime.ChatSettings{Model: s.Model, System: s.SystemPrompt,
		Sampling: runtimeSampling(s.Sampling), Offload: s.Offload == app.OffloadPeers})
}

// Send implements app.ChatBackend.
func (b *Backend) Send(ctx context.Context, id, text string) (<-chan app.ChatDelta, error) {
	in, err := b.d.Send(ctx, id, text)
	if err != nil {
		return nil, err
	}
	return deltas(ctx, in), nil
}

// Regenerate implements app.ChatBackend.
func (b *Backend) Regenerate(ctx context.Context, id string) (<-chan app.ChatDelta, error) {
	in, err := b.d.Regenerate(ctx, id)
	if err != nil {
		return nil, err
	}
	return deltas(ctx, in), nil
}

// Stop implements app.ChatBackend; it returns at once.
func (b *Backend) Stop(id string) { b.d.Stop(id) }

// deltaGrace is how long a delta waits for a reader whose context ended.
const deltaGrace = 5 * time.Second

// deltas maps a reply's deltas; the channel closes after the final one.
// Once ctx is done a reader that stopped reading is waited for only
// briefly, so nothing leaks.
func deltas(ctx context.Context, in <-chan runtime.TurnDelta) <-chan app.ChatDelta {
	out := make(chan app.ChatDelta)
	go func() {
		defer close(out)
		for d := range in {
			ad := app.ChatDelta{Text: d.Text, Peers: d.Peers, TokensPerSec: d.TokensPerSec, Done: d.Done,
				Stats: replyStats(d.Stats), Err: d.Err}
			if !send(ctx, out, ad) {
				for range in { // let the runtime finish its reply
				}
				return
			}
		}
	}()
	return out
}

// send hands v to out; after ctx is done it waits at most deltaGrace.
func send[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
		return true
	case <-ctx.Done():
	}
	t := time.NewTimer(deltaGrace)
	defer t.Stop()
	select {
	case out <- v:
		return true
	case <-t.C:
		return false
	}
}

// ChatModels implements app.ChatBackend.
func (b *Backend) ChatModels(ctx context.Context) ([]app.ChatModel, error) {
	ms, err := b.d.ChatModels(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]app.ChatModel, len(ms))
	for i, m := range ms {
		out[i] = app.ChatModel{ID: m.ID, Name: m.Name, Local: m.Local}
	}
	return out, nil
}

// SamplingPresets implements app.ChatBackend; it does not block.
func (b *Backend) SamplingPresets() []app.SamplingPreset {
	ps := runtime.SamplingPresets()
	out := make([]app.SamplingPreset, len(ps))
	for i, p := range ps {
		out[i] = app.SamplingPreset{Name: p.Name, Label: p.Label, Sampling: sampling(p.Sampling)}
	}
	return out
}
