package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/errgroup"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
)

// Offloading errors.
var (
	// ErrOffloadOff: the privacy setting forbids offloading.
	ErrOffloadOff = errors.New("offloading is off (Settings → Privacy: never offload); switch the conversation to local only")
	// ErrNoProviders: no peer serves the layers an offloading turn needs.
	ErrNoProviders = errors.New("offloading found no providers")
)

// consumerHost is the libp2p host offloading conversations reach providers
// from, with the discovery service that finds them. It has an ephemeral
// identity: a consumer needs no stable peer ID.
type consumerHost struct {
	h      *p2p.Host
	disc   *discovery.Service
	cancel context.CancelFunc
	done   chan struct{}
}

// consumer returns the offloading host, starting it on first use.
func (d *Desktop) consumer() (*consumerHost, error) {
	n := &d.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.consumer != nil {
		return n.consumer, nil
	}
	if !n.serving {
		return nil, errors.New("offloading needs the desktop's services running")
	}
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	h, err := p2p.New(d.life, d.cfg.ConsumerP2P, key, d.log)
	if err != nil {
		return nil, fmt.Errorf("start the offloading host: %w", err)
	}
	dcfg := d.cfg.Discovery
	if h.PrivateSwarm() {
		dcfg = dcfg.PrivateSwarm()
	}
	disc, err := discovery.New(h.Raw(), discovery.NewRegistry(time.Now), dcfg, d.log)
	if err != nil {
		h.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(d.life)
	c := &consumerHost{h: h, disc: disc, cancel: cancel, done: make(chan struct{})}
	started := d.goBackground(func() {
		defer close(c.done)
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return h.Serve(ctx) })
		g.Go(func() error { return disc.Serve(ctx) })
		if err := g.Wait(); err != nil && ctx.Err() == nil {
			d.log.Warn("offloading host stopped", "err", err)
		}
	})
	if !started {
		cancel()
		h.Close()
		return nil, errors.New("offloading: the desktop is shutting down")
	}
	n.consumer = c
	d.log.Info("offloading host started", "peer", h.ID())
	return c, nil
}

// stopConsumer stops the offloading host.
func (n *netState) stopConsumer() {
	n.mu.Lock()
	c := n.consumer
	n.consumer = nil
	n.mu.Unlock()
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
	c.h.Close()
}

// offloadChain builds an offloading conversation's pipeline: the first and
// last layers here (no peer sees tokens or logits), the rest on providers
// the privacy setting allows.
func (d *Desktop) offloadChain(lm *LocalModel) ChainFactory {
	return func(ctx context.Context, maxCtx int) (model.Chain, func(), error) {
		conv, _ := ctx.Value(convKey{}).(string)
		p, err := d.buildOffload(ctx, lm, maxCtx)
		if err != nil {
			return nil, nil, err
		}
		d.net.addPipe(p, pipeUse{conv: conv, model: modelName(lm.Path)})
		d.publish(NetworkChanged{})
		return p.Chain, func() {
			d.net.removePipe(p)
			if err := p.Close(); err != nil {
				d.log.Debug("closing a pipeline", "err", err)
			}
			d.publish(NetworkChanged{})
		}, nil
	}
}

// modelName is a model file's name without .gguf.
func modelName(path string) string { return strings.TrimSuffix(filepath.Base(path), ".gguf") }

// localEnds are the layers an offloading pipeline keeps here.
func localEnds(numLayers int) []LayerRange {
	if numLayers < 3 {
		return []LayerRange{{From: 0, To: numLayers}}
	}
	return []LayerRange{{From: 0, To: 1}, {From: numLayers - 1, To: numLayers}}
}

func (d *Desktop) buildOffload(ctx context.Context, lm *LocalModel, maxCtx int) (*Pipeline, error) {
	s := d.Settings()
	if s.Privacy == PrivacyNever {
		return nil, ErrOffloadOff
	}
	c, err := d.consumer()
	if err != nil {
		return nil, err
	}
	hash, err := ModelHash(lm.Path, d.hashCacheDir())
	if err != nil {
		return nil, err
	}
	var src ProviderSource = c.disc.Registry()
	if s.Privacy == PrivacyTrusted {
		src = trustedSource{src: src, allow: peerSet(s.TrustedPeers)}
	}
	n := lm.Model.NumLayers
	d.findProviders(ctx, c, discovery.ModelHash(hash), src, n)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := BuildPipeline(ctx, c.h, lm, localEnds(n), PipelineOptions{
		Providers: src, MaxContext: maxCtx, HashCacheDir: d.hashCacheDir(), Book: d.net.book,
		FallbackLocal: true, Logger: d.log,
		OnEvent: func(PipelineEvent) { d.publish(NetworkChanged{}) },
	})
	if err != nil {
		if len(src.Providers(discovery.ModelHash(hash))) == 0 {
			who := ""
			if s.Privacy == PrivacyTrusted {
				who = " (only your trusted peers may be used)"
			}
			return nil, fmt.Errorf("%w: no peer lends layers of %s right now%s; switch the conversation to local only or try later",
				ErrNoProviders, modelName(lm.Path), who)
		}
		return nil, fmt.Errorf("offloading %s: %w", lm.Model.Name, err)
	}
	return p, nil
}

// findProviders follows the model's announcements and waits (at most
// DiscoveryWait) until providers cover the layers offloading needs.
func (d *Desktop) findProviders(ctx context.Context, c *consumerHost, hash discovery.ModelHash, src ProviderSource, numLayers int) {
	c.disc.Watch(hash)
	if covers(src.Providers(hash), numLayers) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.DiscoveryWait)
	defer cancel()
	go func() { // the DHT lookup fills the registry as it goes
		if _, err := c.disc.Find(ctx, hash); err != nil && !errors.Is(err, discovery.ErrDHTDisabled) && ctx.Err() == nil {
			d.log.Debug("finding providers in the DHT", "err", err)
		}
	}()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !covers(src.Providers(hash), numLayers) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// covers reports whether announcements cover the layers between the ends
// an offloading pipeline keeps.
func covers(as []discovery.Announcement, numLayers int) bool {
	need := make([]bool, numLayers)
	for _, r := range localEnds(numLayers) {
		for l := r.From; l < r.To; l++ {
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

// trustedSource passes only the allowed peers' announcements.
type trustedSource struct {
	src   ProviderSource
	allow map[peer.ID]bool
}

func (t trustedSource) Providers(m discovery.ModelHash) []discovery.Announcement {
	var out []discovery.Announcement
	for _, a := range t.src.Providers(m) {
		if t.allow[a.PeerID] {
			out = append(out, a)
		}
	}
	return out
}

func peerSet(ids []string) map[peer.ID]bool {
	out := map[peer.ID]bool{}
	for _, s := range ids {
		if id, err := peer.Decode(s); err == nil {
			out[id] = true
		}
	}
	return out
}
