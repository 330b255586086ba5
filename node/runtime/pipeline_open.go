package runtime

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/node/verify"
)

// openHop opens one planned hop: a local session, or a remote one on the
// planned provider or, if it refuses or fails its challenge, its
// alternatives in turn.
func (b *builder) openHop(ctx context.Context, hop route.Hop, cands []route.Candidate) (route.Segment, PipelineHop, error) {
	if hop.Local {
		s, err := b.exec.OpenLocal(hop.Range, b.maxCtx)
		if err != nil {
			return route.Segment{}, PipelineHop{}, err
		}
		return route.Segment{Range: hop.Range, Local: true, Session: s}, PipelineHop{Range: hop.Range, Local: true}, nil
	}
	order := append([]int{hop.Provider}, hop.Alternatives...)
	var errs []error
	for i, ci := range order {
		s, err := b.openRemote(ctx, cands[ci], hop.Range, b.maxCtx)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		seg := route.Segment{Range: hop.Range, Peer: cands[ci].Peer, Session: s}
		for _, alt := range order[i+1:] {
			seg.Alternatives = append(seg.Alternatives, cands[alt])
		}
		for _, before := range order[:i] { // refused now, maybe back later
			seg.Alternatives = append(seg.Alternatives, cands[before])
		}
		rs := s.(*shard.RemoteStage)
		return seg, PipelineHop{Range: hop.Range, Peer: rs.Peer(), Remote: rs}, nil
	}
	return route.Segment{}, PipelineHop{}, fmt.Errorf("no provider opened %v: %w", hop.Range, errors.Join(errs...))
}

// openRemote opens layers r on a provider and, when the model file holds
// them, challenges it to prove it holds their weights: a route.OpenFunc.
func (b *builder) openRemote(ctx context.Context, c route.Candidate, r route.Range, maxCtx int) (route.Session, error) {
	rs, err := b.openSession(ctx, c, r, maxCtx, b.opts.WireDType)
	if err != nil || b.opts.Challenge < 0 {
		return rs, err
	}
	err = verify.ChallengeWeights(ctx, rs, b.lm.Model, r, b.opts.Challenge, rand.New(rand.NewPCG(b.rnd.Uint64(), b.rnd.Uint64())))
	switch {
	case err == nil:
		return rs, nil
	case errors.Is(err, verify.ErrCannotChallenge):
		b.log.Debug("provider used without a weight challenge", "peer", c.Peer, "layers", r, "why", err)
		return rs, nil
	case errors.Is(err, shard.ErrWrongWeights):
		rs.Abort()
		b.log.Warn("provider refused: wrong weights", "peer", c.Peer, "layers", r, "err", err)
		if berr := b.bans.Ban(c.Peer, "failed a weight challenge: "+err.Error(), [32]byte{}); berr != nil {
			b.log.Error("ban list not saved", "err", berr)
		}
		b.emit(PipelineEvent{Refused: &RefusedProvider{Peer: rs.Peer(), Range: r, Err: err}})
		return nil, err
	}
	rs.Close()
	return nil, err
}

// openCheck opens a session for re-running a hop on a second provider:
// f32 hidden states, so that the comparison is exact.
func (b *builder) openCheck(ctx context.Context, c route.Candidate, r route.Range, maxCtx int) (route.Session, error) {
	return b.openSession(ctx, c, r, maxCtx, shard.F32)
}

func (b *builder) openSession(ctx context.Context, c route.Candidate, r route.Range, maxCtx int, dt shard.DType) (*shard.RemoteStage, error) {
	id, err := peer.Decode(c.Peer)
	if err != nil {
		return nil, fmt.Errorf("provider %q: %w", c.Peer, err)
	}
	client := b.peers.client(id)
	if client == nil {
		return nil, fmt.Errorf("provider %s is not reachable", c.Peer)
	}
	return client.OpenSession(ctx, shard.SessionConfig{Model: b.hash, From: r.From, To: r.To, MaxContext: maxCtx,
		DType: dt, MaxPrice: b.opts.MaxPrice, Signer: b.opts.Signer})
}

// checker returns the pipeline's spot checker, nil when checks are off.
func (b *builder) checker() (*verify.Checker, error) {
	if b.opts.CheckRate < 0 {
		return nil, nil
	}
	return verify.NewChecker(verify.CheckerConfig{
		Rate: b.opts.CheckRate, Rand: rand.New(rand.NewPCG(b.rnd.Uint64(), b.rnd.Uint64())), Dim: b.lm.Model.Dim,
		Local: []route.Range{b.held()}, OpenLocal: b.exec.OpenLocal,
		Find: b.peers.find, Open: b.openCheck,
		Bans: b.bans, Reporter: b.opts.Reporter, Void: b.opts.Void,
		OnEvent: func(e verify.CheckEvent) { b.emit(PipelineEvent{Check: &e}) },
		Logger:  b.opts.Logger,
	})
}

// failoverConfig configures the chain's failovers.
func (b *builder) failoverConfig(chk *verify.Checker) route.FailoverConfig {
	cfg := route.FailoverConfig{
		NumLayers: b.lm.Model.NumLayers, Dim: b.lm.Model.Dim, MaxContext: b.maxCtx, Weights: b.opts.Weights,
		Open: b.openRemote, Find: b.peers.find, Banned: b.bans.IsBanned, Book: b.opts.Book, Deadline: b.opts.Deadline,
		Patience: max(b.opts.Patience, 0),
		OnEvent:  func(e route.Event) { b.emit(PipelineEvent{Failover: &e}) },
		Logger:   b.opts.Logger,
	}
	if chk != nil {
		cfg.Audit = chk
	}
	if b.opts.FallbackLocal {
		cfg.Local, cfg.OpenLocal = []route.Range{b.held()}, b.exec.OpenLocal
	}
	if !b.opts.NoSpread {
		cfg.Rand, cfg.Slack = b.rnd, route.DefaultSlack
	}
	return cfg
}

func (b *builder) emit(e PipelineEvent) {
	if b.opts.OnEvent != nil {
		b.opts.OnEvent(e)
	}
}
