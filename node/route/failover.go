package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Session is an open session on a stage: a provider's remote stage or one
// run by this node. Forward follows model.Session's contract: n positions
// from pos (token ids for a first stage, n×dim hidden states otherwise),
// returning n×dim hidden states or, for a last stage, the last position's
// logits; the slice is valid until the next call, and a pos below the
// session's length replays from there.
type Session interface {
	Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error)
	Close() error
}

// Aborter is the optional capability of a Session to end without paying
// for unacknowledged work: used for a provider found cheating.
type Aborter interface{ Abort() }

// OpenFunc opens a session of up to maxCtx positions on layers r, which c
// serves.
type OpenFunc func(ctx context.Context, c Candidate, r Range, maxCtx int) (Session, error)

// OpenLocalFunc opens a session of up to maxCtx positions on layers r run by
// this node.
type OpenLocalFunc func(r Range, maxCtx int) (Session, error)

// FindFunc lists the providers known now (a fresh discovery lookup).
type FindFunc func(ctx context.Context) ([]Candidate, error)

// ErrFaulty reports a provider whose result was found wrong (an Auditor
// returns it wrapped): the chain replaces the provider as if it had died.
var ErrFaulty = errors.New("provider returned a wrong result")

// ErrNoProvider reports a layer range that no provider could take over.
var ErrNoProvider = errors.New("no provider could take over")

// Audit is one remote result offered to an Auditor: the hop's inputs for
// positions [0, Pos+N) and what the provider answered for [Pos, Pos+N). The
// slices alias the chain's memory and are valid during the call only.
type Audit struct {
	Peer    string
	Range   Range
	Session Session
	Pos, N  int
	Tokens  []int32   // inputs of a first stage
	Hidden  []float32 // inputs of a later stage, (Pos+N) × dim
	Output  []float32 // N × dim hidden states, or the logits of a last stage
	Last    bool      // the stage returns logits
}

// Auditor may re-check a remote result (node/verify implements it). It
// returns an error wrapping ErrFaulty when the provider must be replaced;
// other errors (no checker available) are logged and ignored.
type Auditor interface {
	Audit(ctx context.Context, a Audit) error
}

// FailoverConfig says how a FailoverChain replaces providers.
type FailoverConfig struct {
	NumLayers  int
	Dim        int // hidden size
	MaxContext int // positions every session holds
	Weights    Weights

	Open OpenFunc // required when any hop is remote
	// Find, when set, is asked for fresh candidates at each failover, on
	// top of the plan's alternatives.
	Find FindFunc
	// Local lists layers this node may run itself when no provider can;
	// OpenLocal opens them.
	Local     []Range
	OpenLocal OpenLocalFunc
	// Banned excludes providers (a ban list) from failovers.
	Banned func(peer string) bool
	// Audit, when set, sees every remote result.
	Audit Auditor
	// Book, when set, records each hop's measured round trips and supplies
	// latencies for re-planning.
	Book *LatencyBook
	// Deadline is the template of each hop's stall detector.
	Deadline Deadline
	// MaxAttempts bounds the re-plans of one failover before it waits for
	// providers (default 4).
	MaxAttempts int
	// Patience is how long a failover keeps looking, with backoff, when no
	// provider can take over yet (providers restarting, joining); 0 gives
	// up after MaxAttempts.
	Patience time.Duration
	// Exclude is how long a provider that failed a chain is left out of its
	// re-plans (default 1 minute; a restarted provider comes back after it).
	Exclude time.Duration
	// OpenTimeout bounds opening one replacement session (default 10 s).
	OpenTimeout time.Duration
	// Rand, when set, spreads replacements over near-equal providers
	// (Spread with Slack).
	Rand  *rand.Rand
	Slack float64
	// OnEvent is called, from the generating goroutine, after each
	// failover; it must not call back into the chain.
	OnEvent func(Event)
	Logger  *slog.Logger
}

// Segment is one hop of a chain as opened: a session on layers Range, run
// by Peer (or locally), with the candidates able to replace it.
type Segment struct {
	Range
	Local        bool
	Peer         string
	Session      Session
	Alternatives []Candidate
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	EventFailover EventKind = iota + 1 // a provider was replaced (Err: the replacement failed)
)

// Event reports a failover: which provider failed and why, who took over,
// and how long it took.
type Event struct {
	Kind    EventKind
	Time    time.Time
	Range   Range
	From    string   // the failed provider
	To      []string // the providers now serving Range ("local": this node)
	Reason  string   // why From was replaced
	Stalled bool     // From missed its deadline
	Faulty  bool     // From's result was found wrong
	// Detect is the time from the call to the failure (the deadline, for a
	// stall); Recovery the time from the failure to the step's result:
	// re-planning, opening, replaying the history and the step.
	Detect   time.Duration
	Recovery time.Duration
	Replayed int // positions replayed (history and step)
	Err      error
}

// segment is a hop of a running chain.
type segment struct {
	Segment
	deadline Deadline
	// Input history of a remote hop: the positions [0,n) it has been fed.
	tokens []int32
	hidden []float32
	n      int
}

// FailoverChain runs a model's layers through a chain of local and remote
// sessions and survives providers that die, stall or cheat: it keeps each
// remote hop's inputs, and when a provider fails it re-plans the hop's
// layers over the other providers (one or several), replays the inputs as
// one batch to rebuild their caches and re-sends the step. With f32 hidden
// states and deterministic kernels the replay reproduces the lost state
// exactly, so the caller sees a pause, never a different token.
//
// It satisfies model.Forwarder for the whole model (tokens in, logits out);
// calls run one at a time.
type FailoverChain struct {
	cfg FailoverConfig
	log *slog.Logger

	mu       sync.Mutex // serialises calls; guards the fields below
	segs     []*segment
	len      int
	excluded map[string]time.Time // providers that failed this chain, until when
	stats    FailoverStats
	closed   bool
}

// FailoverStats count a chain's failovers.
type FailoverStats struct {
	Failovers int // providers replaced
	Failed    int // failovers that found no replacement
	Replayed  int // positions replayed
}

// NewFailoverChain runs segs, which must tile [0, cfg.NumLayers) in order.
// The chain owns the sessions: Close closes them.
func NewFailoverChain(cfg FailoverConfig, segs []Segment) (*FailoverChain, error) {
	if cfg.NumLayers <= 0 || cfg.Dim <= 0 || cfg.MaxContext <= 0 {
		return nil, fmt.Errorf("%w: failover chain of %d layers, dim %d, context %d", ErrBadRequest, cfg.NumLayers, cfg.Dim, cfg.MaxContext)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.Exclude <= 0 {
		cfg.Exclude = time.Minute
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = 10 * time.Second
	}
	cfg.Weights = plannerWeights(cfg.Weights)
	cfg.Deadline.defaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &FailoverChain{cfg: cfg, log: log.With("sub", "failover"), excluded: map[string]time.Time{}}
	at := 0
	for _, s := range segs {
		switch {
		case s.From != at || s.To <= s.From || s.Session == nil:
			return nil, fmt.Errorf("%w: segments do not tile the layers at %d (%v)", ErrBadRequest, at, s.Range)
		case !s.Local && cfg.Open == nil:
			return nil, fmt.Errorf("%w: remote segment %v without an opener", ErrBadRequest, s.Range)
		}
		at = s.To
		c.segs = append(c.segs, &segment{Segment: s, deadline: cfg.Deadline.Fresh()})
	}
	if at != cfg.NumLayers {
		return nil, fmt.Errorf("%w: segments end at layer %d of %d", ErrBadRequest, at, cfg.NumLayers)
	}
	return c, nil
}

// Segments returns the hops now running, in layer order.
func (c *FailoverChain) Segments() []Segment {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Segment, len(c.segs))
	for i, s := range c.segs {
		out[i] = s.Segment
	}
	return out
}

// Describe renders the hops, e.g. "[0,2) local → [2,5) 12D3…".
func (c *FailoverChain) Describe() string {
	segs := c.Segments()
	parts := make([]string, len(segs))
	for i, s := range segs {
		who := s.Peer
		if s.Local {
			who = "local"
		}
		parts[i] = fmt.Sprintf("[%d,%d) %s", s.From, s.To, who)
	}
	return strings.Join(parts, " → ")
}

// Stats returns the failover counters.
func (c *FailoverChain) Stats() FailoverStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Len is the number of positions the chain holds.
func (c *FailoverChain) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.len
}

// Close closes every session.
func (c *FailoverChain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for _, s := range c.segs {
		errs = append(errs, s.Session.Close())
	}
	return errors.Join(errs...)
}

// Forward runs tokens at positions pos… through every hop and returns the
// last position's logits, valid until the next call. hidden must be nil: the
// chain starts at the embeddings.
func (c *FailoverChain) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(tokens)
	switch {
	case c.closed:
		return nil, errors.New("failover chain: closed")
	case hidden != nil:
		return nil, errors.New("failover chain: takes token ids, not hidden states")
	case n == 0 || pos < 0 || pos > c.len || pos+n > c.cfg.MaxContext:
		return nil, fmt.Errorf("failover chain: %d positions at %d with %d cached, context %d", n, pos, c.len, c.cfg.MaxContext)
	}
	if pos < c.len {
		c.len = pos // the sessions truncate as they are called
	}
	var x []float32
	for i := 0; i < len(c.segs); i++ {
		var tk []int32
		if i == 0 {
			tk = tokens
		}
		out, took, err := c.step(ctx, i, pos, n, tk, x)
		if err != nil {
			return nil, fmt.Errorf("layers %v: %w", c.segs[i].Range, err)
		}
		i += took - 1
		x = out
	}
	c.len = pos + n
	return x, nil
}

// step runs segment i, failing over when its provider fails. It returns the
// output and how many segments now stand where segment i stood.
func (c *FailoverChain) step(ctx context.Context, i, pos, n int, tokens []int32, hidden []float32) ([]float32, int, error) {
	s := c.segs[i]
	if s.Local {
		out, err := s.Session.Forward(ctx, pos, tokens, hidden)
		return out, 1, err
	}
	s.record(pos, tokens, hidden, c.cfg.Dim)
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, s.deadline.For(n))
	out, err := s.Session.Forward(cctx, pos, tokens, hidden)
	stalled := err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	faulty := false
	if err == nil {
		rtt := time.Since(start)
		s.deadline.Observe(n, rtt)
		if c.cfg.Book != nil && n == 1 {
			c.cfg.Book.Observe(s.Peer, rtt)
		}
		if err = c.audit(ctx, s, pos, n, out); err == nil {
			return out, 1, nil
		}
		faulty = true
	}
	if ctx.Err() != nil {
		return nil, 0, err
	}
	f := failure{from: s.Peer, cause: err, stalled: stalled, faulty: faulty, detect: time.Since(start), at: time.Now()}
	return c.failover(ctx, i, pos, n, f)
}

// audit offers a result to the auditor; only ErrFaulty counts.
func (c *FailoverChain) audit(ctx context.Context, s *segment, pos, n int, out []float32) error {
	if c.cfg.Audit == nil {
		return nil
	}
	a := Audit{Peer: s.Peer, Range: s.Range, Session: s.Session, Pos: pos, N: n, Output: out, Last: s.To == c.cfg.NumLayers}
	if s.From == 0 {
		a.Tokens = s.tokens[:s.n]
	} else {
		a.Hidden = s.hidden[:s.n*c.cfg.Dim]
	}
	err := c.cfg.Audit.Audit(ctx, a)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrFaulty):
		return err
	}
	c.log.Warn("audit not done", "peer", s.Peer, "layers", s.Range, "err", err)
	return nil
}

// record sets the segment's input history to [0,pos) plus this call's.
func (s *segment) record(pos int, tokens []int32, hidden []float32, dim int) {
	if s.From == 0 {
		s.tokens = append(s.tokens[:pos], tokens...)
		s.n = len(s.tokens)
		return
	}
	s.hidden = append(s.hidden[:pos*dim], hidden...)
	s.n = len(s.hidden) / dim
}
