package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

// fileServer is an httptest server that serves files the way Hugging Face
// does (/<repo>/resolve/<revision>/<file>, Range requests answered with 206)
// and can misbehave on demand.
type fileServer struct {
	*httptest.Server
	files map[string][]byte // URL path → content

	mu          sync.Mutex
	requests    []string // "GET <path> range=<Range header>"
	cutAfter    []int64  // per request: close the connection after this many body bytes (-1: don't)
	statusFirst []int    // per request: answer with this status instead
	ignoreRange bool     // answer every request with 200 and the whole file
	stallAfter  int64    // >0: after this many bytes, stop sending (once)
}

func newFileServer(t *testing.T) *fileServer {
	t.Helper()
	fs := &fileServer{files: map[string][]byte{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.Close)
	return fs
}

// add serves data at the path of an entry of repo/rev/file.
func (fs *fileServer) add(repo, rev, file string, data []byte) {
	fs.files["/"+repo+"/resolve/"+rev+"/"+file] = data
}

func (fs *fileServer) log() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.requests...)
}

func (fs *fileServer) serve(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	n := len(fs.requests)
	fs.requests = append(fs.requests, "GET "+r.URL.Path+" range="+r.Header.Get("Range"))
	status := 0
	if n < len(fs.statusFirst) {
		status = fs.statusFirst[n]
	}
	cut := int64(-1)
	if n < len(fs.cutAfter) {
		cut = fs.cutAfter[n]
	}
	ignore, stall := fs.ignoreRange, fs.stallAfter
	fs.stallAfter = 0
	fs.mu.Unlock()

	data, ok := fs.files[r.URL.Path]
	switch {
	case status != 0:
		http.Error(w, http.StatusText(status), status)
		return
	case !ok:
		http.NotFound(w, r)
		return
	}
	if ignore {
		r.Header.Del("Range")
	}
	if cut < 0 && stall == 0 {
		http.ServeContent(w, r, path.Base(r.URL.Path), time.Time{}, bytes.NewReader(data))
		return
	}
	// Misbehave: answer the (possibly ranged) request but stop early.
	rec := httptest.NewRecorder()
	http.ServeContent(rec, r, path.Base(r.URL.Path), time.Time{}, bytes.NewReader(data))
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	body := rec.Body.Bytes()
	if stall > 0 {
		w.Write(body[:min(stall, int64(len(body)))])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // hang until the client gives up
		return
	}
	w.Write(body[:min(cut, int64(len(body)))])
	// Returning with fewer bytes than Content-Length makes net/http close
	// the connection: the client sees an unexpected EOF.
}

// sharedModel reads one of the shared test models with its sha256.
func sharedModel(t *testing.T, name string) ([]byte, string) {
	t.Helper()
	data, err := os.ReadFile(testmodels.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:])
}

// storiesEntry is a catalog entry for stories260K served by fs.
func storiesEntry(t *testing.T, fs *fileServer) Entry {
	t.Helper()
	data, sum := sharedModel(t, testmodels.Stories260K)
	e := Entry{
		Name: "stories260k", Title: "stories260K", Repo: "karpathy/tinyllamas", Revision: "abc123",
		File: "stories260K.gguf", Size: int64(len(data)), SHA256: sum, Verify: VerifySHA256,
		Quant: "F32", Params: "292K", Arch: "llama", Layers: 5, KVHeads: 4, HeadDim: 8, ContextLength: 2048,
		License: "MIT", Template: "chatml",
	}
	fs.add(e.Repo, e.Revision, e.File, data)
	return e
}

// testStore opens a store in a fresh data dir downloading from fs, with
// fast retries.
func testStore(t *testing.T, fs *fileServer, entries ...Entry) *Store {
	t.Helper()
	cfg := Default(t.TempDir())
	if fs != nil {
		cfg.BaseURL = fs.URL
	}
	cfg.Catalog = &Catalog{Version: 1, Models: entries}
	cfg.BackoffBase, cfg.BackoffMax = time.Millisecond, 5*time.Millisecond
	cfg.StallTimeout = 2 * time.Second
	cfg.ProgressEvery = 0
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dirNames lists the names in dir ("" entries when it does not exist).
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func rangesOf(reqs []string) string {
	var out []string
	for _, r := range reqs {
		_, rng, _ := strings.Cut(r, "range=")
		out = append(out, rng)
	}
	return strings.Join(out, ",")
}
