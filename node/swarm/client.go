package swarm

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/node/verify"
)

// client is a simulated consumer: its own host, ban list, latency book and
// spot checker, running generations over the swarm's providers.
type client struct {
	sw      *Swarm
	h       *p2p.Host
	bans    *verify.BanList
	book    *route.LatencyBook
	checker *verify.Checker
	fraud   *verify.Fraud
	exec    verify.ModelExecutor

	mu      sync.Mutex // guards the fields below
	rnd     *rand.Rand
	offered map[peer.ID]int // results of each provider offered to the checker
}

func newClient(ctx context.Context, sw *Swarm, seed uint64) (*client, error) {
	key, _, err := crypto.GenerateEd25519Key(crand.Reader)
	if err != nil {
		return nil, err
	}
	h, err := p2p.New(ctx, hostConfig(), key, sw.log)
	if err != nil {
		return nil, err
	}
	bans, _ := verify.OpenBanList("")
	c := &client{sw: sw, h: h, bans: bans, book: route.NewLatencyBook(), rnd: rand.New(rand.NewPCG(seed, seed+1)),
		offered: map[peer.ID]int{}, exec: verify.ModelExecutor{Hash: sw.hash, Model: sw.m, Pool: sw.pool}}
	if sw.cfg.Gossip {
		ps, err := pubsub.NewGossipSub(ctx, h.Raw(), pubsub.WithMessageSignaturePolicy(pubsub.StrictSign))
		if err != nil {
			h.Close()
			return nil, err
		}
		c.fraud, err = verify.NewFraud(h.Raw(), ps, verify.FraudConfig{Bans: bans, Exec: c.exec, OnEvent: sw.reportEvent, Logger: sw.log})
		if err != nil {
			h.Close()
			return nil, err
		}
	}
	ccfg := verify.CheckerConfig{Rate: sw.cfg.CheckRate, Rand: rand.New(rand.NewPCG(seed^0xc0ffee, seed)), Dim: sw.m.Dim,
		Bans: bans, OnEvent: func(e verify.CheckEvent) { sw.checkEvent(c, e) }, Logger: sw.log, Find: c.find, Open: c.openCheck}
	if !sw.cfg.RemoteChecks {
		ccfg.Local, ccfg.OpenLocal = []route.Range{{From: 0, To: sw.m.NumLayers}}, c.exec.OpenLocal
	}
	if c.fraud != nil {
		ccfg.Reporter = c.fraud
	}
	if c.checker, err = verify.NewChecker(ccfg); err != nil {
		h.Close()
		return nil, err
	}
	return c, nil
}

// find lists the live providers the registry knows, less those this client
// banned, with the round trips it measured.
func (c *client) find(context.Context) ([]route.Candidate, error) {
	var out []route.Candidate
	for _, a := range c.sw.reg.Providers(discovery.ModelHash(c.sw.hash)) {
		if c.bans.IsBanned(a.PeerID.String()) {
			continue
		}
		out = append(out, route.Candidate{Peer: a.PeerID.String(), Range: route.Range{From: a.From, To: a.To},
			TokPerSec: a.ThroughputTokS, Load: a.Load, Backend: a.Backend, Latency: time.Millisecond})
	}
	c.book.Apply(out)
	return out, nil
}

// dial reaches a provider at the addresses the registry holds now.
func (c *client) dial(ctx context.Context, who string) (*shard.Client, error) {
	id, err := peer.Decode(who)
	if err != nil {
		return nil, err
	}
	a, ok := c.sw.reg.Get(id, discovery.ModelHash(c.sw.hash))
	if !ok || a.Withdrawn {
		return nil, fmt.Errorf("provider %s is gone", id.ShortString())
	}
	return shard.Dial(ctx, c.h.Raw(), peer.AddrInfo{ID: id, Addrs: a.Addrs})
}

// open opens a session and challenges the provider's weights.
func (c *client) open(ctx context.Context, cand route.Candidate, r route.Range, maxCtx int) (route.Session, error) {
	sc, err := c.dial(ctx, cand.Peer)
	if err != nil {
		return nil, err
	}
	rs, err := sc.OpenSession(ctx, shard.SessionConfig{Model: c.sw.hash, From: r.From, To: r.To, MaxContext: maxCtx, DType: c.sw.cfg.Wire})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	rnd := rand.New(rand.NewPCG(c.rnd.Uint64(), c.rnd.Uint64()))
	c.mu.Unlock()
	if err := verify.ChallengeWeights(ctx, rs, c.sw.m, r, 2, rnd); err != nil && !errors.Is(err, verify.ErrCannotChallenge) {
		rs.Abort()
		if errors.Is(err, shard.ErrWrongWeights) {
			c.bans.Ban(cand.Peer, err.Error(), [32]byte{})
		}
		return nil, err
	}
	return rs, nil
}

// openCheck opens an f32 session for a check on a second provider.
func (c *client) openCheck(ctx context.Context, cand route.Candidate, r route.Range, maxCtx int) (route.Session, error) {
	sc, err := c.dial(ctx, cand.Peer)
	if err != nil {
		return nil, err
	}
	return sc.OpenSession(ctx, shard.SessionConfig{Model: c.sw.hash, From: r.From, To: r.To, MaxContext: maxCtx, DType: shard.F32})
}

// generation is the outcome of one generation.
type generation struct {
	ids     []int32
	err     error
	cheated bool // some result passed through a cheater
}

// audit counts the results offered per provider (to know who was exposed
// to a cheater) before handing them to the client's checker.
type audit struct {
	c       *client
	cheated bool
}

func (a *audit) Audit(ctx context.Context, x route.Audit) error {
	id, err := peer.Decode(x.Peer)
	if err == nil {
		a.c.mu.Lock()
		a.c.offered[id]++
		a.c.mu.Unlock()
		a.cheated = a.cheated || a.c.sw.isCheater(id)
	}
	return a.c.checker.Audit(ctx, x)
}

// generate plans a chain over the providers, opens it and runs a greedy
// generation through it.
func (c *client) generate(ctx context.Context, prompt []int32) generation {
	maxCtx := len(prompt) + c.sw.cfg.Steps
	au := &audit{c: c}
	chain, err := c.chain(ctx, maxCtx, au)
	if err != nil {
		return generation{err: err}
	}
	defer chain.Close()
	ids, _, err := model.Generate(ctx, model.Chain{chain}, prompt, greedy{}, model.GenerateOptions{MaxTokens: c.sw.cfg.Steps})
	return generation{ids: ids, err: err, cheated: au.cheated}
}

// chain opens a failover chain, trying again for a while when the swarm
// cannot cover the model at the moment (providers restarting).
func (c *client) chain(ctx context.Context, maxCtx int, au *audit) (*route.FailoverChain, error) {
	patience := time.Now().Add(cmp.Or(c.sw.cfg.Patience, 5*time.Second))
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		chain, err := c.openChain(ctx, maxCtx, au)
		if err == nil || time.Now().Add(wait).After(patience) {
			return chain, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// openChain plans and opens a failover chain: the planner's choice spread
// over near-equal replicas, each hop falling back to its alternatives.
func (c *client) openChain(ctx context.Context, maxCtx int, au *audit) (*route.FailoverChain, error) {
	cands, _ := c.find(ctx)
	req := route.Request{NumLayers: c.sw.m.NumLayers, Candidates: cands, Weights: route.DefaultWeights()}
	plan, err := route.PlanChain(req)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	plan = route.Spread(plan, req, c.rnd, route.DefaultSlack)
	seed1, seed2 := c.rnd.Uint64(), c.rnd.Uint64()
	c.mu.Unlock()
	var segs []route.Segment
	fail := func(err error) (*route.FailoverChain, error) {
		for _, s := range segs {
			s.Session.Close()
		}
		return nil, err
	}
	for _, hop := range plan.Hops {
		order := append([]int{hop.Provider}, hop.Alternatives...)
		var errs []error
		for i, ci := range order {
			octx, cancel := context.WithTimeout(ctx, 10*time.Second)
			s, err := c.open(octx, cands[ci], hop.Range, maxCtx)
			cancel()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			seg := route.Segment{Range: hop.Range, Peer: cands[ci].Peer, Session: s}
			for _, a := range slices.Concat(order[i+1:], order[:i]) {
				seg.Alternatives = append(seg.Alternatives, cands[a])
			}
			segs = append(segs, seg)
			break
		}
		if len(segs) == 0 || segs[len(segs)-1].Range != hop.Range {
			return fail(fmt.Errorf("no provider opened %v: %w", hop.Range, errors.Join(errs...)))
		}
	}
	chain, err := route.NewFailoverChain(route.FailoverConfig{
		NumLayers: c.sw.m.NumLayers, Dim: c.sw.m.Dim, MaxContext: maxCtx, Weights: req.Weights,
		Open: c.open, Find: c.find, Banned: c.bans.IsBanned, Audit: au, Book: c.book,
		Deadline: c.sw.cfg.Deadline, Rand: rand.New(rand.NewPCG(seed1, seed2)), Slack: route.DefaultSlack,
		OnEvent: c.sw.failoverEvent, Logger: c.sw.log,
		Patience: cmp.Or(c.sw.cfg.Patience, 5*time.Second),
		// A provider killed by churn comes back with the same identity.
		Exclude: cmp.Or(c.sw.cfg.Downtime, time.Minute),
	}, segs)
	if err != nil {
		return fail(err)
	}
	return chain, nil
}

func (c *client) close() error {
	return c.h.Close()
}

// greedy picks the highest logit (the lowest id on ties).
type greedy struct{}

func (greedy) Sample(logits []float32, _ []int32) int32 {
	best := 0
	for i, l := range logits {
		if l > logits[best] {
			best = i
		}
	}
	return int32(best)
}
