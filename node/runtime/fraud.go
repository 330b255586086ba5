package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/verify"
	"github.com/hearth-p2p/hearth/wallet/ledger"
)

// BansFile is the ban list's file in a data directory: the providers this
// node caught or convicted, and the reporters it distrusts.
const BansFile = "bans.json"

// OpenBans opens the ban list of a data directory.
func OpenBans(dataDir string) (*verify.BanList, error) {
	return verify.OpenBanList(filepath.Join(dataDir, BansFile))
}

// FraudReports runs the fraud-report service (verify.Fraud) on the GossipSub
// router of a host's discovery service: it publishes the reports of the
// pipelines it is the Reporter of, and judges other nodes' reports by
// re-running the accused layers with its Executor. It is a service: Serve
// runs it alongside the discovery service (it starts once discovery's
// router does).
type FraudReports struct {
	h    *p2p.Host
	disc *discovery.Service
	cfg  verify.FraudConfig
	log  *slog.Logger

	ready chan struct{} // closed once reports are taken and published

	mu    sync.Mutex // guards fraud
	fraud *verify.Fraud
}

// NewFraudReports prepares the service; cfg.Bans is required, cfg.Exec may
// be nil (reports are then relayed but not judged).
func NewFraudReports(h *p2p.Host, disc *discovery.Service, cfg verify.FraudConfig) (*FraudReports, error) {
	if h == nil || disc == nil || cfg.Bans == nil {
		return nil, errors.New("fraud reports: need a host, a discovery service and a ban list")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FraudReports{h: h, disc: disc, cfg: cfg, log: log, ready: make(chan struct{})}, nil
}

// Serve waits for the discovery service's router, then publishes and
// judges reports until ctx ends. Without GossipSub it does nothing but
// wait for ctx.
func (f *FraudReports) Serve(ctx context.Context) error {
	ps, err := f.disc.PubSub(ctx)
	if errors.Is(err, discovery.ErrNoPubSub) {
		f.log.Info("fraud reports off: gossipsub is disabled")
		<-ctx.Done()
		return nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("fraud reports: %w", err)
	}
	fr, err := verify.NewFraud(f.h.Raw(), ps, f.cfg)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.fraud = fr
	f.mu.Unlock()
	go func() {
		select {
		case <-fr.Ready():
			close(f.ready)
		case <-ctx.Done():
		}
	}()
	return fr.Serve(ctx)
}

// Ready is closed once the service takes and publishes reports.
func (f *FraudReports) Ready() <-chan struct{} { return f.ready }

// Bans is the ban list the service keeps.
func (f *FraudReports) Bans() *verify.BanList { return f.cfg.Bans }

// Publish implements verify.Reporter: it sends a report in the background
// (verify.ErrNotServing before Serve has joined the topic).
func (f *FraudReports) Publish(ctx context.Context, r verify.Report) error {
	f.mu.Lock()
	fr := f.fraud
	f.mu.Unlock()
	if fr == nil {
		return verify.ErrNotServing
	}
	return fr.Publish(ctx, r)
}

// Apply makes a pipeline act on the providers it catches cheating: banned
// in the service's ban list, reported to the swarm, and — with a ledger
// (the paying wallet's) — their sessions' unpaid work written off. On a nil
// service it does nothing.
func (f *FraudReports) Apply(opts *PipelineOptions, l *ledger.Ledger) {
	if f == nil {
		return
	}
	opts.Bans, opts.Reporter = f.cfg.Bans, f
	if l != nil {
		opts.Void = VoidIn(l)
	}
}

// VoidIn is a PipelineOptions.Void that writes off a cheating provider's
// session in a consumer's ledger (see ledger.VoidIssued).
func VoidIn(l *ledger.Ledger) func(session [16]byte, provider string) error {
	return func(session [16]byte, provider string) error {
		return l.VoidIssued(session, "provider "+provider+" returned a wrong result")
	}
}

// Executors re-run layers of any of several local models: a verify.Executor
// for judging reports on a node that serves more than one.
type Executors []verify.ModelExecutor

// Open implements verify.Executor.
func (es Executors) Open(modelHash [32]byte, r route.Range, maxCtx int) (route.Session, error) {
	for _, e := range es {
		if e.Hash == modelHash {
			return e.Open(modelHash, r, maxCtx)
		}
	}
	return nil, fmt.Errorf("%w: model %x", verify.ErrNotHeld, modelHash[:6])
}

// startFraud opens the node's ban list and prepares its fraud-report
// service, which re-runs accused layers of the models the node holds.
func (n *Node) startFraud() error {
	n.bans = n.cfg.Bans
	if n.bans == nil {
		var err error
		if n.bans, err = OpenBans(n.cfg.DataDir); err != nil {
			return err
		}
	}
	var exec Executors
	for _, sm := range n.models {
		exec = append(exec, verify.ModelExecutor{Hash: sm.hash, Model: sm.lm.Model, Pool: sm.lm.Pool})
	}
	var err error
	n.fraud, err = NewFraudReports(n.host, n.disc, verify.FraudConfig{
		Bans: n.bans, Exec: exec, Logger: n.log,
		OnEvent: func(e verify.ReportEvent) {
			n.events.publish(NodeEvent{Time: e.Time, Accepting: n.server.Accepting(), Report: &e})
		},
	})
	return err
}

// ReportFraud makes the consumer act on cheating providers with the fraud-
// report service on its discovery router: the pipelines given Fraud().Apply
// ban them in bans and report them, and reports other nodes publish are
// judged with exec (nil: relayed only). Call it once, before opening
// pipelines; it runs until Close.
func (c *Consumer) ReportFraud(bans *verify.BanList, exec verify.Executor) (*FraudReports, error) {
	fr, err := NewFraudReports(c.h, c.disc, verify.FraudConfig{Bans: bans, Exec: exec, Logger: c.log})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fraud != nil {
		return nil, errors.New("fraud reports: already started")
	}
	c.fraud = fr
	c.bg.Go(func() {
		if err := fr.Serve(c.ctx); err != nil && c.ctx.Err() == nil {
			c.log.Warn("fraud reports stopped", "err", err)
		}
	})
	return fr, nil
}

// Fraud is the consumer's fraud-report service (nil before ReportFraud).
func (c *Consumer) Fraud() *FraudReports {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fraud
}
