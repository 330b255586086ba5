package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hearth-p2p/hearth/inference/gpu"
	"github.com/hearth-p2p/hearth/node/runtime"
)

func init() {
	register(&command{
		name:    "gpu",
		summary: "list GPU adapters, pick one, and optionally check it or plan a model's placement",
		usage:   "[--allow-cpu] [--adapter INDEX|NAME] [--check] [--model FILE [--gpu-layers A:B|all|auto] [--ctx N]] [--json]",
		run:     runGPU,
	})
}

// gpuJSON is the --json report of `hearth gpu`.
type gpuJSON struct {
	Adapters []gpu.AdapterInfo `json:"adapters"`
	// Chosen is the adapter Open picks (absent with none) and why none.
	Chosen    *gpu.AdapterInfo     `json:"chosen,omitempty"`
	NoAdapter string               `json:"no_adapter,omitempty"`
	Backend   string               `json:"backend,omitempty"`
	ShaderF16 bool                 `json:"shader_f16"`
	Binding   uint64               `json:"max_binding,omitempty"`
	Memory    *gpu.MemoryBudget    `json:"memory,omitempty"`
	Check     []gpu.SelfTestResult `json:"check,omitempty"`
	Plan      *planJSON            `json:"plan,omitempty"`
}

type planJSON struct {
	From        int   `json:"from"`
	To          int   `json:"to"`
	Layers      int   `json:"layers"`
	NumLayers   int   `json:"num_layers"`
	WeightBytes int64 `json:"weight_bytes"`
	CacheBytes  int64 `json:"cache_bytes"`
	Fits        bool  `json:"fits"`
}

func runGPU(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "gpu")
	allowCPU := fs.Bool("allow-cpu", false, "let a CPU adapter (lavapipe, llvmpipe) be chosen; also "+gpu.EnvAllowCPU+"=1")
	adapter := fs.String("adapter", "", "pick an adapter by index or name substring; also "+gpu.EnvAdapter)
	check := fs.Bool("check", false, "run a self-test: matrix products on the GPU against the CPU engine")
	modelPath := fs.String("model", "", "GGUF model to plan a placement for")
	layers := fs.String("gpu-layers", "auto", "with --model: layers to place, A:B, all or auto")
	nctx := fs.Int("ctx", 0, "with --model: context the KV cache must hold (0 = the model's)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts := gpu.Options{AllowCPU: *allowCPU, Adapter: *adapter}
	list, err := gpu.Adapters(opts)
	if err != nil {
		return err
	}
	rep := gpuJSON{Adapters: list}
	if rep.Adapters == nil {
		rep.Adapters = []gpu.AdapterInfo{}
	}
	dev, err := gpu.Open(opts)
	switch {
	case errors.Is(err, gpu.ErrNoAdapter):
		rep.NoAdapter = err.Error()
	case err != nil:
		return err
	default:
		defer dev.Close()
		info, mem := dev.Info(), dev.MemoryBudget()
		rep.Chosen, rep.Backend, rep.ShaderF16, rep.Binding, rep.Memory = &info, gpu.BackendName(dev), dev.ShaderF16(), dev.MaxBinding(), &mem
		if *check {
			if rep.Check, err = gpu.SelfTest(dev); err != nil {
				printGPU(env.Stdout, rep, *asJSON)
				return err
			}
		}
		if *modelPath != "" {
			if rep.Plan, err = planGPU(*modelPath, dev, *layers, *nctx); err != nil {
				printGPU(env.Stdout, rep, *asJSON)
				return err
			}
		}
	}
	printGPU(env.Stdout, rep, *asJSON)
	return nil
}

// planGPU opens the model (weights stay mapped, nothing is uploaded) and
// plans its placement.
func planGPU(path string, dev *gpu.Device, spec string, nctx int) (*planJSON, error) {
	lm, err := runtime.OpenModel(path, 1)
	if err != nil {
		return nil, err
	}
	defer lm.Close()
	m := lm.Model
	if _, _, _, err := gpu.ParseLayers(spec, m.NumLayers); err != nil {
		return nil, usageError("--gpu-layers: %v", err)
	}
	p, err := gpu.PlanLayers(m, dev, spec, nctx, gpu.MemoryBudget{})
	if err != nil {
		return nil, err
	}
	return &planJSON{From: p.From, To: p.To, Layers: p.Layers(), NumLayers: m.NumLayers,
		WeightBytes: p.WeightBytes, CacheBytes: p.CacheBytes, Fits: p.Fits()}, nil
}

func printGPU(w io.Writer, rep gpuJSON, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "hearth gpu:", err)
		}
		return
	}
	if len(rep.Adapters) == 0 {
		fmt.Fprintln(w, "no WebGPU adapters (no Vulkan, Metal, D3D12 or GL driver)")
	}
	for _, a := range rep.Adapters {
		mark := " "
		if rep.Chosen != nil && a.Index == rep.Chosen.Index {
			mark = "*"
		}
		fmt.Fprintf(w, "%s #%d %s\n    %s, %s, driver %q, shader-f16 %v, binding %d MiB, buffer %d MiB\n",
			mark, a.Index, a.Name, a.Type, a.Backend, a.Driver, a.ShaderF16,
			a.Limits.MaxStorageBufferBindingSize>>20, a.Limits.MaxBufferSize>>20)
		if !a.Usable {
			fmt.Fprintf(w, "    not used: %s\n", a.Reason)
		}
	}
	if rep.Chosen == nil {
		fmt.Fprintf(w, "no GPU: %s\nHearth runs on the CPU.\n", rep.NoAdapter)
		return
	}
	fmt.Fprintf(w, "using #%d as %s", rep.Chosen.Index, rep.Backend)
	if rep.Memory.Bytes > 0 {
		fmt.Fprintf(w, ", %d MiB available (%s)", rep.Memory.Bytes>>20, rep.Memory.Source)
	} else {
		fmt.Fprintf(w, ", free memory unknown (set %s)", gpu.EnvMemory)
	}
	fmt.Fprintln(w)
	for _, c := range rep.Check {
		fmt.Fprintf(w, "check %-5s ok (max relative error %.1e)\n", c.Type, c.MaxRelErr)
	}
	if p := rep.Plan; p != nil {
		fit := ""
		if !p.Fits {
			fit = " — more than the available memory"
		}
		fmt.Fprintf(w, "plan: layers [%d,%d) of %d on the GPU (%.1f MiB weights, %.1f MiB cache)%s\n",
			p.From, p.To, p.NumLayers, float64(p.WeightBytes)/(1<<20), float64(p.CacheBytes)/(1<<20), fit)
	}
}
