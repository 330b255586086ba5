package model

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/hearth-p2p/hearth/inference/internal/llamaref"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// TestBenchModelsMatchLlamaCpp compares the step-0 logits of the 1B
// benchmark presets with llama.cpp's for a fixed prompt: same top-1, and
// the largest difference small against the spread of the logits. The
// presets are too big to generate in a normal test run; it runs when
// HEARTH_BENCH_MODELS names the directory .ci/tools/bench/compare.go (or
// `hearth synth --preset llama-1b-… --out DIR/llama-1b-….gguf`) wrote them to.
func TestBenchModelsMatchLlamaCpp(t *testing.T) {
	dir := os.Getenv("HEARTH_BENCH_MODELS")
	if dir == "" {
		t.Skip("HEARTH_BENCH_MODELS is not set")
	}
	llamaref.Require(t)
	prompt := []int32{1, 9038, 2501, 263, 931} // <s> "Once upon a time" (llama SPM vocabulary)
	for _, name := range []string{"llama-1b-q8_0", "llama-1b-q4_0", "llama-1b-q4_k"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".gguf")
			if _, err := os.Stat(path); err != nil {
				if name == "llama-1b-q4_0" {
					t.Skip(err)
				}
				t.Fatal(err)
			}
			m, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			pool := tensor.NewPool(2)
			defer pool.Close()
			st, err := m.NewStage(0, m.NumLayers, pool)
			if err != nil {
				t.Fatal(err)
			}
			s, err := st.NewSession(64)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := s.Forward(context.Background(), 0, prompt, nil)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := llamaref.Eval(context.Background(), path, prompt, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(ref.Step0Logits) != len(ours) {
				t.Fatalf("llama.cpp gave %d logits, we gave %d", len(ref.Step0Logits), len(ours))
			}
			var maxDiff, mean, sq float64
			for i, v := range ours {
				maxDiff = math.Max(maxDiff, math.Abs(float64(v-ref.Step0Logits[i])))
				mean += float64(ref.Step0Logits[i])
			}
			mean /= float64(len(ours))
			for _, v := range ref.Step0Logits {
				sq += (float64(v) - mean) * (float64(v) - mean)
			}
			std := math.Sqrt(sq / float64(len(ours)))
			top, refTop := argmax32(ours), argmax32(ref.Step0Logits)
			t.Logf("%s: max |Δlogit| %.5f, logit std %.4f (ratio %.2e), top-1 %d (%.4f) vs llama.cpp %d (%.4f)",
				name, maxDiff, std, maxDiff/std, top, ours[top], refTop, ref.Step0Logits[refTop])
			if top != refTop {
				t.Errorf("top-1 %d, llama.cpp %d", top, refTop)
			}
			// Same quantised activations and integer dots as llama.cpp; what
			// differs is float rounding order and exp/silu. The tiny presets
			// agree to 1e-4 of the spread (synth), but 22 layers of random
			// weights amplify such differences: these logits reach ±180 and
			// differ by up to about 0.1 of their spread (measured; the engine
			// before its SIMD kernels gave the very same logits, bit for bit).
			// A wrong kernel moves them by more than the spread itself.
			if maxDiff > 0.2*std {
				t.Errorf("max |Δlogit| %.5f is more than 0.2 of the logit spread %.4f", maxDiff, std)
			}
		})
	}
}

func argmax32(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
