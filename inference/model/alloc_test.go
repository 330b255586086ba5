package model

import (
	"context"
	"slices"
	"testing"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// TestDecodeAllocatesNothing: once a session's buffers have grown, a
// one-token Forward allocates nothing, on one thread or several (the
// parallel kernels are bound once per session).
func TestDecodeAllocatesNothing(t *testing.T) {
	for _, name := range []string{testmodels.Stories260K, testmodels.TinyStoriesQ8, testmodels.TinyRandom} {
		t.Run(name, func(t *testing.T) {
			m := openModel(t, name)
			for _, threads := range []int{1, 2} {
				pool := tensor.NewPool(threads)
				defer pool.Close()
				for _, cuts := range [][]int{nil, {1}} {
					if len(cuts) > 0 && m.NumLayers < 2 {
						continue
					}
					stages, err := m.Split(cuts, pool)
					if err != nil {
						t.Fatal(err)
					}
					chain, closeAll, err := LocalChain(stages, 64)
					if err != nil {
						t.Fatal(err)
					}
					ctx := context.Background()
					prompt := []int32{1, 5, 9, 13, 17, 21, 25, 29}
					if _, err := chain.Forward(ctx, 0, prompt); err != nil {
						t.Fatal(err)
					}
					next := []int32{7}
					var first []float32
					allocs := testing.AllocsPerRun(20, func() {
						logits, err := chain.Forward(ctx, len(prompt), next)
						if err != nil {
							t.Fatal(err)
						}
						if first == nil {
							first = slices.Clone(logits)
						} else if !slices.Equal(first, logits) {
							t.Fatal("the same step gave different logits")
						}
					})
					closeAll()
					if allocs != 0 {
						t.Errorf("threads %d cuts %v: %v allocations per decode step", threads, cuts, allocs)
					}
				}
			}
		})
	}
}
