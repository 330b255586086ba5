package gpu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
	"github.com/hearth-p2p/hearth/inference/kvcache"
	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Reference greedy ids from BOS (../shared/models/README.md, llama.cpp).
var referenceIDs = map[string]string{
	testmodels.Stories260K:   "403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352",
	testmodels.TinyStoriesQ8: "147 201 282 215 286 598 1662 356 499 826 1363 1145 1652 615 242 1482 951 628 499 826 872 921 318 385 628 499 826 617 242 198 1047 425 1939 122 1924 1171 94 303 328 229",
}

// tolLogits bounds |GPU - CPU| of any logit at any step of the reference
// runs (the logits themselves are of order 10).
const tolLogits = 1e-3

func parseIDs(t testing.TB, s string) []int32 {
	var ids []int32
	for _, f := range strings.Fields(s) {
		v, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, int32(v))
	}
	return ids
}

type greedy struct{}

func (greedy) Sample(logits []float32, _ []int32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return int32(best)
}

func openModel(t testing.TB, path string) *model.Model {
	t.Helper()
	m, err := model.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// chainOf builds CPU [0,from) + GPU [from,to) + CPU [to,N) hops with
// sessions of maxCtx positions (gpu nil: all CPU).
func chainOf(t testing.TB, m *model.Model, d *Device, from, to, maxCtx int) model.Chain {
	t.Helper()
	pool := tensor.NewPool(2)
	t.Cleanup(pool.Close)
	var chain model.Chain
	cpu := func(a, b int) {
		st, err := m.NewStage(a, b, pool)
		if err != nil {
			t.Fatal(err)
		}
		s, err := st.NewSession(maxCtx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		chain = append(chain, s)
	}
	if d == nil {
		cpu(0, m.NumLayers)
		return chain
	}
	if from > 0 {
		cpu(0, from)
	}
	st, err := NewStage(m, from, to, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	s, err := st.NewSession(maxCtx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	chain = append(chain, s)
	if to < m.NumLayers {
		cpu(to, m.NumLayers)
	}
	return chain
}

// generate runs steps greedy tokens after prompt and returns the ids and
// each step's logits.
func generate(t testing.TB, c model.Chain, prompt []int32, steps int) ([]int32, [][]float32) {
	t.Helper()
	var logits [][]float32
	ids, _, err := model.Generate(context.Background(), c, prompt, greedy{}, model.GenerateOptions{
		MaxTokens: steps,
		OnLogits:  func(_ int, l []float32) { logits = append(logits, slices.Clone(l)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, logits
}

func maxAbsDiff(a, b []float32) float64 {
	var worst float64
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		worst = math.Max(worst, d)
	}
	return worst
}

// compareRuns checks ids equal and returns the largest logit difference.
func compareRuns(t testing.TB, gotIDs, wantIDs []int32, got, want [][]float32) float64 {
	t.Helper()
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("greedy ids differ:\n got %v\nwant %v", gotIDs, wantIDs)
	}
	var worst float64
	for i := range min(len(got), len(want)) {
		worst = math.Max(worst, maxAbsDiff(got[i], want[i]))
	}
	return worst
}

// TestGreedyMatchesReference runs both real models wholly on the GPU for 40
// greedy steps from BOS: the ids are llama.cpp's, and every step's logits
// are within tolLogits of the CPU engine's.
func TestGreedyMatchesReference(t *testing.T) {
	d := testDevice(t)
	for _, name := range []string{testmodels.Stories260K, testmodels.TinyStoriesQ8} {
		t.Run(name, func(t *testing.T) {
			m := openModel(t, testmodels.Path(t, name))
			want := parseIDs(t, referenceIDs[name])
			cpuIDs, cpuLogits := generate(t, chainOf(t, m, nil, 0, 0, 64), []int32{1}, len(want))
			ids, logits := generate(t, chainOf(t, m, d, 0, m.NumLayers, 64), []int32{1}, len(want))
			if !slices.Equal(cpuIDs, want) {
				t.Fatalf("CPU engine ids differ from the reference: %v", cpuIDs)
			}
			diff := compareRuns(t, ids, want, logits, cpuLogits)
			t.Logf("%d steps, max |Δlogit| vs CPU %.2e", len(want), diff)
			if diff > tolLogits {
				t.Errorf("max |Δlogit| %.2e over %.0e", diff, tolLogits)
			}
			if name == testmodels.Stories260K && math.Abs(float64(logits[0][403])-17.0235) > 1e-3 {
				t.Errorf("step-0 logit of ▁Once %.4f, llama.cpp 17.0235", logits[0][403])
			}
		})
	}
}

// TestMixedPlacement splits models between CPU and GPU at every boundary
// pair: greedy ids must equal the all-CPU run's.
func TestMixedPlacement(t *testing.T) {
	d := testDevice(t)
	for _, name := range []string{testmodels.Stories260K, testmodels.TinyStoriesQ8} {
		m := openModel(t, testmodels.Path(t, name))
		const steps = 12
		wantIDs, want := generate(t, chainOf(t, m, nil, 0, 0, 64), []int32{1}, steps)
		for from := 0; from < m.NumLayers; from++ {
			for to := from + 1; to <= m.NumLayers; to++ {
				t.Run(fmt.Sprintf("%s/cpu[0,%d)+gpu[%d,%d)+cpu[%d,%d)", name, from, from, to, to, m.NumLayers), func(t *testing.T) {
					ids, got := generate(t, chainOf(t, m, d, from, to, 64), []int32{1}, steps)
					if diff := compareRuns(t, ids, wantIDs, got, want); diff > tolLogits {
						t.Errorf("max |Δlogit| %.2e", diff)
					}
				})
			}
		}
	}
}

// TestLongPrompt evaluates a prompt longer than MaxBatch (several
// submissions) and past the initial cache size (the cache grows), then
// decodes: logits stay within tolerance of the CPU's.
func TestLongPrompt(t *testing.T) {
	d := testDevice(t)
	m := openModel(t, testmodels.Path(t, testmodels.Stories260K))
	ref := parseIDs(t, referenceIDs[testmodels.Stories260K])
	prompt := []int32{1}
	for len(prompt) < 300 {
		prompt = append(prompt, ref...)
	}
	prompt = prompt[:300]
	cpuIDs, cpuLogits := generate(t, chainOf(t, m, nil, 0, 0, 320), prompt, 8)
	ids, logits := generate(t, chainOf(t, m, d, 0, m.NumLayers, 320), prompt, 8)
	diff := compareRuns(t, ids, cpuIDs, logits, cpuLogits)
	t.Logf("300-token prompt: max |Δlogit| %.2e", diff)
	if diff > tolLogits {
		t.Errorf("max |Δlogit| %.2e over %.0e", diff, tolLogits)
	}
}

// TestBatchMatchesSequential evaluates a prompt as one batch and token by
// token on the GPU, then rewinds: last logits agree within tolerance.
func TestBatchMatchesSequential(t *testing.T) {
	d := testDevice(t)
	m := openModel(t, testmodels.Path(t, testmodels.TinyStoriesQ8))
	st, err := NewStage(m, 0, m.NumLayers, d)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	prompt := []int32{1, 147, 201, 282, 215, 286, 598, 1662}
	ctx := context.Background()
	batch, _ := st.NewSession(64)
	defer batch.Close()
	all, err := batch.Forward(ctx, 0, prompt, nil)
	if err != nil {
		t.Fatal(err)
	}
	all = slices.Clone(all)
	seq, _ := st.NewSession(64)
	defer seq.Close()
	var last []float32
	for i, id := range prompt {
		if last, err = seq.Forward(ctx, i, []int32{id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if diff := maxAbsDiff(last, all); diff > tolLogits {
		t.Errorf("batched vs sequential: max |Δlogit| %.2e", diff)
	}
	again, err := seq.Forward(ctx, 3, prompt[3:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := maxAbsDiff(again, all); diff > tolLogits {
		t.Errorf("after rewind: max |Δlogit| %.2e", diff)
	}
	if seq.Len() != len(prompt) {
		t.Errorf("Len %d after rewind, want %d", seq.Len(), len(prompt))
	}
}

// TestLayerMatchesCPU runs a middle layer range on random hidden states:
// the GPU's output hidden states are within tolerance of the CPU's.
func TestLayerMatchesCPU(t *testing.T) {
	d := testDevice(t)
	for _, name := range []string{testmodels.Stories260K, testmodels.TinyStoriesQ8} {
		t.Run(name, func(t *testing.T) {
			m := openModel(t, testmodels.Path(t, name))
			to := 2
			from := to - 1
			r := rand.New(rand.NewPCG(15, 16))
			const n = 6
			hidden := randFloats(r, n*m.Dim, 1)
			pool := tensor.NewPool(1)
			defer pool.Close()
			cst, err := m.NewStage(from, to, pool)
			if err != nil {
				t.Fatal(err)
			}
			cs, _ := cst.NewSession(16)
			gst, err := NewStage(m, from, to, d)
			if err != nil {
				t.Fatal(err)
			}
			defer gst.Close()
			gs, _ := gst.NewSession(16)
			defer gs.Close()
			ctx := context.Background()
			for _, step := range []struct{ pos, n int }{{0, 4}, {4, 2}} {
				h := hidden[step.pos*m.Dim : (step.pos+step.n)*m.Dim]
				want, err := cs.Forward(ctx, step.pos, nil, h)
				if err != nil {
					t.Fatal(err)
				}
				got, err := gs.Forward(ctx, step.pos, nil, h)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%d outputs, want %d", len(got), len(want))
				}
				e := maxAbsRel(got, want)
				t.Logf("layers [%d,%d) pos %d: max relative error %.2e", from, to, step.pos, e)
				if e > 1e-4 {
					t.Errorf("max relative error %.2e", e)
				}
			}
		})
	}
}

// TestForwardRejectsBadInput mirrors the CPU stage's input checks.
func TestForwardRejectsBadInput(t *testing.T) {
	d := testDevice(t)
	m := openModel(t, testmodels.Path(t, testmodels.Stories260K))
	s0, err := NewStage(m, 0, 2, d)
	if err != nil {
		t.Fatal(err)
	}
	defer s0.Close()
	s1, err := NewStage(m, 2, m.NumLayers, d)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	first, _ := s0.NewSession(4)
	defer first.Close()
	second, _ := s1.NewSession(4)
	defer second.Close()
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		call func() error
	}{
		{"token beyond vocab", model.ErrBadInput, func() error { _, err := first.Forward(ctx, 0, []int32{512}, nil); return err }},
		{"negative token", model.ErrBadInput, func() error { _, err := first.Forward(ctx, 0, []int32{-1}, nil); return err }},
		{"empty batch", model.ErrBadInput, func() error { _, err := first.Forward(ctx, 0, nil, nil); return err }},
		{"position gap", model.ErrBadInput, func() error { _, err := first.Forward(ctx, 1, []int32{1}, nil); return err }},
		{"ragged hidden", model.ErrBadInput, func() error { _, err := second.Forward(ctx, 0, nil, make([]float32, 65)); return err }},
		{"nan hidden", model.ErrBadInput, func() error {
			h := make([]float32, 64)
			h[3] = float32(math.NaN())
			_, err := second.Forward(ctx, 0, nil, h)
			return err
		}},
		{"context full", kvcache.ErrFull, func() error { _, err := first.Forward(ctx, 0, []int32{1, 2, 3, 4, 5}, nil); return err }},
		{"cancelled", context.Canceled, func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := first.Forward(c, 0, []int32{1}, nil)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
			if first.Len() != 0 || second.Len() != 0 {
				t.Fatalf("failed call left %d/%d cached positions", first.Len(), second.Len())
			}
		})
	}
	if _, err := NewStage(m, 3, 3, d); err == nil {
		t.Error("empty stage accepted")
	}
	if _, err := NewStage(m, 0, 6, d); err == nil {
		t.Error("stage past the last layer accepted")
	}
	if err := first.Truncate(1); err == nil {
		t.Error("truncating past Len accepted")
	}
}

// TestConcurrentSessions runs sessions of one stage from several
// goroutines: each gets the ids it gets alone.
func TestConcurrentSessions(t *testing.T) {
	d := testDevice(t)
	m := openModel(t, testmodels.Path(t, testmodels.Stories260K))
	st, err := NewStage(m, 0, m.NumLayers, d)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := parseIDs(t, referenceIDs[testmodels.Stories260K])[:20]
	errs := make(chan error, 3)
	for g := 0; g < 3; g++ {
		go func() {
			s, err := st.NewSession(64)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			ids, _, err := model.Generate(context.Background(), model.Chain{s}, []int32{1}, greedy{}, model.GenerateOptions{MaxTokens: len(want)})
			if err == nil && !slices.Equal(ids, want) {
				err = fmt.Errorf("ids %v, want %v", ids, want)
			}
			errs <- err
		}()
	}
	for g := 0; g < 3; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
