package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/sample"
	"github.com/hearth-p2p/hearth/node/discovery"
	"github.com/hearth-p2p/hearth/node/meter"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// pipelineModelPath locates a model in ../shared/models beside the repository.
func pipelineModelPath(t testing.TB, name string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "models", name)
		}
	}
	t.Fatal("no go.mod above the working directory")
	return ""
}

const (
	storiesSHA256    = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d"
	storiesGreedyIDs = "403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352"
)

func TestParseLayerRange(t *testing.T) {
	tests := []struct {
		in   string
		want LayerRange
		ok   bool
	}{
		{"0:2", LayerRange{From: 0, To: 2}, true},
		{" 3:22 ", LayerRange{From: 3, To: 22}, true},
		{"2:2", LayerRange{}, false},
		{"3:1", LayerRange{}, false},
		{"-1:2", LayerRange{}, false},
		{"1-2", LayerRange{}, false},
		{"a:b", LayerRange{}, false},
		{"", LayerRange{}, false},
	}
	for _, tc := range tests {
		got, err := ParseLayerRange(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLayerRange(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestModelHash(t *testing.T) {
	src, err := os.ReadFile(pipelineModelPath(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "model.gguf")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	h, err := ModelHash(path, cache)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%x", h) != storiesSHA256 {
		t.Fatalf("hash %x, want %s", h, storiesSHA256)
	}
	sides, _ := filepath.Glob(filepath.Join(cache, "*.sha256"))
	if len(sides) != 1 {
		t.Fatalf("%d cache files", len(sides))
	}
	// A cached value is used while size and mtime match: plant a different
	// one to see it come back.
	b, _ := os.ReadFile(sides[0])
	fake := strings.Replace(string(b), storiesSHA256[:8], "00000000", 1)
	if err := os.WriteFile(sides[0], []byte(fake), 0o644); err != nil {
		t.Fatal(err)
	}
	if h, _ := ModelHash(path, cache); fmt.Sprintf("%x", h)[:8] != "00000000" {
		t.Fatalf("cache not used: %x", h)
	}
	// Touching the file invalidates the entry.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if h, _ := ModelHash(path, cache); fmt.Sprintf("%x", h) != storiesSHA256 {
		t.Fatalf("stale cache entry used: %x", h)
	}
	// A corrupt cache file is ignored, and an unwritable cache dir only
	// costs the caching.
	if err := os.WriteFile(sides[0], []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h, _ := ModelHash(path, cache); fmt.Sprintf("%x", h) != storiesSHA256 {
		t.Fatalf("corrupt cache: %x", h)
	}
	if h, err := ModelHash(path, filepath.Join(path, "not-a-dir")); err != nil || fmt.Sprintf("%x", h) != storiesSHA256 {
		t.Fatalf("unwritable cache: %x %v", h, err)
	}
	if _, err := ModelHash(filepath.Join(dir, "missing.gguf"), cache); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// provider is a shard server on its own loopback host.
type provider struct {
	h    *p2p.Host
	srv  *shard.Server
	lm   *LocalModel
	stop func() // stops the server (open sessions are told it is shutting down)
}

func startProvider(t *testing.T, modelFile string, from, to int, mutate func(*shard.Config)) *provider {
	t.Helper()
	return startProviderWith(t, modelFile, from, to, mutate, nil)
}

// startProviderWith serves layers [from,to) of a model, its backend
// wrapped by wrap when not nil.
func startProviderWith(t *testing.T, modelFile string, from, to int, mutate func(*shard.Config), wrap func(*shard.ModelBackend) shard.Backend) *provider {
	t.Helper()
	lm, err := OpenModel(pipelineModelPath(t, modelFile), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.Close() })
	hash, err := ModelHash(lm.Path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	be, err := shard.NewModelBackend(lm.Model, lm.Pool, hash, from, to)
	if err != nil {
		t.Fatal(err)
	}
	cfg := shard.Default()
	if mutate != nil {
		mutate(&cfg)
	}
	h := p2ptest.NewHost(t, nil)
	var backend shard.Backend = be
	if wrap != nil {
		backend = wrap(be)
	}
	return serveProvider(t, h, lm, cfg, nil, slog.LevelWarn, backend)
}

// serveProvider runs a shard server for backend on h until the test ends.
func serveProvider(t *testing.T, h *p2p.Host, lm *LocalModel, cfg shard.Config, l meter.Ledger, level slog.Level, backend shard.Backend) *provider {
	t.Helper()
	srv, err := shard.NewServer(h.Raw(), cfg, l, p2ptest.Logger(t, level), backend)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	<-srv.Ready()
	return &provider{h: h, srv: srv, lm: lm, stop: stop}
}

func (p *provider) addr() string { return p.h.Addrs()[0].String() }

// greedyRun generates 40 tokens from BOS through hops (nil: in-process).
func greedyRun(t *testing.T, lm *LocalModel, p *Pipeline) string {
	t.Helper()
	params := sample.Default()
	params.Temperature = 0
	req := RunRequest{MaxTokens: 40, Sampling: params, Context: 64}
	if p != nil {
		req.Hops = p.Chain
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := lm.Run(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(fmt.Sprint(res.IDs), "[]")
}

func buildPipeline(t *testing.T, lm *LocalModel, local []LayerRange, opts PipelineOptions) (*Pipeline, error) {
	t.Helper()
	if opts.MaxContext == 0 {
		opts.MaxContext = 64
	}
	opts.HashCacheDir = t.TempDir()
	opts.Logger = p2ptest.Logger(t, slog.LevelWarn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := BuildPipeline(ctx, p2ptest.NewHost(t, nil), lm, local, opts)
	if err == nil {
		t.Cleanup(func() {
			if err := p.Close(); err != nil {
				t.Errorf("close pipeline: %v", err)
			}
		})
	}
	return p, err
}

func TestBuildPipelineMatchesLocal(t *testing.T) {
	a := startProvider(t, "stories260K.gguf", 1, 3, nil)
	b := startProvider(t, "stories260K.gguf", 3, 5, nil)
	lm, err := OpenModel(pipelineModelPath(t, "stories260K.gguf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	if got := greedyRun(t, lm, nil); got != storiesGreedyIDs {
		t.Fatalf("local run: %s", got)
	}
	tests := []struct {
		name  string
		local []LayerRange
		peers []string
		want  string
	}{
		{"local head, two peers", []LayerRange{{From: 0, To: 1}}, []string{a.addr(), b.addr()}, "[0,1) local → [1,3) A → [3,5) B"},
		{"local head and tail", []LayerRange{{From: 0, To: 1}, {From: 4, To: 5}}, []string{b.addr(), a.addr()}, "[0,1) local → [1,3) A → [3,4) B → [4,5) local"},
		{"local head through the first peer's range", []LayerRange{{From: 0, To: 2}}, []string{a.addr(), b.addr()}, "[0,2) local → [2,3) A → [3,5) B"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := buildPipeline(t, lm, tc.local, PipelineOptions{Peers: tc.peers})
			if err != nil {
				t.Fatal(err)
			}
			desc := strings.NewReplacer(a.h.ID().String(), "A", b.h.ID().String(), "B").Replace(p.String())
			if desc != tc.want {
				t.Fatalf("pipeline %s, want %s", desc, tc.want)
			}
			if got := greedyRun(t, lm, p); got != storiesGreedyIDs {
				t.Fatalf("pipeline ids %s\nwant %s", got, storiesGreedyIDs)
			}
		})
	}
}

func TestBuildPipelineFromDiscovery(t *testing.T) {
	a := startProvider(t, "stories260K.gguf", 0, 5, nil)
	b := startProvider(t, "stories260K.gguf", 2, 5, nil)
	lm, err := OpenModel(pipelineModelPath(t, "stories260K.gguf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	hash, err := ModelHash(lm.Path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := discovery.NewRegistry(nil)
	for i, p := range []*provider{a, b} {
		info := p.srv.Info().Models[0]
		err := reg.Put(discovery.Announcement{PeerID: p.h.ID(), Addrs: p.h.Raw().Addrs(), ModelHash: discovery.ModelHash(hash),
			ModelName: info.Name, NumLayers: info.NumLayers, From: info.From, To: info.To, Backend: discovery.BackendCPU,
			Expires: time.Now().Add(time.Minute), Seq: uint64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
	}
	p, err := buildPipeline(t, lm, []LayerRange{{From: 0, To: 2}}, PipelineOptions{Providers: reg})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Hops) != 2 || !p.Hops[0].Local || p.Hops[1].Local || p.Hops[1].Range != (LayerRange{From: 2, To: 5}) {
		t.Fatalf("pipeline %s", p)
	}
	if got := greedyRun(t, lm, p); got != storiesGreedyIDs {
		t.Fatalf("pipeline ids %s", got)
	}
}

func TestBuildPipelineFailsOverAtOpen(t *testing.T) {
	// Both serve [1,5). The spare one is half loaded, so the plan prefers
	// the other, which cannot fit the session's KV cache and refuses: the
	// plan's alternative is used.
	full := startProvider(t, "stories260K.gguf", 1, 5, func(c *shard.Config) { c.MaxKVBytes = 1024 })
	spare := startProvider(t, "stories260K.gguf", 1, 5, func(c *shard.Config) { c.MaxSessions = 2 })
	hash, err := ModelHash(spare.lm.Path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := shard.DialAddr(context.Background(), p2ptest.NewHost(t, nil).Raw(), spare.addr())
	if err != nil {
		t.Fatal(err)
	}
	busy, err := c.OpenSession(context.Background(), shard.SessionConfig{Model: hash, From: 1, To: 5, MaxContext: 8, DType: shard.F32})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	lm, err := OpenModel(pipelineModelPath(t, "stories260K.gguf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	p, err := buildPipeline(t, lm, []LayerRange{{From: 0, To: 1}}, PipelineOptions{Peers: []string{full.addr(), spare.addr()}, NoSpread: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Hops) != 2 || p.Hops[1].Peer != spare.h.ID() {
		t.Fatalf("pipeline %s, want the spare provider", p)
	}
	if st := full.srv.Stats(); st.Totals.Refused != 1 {
		t.Fatalf("the full provider refused %d opens", st.Totals.Refused)
	}
}

func TestBuildPipelineErrors(t *testing.T) {
	tail := startProvider(t, "stories260K.gguf", 3, 5, nil)
	other := startProvider(t, "TinyStories-656K-Q8_0.gguf", 0, 2, nil)
	draining := startProvider(t, "stories260K.gguf", 1, 3, nil)
	draining.srv.SetAccepting(false)
	lm, err := OpenModel(pipelineModelPath(t, "stories260K.gguf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	tests := []struct {
		name  string
		local []LayerRange
		peers []string
		want  []string // substrings of the error
		gap   bool
	}{
		{"gap", []LayerRange{{From: 0, To: 1}}, []string{tail.addr()}, []string{"no provider serves layers 1–2"}, true},
		{"other model", []LayerRange{{From: 0, To: 3}}, []string{other.addr()}, []string{"layers 3–4", "does not serve model"}, true},
		{"draining peer", []LayerRange{{From: 0, To: 1}}, []string{draining.addr(), tail.addr()}, []string{"layers 1–2", "not accepting"}, true},
		{"unreachable peer", []LayerRange{{From: 0, To: 3}}, []string{"/ip4/127.0.0.1/tcp/1/p2p/" + other.h.ID().String()}, []string{"unreachable"}, true},
		{"bad address", []LayerRange{{From: 0, To: 3}}, []string{"not-a-multiaddr"}, []string{"not-a-multiaddr"}, true},
		{"local outside the model", []LayerRange{{From: 0, To: 9}}, nil, []string{"outside"}, false},
		{"nothing at all", nil, nil, []string{"layers 0–4"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildPipeline(t, lm, tc.local, PipelineOptions{Peers: tc.peers, DialTimeout: 3 * time.Second})
			if err == nil {
				t.Fatal("built")
			}
			if errors.Is(err, route.ErrGap) != tc.gap {
				t.Errorf("gap error %v: %v", tc.gap, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
