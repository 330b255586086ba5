package runtime

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hearth-p2p/hearth/inference/catalog"
)

// ErrCannotLend: lending is on but no node can run (no model, no wallet
// for a price, a cap that holds no layer).
var ErrCannotLend = errors.New("cannot lend")

// applyLending stops the lending node, if any, and starts one when the
// settings say to lend. It waits for the old node to stop; the new one
// starts in the background.
func (d *Desktop) applyLending() {
	d.net.lendMu.Lock()
	defer d.net.lendMu.Unlock()
	d.stopLending()
	if s := d.Settings(); s.Lending {
		d.startLending(s)
	}
	d.publish(NetworkChanged{})
	d.publishStatus()
}

// stopLending stops the lending node and waits for it.
func (d *Desktop) stopLending() {
	n := &d.net
	n.mu.Lock()
	stop, done := n.nodeStop, n.nodeDone
	n.nodeStop, n.nodeDone, n.lendPath, n.nodeNote = nil, nil, "", ""
	n.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// startLending starts a node serving the model the settings choose under
// the lending policy the settings make. It needs Serve to be running.
func (d *Desktop) startLending(s DesktopSettings) {
	n := &d.net
	if !n.isServing() {
		return // Serve starts it
	}
	cfg, err := d.nodeConfig(s)
	if err != nil {
		d.log.Warn("lending", "err", err)
		n.mu.Lock()
		n.nodeNote = err.Error()
		n.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(d.life)
	done := make(chan struct{})
	n.mu.Lock()
	n.nodeStop, n.nodeDone, n.lendPath, n.nodeNote = cancel, done, cfg.Serve[0].Model, "starting"
	n.mu.Unlock()
	if !d.goBackground(func() { defer close(done); d.runNode(ctx, cfg) }) {
		cancel()
		close(done)
	}
}

// nodeConfig is the lending node's configuration for settings s.
func (d *Desktop) nodeConfig(s DesktopSettings) (NodeConfig, error) {
	spec, err := d.lendSpec(s)
	if err != nil {
		return NodeConfig{}, err
	}
	cfg := DefaultNodeConfig(d.dataDir)
	cfg.Serve, cfg.Threads = []ServeSpec{spec}, s.MaxThreads
	cfg.P2P, cfg.Discovery, cfg.Shard = d.cfg.P2P, d.cfg.Discovery, d.cfg.Shard
	cfg.Lending = s.Policy(d.cfg.Lending)
	cfg.SampleInterval, cfg.Reader, cfg.Placement = d.cfg.SampleInterval, d.cfg.Reader, d.cfg.Placement
	cfg.Shard.Price.PerKiloUnit = s.Price
	if cfg.Bans, err = d.banList(); err != nil {
		return NodeConfig{}, err
	}
	if s.Price > 0 {
		w, err := d.wallet.readOnly(d.walletConfig(s))
		if err != nil {
			return NodeConfig{}, fmt.Errorf("%w: a price needs a wallet to be paid to: %w", ErrCannotLend, err)
		}
		cfg.Wallet, cfg.Shard.Payout, cfg.Watcher = w, w.PublicKey(), d.cfg.Watcher
	}
	return cfg, cfg.Validate()
}

// lendSpec picks what to serve: the settings' model (else the first
// installed one), all of its layers, or, when the RAM cap holds only part
// of it, a window of as many layers as fit, placed by the node where the
// swarm lacks them.
func (d *Desktop) lendSpec(s DesktopSettings) (ServeSpec, error) {
	ms, err := d.installedModels()
	if err != nil {
		return ServeSpec{}, err
	}
	if len(ms) == 0 {
		return ServeSpec{}, fmt.Errorf("%w: no model is installed (download one in Models)", ErrCannotLend)
	}
	m := ms[0]
	if s.LendModel != "" {
		i := indexOf(ms, s.LendModel)
		if i < 0 {
			return ServeSpec{}, fmt.Errorf("%w: the model to lend, %q, is not installed", ErrCannotLend, s.LendModel)
		}
		m = ms[i]
	}
	info, err := catalog.ReadInfo(m.Path)
	if err != nil {
		return ServeSpec{}, err
	}
	spec := ServeSpec{Model: m.Path}
	if info.Layers <= 0 || info.WeightBytes == 0 {
		return spec, nil
	}
	perLayer := info.WeightBytes / uint64(info.Layers)
	capacity := int(uint64(s.MaxRAMGiB*gib) / max(perLayer, 1))
	if capacity >= info.Layers {
		return spec, nil
	}
	if capacity == 0 {
		return ServeSpec{}, fmt.Errorf("%w: the %.1f GiB RAM cap holds no layer of %s", ErrCannotLend, s.MaxRAMGiB, m.Name)
	}
	// The node places the window where the swarm lacks layers most, and
	// moves it when another range becomes scarcer.
	spec.Capacity = capacity
	return spec, nil
}

func indexOf(ms []InstalledModel, id string) int {
	for i, m := range ms {
		if m.ID == id {
			return i
		}
	}
	return -1
}

func (d *Desktop) hashCacheDir() string { return filepath.Join(d.dataDir, "model-hashes") }

// lendsPath reports whether the lending node serves the file at path.
func (n *netState) lendsPath(path string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lendPath != "" && n.lendPath == path
}

// runNode runs one lending node until ctx ends or it fails.
func (d *Desktop) runNode(ctx context.Context, cfg NodeConfig) {
	node, err := NewNode(ctx, cfg, d.log)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("lending node did not start", "err", err)
			d.setNode(nil, "lending failed: "+err.Error())
		}
		return
	}
	defer node.Close()
	events, unsubscribe := node.Subscribe()
	defer unsubscribe()
	d.setNode(node, "")
	if l := node.Ledger(); l != nil {
		d.net.initSettled(l)
	}
	done := make(chan error, 1)
	go func() { done <- node.Serve(ctx) }()
	for {
		select {
		case e := <-events:
			d.nodeEvent(e)
		case err := <-done:
			note := ""
			if err != nil && ctx.Err() == nil {
				d.log.Warn("lending node stopped", "err", err)
				note = "lending stopped: " + err.Error()
			}
			d.setNode(nil, note)
			return
		}
	}
}

// setNode records the running node (nil when none) and a note on it.
func (d *Desktop) setNode(node *Node, note string) {
	n := &d.net
	n.mu.Lock()
	if node == nil && n.nodeStop == nil { // stopped on purpose: no note
		note = ""
	}
	n.node, n.nodeNote, n.accepting = node, note, false
	n.mu.Unlock()
	d.publish(NetworkChanged{})
	d.publishStatus()
}

// nodeEvent follows the lending policy's decisions.
func (d *Desktop) nodeEvent(e NodeEvent) {
	if e.Report != nil { // a fraud report judged: the ban list changed, not lending
		d.publish(NetworkChanged{})
		return
	}
	n := &d.net
	n.mu.Lock()
	n.accepting = e.Accepting
	switch {
	case e.Accepting:
		n.nodeNote = ""
	case e.Decision != nil && len(e.Decision.Reasons) > 0:
		var why []string
		for _, r := range e.Decision.Reasons {
			why = append(why, r.Text)
		}
		n.nodeNote = "paused: " + strings.Join(why, ", ")
	case e.Decision != nil:
		n.nodeNote = string(e.Decision.Mode)
	default:
		n.nodeNote = e.Note
	}
	n.mu.Unlock()
	d.publish(NetworkChanged{})
	d.publishStatus()
}
