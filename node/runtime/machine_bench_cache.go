package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/node/hardware"
)

// MachineBenchFile is the cached machine benchmark's name in the data
// directory.
const MachineBenchFile = "machine-bench.json"

// MachineKeyFor is the key a benchmark on threads threads (<= 0: one per
// CPU) of this machine has now.
func MachineKeyFor(ctx context.Context, threads int) MachineKey {
	if threads <= 0 {
		threads = goruntime.NumCPU()
	}
	return MachineKey{Version: benchVersion, CPU: hardware.CPUModel(ctx), Threads: threads, Kernels: tensor.KernelSet()}
}

// LoadMachineBench reads the cached benchmark of dataDir; ok is false when
// there is none, it cannot be read, or it was measured under another key.
func LoadMachineBench(dataDir string, key MachineKey) (MachineBench, bool) {
	raw, err := os.ReadFile(filepath.Join(dataDir, MachineBenchFile))
	if err != nil {
		return MachineBench{}, false
	}
	var b MachineBench
	if json.Unmarshal(raw, &b) != nil || b.MachineKey != key || !(b.LayerTokS > 0) || !(b.Model1BTokS > 0) {
		return MachineBench{}, false
	}
	return b, true
}

// saveMachineBench writes b to dataDir atomically.
func saveMachineBench(dataDir string, b MachineBench) error {
	raw, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("save machine bench: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("save machine bench: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, ".machine-bench-*")
	if err != nil {
		return fmt.Errorf("save machine bench: %w", err)
	}
	_, werr := tmp.Write(append(raw, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save machine bench: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dataDir, MachineBenchFile)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save machine bench: %w", err)
	}
	return nil
}

// MachineBenchFor returns the benchmark of this machine on threads threads:
// the one cached in dataDir when it was measured under the same key and
// force is false, else a new one, which it caches ("" dataDir: none).
// cached says which.
func MachineBenchFor(ctx context.Context, dataDir string, threads int, force bool) (b MachineBench, cached bool, err error) {
	key := MachineKeyFor(ctx, threads)
	if !force && dataDir != "" {
		if b, ok := LoadMachineBench(dataDir, key); ok {
			return b, true, nil
		}
	}
	if b, err = RunMachineBench(ctx, key.CPU, key.Threads); err != nil {
		return b, false, err
	}
	if dataDir != "" {
		if err := saveMachineBench(dataDir, b); err != nil {
			return b, false, err
		}
	}
	return b, false, nil
}
