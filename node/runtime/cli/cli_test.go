package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sharedModel returns the path of a model in ../shared/models beside the
// repository.
func sharedModel(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(defaultModelsDir(), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared model: %v", err)
	}
	return p
}

func runMain(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

const stories260KGreedy = "403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352"

func TestRunJSONContract(t *testing.T) {
	model := sharedModel(t, "stories260K.gguf")
	var want []int32
	for _, f := range strings.Fields(stories260KGreedy) {
		var v int32
		if err := json.Unmarshal([]byte(f), &v); err != nil {
			t.Fatal(err)
		}
		want = append(want, v)
	}
	for _, extra := range [][]string{{"--threads", "1"}, {"--threads", "2"}, {"--split", "2,4", "--threads", "2"}, {"--split", "1,2,3,4", "--threads", "1"}} {
		args := append([]string{"run", "--model", model, "--temperature", "0", "--max-tokens", "40", "--json"}, extra...)
		out, errs, code := runMain(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, errs)
		}
		var res runJSON
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %v in %q", extra, err, out)
		}
		if !slices.Equal(res.PromptIDs, []int32{1}) || !slices.Equal(res.IDs, want) {
			t.Fatalf("%v: prompt %v ids %v", extra, res.PromptIDs, res.IDs)
		}
		if !strings.HasPrefix(res.Text, " Once upon a time, there was a little girl named Lily.") {
			t.Errorf("%v: text %q", extra, res.Text)
		}
		if len(res.Step0Top) != 5 || res.Step0Top[0][0] != 403 || res.PrefillTokS <= 0 || res.DecodeTokS <= 0 {
			t.Errorf("%v: step0_top %v prefill %v decode %v", extra, res.Step0Top, res.PrefillTokS, res.DecodeTokS)
		}
	}
}

func TestRunStreamsText(t *testing.T) {
	model := sharedModel(t, "stories260K.gguf")
	out, errs, code := runMain(t, "run", "--model", model, "--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "12")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, ", there was a little girl") {
		t.Errorf("stdout %q", out)
	}
	if !strings.Contains(errs, "generated 12 tokens") {
		t.Errorf("stderr %q", errs)
	}
}

func TestSampledRunIsReproducible(t *testing.T) {
	model := sharedModel(t, "TinyStories-656K-Q8_0.gguf")
	args := []string{"run", "--model", model, "--temperature", "0.9", "--seed", "7", "--max-tokens", "30", "--json"}
	a, _, code := runMain(t, args...)
	b, _, code2 := runMain(t, args...)
	if code != 0 || code2 != 0 {
		t.Fatal("run failed")
	}
	var ra, rb runJSON
	if json.Unmarshal([]byte(a), &ra) != nil || json.Unmarshal([]byte(b), &rb) != nil {
		t.Fatal("bad json")
	}
	if !slices.Equal(ra.IDs, rb.IDs) || len(ra.IDs) == 0 {
		t.Fatalf("same seed, different ids: %v vs %v", ra.IDs, rb.IDs)
	}
}

func TestRunErrors(t *testing.T) {
	model := sharedModel(t, "stories260K.gguf")
	garbage := filepath.Join(t.TempDir(), "garbage.gguf")
	if err := os.WriteFile(garbage, []byte("GGUF\x03\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run"}, 2, "--model is required"},
		{[]string{"run", "--model", model, "--split", "x"}, 2, "--split"},
		{[]string{"run", "--model", model, "--split", "9"}, 1, "cut at layer 9 is outside (0,5)"},
		{[]string{"run", "--model", model, "--split", "3,2"}, 1, "must increase"},
		{[]string{"run", "--model", model, "--top-p", "2"}, 2, "top"},
		{[]string{"run", "--model", filepath.Join(t.TempDir(), "missing.gguf")}, 1, "no such file"},
		{[]string{"run", "--model", garbage}, 1, "truncated"},
		{[]string{"nosuchcommand"}, 2, "unknown command"},
		{[]string{"synth", "--preset", "nope", "--out", "x"}, 2, "unknown preset"},
	}
	for _, c := range cases {
		_, errs, code := runMain(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d stderr %q, want exit %d containing %q", c.args, code, errs, c.code, c.msg)
		}
	}
}

func TestSynthThenRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	stdout, errs, code := runMain(t, "synth", "--preset", "qwen2-tiny-q8_0", "--out", out)
	if code != 0 || !strings.Contains(stdout, "wrote") {
		t.Fatalf("synth: exit %d %s %s", code, stdout, errs)
	}
	var runs []runJSON
	for _, split := range []string{"", "2"} {
		args := []string{"run", "--model", out, "--prompt", "Hello world", "--temperature", "0", "--max-tokens", "8", "--json"}
		if split != "" {
			args = append(args, "--split", split)
		}
		stdout, errs, code = runMain(t, args...)
		if code != 0 {
			t.Fatalf("run: exit %d %s", code, errs)
		}
		var res runJSON
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, res)
	}
	// gpt2 BPE: "Hello world" is [15496, 995]; qwen2 adds no BOS.
	if !slices.Equal(runs[0].PromptIDs, []int32{15496, 995}) {
		t.Errorf("prompt ids %v", runs[0].PromptIDs)
	}
	if len(runs[0].IDs) != 8 || !slices.Equal(runs[0].IDs, runs[1].IDs) {
		t.Errorf("ids %v vs split %v", runs[0].IDs, runs[1].IDs)
	}
}
