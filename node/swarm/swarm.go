package swarm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/verify"
)

// Swarm is a running simulation: providers on their own loopback hosts,
// announced in a shared registry (standing in for discovery's gossip), and
// clients generating through them.
type Swarm struct {
	cfg  Config
	log  *slog.Logger
	m    *model.Model
	pool *tensor.Pool // the clients' references and local checks
	hash [32]byte
	reg  *discovery.Registry
	rnd  *rand.Rand // placement and churn; used by Run's goroutine and churn, not at once

	providers []*provider
	cheaters  map[peer.ID]bool
	clients   []*client
	bg        sync.WaitGroup // churn, restarts and announcements
	services  sync.WaitGroup // the clients' fraud-report services
	stopSvc   context.CancelFunc

	mu  sync.Mutex // guards res and caught
	res Results
	// caught[c][p] is the cheater results client c saw up to its own
	// conviction of provider p.
	caught map[*client]map[string]int
}

// Run builds the swarm, runs the generations and tears it down.
func Run(ctx context.Context, cfg Config) (Results, error) {
	if err := cfg.Validate(); err != nil {
		return Results{}, err
	}
	sw, err := start(ctx, cfg)
	if err != nil {
		return Results{}, err
	}
	defer sw.shutdown()
	prompts, refs, err := sw.workload()
	if err != nil {
		return Results{}, err
	}
	stop := make(chan struct{})
	sw.bg.Go(func() { sw.announceLoop(stop) })
	if cfg.Churn > 0 {
		sw.bg.Go(func() { sw.churn(ctx, stop) })
	}
	start := time.Now()
	sw.generate(ctx, prompts, refs)
	elapsed := time.Since(start)
	close(stop)
	sw.bg.Wait()
	return sw.results(elapsed), ctx.Err()
}

// start opens the model, starts the providers and the clients.
func start(ctx context.Context, cfg Config) (*Swarm, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hash, err := fileHash(cfg.ModelPath)
	if err != nil {
		return nil, err
	}
	m, err := model.Open(cfg.ModelPath)
	if err != nil {
		return nil, err
	}
	sw := &Swarm{cfg: cfg, log: log.With("sub", "swarm"), m: m, pool: tensor.NewPool(1), hash: hash,
		reg: discovery.NewRegistry(nil), rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed)),
		cheaters: map[peer.ID]bool{}, caught: map[*client]map[string]int{}}
	sw.res.CheckRate = cfg.CheckRate
	if sw.res.CheckRate == 0 {
		sw.res.CheckRate = verify.DefaultRate
	}
	capacity := cfg.Capacity
	if capacity <= 0 {
		capacity = max(1, m.NumLayers/2)
	}
	kinds := make([]Kind, cfg.Providers)
	for i, at := range sw.rnd.Perm(cfg.Providers)[:cfg.Slow+cfg.Cheaters] {
		kinds[at] = Slow
		if i >= cfg.Slow {
			kinds[at] = Cheater
		}
	}
	for i, r := range placeRanges(cfg.Providers, m.NumLayers, capacity) {
		p, err := newProvider(sw, r, kinds[i])
		if err == nil {
			sw.providers = append(sw.providers, p)
			err = p.start(ctx)
		}
		if err != nil {
			sw.shutdown()
			return nil, fmt.Errorf("start provider %d: %w", i, err)
		}
		if p.kind == Cheater {
			sw.cheaters[p.id] = true
		}
		sw.log.Info("provider up", "provider", p.String())
	}
	for i := range cfg.Clients {
		c, err := newClient(ctx, sw, cfg.Seed*1000+uint64(i))
		if err != nil {
			sw.shutdown()
			return nil, fmt.Errorf("start client %d: %w", i, err)
		}
		sw.clients = append(sw.clients, c)
	}
	if cfg.Gossip {
		if err := sw.startGossip(ctx); err != nil {
			sw.shutdown()
			return nil, err
		}
	}
	return sw, nil
}

func fileHash(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// startGossip runs the clients' fraud-report services, connects the
// clients to each other and waits for the topic to form.
func (sw *Swarm) startGossip(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	sw.stopSvc = cancel
	for _, c := range sw.clients {
		sw.services.Go(func() {
			if err := c.fraud.Serve(sctx); err != nil {
				sw.log.Warn("fraud reports stopped", "err", err)
			}
		})
		<-c.fraud.Ready()
	}
	for i, a := range sw.clients {
		for _, b := range sw.clients[i+1:] {
			if _, err := a.h.Connect(ctx, b.h.Addrs()[0].String()); err != nil {
				return fmt.Errorf("connect clients: %w", err)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range sw.clients {
		for len(c.fraud.Topic().ListPeers()) < len(sw.clients)-1 {
			if time.Now().After(deadline) {
				return fmt.Errorf("fraud topic did not form")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A publication needs the router's stream to each peer, which follows
	// the subscription by a heartbeat or so.
	time.Sleep(1500 * time.Millisecond)
	return nil
}

// workload draws the prompts and computes their single-machine ids.
func (sw *Swarm) workload() ([][]int32, [][]int32, error) {
	prompts := make([][]int32, sw.cfg.Generations)
	refs := make([][]int32, len(prompts))
	for i := range prompts {
		p := []int32{1}
		for len(p) < sw.cfg.Prompt {
			p = append(p, int32(3+sw.rnd.IntN(sw.m.Vocab-3)))
		}
		prompts[i] = p
		s, err := verify.ModelExecutor{Hash: sw.hash, Model: sw.m, Pool: sw.pool}.OpenLocal(route.Range{From: 0, To: sw.m.NumLayers}, len(p)+sw.cfg.Steps)
		if err != nil {
			return nil, nil, err
		}
		refs[i], _, err = model.Generate(context.Background(), model.Chain{s}, p, greedy{}, model.GenerateOptions{MaxTokens: sw.cfg.Steps})
		s.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	return prompts, refs, nil
}

// generate runs the generations, Concurrency at a time on each client.
func (sw *Swarm) generate(ctx context.Context, prompts, refs [][]int32) {
	next := make(chan int)
	var wg sync.WaitGroup
	for _, c := range sw.clients {
		for range sw.cfg.Concurrency {
			wg.Go(func() {
				for i := range next {
					g := c.generate(ctx, prompts[i])
					sw.record(g, refs[i])
				}
			})
		}
	}
	for i := range prompts {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

func (sw *Swarm) record(g generation, ref []int32) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	r := &sw.res
	r.Generations++
	r.Tokens += len(g.ids)
	if g.err != nil {
		r.Errors = append(r.Errors, g.err.Error())
	} else {
		r.Completed++
	}
	right := g.err == nil && slices.Equal(g.ids, ref)
	if right {
		r.Correct++
	}
	if g.cheated {
		r.CheatedGen++
		if g.err == nil && !right {
			r.WrongGen++
		}
	}
}

// failoverEvent records a chain's failover.
func (sw *Swarm) failoverEvent(e route.Event) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if e.Err != nil {
		sw.res.FailedRecoveries++
		return
	}
	sw.res.Failovers++
	sw.res.Recovery = append(sw.res.Recovery, e.Recovery)
	if e.Stalled {
		sw.res.Stalls++
	}
	if e.Faulty {
		sw.res.Faulty++
	}
}

// checkEvent records a client's check.
func (sw *Swarm) checkEvent(c *client, e verify.CheckEvent) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if e.Kind == verify.CheckCaught || e.Kind == verify.CheckCaughtPeer {
		sw.res.Caught++
		if sw.caught[c] == nil {
			sw.caught[c] = map[string]int{}
		}
		if _, again := sw.caught[c][e.Peer]; !again {
			sw.caught[c][e.Peer] = e.Offered
		}
	}
}

// reportEvent records a fraud-report outcome.
func (sw *Swarm) reportEvent(e verify.ReportEvent) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	switch e.Kind {
	case verify.ReportPublished:
		sw.res.Reports++
	case verify.ReportConfirmed:
		sw.res.ByReport++
	}
}

// results completes the figures from the clients' state.
func (sw *Swarm) results(elapsed time.Duration) Results {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	r := sw.res
	r.Elapsed = elapsed
	r.Recovery = slices.Clone(r.Recovery)
	slices.Sort(r.Recovery)
	r.Errors = slices.Clone(r.Errors)
	for _, c := range sw.clients {
		st := c.checker.Stats()
		r.Offered += st.Offered
		r.Checks += st.Checked
		for _, e := range c.bans.Entries() {
			id, err := peer.Decode(e.Peer)
			if e.Verdict == verify.Banned && (err != nil || !sw.cheaters[id]) {
				r.WrongBans++
			}
		}
		c.mu.Lock()
		for id := range sw.cheaters {
			if c.offered[id] == 0 {
				continue
			}
			r.Exposed++
			if c.bans.IsBanned(id.String()) {
				r.Stopped++
			}
			if n, ok := sw.caught[c][id.String()]; ok {
				r.Detected++
				r.Detection = append(r.Detection, n)
			}
		}
		c.mu.Unlock()
	}
	return r
}

// announceLoop keeps the registry's loads current.
func (sw *Swarm) announceLoop(stop <-chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for _, p := range sw.providers {
			if p.alive() && !p.isFrozen() {
				if err := p.announce(); err != nil {
					sw.log.Debug("announce", "err", err)
				}
			}
		}
	}
}

// churn kills an honest provider every Churn, one whose layers all keep
// another live replica, and restarts it after Downtime.
func (sw *Swarm) churn(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(sw.cfg.Churn)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p := sw.victim()
		if p == nil {
			continue
		}
		freeze := sw.cfg.Freeze && sw.rnd.IntN(2) == 0
		sw.log.Info("taking a provider down", "provider", p.String(), "freeze", freeze)
		if freeze {
			p.freeze()
		} else {
			p.kill()
		}
		sw.mu.Lock()
		sw.res.Kills++
		if freeze {
			sw.res.Freezes++
		}
		sw.mu.Unlock()
		if sw.cfg.Downtime <= 0 {
			continue
		}
		sw.bg.Go(func() {
			select {
			case <-stop:
				return
			case <-time.After(sw.cfg.Downtime):
			}
			p.kill() // a frozen one is still up
			if err := p.start(ctx); err != nil {
				sw.log.Warn("restart failed", "provider", p.String(), "err", err)
				return
			}
			sw.mu.Lock()
			sw.res.Restarts++
			sw.mu.Unlock()
		})
	}
}

// victim picks a live honest provider whose every layer has another live
// replica that is not a cheater (clients ban those).
func (sw *Swarm) victim() *provider {
	cov := make([]int, sw.m.NumLayers)
	var alive []*provider
	for _, p := range sw.providers {
		if !p.alive() || p.isFrozen() || p.kind == Cheater {
			continue
		}
		for l := p.r.From; l < p.r.To; l++ {
			cov[l]++
		}
		if p.kind == Honest {
			alive = append(alive, p)
		}
	}
	var ok []*provider
	for _, p := range alive {
		spare := true
		for l := p.r.From; l < p.r.To; l++ {
			spare = spare && cov[l] >= 2
		}
		if spare {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	return ok[sw.rnd.IntN(len(ok))]
}

func (sw *Swarm) isCheater(id peer.ID) bool { return sw.cheaters[id] }

// shutdown stops everything started.
func (sw *Swarm) shutdown() {
	if sw.stopSvc != nil {
		sw.stopSvc()
		sw.services.Wait()
	}
	for _, c := range sw.clients {
		if err := c.close(); err != nil {
			sw.log.Debug("closing a client", "err", err)
		}
	}
	for _, p := range sw.providers {
		p.kill()
		p.pool.Close()
	}
	sw.bg.Wait()
	sw.pool.Close()
	sw.m.Close()
}
