package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"golang.org/x/sync/errgroup"

	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
)

// Consumer is a libp2p host that uses other nodes' shards: it joins the
// swarm (bootstrap peers, DHT, mDNS, gossip) to find providers and opens
// pipelines from it. Its identity is ephemeral: a consumer needs no stable
// peer ID, and a fresh one links nothing between runs.
type Consumer struct {
	h      *p2p.Host
	disc   *discovery.Service
	log    *slog.Logger
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{}
	bg     sync.WaitGroup // services started later (ReportFraud)

	mu    sync.Mutex    // guards fraud
	fraud *FraudReports // nil until ReportFraud
}

// StartConsumer starts a consumer host and its discovery, running until
// Close (or until ctx ends). A host with a private-swarm key uses the
// private-swarm discovery settings.
func StartConsumer(ctx context.Context, hcfg p2p.Config, dcfg discovery.Config, log *slog.Logger) (*Consumer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	h, err := p2p.New(ctx, hcfg, key, log)
	if err != nil {
		return nil, fmt.Errorf("start the consumer host: %w", err)
	}
	if h.PrivateSwarm() {
		dcfg = dcfg.PrivateSwarm()
	}
	disc, err := discovery.New(h.Raw(), discovery.NewRegistry(time.Now), dcfg, log)
	if err != nil {
		h.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Consumer{h: h, disc: disc, log: log, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return h.Serve(ctx) })
		g.Go(func() error { return disc.Serve(ctx) })
		if err := g.Wait(); err != nil && ctx.Err() == nil {
			log.Warn("consumer host stopped", "err", err)
		}
	}()
	return c, nil
}

// Host is the consumer's libp2p host.
func (c *Consumer) Host() *p2p.Host { return c.h }

// Discovery is the consumer's discovery service.
func (c *Consumer) Discovery() *discovery.Service { return c.disc }

// Providers lists the providers heard of for a model; a Consumer is a
// ProviderSource.
func (c *Consumer) Providers(m discovery.ModelHash) []discovery.Announcement {
	return c.disc.Registry().Providers(m)
}

// FindProviders follows a model's announcements (gossip, and a DHT lookup
// when the DHT is on) until src's providers, with the local layers, cover
// all numLayers layers, or wait passes. It reports whether they do.
func (c *Consumer) FindProviders(ctx context.Context, hash discovery.ModelHash, src ProviderSource, local []LayerRange, numLayers int, wait time.Duration) bool {
	c.disc.Watch(hash)
	if covers(src.Providers(hash), local, numLayers) {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	go func() { // the DHT lookup fills the registry as it goes
		if _, err := c.disc.Find(ctx, hash); err != nil && !errors.Is(err, discovery.ErrDHTDisabled) && ctx.Err() == nil {
			c.log.Debug("finding providers in the DHT", "err", err)
		}
	}()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !covers(src.Providers(hash), local, numLayers) {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// Close stops discovery and the host.
func (c *Consumer) Close() error {
	c.cancel()
	<-c.done
	c.bg.Wait()
	return c.h.Close()
}

// covers reports whether announcements and the local layers cover all
// numLayers layers.
func covers(as []discovery.Announcement, local []LayerRange, numLayers int) bool {
	need := make([]bool, numLayers)
	for _, r := range local {
		for l := max(r.From, 0); l < min(r.To, numLayers); l++ {
			need[l] = true
		}
	}
	for _, a := range as {
		for l := max(a.From, 0); l < min(a.To, numLayers); l++ {
			need[l] = true
		}
	}
	for _, ok := range need {
		if !ok {
			return false
		}
	}
	return true
}
