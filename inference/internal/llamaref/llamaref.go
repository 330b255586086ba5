// Package llamaref runs llama.cpp as a reference for Hearth's engine: it
// starts the node-llama-cpp CLI in .ci/tools/llamaref (llama.cpp's prebuilt
// CPU build) and parses the one JSON object it prints. Tests use it to check
// logits, greedy ids and tokenization against llama.cpp, and benchmarks to
// measure llama.cpp's speed on the same model.
//
// Requests go to long-lived `llamaref.mjs --serve` node processes (at most
// MaxParallel, each answering one request at a time) that keep llama.cpp and
// the models loaded. Identical calls are answered once per process and cached
// (bench calls excepted: they are measurements).
package llamaref

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxParallel bounds how many requests (and node processes) run at once.
const MaxParallel = 2

// DefaultTimeout bounds a Run whose context has no deadline.
const DefaultTimeout = 5 * time.Minute

// TopEntry is one of the largest step-0 logits.
type TopEntry struct {
	ID    int32
	Logit float32
}

// UnmarshalJSON reads the CLI's [id, logit] pair.
func (e *TopEntry) UnmarshalJSON(b []byte) error {
	var pair []float64
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("llamaref: top entry: %w", err)
	}
	if len(pair) != 2 {
		return fmt.Errorf("llamaref: top entry has %d numbers, want [id, logit]", len(pair))
	}
	e.ID = int32(pair[0])
	e.Logit = float32(pair[1]) // the CLI prints float32 values exactly
	return nil
}

// Config is the llama.cpp setup a call used.
type Config struct {
	Threads        int    `json:"threads"`
	Ctx            int    `json:"ctx"`
	Batch          int    `json:"batch"`
	KVType         string `json:"kv_type"`
	FlashAttention bool   `json:"flash_attention"`
	Seed           int    `json:"seed"`
	GPU            bool   `json:"gpu"`
	Mmap           bool   `json:"mmap"`
}

// Result is the CLI's output; which fields are set depends on the mode.
type Result struct {
	Mode  string `json:"mode"`
	Model string `json:"model"`

	// eval
	NVocab      int        `json:"n_vocab"`
	BOS         *int32     `json:"bos"` // nil when the model has none
	AddBOS      bool       `json:"add_bos"`
	PromptIDs   []int32    `json:"prompt_ids"`
	Step0Logits []float32  `json:"step0_logits"` // full vocabulary, after the last prompt position
	Step0Top    []TopEntry `json:"step0_top"`    // largest first, ties by id
	// IDs are the greedy ids (eval) or the tokenization (tokenize).
	IDs []int32 `json:"ids"`
	// Text is the detokenized IDs (eval) or the detokenization (detokenize).
	Text string `json:"text"`
	// IDsList and Texts answer --texts-json (tokenize) and --ids-json
	// (detokenize): one entry per input.
	IDsList [][]int32 `json:"ids_list"`
	Texts   []string  `json:"texts"`
	// StepLogits[i] are the logits IDs[i] was chosen from (--step-logits).
	StepLogits [][]float32 `json:"step_logits"`
	// PromptLogits[i] are the logits after prompt position i (--prompt-logits).
	PromptLogits [][]float32 `json:"prompt_logits"`
	EvalMs       float64     `json:"eval_ms"`

	// bench: PrefillTokS and DecodeTokS come from llama.cpp's own counters;
	// TTFTms and the Wall* rates are wall-clock around node-llama-cpp calls.
	PromptTokens    int     `json:"prompt_tokens"`
	GenTokens       int     `json:"gen_tokens"`
	Reps            int     `json:"reps"`
	PrefillTokS     float64 `json:"prefill_tok_s"`
	DecodeTokS      float64 `json:"decode_tok_s"`
	TTFTms          float64 `json:"ttft_ms"`
	WallPrefillTokS float64 `json:"wall_prefill_tok_s"`
	WallDecodeTokS  float64 `json:"wall_decode_tok_s"`

	// eval and bench
	Config              Config `json:"config"`
	LlamaCppVersion     string `json:"llama_cpp_version"`
	LlamaCppRepo        string `json:"llama_cpp_repo"`
	NodeLlamaCppVersion string `json:"node_llama_cpp_version"`
	BuildType           string `json:"build_type"`
	CPUBackend          string `json:"cpu_backend"`
	SystemInfo          string `json:"system_info"`
}

// maxCachedLogits bounds the logits of a result kept in the cache (64 MiB).
const maxCachedLogits = 16 << 20

// logitCount is how many logits r holds.
func (r *Result) logitCount() int {
	n := len(r.Step0Logits)
	for _, row := range r.StepLogits {
		n += len(row)
	}
	for _, row := range r.PromptLogits {
		n += len(row)
	}
	return n
}

// clone returns a deep copy, so callers cannot change cached results.
func (r *Result) clone() *Result {
	c := *r
	if r.BOS != nil {
		b := *r.BOS
		c.BOS = &b
	}
	c.PromptIDs = cloneSlice(r.PromptIDs)
	c.Step0Logits = cloneSlice(r.Step0Logits)
	c.Step0Top = cloneSlice(r.Step0Top)
	c.IDs = cloneSlice(r.IDs)
	c.IDsList = cloneRows(r.IDsList)
	c.Texts = cloneSlice(r.Texts)
	c.StepLogits = cloneRows(r.StepLogits)
	c.PromptLogits = cloneRows(r.PromptLogits)
	return &c
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T(nil), s...)
}

func cloneRows[T any](rows [][]T) [][]T {
	if rows == nil {
		return nil
	}
	out := make([][]T, len(rows))
	for i, r := range rows {
		out[i] = cloneSlice(r)
	}
	return out
}

// call is one request, shared by identical concurrent calls.
type call struct {
	done chan struct{}
	res  *Result
	err  error
}

var (
	sem = make(chan struct{}, MaxParallel) // a slot per request in flight

	mu       sync.Mutex           // guards calls, idle, requests and started
	calls    = map[string]*call{} // finished (successful) and in-flight calls by key
	idle     []*worker            // workers waiting for a request
	requests int                  // requests sent to node; read by tests
	started  int                  // workers started; read by tests
)

// Run answers one llamaref.mjs command line (its flags, e.g. "--model", path,
// "--steps", "40") and returns the parsed output. Prefer the "--flag=value"
// form for values that may start with "-". Identical calls return a cached
// copy, except in bench mode; a changed model file is a new call.
func Run(ctx context.Context, args ...string) (*Result, error) {
	args, stamp, err := normalize(args)
	if err != nil {
		return nil, err
	}
	if modeOf(args) == "bench" {
		return execute(ctx, args)
	}
	key := stamp + "\x00" + strings.Join(args, "\x00")
	for {
		mu.Lock()
		c, ok := calls[key]
		if !ok {
			c = &call{done: make(chan struct{})}
			calls[key] = c
			mu.Unlock()
			c.res, c.err = execute(ctx, args)
			if c.err != nil || c.res.logitCount() > maxCachedLogits {
				mu.Lock()
				delete(calls, key) // retry failures; do not keep huge results
				mu.Unlock()
			}
			close(c.done)
			if c.err != nil {
				return nil, c.err
			}
			return c.res.clone(), nil
		}
		mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("llamaref: %w", ctx.Err())
		}
		if c.err == nil {
			return c.res.clone(), nil
		}
		// The leader's own context may have ended; with ours alive, try again.
		if isContextErr(c.err) && ctx.Err() == nil {
			continue
		}
		return nil, c.err
	}
}

// normalize makes the --model path absolute (workers outlive working-dir
// changes) and returns a stamp of the model file (size, mtime) for the
// cache key. A missing file is left for the CLI to report.
func normalize(args []string) ([]string, string, error) {
	out := slices.Clone(args)
	var model string
	for i, a := range out {
		var p *string
		switch {
		case a == "--model" && i+1 < len(out):
			p = &out[i+1]
		case strings.HasPrefix(a, "--model="):
			v := strings.TrimPrefix(a, "--model=")
			abs, err := filepath.Abs(v)
			if err != nil {
				return nil, "", fmt.Errorf("llamaref: model path: %w", err)
			}
			out[i], model = "--model="+abs, abs
			continue
		default:
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, "", fmt.Errorf("llamaref: model path: %w", err)
		}
		*p, model = abs, abs
	}
	stamp := ""
	if st, err := os.Stat(model); err == nil {
		stamp = fmt.Sprintf("%d/%d", st.Size(), st.ModTime().UnixNano())
	}
	return out, stamp, nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// modeOf returns the --mode flag's value in args ("eval" when absent).
func modeOf(args []string) string {
	mode := "eval"
	for i, a := range args {
		switch {
		case a == "--mode" && i+1 < len(args):
			mode = args[i+1]
		case strings.HasPrefix(a, "--mode="):
			mode = strings.TrimPrefix(a, "--mode=")
		}
	}
	return mode
}

// execute sends one request to an idle worker (or a new one), at most
// MaxParallel at a time.
func execute(ctx context.Context, args []string) (*Result, error) {
	t, err := findTools()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("llamaref: waiting for a slot: %w", ctx.Err())
	}
	defer func() { <-sem }()

	mu.Lock()
	var w *worker
	if n := len(idle); n > 0 {
		w, idle = idle[n-1], idle[:n-1]
	}
	requests++
	mu.Unlock()
	if w == nil {
		if w, err = startWorker(t); err != nil {
			return nil, err
		}
		mu.Lock()
		started++
		mu.Unlock()
	}
	res, healthy, err := w.do(ctx, args)
	if healthy {
		mu.Lock()
		idle = append(idle, w)
		mu.Unlock()
	}
	return res, err
}

// Close stops the idle node workers; later calls start new ones. Workers
// also end by themselves when this process exits.
func Close() {
	mu.Lock()
	ws := idle
	idle = nil
	mu.Unlock()
	for _, w := range ws {
		w.close()
	}
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Eval feeds exactly promptIDs (no BOS is added) and returns the step-0
// logits and steps greedy ids; extra are more CLI flags, e.g. "--top=5".
func Eval(ctx context.Context, model string, promptIDs []int32, steps int, extra ...string) (*Result, error) {
	args := []string{"--model=" + model, "--prompt-ids=" + joinIDs(promptIDs), "--no-bos",
		"--steps=" + strconv.Itoa(steps)}
	return Run(ctx, append(args, extra...)...)
}

// Tokenize returns llama.cpp's tokenization of text with the model's (or vocab
// file's) tokenizer, without BOS/EOS; special parses special-token text such
// as "<s>".
func Tokenize(ctx context.Context, model, text string, special bool) ([]int32, error) {
	args := []string{"--mode=tokenize", "--model=" + model, "--text=" + text}
	if special {
		args = append(args, "--special")
	}
	res, err := Run(ctx, args...)
	if err != nil {
		return nil, err
	}
	if res.IDs == nil {
		res.IDs = []int32{}
	}
	return res.IDs, nil
}

// Detokenize returns llama.cpp's text for ids; special renders special
// tokens as their text.
func Detokenize(ctx context.Context, model string, ids []int32, special bool) (string, error) {
	args := []string{"--mode=detokenize", "--model=" + model, "--ids=" + joinIDs(ids)}
	if special {
		args = append(args, "--special")
	}
	res, err := Run(ctx, args...)
	if err != nil {
		return "", err
	}
	return res.Text, nil
}

// TokenizeAll is Tokenize for many texts in one request.
func TokenizeAll(ctx context.Context, model string, texts []string, special bool) ([][]int32, error) {
	if texts == nil {
		texts = []string{}
	}
	js, err := json.Marshal(texts)
	if err != nil {
		return nil, fmt.Errorf("llamaref: texts: %w", err)
	}
	args := []string{"--mode=tokenize", "--model=" + model, "--texts-json=" + string(js)}
	if special {
		args = append(args, "--special")
	}
	res, err := Run(ctx, args...)
	if err != nil {
		return nil, err
	}
	if len(res.IDsList) != len(texts) {
		return nil, fmt.Errorf("llamaref: tokenize returned %d lists for %d texts", len(res.IDsList), len(texts))
	}
	for i := range res.IDsList {
		if res.IDsList[i] == nil {
			res.IDsList[i] = []int32{}
		}
	}
	return res.IDsList, nil
}

// DetokenizeAll is Detokenize for many id lists in one request.
func DetokenizeAll(ctx context.Context, model string, lists [][]int32, special bool) ([]string, error) {
	parts := make([]string, len(lists))
	for i, ids := range lists {
		parts[i] = "[" + joinIDs(ids) + "]"
	}
	args := []string{"--mode=detokenize", "--model=" + model, "--ids-json=[" + strings.Join(parts, ",") + "]"}
	if special {
		args = append(args, "--special")
	}
	res, err := Run(ctx, args...)
	if err != nil {
		return nil, err
	}
	if len(res.Texts) != len(lists) {
		return nil, fmt.Errorf("llamaref: detokenize returned %d texts for %d lists", len(res.Texts), len(lists))
	}
	return res.Texts, nil
}

// joinIDs formats ids as the CLI's comma-separated list.
func joinIDs(ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(int64(id), 10)
	}
	return strings.Join(parts, ",")
}
