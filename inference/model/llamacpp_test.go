package model

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/internal/llamaref"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/inference/tokenizer"
)

// TestPromptsMatchLlamaCpp tokenizes prompts as llama.cpp does and continues
// them greedily: prompt ids and generated ids must equal llama.cpp's.
func TestPromptsMatchLlamaCpp(t *testing.T) {
	llamaref.Require(t)
	prompts := []string{
		"Once upon a time",
		"Lily and Tom went to the park. They saw a big dog",
		"The cat sat on the mat.\nThe dog",
		"  leading spaces and émojis 🙂 ",
		"Numbers 123 and 4567.",
	}
	for _, name := range []string{testmodels.Stories260K, testmodels.TinyStoriesQ8} {
		t.Run(name, func(t *testing.T) {
			path := testmodels.Path(t, name)
			m := openModel(t, name)
			tok, err := tokenizer.FromGGUF(m.File.Header)
			if err != nil {
				t.Fatal(err)
			}
			pool := tensor.NewPool(2)
			defer pool.Close()
			for _, p := range prompts {
				if name == testmodels.TinyStoriesQ8 && strings.ContainsRune(p, '🙂') {
					// This vocabulary has no byte tokens; llama.cpp aborts
					// (std::out_of_range) on text it cannot represent, so
					// there is no reference. We map it to <unk> instead.
					const unk = 0 // tokenizer.ggml.unknown_token_id of this model
					if ids := tok.Encode(p, true, true); !slices.Contains(ids, unk) {
						t.Errorf("%q: no <unk> in %v", p, ids)
					}
					continue
				}
				ids := tok.Encode(p, true, true)
				const steps = 16
				ref, err := llamaref.Run(context.Background(), "--model="+path, "--prompt="+p, "--steps=16")
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids, ref.PromptIDs) {
					t.Fatalf("%q: prompt ids %v, llama.cpp %v", p, ids, ref.PromptIDs)
				}
				for _, cuts := range [][]int{nil, {1}} {
					stages, err := m.Split(cuts, pool)
					if err != nil {
						t.Fatal(err)
					}
					chain, closeAll, err := LocalChain(stages, 128)
					if err != nil {
						t.Fatal(err)
					}
					got, _, err := Generate(context.Background(), chain, ids, greedy{}, GenerateOptions{MaxTokens: steps})
					closeAll()
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, ref.IDs) {
						t.Errorf("%q cuts %v: ids %v, llama.cpp %v", p, cuts, got, ref.IDs)
					}
				}
			}
		})
	}
}
