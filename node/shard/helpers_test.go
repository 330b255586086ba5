package shard

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/node/meter"
	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

const (
	stories260K = "stories260K.gguf"
	tinyQ8      = "TinyStories-656K-Q8_0.gguf"
)

// modelsDir finds ../shared/models beside the repository root.
func modelsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("HEARTH_MODELS_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "models")
		}
	}
	t.Fatal("no go.mod above the working directory")
	return ""
}

// testModel is a real model opened for a test.
type testModel struct {
	path string
	m    *model.Model
	pool *tensor.Pool
	hash [32]byte
}

func openTestModel(t testing.TB, name string) *testModel {
	t.Helper()
	return openModelFile(t, filepath.Join(modelsDir(t), name))
}

func openModelFile(t testing.TB, path string) *testModel {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	m, err := model.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := tensor.NewPool(1)
	t.Cleanup(func() { pool.Close(); m.Close() })
	tm := &testModel{path: path, m: m, pool: pool}
	copy(tm.hash[:], h.Sum(nil))
	return tm
}

func (tm *testModel) backend(t testing.TB, from, to int) *ModelBackend {
	t.Helper()
	b, err := NewModelBackend(tm.m, tm.pool, tm.hash, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testServer is a shard server on its own loopback host.
type testServer struct {
	h *p2p.Host
	s *Server
}

// startServer serves backends from a fresh host until the test ends.
func startServer(t testing.TB, cfg Config, ledger meter.Ledger, backends ...Backend) *testServer {
	t.Helper()
	h := p2ptest.NewHost(t, nil)
	s, err := NewServer(h.Raw(), cfg, ledger, p2ptest.Logger(t, slog.LevelWarn), backends...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	select {
	case <-s.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("server not ready")
	}
	return &testServer{h: h, s: s}
}

// dial connects a client host to a server.
func dial(t testing.TB, client *p2p.Host, srv *testServer) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := DialAddr(ctx, client.Raw(), srv.h.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openStage opens a session and closes it with the test.
func openStage(t testing.TB, c *Client, cfg SessionConfig) *RemoteStage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := c.OpenSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// localStage opens an in-process session on [from,to).
func (tm *testModel) localStage(t testing.TB, from, to, maxCtx int) *model.Session {
	t.Helper()
	st, err := tm.m.NewStage(from, to, tm.pool)
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.NewSession(maxCtx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// greedy picks the highest logit (lowest id on ties).
type greedy struct{}

func (greedy) Sample(logits []float32, _ []int32) int32 {
	best := 0
	for i, l := range logits {
		if l > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// decode runs a greedy generation through chain and returns the ids and a
// copy of every step's logits.
func decode(t testing.TB, chain model.Chain, prompt []int32, steps int) ([]int32, [][]float32) {
	t.Helper()
	var logits [][]float32
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ids, _, err := model.Generate(ctx, chain, prompt, greedy{}, model.GenerateOptions{
		MaxTokens: steps,
		OnLogits:  func(_ int, l []float32) { logits = append(logits, append([]float32(nil), l...)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, logits
}
