package gpu

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
	"github.com/hearth-p2p/hearth/inference/model/synth"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// synthSteps is how many greedy tokens the synthetic-model tests generate
// (their 32000-row LM heads are the slow part on lavapipe).
const synthSteps = 16

// tolSynthLogits bounds |GPU - CPU| logits on the random-weight presets,
// whose logits spread about ±5: the GPU reproduces the CPU's quantised
// activations, so differences come only from float summation order and
// exp (measured ≤ 4e-5 on lavapipe) or, rarely, a quant that rounds the
// other way after such an ulp.
const tolSynthLogits = 1e-3

// writeSynth writes a preset (modified by edit, if set) into dir.
func writeSynth(t testing.TB, name, dir string, edit func(w *gguf.Writer, p synth.Preset)) string {
	t.Helper()
	p := synth.Presets[name]
	vf, err := gguf.Open(testmodels.Path(t, p.Vocab))
	if err != nil {
		t.Fatal(err)
	}
	defer vf.Close()
	w, err := synth.Build(p, vf.Header)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(w, p)
	}
	path := filepath.Join(dir, name+".gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// synthPrompt is "Once upon a time" after BOS in the preset's vocabulary.
func synthPrompt(p synth.Preset) []int32 {
	if p.Vocab == testmodels.VocabGPT2 {
		return []int32{50256, 7454, 2402, 257, 640}
	}
	return []int32{1, 9038, 2501, 263, 931}
}

// TestSynthPresets runs every tiny preset (F16, Q8_0, Q4_0 with a Q6_K
// head, Q4_K, Q6_K, and qwen2 with biases, NeoX rotary and a tied head) on
// the GPU: greedy ids equal the CPU engine's.
func TestSynthPresets(t *testing.T) {
	d := testDevice(t)
	dir := t.TempDir()
	for _, name := range synth.Names() {
		p := synth.Presets[name]
		if p.Layers > 8 {
			continue // the 1B presets are for benchmarks
		}
		t.Run(name, func(t *testing.T) {
			m := openModel(t, writeSynth(t, name, dir, nil))
			prompt := synthPrompt(p)
			wantIDs, want := generate(t, chainOf(t, m, nil, 0, 0, 64), prompt, synthSteps)
			ids, got := generate(t, chainOf(t, m, d, 0, m.NumLayers, 64), prompt, synthSteps)
			diff := compareRuns(t, ids, wantIDs, got, want)
			t.Logf("%d steps, max |Δlogit| vs CPU %.2e", synthSteps, diff)
			if diff > tolSynthLogits {
				t.Errorf("max |Δlogit| %.2e over %.0e", diff, tolSynthLogits)
			}
		})
	}
}

// TestRopeScaling runs a preset with YaRN scaling and per-pair rope_freqs
// (llama 3.1 style) split CPU/GPU/CPU: ids equal the CPU engine's.
func TestRopeScaling(t *testing.T) {
	d := testDevice(t)
	name := "llama-tiny-q8_0"
	path := writeSynth(t, name, t.TempDir(), func(w *gguf.Writer, p synth.Preset) {
		w.Set("llama.rope.scaling.type", "yarn")
		w.Set("llama.rope.scaling.factor", float32(4))
		w.Set("llama.rope.scaling.original_context_length", uint32(64))
		w.Set("llama.rope.scaling.yarn_ext_factor", float32(1))
		half := p.Dim / p.Heads / 2
		freqs := make([]byte, 4*half)
		for i := 0; i < half; i++ {
			binary.LittleEndian.PutUint32(freqs[4*i:], math.Float32bits(1+float32(i)/4))
		}
		if err := w.AddTensor("rope_freqs.weight", tensor.F32, []uint64{uint64(half)}, freqs); err != nil {
			t.Fatal(err)
		}
	})
	m := openModel(t, path)
	if m.RopeScaling != "yarn" {
		t.Fatalf("rope scaling %q", m.RopeScaling)
	}
	prompt := synthPrompt(synth.Presets[name])
	wantIDs, want := generate(t, chainOf(t, m, nil, 0, 0, 64), prompt, synthSteps)
	ids, got := generate(t, chainOf(t, m, d, 1, 3, 64), prompt, synthSteps)
	diff := compareRuns(t, ids, wantIDs, got, want)
	t.Logf("YaRN + rope_freqs: max |Δlogit| %.2e", diff)
	if diff > tolSynthLogits {
		t.Errorf("max |Δlogit| %.2e over %.0e", diff, tolSynthLogits)
	}
}
