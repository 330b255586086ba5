// Command compare measures Hearth's engine and llama.cpp side by side on
// the same GGUF files and thread count, and states the memory-bandwidth
// ceiling of decoding. Run it from the repository root:
//
//	go run .ci/tools/bench/compare.go [-threads 2] [-reps 5] [-prompt-tokens 128] [-gen-tokens 64]
//
// It builds hearth, writes the synthetic 1B presets once into a cache
// directory (hearth synth), measures the streaming read bandwidth of this
// machine, then runs `hearth bench` and llamaref's bench mode (llama.cpp's
// own timers, see .ci/tools/llamaref) alternately, reps times each, and
// prints the medians and their ratios as a Markdown table. See README.md.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// result is one bench run of one engine.
type result struct {
	Prefill float64 `json:"prefill_tok_s"`
	Decode  float64 `json:"decode_tok_s"`
	TTFT    float64 `json:"ttft_ms"`
	RSS     float64 `json:"peak_rss_bytes"`
	RSSAnon float64 `json:"rss_anon_bytes"`
}

// presetRuns holds every run on one model.
type presetRuns struct {
	Preset        string   `json:"preset"`
	Threads       int      `json:"threads"`
	File          string   `json:"file"`
	FileBytes     int64    `json:"file_bytes"`
	BytesPerToken int64    `json:"weight_bytes_per_token"`
	Hearth        []result `json:"hearth"`
	Llama         []result `json:"llama_cpp"`
}

type report struct {
	Machine      map[string]string  `json:"machine"`
	Threads      []int              `json:"threads"`
	PromptTokens int                `json:"prompt_tokens"`
	GenTokens    int                `json:"gen_tokens"`
	Reps         int                `json:"reps"`
	BandwidthGBs map[string]float64 `json:"read_bandwidth_gb_s"`
	Presets      []*presetRuns      `json:"presets"`
}

func main() {
	cache := flag.String("cache", defaultCache(), "directory for the generated models and the hearth binary")
	presets := flag.String("presets", "llama-1b-q8_0,llama-1b-q4_0,llama-1b-q4_k", "synth presets to compare")
	threadList := flag.String("threads", "2", "thread counts for both engines, e.g. 1,2")
	promptTokens := flag.Int("prompt-tokens", 128, "prompt length (one batch)")
	genTokens := flag.Int("gen-tokens", 64, "decode steps")
	reps := flag.Int("reps", 5, "runs of each engine on each model, alternating")
	jsonOut := flag.String("json", "", "also write every run as JSON to this file")
	llamaref := flag.String("llamaref", ".ci/tools/llamaref/llamaref.mjs", "llamaref script")
	hearth := flag.String("hearth", "", "hearth binary to use (default: go build one into the cache)")
	flag.Parse()
	var threads []int
	for _, f := range strings.Split(*threadList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "compare: bad -threads %q\n", *threadList)
			os.Exit(2)
		}
		threads = append(threads, n)
	}
	if err := run(*cache, *hearth, strings.Split(*presets, ","), threads, *promptTokens, *genTokens, *reps, *jsonOut, *llamaref); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func defaultCache() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "hearth-bench")
	}
	return filepath.Join(os.TempDir(), "hearth-bench")
}

func run(cache, hearth string, presets []string, threads []int, promptTokens, genTokens, reps int, jsonOut, llamaref string) error {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	if hearth == "" {
		hearth = filepath.Join(cache, "hearth")
		logf("building %s", hearth)
		if out, err := exec.Command("go", "build", "-o", hearth, ".").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	rep := &report{Machine: machine(), Threads: threads, PromptTokens: promptTokens, GenTokens: genTokens, Reps: reps,
		BandwidthGBs: map[string]float64{}}
	for _, p := range presets {
		file := filepath.Join(cache, p+".gguf")
		if _, err := os.Stat(file); err != nil {
			logf("generating %s (once; the k-quant presets take minutes)", file)
			start := time.Now()
			if out, err := exec.Command(hearth, "synth", "--preset", p, "--out", file).CombinedOutput(); err != nil {
				return fmt.Errorf("synth %s: %v\n%s", p, err, out)
			}
			logf("  %s in %.0f s", p, time.Since(start).Seconds())
		}
		size, perToken, err := weightBytes(file)
		if err != nil {
			return err
		}
		for _, t := range threads {
			rep.Presets = append(rep.Presets, &presetRuns{Preset: p, Threads: t, File: file, FileBytes: size, BytesPerToken: perToken})
		}
	}
	for _, t := range threads {
		rep.BandwidthGBs[fmt.Sprint(t)] = bandwidth(t) / 1e9
	}
	for r := range reps {
		for _, pr := range rep.Presets {
			engines := []func() error{
				func() error { return benchHearth(hearth, pr, pr.Threads, promptTokens, genTokens) },
				func() error { return benchLlama(llamaref, pr, pr.Threads, promptTokens, genTokens) },
			}
			if r%2 == 1 {
				slices.Reverse(engines)
			}
			for _, e := range engines {
				if err := e(); err != nil {
					return err
				}
			}
			h, l := pr.Hearth[len(pr.Hearth)-1], pr.Llama[len(pr.Llama)-1]
			logf("round %d %s, %d threads: hearth %.1f/%.1f tok/s, llama.cpp %.1f/%.1f tok/s (prefill/decode)", r+1, pr.Preset, pr.Threads, h.Prefill, h.Decode, l.Prefill, l.Decode)
		}
	}
	rep.Machine["load_after"] = loadAvg()
	printTable(rep)
	if jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(jsonOut, b, 0o644)
	}
	return nil
}

func benchHearth(bin string, pr *presetRuns, threads, promptTokens, genTokens int) error {
	out, err := command(bin, "bench", "--model", pr.File, "--threads", fmt.Sprint(threads),
		"--prompt-tokens", fmt.Sprint(promptTokens), "--gen-tokens", fmt.Sprint(genTokens), "--json")
	if err != nil {
		return err
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("hearth bench output %q: %w", out, err)
	}
	pr.Hearth = append(pr.Hearth, r)
	return nil
}

func benchLlama(script string, pr *presetRuns, threads, promptTokens, genTokens int) error {
	out, err := command("node", script, "--mode", "bench", "--model", pr.File, "--threads", fmt.Sprint(threads),
		"--prompt-tokens", fmt.Sprint(promptTokens), "--gen-tokens", fmt.Sprint(genTokens))
	if err != nil {
		return err
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("llamaref output %q: %w", out, err)
	}
	pr.Llama = append(pr.Llama, r)
	return nil
}

func command(name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// weightBytes returns the file size and the weight bytes one decode step
// reads: every tensor but the token embeddings, of which it reads one row.
func weightBytes(path string) (file, perToken int64, err error) {
	f, err := gguf.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Name == "token_embd.weight" && len(t.Dims) == 2 {
			perToken += int64(t.Size / t.Dims[1])
			continue
		}
		perToken += int64(t.Size)
	}
	return f.Size(), perToken, nil
}

// bandwidth measures a streaming read of 1 GiB on threads goroutines (the
// AVX2 float kernel summing each part against itself), best of five, in
// bytes per second.
func bandwidth(threads int) float64 {
	const size = 1 << 30
	buf := make([]float32, size/4)
	for i := range buf {
		buf[i] = 1
	}
	part := len(buf) / threads &^ 15
	sink := make([]float32, threads)
	best := time.Duration(math.MaxInt64)
	for range 5 {
		start := time.Now()
		var wg sync.WaitGroup
		for t := range threads {
			wg.Add(1)
			go func(s []float32) {
				defer wg.Done()
				sink[t] = tensor.DotF32(s, s)
			}(buf[t*part : (t+1)*part])
		}
		wg.Wait()
		best = min(best, time.Since(start))
	}
	return float64(part*threads*4) / best.Seconds()
}

func median(rs []result, f func(result) float64) float64 {
	xs := make([]float64, 0, len(rs))
	for _, r := range rs {
		xs = append(xs, f(r))
	}
	slices.Sort(xs)
	if len(xs) == 0 {
		return 0
	}
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}

func best(rs []result, f func(result) float64) float64 {
	b := 0.0
	for _, r := range rs {
		b = max(b, f(r))
	}
	return b
}

func printTable(rep *report) {
	m := rep.Machine
	fmt.Printf("\nMachine: %s, %s CPUs, Hearth kernels %s, %s; llama.cpp %s (%s)\n", m["cpu"], m["cpus"], m["kernels"], m["go"], m["llama_cpp"], m["llama_backend"])
	fmt.Printf("Load average before/after: %s / %s\n", m["load_before"], m["load_after"])
	fmt.Printf("Method: prompt %d tokens as one batch, then %d greedy decode steps; %d runs per engine, model and thread count, alternating engines.\n",
		rep.PromptTokens, rep.GenTokens, rep.Reps)
	fmt.Printf("Cells: median (best) tok/s; the best run is the least disturbed on a shared machine. Ratios: Hearth / llama.cpp, of medians (of bests).\n")
	var bws []string
	for _, t := range rep.Threads {
		bws = append(bws, fmt.Sprintf("%.1f GB/s on %d thread(s)", rep.BandwidthGBs[fmt.Sprint(t)], t))
	}
	fmt.Printf("Streaming read bandwidth: %s.\n\n", strings.Join(bws, ", "))
	fmt.Println("| model | threads | prefill Hearth | prefill llama.cpp | ratio | decode Hearth | decode llama.cpp | ratio | decode ceiling: bandwidth / bytes per token | TTFT ms Hearth / llama.cpp | Hearth peak RSS MB (anon) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	pre := func(r result) float64 { return r.Prefill }
	dec := func(r result) float64 { return r.Decode }
	ttft := func(r result) float64 { return r.TTFT }
	for _, p := range rep.Presets {
		hp, lp, hpb, lpb := median(p.Hearth, pre), median(p.Llama, pre), best(p.Hearth, pre), best(p.Llama, pre)
		hd, ld, hdb, ldb := median(p.Hearth, dec), median(p.Llama, dec), best(p.Hearth, dec), best(p.Llama, dec)
		bw := rep.BandwidthGBs[fmt.Sprint(p.Threads)]
		fmt.Printf("| %s | %d | %.1f (%.1f) | %.1f (%.1f) | %.2f× (%.2f×) | %.1f (%.1f) | %.1f (%.1f) | %.2f× (%.2f×) | %.1f tok/s (%.0f MB/token) | %.0f / %.0f | %.0f (%.0f) |\n",
			p.Preset, p.Threads, hp, hpb, lp, lpb, hp/lp, hpb/lpb, hd, hdb, ld, ldb, hd/ld, hdb/ldb,
			bw*1e9/float64(p.BytesPerToken), float64(p.BytesPerToken)/1e6,
			median(p.Hearth, ttft), median(p.Llama, ttft),
			median(p.Hearth, func(r result) float64 { return r.RSS })/1e6, median(p.Hearth, func(r result) float64 { return r.RSSAnon })/1e6)
	}
}

// machine describes where the numbers come from.
func machine() map[string]string {
	m := map[string]string{"cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version(), "kernels": tensor.KernelSet(),
		"cpu": runtime.GOARCH, "load_before": loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	var info struct {
		Version string `json:"llama_cpp_version"`
		Backend string `json:"cpu_backend"`
	}
	m["llama_cpp"], m["llama_backend"] = "?", "?"
	if out, err := command("node", ".ci/tools/llamaref/llamaref.mjs", "--mode", "bench", "--model", firstModel(), "--prompt-tokens", "2", "--gen-tokens", "1"); err == nil {
		if json.Unmarshal(out, &info) == nil {
			m["llama_cpp"], m["llama_backend"] = info.Version, info.Backend
		}
	}
	return m
}

// firstModel is a small model for asking llamaref which build it runs.
func firstModel() string {
	if d := os.Getenv("HEARTH_MODELS_DIR"); d != "" {
		return filepath.Join(d, "stories260K.gguf")
	}
	wd, _ := os.Getwd()
	return filepath.Join(filepath.Dir(wd), "shared", "models", "stories260K.gguf")
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", a...)
}
