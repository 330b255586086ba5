package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/node/runtime"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "measure prefill and decode speed of a local model, or of this machine (--machine)",
		usage: "--model FILE [--threads N] [--prompt-tokens N] [--gen-tokens N] [--reps N] [--gpu-layers A:B|all|auto] [--json] [--cpuprofile FILE]\n" +
			"  or: --machine [--threads N] [--rerun] [--data-dir D] [--json]   (a synthetic 1B-shaped shard; cached in the data directory)",
		run: runBench,
	})
}

// benchJSON is the --json report of `hearth bench`, named like llamaref's
// bench mode so the two can be compared field by field.
type benchJSON struct {
	Model      string `json:"model"`
	ModelBytes int64  `json:"model_bytes"`
	Threads    int    `json:"threads"`
	Kernels    string `json:"kernels"`
	// Backend is "cpu", or the GPU placement with --gpu-layers.
	Backend      string  `json:"backend"`
	PromptTokens int     `json:"prompt_tokens"`
	GenTokens    int     `json:"gen_tokens"`
	Reps         int     `json:"reps"`
	PrefillTokS  float64 `json:"prefill_tok_s"`
	DecodeTokS   float64 `json:"decode_tok_s"`
	TTFTMs       float64 `json:"ttft_ms"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	KVCacheBytes int64   `json:"kv_cache_bytes"`
	// At the end (Linux): resident anonymous memory (heap, buffers) and
	// file pages (the mapped weights, the executable). The weights are
	// read in place, so they show as file pages, not as a copy.
	RSSAnonBytes int64 `json:"rss_anon_bytes,omitempty"`
	RSSFileBytes int64 `json:"rss_file_bytes,omitempty"`
}

// benchRun is one measured repetition.
type benchRun struct {
	prefill, decode float64 // tokens per second
	ttft            time.Duration
}

func runBench(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench")
	modelPath := fs.String("model", "", "GGUF model file")
	threads := fs.Int("threads", 0, "CPU threads (0 = all)")
	promptTokens := fs.Int("prompt-tokens", 128, "prompt length, evaluated as one batch")
	genTokens := fs.Int("gen-tokens", 64, "greedy decode steps, one token each")
	reps := fs.Int("reps", 1, "repetitions; the median of each number is reported")
	seed := fs.Uint("seed", 1, "picks the prompt's token ids")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured repetitions to FILE")
	gpuLayers := fs.String("gpu-layers", "", "run these layers on the GPU: A:B, all or auto (an error when there is no GPU)")
	machine := fs.Bool("machine", false, "measure this machine on a synthetic 1B-shaped shard instead of a model")
	rerun := fs.Bool("rerun", false, "with --machine: measure even when a cached result fits")
	dataDir := fs.String("data-dir", runtime.DefaultDataDir(), "with --machine: where the result is cached (\"\": nowhere)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *machine {
		if *modelPath != "" || *gpuLayers != "" {
			return usageError("--machine measures a synthetic shard: no --model or --gpu-layers")
		}
		if *threads < 0 {
			return usageError("--threads must not be negative")
		}
		return runMachineBench(ctx, env, *threads, *dataDir, *rerun, *asJSON)
	}
	switch {
	case *modelPath == "":
		return usageError("--model is required")
	case *promptTokens < 1:
		return usageError("--prompt-tokens must be at least 1")
	case *genTokens < 0:
		return usageError("--gen-tokens must not be negative")
	case *reps < 1:
		return usageError("--reps must be at least 1")
	case *threads < 0:
		return usageError("--threads must not be negative")
	}
	st, err := os.Stat(*modelPath)
	if err != nil {
		return err
	}
	lm, err := runtime.OpenModel(*modelPath, *threads)
	if err != nil {
		return err
	}
	defer lm.Close()
	nctx := *promptTokens + *genTokens + 1
	if nctx > lm.Model.ContextLen {
		return usageError("%d prompt + %d generated tokens do not fit the model's context of %d", *promptTokens, *genTokens, lm.Model.ContextLen)
	}
	prompt, err := benchPrompt(lm, *promptTokens, uint32(*seed))
	if err != nil {
		return err
	}
	backend := "cpu"
	var chain model.Chain
	if *gpuLayers != "" {
		// A GPU figure that silently measured the CPU would mislead: no
		// adapter is an error here.
		gc, err := runtime.OpenGPUChain(lm, *gpuLayers, nctx)
		if err != nil {
			return fmt.Errorf("--gpu-layers: %w", err)
		}
		defer gc.Close()
		chain, backend = gc.Chain, gc.Describe()
	} else {
		stages, err := lm.Model.Split(nil, lm.Pool)
		if err != nil {
			return err
		}
		var closeAll func()
		if chain, closeAll, err = model.LocalChain(stages, nctx); err != nil {
			return err
		}
		defer closeAll()
	}

	// Warm-up, as llama-bench does: touches the mapped weights and grows
	// the buffers.
	if _, err := benchOnce(ctx, chain, prompt[:min(len(prompt), 8)], min(*genTokens, 1)); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var runs []benchRun
	for range *reps {
		r, err := benchOnce(ctx, chain, prompt, *genTokens)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	rss, _ := peakRSS()
	anon, file, _ := rssParts()
	out := benchJSON{
		Model: *modelPath, ModelBytes: st.Size(), Threads: lm.Pool.Threads(), Kernels: tensor.KernelSet(),
		PromptTokens: *promptTokens, GenTokens: *genTokens, Reps: *reps,
		PrefillTokS:  median(runs, func(r benchRun) float64 { return r.prefill }),
		DecodeTokS:   median(runs, func(r benchRun) float64 { return r.decode }),
		TTFTMs:       median(runs, func(r benchRun) float64 { return float64(r.ttft) / 1e6 }),
		PeakRSSBytes: rss, RSSAnonBytes: anon, RSSFileBytes: file,
		Backend: backend,
	}
	for _, f := range chain {
		if sess, ok := f.(*model.Session); ok {
			out.KVCacheBytes += sess.CacheBytes()
		}
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(out)
	}
	fmt.Fprintf(env.Stdout, "model    %s (%.1f MB), %d threads, kernels %s\n", out.Model, float64(out.ModelBytes)/1e6, out.Threads, out.Kernels)
	if *gpuLayers != "" {
		fmt.Fprintf(env.Stdout, "gpu      %s\n", out.Backend)
	}
	fmt.Fprintf(env.Stdout, "prefill  %d tokens: %.2f tok/s (time to first token %.1f ms)\n", out.PromptTokens, out.PrefillTokS, out.TTFTMs)
	fmt.Fprintf(env.Stdout, "decode   %d tokens: %.2f tok/s\n", out.GenTokens, out.DecodeTokS)
	if out.PeakRSSBytes > 0 {
		fmt.Fprintf(env.Stdout, "memory   peak RSS %.1f MB (KV cache %.1f MB", float64(out.PeakRSSBytes)/1e6, float64(out.KVCacheBytes)/1e6)
		if out.RSSFileBytes > 0 {
			fmt.Fprintf(env.Stdout, "; now %.1f MB file pages, %.1f MB anonymous", float64(out.RSSFileBytes)/1e6, float64(out.RSSAnonBytes)/1e6)
		}
		fmt.Fprintln(env.Stdout, ")")
	}
	return nil
}

// benchOnce evaluates prompt as one batch from position 0 and then decodes
// gen tokens greedily, one per step.
func benchOnce(ctx context.Context, chain model.Chain, prompt []int32, gen int) (benchRun, error) {
	var r benchRun
	start := time.Now()
	logits, err := chain.Forward(ctx, 0, prompt)
	if err != nil {
		return r, err
	}
	next := argmax(logits)
	r.ttft = time.Since(start)
	r.prefill = float64(len(prompt)) / r.ttft.Seconds()
	start = time.Now()
	for i := range gen {
		if logits, err = chain.Forward(ctx, len(prompt)+i, []int32{next}); err != nil {
			return r, err
		}
		next = argmax(logits)
	}
	if gen > 0 {
		r.decode = float64(gen) / time.Since(start).Seconds()
	}
	return r, nil
}

// benchPrompt picks n ids among the vocabulary's normal tokens (no control
// or end-of-generation tokens) with llamaref's generator (mulberry32), so
// the prompt is the same on every run.
func benchPrompt(lm *runtime.LocalModel, n int, seed uint32) ([]int32, error) {
	var normal []int32
	for id := range int32(lm.Tok.VocabSize()) {
		if !lm.Tok.IsControl(id) && !lm.Tok.IsEOG(id) {
			normal = append(normal, id)
		}
	}
	if len(normal) == 0 {
		return nil, fmt.Errorf("bench: the model has no normal tokens")
	}
	a := seed
	ids := make([]int32, n)
	for i := range ids {
		a += 0x6d2b79f5
		t := a
		t = (t ^ t>>15) * (t | 1)
		t ^= t + (t^t>>7)*(t|61)
		u := float64(t^t>>14) / 4294967296
		ids[i] = normal[int(u*float64(len(normal)))]
	}
	return ids, nil
}

func argmax(v []float32) int32 {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return int32(best)
}

func median(runs []benchRun, f func(benchRun) float64) float64 {
	xs := make([]float64, 0, len(runs))
	for _, r := range runs {
		if v := f(r); !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if m := len(xs) / 2; len(xs)%2 == 0 {
		return (xs[m-1] + xs[m]) / 2
	}
	return xs[len(xs)/2]
}
