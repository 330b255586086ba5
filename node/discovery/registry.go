package discovery

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrStale is returned by Registry.Put for an announcement that is not newer
// (by Seq) than the one already held for the same peer and model.
var ErrStale = errors.New("stale announcement")

// Registry holds the latest valid announcement per (peer, model) and answers
// which peers serve which layers. Withdrawn announcements are kept as
// tombstones until they expire, so an older announcement cannot bring a
// withdrawn shard back. It is safe for concurrent use.
//
// Put trusts that signatures were verified (DecodeAnnouncement does that);
// it re-checks fields and expiry.
type Registry struct {
	now func() time.Time

	mu      sync.Mutex // guards byModel
	byModel map[ModelHash]map[peer.ID]Announcement
}

// NewRegistry returns an empty registry; now is its clock (nil: time.Now).
func NewRegistry(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{now: now, byModel: make(map[ModelHash]map[peer.ID]Announcement)}
}

// Put stores a if it is valid now and newer than what is held for its peer
// and model. It returns ErrStale for an old or repeated Seq.
func (r *Registry) Put(a Announcement) error {
	if err := a.Validate(r.now()); err != nil {
		return fmt.Errorf("registry put: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	peers := r.byModel[a.ModelHash]
	if peers == nil {
		peers = make(map[peer.ID]Announcement)
		r.byModel[a.ModelHash] = peers
	}
	if old, ok := peers[a.PeerID]; ok && old.Seq >= a.Seq && old.Expires.After(r.now()) {
		return fmt.Errorf("%w: seq %d, holding %d", ErrStale, a.Seq, old.Seq)
	}
	a.Addrs = slices.Clone(a.Addrs)
	peers[a.PeerID] = a
	return nil
}

// Newer reports whether Put would accept an announcement with this seq from
// this peer for this model (used to drop gossip we already have).
func (r *Registry) Newer(id peer.ID, model ModelHash, seq uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.byModel[model][id]
	return !ok || old.Seq < seq || !old.Expires.After(r.now())
}

// Get returns the live announcement (possibly a withdrawal) held for a peer
// and model.
func (r *Registry) Get(id peer.ID, model ModelHash) (Announcement, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.byModel[model][id]
	if !ok || !a.Expires.After(r.now()) {
		return Announcement{}, false
	}
	return a, true
}

// Providers returns the live, not withdrawn announcements for a model,
// ordered by layer range then peer ID.
func (r *Registry) Providers(model ModelHash) []Announcement {
	now := r.now()
	r.mu.Lock()
	out := make([]Announcement, 0, len(r.byModel[model]))
	for _, a := range r.byModel[model] {
		if !a.Withdrawn && a.Expires.After(now) {
			a.Addrs = slices.Clone(a.Addrs)
			out = append(out, a)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(x, y Announcement) int {
		return cmp.Or(cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To), cmp.Compare(x.PeerID, y.PeerID))
	})
	return out
}

// Models returns the models with at least one live provider.
func (r *Registry) Models() []ModelHash {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ModelHash
	for m, peers := range r.byModel {
		for _, a := range peers {
			if !a.Withdrawn && a.Expires.After(now) {
				out = append(out, m)
				break
			}
		}
	}
	slices.SortFunc(out, func(x, y ModelHash) int { return cmp.Compare(x.String(), y.String()) })
	return out
}

// Prune drops expired announcements and tombstones and returns how many.
func (r *Registry) Prune() int {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for m, peers := range r.byModel {
		for id, a := range peers {
			if !a.Expires.After(now) {
				delete(peers, id)
				n++
			}
		}
		if len(peers) == 0 {
			delete(r.byModel, m)
		}
	}
	return n
}

// Coverage describes how well live providers cover a model's layers.
type Coverage struct {
	// Layers[i] is the number of providers serving layer i.
	Layers []int
	// Gaps are the maximal layer ranges nobody serves, in order.
	Gaps []LayerRange
}

// Complete reports whether every layer has at least one provider.
func (c Coverage) Complete() bool { return len(c.Gaps) == 0 }

// Coverage counts, per layer of a model with numLayers layers, the live
// providers serving it. Announcements claiming a different layer count are
// ignored, since they cannot describe the same model.
func (r *Registry) Coverage(model ModelHash, numLayers int) Coverage {
	if numLayers <= 0 || numLayers > MaxLayers {
		return Coverage{}
	}
	c := Coverage{Layers: make([]int, numLayers)}
	for _, a := range r.Providers(model) {
		if a.NumLayers != numLayers {
			continue
		}
		for l := a.From; l < a.To; l++ {
			c.Layers[l]++
		}
	}
	for l := 0; l < numLayers; l++ {
		if c.Layers[l] != 0 {
			continue
		}
		if n := len(c.Gaps); n > 0 && c.Gaps[n-1].To == l {
			c.Gaps[n-1].To = l + 1
		} else {
			c.Gaps = append(c.Gaps, LayerRange{From: l, To: l + 1})
		}
	}
	return c
}
