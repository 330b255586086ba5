package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/node/verify"
)

// pipelinePeers is the providers a pipeline knows: a shard client per reachable
// peer, refreshed from the configured peers or discovery at each failover.
type pipelinePeers struct {
	h    *p2p.Host
	m    *model.Model
	hash [32]byte
	opts PipelineOptions
	bans *verify.BanList
	log  *slog.Logger

	mu      sync.Mutex // guards the fields below
	clients map[peer.ID]*shard.Client
	order   []peer.ID     // first seen first
	looking chan struct{} // closed when the discovery in flight ends; nil when none
	lookups sync.WaitGroup
	ctx     context.Context // of background lookups, cancelled by close
	cancel  context.CancelFunc
}

// findWait is how long a failover waits for a fresh look at the providers
// before re-planning with what it knows: a dead peer's dial can take
// seconds to fail (QUIC), and the plan's alternatives are known already.
const findWait = 250 * time.Millisecond

func newPipelinePeers(h *p2p.Host, m *model.Model, hash [32]byte, opts PipelineOptions, bans *verify.BanList, log *slog.Logger) *pipelinePeers {
	ctx, cancel := context.WithCancel(context.Background())
	return &pipelinePeers{h: h, m: m, hash: hash, opts: opts, bans: bans, log: log, clients: map[peer.ID]*shard.Client{},
		ctx: ctx, cancel: cancel}
}

// targets lists the peers to reach: the configured ones, else those
// discovery knows for the model, less this host and the banned.
func (ps *pipelinePeers) targets() ([]peer.AddrInfo, []string) {
	var targets []peer.AddrInfo
	var notes []string
	for _, a := range ps.opts.Peers {
		ai, err := peer.AddrInfoFromString(strings.TrimSpace(a))
		if err != nil {
			notes = append(notes, fmt.Sprintf("peer %q: %v", a, err))
			continue
		}
		targets = append(targets, *ai)
	}
	if len(ps.opts.Peers) == 0 && ps.opts.Providers != nil {
		for _, a := range ps.opts.Providers.Providers(discovery.ModelHash(ps.hash)) {
			if a.PeerID != ps.h.ID() {
				targets = append(targets, peer.AddrInfo{ID: a.PeerID, Addrs: a.Addrs})
			}
		}
	}
	out := targets[:0]
	for _, t := range targets {
		if ps.bans.IsBanned(t.ID.String()) {
			notes = append(notes, fmt.Sprintf("%s is banned", t.ID))
			continue
		}
		out = append(out, t)
	}
	return out, notes
}

// discover dials the targets not known yet and refreshes the others' Info,
// concurrently; it forgets peers that no longer answer. It returns notes on
// the peers it could not use.
func (ps *pipelinePeers) discover(ctx context.Context) []string {
	targets, notes := ps.targets()
	clients := make([]*shard.Client, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, ai := range targets {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, ps.opts.DialTimeout)
			defer cancel()
			if c := ps.client(ai.ID); c != nil {
				_, errs[i] = c.Refresh(dctx)
				clients[i] = c
				return
			}
			clients[i], errs[i] = shard.Dial(dctx, ps.h.Raw(), ai)
		})
	}
	wg.Wait()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for i, c := range clients {
		id := targets[i].ID
		if errs[i] != nil {
			ps.log.Warn("peer unreachable", "peer", id, "err", errs[i])
			notes = append(notes, fmt.Sprintf("%s unreachable: %v", id, errs[i]))
			delete(ps.clients, id)
			continue
		}
		if _, known := ps.clients[id]; !known {
			ps.order = append(ps.order, id)
		}
		ps.clients[id] = c
		if _, note := usable(c, ps.m, ps.hash, ps.opts); note != "" {
			ps.log.Warn("peer not used", "peer", id, "why", note)
			notes = append(notes, fmt.Sprintf("%s %s", id, note))
		}
	}
	return notes
}

// client returns the client of a known peer.
func (ps *pipelinePeers) client(id peer.ID) *shard.Client {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.clients[id]
}

// candidates returns the usable known peers as route candidates, in the
// order they were first seen.
func (ps *pipelinePeers) candidates() []route.Candidate {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []route.Candidate
	for _, id := range ps.order {
		c := ps.clients[id]
		if c == nil || ps.bans.IsBanned(id.String()) {
			continue
		}
		if cand, note := usable(c, ps.m, ps.hash, ps.opts); note == "" {
			out = append(out, cand)
		}
	}
	return out
}

// find is the route.FindFunc of failovers and checks: a fresh look at the
// providers, waited for at most findWait (it goes on in the background and
// serves the next call).
func (ps *pipelinePeers) find(ctx context.Context) ([]route.Candidate, error) {
	ps.mu.Lock()
	done := ps.looking
	if done == nil {
		done = make(chan struct{})
		ps.looking = done
		ps.lookups.Go(func() {
			lctx, cancel := context.WithTimeout(ps.ctx, ps.opts.DialTimeout)
			defer cancel()
			ps.discover(lctx)
			ps.mu.Lock()
			ps.looking = nil
			ps.mu.Unlock()
			close(done)
		})
	}
	ps.mu.Unlock()
	t := time.NewTimer(findWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cands := ps.candidates()
	if ps.opts.Book != nil {
		ps.opts.Book.Apply(cands)
	}
	return cands, nil
}

// usable turns a server's Info into a route candidate for the model, or says
// why it cannot be used.
func usable(c *shard.Client, m *model.Model, hash [32]byte, opts PipelineOptions) (route.Candidate, string) {
	info := c.Info()
	for _, mi := range info.Models {
		if mi.Hash != hash {
			continue
		}
		switch {
		case mi.NumLayers != m.NumLayers || mi.Dim != m.Dim || mi.Vocab != m.Vocab:
			return route.Candidate{}, fmt.Sprintf("describes the model as %d layers × %d, vocab %d", mi.NumLayers, mi.Dim, mi.Vocab)
		case !info.Accepting:
			return route.Candidate{}, "is not accepting sessions"
		case info.Price.PerKiloUnit > 0 && opts.Signer == nil:
			return route.Candidate{}, fmt.Sprintf("charges %d per 1000 units and no wallet key signs receipts", info.Price.PerKiloUnit)
		case info.Price.PerKiloUnit > 0 && (info.Price.Mint != opts.MaxPrice.Mint || info.Price.PerKiloUnit > opts.MaxPrice.PerKiloUnit):
			return route.Candidate{}, fmt.Sprintf("charges %d per 1000 units, above the %d accepted", info.Price.PerKiloUnit, opts.MaxPrice.PerKiloUnit)
		}
		load := 0.0
		if info.MaxSessions > 0 {
			load = min(1, float64(info.Sessions)/float64(info.MaxSessions))
		}
		return route.Candidate{Peer: c.Peer().String(), Range: route.Range{From: mi.From, To: mi.To}, Latency: c.RTT(),
			TokPerSec: float64(mi.TokPerSec), Price: info.Price.PerKiloUnit, Load: load, Backend: info.Backend}, ""
	}
	return route.Candidate{}, fmt.Sprintf("does not serve model %x", hash[:8])
}

// close stops the discovery in flight, if any.
func (ps *pipelinePeers) close() {
	ps.cancel()
	ps.lookups.Wait()
}
