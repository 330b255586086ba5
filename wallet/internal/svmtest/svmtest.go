// Package svmtest runs the LiteSVM JSON-RPC server (.ci/tools/litesvm-rpc)
// for tests: a real Solana runtime on loopback that solana-go's rpc client
// talks to exactly as to a cluster.
package svmtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv, when set, turns a missing node or node_modules into a test
// failure instead of a skip (CI sets it).
const RequireEnv = "HEARTH_REQUIRE_TOOLS"

// Server is a running LiteSVM RPC server.
type Server struct {
	URL string
	t   testing.TB
}

// RepoRoot walks up from the working directory to the directory with go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("getwd: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Start launches `node .ci/tools/litesvm-rpc/server.mjs` and stops it when the
// test ends. It skips the test when node or the npm tools are missing, unless
// HEARTH_REQUIRE_TOOLS is set.
func Start(t testing.TB) *Server {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, ".ci", "tools", "litesvm-rpc", "server.mjs")
	node, err := exec.LookPath("node")
	missing := ""
	switch {
	case err != nil:
		missing = "node is not on PATH"
	case !exists(filepath.Join(root, ".ci", "tools", "node_modules", "litesvm")):
		missing = ".ci/tools/node_modules/litesvm is missing (run .ci/setup)"
	case !exists(script):
		missing = script + " is missing"
	}
	if missing != "" {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("LiteSVM RPC server unavailable: %s (and %s is set)", missing, RequireEnv)
		}
		t.Skipf("LiteSVM RPC server unavailable: %s", missing)
	}

	cmd := exec.Command(node, script, "--exit-on-stdin-close")
	cmd.Dir = filepath.Dir(script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start LiteSVM RPC server: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
		if !ok {
			t.Fatalf("LiteSVM RPC server said %q; stderr:\n%s", line, stderr.String())
		}
		return &Server{URL: url, t: t}
	case <-time.After(60 * time.Second):
		t.Fatalf("LiteSVM RPC server did not start in 60s; stderr:\n%s", stderr.String())
	}
	return nil
}

// AdvanceSlots produces n empty blocks; blockhashes older than 150 blocks expire.
func (s *Server) AdvanceSlots(n uint64) uint64 {
	var slot uint64
	s.call("litesvm_advanceSlots", []any{n}, &slot)
	return slot
}

// ExpireBlockhash issues a new blockhash; transactions signed with older ones fail.
func (s *Server) ExpireBlockhash() {
	s.call("litesvm_expireBlockhash", []any{}, nil)
}

// DropTransactions makes the next n sendTransaction calls succeed (after
// preflight) without the transaction ever reaching the runtime.
func (s *Server) DropTransactions(n int) {
	s.call("litesvm_dropTransactions", []any{n}, nil)
}

func (s *Server) call(method string, params []any, out any) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		s.t.Fatalf("%s: decode: %v", method, err)
	}
	if r.Error != nil {
		s.t.Fatalf("%s: %d %s", method, r.Error.Code, r.Error.Message)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			s.t.Fatalf("%s: decode result: %v", method, err)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
