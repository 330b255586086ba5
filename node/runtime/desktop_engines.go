package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hearth-p2p/hearth/inference/chat"
)

// modelCache keeps the models chat runs on open, at most max of them
// (more only while all are busy); the least recently used idle one is
// closed first.
type modelCache struct {
	max int

	mu   sync.Mutex   // guards open
	open []*openModel // least recently used first
}

// openModel is a model opened for chat with its engines: one running
// every layer here, one (made on first use) offloading to peers.
type openModel struct {
	path string
	lm   *LocalModel
	sem  chan struct{} // one turn at a time, waited for with a context
	refs int           // turns using the model; guarded by modelCache.mu

	mu      sync.Mutex // guards the engines
	local   *ChatEngine
	offload *ChatEngine
}

func (c *modelCache) init(max int) { c.max = max }

// acquire returns the open model of path, opening it if needed; release
// must be called when the turn is done with it.
func (c *modelCache) acquire(path string, open func(string) (*LocalModel, error)) (*openModel, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.IndexFunc(c.open, func(m *openModel) bool { return m.path == path })
	var m *openModel
	if i >= 0 {
		m = c.open[i]
		c.open = slices.Delete(c.open, i, i+1)
	} else {
		lm, err := open(path)
		if err != nil {
			return nil, nil, err
		}
		m = &openModel{path: path, lm: lm, sem: make(chan struct{}, 1)}
	}
	m.refs++
	c.open = append(c.open, m)
	c.evictLocked()
	var once sync.Once
	return m, func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			m.refs--
			c.evictLocked()
		})
	}, nil
}

// evictLocked closes idle models beyond max, least recently used first.
func (c *modelCache) evictLocked() {
	for i := 0; len(c.open) > c.max && i < len(c.open); {
		if m := c.open[i]; m.refs == 0 {
			c.open = slices.Delete(c.open, i, i+1)
			m.close()
			continue
		}
		i++
	}
}

// drop closes the model of path if no turn uses it; it reports false when
// one does.
func (c *modelCache) drop(path string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.IndexFunc(c.open, func(m *openModel) bool { return m.path == path })
	if i < 0 {
		return true
	}
	if c.open[i].refs > 0 {
		return false
	}
	m := c.open[i]
	c.open = slices.Delete(c.open, i, i+1)
	m.close()
	return true
}

// each calls f on every open model.
func (c *modelCache) each(f func(*openModel)) {
	c.mu.Lock()
	ms := slices.Clone(c.open)
	c.mu.Unlock()
	for _, m := range ms {
		f(m)
	}
}

func (c *modelCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.open {
		m.close()
	}
	c.open = nil
}

func (m *openModel) close() {
	m.mu.Lock()
	for _, e := range []*ChatEngine{m.local, m.offload} {
		if e != nil {
			e.Close()
		}
	}
	m.local, m.offload = nil, nil
	m.mu.Unlock()
	m.lm.Close()
}

// engine returns the model's local or offloading engine, making it on
// first use.
func (m *openModel) engine(offload bool, opt ChatOptions) (*ChatEngine, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := &m.local
	if offload {
		e = &m.offload
	}
	if *e == nil {
		eng, err := NewChatEngine(m.lm, opt)
		if err != nil {
			return nil, err
		}
		*e = eng
	}
	return *e, nil
}

// forget drops a conversation's caches in both engines.
func (m *openModel) forget(id string) {
	m.mu.Lock()
	engines := []*ChatEngine{m.local, m.offload}
	m.mu.Unlock()
	for _, e := range engines {
		if e != nil {
			e.Forget(id)
		}
	}
}

// forgetSessions drops a conversation's KV caches (and its pipeline's
// remote sessions) in the background: an engine busy with another reply
// is waited for.
func (d *Desktop) forgetSessions(id string) {
	d.goBackground(func() { d.models.each(func(m *openModel) { m.forget(id) }) })
}

// convKey carries the conversation a chain is built for in a context.
type convKey struct{}

// turnResult is what a turn produced.
type turnResult struct {
	reply *ChatReply
	peers int
}

// complete runs one turn of conv on its model; onText gets the reply's
// text as it is generated.
func (d *Desktop) complete(ctx context.Context, conv *chat.Conversation, onText func(string, int)) (*turnResult, error) {
	if conv.Model == "" {
		return nil, fmt.Errorf("%w: this conversation has no model; download or import one in Models", ErrNoModel)
	}
	path, err := d.store.Resolve(conv.Model)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoModel, err)
	}
	settings := decodeSampling(conv.Sampling)
	params, err := settings.Params()
	if err != nil {
		return nil, err
	}
	params.Seed = uint64(time.Now().UnixNano())
	offload := !conv.Offload.LocalOnly
	if offload && d.Settings().Privacy == PrivacyNever {
		return nil, ErrOffloadOff
	}
	threads := d.cfg.Threads
	m, release, err := d.models.acquire(path, func(p string) (*LocalModel, error) { return OpenModel(p, threads) })
	if err != nil {
		return nil, err
	}
	defer release()
	opt := ChatOptions{Context: d.cfg.ChatContext}
	if offload {
		opt.Chain = d.offloadChain(m.lm)
	}
	eng, err := m.engine(offload, opt)
	if err != nil {
		return nil, err
	}
	select { // one turn per model at a time; a stopped turn leaves the queue at once
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return &turnResult{reply: &ChatReply{Finish: "cancelled"}}, ctx.Err()
	}
	defer func() { <-m.sem }()
	ctx = context.WithValue(ctx, convKey{}, conv.ID)
	peers := func() int { return d.net.peersOf(conv.ID) }
	reply, err := eng.Complete(ctx, ChatRequest{Session: conv.ID, Messages: conv.Prompt(), Sampling: params, MaxTokens: settings.MaxTokens},
		func(s string) { onText(s, peers()) })
	if reply == nil {
		if err == nil {
			err = errors.New("the engine returned no reply")
		}
		if ctx.Err() != nil {
			return &turnResult{reply: &ChatReply{Finish: "cancelled"}}, err
		}
		return nil, err
	}
	return &turnResult{reply: reply, peers: peers()}, err
}
