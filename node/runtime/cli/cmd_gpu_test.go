package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gpu"
)

// gpuReport runs `hearth gpu --json` with args and decodes the report.
func gpuReport(t *testing.T, args ...string) (gpuJSON, string, int) {
	t.Helper()
	out, errs, code := runMain(t, append([]string{"gpu", "--json"}, args...)...)
	var rep gpuJSON
	if code == 0 {
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
	}
	return rep, errs, code
}

func TestGPUCommand(t *testing.T) {
	model := sharedModel(t, "stories260K.gguf")
	rep, errs, code := gpuReport(t, "--allow-cpu", "--check", "--model", model, "--gpu-layers", "1:3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if rep.Chosen == nil {
		if gpu.RequireGPU() {
			t.Fatalf("no adapter: %s", rep.NoAdapter)
		}
		t.Skipf("no WebGPU adapter: %s", rep.NoAdapter)
	}
	if len(rep.Adapters) == 0 || !strings.HasPrefix(rep.Backend, "webgpu:") {
		t.Errorf("adapters %v backend %q", rep.Adapters, rep.Backend)
	}
	if len(rep.Check) < 6 {
		t.Errorf("self-test ran %d formats", len(rep.Check))
	}
	if p := rep.Plan; p == nil || p.From != 1 || p.To != 3 || p.NumLayers != 5 || p.WeightBytes <= 0 || p.CacheBytes <= 0 {
		t.Errorf("plan %+v", rep.Plan)
	}
	if rep.Memory == nil || rep.Memory.Bytes <= 0 {
		t.Errorf("memory %+v", rep.Memory)
	}

	// Text output names the chosen adapter and the plan.
	out, _, code := runMain(t, "gpu", "--allow-cpu", "--model", model, "--gpu-layers", "all")
	if code != 0 || !strings.Contains(out, "using #") || !strings.Contains(out, "plan: layers [0,5) of 5") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

// TestGPUCommandRefusesCPUAdapters checks that without --allow-cpu a CPU
// adapter is listed but not chosen.
func TestGPUCommandRefusesCPUAdapters(t *testing.T) {
	t.Setenv(gpu.EnvAllowCPU, "")
	t.Setenv(gpu.EnvAdapter, "")
	rep, errs, code := gpuReport(t)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	onlyCPU := true
	for _, a := range rep.Adapters {
		onlyCPU = onlyCPU && a.Type == "cpu"
	}
	if !onlyCPU {
		t.Skip("this machine has a GPU")
	}
	if rep.Chosen != nil || (len(rep.Adapters) > 0 && rep.NoAdapter == "") {
		t.Errorf("chose %v (no-adapter %q) among CPU adapters only", rep.Chosen, rep.NoAdapter)
	}
	out, _, _ := runMain(t, "gpu")
	if !strings.Contains(out, "Hearth runs on the CPU") {
		t.Errorf("output:\n%s", out)
	}
}

func TestGPUCommandUsage(t *testing.T) {
	model := sharedModel(t, "stories260K.gguf")
	_, _, code := runMain(t, "gpu", "--allow-cpu", "--model", model, "--gpu-layers", "3:9")
	if code != 2 && code != 0 {
		t.Errorf("bad --gpu-layers: exit %d, want 2 (or 0 with no adapter)", code)
	}
	if _, _, code := runMain(t, "gpu", "--bogus"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
}
