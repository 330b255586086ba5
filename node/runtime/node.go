package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/sync/errgroup"

	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/hardware"
	"github.com/hearth-p2p/hearth/node/meter"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/node/verify"
	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/settle"
)

// ServeSpec is a layer range of a local model that a node serves.
type ServeSpec struct {
	Model    string // GGUF path
	From, To int    // To == 0: through the last layer
	// GPU serves the whole range from a GPU (WebGPU): weights in VRAM,
	// sessions' KV caches there too. Peers can then open only the whole
	// range, not a part of it.
	GPU bool
	// Capacity > 0 places the range instead (From and To are ignored): a
	// window of Capacity layers (at most the model's) that the swarm lacks
	// most, chosen once discovery has heard the announcements and moved
	// later when another window becomes clearly scarcer (NodeConfig.
	// Placement). Not with GPU.
	Capacity int
}

// NodeConfig configures a Node: a shard provider with its libp2p host,
// discovery, and (optionally) the lend-only-when-idle policy.
type NodeConfig struct {
	DataDir   string
	Threads   int
	Serve     []ServeSpec
	P2P       p2p.Config
	Discovery discovery.Config
	Shard     shard.Config
	// Lending gates serving on the hardware policy: sessions are accepted
	// only while the policy lends. With Lending.Enabled false the node
	// serves whenever it runs (a dedicated provider).
	Lending        hardware.Policy
	SampleInterval time.Duration
	// Identity overrides the key kept in DataDir (tests).
	Identity crypto.PrivKey
	// Reader overrides the hardware sampler (tests replay traces).
	Reader hardware.Reader
	// Wallet, when set, is the provider's wallet: paid receipts go to its
	// ledger, it is the default payout address, and its settlement watcher
	// marks receipts settled when their payments confirm on chain.
	Wallet *wallet.Wallet
	// Watcher tunes the settlement watcher (zero: settle's default).
	Watcher settle.WatcherConfig
	// Placement tunes where ranges with a Capacity go.
	Placement PlacementConfig
	// Bans is the ban list the node's fraud-report judgements go to (nil:
	// BansFile in DataDir). A process that also runs pipelines passes the
	// list they share.
	Bans *verify.BanList
}

// DefaultNodeConfig serves nothing yet, on the default host and discovery
// settings, as a dedicated provider.
func DefaultNodeConfig(dataDir string) NodeConfig {
	pol := hardware.Default()
	pol.Enabled = false
	return NodeConfig{
		DataDir: dataDir, P2P: p2p.Default(), Discovery: discovery.Default(), Shard: shard.Default(),
		Lending: pol, SampleInterval: time.Second, Placement: DefaultPlacement(),
	}
}

// Validate checks the configuration.
func (c NodeConfig) Validate() error {
	if c.DataDir == "" {
		return errors.New("node: no data directory")
	}
	if len(c.Serve) == 0 {
		return errors.New("node: nothing to serve")
	}
	for _, s := range c.Serve {
		if s.Model == "" || s.From < 0 || (s.To != 0 && s.To <= s.From) || s.Capacity < 0 {
			return fmt.Errorf("node: bad serve spec %+v", s)
		}
		if s.Capacity > 0 && s.GPU {
			return fmt.Errorf("node: a GPU range is not placed automatically (%s)", s.Model)
		}
		if s.Capacity > 0 {
			if err := c.Placement.Validate(); err != nil {
				return err
			}
		}
	}
	if c.SampleInterval <= 0 {
		return errors.New("node: sample interval must be positive")
	}
	return errors.Join(c.P2P.Validate(), c.Discovery.Validate(), c.Shard.Validate(), c.Lending.Validate())
}

// servedModel is one model a node serves.
type servedModel struct {
	lm         *LocalModel
	hash       [32]byte
	placed     bool    // the range is placed (ServeSpec.Capacity) and may move
	backend    string  // "cpu" or "webgpu:<adapter>"
	throughput float64 // measured tokens/s through the range

	mu       sync.Mutex // guards from and to (a placed range moves)
	from, to int
}

// window is the range served now.
func (sm *servedModel) window() LayerRange {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return LayerRange{From: sm.from, To: sm.to}
}

// Node is a running shard provider.
type Node struct {
	cfg     NodeConfig
	log     *slog.Logger
	host    *p2p.Host
	disc    *discovery.Service
	server  *shard.Server
	models  []*servedModel
	monitor *hardware.Monitor
	ledger  *ledger.Ledger
	watcher *settle.Watcher
	bans    *verify.BanList
	fraud   *FraudReports
	events  *fanout[NodeEvent]
	closers []func() error
	placed  chan struct{} // closed once placed ranges were first chosen

	mu        sync.Mutex // guards lending and announced
	lending   hardware.Decision
	announced bool
}

// NodeEvent reports a change of the node's state.
type NodeEvent struct {
	Time      time.Time
	Accepting bool
	Decision  *hardware.Decision // set when the lending policy decided
	// Report is set when a fraud report was judged here (a provider this
	// node re-ran and convicted is banned: ReportConfirmed).
	Report *verify.ReportEvent
	Note   string
}

// NewNode opens the models, starts the host and prepares the services; Serve
// runs them. On error everything opened so far is closed.
func NewNode(ctx context.Context, cfg NodeConfig, log *slog.Logger) (n *Node, err error) {
	if cfg.Wallet != nil && cfg.Shard.Payout.IsZero() {
		cfg.Shard.Payout = cfg.Wallet.PublicKey() // paid to the node's own wallet
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	node := &Node{cfg: cfg, log: log.With("sub", "node"), events: newFanout[NodeEvent](), placed: make(chan struct{})}
	n = node
	defer func() {
		if err != nil {
			node.Close() // n itself is nil by now
		}
	}()
	backends, err := n.openModels()
	if err != nil {
		return nil, err
	}
	rec, err := node.openLedger()
	if err != nil {
		return nil, err
	}
	key := cfg.Identity
	if key == nil {
		if key, err = p2p.LoadOrCreateIdentity(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	if n.host, err = p2p.New(ctx, cfg.P2P, key, log); err != nil {
		return nil, err
	}
	n.closers = append(n.closers, n.host.Close)
	if n.server, err = shard.NewServer(n.host.Raw(), n.cfg.Shard, rec, log, backends...); err != nil {
		return nil, err
	}
	dcfg := cfg.Discovery
	if n.host.PrivateSwarm() {
		dcfg = dcfg.PrivateSwarm()
	}
	if n.disc, err = discovery.New(n.host.Raw(), discovery.NewRegistry(time.Now), dcfg, log); err != nil {
		return nil, err
	}
	if err := n.startFraud(); err != nil {
		return nil, err
	}
	if cfg.Lending.Enabled {
		if err := n.startMonitor(ctx); err != nil {
			return nil, err
		}
		n.server.SetAccepting(false) // until the policy says the machine is idle
	}
	return n, nil
}

// openLedger prepares receipt keeping for a paid node: the wallet's ledger
// (and its settlement watcher) when a wallet is set, else a ledger file in
// the data directory.
func (n *Node) openLedger() (meter.Ledger, error) {
	sc := &n.cfg.Shard
	if sc.Price.PerKiloUnit == 0 {
		return nil, nil
	}
	var err error
	if w := n.cfg.Wallet; w != nil {
		if n.ledger, err = w.Ledger(); err != nil { // the wallet closes it
			return nil, err
		}
		wcfg := n.cfg.Watcher
		if wcfg == (settle.WatcherConfig{}) {
			wcfg = settle.DefaultWatcherConfig()
		}
		if n.watcher, err = w.Watcher(wcfg, n.log); err != nil {
			return nil, err
		}
	} else {
		if n.ledger, err = ledger.Open(filepath.Join(n.cfg.DataDir, "wallet", "ledger.db"), n.log); err != nil {
			return nil, err
		}
		n.closers = append(n.closers, n.ledger.Close)
		n.log.Warn("paid node without a wallet: receipts are kept but payments are not watched")
	}
	return ledgerRecorder{l: n.ledger, provider: sc.Payout, price: sc.Price}, nil
}

// openModels opens every served model, hashes it and measures its range.
func (n *Node) openModels() ([]shard.Backend, error) {
	var backends []shard.Backend
	for _, s := range n.cfg.Serve {
		lm, err := OpenModel(s.Model, n.cfg.Threads)
		if err != nil {
			return nil, err
		}
		n.closers = append(n.closers, lm.Close)
		to := s.To
		if to == 0 {
			to = lm.Model.NumLayers
		}
		if s.Capacity > 0 { // where it goes is chosen in Serve
			s.From = lm.Model.HeldFrom
			to = min(s.From+s.Capacity, lm.Model.HeldTo)
		}
		hash, err := ModelIdentity(lm, filepath.Join(n.cfg.DataDir, "model-hashes"))
		if err != nil {
			return nil, err
		}
		sm := &servedModel{lm: lm, hash: hash, from: s.From, to: to, backend: discovery.BackendCPU, placed: s.Capacity > 0}
		var b shard.Backend
		var open func(maxCtx int) (shard.StageSession, error)
		if s.GPU {
			b, open, err = n.gpuBackend(sm)
		} else {
			var mb *shard.ModelBackend
			mb, err = shard.NewModelBackend(lm.Model, lm.Pool, hash, s.From, to)
			b = mb
			open = func(maxCtx int) (shard.StageSession, error) { return mb.OpenSession(s.From, to, maxCtx) }
		}
		if err != nil {
			return nil, err
		}
		if sm.throughput, err = measureThroughput(open, s.From == 0, lm.Model.Dim, lm.Model.Vocab); err != nil {
			return nil, fmt.Errorf("benchmark %s layers [%d,%d): %w", s.Model, s.From, to, err)
		}
		n.log.Info("serving", "model", lm.Model.Name, "from", s.From, "to", to, "tok_s", fmt.Sprintf("%.1f", sm.throughput))
		n.models = append(n.models, sm)
		backends = append(backends, b)
	}
	return backends, nil
}

func (n *Node) startMonitor(ctx context.Context) error {
	r := n.cfg.Reader
	if r == nil {
		scfg := hardware.DefaultSamplerConfig()
		scfg.DataDir = n.cfg.DataDir
		nv := hardware.NewNVMLSource()
		n.closers = append(n.closers, func() error { nv.Close(); return nil })
		s, err := hardware.NewSampler(ctx, scfg, nv, hardware.NewInputIdle())
		if err != nil {
			return err
		}
		r = s
	}
	mcfg := hardware.MonitorConfig{Interval: n.cfg.SampleInterval, Policy: n.cfg.Lending}
	var err error
	n.monitor, err = hardware.NewMonitor(mcfg, r, func() int { return len(n.server.Stats().Sessions) }, n.log)
	return err
}

// Serve runs the host, discovery, the shard server, and the lending policy
// until ctx ends.
func (n *Node) Serve(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.host.Serve(ctx) })
	g.Go(func() error { return n.disc.Serve(ctx) })
	g.Go(func() error { return n.server.Serve(ctx) })
	g.Go(func() error { return n.fraud.Serve(ctx) })
	if n.monitor != nil {
		events, cancel := n.monitor.Subscribe()
		g.Go(func() error { return n.monitor.Serve(ctx) })
		g.Go(func() error { defer cancel(); n.followPolicy(ctx, events); return nil })
	} else {
		g.Go(func() error {
			select { // a placed range is announced where it goes
			case <-n.placed:
			case <-ctx.Done():
				return nil
			}
			n.setLending(ctx, true, nil)
			return nil
		})
	}
	g.Go(func() error { n.place(ctx); return nil })
	g.Go(func() error { n.refreshLoad(ctx); return nil })
	if n.watcher != nil {
		g.Go(func() error {
			// A broken RPC must not take the node down: receipts are kept
			// and settle on a later scan.
			if err := n.watcher.Serve(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("settlement watcher stopped", "err", err)
			}
			return nil
		})
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// followPolicy applies each decision of the lending policy as soon as it is
// published: a busy machine stops taking sessions on the sample that saw it.
func (n *Node) followPolicy(ctx context.Context, events <-chan hardware.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			d := e.Decision
			n.setLending(ctx, d.AcceptSessions, &d)
			if d.Mode == hardware.ModePaused {
				n.evict(d)
			}
		}
	}
}

// evict ends the sessions still running once the policy has paused
// lending (the drain deadline passed): their clients fail over to other
// providers, and the sessions' memory is released.
func (n *Node) evict(d hardware.Decision) {
	why := "lending paused"
	if len(d.Reasons) > 0 {
		why += ": " + d.Reasons[0].Text
	}
	if k := n.server.Evict(why); k > 0 {
		n.log.Info("sessions ended at the drain deadline", "sessions", k, "why", why)
		n.events.publish(NodeEvent{Time: time.Now(), Decision: &d, Note: fmt.Sprintf("%d sessions ended (%s)", k, why)})
	}
}

// setLending opens or closes the node to new sessions, announcing or
// withdrawing its shards so clients route elsewhere at once.
func (n *Node) setLending(ctx context.Context, accept bool, d *hardware.Decision) {
	n.mu.Lock()
	changed := accept != n.server.Accepting() || (accept && !n.announced)
	if d != nil {
		n.lending = *d
	}
	n.mu.Unlock()
	if !changed {
		if d != nil && d.Mode != n.lendingMode() {
			n.events.publish(NodeEvent{Time: time.Now(), Accepting: accept, Decision: d})
		}
		return
	}
	n.server.SetAccepting(accept)
	var err error
	if accept {
		err = n.announce(ctx)
	} else {
		err = n.withdraw(ctx)
	}
	if err != nil && ctx.Err() == nil {
		n.log.Warn("updating announcements", "accepting", accept, "err", err)
	}
	n.log.Info("lending", "accepting", accept)
	n.events.publish(NodeEvent{Time: time.Now(), Accepting: accept, Decision: d})
}

func (n *Node) lendingMode() hardware.Mode {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lending.Mode
}

func (n *Node) announcement(sm *servedModel) discovery.Announcement {
	sc := n.cfg.Shard
	w := sm.window()
	a := discovery.Announcement{
		ModelHash: sm.hash, ModelName: sm.lm.Model.Name, NumLayers: sm.lm.Model.NumLayers,
		From: w.From, To: w.To, Backend: sm.backend, ThroughputTokS: sm.throughput,
		PricePerKiloUnit: sc.Price.PerKiloUnit, Version: Version, Load: n.load(),
	}
	if !sc.Payout.IsZero() {
		a.PayoutAddress = sc.Payout.String()
	}
	if !sc.Price.Mint.IsZero() {
		a.Mint = sc.Price.Mint.String()
	}
	return a
}

func (n *Node) announce(ctx context.Context) error {
	var errs []error
	for _, sm := range n.models {
		errs = append(errs, n.disc.Announce(ctx, n.announcement(sm)))
	}
	n.mu.Lock()
	n.announced = true
	n.mu.Unlock()
	return errors.Join(errs...)
}

func (n *Node) withdraw(ctx context.Context) error {
	n.mu.Lock()
	was := n.announced
	n.announced = false
	n.mu.Unlock()
	if !was {
		return nil
	}
	var errs []error
	for _, sm := range n.models {
		errs = append(errs, n.disc.Withdraw(ctx, sm.hash))
	}
	return errors.Join(errs...)
}

// load is the share of session slots in use.
func (n *Node) load() float64 {
	return float64(len(n.server.Stats().Sessions)) / float64(max(1, n.cfg.Shard.MaxSessions))
}

// refreshLoad re-announces when the load changes noticeably.
func (n *Node) refreshLoad(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	last := -1.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n.mu.Lock()
		on := n.announced
		n.mu.Unlock()
		if l := n.load(); on && (l-last > 0.1 || last-l > 0.1) {
			last = l
			if err := n.announce(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("re-announcing load", "err", err)
			}
		}
	}
}

// Close stops everything NewNode opened.
func (n *Node) Close() error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		errs = append(errs, n.closers[i]())
	}
	n.closers = nil
	return errors.Join(errs...)
}

// Host is the node's libp2p host.
func (n *Node) Host() *p2p.Host { return n.host }

// Server is the node's shard server.
func (n *Node) Server() *shard.Server { return n.server }

// Discovery is the node's discovery service.
func (n *Node) Discovery() *discovery.Service { return n.disc }

// Ready is closed once the shard protocol is being served.
func (n *Node) Ready() <-chan struct{} { return n.server.Ready() }

// Subscribe returns the node's state changes; cancel stops them.
func (n *Node) Subscribe() (<-chan NodeEvent, func()) { return n.events.subscribe(16) }

// Bans is the node's ban list: providers it convicted from fraud reports,
// reporters it distrusts.
func (n *Node) Bans() *verify.BanList { return n.bans }

// Fraud is the node's fraud-report service (to publish reports on, or to
// wait for with Ready).
func (n *Node) Fraud() *FraudReports { return n.fraud }

// Ledger is the node's receipt ledger (nil for a free node).
func (n *Node) Ledger() *ledger.Ledger { return n.ledger }

// Lending is the policy's latest decision (zero when the policy is off).
func (n *Node) Lending() hardware.Decision {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lending
}

// ListenAddr picks the address to tell clients: the first direct TCP one,
// else the first at all.
func (n *Node) ListenAddr() ma.Multiaddr {
	addrs := n.host.Addrs()
	for _, a := range addrs {
		_, errTCP := a.ValueForProtocol(ma.P_TCP)
		_, errCircuit := a.ValueForProtocol(ma.P_CIRCUIT)
		if errTCP == nil && errCircuit != nil {
			return a
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	return addrs[0]
}

// ServedModels describes what the node serves.
func (n *Node) ServedModels() []ServedModel {
	out := make([]ServedModel, len(n.models))
	for i, sm := range n.models {
		w := sm.window()
		out[i] = ServedModel{Name: sm.lm.Model.Name, Path: sm.lm.Path, Hash: sm.hash, From: w.From, To: w.To,
			NumLayers: sm.lm.Model.NumLayers, TokPerSec: sm.throughput, Backend: sm.backend}
	}
	return out
}

// ServedModel is one model and range a node serves.
type ServedModel struct {
	Name, Path string
	Hash       [32]byte
	From, To   int
	NumLayers  int
	TokPerSec  float64
	Backend    string // "cpu" or "webgpu:<adapter>"
}

// ledgerRecorder records receipts in the wallet's ledger, which checks them
// again against the node's payout address and price.
type ledgerRecorder struct {
	l        *ledger.Ledger
	provider receipt.PublicKey
	price    receipt.Price
}

func (w ledgerRecorder) Record(s receipt.Signed) error {
	_, err := w.l.AcceptReceipt(s, w.provider, &w.price)
	return err
}

// Version is the software version nodes announce.
var Version = "0.1.0-dev"
