package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrBootstrapFailed is returned when no bootstrap peer could be reached.
var ErrBootstrapFailed = errors.New("bootstrap failed")

// Host is a libp2p host configured for Hearth: TCP and QUIC transports
// (TCP only in a private swarm), Noise and TLS security, yamux, a connection
// manager, resource limits, relays, hole punching and AutoNAT.
type Host struct {
	h       host.Host
	cfg     Config
	log     *slog.Logger
	private bool
	hooks   *hooks

	mu         sync.Mutex // guards reach and autoRelays
	reach      network.Reachability
	autoRelays []ma.Multiaddr

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New starts a libp2p host with the given identity key. The host listens
// immediately; it dials nobody until Bootstrap, Serve or Connect. ctx only
// bounds construction: the host lives until Close.
func New(ctx context.Context, cfg Config, key crypto.PrivKey, logger *slog.Logger) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, errors.New("new host: nil identity key")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("sub", "p2p")
	hk := &hooks{holePunch: &holePunchTracer{log: log}}
	for _, s := range cfg.NoAnnounce {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("no-announce range: %w", err)
		}
		hk.noAnnounce = append(hk.noAnnounce, n)
	}
	if len(cfg.StaticRelays) > 0 {
		relays := make([]peer.AddrInfo, 0, len(cfg.StaticRelays))
		for _, s := range cfg.StaticRelays {
			ai, err := parsePeerAddr(s)
			if err != nil {
				return nil, fmt.Errorf("static relay: %w", err)
			}
			relays = append(relays, *ai)
		}
		hk.keeper = newReservationKeeper(relays, log)
	}
	parts, err := buildOptions(cfg, key, hk)
	if err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	lh, err := libp2p.New(parts.opts...)
	if err != nil {
		parts.connMgr.Close()
		return nil, fmt.Errorf("new host: %w", err)
	}
	hk.host.Store(&lh)
	bg, cancel := context.WithCancel(context.Background())
	h := &Host{
		h: lh, cfg: cfg, log: log, private: parts.private,
		hooks: hk, cancel: cancel, reach: network.ReachabilityUnknown,
	}
	if err := h.watchEvents(bg); err != nil {
		h.Close()
		return nil, err
	}
	if hk.keeper != nil {
		h.wg.Go(func() { hk.keeper.run(bg, lh, h.Reachability) })
	}
	if err := ctx.Err(); err != nil {
		h.Close()
		return nil, fmt.Errorf("new host: %w", err)
	}
	log.Info("host started", "peer", lh.ID(), "addrs", lh.Addrs(), "private_swarm", parts.private)
	return h, nil
}

// watchEvents tracks reachability and autorelay addresses from the event bus.
func (h *Host) watchEvents(ctx context.Context) error {
	sub, err := h.h.EventBus().Subscribe([]any{
		new(event.EvtLocalReachabilityChanged),
		new(event.EvtAutoRelayAddrsUpdated),
	})
	if err != nil {
		return fmt.Errorf("subscribe to host events: %w", err)
	}
	h.wg.Go(func() {
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-sub.Out():
				if !ok {
					return
				}
				h.handleEvent(e)
			}
		}
	})
	return nil
}

func (h *Host) handleEvent(e any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch e := e.(type) {
	case event.EvtLocalReachabilityChanged:
		if e.Reachability != h.reach {
			h.log.Info("reachability changed", "reachability", e.Reachability.String())
		}
		h.reach = e.Reachability
	case event.EvtAutoRelayAddrsUpdated:
		h.autoRelays = e.RelayAddrs
		h.log.Debug("relay addresses updated", "addrs", e.RelayAddrs)
	}
}

// Raw returns the underlying libp2p host, for protocol handlers and
// libraries (DHT, pubsub) that need it.
func (h *Host) Raw() host.Host { return h.h }

// ID returns the host's peer ID.
func (h *Host) ID() peer.ID { return h.h.ID() }

// PrivateSwarm reports whether the host only talks to holders of the
// configured private swarm key.
func (h *Host) PrivateSwarm() bool { return h.private }

// Addrs returns the host's dialable addresses, each ending in /p2p/<id>,
// including circuit addresses through relays it holds reservations on.
func (h *Host) Addrs() []ma.Multiaddr {
	return withPeerID(h.h.ID(), h.h.Addrs())
}

// Reachability is the AutoNAT verdict: unknown, public or private.
func (h *Host) Reachability() network.Reachability {
	if r, ok := h.h.(interface{ Reachability() network.Reachability }); ok {
		if v := r.Reachability(); v != network.ReachabilityUnknown {
			return v
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reach
}

// Reservations lists the relays this host currently holds reservations on.
func (h *Host) Reservations() []Reservation {
	var out []Reservation
	if h.hooks.keeper != nil {
		out = h.hooks.keeper.active(time.Now())
		for i := range out {
			out[i].Addrs = withPeerID(h.h.ID(), out[i].Addrs)
		}
	}
	h.mu.Lock()
	auto := groupByRelay(withPeerID(h.h.ID(), h.autoRelays))
	h.mu.Unlock()
	return append(out, auto...)
}

// HolePunchStats returns DCUtR counters (all zero when hole punching is off).
func (h *Host) HolePunchStats() HolePunchStats { return h.hooks.holePunch.stats() }

// Connect dials a peer given a full multiaddr ending in /p2p/<id> (direct or
// /p2p-circuit) and returns its ID.
func (h *Host) Connect(ctx context.Context, addr string) (peer.ID, error) {
	ai, err := parsePeerAddr(addr)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	if ai.ID == h.h.ID() {
		return "", fmt.Errorf("connect: %s is this host", ai.ID)
	}
	if err := h.h.Connect(ctx, *ai); err != nil {
		return "", fmt.Errorf("connect to %s: %w", ai.ID, err)
	}
	return ai.ID, nil
}

// Bootstrap dials all configured bootstrap peers concurrently. It succeeds if
// at least one is reachable (or none is configured).
func (h *Host) Bootstrap(ctx context.Context) error {
	if len(h.cfg.BootstrapPeers) == 0 {
		return nil
	}
	errs := make([]error, len(h.cfg.BootstrapPeers))
	var wg sync.WaitGroup
	for i, a := range h.cfg.BootstrapPeers {
		wg.Go(func() { _, errs[i] = h.Connect(ctx, a) })
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed == len(errs) {
		return fmt.Errorf("%w: %w", ErrBootstrapFailed, errors.Join(errs...))
	}
	if failed > 0 {
		h.log.Warn("some bootstrap peers unreachable", "failed", failed, "of", len(errs), "err", errors.Join(errs...))
	}
	return nil
}

// Serve keeps the host connected: it bootstraps at once and again every
// BootstrapInterval while fewer than ConnMgr.Low peers are connected. It
// returns nil when ctx ends; it does not close the host.
func (h *Host) Serve(ctx context.Context) error {
	t := time.NewTicker(h.cfg.BootstrapInterval)
	defer t.Stop()
	for {
		if len(h.h.Network().Peers()) < max(h.cfg.ConnMgr.Low, 1) {
			if err := h.Bootstrap(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("bootstrap", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Close stops background work and shuts the libp2p host down.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.cancel()
		h.wg.Wait()
		if err := h.h.Close(); err != nil {
			h.closeErr = fmt.Errorf("close host: %w", err)
		}
	})
	return h.closeErr
}
