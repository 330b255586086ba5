package swarm

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// Kind is how a simulated provider behaves.
type Kind int

// Provider kinds.
const (
	Honest  Kind = iota
	Slow         // adds a delay to every forward
	Cheater      // adds 1e-3 to one value of every output
)

func (k Kind) String() string { return [...]string{"honest", "slow", "cheater"}[k] }

// hostConfig is a loopback-only host that takes many shard streams per
// peer (a client runs several generations through one provider).
func hostConfig() p2p.Config {
	cfg := p2p.Default()
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.NATPortMap, cfg.EnableAutoNAT, cfg.EnableHolePunching, cfg.EnableRelayClient = false, false, false, false
	cfg.Limits.Protocols[p2p.ShardProtocol] = p2p.StreamLimit{Inbound: 1024, Outbound: 1024, PerPeer: 256, Memory: 1 << 30}
	return cfg
}

// provider is one simulated shard server: a key (its identity survives
// restarts), a layer range and a behaviour.
type provider struct {
	sw   *Swarm
	key  crypto.PrivKey
	id   peer.ID
	r    route.Range
	kind Kind
	pool *tensor.Pool
	// frozen makes every forward hang until the server stops, like a
	// machine that froze with its connections open.
	frozen atomic.Bool

	mu     sync.Mutex // guards the fields below
	h      *p2p.Host
	srv    *shard.Server
	cancel context.CancelFunc
	done   chan struct{}
	seq    uint64
}

func newProvider(sw *Swarm, r route.Range, kind Kind) (*provider, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &provider{sw: sw, key: key, id: id, r: r, kind: kind, pool: tensor.NewPool(1)}, nil
}

// start brings the provider up on a fresh host (a new port) and announces it.
func (p *provider) start(ctx context.Context) error {
	h, err := p2p.New(ctx, hostConfig(), p.key, p.sw.log)
	if err != nil {
		return err
	}
	be, err := shard.NewModelBackend(p.sw.m, p.pool, p.sw.hash, p.r.From, p.r.To)
	if err != nil {
		h.Close()
		return err
	}
	var b shard.Backend = be
	switch p.kind {
	case Slow:
		b = slowBackend{be, p.sw.cfg.SlowDelay}
	case Cheater:
		b = cheatBackend{be}
	}
	p.frozen.Store(false)
	b = freezable{ModelBackend: be, open: b.OpenSession, frozen: &p.frozen}
	cfg := shard.Default()
	cfg.MaxSessions, cfg.MaxKVBytes, cfg.IdleTimeout = 256, 8<<30, time.Minute
	srv, err := shard.NewServer(h.Raw(), cfg, nil, p.sw.log.With("provider", p.id.ShortString()), b)
	if err != nil {
		h.Close()
		return err
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(sctx); err != nil {
			p.sw.log.Warn("provider stopped", "peer", p.id, "err", err)
		}
	}()
	<-srv.Ready()
	p.mu.Lock()
	p.h, p.srv, p.cancel, p.done = h, srv, cancel, done
	p.mu.Unlock()
	return p.announce()
}

// alive reports whether the provider is up.
func (p *provider) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.h != nil
}

// announce puts the provider's current state in the swarm's registry: a
// withdrawal when it is down, else its addresses, load and throughput.
func (p *provider) announce() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	a := discovery.Announcement{PeerID: p.id, ModelHash: discovery.ModelHash(p.sw.hash), ModelName: p.sw.m.Name,
		NumLayers: p.sw.m.NumLayers, From: p.r.From, To: p.r.To, Backend: discovery.BackendCPU,
		Expires: time.Now().Add(time.Hour), Seq: p.seq, Withdrawn: p.h == nil}
	if p.h != nil {
		a.Addrs = p.h.Addrs()
		info := p.srv.Info()
		a.Load = min(1, float64(info.Sessions)/float64(max(info.MaxSessions, 1)))
		if len(info.Models) > 0 {
			a.ThroughputTokS = float64(info.Models[0].TokPerSec)
		}
	}
	return p.sw.reg.Put(a)
}

// kill takes the provider down abruptly, like a crash: the host closes
// under its open sessions, then the registry learns it is gone.
func (p *provider) kill() {
	p.mu.Lock()
	h, cancel, done := p.h, p.cancel, p.done
	p.h, p.srv = nil, nil
	p.mu.Unlock()
	if h == nil {
		return
	}
	if err := h.Close(); err != nil {
		p.sw.log.Debug("closing a killed provider's host", "err", err)
	}
	cancel()
	<-done
	if err := p.announce(); err != nil {
		p.sw.log.Warn("withdrawal not recorded", "peer", p.id, "err", err)
	}
}

// freeze makes the provider stop answering while it stays connected and
// announced as gone (the next start thaws it).
func (p *provider) freeze() {
	p.frozen.Store(true)
	p.mu.Lock()
	p.seq++
	seq := p.seq
	p.mu.Unlock()
	a := discovery.Announcement{PeerID: p.id, ModelHash: discovery.ModelHash(p.sw.hash), NumLayers: p.sw.m.NumLayers,
		From: p.r.From, To: p.r.To, Backend: discovery.BackendCPU, Expires: time.Now().Add(time.Hour), Seq: seq, Withdrawn: true}
	if err := p.sw.reg.Put(a); err != nil {
		p.sw.log.Warn("withdrawal not recorded", "peer", p.id, "err", err)
	}
}

// isFrozen reports whether the provider is frozen.
func (p *provider) isFrozen() bool { return p.frozen.Load() }

// freezable wraps a backend's sessions so that they hang while frozen.
type freezable struct {
	*shard.ModelBackend // Info and TensorBytes
	open                func(from, to, maxCtx int) (shard.StageSession, error)
	frozen              *atomic.Bool
}

type freezeSession struct {
	shard.StageSession
	frozen *atomic.Bool
}

func (b freezable) OpenSession(from, to, maxCtx int) (shard.StageSession, error) {
	s, err := b.open(from, to, maxCtx)
	return freezeSession{s, b.frozen}, err
}

func (s freezeSession) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	if s.frozen.Load() {
		<-ctx.Done() // until the server stops
		return nil, ctx.Err()
	}
	return s.StageSession.Forward(ctx, pos, tokens, hidden)
}

// slowBackend adds a delay to every forward of a real backend.
type slowBackend struct {
	*shard.ModelBackend
	delay time.Duration
}

type slowSession struct {
	shard.StageSession
	delay time.Duration
}

func (b slowBackend) OpenSession(from, to, maxCtx int) (shard.StageSession, error) {
	s, err := b.ModelBackend.OpenSession(from, to, maxCtx)
	return slowSession{s, b.delay}, err
}

func (s slowSession) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.StageSession.Forward(ctx, pos, tokens, hidden)
}

// cheatBackend holds the weights (it passes challenges) but adds 1e-3 to
// one value of every output it returns.
type cheatBackend struct{ *shard.ModelBackend }

type cheatSession struct{ shard.StageSession }

func (b cheatBackend) OpenSession(from, to, maxCtx int) (shard.StageSession, error) {
	s, err := b.ModelBackend.OpenSession(from, to, maxCtx)
	return cheatSession{s}, err
}

func (s cheatSession) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	out, err := s.StageSession.Forward(ctx, pos, tokens, hidden)
	if err == nil && len(out) > 0 {
		out[len(out)-1] += 1e-3
	}
	return out, err
}

// placeRanges assigns each of n providers capacity layers where the swarm
// has fewest replicas so far (route.ChooseRange).
func placeRanges(n, numLayers, capacity int) []route.Range {
	cov := make([]int, numLayers)
	out := make([]route.Range, n)
	for i := range out {
		f, t := route.ChooseRange(cov, numLayers, capacity)
		for l := f; l < t; l++ {
			cov[l]++
		}
		out[i] = route.Range{From: f, To: t}
	}
	return out
}

func (p *provider) String() string { return fmt.Sprintf("%s %v %s", p.id.ShortString(), p.r, p.kind) }
