package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hearth-p2p/hearth/inference/sample"
	"github.com/hearth-p2p/hearth/node/runtime"
)

func init() {
	register(&command{
		name:    "run",
		summary: "generate text from a prompt with a local model",
		usage:   "--model FILE [--prompt TEXT] [--max-tokens N] [--temperature T] [--seed S] [--threads N] [--split L1,L2,…] [--gpu-layers A:B|all|auto] [--json] [--data-dir D] " + remoteUsage,
		run:     runRun,
	})
}

// runJSON is the --json report of `hearth run`: a stable contract for checks.
type runJSON struct {
	PromptIDs   []int32      `json:"prompt_ids"`
	IDs         []int32      `json:"ids"`
	Text        string       `json:"text"`
	Step0Top    [][2]float64 `json:"step0_top"`
	PrefillTokS float64      `json:"prefill_tok_s"`
	DecodeTokS  float64      `json:"decode_tok_s"`
	StopReason  string       `json:"stop_reason"`
}

func runRun(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "run")
	modelPath := fs.String("model", "", "GGUF model file")
	prompt := fs.String("prompt", "", "prompt text (empty: start from BOS)")
	maxTokens := fs.Int("max-tokens", 128, "most tokens to generate")
	temp := fs.Float64("temperature", float64(sample.Default().Temperature), "sampling temperature (0 = greedy)")
	topK := fs.Int("top-k", sample.Default().TopK, "top-k filter (0 = off)")
	topP := fs.Float64("top-p", float64(sample.Default().TopP), "top-p filter (1 = off)")
	minP := fs.Float64("min-p", float64(sample.Default().MinP), "min-p filter (0 = off)")
	repeat := fs.Float64("repeat-penalty", float64(sample.Default().RepeatPenalty), "repetition penalty (1 = off)")
	seed := fs.Uint64("seed", 0, "sampling seed")
	threads := fs.Int("threads", 0, "CPU threads (0 = all)")
	split := fs.String("split", "", "run as in-process stages cut at these layers, e.g. 2,4")
	nctx := fs.Int("ctx", 0, "context size (0 = prompt + max tokens)")
	asJSON := fs.Bool("json", false, "print one JSON object at the end instead of streaming text")
	gpuLayers := fs.String("gpu-layers", "", "run these layers on the GPU: A:B, all or auto (CPU when there is no GPU)")
	dataDir := fs.String("data-dir", runtime.DefaultDataDir(), "data directory (the list of banned providers)")
	remote := addRemoteFlags(fs, dataDir)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		return usageError("--model is required")
	}
	cuts, err := parseCuts(*split)
	if err != nil {
		return err
	}
	params := sample.Default()
	params.Temperature, params.TopK, params.TopP, params.MinP = float32(*temp), *topK, float32(*topP), float32(*minP)
	params.RepeatPenalty, params.Seed = float32(*repeat), *seed
	if err := params.Validate(); err != nil {
		return usageError("%v", err)
	}
	lm, err := runtime.OpenModel(*modelPath, *threads)
	if err != nil {
		return err
	}
	defer lm.Close()
	var onText func(string)
	if !*asJSON {
		onText = func(s string) { fmt.Fprint(env.Stdout, s) }
	}
	req := runtime.RunRequest{Prompt: *prompt, MaxTokens: *maxTokens, Sampling: params, Split: cuts, Context: *nctx}
	if remote.enabled() {
		if len(cuts) > 0 {
			return usageError("--split does not combine with --local-layers, --peers or --bootstrap")
		}
		if req.Context <= 0 {
			req.Context = contextFor(lm, *prompt, *maxTokens)
		}
		p, closePipeline, err := remote.build(ctx, env, lm, req.Context)
		if err != nil {
			return err
		}
		defer closePipeline()
		req.Hops = p.Chain
	}
	if *gpuLayers != "" {
		if remote.enabled() || len(cuts) > 0 {
			return usageError("--gpu-layers does not combine with --split, --local-layers, --peers or --bootstrap")
		}
		if req.Context <= 0 {
			req.Context = contextFor(lm, *prompt, *maxTokens)
		}
		gc, err := runtime.OpenGPUChain(lm, *gpuLayers, req.Context)
		switch {
		case runtime.IsGPUUnavailable(err):
			fmt.Fprintf(env.Stderr, "gpu: %v; running on the CPU\n", err)
		case err != nil:
			return err
		default:
			defer gc.Close()
			fmt.Fprintln(env.Stderr, "gpu:", gc.Describe())
			req.Hops = gc.Chain
		}
	}
	res, err := lm.Run(ctx, req, onText)
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintln(env.Stdout)
		fmt.Fprintf(env.Stderr, "prompt %d tokens, %.1f tok/s; generated %d tokens, %.1f tok/s (%s)\n",
			res.Stats.PromptTokens, res.Stats.PrefillTokS(), res.Stats.Generated, res.Stats.DecodeTokS(), res.Stats.StopReason)
		return nil
	}
	out := runJSON{PromptIDs: res.PromptIDs, IDs: res.IDs, Text: res.Text, PrefillTokS: res.Stats.PrefillTokS(),
		DecodeTokS: res.Stats.DecodeTokS(), StopReason: res.Stats.StopReason, Step0Top: [][2]float64{}}
	if out.IDs == nil {
		out.IDs = []int32{}
	}
	for _, t := range res.Step0Top {
		out.Step0Top = append(out.Step0Top, [2]float64{float64(t.ID), float64(t.Logit)})
	}
	enc := json.NewEncoder(env.Stdout)
	return enc.Encode(out)
}

// parseCuts parses "2,4" into layer boundaries.
func parseCuts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var cuts []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, usageError("--split: %q is not a positive layer number", f)
		}
		cuts = append(cuts, v)
	}
	return cuts, nil
}
