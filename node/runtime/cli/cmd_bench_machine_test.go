package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/tensor"
	hearthruntime "github.com/hearth-p2p/hearth/node/runtime"
)

// TestBenchMachineJSON: `hearth bench --machine --json` measures the
// synthetic shard, reports positive per-layer and 1B figures for the
// threads asked, caches them in the data directory and reuses them.
func TestBenchMachineJSON(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) map[string]any {
		t.Helper()
		out, errs, code := runMain(t, append([]string{"bench", "--machine", "--threads", "1", "--data-dir", dir}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if !strings.Contains(strings.Join(args, " "), "--json") {
			return map[string]any{"text": out}
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		return res
	}
	first := run("--json")
	for _, k := range []string{"layer_tok_s", "model_1b_tok_s", "layer_bytes", "steps", "took_ms"} {
		if v, ok := first[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, first[k])
		}
	}
	if first["threads"].(float64) != 1 || first["kernels"] != tensor.KernelSet() || first["weights"] != "Q4_K" || first["cached"] != false {
		t.Errorf("threads %v kernels %v weights %v cached %v", first["threads"], first["kernels"], first["weights"], first["cached"])
	}
	if first["model_1b_tok_s"].(float64)*22 > first["layer_tok_s"].(float64) {
		t.Errorf("a 1B model (%v tok/s) cannot be faster than a 22nd of one layer (%v tok/s)", first["model_1b_tok_s"], first["layer_tok_s"])
	}
	if _, err := os.Stat(filepath.Join(dir, hearthruntime.MachineBenchFile)); err != nil {
		t.Fatal(err)
	}
	again := run("--json")
	if again["cached"] != true || again["layer_tok_s"] != first["layer_tok_s"] || again["at"] != first["at"] {
		t.Errorf("second run: cached %v, layer tok/s %v (first %v)", again["cached"], again["layer_tok_s"], first["layer_tok_s"])
	}
	text := run()["text"].(string)
	for _, want := range []string{"per layer:", "1B model:", "tok/s", "cached", "1 threads"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	if _, errs, code := runMain(t, "bench", "--machine", "--model", "x.gguf"); code == 0 || !strings.Contains(errs, "--machine") {
		t.Errorf("--machine with --model: exit %d, %s", code, errs)
	}
}
