package runtime

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/node/verify"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// LayerRange is the layers [From,To) of a model.
type LayerRange = route.Range

// ParseLayerRange parses "A:B", the layers [A,B).
func ParseLayerRange(s string) (LayerRange, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), ":")
	from, err1 := strconv.Atoi(a)
	to, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || from < 0 || from >= to {
		return LayerRange{}, fmt.Errorf("layer range %q: want A:B with 0 ≤ A < B", s)
	}
	return LayerRange{From: from, To: to}, nil
}

// ProviderSource lists the providers discovery knows for a model;
// *discovery.Registry satisfies it.
type ProviderSource interface {
	Providers(model discovery.ModelHash) []discovery.Announcement
}

// PipelineOptions say where the layers this node does not run come from, on
// what terms, and how far their providers are trusted.
type PipelineOptions struct {
	// Peers are shard servers' multiaddrs (ending in /p2p/<id>). When empty,
	// Providers is asked (at the start and again at each failover).
	Peers     []string
	Providers ProviderSource
	// MaxContext is the positions every stage holds (0: the model's context).
	MaxContext int
	// WireDType is how hidden states travel: shard.F32 (exact, the default)
	// or shard.F16 (half the bytes; see the shard package for its tolerance).
	WireDType shard.DType
	// Signer pays paid providers with receipts (the wallet key); MaxPrice
	// is the most accepted per 1,000 token-layers. Without a Signer only
	// free providers are used.
	Signer   receipt.Signer
	MaxPrice receipt.Price
	// Weights tune the route planner (zero: route.DefaultWeights).
	Weights route.Weights
	// HashCacheDir is where model hashes are cached (see ModelHash).
	HashCacheDir string
	// DialTimeout bounds reaching each peer (0: 10 s).
	DialTimeout time.Duration

	// Deadline detects stalled providers (zero: route.DefaultDeadline).
	Deadline route.Deadline
	// Book, when set, is shared by pipelines: the round trips measured to
	// each provider weigh in every later plan.
	Book *route.LatencyBook
	// NoSpread always takes the planner's best replica instead of drawing
	// among the near-best ones (which spreads clients over replicas).
	NoSpread bool
	// FallbackLocal lets this node run layers its model file holds when no
	// provider is left for them.
	FallbackLocal bool
	// Patience is how long a failover waits for a provider to come back
	// when none can take over (0: 10 s; negative: it fails at once).
	Patience time.Duration

	// CheckRate is the fraction of remote results re-checked (0:
	// verify.DefaultRate, 2%; negative: none). A check runs here when the
	// model file holds the layers, else on a second provider.
	CheckRate float64
	// Challenge is the number of weight slices asked of each provider at
	// session open, when the model file holds the layers (0: 3; negative:
	// none). A provider that fails is banned and not used.
	Challenge int
	// Bans records banned providers and distrusted reporters (nil: a list
	// in memory for this pipeline).
	Bans *verify.BanList
	// Reporter publishes fraud reports (a *verify.Fraud); nil: none.
	Reporter verify.Reporter
	// Void is told the session of a provider caught cheating, so that its
	// unpaid work can be written off in the wallet's ledger.
	Void func(session [16]byte, provider string) error
	// Rand draws spreading and checks (nil: seeded from crypto/rand).
	Rand *rand.Rand

	// OnEvent receives failovers, checks and refused providers; it must
	// not block or call back into the pipeline.
	OnEvent func(PipelineEvent)
	Logger  *slog.Logger
}

// PipelineEvent is something that happened to a pipeline's providers:
// exactly one field is set.
type PipelineEvent struct {
	Failover *route.Event       // a provider was replaced
	Check    *verify.CheckEvent // a result was re-checked
	Refused  *RefusedProvider   // a provider failed its weight challenge
}

// RefusedProvider is a provider that could not prove it holds the weights
// it serves.
type RefusedProvider struct {
	Peer  peer.ID
	Range LayerRange
	Err   error
}

// PipelineHop is one stage of a pipeline as it was opened.
type PipelineHop struct {
	Range  LayerRange
	Local  bool
	Peer   peer.ID            // the provider, for a remote hop
	Remote *shard.RemoteStage // the remote session, for a remote hop
}

// Pipeline is a chain of local and remote stages covering a model's layers,
// in layer order, that survives providers failing mid-generation (see
// route.FailoverChain) and re-checks a fraction of their results.
type Pipeline struct {
	// Chain runs the whole model: tokens in, logits out.
	Chain model.Chain
	// Hops are the stages as opened; Route describes them now.
	Hops []PipelineHop
	Hash [32]byte

	chain   *route.FailoverChain
	checker *verify.Checker
	peers   *pipelinePeers
}

// String describes the hops now running, e.g. "[0,2) local → [2,5) 12D3…".
func (p *Pipeline) String() string { return p.chain.Describe() }

// Route returns the stages now running.
func (p *Pipeline) Route() []route.Segment { return p.chain.Segments() }

// PipelineStats count a pipeline's failovers and checks.
type PipelineStats struct {
	Failover route.FailoverStats
	Checks   verify.CheckStats
}

// Stats returns the counters.
func (p *Pipeline) Stats() PipelineStats {
	s := PipelineStats{Failover: p.chain.Stats()}
	if p.checker != nil {
		s.Checks = p.checker.Stats()
	}
	return s
}

// Close ends every stage: remote sessions are paid for and closed.
func (p *Pipeline) Close() error {
	err := p.chain.Close()
	p.peers.close()
	return err
}

// BuildPipeline plans and opens a pipeline for lm: the local ranges run here
// (they always do), and the rest on the peers of opts (or the providers
// discovery knows) that serve the same model file — the same content hash —
// chosen by the route planner among the near-best replicas. Each provider
// must answer a weight challenge; one that refuses its session or fails the
// challenge is replaced by the plan's next alternative for that range.
// Mid-generation, a provider that dies, stalls or is caught returning a
// wrong result is replaced and its layers' history replayed.
func BuildPipeline(ctx context.Context, h *p2p.Host, lm *LocalModel, local []LayerRange, opts PipelineOptions) (*Pipeline, error) {
	b, err := newBuilder(h, lm, local, opts)
	if err != nil {
		return nil, err
	}
	var notes []string
	if len(opts.Peers) > 0 || opts.Providers != nil {
		if h == nil {
			return nil, errors.New("pipeline: remote layers need a libp2p host")
		}
		notes = b.peers.discover(ctx)
	}
	req := b.request(b.peers.candidates())
	plan, err := route.PlanChain(req)
	if err != nil {
		if len(notes) > 0 {
			return nil, fmt.Errorf("%w (%s)", err, strings.Join(notes, "; "))
		}
		return nil, err
	}
	if !opts.NoSpread {
		plan = route.Spread(plan, req, b.rnd, route.DefaultSlack)
	}
	p := &Pipeline{Hash: b.hash, peers: b.peers}
	var segs []route.Segment
	closeAll := func() {
		for _, s := range segs {
			s.Session.Close()
		}
	}
	for _, hop := range plan.Hops {
		seg, ph, err := b.openHop(ctx, hop, req.Candidates)
		if err != nil {
			closeAll()
			return nil, err
		}
		segs = append(segs, seg)
		p.Hops = append(p.Hops, ph)
	}
	if p.checker, err = b.checker(); err != nil {
		closeAll()
		return nil, err
	}
	p.chain, err = route.NewFailoverChain(b.failoverConfig(p.checker), segs)
	if err != nil {
		closeAll()
		return nil, err
	}
	p.Chain = model.Chain{p.chain}
	b.log.Info("pipeline ready", "hops", p.String(), "wire", b.opts.WireDType)
	return p, nil
}

// builder holds what opening a pipeline and replacing its providers need.
type builder struct {
	lm     *LocalModel
	hash   [32]byte
	local  []LayerRange
	opts   PipelineOptions
	maxCtx int
	bans   *verify.BanList
	rnd    *rand.Rand
	log    *slog.Logger
	peers  *pipelinePeers
	exec   verify.ModelExecutor
}

func newBuilder(h *p2p.Host, lm *LocalModel, local []LayerRange, opts PipelineOptions) (*builder, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("sub", "pipeline")
	n := lm.Model.NumLayers
	for _, r := range local {
		if r.From < 0 || r.To > n || r.From >= r.To {
			return nil, fmt.Errorf("local layers [%d,%d) outside the model's [0,%d)", r.From, r.To, n)
		}
	}
	hash, err := ModelIdentity(lm, opts.HashCacheDir)
	if err != nil {
		return nil, err
	}
	if opts.WireDType == 0 {
		opts.WireDType = shard.F32
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.Challenge == 0 {
		opts.Challenge = 3
	}
	if opts.Patience == 0 {
		opts.Patience = 10 * time.Second
	}
	if opts.Deadline.Floor == 0 && opts.Deadline.Initial == 0 && opts.Deadline.K == 0 {
		opts.Deadline = route.DefaultDeadline()
	}
	if opts.Weights == (route.Weights{}) {
		opts.Weights = route.DefaultWeights()
	}
	maxCtx := opts.MaxContext
	if maxCtx <= 0 || maxCtx > lm.Model.ContextLen {
		maxCtx = lm.Model.ContextLen
	}
	bans := opts.Bans
	if bans == nil {
		bans, _ = verify.OpenBanList("")
	}
	rnd := opts.Rand
	if rnd == nil {
		var seed [16]byte
		crand.Read(seed[:])
		rnd = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	b := &builder{lm: lm, hash: hash, local: local, opts: opts, maxCtx: maxCtx, bans: bans, rnd: rnd, log: log,
		exec: verify.ModelExecutor{Hash: hash, Model: lm.Model, Pool: lm.Pool}}
	b.peers = newPipelinePeers(h, lm.Model, hash, opts, bans, log)
	return b, nil
}

// request is the planning request over cands.
func (b *builder) request(cands []route.Candidate) route.Request {
	if b.opts.Book != nil {
		b.opts.Book.Apply(cands)
	}
	return route.Request{NumLayers: b.lm.Model.NumLayers, Local: b.local, KeepLocal: true, Weights: b.opts.Weights, Candidates: cands}
}

// held is the range of layers the local model file holds.
func (b *builder) held() route.Range {
	return route.Range{From: b.lm.Model.HeldFrom, To: b.lm.Model.HeldTo}
}
