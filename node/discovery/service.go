package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hearth-p2p/hearth/node/p2p"
)

// Service errors.
var (
	// ErrNotRunning is returned by calls that need Serve to be running.
	ErrNotRunning = errors.New("discovery service not running")
	// ErrAlreadyRunning is returned by a second concurrent Serve.
	ErrAlreadyRunning = errors.New("discovery service already running")
	// ErrDHTDisabled is returned by Find when the DHT is switched off.
	ErrDHTDisabled = errors.New("DHT disabled")
	// ErrNotAnnounced is returned by Withdraw for a model we do not serve.
	ErrNotAnnounced = errors.New("model not announced")
)

// Service publishes this node's shard announcements and discovers other
// providers over GossipSub, the Kademlia DHT and mDNS, feeding a Registry.
type Service struct {
	h   host.Host
	key crypto.PrivKey
	cfg Config
	log *slog.Logger
	reg *Registry
	now func() time.Time

	mu      sync.Mutex // guards own, watched, run, started, lastSeq
	own     map[ModelHash]*ownShard
	watched map[ModelHash]bool
	run     *running      // nil unless Serve is running and fully started
	started chan struct{} // closed when a run starts (PubSub waits on it)
	serving bool          // Serve is running (maybe still starting)
	lastSeq uint64
}

// ownShard is one of our announcements, with its signed bytes.
type ownShard struct {
	a        Announcement
	raw      []byte
	provided time.Time // last successful DHT provide
}

// running holds what exists while Serve runs.
type running struct {
	ctx    context.Context
	ps     *pubsub.PubSub          // nil without pubsub
	dht    *dht.IpfsDHT            // nil without the DHT
	topics map[ModelHash]*topicSub // guarded by Service.mu

	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup // topic readers and provide calls
}

// goAsync runs f in a goroutine that shutdown waits for; after shutdown
// has begun it does nothing.
func (r *running) goAsync(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.wg.Go(f)
}

// drain stops new goroutines and waits for the running ones.
func (r *running) drain() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.wg.Wait()
}

// New returns a discovery service for h; announcements are signed with h's
// private key from its peerstore. A nil reg gets a fresh Registry.
func New(h host.Host, reg *Registry, cfg Config, logger *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key := h.Peerstore().PrivKey(h.ID())
	if key == nil {
		return nil, errors.New("new discovery service: host has no private key in its peerstore")
	}
	if reg == nil {
		reg = NewRegistry(nil)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		h: h, key: key, cfg: cfg, reg: reg, now: time.Now,
		log:     logger.With("sub", "discovery"),
		own:     make(map[ModelHash]*ownShard),
		watched: make(map[ModelHash]bool),
		started: make(chan struct{}),
	}, nil
}

// Registry returns the registry the service fills.
func (s *Service) Registry() *Registry { return s.reg }

// Serve runs the enabled mechanisms until ctx ends: the /hearth/announce/1
// handler, the DHT, GossipSub topics for announced and watched models,
// mDNS, periodic re-announcement and registry pruning. It returns nil when
// ctx ends.
func (s *Service) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := &running{ctx: ctx, topics: make(map[ModelHash]*topicSub)}
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return ErrAlreadyRunning
	}
	s.serving = true
	s.mu.Unlock()

	stop, err := s.start(ctx, run)
	defer func() {
		cancel()
		s.mu.Lock()
		if s.run != nil {
			s.started = make(chan struct{}) // for the next run
		}
		s.run, s.serving = nil, false
		s.mu.Unlock()
		stop()
	}()
	if err != nil {
		return err
	}
	// Only a fully started run is visible to Announce/Withdraw; models
	// announced while it was starting are joined here and published by the
	// refresh below.
	s.mu.Lock()
	for m := range s.own {
		s.joinLocked(run, m)
	}
	for m := range s.watched {
		s.joinLocked(run, m)
	}
	s.run = run
	close(s.started)
	s.mu.Unlock()
	s.log.Info("discovery running", "pubsub", run.ps != nil, "dht", run.dht != nil, "mdns", s.cfg.EnableMDNS)
	s.refresh(ctx, run)

	refresh := time.NewTicker(s.cfg.Refresh)
	defer refresh.Stop()
	prune := time.NewTicker(s.cfg.Prune)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			s.refresh(ctx, run)
		case <-prune.C:
			if n := s.reg.Prune(); n > 0 {
				s.log.Debug("pruned expired announcements", "count", n)
			}
		}
	}
}

// start brings up the mechanisms; stop tears down whatever started.
func (s *Service) start(ctx context.Context, run *running) (stop func(), err error) {
	var closers []func()
	stop = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	// Closers run in reverse: goroutines are drained last, after ctx was
	// cancelled and the mechanisms they use were closed.
	closers = append(closers, run.drain)
	s.h.SetStreamHandler(p2p.AnnounceProtocol, s.handleFetch)
	closers = append(closers, func() { s.h.RemoveStreamHandler(p2p.AnnounceProtocol) })
	if s.cfg.EnableDHT {
		if run.dht, err = newDHT(ctx, s.h, s.cfg); err != nil {
			return stop, err
		}
		closers = append(closers, func() {
			if err := run.dht.Close(); err != nil {
				s.log.Warn("close DHT", "err", err)
			}
		})
	}
	if s.cfg.EnablePubSub {
		if run.ps, err = newPubSub(ctx, s.h, run.dht); err != nil {
			return stop, err
		}
		closers = append(closers, func() { s.leaveAll(run) })
	}
	if s.cfg.EnableMDNS {
		closeMDNS, err := startMDNS(ctx, s.h, s.cfg.MDNSServiceName, s.log)
		if err != nil {
			return stop, err
		}
		closers = append(closers, closeMDNS)
	}
	return stop, nil
}

// running returns the running state or nil.
func (s *Service) running() *running {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run
}

// Announce signs and publishes that this node serves a's layer range of
// a's model, and keeps re-announcing it every Refresh until Withdraw. The
// service fills PeerID, Addrs, Seq and Expires; a later Announce for the
// same model replaces the earlier one (e.g. to update Load or the price).
// Before Serve runs, the announcement is kept and published on start.
func (s *Service) Announce(ctx context.Context, a Announcement) error {
	s.mu.Lock()
	a.Withdrawn = false
	sh, err := s.signLocked(a)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("announce: %w", err)
	}
	if old := s.own[a.ModelHash]; old != nil {
		sh.provided = old.provided
	}
	s.own[a.ModelHash] = sh
	run := s.run
	if run != nil && run.ps != nil {
		s.joinLocked(run, a.ModelHash)
	}
	s.mu.Unlock()
	if run == nil {
		return nil
	}
	if run.dht != nil && sh.provided.IsZero() {
		s.provideAsync(run, a.ModelHash)
	}
	return s.publish(ctx, run, a.ModelHash, sh.raw)
}

// Withdraw publishes a signed withdrawal for a model this node announced
// and stops re-announcing it, so clients fail over at once instead of
// waiting for the announcement to expire. Peers that fetch our announcement
// over /hearth/announce/1 get the withdrawal until it expires.
func (s *Service) Withdraw(ctx context.Context, model ModelHash) error {
	s.mu.Lock()
	old := s.own[model]
	if old == nil {
		s.mu.Unlock()
		return fmt.Errorf("withdraw %s: %w", model, ErrNotAnnounced)
	}
	a := old.a
	a.Withdrawn = true
	sh, err := s.signLocked(a)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("withdraw: %w", err)
	}
	s.own[model] = sh
	run := s.run
	s.mu.Unlock()
	if run == nil {
		return nil
	}
	return s.publish(ctx, run, model, sh.raw)
}

// signLocked fills our fields into a and signs it. Caller holds s.mu.
func (s *Service) signLocked(a Announcement) (*ownShard, error) {
	now := s.now()
	a.PeerID = s.h.ID()
	a.Addrs = advertisable(s.h.Addrs())
	a.Expires = time.UnixMilli(now.Add(s.cfg.TTL).UnixMilli())
	s.lastSeq = max(s.lastSeq+1, uint64(now.UnixNano()))
	a.Seq = s.lastSeq
	raw, err := a.Sign(s.key)
	if err != nil {
		return nil, err
	}
	return &ownShard{a: a, raw: raw}, nil
}

// advertisable keeps the addresses that fit in an announcement.
func advertisable(addrs []ma.Multiaddr) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, min(len(addrs), MaxAddrs))
	for _, a := range addrs {
		if len(out) == MaxAddrs {
			break
		}
		if n := len(a.Bytes()); n > 0 && n <= maxAddrLen {
			out = append(out, a)
		}
	}
	return out
}

// refresh re-signs and republishes our announcements (withdrawals too,
// until they expire), drops expired withdrawals and renews DHT records.
func (s *Service) refresh(ctx context.Context, run *running) {
	type pub struct {
		model ModelHash
		raw   []byte
	}
	var pubs []pub
	var provide []ModelHash
	now := s.now()
	s.mu.Lock()
	for m, sh := range s.own {
		if sh.a.Withdrawn && !sh.a.Expires.After(now) {
			delete(s.own, m)
			if !s.watched[m] {
				s.leaveLocked(run, m)
			}
			continue
		}
		if !sh.a.Withdrawn {
			next, err := s.signLocked(sh.a)
			if err != nil {
				s.log.Error("re-sign announcement", "model", m, "err", err)
				continue
			}
			next.provided = sh.provided
			s.own[m], sh = next, next
		}
		pubs = append(pubs, pub{m, sh.raw})
		if run.dht != nil && !sh.a.Withdrawn && now.Sub(sh.provided) >= s.cfg.Reprovide {
			provide = append(provide, m)
		}
	}
	s.mu.Unlock()
	for _, p := range pubs {
		if err := s.publish(ctx, run, p.model, p.raw); err != nil && ctx.Err() == nil {
			s.log.Warn("publish announcement", "model", p.model, "err", err)
		}
	}
	for _, m := range provide {
		s.provideAsync(run, m)
	}
}

// Watch subscribes to a model's announcement topic so that providers'
// announcements and withdrawals reach the registry as they happen.
func (s *Service) Watch(model ModelHash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watched[model] = true
	if s.run != nil && s.run.ps != nil {
		s.joinLocked(s.run, model)
	}
}

// Unwatch stops following a model's topic (unless we announce it).
func (s *Service) Unwatch(model ModelHash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.watched, model)
	if s.run != nil && s.own[model] == nil {
		s.leaveLocked(s.run, model)
	}
}

// Own returns our current announcement for a model (possibly withdrawn).
func (s *Service) Own(model ModelHash) (Announcement, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.own[model]
	if sh == nil {
		return Announcement{}, false
	}
	return sh.a, true
}

// ownRaw returns the signed bytes of our announcement for a model.
func (s *Service) ownRaw(model ModelHash) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh := s.own[model]; sh != nil && sh.a.Expires.After(s.now()) {
		return sh.raw
	}
	return nil
}

// markProvided records a successful DHT provide.
func (s *Service) markProvided(model ModelHash, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh := s.own[model]; sh != nil {
		sh.provided = at
	}
}

// isSelf reports whether id is this node.
func (s *Service) isSelf(id peer.ID) bool { return id == s.h.ID() }
