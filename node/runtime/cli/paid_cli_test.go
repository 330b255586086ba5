package cli

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/wallet/svmtest"
)

// TestPaidRunThroughTheCLI pays a node for its layers with the commands a
// user runs: two wallets, a paid `hearth node --wallet`, `hearth run
// --pay-with-wallet`, `hearth wallet settle`, and the provider's earnings.
func TestPaidRunThroughTheCLI(t *testing.T) {
	fastKDF(t)
	srv := svmtest.Start(t)
	t.Setenv(PasswordEnv, "correct horse battery")
	chain := []string{"--cluster", "localnet", "--rpc-url", srv.URL}
	provDir, consDir := t.TempDir(), t.TempDir()
	for _, dir := range []string{provDir, consDir} {
		if _, errs, code := runCLI(t, append([]string{"wallet", "create", "--data-dir", dir}, chain...)...); code != 0 {
			t.Fatalf("wallet create: %s", errs)
		}
		if _, errs, code := runCLI(t, append([]string{"wallet", "airdrop", "--data-dir", dir, "--amount", "0.05"}, chain...)...); code != 0 {
			t.Fatalf("airdrop: %s", errs)
		}
	}
	model := filepath.Join(defaultModelsDir(), "stories260K.gguf")

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var nodeErr strings.Builder
	go func() {
		env := &Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: &nodeErr}
		done <- Run(ctx, env, append([]string{"node", "--model", model, "--layers", "2:5", "--listen", "/ip4/127.0.0.1/tcp/0",
			"--data-dir", provDir, "--no-mdns", "--price", "20000000", "--wallet", "--settle-interval", "200ms"}, chain...))
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		t.Fatalf("node: %q %v %s", line, err, nodeErr.String())
	}
	go io.Copy(io.Discard, pr)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening "))

	out, errs, code := runCLI(t, "run", "--model", model, "--temperature", "0", "--max-tokens", "20", "--json",
		"--local-layers", "0:2", "--peers", addr, "--listen", "/ip4/127.0.0.1/tcp/0", "--pay-with-wallet", "--wallet-dir", consDir, "--max-price", "20000000")
	if code != 0 || !strings.Contains(out, `"ids":[403,407,261`) {
		t.Fatalf("run: %d %s %s", code, out, errs)
	}
	if out, errs, code = runCLI(t, append([]string{"wallet", "settle", "--data-dir", consDir}, chain...)...); code != 0 {
		t.Fatalf("settle: %s %s", out, errs)
	}
	time.Sleep(time.Second) // a few watcher scans
	cancel()
	if c := <-done; c != 0 {
		t.Fatalf("node exited %d: %s", c, nodeErr.String())
	}
	out, errs, code = runCLI(t, append([]string{"wallet", "earnings", "--data-dir", provDir}, chain...)...)
	if code != 0 {
		t.Fatalf("earnings: %s", errs)
	}
	// 20 tokens × 3 layers × 20,000 lamports = 1,200,000 lamports, settled.
	if !strings.Contains(out, "earned 0.0012, settled 0.0012, pending 0") {
		t.Fatalf("earnings:\n%s", out)
	}
	t.Logf("provider earnings:\n%s", out)
}
