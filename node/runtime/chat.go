package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hearth-p2p/hearth/inference/chat"
	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/sample"
	"github.com/hearth-p2p/hearth/inference/tokenizer"
)

// ChainFactory builds the pipeline a chat session runs on: local stages by
// default, or local and remote stages when the conversation offloads.
type ChainFactory func(ctx context.Context, maxCtx int) (model.Chain, func(), error)

// ChatEngine runs chat turns on one model. It keeps the KV cache of recent
// conversations so a new turn evaluates only the tokens past what the cache
// already holds. Turns run one at a time; concurrent callers queue.
type ChatEngine struct {
	lm      *LocalModel
	tmpl    *chat.Template
	ctxSize int
	chain   ChainFactory

	mu       sync.Mutex // serialises turns; guards sessions
	sessions map[string]*chatSession
	maxKeep  int
}

// chatSession is a conversation's pipeline and the tokens in its caches.
type chatSession struct {
	chain  model.Chain
	close  func()
	cached []int32
	used   time.Time
}

// ChatOptions configure a ChatEngine.
type ChatOptions struct {
	// Context is the KV cache size per conversation (0: the model's
	// training context, at most 4096).
	Context int
	// Template overrides the model's chat template.
	Template *chat.Template
	// Chain builds pipelines; nil runs every layer locally.
	Chain ChainFactory
	// KeepSessions is how many conversations' caches stay in memory (0: 4).
	KeepSessions int
}

// NewChatEngine prepares chat on lm.
func NewChatEngine(lm *LocalModel, opt ChatOptions) (*ChatEngine, error) {
	tmpl := opt.Template
	if tmpl == nil {
		var err error
		if tmpl, err = chat.FromGGUF(lm.Model.File.Header); err != nil {
			return nil, err
		}
	}
	ctxSize := opt.Context
	if ctxSize <= 0 {
		ctxSize = min(lm.Model.ContextLen, 4096)
	}
	if ctxSize > lm.Model.ContextLen {
		return nil, fmt.Errorf("context %d exceeds the model's %d", ctxSize, lm.Model.ContextLen)
	}
	e := &ChatEngine{lm: lm, tmpl: tmpl, ctxSize: ctxSize, chain: opt.Chain, sessions: map[string]*chatSession{}, maxKeep: opt.KeepSessions}
	if e.maxKeep <= 0 {
		e.maxKeep = 4
	}
	if e.chain == nil {
		e.chain = func(_ context.Context, maxCtx int) (model.Chain, func(), error) {
			stages, err := lm.Model.Split(nil, lm.Pool)
			if err != nil {
				return nil, nil, err
			}
			return model.LocalChain(stages, maxCtx)
		}
	}
	return e, nil
}

// Template is the chat template in use.
func (e *ChatEngine) Template() *chat.Template { return e.tmpl }

// Model is the model the engine runs.
func (e *ChatEngine) Model() *LocalModel { return e.lm }

// ContextSize is the KV cache size of each conversation.
func (e *ChatEngine) ContextSize() int { return e.ctxSize }

// ChatRequest is one turn: the whole conversation so far (system prompt
// first, newest user message last).
type ChatRequest struct {
	// Session keys the KV cache to reuse; "" uses a fresh cache.
	Session   string
	Messages  []chat.Message
	Sampling  sample.Params
	MaxTokens int      // 0: up to the context limit
	Stop      []string // stop strings in addition to the template's
}

// ChatReply is what a turn produced.
type ChatReply struct {
	Text         string
	Finish       string // "stop", "length" or "cancelled"
	PromptTokens int    // tokens of the rendered prompt
	Reused       int    // prompt tokens found in the cache
	Evaluated    int    // prompt tokens evaluated this turn
	Completion   int    // tokens generated
	Notice       string // set when old messages were dropped to fit
	Stats        model.Stats
}

// errStopString ends a generation when a stop string appears in the text.
var errStopString = errors.New("stop string")

// Complete runs one turn and streams the reply's text to onText.
func (e *ChatEngine) Complete(ctx context.Context, req ChatRequest, onText func(string)) (*ChatReply, error) {
	if err := req.Sampling.Validate(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	reserve := req.MaxTokens
	if reserve <= 0 || reserve > e.ctxSize/2 {
		reserve = e.ctxSize / 4
	}
	win, err := chat.FitWindow(req.Messages, e.ctxSize-reserve, e.countTokens)
	if err != nil {
		return nil, err
	}
	ids, err := e.encode(win.Messages)
	if err != nil {
		return nil, err
	}
	stops := append(e.tmpl.StopStrings(), req.Stop...)
	reply, err := e.generate(ctx, req.Session, ids, req.Sampling, req.MaxTokens, stops, onText)
	if reply != nil {
		reply.Notice = win.Notice
	}
	return reply, err
}

// TextRequest is a raw completion: the prompt is tokenized as is (with BOS
// when the model wants one), no chat template.
type TextRequest struct {
	Session   string
	Prompt    string
	Sampling  sample.Params
	MaxTokens int
	Stop      []string
}

// CompleteText continues a raw prompt and streams the text to onText.
func (e *ChatEngine) CompleteText(ctx context.Context, req TextRequest, onText func(string)) (*ChatReply, error) {
	if err := req.Sampling.Validate(); err != nil {
		return nil, err
	}
	ids := e.lm.Tok.Encode(req.Prompt, true, true)
	if len(ids) == 0 {
		if e.lm.Tok.BOS() < 0 {
			return nil, errors.New("empty prompt and the model has no BOS token")
		}
		ids = []int32{e.lm.Tok.BOS()}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.generate(ctx, req.Session, ids, req.Sampling, req.MaxTokens, req.Stop, onText)
}

// generate evaluates ids on the session's pipeline, reusing its cached
// prefix, and samples a reply. e.mu must be held.
func (e *ChatEngine) generate(ctx context.Context, key string, ids []int32, params sample.Params, maxTokens int, stopStrings []string, onText func(string)) (*ChatReply, error) {
	if len(ids) >= e.ctxSize {
		return nil, fmt.Errorf("%w: %d prompt tokens, context %d", chat.ErrContextExceeded, len(ids), e.ctxSize)
	}
	s, err := e.session(ctx, key)
	if err != nil {
		return nil, err
	}
	if key == "" {
		defer s.close()
	}
	prefix := min(chat.CommonPrefix(s.cached, ids), len(ids)-1)
	maxNew := e.ctxSize - len(ids)
	if maxTokens > 0 {
		maxNew = min(maxNew, maxTokens)
	}
	reply := &ChatReply{PromptTokens: len(ids), Reused: prefix, Evaluated: len(ids) - prefix}
	stops := chat.NewStopMatcher(stopStrings)
	stream := tokenizer.NewStreamDecoder(e.lm.Tok)
	var text strings.Builder
	show := func(out string) {
		text.WriteString(out)
		if out != "" && onText != nil {
			onText(out)
		}
	}
	// The cache is in an unknown state until the generation says otherwise.
	s.cached = nil
	gen, stats, err := model.Generate(ctx, s.chain, ids, sample.New(params), model.GenerateOptions{
		MaxTokens: maxNew,
		Prefix:    prefix,
		Stop:      e.lm.Tok.IsEOG,
		OnToken: func(id int32) error {
			out, stopped := stops.Push(stream.Token(id))
			show(out)
			if stopped {
				return errStopString
			}
			return nil
		},
	})
	all := append(ids, gen...)
	s.cached = all[:min(stats.Cached, len(all))]
	reply.Stats, reply.Completion, reply.Finish = stats, len(gen), stats.StopReason
	switch {
	case errors.Is(err, errStopString):
		reply.Finish, err = "stop", nil
	case err == nil:
		out, _ := stops.Push(stream.Flush())
		show(out)
		show(stops.Flush())
	}
	reply.Text = text.String()
	return reply, err
}

// encode renders msgs with a generation prompt and tokenizes the result,
// adding BOS only when the rendering does not already start with it.
func (e *ChatEngine) encode(msgs []chat.Message) ([]int32, error) {
	prompt, err := e.tmpl.Render(msgs, true)
	if err != nil {
		return nil, err
	}
	addBOS := e.tmpl.BOS() == "" || !strings.HasPrefix(prompt, e.tmpl.BOS())
	ids := e.lm.Tok.Encode(prompt, addBOS, true)
	if len(ids) == 0 {
		return nil, errors.New("chat: empty prompt")
	}
	return ids, nil
}

// countTokens measures a message as the template renders it, markup
// included, for the context-window policy.
func (e *ChatEngine) countTokens(m chat.Message) int {
	if text, err := e.tmpl.Render([]chat.Message{m}, false); err == nil {
		return len(e.lm.Tok.Encode(text, false, true))
	}
	// Strict templates may refuse a lone message; estimate instead.
	return len(e.lm.Tok.Encode(m.Content, false, false)) + 8
}

// session returns the cached pipeline of a conversation, creating it (and
// evicting the least recently used one) when needed.
func (e *ChatEngine) session(ctx context.Context, key string) (*chatSession, error) {
	if s, ok := e.sessions[key]; ok && key != "" {
		s.used = time.Now()
		return s, nil
	}
	chain, closeFn, err := e.chain(ctx, e.ctxSize)
	if err != nil {
		return nil, err
	}
	s := &chatSession{chain: chain, close: closeFn, used: time.Now()}
	if key == "" {
		return s, nil
	}
	if len(e.sessions) >= e.maxKeep {
		var oldest string
		for k, v := range e.sessions {
			if oldest == "" || v.used.Before(e.sessions[oldest].used) {
				oldest = k
			}
		}
		e.sessions[oldest].close()
		delete(e.sessions, oldest)
	}
	e.sessions[key] = s
	return s, nil
}

// Forget drops a conversation's cache.
func (e *ChatEngine) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.sessions[key]; ok {
		s.close()
		delete(e.sessions, key)
	}
}

// Close releases every cached session.
func (e *ChatEngine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, s := range e.sessions {
		s.close()
		delete(e.sessions, k)
	}
}
