package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/catalog"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/node/runtime"
)

// modelsFixture serves stories260K the way Hugging Face does and writes a
// catalog file naming it.
type modelsFixture struct {
	server   *httptest.Server
	catalog  string // path of the catalog JSON
	dataDir  string
	model    []byte
	requests atomic.Int32
	cutOnce  atomic.Int64 // >0: the first request is cut after this many bytes
}

func newModelsFixture(t *testing.T) *modelsFixture {
	t.Helper()
	data, err := os.ReadFile(sharedModel(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	f := &modelsFixture{model: data, dataDir: t.TempDir()}
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if r.URL.Path != "/test/stories/resolve/main/stories260K.gguf" {
			http.NotFound(w, r)
			return
		}
		if cut := f.cutOnce.Swap(0); cut > 0 {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:cut]) // short body: the connection is dropped
			return
		}
		http.ServeContent(w, r, "stories260K.gguf", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(f.server.Close)
	sum := sha256.Sum256(data)
	cat := catalog.Catalog{Version: 1, Models: []catalog.Entry{{
		Name: "stories260k", Title: "TinyStories 260K", Repo: "test/stories", File: "stories260K.gguf",
		Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Verify: catalog.VerifySHA256, Quant: "F32",
		Params: "292K", Arch: "llama", Layers: 5, KVHeads: 4, HeadDim: 8, ContextLength: 2048, License: "MIT", Template: "chatml",
	}, {
		Name: "missing-model", Title: "Not on the server", Repo: "test/missing", File: "missing.gguf",
		Size: 1000, Verify: catalog.VerifySizeOnly, Quant: "Q8_0", Params: "1M", Arch: "llama",
		Layers: 1, KVHeads: 1, HeadDim: 8, ContextLength: 128, License: "MIT", Template: "chatml",
	}}}
	raw, err := json.Marshal(cat)
	if err != nil {
		t.Fatal(err)
	}
	f.catalog = filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(f.catalog, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs "hearth models ARGS --data-dir D --base-url URL --catalog C".
func (f *modelsFixture) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	args = append([]string{"models"}, args...)
	args = append(args, "--data-dir", f.dataDir, "--base-url", f.server.URL, "--catalog", f.catalog)
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestModelsPullListInfoRemove(t *testing.T) {
	f := newModelsFixture(t)
	out, errb, code := f.run(t, "list")
	if code != 0 || !strings.Contains(out, "stories260k") || !strings.Contains(out, "CATALOG") {
		t.Fatalf("list: code %d\n%s%s", code, out, errb)
	}
	if strings.Contains(out, "installed") {
		t.Errorf("nothing is installed yet:\n%s", out)
	}

	f.cutOnce.Store(500_000)
	out, errb, code = f.run(t, "pull", "stories260k")
	if code != 0 {
		t.Fatalf("pull: code %d\n%s%s", code, out, errb)
	}
	for _, want := range []string{"memory: needs", "downloading stories260k", "verifying stories260k", "installed stories260k", "sha256 verified"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull output lacks %q:\n%s", want, out)
		}
	}
	installed := filepath.Join(f.dataDir, "models", "stories260k.gguf")
	if got, err := os.ReadFile(installed); err != nil || !bytes.Equal(got, f.model) {
		t.Fatalf("installed file wrong (%v)", err)
	}
	if n := f.requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (a dropped one and a resume)", n)
	}

	out, _, code = f.run(t, "list")
	if code != 0 || !strings.Contains(out, "installed") || !strings.Contains(out, "1.1 MiB used") {
		t.Errorf("list after pull:\n%s", out)
	}

	out, errb, code = f.run(t, "info", "stories260k")
	if code != 0 {
		t.Fatalf("info: %d %s", code, errb)
	}
	for _, want := range []string{"architecture", "llama", "quantization", "F32", "parameters", "292.8K", "layers", "5", "context length", "2048", "heads", "8 (kv 4, head size 8)", "chat template", "builtin chatml (fallback)", "memory"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	out, _, code = f.run(t, "info", installed, "--kv")
	if code != 0 || !strings.Contains(out, "tokenizer.ggml.tokens = [512 × string]") || !strings.Contains(out, `general.architecture = "llama"`) {
		t.Errorf("info --kv:\n%s", out)
	}

	out, errb, code = f.run(t, "rm", "stories260k")
	if code != 0 || !strings.Contains(out, "removed stories260k (1.1 MiB freed)") {
		t.Errorf("rm: %d\n%s%s", code, out, errb)
	}
	if _, err := os.Stat(installed); !os.IsNotExist(err) {
		t.Errorf("file still there: %v", err)
	}
}

func TestModelsImport(t *testing.T) {
	f := newModelsFixture(t)
	src := sharedModel(t, "TinyStories-656K-Q8_0.gguf")
	out, errb, code := f.run(t, "import", src, "--name", "tiny")
	if code != 0 || !strings.Contains(out, "imported") || !strings.Contains(out, "as tiny") || !strings.Contains(out, "Q8_0") {
		t.Fatalf("import: %d\n%s%s", code, out, errb)
	}
	out, _, code = f.run(t, "list")
	if code != 0 || !strings.Contains(out, "OTHER INSTALLED") || !strings.Contains(out, "tiny") {
		t.Errorf("list after import:\n%s", out)
	}
	_, errb, code = f.run(t, "import", src, "--name", "tiny")
	if code != 1 || !strings.Contains(errb, "already installed") {
		t.Errorf("second import: %d %s", code, errb)
	}
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	if err := os.WriteFile(bad, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errb, code = f.run(t, "import", bad)
	if code != 1 || !strings.Contains(errb, "not a usable GGUF model") {
		t.Errorf("import of junk: %d %s", code, errb)
	}
}

func TestModelsErrors(t *testing.T) {
	f := newModelsFixture(t)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no subcommand", nil, 2, "missing subcommand"},
		{"unknown subcommand", []string{"frobnicate"}, 2, "unknown subcommand"},
		{"pull without name", []string{"pull"}, 2, "want one catalog model name"},
		{"pull unknown", []string{"pull", "gpt-5"}, 1, "unknown model"},
		{"pull 404", []string{"pull", "missing-model"}, 1, "file not found on the server"},
		{"rm not installed", []string{"rm", "stories260k"}, 1, "not installed"},
		{"info not pulled", []string{"info", "stories260k"}, 1, "hearth models pull stories260k"},
		{"negative ctx", []string{"list", "--ctx", "-1"}, 2, "--ctx"},
		{"bad flag", []string{"list", "--nope"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errb, code := f.run(t, tc.args...)
			if code != tc.code || !strings.Contains(errb, tc.msg) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errb, tc.code, tc.msg)
			}
		})
	}
	// A bad base URL is a usage error.
	var out, errb bytes.Buffer
	code := Main([]string{"models", "list", "--data-dir", f.dataDir, "--base-url", "ftp://x"}, strings.NewReader(""), &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "not an http(s) URL") {
		t.Errorf("bad base URL: %d %s", code, errb.String())
	}
}

func TestModelsPullProgressBar(t *testing.T) {
	f := newModelsFixture(t)
	old := isTerminal
	isTerminal = func(io.Writer) bool { return true }
	defer func() { isTerminal = old }()
	out, errb, code := f.run(t, "pull", "stories260k")
	if code != 0 {
		t.Fatalf("pull: %d %s", code, errb)
	}
	// progressbar draws "stories260k 100% |████…| (1.2/1.2 MB, …)".
	if !strings.Contains(out, "100%") || !strings.Contains(out, "stories260k") || strings.Contains(out, "downloading stories260k:") {
		t.Errorf("terminal output is not a progress bar:\n%q", out)
	}
}

func TestModelsDefaultDataDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HEARTH_DATA_DIR", "")
	t.Setenv("XDG_DATA_HOME", dir)
	var out, errb bytes.Buffer
	if code := Main([]string{"models", "list"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("list: %d %s", code, errb.String())
	}
	want, err := catalog.DefaultDataDir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), filepath.Join(want, "models")) || !strings.HasPrefix(want, dir) {
		t.Errorf("models directory not under the XDG data dir %s:\n%s", dir, out.String())
	}
	// The built-in catalog is listed.
	if !strings.Contains(out.String(), "qwen2.5-0.5b-instruct-q4_k_m") {
		t.Errorf("built-in catalog missing:\n%s", out.String())
	}
}

// TestModelsPullLayersThenServe pulls only layers 2–5 of stories260K, serves
// that shard from an in-process node, and runs the model across it: the
// shard is smaller than the file, the node announces the whole file's
// sha256, and the greedy ids are the reference ids.
func TestModelsPullLayersThenServe(t *testing.T) {
	f := newModelsFixture(t)
	out, errb, code := f.run(t, "pull", "stories260k", "--layers", "2:5")
	if code != 0 || !strings.Contains(out, "installed layers 2:5 of stories260k") {
		t.Fatalf("pull --layers: %d\n%s%s", code, out, errb)
	}
	shard := filepath.Join(f.dataDir, "models", "stories260k.layers-2-5.gguf")
	st, err := os.Stat(shard)
	if err != nil || st.Size() >= int64(len(f.model)) {
		t.Fatalf("shard %v, %d bytes of %d", err, st.Size(), len(f.model))
	}
	wantHash := sha256.Sum256(f.model)

	cfg := runtime.DefaultNodeConfig(t.TempDir())
	cfg.Serve = []runtime.ServeSpec{{Model: shard, From: 2, To: 5}}
	cfg.P2P = p2ptest.Config()
	cfg.Discovery.EnableDHT, cfg.Discovery.EnableMDNS = false, false
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := runtime.NewNode(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	go n.Serve(ctx)
	<-n.Ready()
	if got := n.ServedModels()[0].Hash; got != wantHash {
		t.Fatalf("node announces %x, want the whole file's %x", got, wantHash)
	}
	out, errb, code = runCLI(t, "run", "--model", sharedModel(t, "stories260K.gguf"), "--temperature", "0", "--max-tokens", "40", "--json",
		"--local-layers", "0:2", "--peers", n.ListenAddr().String(), "--listen", "/ip4/127.0.0.1/tcp/0")
	if code != 0 || !strings.Contains(out, `"ids":[`+strings.ReplaceAll(stories260KGreedy, " ", ",")+`]`) {
		t.Fatalf("run across the shard: %d\n%s%s", code, out, errb)
	}
}
