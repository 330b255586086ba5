package verify

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// testModel is stories260K opened for a test, with its content hash.
type testModel struct {
	m    *model.Model
	pool *tensor.Pool
	hash [32]byte
}

func openModel(t testing.TB) *testModel {
	t.Helper()
	dir := os.Getenv("HEARTH_MODELS_DIR")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(filepath.Dir(d), "shared", "models")
				break
			}
		}
	}
	path := filepath.Join(dir, "stories260K.gguf")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	m, err := model.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := tensor.NewPool(1)
	t.Cleanup(func() { pool.Close(); m.Close() })
	tm := &testModel{m: m, pool: pool}
	copy(tm.hash[:], h.Sum(nil))
	return tm
}

func (tm *testModel) exec() ModelExecutor {
	return ModelExecutor{Hash: tm.hash, Model: tm.m, Pool: tm.pool}
}

// cheatBackend serves real layers but adds 1e-3 to one value of every
// output: a provider cutting corners, or lying.
type cheatBackend struct{ shard.Backend }

type cheatSession struct{ shard.StageSession }

func (b cheatBackend) OpenSession(from, to, maxCtx int) (shard.StageSession, error) {
	s, err := b.Backend.OpenSession(from, to, maxCtx)
	return cheatSession{s}, err
}

func (s cheatSession) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	out, err := s.StageSession.Forward(ctx, pos, tokens, hidden)
	if err == nil {
		out[len(out)-1] += 1e-3
	}
	return out, err
}

// lazyBackend serves real layers but does not hold the weights it claims:
// it answers challenges from zeros.
type lazyBackend struct{ *shard.ModelBackend }

func (b lazyBackend) TensorBytes(name string) ([]byte, error) {
	data, err := b.ModelBackend.TensorBytes(name)
	return make([]byte, len(data)), err
}

// provider is a shard server on its own loopback host.
type provider struct {
	h    *p2p.Host
	srv  *shard.Server
	from int
	to   int
}

func (tm *testModel) serve(t testing.TB, from, to int, wrap func(*shard.ModelBackend) shard.Backend) *provider {
	t.Helper()
	be, err := shard.NewModelBackend(tm.m, tm.pool, tm.hash, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var b shard.Backend = be
	if wrap != nil {
		b = wrap(be)
	}
	h := p2ptest.NewHost(t, nil)
	srv, err := shard.NewServer(h.Raw(), shard.Default(), nil, p2ptest.Logger(t, slog.LevelWarn), b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-srv.Ready()
	return &provider{h: h, srv: srv, from: from, to: to}
}

func (p *provider) candidate() route.Candidate {
	return route.Candidate{Peer: p.h.ID().String(), Range: route.Range{From: p.from, To: p.to}, Latency: time.Millisecond, Backend: "cpu"}
}

// opener dials providers from a client host and opens f32 sessions.
type opener struct {
	t     testing.TB
	h     *p2p.Host
	hash  [32]byte
	peers map[string]*provider
}

func (o *opener) open(ctx context.Context, c route.Candidate, r route.Range, maxCtx int) (route.Session, error) {
	p := o.peers[c.Peer]
	cl, err := shard.DialAddr(ctx, o.h.Raw(), p.h.Addrs()[0].String())
	if err != nil {
		return nil, err
	}
	return cl.OpenSession(ctx, shard.SessionConfig{Model: o.hash, From: r.From, To: r.To, MaxContext: maxCtx, DType: shard.F32})
}

func (o *opener) find(context.Context) ([]route.Candidate, error) {
	var out []route.Candidate
	for _, p := range o.peers {
		out = append(out, p.candidate())
	}
	return out, nil
}

func newOpener(t testing.TB, tm *testModel, ps ...*provider) *opener {
	o := &opener{t: t, h: p2ptest.NewHost(t, nil), hash: tm.hash, peers: map[string]*provider{}}
	for _, p := range ps {
		o.peers[p.h.ID().String()] = p
	}
	return o
}

// chain opens a failover chain running layers [0,1) here and [1,N) on p.
func (o *opener) chain(t testing.TB, tm *testModel, p *provider, audit route.Auditor) *route.FailoverChain {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	head, err := tm.exec().OpenLocal(route.Range{From: 0, To: 1}, 64)
	if err != nil {
		t.Fatal(err)
	}
	r := route.Range{From: 1, To: tm.m.NumLayers}
	s, err := o.open(ctx, p.candidate(), r, 64)
	if err != nil {
		t.Fatal(err)
	}
	var alts []route.Candidate
	for name, q := range o.peers {
		if name != p.h.ID().String() {
			alts = append(alts, q.candidate())
		}
	}
	c, err := route.NewFailoverChain(route.FailoverConfig{NumLayers: tm.m.NumLayers, Dim: tm.m.Dim, MaxContext: 64,
		Open: o.open, Audit: audit, Deadline: route.Deadline{Floor: 5 * time.Second}},
		[]route.Segment{{Range: route.Range{From: 0, To: 1}, Local: true, Session: head}, {Range: r, Peer: p.h.ID().String(), Session: s, Alternatives: alts}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// greedy picks the highest logit.
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

var prompt = []int32{1, 403, 407, 261}

func generate(t testing.TB, f model.Forwarder, steps int) []int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ids, _, err := model.Generate(ctx, model.Chain{f}, prompt, greedy{}, model.GenerateOptions{MaxTokens: steps})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (tm *testModel) reference(t testing.TB, steps int) []int32 {
	t.Helper()
	s, err := tm.exec().OpenLocal(route.Range{From: 0, To: tm.m.NumLayers}, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return generate(t, s, steps)
}

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
