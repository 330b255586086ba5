package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/gpu"
	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/ledger"
)

// The multi-process tests run the real hearth binary: providers with
// `hearth node` on loopback, a consumer with `hearth run --peers`, and the
// single-process `hearth run` as the reference.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// hearthBin builds the module's main package once per test binary.
func hearthBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "hearth-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "hearth")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/hearth-p2p/hearth")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out.String())
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// nodeProc is a running `hearth node`.
type nodeProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan error
}

// syncBuffer is a bytes.Buffer safe for the process's writer and the test.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNode starts `hearth node` serving layers of modelPath on loopback and
// waits for its "listening" line. The node is stopped with SIGTERM at the end
// of the test, and must exit cleanly.
func startNode(t *testing.T, modelPath, layers string, extra ...string) *nodeProc {
	t.Helper()
	args := append([]string{"node", "--model", modelPath, "--layers", layers, "--listen", "/ip4/127.0.0.1/tcp/0",
		"--data-dir", t.TempDir(), "--threads", "1", "--log-level", "warn"}, extra...)
	cmd := exec.Command(hearthBin(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(t, syscall.SIGTERM) })
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "listening ")
		if !ok || !found || !strings.HasPrefix(addr, "/ip4/127.0.0.1/tcp/") || !strings.Contains(addr, "/p2p/12D3") {
			t.Fatalf("first line %q (ok %v); stderr:\n%s", line, ok, p.stderr.String())
		}
		p.addr = addr
	case <-time.After(60 * time.Second):
		t.Fatalf("node did not start; stderr:\n%s", p.stderr.String())
	}
	return p
}

// served stops the node and returns how many sessions it served.
func (p *nodeProc) served(t *testing.T) int {
	t.Helper()
	p.stop(t, syscall.SIGTERM)
	var n int
	if _, err := fmt.Sscanf(p.stderr.String()[strings.Index(p.stderr.String(), "stopped:"):], "stopped: %d sessions", &n); err != nil {
		t.Fatalf("summary: %v in %q", err, p.stderr.String())
	}
	return n
}

// stop signals the node and requires a clean exit.
func (p *nodeProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("node exited with %v; stderr:\n%s", err, p.stderr.String())
		}
		if !strings.Contains(p.stderr.String(), "stopped:") {
			t.Errorf("node stopped without its summary; stderr:\n%s", p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("node ignored %v; stderr:\n%s", sig, p.stderr.String())
	}
}

// runReport is the part of `hearth run --json` the tests compare.
type runReport struct {
	PromptIDs []int32      `json:"prompt_ids"`
	IDs       []int32      `json:"ids"`
	Text      string       `json:"text"`
	Step0Top  [][2]float64 `json:"step0_top"`
}

// hearthRun runs `hearth run --json` greedily and decodes its report.
func hearthRun(t *testing.T, modelPath, prompt string, extra ...string) runReport {
	t.Helper()
	args := append([]string{"run", "--model", modelPath, "--prompt", prompt, "--temperature", "0", "--json",
		"--max-tokens", "32", "--threads", "1"}, extra...)
	cmd := exec.Command(hearthBin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hearth %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var r runReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("--json output %q: %v", stdout.String(), err)
	}
	if len(r.IDs) == 0 {
		t.Fatalf("no tokens generated: %s", stdout.String())
	}
	return r
}

func peers(nodes ...*nodeProc) string {
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr
	}
	return strings.Join(addrs, ",")
}

// remote runs the consumer against nodes on loopback.
func remote(t *testing.T, modelPath, prompt, local string, nodes []*nodeProc, extra ...string) runReport {
	t.Helper()
	args := append([]string{"--listen", "/ip4/127.0.0.1/tcp/0", "--peers", peers(nodes...)}, extra...)
	if local != "" {
		args = append(args, "--local-layers", local)
	}
	return hearthRun(t, modelPath, prompt, args...)
}

// sameRun requires identical ids, text and (bit-identical logits) step-0
// top logits.
func sameRun(t *testing.T, label string, got, want runReport) {
	t.Helper()
	if fmt.Sprint(got.PromptIDs, got.IDs) != fmt.Sprint(want.PromptIDs, want.IDs) {
		t.Fatalf("%s: ids %v %v\nwant %v %v", label, got.PromptIDs, got.IDs, want.PromptIDs, want.IDs)
	}
	if got.Text != want.Text || fmt.Sprint(got.Step0Top) != fmt.Sprint(want.Step0Top) {
		t.Fatalf("%s: text %q top %v\nwant %q top %v", label, got.Text, got.Step0Top, want.Text, want.Step0Top)
	}
}

func TestMultiProcessPipelines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hearth processes")
	}
	synthModel := filepath.Join(t.TempDir(), "llama-tiny-q8_0.gguf")
	out, err := exec.Command(hearthBin(t), "synth", "--preset", "llama-tiny-q8_0", "--out", synthModel,
		"--vocab-dir", defaultModelsDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("hearth synth: %v\n%s", err, out)
	}
	stories, tiny := filepath.Join(defaultModelsDir(), "stories260K.gguf"), filepath.Join(defaultModelsDir(), "TinyStories-656K-Q8_0.gguf")
	t.Run("stories260K", func(t *testing.T) {
		want := hearthRun(t, stories, "")
		a, b := startNode(t, stories, "0:3"), startNode(t, stories, "3:5")
		sameRun(t, "2 nodes", remote(t, stories, "", "", []*nodeProc{a, b}), want)
		sameRun(t, "local head + 2 nodes", remote(t, stories, "", "0:1", []*nodeProc{a, b}), want)
		f16 := remote(t, stories, "", "0:1", []*nodeProc{a, b}, "--wire", "f16")
		if fmt.Sprint(f16.IDs) != fmt.Sprint(want.IDs) {
			t.Fatalf("f16 wire ids %v, want %v", f16.IDs, want.IDs)
		}
		for i := range want.Step0Top {
			if f16.Step0Top[i][0] != want.Step0Top[i][0] || math.Abs(f16.Step0Top[i][1]-want.Step0Top[i][1]) > 0.05 {
				t.Fatalf("f16 wire step-0 top %v, want %v within 0.05", f16.Step0Top, want.Step0Top)
			}
		}
		c, d, e := startNode(t, stories, "1:2"), startNode(t, stories, "2:4"), startNode(t, stories, "4:5")
		sameRun(t, "local head + 3 nodes", remote(t, stories, "", "0:1", []*nodeProc{c, d, e}), want)
		sameRun(t, "local head and tail + 2 nodes", remote(t, stories, "", "0:1,4:5", []*nodeProc{c, d}), want)
		for name, n := range map[string]*nodeProc{"a": a, "b": b, "c": c, "d": d, "e": e} {
			if got, want := n.served(t), map[string]int{"a": 3, "b": 3, "c": 2, "d": 2, "e": 1}[name]; got != want {
				t.Errorf("node %s served %d sessions, want %d", name, got, want)
			}
		}
	})
	t.Run("TinyStories-656K", func(t *testing.T) {
		want := hearthRun(t, tiny, "")
		a, b := startNode(t, tiny, "0:1"), startNode(t, tiny, "1:2")
		sameRun(t, "2 nodes", remote(t, tiny, "", "", []*nodeProc{a, b}), want)
		sameRun(t, "local head + 1 node", remote(t, tiny, "", "0:1", []*nodeProc{b}), want)
	})
	t.Run("synthetic llama-tiny-q8_0", func(t *testing.T) {
		const prompt = "Once upon a time there was"
		want := hearthRun(t, synthModel, prompt)
		a, b := startNode(t, synthModel, "0:2"), startNode(t, synthModel, "2:4")
		sameRun(t, "local head + 2 nodes", remote(t, synthModel, prompt, "0:1", []*nodeProc{a, b}), want)
		c, d, e := startNode(t, synthModel, "0:1"), startNode(t, synthModel, "1:3"), startNode(t, synthModel, "3:4")
		sameRun(t, "3 nodes", remote(t, synthModel, prompt, "", []*nodeProc{c, d, e}), want)
	})
}

// TestNodeAutoLayers: `--layers auto:2` alone in its swarm takes the first
// two layers once it has listened for announcements, and serves them.
func TestNodeAutoLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hearth processes")
	}
	stories := filepath.Join(defaultModelsDir(), "stories260K.gguf")
	want := hearthRun(t, stories, "")
	a := startNode(t, stories, "auto:2", "--no-mdns")
	sameRun(t, "placed node + local tail", remote(t, stories, "", "2:5", []*nodeProc{a}), want)
}

// TestNodeStopsOnSIGINT: Ctrl-C stops a provider as cleanly as SIGTERM.
func TestNodeStopsOnSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hearth processes")
	}
	n := startNode(t, filepath.Join(defaultModelsDir(), "stories260K.gguf"), "0:5")
	n.stop(t, syscall.SIGINT)
}

// TestPaidNodeReceipts: a priced provider and a consumer paying with its
// wallet key; the provider's wallet ledger holds the receipted earnings for
// exactly the work served.
func TestPaidNodeReceipts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hearth processes")
	}
	stories := filepath.Join(defaultModelsDir(), "stories260K.gguf")
	want := hearthRun(t, stories, "")
	consumer, payout := newKeypairFile(t), newKeypairFile(t)
	dataDir := t.TempDir()
	n := startNode(t, stories, "1:5", "--price", "1000", "--payout", payout.addr, "--credit-limit", "20", "--data-dir", dataDir)
	if _, _, code := runCLI(t, "run", "--model", stories, "--temperature", "0", "--json", "--max-tokens", "32",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--local-layers", "0:1", "--peers", n.addr); code == 0 {
		t.Fatal("a paid node served a consumer without a wallet key")
	}
	got := remote(t, stories, "", "0:1", []*nodeProc{n}, "--keypair", consumer.path, "--max-price", "1000")
	sameRun(t, "paid node", got, want)
	n.stop(t, syscall.SIGTERM)
	l, err := ledger.Open(filepath.Join(dataDir, "wallet", "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	earnings, err := l.Earnings()
	if err != nil {
		t.Fatal(err)
	}
	// BOS and 31 fed-back tokens through 4 layers at 1 lamport per unit.
	units := uint64(len(got.PromptIDs)+len(got.IDs)-1) * 4
	if len(earnings) != 1 || earnings[0].Earned != units || earnings[0].Sessions != 1 {
		t.Fatalf("earnings %+v, want %d lamports from one session", earnings, units)
	}
}

// keypairFile is a Solana keypair JSON file.
type keypairFile struct{ path, addr string }

func newKeypairFile(t *testing.T) keypairFile {
	t.Helper()
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.MarshalKeypairJSON(k)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return keypairFile{path: path, addr: k.Address()}
}

// runCLI runs a command in process.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestNodeUsageErrors(t *testing.T) {
	model := filepath.Join(defaultModelsDir(), "stories260K.gguf")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no model", []string{"node"}, 2, "--model is required"},
		{"price without payout", []string{"node", "--model", model, "--price", "10"}, 2, "--payout"},
		{"bad payout", []string{"node", "--model", model, "--price", "10", "--payout", "xyz"}, 2, "--payout"},
		{"bad layers", []string{"node", "--model", model, "--layers", "3:1", "--listen", "/ip4/127.0.0.1/tcp/0", "--data-dir", t.TempDir()}, 2, "--layers"},
		{"bad auto layers", []string{"node", "--model", model, "--layers", "auto:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--data-dir", t.TempDir()}, 2, "--layers"},
		{"layers beyond the model", []string{"node", "--model", model, "--layers", "0:9", "--listen", "/ip4/127.0.0.1/tcp/0", "--data-dir", t.TempDir()}, 1, "outside"},
		{"bad listen", []string{"node", "--model", model, "--listen", "nonsense", "--data-dir", t.TempDir()}, 2, "--listen"},
		{"run: named peers and a swarm", []string{"run", "--model", model, "--local-layers", "0:2", "--peers", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWLRPJAA5o6Z6ZVEFyUtVw2T3JCXeXxFvPRyQjqpxVhBdX", "--bootstrap", "/ip4/127.0.0.1/tcp/2/p2p/12D3KooWLRPJAA5o6Z6ZVEFyUtVw2T3JCXeXxFvPRyQjqpxVhBdX"}, 2, "--peers"},
		{"run: bad local layers", []string{"run", "--model", model, "--local-layers", "x", "--peers", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWLRPJAA5o6Z6ZVEFyUtVw2T3JCXeXxFvPRyQjqpxVhBdX", "--listen", "/ip4/127.0.0.1/tcp/0"}, 2, "--local-layers"},
		{"run: bad wire", []string{"run", "--model", model, "--wire", "f8", "--peers", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWLRPJAA5o6Z6ZVEFyUtVw2T3JCXeXxFvPRyQjqpxVhBdX", "--listen", "/ip4/127.0.0.1/tcp/0"}, 2, "--wire"},
		{"run: split with peers", []string{"run", "--model", model, "--split", "2", "--peers", "x"}, 2, "--split"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tc.code, tc.msg)
			}
		})
	}
}

// TestMultiProcessWithGPUNode runs stories260K over three processes, one of
// them serving its layers from the GPU (lavapipe in CI): the greedy ids
// equal the single-process CPU run and the logits agree within 1e-3.
func TestMultiProcessWithGPUNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hearth processes")
	}
	t.Setenv(gpu.EnvAllowCPU, "1")
	if _, err := gpu.Adapters(gpu.Options{AllowCPU: true}); err != nil && !gpu.RequireGPU() {
		t.Skipf("no WebGPU: %v", err)
	}
	stories := filepath.Join(defaultModelsDir(), "stories260K.gguf")
	want := hearthRun(t, stories, "")
	cpuNode, gpuNode := startNode(t, stories, "1:3"), startNode(t, stories, "3:5", "--gpu")
	got := remote(t, stories, "", "0:1", []*nodeProc{cpuNode, gpuNode})
	if fmt.Sprint(got.IDs) != fmt.Sprint(want.IDs) {
		t.Fatalf("ids %v, want %v", got.IDs, want.IDs)
	}
	for i := range want.Step0Top {
		if got.Step0Top[i][0] != want.Step0Top[i][0] || math.Abs(got.Step0Top[i][1]-want.Step0Top[i][1]) > 1e-3 {
			t.Fatalf("step-0 top %v, want %v within 1e-3", got.Step0Top, want.Step0Top)
		}
	}
	if n := gpuNode.served(t); n != 1 {
		t.Errorf("GPU node served %d sessions", n)
	}
}
