package runtime

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gpu"
	"github.com/hearth-p2p/hearth/inference/sample"
)

// openGPUChain opens a chain with a CPU adapter allowed, skipping when the
// machine has no WebGPU adapter at all (failing with HEARTH_REQUIRE_GPU=1).
func openGPUChain(t *testing.T, lm *LocalModel, spec string) *GPUChain {
	t.Helper()
	t.Setenv(gpu.EnvAllowCPU, "1")
	c, err := OpenGPUChain(lm, spec, 128)
	if errors.Is(err, gpu.ErrNoAdapter) && !gpu.RequireGPU() {
		t.Skipf("no WebGPU adapter: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestGPUChainRun generates with CPU [0,2) + GPU [2,4) + CPU [4,5) hops
// through LocalModel.Run: llama.cpp's greedy ids.
func TestGPUChainRun(t *testing.T) {
	lm := openLocal(t, "stories260K.gguf")
	want := []int32{403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338}
	for _, spec := range []string{"2:4", "all", "auto"} {
		t.Run(spec, func(t *testing.T) {
			c := openGPUChain(t, lm, spec)
			t.Log(c.Describe())
			if spec == "2:4" && (len(c.Chain) != 3 || c.Plan.From != 2 || c.Plan.To != 4) {
				t.Fatalf("%d hops for plan %v", len(c.Chain), c.Plan)
			}
			if spec == "all" && len(c.Chain) != 1 {
				t.Fatalf("%d hops for all layers", len(c.Chain))
			}
			p := sample.Default()
			p.Temperature = 0
			res, err := lm.Run(context.Background(), RunRequest{MaxTokens: len(want), Sampling: p, Hops: c.Chain}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.IDs, want) {
				t.Fatalf("ids %v, want %v", res.IDs, want)
			}
			if c.Backend == "" || c.Backend[:7] != "webgpu:" {
				t.Errorf("backend %q", c.Backend)
			}
		})
	}
	t.Run("bad spec", func(t *testing.T) {
		if _, err := OpenGPUChain(lm, "4:9", 0); err == nil || IsGPUUnavailable(err) {
			t.Fatalf("got %v, want a usage error", err)
		}
	})
	t.Run("no room", func(t *testing.T) {
		t.Setenv(gpu.EnvAllowCPU, "1")
		t.Setenv(gpu.EnvMemory, "1MiB")
		_, err := OpenGPUChain(lm, "auto", 0)
		if errors.Is(err, gpu.ErrNoAdapter) {
			t.Skip("no WebGPU adapter")
		}
		if !IsGPUUnavailable(err) {
			t.Fatalf("got %v, want ErrNoRoom", err)
		}
	})
}
