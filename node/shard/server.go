package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/hearth-p2p/hearth/node/meter"
)

// Server serves layer ranges of local models to peers over /hearth/shard/1.
type Server struct {
	h      host.Host
	key    crypto.PrivKey // signs results; nil when the host has no key
	cfg    Config
	log    *slog.Logger
	ledger meter.Ledger

	modelsMu sync.RWMutex // guards models and order (Move replaces entries)
	models   map[[32]byte]*served
	order    []*served // models in the order given

	accepting atomic.Bool

	mu       sync.Mutex // guards the fields below
	ctx      context.Context
	serving  bool
	stopped  bool
	sessions map[[16]byte]*session
	kvBytes  int64
	totals   Totals
	subs     map[chan Event]struct{}

	handlers sync.WaitGroup // running stream handlers
	ready    chan struct{}  // closed once Serve has registered the handler
}

// served is one model a server serves.
type served struct {
	b    Backend
	info ModelInfo

	mu       sync.Mutex // guards perLayer
	perLayer float64    // EWMA of seconds per token per layer, single-token forwards
}

// tokPerSec is the measured decode throughput over the served range.
func (sv *served) tokPerSec() float32 {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.perLayer <= 0 {
		return 0
	}
	return float32(1 / (sv.perLayer * float64(sv.info.To-sv.info.From)))
}

func (sv *served) observe(tokens, layers int, d time.Duration) {
	if tokens != 1 || layers <= 0 || d <= 0 {
		return
	}
	v := d.Seconds() / float64(layers)
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.perLayer == 0 {
		sv.perLayer = v
	} else {
		sv.perLayer += 0.1 * (v - sv.perLayer)
	}
}

// ErrServing reports a second Serve on the same server.
var ErrServing = errors.New("shard server already serving")

// NewServer prepares a server for backends on h. It needs a ledger when the
// price is not zero. Nothing is served until Serve.
func NewServer(h host.Host, cfg Config, ledger meter.Ledger, logger *slog.Logger, backends ...Backend) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Price.PerKiloUnit > 0 && ledger == nil {
		return nil, fmt.Errorf("%w: a paid server needs a ledger", ErrInvalidConfig)
	}
	if len(backends) == 0 {
		return nil, fmt.Errorf("%w: nothing to serve", ErrInvalidConfig)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		h: h, key: h.Peerstore().PrivKey(h.ID()), cfg: cfg, log: logger.With("sub", "shard"), ledger: ledger,
		models: map[[32]byte]*served{}, sessions: map[[16]byte]*session{}, subs: map[chan Event]struct{}{},
		ready: make(chan struct{}),
	}
	for _, b := range backends {
		info := b.Info()
		if _, dup := s.models[info.Hash]; dup {
			return nil, fmt.Errorf("%w: model %x given twice", ErrInvalidConfig, info.Hash[:4])
		}
		if info.From < 0 || info.From >= info.To || info.To > info.NumLayers || info.Dim <= 0 || info.Vocab <= 0 || info.KVDim <= 0 {
			return nil, fmt.Errorf("%w: backend %q: layers [%d,%d) of %d, dim %d, vocab %d", ErrInvalidConfig,
				info.Name, info.From, info.To, info.NumLayers, info.Dim, info.Vocab)
		}
		_, info.Challenges = b.(TensorSource)
		sv := &served{b: b, info: info}
		s.models[info.Hash] = sv
		s.order = append(s.order, sv)
	}
	s.accepting.Store(true)
	return s, nil
}

// Serve handles shard streams until ctx ends, then stops taking streams,
// tells every open session the server is shutting down, and returns once
// their handlers have finished.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return ErrServing
	}
	s.serving, s.ctx = true, ctx
	s.mu.Unlock()
	s.h.SetStreamHandler(ProtocolID, s.handleStream)
	close(s.ready)
	s.log.Info("serving shards", "models", len(s.order), "price", s.cfg.Price.PerKiloUnit)
	<-ctx.Done()
	s.h.RemoveStreamHandler(ProtocolID)
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.handlers.Wait()
	s.log.Info("shard server stopped")
	return nil
}

// Ready is closed once Serve takes streams.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// SetAccepting starts or stops taking new sessions. Open sessions go on; a
// server not accepting answers opens with CodeBusy.
func (s *Server) SetAccepting(on bool) {
	if s.accepting.Swap(on) != on {
		s.log.Info("accepting sessions", "on", on)
		s.emit(Event{Kind: EventAccepting, Accepting: on})
	}
}

// Evict ends every open session: each handler answers its peer's next
// frame (or wakes from waiting for one) with CodeBusy and the reason, and
// releases the session's memory. A client fails over to another provider.
// A forward already computing finishes first and its result is sent. It
// returns the number of sessions told to end.
func (s *Server) Evict(reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.sessions {
		if ss.evicted.CompareAndSwap(nil, &reason) {
			n++
		}
		ss.conn.s.SetReadDeadline(time.Now()) // wakes a handler waiting for a frame
	}
	if n > 0 {
		s.log.Info("sessions evicted", "count", n, "reason", reason)
	}
	return n
}

// Accepting reports whether new sessions are taken.
func (s *Server) Accepting() bool { return s.accepting.Load() }

// Info describes what the server serves now.
func (s *Server) Info() Info {
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	info := Info{
		Version: Version, Backend: s.cfg.Backend, Price: s.cfg.Price, Payout: s.cfg.Payout,
		CreditLimit: s.cfg.CreditLimit, MaxContext: s.cfg.MaxContext, MaxBatch: s.cfg.MaxBatch,
		MaxFrame: s.cfg.MaxFrame, Accepting: s.accepting.Load(), Sessions: n, MaxSessions: s.cfg.MaxSessions,
	}
	s.modelsMu.RLock()
	defer s.modelsMu.RUnlock()
	for _, sv := range s.order {
		mi := sv.info
		mi.TokPerSec = sv.tokPerSec()
		info.Models = append(info.Models, mi)
	}
	return info
}

// handleStream runs one shard stream unless the server has stopped.
func (s *Server) handleStream(st network.Stream) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		st.Reset()
		return
	}
	s.handlers.Add(1)
	ctx := s.ctx
	s.mu.Unlock()
	defer s.handlers.Done()
	s.serveStream(ctx, st)
}
