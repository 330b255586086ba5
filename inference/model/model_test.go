package model

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
	"github.com/hearth-p2p/hearth/inference/kvcache"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Reference greedy ids from BOS, as llama.cpp produces them
// (../shared/models/README.md).
var referenceIDs = map[string]string{
	testmodels.Stories260K:   "403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352",
	testmodels.TinyStoriesQ8: "147 201 282 215 286 598 1662 356 499 826 1363 1145 1652 615 242 1482 951 628 499 826 872 921 318 385 628 499 826 617 242 198 1047 425 1939 122 1924 1171 94 303 328 229",
}

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

func openModel(t testing.TB, name string) *Model {
	t.Helper()
	m, err := Open(testmodels.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// run generates n greedy tokens from BOS with the model cut at cuts on a pool
// of the given threads, returning the ids and every step's logits.
func run(t testing.TB, m *Model, cuts []int, threads, n int) ([]int32, [][]float32) {
	t.Helper()
	pool := tensor.NewPool(threads)
	defer pool.Close()
	stages, err := m.Split(cuts, pool)
	if err != nil {
		t.Fatal(err)
	}
	chain, closeAll, err := LocalChain(stages, 256)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	var steps [][]float32
	ids, _, err := Generate(context.Background(), chain, []int32{1}, greedy{}, GenerateOptions{
		MaxTokens: n,
		OnLogits:  func(_ int, l []float32) { steps = append(steps, slices.Clone(l)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, steps
}

func TestGreedyMatchesLlamaCpp(t *testing.T) {
	for name, ref := range referenceIDs {
		t.Run(name, func(t *testing.T) {
			m := openModel(t, name)
			want := parseIDs(t, ref)
			for _, threads := range []int{1, 2} {
				got, _ := run(t, m, nil, threads, len(want))
				if !slices.Equal(got, want) {
					t.Fatalf("threads %d:\n got %v\nwant %v", threads, got, want)
				}
			}
		})
	}
}

func TestStep0Logits(t *testing.T) {
	m := openModel(t, testmodels.Stories260K)
	_, steps := run(t, m, nil, 1, 1)
	l := steps[0]
	order := make([]int, len(l))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case l[a] > l[b]:
			return -1
		case l[a] < l[b]:
			return 1
		}
		return 0
	})
	// llama.cpp's top five: ▁Once ▁One ▁ ▁Lily ▁upon.
	want := []float32{17.0235, 15.4062, 13.1083, 12.7692, 12.4181}
	for i, w := range want {
		if math.Abs(float64(l[order[i]]-w)) > 1e-3 {
			t.Errorf("top %d: id %d logit %.4f, want %.4f", i, order[i], l[order[i]], w)
		}
	}
	if order[0] != 403 {
		t.Errorf("top id %d, want 403 (▁Once)", order[0])
	}
}

// TestSplitIsBitIdentical checks that cutting the model at any layer
// boundary, and any thread count, changes no bit of any step's logits.
func TestSplitIsBitIdentical(t *testing.T) {
	for _, name := range []string{testmodels.Stories260K, testmodels.TinyStoriesQ8, testmodels.TinyRandom} {
		t.Run(name, func(t *testing.T) {
			m := openModel(t, name)
			const steps = 12
			wantIDs, want := run(t, m, nil, 1, steps)
			var cutsets [][]int
			for c := 1; c < m.NumLayers; c++ {
				cutsets = append(cutsets, []int{c})
			}
			if m.NumLayers > 2 {
				cutsets = append(cutsets, []int{1, m.NumLayers - 1})
			}
			if m.NumLayers > 1 {
				all := []int{}
				for c := 1; c < m.NumLayers; c++ {
					all = append(all, c)
				}
				cutsets = append(cutsets, all)
			}
			for _, threads := range []int{1, 2, 3} {
				for _, cuts := range append([][]int{nil}, cutsets...) {
					ids, got := run(t, m, cuts, threads, steps)
					if !slices.Equal(ids, wantIDs) {
						t.Fatalf("cuts %v threads %d: ids %v, want %v", cuts, threads, ids, wantIDs)
					}
					for s := range want {
						if !bitsEqual(got[s], want[s]) {
							t.Fatalf("cuts %v threads %d: step %d logits differ", cuts, threads, s)
						}
					}
				}
			}
		})
	}
}

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestBatchedPrefillMatchesSequential evaluates a prompt as one batch and
// token by token: every position's logits must be bit-identical.
func TestBatchedPrefillMatchesSequential(t *testing.T) {
	m := openModel(t, testmodels.TinyStoriesQ8)
	pool := tensor.NewPool(2)
	defer pool.Close()
	st, err := m.NewStage(0, m.NumLayers, pool)
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int32{1, 147, 201, 282, 215, 286, 598, 1662}
	batch, _ := st.NewSession(64)
	batch.SetAllLogits(true)
	all, err := batch.Forward(context.Background(), 0, prompt, nil)
	if err != nil {
		t.Fatal(err)
	}
	all = slices.Clone(all)
	seq, _ := st.NewSession(64)
	for i, id := range prompt {
		got, err := seq.Forward(context.Background(), i, []int32{id}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bitsEqual(got, all[i*m.Vocab:(i+1)*m.Vocab]) {
			t.Fatalf("position %d: batched and sequential logits differ", i)
		}
	}
	// Rewinding and re-evaluating gives the same again.
	got, err := seq.Forward(context.Background(), 3, prompt[3:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bitsEqual(got, all[(len(prompt)-1)*m.Vocab:]) {
		t.Fatal("re-evaluation after rewind differs")
	}
}

func TestForwardRejectsBadInput(t *testing.T) {
	m := openModel(t, testmodels.Stories260K)
	pool := tensor.NewPool(1)
	defer pool.Close()
	stages, err := m.Split([]int{2}, pool)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := stages[0].NewSession(4)
	second, _ := stages[1].NewSession(4)
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		call func() error
	}{
		{"token beyond vocab", ErrBadInput, func() error { _, err := first.Forward(ctx, 0, []int32{512}, nil); return err }},
		{"negative token", ErrBadInput, func() error { _, err := first.Forward(ctx, 0, []int32{-1}, nil); return err }},
		{"empty batch", ErrBadInput, func() error { _, err := first.Forward(ctx, 0, nil, nil); return err }},
		{"position gap", ErrBadInput, func() error { _, err := first.Forward(ctx, 1, []int32{1}, nil); return err }},
		{"ragged hidden", ErrBadInput, func() error { _, err := second.Forward(ctx, 0, nil, make([]float32, 65)); return err }},
		{"nan hidden", ErrBadInput, func() error {
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
	if _, err := m.NewStage(3, 3, pool); err == nil {
		t.Error("empty stage accepted")
	}
	if _, err := m.NewStage(0, 6, pool); err == nil {
		t.Error("stage past the last layer accepted")
	}
}
