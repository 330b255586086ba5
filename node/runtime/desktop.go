package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hearth-p2p/hearth/inference/catalog"
	"github.com/hearth-p2p/hearth/inference/chat"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/hardware"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/settle"
)

// DesktopConfig configures a Desktop: where it keeps things and the
// services it composes. Start from DefaultDesktopConfig.
type DesktopConfig struct {
	// DataDir overrides the data directory; "" uses the settings' data
	// directory, else DefaultDataDir().
	DataDir string
	// ConfigDir holds settings.json; "" is os.UserConfigDir()/hearth.
	ConfigDir string
	// Threads is the chat engine's kernel threads (0: one per CPU).
	Threads int
	// MaxOpenModels is how many models stay open for chat (at least 1).
	MaxOpenModels int
	// ChatContext is each conversation's KV cache size (0: the model's
	// context, at most 4096).
	ChatContext int
	// Catalog configures the model store and its downloads; its DataDir is
	// set from the desktop's.
	Catalog catalog.Config
	// Wallet is the wallet's base configuration (KDF, RPC timings); its
	// DataDir, cluster and RPC URL come from the desktop and its settings.
	Wallet wallet.Config
	// Watcher tunes how the lending node watches for payments of its
	// receipts (zero: settle's default).
	Watcher settle.WatcherConfig
	// P2P is the lending node's host; ConsumerP2P the host offloading
	// conversations reach providers from (an ephemeral identity).
	P2P, ConsumerP2P p2p.Config
	Discovery        discovery.Config
	// Shard bounds what the lending node serves (its price and payout come
	// from the settings and the wallet).
	Shard shard.Config
	// Lending is the base lending policy the settings refine.
	Lending hardware.Policy
	// Reader, when set, replaces the system's hardware sampler (tests).
	Reader hardware.Reader
	// Memory, when set, replaces the system's available-memory reading for
	// the catalog's fit verdicts (tests).
	Memory catalog.MemoryReader
	// SampleInterval is the period of live network samples.
	SampleInterval time.Duration
	// DiscoveryWait bounds how long an offloading turn waits for providers
	// to be found before it plans with what it knows.
	DiscoveryWait time.Duration
	// Placement tunes where the lending node puts a window of layers when
	// the RAM cap holds only part of the model.
	Placement PlacementConfig
	// MachineBench measures the machine in the background when Serve
	// starts (unless a result is cached) and when the lending threads
	// change: the speed and earnings estimate the Settings show.
	MachineBench bool
}

// DefaultDesktopConfig is the desktop app's configuration.
func DefaultDesktopConfig() DesktopConfig {
	return DesktopConfig{
		MaxOpenModels:  2,
		Catalog:        catalog.Default(""),
		Wallet:         wallet.DefaultConfig(),
		P2P:            p2p.Default(),
		ConsumerP2P:    p2p.Default(),
		Discovery:      discovery.Default(),
		Shard:          shard.Default(),
		Lending:        hardware.Default(),
		SampleInterval: time.Second,
		DiscoveryWait:  5 * time.Second,
		Placement:      DefaultPlacement(),
		MachineBench:   true,
	}
}

// Validate checks the configuration.
func (c DesktopConfig) Validate() error {
	switch {
	case c.Threads < 0:
		return errors.New("desktop: negative threads")
	case c.MaxOpenModels < 1:
		return errors.New("desktop: MaxOpenModels must be at least 1")
	case c.ChatContext < 0:
		return errors.New("desktop: negative chat context")
	case c.SampleInterval <= 0:
		return errors.New("desktop: sample interval must be positive")
	case c.DiscoveryWait < 0:
		return errors.New("desktop: negative discovery wait")
	}
	return errors.Join(c.P2P.Validate(), c.ConsumerP2P.Validate(), c.Discovery.Validate(), c.Shard.Validate())
}

// Desktop is the composition root of the desktop app: conversations and
// chat on lazily opened models, the model store and its downloads, lending
// (a shard provider run under the lending policy), offloading
// conversations' pipelines, the wallet and the settings. The GUI is a thin
// client of its methods and its event stream (Subscribe).
type Desktop struct {
	cfg          DesktopConfig
	log          *slog.Logger
	events       *eventHub
	dataDir      string
	settingsPath string
	reader       hardware.Reader
	machine      Machine
	convs        *chat.Store
	store        *catalog.Store

	life   context.Context // cancelled by Close: background work stops
	stop   context.CancelFunc
	bg     sync.WaitGroup // background goroutines (turns, downloads, nodes)
	closed sync.Once

	settingsMu sync.Mutex // guards settings
	settings   DesktopSettings

	chat      chatState
	models    modelCache
	downloads downloadManager
	net       netState
	wallet    walletState
	trust     trustState
	bench     benchState
}

// NewDesktop opens the settings, the conversation store and the model
// store. Serve runs the background services; Close releases everything.
func NewDesktop(cfg DesktopConfig, log *slog.Logger) (*Desktop, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Desktop{cfg: cfg, log: log.With("sub", "desktop"), events: newEventHub()}
	d.life, d.stop = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	if err := d.openMachine(); err != nil {
		return nil, err
	}
	if err := d.openSettings(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(d.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("desktop: data directory: %w", err)
	}
	var err error
	if d.convs, err = chat.OpenStore(filepath.Join(d.dataDir, chat.StoreFile)); err != nil {
		return nil, err
	}
	scfg := cfg.Catalog
	scfg.DataDir = d.dataDir
	if d.store, err = catalog.Open(scfg); err != nil {
		return nil, err
	}
	d.chat.init()
	d.models.init(cfg.MaxOpenModels)
	d.downloads.init()
	d.scanPartials()
	d.net.init()
	ok = true
	return d, nil
}

// openMachine prepares the hardware reader and takes a first reading.
func (d *Desktop) openMachine() error {
	d.reader = d.cfg.Reader
	if d.reader == nil {
		scfg := hardware.DefaultSamplerConfig()
		s, err := hardware.NewSampler(d.life, scfg, hardware.NewNVMLSource(), hardware.NewInputIdle())
		if err != nil {
			return fmt.Errorf("desktop: hardware sampler: %w", err)
		}
		d.reader = s
	}
	ctx, cancel := context.WithTimeout(d.life, 10*time.Second)
	defer cancel()
	d.machine = d.readMachine(ctx)
	return nil
}

// readMachine reads the hardware; what cannot be read stays zero (threads
// fall back to the CPUs Go sees).
func (d *Desktop) readMachine(ctx context.Context) Machine {
	m := Machine{Threads: goruntime.NumCPU()}
	r, err := d.reader.Read(ctx)
	if err != nil {
		d.log.Warn("reading the hardware", "err", err)
		return m
	}
	if r.CPU.Threads > 0 {
		m.Threads = r.CPU.Threads
	}
	m.RAMBytes = r.Mem.Total
	m.OnBattery = r.Power.Known && r.Power.OnBattery
	for _, g := range r.GPUs {
		m.VRAMBytes += g.VRAMTotal
		if m.GPU == "" {
			m.GPU = g.Name
		}
	}
	return m
}

// openSettings loads the settings and settles the data directory.
func (d *Desktop) openSettings() error {
	dir := d.cfg.ConfigDir
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return fmt.Errorf("desktop: no config directory: %w", err)
		}
		dir = filepath.Join(base, "hearth")
	}
	d.settingsPath = filepath.Join(dir, SettingsFile)
	defDir := d.cfg.DataDir
	if defDir == "" {
		defDir = DefaultDataDir()
	}
	if defDir == "" {
		return errors.New("desktop: cannot find a data directory; set HEARTH_DATA_DIR")
	}
	defDir, err := filepath.Abs(defDir)
	if err != nil {
		return fmt.Errorf("desktop: data directory: %w", err)
	}
	s, note, err := loadSettings(d.settingsPath, DefaultDesktopSettings(d.machine, defDir), d.machine)
	if err != nil {
		return err
	}
	if note != "" {
		d.log.Warn(note)
	}
	d.dataDir = s.DataDir
	if d.cfg.DataDir != "" { // an explicit override wins over the settings
		d.dataDir = defDir
	}
	d.settings = s
	return nil
}

// DataDir is the data directory in use.
func (d *Desktop) DataDir() string { return d.dataDir }

// Serve runs the live samples and, when the settings say so, lending,
// until ctx ends; then it stops every turn, download, node and host.
func (d *Desktop) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopLife := context.AfterFunc(ctx, d.stop) // the end of Serve stops background work
	defer stopLife()
	d.net.setServing()
	if d.cfg.MachineBench {
		d.RunMachineBench(false) // in the background: the window opens at once
	}
	if d.Settings().Lending {
		d.applyLending()
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { d.sampleLoop(ctx); return nil })
	err := g.Wait()
	d.shutdown()
	return err
}

// shutdown stops the background work and waits for it.
func (d *Desktop) shutdown() {
	d.stop()
	d.downloads.stopAll()
	d.bg.Wait()
	d.net.stopConsumer()
}

// Close stops everything and releases the stores, models and wallet. Call
// it after Serve has returned (or when Serve never ran).
func (d *Desktop) Close() error {
	var err error
	d.closed.Do(func() {
		d.shutdown()
		d.models.closeAll()
		var errs []error
		if d.convs != nil {
			errs = append(errs, d.convs.Close())
		}
		errs = append(errs, d.wallet.close())
		err = errors.Join(errs...)
	})
	return err
}

// goBackground runs f as background work that Close waits for; it reports
// false (and does not run f) once the desktop is stopping.
func (d *Desktop) goBackground(f func()) bool {
	if d.life.Err() != nil {
		return false
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		f()
	}()
	return true
}

// Subscribe streams state changes until ctx ends, then closes the channel.
// It never blocks the runtime: a slow reader loses only samples; other
// changes are merged with later ones of the same kind.
func (d *Desktop) Subscribe(ctx context.Context) <-chan DesktopEvent {
	return d.events.subscribe(ctx)
}

func (d *Desktop) publish(ev DesktopEvent) { d.events.publish(ev) }

// Machine reports the hardware the settings' caps are bounded by, read
// afresh (the battery state changes).
func (d *Desktop) Machine(ctx context.Context) (Machine, error) {
	m := d.readMachine(ctx)
	if m.RAMBytes == 0 { // keep what the first reading knew
		m.RAMBytes, m.VRAMBytes, m.GPU = d.machine.RAMBytes, d.machine.VRAMBytes, d.machine.GPU
	}
	return m, ctx.Err()
}

// Settings returns the stored settings.
func (d *Desktop) Settings() DesktopSettings {
	d.settingsMu.Lock()
	defer d.settingsMu.Unlock()
	return d.settings.clone()
}

// UpdateSettings validates s, stores it and applies it: lending starts,
// stops or restarts under the new policy, the wallet follows the cluster.
// A changed data directory applies at the next start.
func (d *Desktop) UpdateSettings(ctx context.Context, s DesktopSettings) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s = s.clone()
	if s.DataDir != "" {
		if abs, err := filepath.Abs(s.DataDir); err == nil && filepath.IsAbs(s.DataDir) {
			s.DataDir = abs
		}
	}
	if err := s.Validate(d.machine); err != nil {
		return err
	}
	d.settingsMu.Lock()
	old := d.settings
	if err := saveSettings(d.settingsPath, s); err != nil {
		d.settingsMu.Unlock()
		return err
	}
	d.settings = s
	d.settingsMu.Unlock()
	if s.DataDir != d.dataDir {
		d.log.Info("data directory changes at the next start", "now", d.dataDir, "next", s.DataDir)
	}
	walletMoved := s.Cluster != old.Cluster || s.RPCURL != old.RPCURL
	restart := lendingChanged(old, s) || (walletMoved && s.Lending && s.Price > 0)
	if restart {
		d.net.lendMu.Lock()
		d.stopLending() // before the wallet it may be paid to is reopened
		d.net.lendMu.Unlock()
	}
	if walletMoved {
		d.wallet.reset()
		d.publish(WalletChanged{})
	}
	if restart {
		d.applyLending()
	}
	if d.cfg.MachineBench && s.MaxThreads != old.MaxThreads && d.net.isServing() {
		d.RunMachineBench(false) // the estimate is for the lending threads
	}
	d.publish(SettingsChanged{Settings: s.clone()})
	d.publishStatus()
	return nil
}

// lendingChanged reports whether the node must start, stop or restart.
func lendingChanged(a, b DesktopSettings) bool {
	if a.Lending != b.Lending {
		return true
	}
	if !b.Lending {
		return false
	}
	// What the node does not depend on.
	for _, s := range []*DesktopSettings{&a, &b} {
		s.Theme, s.DataDir, s.Privacy, s.TrustedPeers, s.Cluster, s.RPCURL = "", "", "", nil, "", ""
		s.MaxPayPrice = 0
	}
	return !reflect.DeepEqual(a, b)
}
