package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
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

// PipelineOptions say where the layers this node does not run come from and
// on what terms.
type PipelineOptions struct {
	// Peers are shard servers' multiaddrs (ending in /p2p/<id>). When empty,
	// Providers is asked.
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
	Logger      *slog.Logger
}

// PipelineHop is one stage of a pipeline.
type PipelineHop struct {
	Range  LayerRange
	Local  bool
	Peer   peer.ID            // the provider, for a remote hop
	Remote *shard.RemoteStage // the remote session, for a remote hop
}

// Pipeline is a chain of local and remote stages covering a model's layers,
// in layer order.
type Pipeline struct {
	Chain model.Chain
	Hops  []PipelineHop
	Hash  [32]byte

	closers []func() error
}

// String describes the hops, e.g. "[0,2) local → [2,5) 12D3…".
func (p *Pipeline) String() string {
	parts := make([]string, len(p.Hops))
	for i, h := range p.Hops {
		who := "local"
		if !h.Local {
			who = h.Peer.String()
		}
		parts[i] = fmt.Sprintf("[%d,%d) %s", h.Range.From, h.Range.To, who)
	}
	return strings.Join(parts, " → ")
}

// Close ends every stage: remote sessions are paid for and closed.
func (p *Pipeline) Close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		errs = append(errs, p.closers[i]())
	}
	p.closers = nil
	return errors.Join(errs...)
}

// BuildPipeline plans and opens a pipeline for lm: the local ranges run here
// (they always do), and the rest on the peers of opts (or the providers
// discovery knows) that serve the same model file — the same content hash —
// chosen by the route planner. A provider that refuses its session is
// replaced by the plan's next alternative for that range.
func BuildPipeline(ctx context.Context, h *p2p.Host, lm *LocalModel, local []LayerRange, opts PipelineOptions) (*Pipeline, error) {
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
	hash, err := ModelHash(lm.Path, opts.HashCacheDir)
	if err != nil {
		return nil, err
	}
	if opts.WireDType == 0 {
		opts.WireDType = shard.F32
	}
	maxCtx := opts.MaxContext
	if maxCtx <= 0 || maxCtx > lm.Model.ContextLen {
		maxCtx = lm.Model.ContextLen
	}
	var cands []candidate
	var notes []string
	if len(opts.Peers) > 0 || opts.Providers != nil {
		if h == nil {
			return nil, errors.New("pipeline: remote layers need a libp2p host")
		}
		cands, notes = findCandidates(ctx, h, lm.Model, hash, opts, log)
	}
	req := route.Request{NumLayers: n, Local: local, KeepLocal: true, Weights: opts.Weights}
	if req.Weights == (route.Weights{}) {
		req.Weights = route.DefaultWeights()
	}
	for _, c := range cands {
		req.Candidates = append(req.Candidates, c.cand)
	}
	plan, err := route.PlanChain(req)
	if err != nil {
		if len(notes) > 0 {
			return nil, fmt.Errorf("%w (%s)", err, strings.Join(notes, "; "))
		}
		return nil, err
	}
	p := &Pipeline{Hash: hash}
	for _, hop := range plan.Hops {
		if err := p.open(ctx, lm, hop, cands, hash, maxCtx, opts); err != nil {
			p.Close()
			return nil, err
		}
	}
	log.Info("pipeline ready", "hops", p.String(), "wire", opts.WireDType)
	return p, nil
}

// open adds one hop: a local session, or a remote one on the planned
// provider or, if it refuses, its alternatives in turn.
func (p *Pipeline) open(ctx context.Context, lm *LocalModel, hop route.Hop, cands []candidate, hash [32]byte, maxCtx int, opts PipelineOptions) error {
	if hop.Local {
		st, err := lm.Model.NewStage(hop.From, hop.To, lm.Pool)
		if err != nil {
			return err
		}
		s, err := st.NewSession(maxCtx)
		if err != nil {
			return err
		}
		p.Chain = append(p.Chain, s)
		p.Hops = append(p.Hops, PipelineHop{Range: hop.Range, Local: true})
		p.closers = append(p.closers, func() error { s.Close(); return nil })
		return nil
	}
	var errs []error
	for _, ci := range append([]int{hop.Provider}, hop.Alternatives...) {
		c := cands[ci].client
		r, err := c.OpenSession(ctx, shard.SessionConfig{Model: hash, From: hop.From, To: hop.To, MaxContext: maxCtx,
			DType: opts.WireDType, MaxPrice: opts.MaxPrice, Signer: opts.Signer})
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		p.Chain = append(p.Chain, r)
		p.Hops = append(p.Hops, PipelineHop{Range: hop.Range, Peer: c.Peer(), Remote: r})
		p.closers = append(p.closers, r.Close)
		return nil
	}
	return fmt.Errorf("no provider opened %v: %w", hop.Range, errors.Join(errs...))
}

// candidate is a provider that serves some of the model.
type candidate struct {
	client *shard.Client
	cand   route.Candidate
}

// findCandidates dials the peers (or discovered providers) and keeps the
// ranges they serve of the model, with notes on the ones it could not use.
func findCandidates(ctx context.Context, h *p2p.Host, m *model.Model, hash [32]byte, opts PipelineOptions, log *slog.Logger) ([]candidate, []string) {
	var targets []peer.AddrInfo
	var notes []string
	for _, a := range opts.Peers {
		ai, err := peer.AddrInfoFromString(strings.TrimSpace(a))
		if err != nil {
			notes = append(notes, fmt.Sprintf("peer %q: %v", a, err))
			continue
		}
		targets = append(targets, *ai)
	}
	if len(opts.Peers) == 0 {
		for _, a := range opts.Providers.Providers(discovery.ModelHash(hash)) {
			if a.PeerID != h.ID() {
				targets = append(targets, peer.AddrInfo{ID: a.PeerID, Addrs: a.Addrs})
			}
		}
	}
	timeout := opts.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	clients := make([]*shard.Client, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, ai := range targets {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			clients[i], errs[i] = shard.Dial(dctx, h.Raw(), ai)
		})
	}
	wg.Wait()
	var out []candidate
	for i, c := range clients {
		if errs[i] != nil {
			log.Warn("peer unreachable", "peer", targets[i].ID, "err", errs[i])
			notes = append(notes, fmt.Sprintf("%s unreachable: %v", targets[i].ID, errs[i]))
			continue
		}
		cand, note := usable(c, m, hash, opts)
		if note != "" {
			log.Warn("peer not used", "peer", c.Peer(), "why", note)
			notes = append(notes, fmt.Sprintf("%s %s", c.Peer(), note))
			continue
		}
		out = append(out, candidate{client: c, cand: cand})
	}
	return out, notes
}

// usable turns a server's Info into a route candidate for the model, or says
// why it cannot be used.
func usable(c *shard.Client, m *model.Model, hash [32]byte, opts PipelineOptions) (route.Candidate, string) {
	info := c.Info()
	for _, mi := range info.Models {
		if mi.Hash != hash {
			continue
		}
		switch {
		case mi.NumLayers != m.NumLayers || mi.Dim != m.Dim || mi.Vocab != m.Vocab:
			return route.Candidate{}, fmt.Sprintf("describes the model as %d layers × %d, vocab %d", mi.NumLayers, mi.Dim, mi.Vocab)
		case !info.Accepting:
			return route.Candidate{}, "is not accepting sessions"
		case info.Price.PerKiloUnit > 0 && opts.Signer == nil:
			return route.Candidate{}, fmt.Sprintf("charges %d per 1000 units and no wallet key signs receipts", info.Price.PerKiloUnit)
		case info.Price.PerKiloUnit > 0 && (info.Price.Mint != opts.MaxPrice.Mint || info.Price.PerKiloUnit > opts.MaxPrice.PerKiloUnit):
			return route.Candidate{}, fmt.Sprintf("charges %d per 1000 units, above the %d accepted", info.Price.PerKiloUnit, opts.MaxPrice.PerKiloUnit)
		}
		load := 0.0
		if info.MaxSessions > 0 {
			load = min(1, float64(info.Sessions)/float64(info.MaxSessions))
		}
		return route.Candidate{Peer: c.Peer().String(), Range: route.Range{From: mi.From, To: mi.To}, Latency: c.RTT(),
			TokPerSec: float64(mi.TokPerSec), Price: info.Price.PerKiloUnit, Load: load}, ""
	}
	return route.Candidate{}, fmt.Sprintf("does not serve model %x", hash[:8])
}

// ModelHash returns the sha256 of the file at path: the model's identity on
// the network. The result is cached in cacheDir (default: the user cache
// directory's hearth/model-hashes) in a small file named after the path and
// keyed by the file's size and modification time, so a multi-gigabyte model
// is hashed once, not at every start.
func ModelHash(path, cacheDir string) ([32]byte, error) {
	var sum [32]byte
	abs, err := filepath.Abs(path)
	if err != nil {
		return sum, fmt.Errorf("model hash: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return sum, fmt.Errorf("model hash: %w", err)
	}
	if cacheDir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cacheDir = filepath.Join(d, "hearth", "model-hashes")
		}
	}
	key := fmt.Sprintf("v1 %d %d", st.Size(), st.ModTime().UnixNano())
	var side string
	if cacheDir != "" {
		name := sha256.Sum256([]byte(abs))
		side = filepath.Join(cacheDir, hex.EncodeToString(name[:16])+".sha256")
		if b, err := os.ReadFile(side); err == nil {
			if k, h, ok := strings.Cut(strings.TrimSpace(string(b)), " sha256="); ok && k == key {
				if d, err := hex.DecodeString(h); err == nil && len(d) == len(sum) {
					copy(sum[:], d)
					return sum, nil
				}
			}
		}
	}
	f, err := os.Open(abs)
	if err != nil {
		return sum, fmt.Errorf("model hash: %w", err)
	}
	defer f.Close()
	hh := sha256.New()
	if _, err := io.Copy(hh, f); err != nil {
		return sum, fmt.Errorf("model hash: %w", err)
	}
	copy(sum[:], hh.Sum(nil))
	if side != "" {
		writeSidecar(side, key+" sha256="+hex.EncodeToString(sum[:])+"\n")
	}
	return sum, nil
}

// writeSidecar writes a cache file atomically; failing to cache only costs
// a re-hash next time, so errors are dropped.
func writeSidecar(path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hash-*")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(content)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}
