package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// PlacementConfig tunes where a node's placed ranges (ServeSpec.Capacity)
// go: the window of layers the swarm lacks most (route.ChooseRange), and
// later moves to a scarcer one (route.Rebalance).
type PlacementConfig struct {
	// Listen is how long discovery listens for announcements before the
	// first choice.
	Listen time.Duration
	// Interval is how often a move is considered.
	Interval time.Duration
	// Hysteresis is how much scarcer the swarm must get for a move to be
	// worth it (0.2: by 20%), so that nodes do not chase each other.
	Hysteresis float64
}

// DefaultPlacement listens 5 s, then reconsiders every 2 minutes with 20%
// hysteresis.
func DefaultPlacement() PlacementConfig {
	return PlacementConfig{Listen: 5 * time.Second, Interval: 2 * time.Minute, Hysteresis: 0.2}
}

// Validate checks the configuration.
func (c PlacementConfig) Validate() error {
	if c.Listen < 0 || c.Interval <= 0 || c.Hysteresis < 0 {
		return fmt.Errorf("node: bad placement %+v", c)
	}
	return nil
}

// ParseServeLayers parses what `hearth node --layers` takes: "A:B" (a
// fixed range), "auto" (the whole model, placed) or "auto:N" (a window of
// N layers the swarm lacks most, moved when another becomes scarcer).
func ParseServeLayers(s string, spec *ServeSpec) error {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "auto"); ok {
		spec.From, spec.To, spec.Capacity = 0, 0, 1<<30 // the model's layer count caps it
		if rest == "" {
			return nil
		}
		n, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
		if !strings.HasPrefix(rest, ":") || err != nil || n <= 0 {
			return fmt.Errorf("layers %q: want auto or auto:N with N > 0", s)
		}
		spec.Capacity = n
		return nil
	}
	lr, err := ParseLayerRange(s)
	if err != nil {
		return err
	}
	spec.From, spec.To, spec.Capacity = lr.From, lr.To, 0
	return nil
}

// place chooses the placed ranges once discovery has listened for
// announcements, then moves them when the swarm lacks other layers
// clearly more, until ctx ends. It closes n.placed after the first choice.
func (n *Node) place(ctx context.Context) {
	var placed []*servedModel
	for _, sm := range n.models {
		if sm.placed && sm.lm.Model.HeldTo-sm.lm.Model.HeldFrom > sm.window().Len() {
			placed = append(placed, sm)
		}
	}
	if len(placed) == 0 {
		close(n.placed)
		return
	}
	for _, sm := range placed {
		hash := discovery.ModelHash(sm.hash)
		n.disc.Watch(hash)
		go func() { // a DHT lookup fills the registry too
			if _, err := n.disc.Find(ctx, hash); err != nil && !errors.Is(err, discovery.ErrDHTDisabled) && ctx.Err() == nil {
				n.log.Debug("finding providers in the DHT", "err", err)
			}
		}()
	}
	select {
	case <-time.After(n.cfg.Placement.Listen):
	case <-ctx.Done():
		return
	}
	for _, sm := range placed {
		n.placeModel(ctx, sm, true)
	}
	close(n.placed)
	t := time.NewTicker(n.cfg.Placement.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, sm := range placed {
			n.placeModel(ctx, sm, false)
		}
	}
}

// placeModel moves a placed range where the swarm needs it: on the first
// choice to the window others cover least, later only when route.Rebalance
// finds it worth the move.
func (n *Node) placeModel(ctx context.Context, sm *servedModel, first bool) {
	m := sm.lm.Model
	cur := sm.window()
	others := n.othersCoverage(sm)
	var next route.Range
	move := false
	if first {
		from, to := route.ChooseRange(others, m.NumLayers, cur.Len())
		next = route.Range{From: from, To: to}
		move = next != cur
	} else {
		own := append([]int(nil), others...)
		for l := cur.From; l < cur.To; l++ {
			own[l]++
		}
		next, move = route.Rebalance(own, m.NumLayers, cur, n.cfg.Placement.Hysteresis)
	}
	if !move {
		return
	}
	if next.From < m.HeldFrom || next.To > m.HeldTo {
		n.log.Debug("scarcer layers not held by the model file", "from", next.From, "to", next.To)
		return
	}
	if err := n.moveRange(ctx, sm, next); err != nil && ctx.Err() == nil {
		n.log.Warn("moving to scarcer layers", "from", next.From, "to", next.To, "err", err)
	}
}

// othersCoverage counts, per layer, the other live providers of a model.
func (n *Node) othersCoverage(sm *servedModel) []int {
	num := sm.lm.Model.NumLayers
	cov := make([]int, num)
	for _, a := range n.disc.Registry().Providers(discovery.ModelHash(sm.hash)) {
		if a.PeerID == n.host.ID() || a.NumLayers != num || a.Withdrawn {
			continue
		}
		for l := max(a.From, 0); l < min(a.To, num); l++ {
			cov[l]++
		}
	}
	return cov
}

// moveRange serves r instead of the range served now: running sessions
// finish on the old one, new sessions get r, and the announcement says r.
func (n *Node) moveRange(ctx context.Context, sm *servedModel, r LayerRange) error {
	b, err := shard.NewModelBackend(sm.lm.Model, sm.lm.Pool, sm.hash, r.From, r.To)
	if err != nil {
		return err
	}
	if err := n.server.Move(b); err != nil {
		return err
	}
	sm.mu.Lock()
	was := LayerRange{From: sm.from, To: sm.to}
	sm.from, sm.to = r.From, r.To
	sm.mu.Unlock()
	n.log.Info("serving scarcer layers", "model", sm.lm.Model.Name, "from", r.From, "to", r.To, "was", was)
	n.mu.Lock()
	on := n.announced
	n.mu.Unlock()
	if on {
		if err := n.announce(ctx); err != nil {
			return err
		}
	}
	n.events.publish(NodeEvent{Time: time.Now(), Accepting: n.server.Accepting(),
		Note: fmt.Sprintf("serving layers %d:%d of %s (was %d:%d)", r.From, r.To, sm.lm.Model.Name, was.From, was.To)})
	return nil
}

// Placed is closed once the placed ranges were first chosen (at once when
// the node has none): ServedModels then says where they went.
func (n *Node) Placed() <-chan struct{} { return n.placed }
