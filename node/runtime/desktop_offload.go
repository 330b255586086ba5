package runtime

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/route"
)

// Offloading errors.
var (
	// ErrOffloadOff: the privacy setting forbids offloading.
	ErrOffloadOff = errors.New("offloading is off (Settings → Privacy: never offload); switch the conversation to local only")
	// ErrNoProviders: no peer serves the layers an offloading turn needs.
	ErrNoProviders = errors.New("offloading found no providers")
)

// consumer returns the offloading host, starting it on first use.
func (d *Desktop) consumer() (*Consumer, error) {
	n := &d.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.consumer != nil {
		return n.consumer, nil
	}
	if !n.serving || d.life.Err() != nil {
		return nil, errors.New("offloading needs the desktop's services running")
	}
	bans, err := d.banList()
	if err != nil {
		return nil, fmt.Errorf("offloading: %w", err)
	}
	c, err := StartConsumer(d.life, d.cfg.ConsumerP2P, d.cfg.Discovery, d.log)
	if err != nil {
		return nil, fmt.Errorf("offloading: %w", err)
	}
	// Cheaters caught are banned and reported; reports are relayed (the
	// lending node, which holds layers, judges them).
	if _, err := c.ReportFraud(bans, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("offloading: %w", err)
	}
	n.consumer = c
	d.log.Info("offloading host started", "peer", c.Host().ID())
	return c, nil
}

// stopConsumer stops the offloading host.
func (n *netState) stopConsumer() {
	n.mu.Lock()
	c := n.consumer
	n.consumer = nil
	n.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// offloadChain builds an offloading conversation's pipeline: the first and
// last layers here (no peer sees tokens or logits), the rest on providers
// the privacy setting allows.
func (d *Desktop) offloadChain(lm *LocalModel) ChainFactory {
	return func(ctx context.Context, maxCtx int) (model.Chain, func(), error) {
		conv, _ := ctx.Value(convKey{}).(string)
		p, paying, err := d.buildOffload(ctx, lm, maxCtx)
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
			if paying { // after Close, which sends the final receipts
				d.recordReceipts(p)
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

// buildOffload opens an offloading pipeline; paying: it may pay providers
// (payments unlocked and a MaxPayPrice set), so its receipts are to be
// recorded once it closes.
func (d *Desktop) buildOffload(ctx context.Context, lm *LocalModel, maxCtx int) (p *Pipeline, paying bool, err error) {
	s := d.Settings()
	if s.Privacy == PrivacyNever {
		return nil, false, ErrOffloadOff
	}
	c, err := d.consumer()
	if err != nil {
		return nil, false, err
	}
	hash, err := ModelIdentity(lm, d.hashCacheDir())
	if err != nil {
		return nil, false, err
	}
	var src ProviderSource = c
	if s.Privacy == PrivacyTrusted {
		src = trustedSource{src: src, allow: peerSet(s.TrustedPeers)}
	}
	n := lm.Model.NumLayers
	c.FindProviders(ctx, discovery.ModelHash(hash), src, localEnds(n), n, d.cfg.DiscoveryWait)
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	opts := PipelineOptions{
		Providers: src, MaxContext: maxCtx, HashCacheDir: d.hashCacheDir(), Book: d.net.book,
		FallbackLocal: true, Logger: d.log,
		OnEvent: func(PipelineEvent) { d.publish(NetworkChanged{}) },
	}
	paying = d.payOptions(&opts, s.MaxPayPrice)
	c.Fraud().Apply(&opts, nil) // cheaters are banned and reported
	if paying {                 // and their receipts voided (not paid)
		opts.Void = d.voidInWallet
	}
	p, err = BuildPipeline(ctx, c.Host(), lm, localEnds(n), opts)
	if err != nil {
		if len(src.Providers(discovery.ModelHash(hash))) == 0 {
			who := ""
			if s.Privacy == PrivacyTrusted {
				who = " (only your trusted peers may be used)"
			}
			return nil, false, fmt.Errorf("%w: no peer lends layers of %s right now%s; switch the conversation to local only or try later",
				ErrNoProviders, modelName(lm.Path), who)
		}
		if errors.Is(err, route.ErrGap) { // providers there, none usable
			hint := ""
			if !paying {
				hint = "; peers that charge are used once payments are unlocked (Wallet) under the most paid (Settings)"
			}
			return nil, false, fmt.Errorf("%w: offloading %s: %w%s", ErrNoProviders, modelName(lm.Path), err, hint)
		}
		return nil, false, fmt.Errorf("offloading %s: %w", lm.Model.Name, err)
	}
	return p, paying, nil
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
