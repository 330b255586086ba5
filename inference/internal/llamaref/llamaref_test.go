package llamaref

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The reference outputs of /work/shared/models/README.md ("Reference greedy
// outputs"): 40 greedy steps from BOS alone.
var references = []struct {
	file string
	ids  []int32
	// The README's step-0 top-5 as (piece, logit); ids are the tokens whose
	// pieces these are, checked through llama.cpp's detokenizer below.
	topIDs    []int32
	topPieces []string
	topLogits []float32
	// tol bounds |llama.cpp − README| per top logit. The README's logits
	// come from a float64 forward pass. On the F32 model llama.cpp (F32 KV
	// cache) agrees to ~1e-5. On the Q8_0 model llama.cpp rounds activations
	// to Q8_0 before every Q8_0 matmul (ggml's vec_dot_type for Q8_0), so
	// its logits differ by up to ~0.04; ids and order still match.
	tol float64
	// text is the README's text of the ids, without its leading space.
	text string
}{
	{
		file:      "stories260K.gguf",
		ids:       []int32{403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352},
		topIDs:    []int32{403, 385, 410, 317, 407},
		topPieces: []string{"▁Once", "▁One", "▁", "▁Lily", "▁upon"},
		topLogits: []float32{17.0235, 15.4062, 13.1083, 12.7692, 12.4181},
		tol:       1e-3,
		text:      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, r",
	},
	{
		file:      "TinyStories-656K-Q8_0.gguf",
		ids:       []int32{147, 201, 282, 215, 286, 598, 1662, 356, 499, 826, 1363, 1145, 1652, 615, 242, 1482, 951, 628, 499, 826, 872, 921, 318, 385, 628, 499, 826, 617, 242, 198, 1047, 425, 1939, 122, 1924, 1171, 94, 303, 328, 229},
		topIDs:    []int32{147, 429, 1166, 299, 875},
		topPieces: []string{"On", "One▁day,▁a▁", "Anna", "One▁day,▁", "Tom▁and▁"},
		topLogits: []float32{14.7956, 12.9829, 10.1054, 9.9273, 9.8102},
		tol:       0.05,
		text:      "Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much. One day, she went to the park to play with her toy car in the park. Lily was very happy with her toy car because she had no one to play with.\nWhile playing, Lily saw a little ",
	},
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestReferenceGreedy(t *testing.T) {
	Require(t)
	for _, ref := range references {
		t.Run(ref.file, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			model := ModelPath(ref.file)
			res, err := Run(ctx, "--model="+model, "--steps=40", "--top=5")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.PromptIDs, []int32{1}) || !res.AddBOS {
				t.Errorf("prompt ids %v (add_bos %v), want [1] (BOS alone)", res.PromptIDs, res.AddBOS)
			}
			if !slices.Equal(res.IDs, ref.ids) {
				t.Errorf("greedy ids\n got %v\nwant %v", res.IDs, ref.ids)
			}
			if len(res.Step0Logits) != res.NVocab || res.NVocab == 0 {
				t.Fatalf("step0 logits: %d values, n_vocab %d", len(res.Step0Logits), res.NVocab)
			}
			if len(res.Step0Top) != len(ref.topIDs) {
				t.Fatalf("step0 top has %d entries, want %d", len(res.Step0Top), len(ref.topIDs))
			}
			for i, e := range res.Step0Top {
				if e.ID != ref.topIDs[i] {
					t.Errorf("top[%d] id %d, want %d (%s)", i, e.ID, ref.topIDs[i], ref.topPieces[i])
				}
				if e.Logit != res.Step0Logits[e.ID] {
					t.Errorf("top[%d] logit %v, but step0_logits[%d] = %v", i, e.Logit, e.ID, res.Step0Logits[e.ID])
				}
				if d := math.Abs(float64(e.Logit) - float64(ref.topLogits[i])); d > ref.tol {
					t.Errorf("top[%d] %s logit %.5f, README %.4f (|diff| %.2g > %g)", i, ref.topPieces[i], e.Logit, ref.topLogits[i], d, ref.tol)
				}
			}
			// Every other logit must be below the top 5.
			for id, l := range res.Step0Logits {
				if !slices.Contains(ref.topIDs, int32(id)) && l > res.Step0Top[len(res.Step0Top)-1].Logit {
					t.Errorf("logit of %d (%v) exceeds the 5th largest", id, l)
				}
			}
			// The README's pieces are the pieces of these ids.
			lists := make([][]int32, len(ref.topIDs))
			for i, id := range ref.topIDs {
				lists[i] = []int32{id}
			}
			pieces, err := DetokenizeAll(ctx, model, lists, true)
			if err != nil {
				t.Fatal(err)
			}
			for i, piece := range pieces {
				want := strings.ReplaceAll(ref.topPieces[i], "▁", " ")
				if strings.TrimLeft(piece, " ") != strings.TrimLeft(want, " ") {
					t.Errorf("token %d is %q, README says %q", ref.topIDs[i], piece, ref.topPieces[i])
				}
			}
		})
	}
}

// Feeding explicit ids with Eval gives the same step as BOS-only prompting,
// and --step-logits returns the logits each greedy id was chosen from.
func TestEvalStepLogits(t *testing.T) {
	Require(t)
	t.Parallel()
	ctx := testContext(t)
	ref := references[0]
	res, err := Eval(ctx, ModelPath(ref.file), []int32{1, ref.ids[0], ref.ids[1]}, 4, "--step-logits", "--prompt-logits")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.PromptIDs, []int32{1, ref.ids[0], ref.ids[1]}) {
		t.Fatalf("prompt ids %v", res.PromptIDs)
	}
	if !slices.Equal(res.IDs, ref.ids[2:6]) {
		t.Errorf("ids %v, want %v", res.IDs, ref.ids[2:6])
	}
	if len(res.StepLogits) != 4 || len(res.PromptLogits) != 3 {
		t.Fatalf("%d step logits, %d prompt logits; want 4 and 3", len(res.StepLogits), len(res.PromptLogits))
	}
	if !slices.Equal(res.StepLogits[0], res.Step0Logits) || !slices.Equal(res.PromptLogits[2], res.Step0Logits) {
		t.Errorf("step_logits[0] / prompt_logits[2] differ from step0_logits")
	}
	for i, logits := range res.StepLogits {
		if got := argmax(logits); got != res.IDs[i] {
			t.Errorf("step %d: id %d, but the argmax of its logits is %d", i, res.IDs[i], got)
		}
	}
	// Prompt position p predicts prompt token p+1 in the greedy reference.
	for p := 0; p < 2; p++ {
		if got := argmax(res.PromptLogits[p]); got != ref.ids[p] {
			t.Errorf("prompt position %d: argmax %d, want %d", p, got, ref.ids[p])
		}
	}
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

func TestTokenizeRoundTrip(t *testing.T) {
	Require(t)
	t.Parallel()
	ctx := testContext(t)
	model := ModelPath("stories260K.gguf")
	texts := []string{
		"Lily saw a big, red ball.",
		"Hello\nworld",
		"two  spaces, tabs\tand 42 numbers",
		"café 🙂 – byte fallback",
		"--text-like=value",
		references[0].text,
		"<s>",
	}
	lists, err := TokenizeAll(ctx, model, texts, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, ids := range lists {
		if len(ids) == 0 {
			t.Errorf("%q: no tokens", texts[i])
		}
		for _, id := range ids {
			if id < 0 || id >= 512 {
				t.Errorf("%q: id %d outside the 512-token vocabulary", texts[i], id)
			}
		}
	}
	back, err := DetokenizeAll(ctx, model, lists, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range back {
		if text != texts[i] {
			t.Errorf("round trip of %q gave %q (ids %v)", texts[i], text, lists[i])
		}
	}
	// The README's reference text tokenizes to exactly its greedy ids.
	if !slices.Equal(lists[5], references[0].ids) {
		t.Errorf("tokenize(README text)\n got %v\nwant %v", lists[5], references[0].ids)
	}
	// Special-token text is parsed only when asked.
	special, err := Tokenize(ctx, model, "<s>", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(special, []int32{1}) || slices.Contains(lists[6], 1) {
		t.Errorf(`"<s>": special %v (want [1]), plain %v (want no BOS)`, special, lists[6])
	}
	// The single-text form agrees with the batch form.
	one, err := Tokenize(ctx, model, texts[0], false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(one, lists[0]) {
		t.Errorf("Tokenize(%q) = %v, TokenizeAll gave %v", texts[0], one, lists[0])
	}
}

// The vocab-only GGUFs load (no tensors) and match llama.cpp's own
// tokenizer test vectors (.inp/.out), all 46 of each.
func TestTokenizeVocabOnly(t *testing.T) {
	Require(t)
	t.Parallel()
	ctx := testContext(t)
	dir := filepath.Join(ModelsDir(), "vocab")
	for _, vocab := range []string{"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf"} {
		inp, err := os.ReadFile(filepath.Join(dir, vocab+".inp"))
		if err != nil {
			t.Fatal(err)
		}
		const sep = "\n__ggml_vocab_test__\n"
		texts := strings.Split(strings.TrimSuffix(string(inp), sep), sep)
		out, err := os.ReadFile(filepath.Join(dir, vocab+".out"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(texts) != 46 || len(lines) != len(texts) {
			t.Fatalf("%s: %d texts, %d expected lines; want 46 each", vocab, len(texts), len(lines))
		}
		got, err := TokenizeAll(ctx, filepath.Join(dir, vocab), texts, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range lines {
			want := []int32{}
			for f := range strings.FieldsSeq(line) {
				id, err := strconv.ParseInt(f, 10, 32)
				if err != nil {
					t.Fatalf("%s.out line %d: %v", vocab, i+1, err)
				}
				want = append(want, int32(id))
			}
			if !slices.Equal(got[i], want) {
				t.Errorf("%s vector %d %q: got %v, want %v", vocab, i, texts[i], got[i], want)
			}
		}
	}
}

func TestBenchSmoke(t *testing.T) {
	Require(t)
	t.Parallel()
	ctx := testContext(t)
	res, err := Run(ctx, "--mode=bench", "--model="+ModelPath("stories260K.gguf"),
		"--prompt-tokens=8", "--gen-tokens=4", "--threads=1")
	if err != nil {
		t.Fatal(err)
	}
	if res.PromptTokens != 8 || res.GenTokens != 4 || res.Config.Threads != 1 {
		t.Errorf("bench ran %d+%d tokens on %d threads, want 8+4 on 1", res.PromptTokens, res.GenTokens, res.Config.Threads)
	}
	for name, v := range map[string]float64{
		"prefill_tok_s": res.PrefillTokS, "decode_tok_s": res.DecodeTokS, "ttft_ms": res.TTFTms,
		"wall_prefill_tok_s": res.WallPrefillTokS, "wall_decode_tok_s": res.WallDecodeTokS,
	} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v, want a positive number", name, v)
		}
	}
	if res.LlamaCppVersion == "" || res.NodeLlamaCppVersion == "" {
		t.Errorf("no version info: llama.cpp %q, node-llama-cpp %q", res.LlamaCppVersion, res.NodeLlamaCppVersion)
	}
	t.Logf("llama.cpp %s (%s): prefill %.0f tok/s, decode %.0f tok/s, ttft %.2f ms",
		res.LlamaCppVersion, res.CPUBackend, res.PrefillTokS, res.DecodeTokS, res.TTFTms)
}

func counter(p *int) int {
	mu.Lock()
	defer mu.Unlock()
	return *p
}

// Sequential calls reuse one node worker; a relative model path is resolved
// against the caller's working dir, not the worker's.
func TestWorkerReuse(t *testing.T) {
	Require(t)
	ctx := testContext(t)
	Close()
	before := counter(&started)
	model := ModelPath("stories260K.gguf")
	rel, err := filepath.Rel(filepath.Dir(filepath.Dir(model)), model)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Tokenize(ctx, model, "reuse one", false); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Dir(filepath.Dir(model)))
	for _, text := range []string{"reuse two", "reuse three"} {
		if _, err := Tokenize(ctx, rel, text, false); err != nil {
			t.Fatal(err)
		}
	}
	if n := counter(&started) - before; n != 1 {
		t.Errorf("3 sequential calls started %d workers, want 1", n)
	}
}

// A cancelled request kills its worker; the next call gets a fresh one.
func TestRunCancel(t *testing.T) {
	Require(t)
	ctx := testContext(t)
	model := ModelPath("stories260K.gguf")
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	// 5000 greedy steps take seconds (over 0.3 ms each).
	_, err := Run(short, "--model="+model, "--steps=5000", "--top=1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want a deadline error", err)
	}
	res, err := Run(ctx, "--model="+model, "--steps=2", "--top=1", "--prompt=after cancel")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IDs) != 2 {
		t.Errorf("ids %v after a cancelled call", res.IDs)
	}
}

// Identical concurrent calls start node once and share the result; callers
// get independent copies. Not parallel: no other test starts node meanwhile.
func TestRunCaches(t *testing.T) {
	Require(t)
	ctx := testContext(t)
	args := []string{"--model=" + ModelPath("stories260K.gguf"), "--steps=3", "--top=2", "--prompt=cache test"}
	before := counter(&requests)
	results := make([]*Result, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i], errs[i] = Run(ctx, args...) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	results[0].IDs[0] = -1
	results[0].Step0Logits[0] = 1e9
	again, err := Run(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n := counter(&requests) - before; n != 1 {
		t.Errorf("sent %d requests to node for 5 identical calls, want 1", n)
	}
	for i, r := range append(results[1:], again) {
		if len(r.IDs) != 3 || r.IDs[0] == -1 || r.Step0Logits[0] == 1e9 {
			t.Errorf("result %d: ids %v, logit[0] %v: shares memory with result 0", i+1, r.IDs, r.Step0Logits[0])
		}
	}
}

func TestRunErrors(t *testing.T) {
	Require(t)
	ctx := testContext(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing model", []string{"--model=" + filepath.Join(t.TempDir(), "none.gguf")}, "model file not found"},
		{"bad flag", []string{"--model=" + ModelPath("stories260K.gguf"), "--bogus"}, "bogus"},
		{"bad id", []string{"--model=" + ModelPath("stories260K.gguf"), "--prompt-ids=1,x"}, "not a token id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(ctx, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestModelsDir(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "repo")
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	t.Setenv(ModelsEnv, "")
	got, err := RepoRoot()
	if err != nil || got != root {
		t.Errorf("RepoRoot() = %q, %v; want %q", got, err, root)
	}
	if got, want := ModelsDir(), filepath.Join(tmp, "shared", "models"); got != want {
		t.Errorf("ModelsDir() = %q, want %q", got, want)
	}
	t.Setenv(ModelsEnv, "/elsewhere")
	if got := ModelsDir(); got != "/elsewhere" {
		t.Errorf("with $%s set, ModelsDir() = %q", ModelsEnv, got)
	}
}

func TestModeOf(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "eval"},
		{[]string{"--model", "m", "--mode", "bench"}, "bench"},
		{[]string{"--mode=tokenize", "--text=x"}, "tokenize"},
		{[]string{"--mode=eval", "--mode", "bench"}, "bench"}, // the last one wins, as in node's parseArgs
	} {
		if got := modeOf(tc.args); got != tc.want {
			t.Errorf("modeOf(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestTopEntryJSON(t *testing.T) {
	var top []TopEntry
	if err := json.Unmarshal([]byte(`[[403,17.023517608642578],[385,15.40621280670166]]`), &top); err != nil {
		t.Fatal(err)
	}
	want := []TopEntry{{403, 17.023517608642578}, {385, 15.40621280670166}}
	if !slices.Equal(top, want) {
		t.Errorf("got %v, want %v", top, want)
	}
	if err := json.Unmarshal([]byte(`[[1,2,3]]`), &top); err == nil {
		t.Errorf("a 3-number entry gave no error")
	}
}
