package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hearth-p2p/hearth/node/runtime"
)

// machineJSON is the --machine --json report of `hearth bench`.
type machineJSON struct {
	runtime.MachineBench
	// Cached says the figures come from the data directory's cache.
	Cached bool `json:"cached"`
}

// runMachineBench runs (or reads the cached) machine benchmark and prints
// tokens a second through one 1B layer and through a whole 1B model.
func runMachineBench(ctx context.Context, env *Env, threads int, dataDir string, rerun, asJSON bool) error {
	b, cached, err := runtime.MachineBenchFor(ctx, dataDir, threads, rerun)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(machineJSON{MachineBench: b, Cached: cached})
	}
	how := fmt.Sprintf("measured in %.1f s", b.TookMs/1e3)
	if cached {
		how = "cached " + b.At.Local().Format("2006-01-02 15:04") + "; --rerun measures again"
	}
	cpu := b.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	fmt.Fprintf(env.Stdout, "machine: %s, %d threads, %s kernels (%s)\n", cpu, b.Threads, b.Kernels, how)
	fmt.Fprintf(env.Stdout, "per layer: %.0f tok/s (1B layer, %s, %.1f MB)\n", b.LayerTokS, b.Weights, float64(b.LayerBytes)/1e6)
	fmt.Fprintf(env.Stdout, "1B model:  %.1f tok/s (22 layers and the head, %.1f ms)\n", b.Model1BTokS, b.HeadMs)
	return nil
}
