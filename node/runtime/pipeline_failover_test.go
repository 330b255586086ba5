package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/sample"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
	"github.com/hearth-p2p/hearth/node/verify"
)

// pipelineEvents collects a pipeline's events.
type pipelineEvents struct {
	mu  sync.Mutex
	all []PipelineEvent
}

func (e *pipelineEvents) add(ev PipelineEvent) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

func (e *pipelineEvents) failovers() []route.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []route.Event
	for _, ev := range e.all {
		if ev.Failover != nil {
			out = append(out, *ev.Failover)
		}
	}
	return out
}

func (e *pipelineEvents) checks(kind verify.CheckKind) []verify.CheckEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []verify.CheckEvent
	for _, ev := range e.all {
		if ev.Check != nil && ev.Check.Kind == kind {
			out = append(out, *ev.Check)
		}
	}
	return out
}

// generateWith runs 40 greedy tokens from BOS through p, calling at(step)
// after each token.
func generateWith(t *testing.T, p *Pipeline, at func(step int)) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	params := sample.Default()
	params.Temperature = 0
	step := 0
	ids, _, err := model.Generate(ctx, p.Chain, []int32{1}, sample.New(params), model.GenerateOptions{MaxTokens: 40,
		OnToken: func(int32) error { step++; at(step); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(fmt.Sprint(ids), "[]")
}

// stallBackend stops answering once stalled, like a machine that froze.
type stallBackend struct {
	*shard.ModelBackend
	stalled chan struct{}
}

type stallSession struct {
	shard.StageSession
	stalled chan struct{}
}

func (b stallBackend) OpenSession(from, to, maxCtx int) (shard.StageSession, error) {
	s, err := b.ModelBackend.OpenSession(from, to, maxCtx)
	return stallSession{s, b.stalled}, err
}

func (s stallSession) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	select {
	case <-s.stalled:
		<-ctx.Done() // until the server shuts down
		return nil, ctx.Err()
	default:
	}
	return s.StageSession.Forward(ctx, pos, tokens, hidden)
}

// TestPipelineSurvivesProviderFailure kills, stops or freezes the provider
// of layers 1–4 after ten tokens: the generation carries on through the
// other provider with ids identical to an undisturbed run, and the failover
// is reported with its recovery time.
func TestPipelineSurvivesProviderFailure(t *testing.T) {
	lm, err := OpenModel(pipelineModelPath(t, "stories260K.gguf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	tests := []struct {
		name  string
		fail  func(p *provider, stall chan struct{})
		stall bool
	}{
		{"host killed", func(p *provider, _ chan struct{}) { p.h.Close() }, false},
		{"server stopped", func(p *provider, _ chan struct{}) { p.stop() }, false},
		{"machine frozen", func(_ *provider, stall chan struct{}) { close(stall) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stalls := []chan struct{}{make(chan struct{}), make(chan struct{})}
			var both []*provider
			for _, stall := range stalls {
				both = append(both, startProviderWith(t, "stories260K.gguf", 1, 5, nil, func(b *shard.ModelBackend) shard.Backend { return stallBackend{b, stall} }))
			}
			var ev pipelineEvents
			p, err := buildPipeline(t, lm, []LayerRange{{From: 0, To: 1}}, PipelineOptions{
				Peers: []string{both[0].addr(), both[1].addr()}, CheckRate: -1, OnEvent: ev.add,
				Deadline: route.Deadline{Floor: 300 * time.Millisecond, Initial: 10 * time.Second, K: 4, MinSamples: 4}})
			if err != nil {
				t.Fatal(err)
			}
			v := 0 // the one the pipeline starts on fails
			if p.Route()[1].Peer == both[1].h.ID().String() {
				v = 1
			}
			victim, spare := both[v], both[1-v]
			got := generateWith(t, p, func(step int) {
				if step == 10 {
					tc.fail(victim, stalls[v])
				}
			})
			if got != storiesGreedyIDs {
				t.Fatalf("ids after the failover %s\nwant %s", got, storiesGreedyIDs)
			}
			fo := ev.failovers()
			if len(fo) != 1 || fo[0].From != victim.h.ID().String() || fo[0].Err != nil || fo[0].Stalled != tc.stall ||
				len(fo[0].To) != 1 || fo[0].To[0] != spare.h.ID().String() || fo[0].Replayed != 11 {
				t.Fatalf("failovers %+v", fo)
			}
			t.Logf("%s: detected after %v, recovered in %v (%d positions replayed): %s",
				tc.name, fo[0].Detect, fo[0].Recovery, fo[0].Replayed, fo[0].Reason)
			if !strings.Contains(p.String(), spare.h.ID().String()) || p.Stats().Failover.Failovers != 1 {
				t.Fatalf("pipeline now %s, stats %+v", p, p.Stats())
			}
		})
	}
}

// TestPipelineCatchesCheater routes through a provider that nudges one
// logit, with a quarter of the results re-checked on this node: it is
// caught, banned and replaced, and the generation's ids stay right.
func TestPipelineCatchesCheater(t *testing.T) {
	lm, err := OpenModel(pipelineModelPath(t, "stories260K.gguf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	cheat := func(b *shard.ModelBackend) shard.Backend { return cheatBackend{b} }
	cheater := startProviderWith(t, "stories260K.gguf", 1, 5, nil, cheat)
	honest := loadedProvider(t, lm) // so that the cheater is chosen first
	bans, err := verify.OpenBanList(t.TempDir() + "/bans.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev pipelineEvents
	p, err := buildPipeline(t, lm, []LayerRange{{From: 0, To: 1}}, PipelineOptions{
		Peers: []string{cheater.addr(), honest.addr()}, NoSpread: true, CheckRate: 0.25, Rand: rand.New(rand.NewPCG(7, 7)),
		Bans: bans, OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	if got := generateWith(t, p, func(int) {}); got != storiesGreedyIDs {
		t.Fatalf("ids %s", got)
	}
	caught := ev.checks(verify.CheckCaught)
	if len(caught) != 1 || caught[0].Peer != cheater.h.ID().String() || caught[0].Checker != "local" || !caught[0].Exact {
		t.Fatalf("convictions %+v", caught)
	}
	t.Logf("caught after %d of its results (%d checked) at rate 0.25", caught[0].Offered, caught[0].Checked)
	if !bans.IsBanned(cheater.h.ID().String()) || !strings.Contains(p.String(), honest.h.ID().String()) {
		t.Fatalf("bans %+v, pipeline %s", bans.Entries(), p)
	}
	if fo := ev.failovers(); len(fo) != 1 || !fo[0].Faulty {
		t.Fatalf("failovers %+v", fo)
	}
	// A new pipeline never routes to the banned provider.
	p2, err := buildPipeline(t, lm, []LayerRange{{From: 0, To: 1}}, PipelineOptions{
		Peers: []string{cheater.addr(), honest.addr()}, NoSpread: true, Bans: bans})
	if err != nil || strings.Contains(p2.String(), cheater.h.ID().String()) {
		t.Fatalf("second pipeline %v: %v", p2, err)
	}
}

// loadedProvider serves layers 1–4 with two of its four session slots
// taken: half loaded, it costs the planner twice the compute of an idle one.
func loadedProvider(t *testing.T, lm *LocalModel) *provider {
	t.Helper()
	p := startProvider(t, "stories260K.gguf", 1, 5, func(c *shard.Config) { c.MaxSessions = 4 })
	hash, err := ModelHash(lm.Path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := shard.DialAddr(context.Background(), p2ptest.NewHost(t, nil).Raw(), p.addr())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s, err := c.OpenSession(context.Background(), shard.SessionConfig{Model: hash, From: 1, To: 5, MaxContext: 8, DType: shard.F32})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
	return p
}

// cheatBackend holds the weights but adds 1e-3 to one value of every
// output.
type cheatBackend struct{ *shard.ModelBackend }

type cheatSession struct{ shard.StageSession }

func (b cheatBackend) OpenSession(from, to, maxCtx int) (shard.StageSession, error) {
	s, err := b.ModelBackend.OpenSession(from, to, maxCtx)
	return cheatSession{s}, err
}

func (s cheatSession) Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error) {
	out, err := s.StageSession.Forward(ctx, pos, tokens, hidden)
	if err == nil {
		out[len(out)-1] += 1e-3
	}
	return out, err
}

// lazyBackend serves the layers but answers weight challenges from zeros.
type lazyBackend struct{ *shard.ModelBackend }

func (b lazyBackend) TensorBytes(name string) ([]byte, error) {
	data, err := b.ModelBackend.TensorBytes(name)
	return make([]byte, len(data)), err
}

func TestPipelineRefusesWrongWeights(t *testing.T) {
	lm, err := OpenModel(pipelineModelPath(t, "stories260K.gguf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	lazy := startProviderWith(t, "stories260K.gguf", 1, 5, nil, func(b *shard.ModelBackend) shard.Backend { return lazyBackend{b} })
	honest := loadedProvider(t, lm) // so that the lazy one is chosen first
	var ev pipelineEvents
	bans, _ := verify.OpenBanList("")
	p, err := buildPipeline(t, lm, []LayerRange{{From: 0, To: 1}}, PipelineOptions{
		Peers: []string{lazy.addr(), honest.addr()}, NoSpread: true, Bans: bans, OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	if p.Hops[1].Peer != honest.h.ID() || !bans.IsBanned(lazy.h.ID().String()) {
		t.Fatalf("pipeline %s, bans %+v", p, bans.Entries())
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.all) != 1 || ev.all[0].Refused == nil || ev.all[0].Refused.Peer != lazy.h.ID() {
		t.Fatalf("events %+v", ev.all)
	}
}

// TestPipelinesSpreadOverReplicas opens many pipelines over three equal
// replicas and one busy one: sessions spread over the equal replicas, and
// the busy one gets fewer.
func TestPipelinesSpreadOverReplicas(t *testing.T) {
	lm, err := OpenModel(pipelineModelPath(t, "stories260K.gguf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	var ps []*provider
	for range 3 {
		ps = append(ps, startProvider(t, "stories260K.gguf", 1, 5, func(c *shard.Config) { c.MaxSessions = 64 }))
	}
	busy := startProvider(t, "stories260K.gguf", 1, 5, func(c *shard.Config) { c.MaxSessions = 4 })
	hash, err := ModelHash(lm.Path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Three sessions on a provider taking four: announced load 0.75.
	c, err := shard.DialAddr(context.Background(), ps[0].h.Raw(), busy.addr())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s, err := c.OpenSession(context.Background(), shard.SessionConfig{Model: hash, From: 1, To: 5, MaxContext: 8, DType: shard.F32})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
	peers := []string{busy.addr()}
	for _, p := range ps {
		peers = append(peers, p.addr())
	}
	rnd := rand.New(rand.NewPCG(11, 12))
	const pipelines = 24
	for range pipelines {
		if _, err := buildPipeline(t, lm, []LayerRange{{From: 0, To: 1}}, PipelineOptions{Peers: peers, Rand: rnd}); err != nil {
			t.Fatal(err)
		}
	}
	counts := make([]int, len(ps))
	for i, p := range ps {
		counts[i] = len(p.srv.Stats().Sessions)
	}
	extra := len(busy.srv.Stats().Sessions) - 3
	t.Logf("%d pipelines: sessions per idle replica %v, on the busy one %d", pipelines, counts, extra)
	for i, n := range counts {
		if n < pipelines/8 {
			t.Fatalf("replica %d got %d of %d sessions: %v", i, n, pipelines, counts)
		}
		if n <= extra {
			t.Fatalf("the busy replica got %d sessions, an idle one %d", extra, n)
		}
	}
}
