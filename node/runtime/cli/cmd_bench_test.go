package cli

import (
	"encoding/json"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gpu"
	"github.com/hearth-p2p/hearth/inference/tensor"
	hearthruntime "github.com/hearth-p2p/hearth/node/runtime"
)

func TestBenchJSON(t *testing.T) {
	model := sharedModel(t, "stories260K.gguf")
	st, err := os.Stat(model)
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := runMain(t, "bench", "--model", model, "--threads", "2", "--prompt-tokens", "16", "--gen-tokens", "8", "--reps", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	for _, k := range []string{"prefill_tok_s", "decode_tok_s", "ttft_ms", "model_bytes", "threads"} {
		if v, ok := res[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, res[k])
		}
	}
	if res["model_bytes"].(float64) != float64(st.Size()) || res["threads"].(float64) != 2 {
		t.Errorf("model_bytes %v threads %v", res["model_bytes"], res["threads"])
	}
	if res["kernels"] != tensor.KernelSet() || res["prompt_tokens"].(float64) != 16 || res["gen_tokens"].(float64) != 8 {
		t.Errorf("kernels %v prompt %v gen %v", res["kernels"], res["prompt_tokens"], res["gen_tokens"])
	}
	if rss, _ := res["peak_rss_bytes"].(float64); runtime.GOOS == "linux" && rss < float64(st.Size()) {
		t.Errorf("peak RSS %v is less than the mapped model (%d bytes)", rss, st.Size())
	}
}

func TestBenchText(t *testing.T) {
	out, errs, code := runMain(t, "bench", "--model", sharedModel(t, "stories260K.gguf"), "--threads", "1", "--prompt-tokens", "4", "--gen-tokens", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"prefill  4 tokens:", "decode   2 tokens:", "tok/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchPromptIsFixedAndNormal(t *testing.T) {
	lm := openShared(t)
	a, err := benchPrompt(lm, 64, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := benchPrompt(lm, 64, 1)
	c, _ := benchPrompt(lm, 64, 2)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Errorf("seed 1 twice: %v, %v; seed 2: %v", a, b, c)
	}
	for _, id := range a {
		if lm.Tok.IsControl(id) || lm.Tok.IsEOG(id) || int(id) >= lm.Tok.VocabSize() {
			t.Errorf("prompt id %d is special or outside the vocabulary", id)
		}
	}
}

func TestBenchErrors(t *testing.T) {
	model := sharedModel(t, "stories260K.gguf")
	for _, args := range [][]string{
		{"bench"},
		{"bench", "--model", model, "--prompt-tokens", "0"},
		{"bench", "--model", model, "--gen-tokens", "-1"},
		{"bench", "--model", model, "--reps", "0"},
		{"bench", "--model", model, "--prompt-tokens", "100000"},
	} {
		if _, errs, code := runMain(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, errs)
		}
	}
	if _, _, code := runMain(t, "bench", "--model", "/nonexistent.gguf"); code != 1 {
		t.Errorf("missing model: exit %d, want 1", code)
	}
}

func openShared(t *testing.T) *hearthruntime.LocalModel {
	t.Helper()
	lm, err := hearthruntime.OpenModel(sharedModel(t, "stories260K.gguf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.Close() })
	return lm
}

// TestBenchGPU: with --gpu-layers the figures are the GPU's (lavapipe in
// CI), named in the report; with no adapter it fails instead of measuring
// the CPU.
func TestBenchGPU(t *testing.T) {
	model := sharedModel(t, "stories260K.gguf")
	if _, err := gpu.Adapters(gpu.Options{AllowCPU: true}); err != nil {
		if gpu.RequireGPU() {
			t.Fatalf("no WebGPU adapter: %v", err)
		}
		t.Skipf("no WebGPU adapter: %v", err)
	}
	t.Setenv(gpu.EnvAllowCPU, "1")
	out, errs, code := runMain(t, "bench", "--model", model, "--gpu-layers", "all", "--prompt-tokens", "8", "--gen-tokens", "4", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res benchJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if !strings.Contains(res.Backend, "layers") || res.Backend == "cpu" || res.DecodeTokS <= 0 || res.PrefillTokS <= 0 {
		t.Fatalf("report %+v", res)
	}
	// Without the CPU stand-in only a hardware GPU may answer.
	t.Setenv(gpu.EnvAllowCPU, "0")
	_, errs, code = runMain(t, "bench", "--model", model, "--gpu-layers", "all", "--prompt-tokens", "8", "--gen-tokens", "4")
	if code != 0 && !strings.Contains(errs, "--gpu-layers:") {
		t.Fatalf("bench without a usable adapter: exit %d, %s", code, errs)
	}
}
