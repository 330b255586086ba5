package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/keystore"
	"github.com/hearth-p2p/hearth/wallet/svmtest"
)

const abandonPhrase = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

// walletCLI runs `hearth wallet …` with stdin and returns stdout, stderr and the exit code.
func walletCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"wallet"}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func fastKDF(t *testing.T) {
	old := walletKDF
	walletKDF = keystore.Params{Time: 1, MemoryKiB: 1024, Threads: 1}
	t.Cleanup(func() { walletKDF = old })
}

func TestWalletCLI(t *testing.T) {
	fastKDF(t)
	srv := svmtest.Start(t)
	t.Setenv(PasswordEnv, "correct horse")
	net := []string{"--cluster", "localnet", "--rpc-url", srv.URL}
	dirA, dirB := t.TempDir(), t.TempDir()
	a := append([]string{"--data-dir", dirA}, net...)
	b := append([]string{"--data-dir", dirB}, net...)
	run := func(stdin string, sub string, flags []string, extra ...string) string {
		t.Helper()
		out, errOut, code := walletCLI(t, stdin, append(append([]string{sub}, flags...), extra...)...)
		if code != 0 {
			t.Fatalf("wallet %s: exit %d\nstdout: %s\nstderr: %s", sub, code, out, errOut)
		}
		return out
	}

	out := run("", "create", a)
	var phrase string
	for _, line := range strings.Split(out, "\n") {
		if len(strings.Fields(line)) == 24 {
			phrase = strings.TrimSpace(line)
		}
	}
	k, err := keys.FromMnemonic(phrase, "")
	if err != nil || !strings.Contains(out, "address: "+k.Address()) {
		t.Fatalf("create printed %q (%v)", out, err)
	}
	addrA := strings.TrimSpace(run("", "address", a))
	if addrA != k.Address() {
		t.Fatalf("address %q, want %s", addrA, k.Address())
	}
	if out := run(abandonPhrase+"\n", "import", b); !strings.Contains(out, "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk") {
		t.Fatalf("import printed %q", out)
	}
	addrB := "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"

	if out := run("", "airdrop", a, "--amount", "2"); !strings.Contains(out, "received 2 SOL") {
		t.Fatalf("airdrop printed %q", out)
	}
	if out := run("", "balance", a); out != "2 SOL\n" {
		t.Fatalf("balance %q", out)
	}
	if out := run("", "send", a, "--to", addrB, "--amount", "0.5", "--dry-run"); !strings.Contains(out, "nothing sent") {
		t.Fatalf("dry run printed %q", out)
	}
	if _, errOut, code := walletCLI(t, "", append([]string{"send", "--to", addrB, "--amount", "5", "--dry-run"}, a...)...); code != 1 || !strings.Contains(errOut, "insufficient funds") {
		t.Fatalf("dry run of an overdraft: %d %s", code, errOut)
	}
	if out := run("", "send", a, "--to", addrB, "--amount", "0.5", "--memo", "for the GPU"); !strings.Contains(out, "sent 0.5 SOL to "+addrB) {
		t.Fatalf("send printed %q", out)
	}
	if out := run("", "balance", b); out != "0.5 SOL\n" {
		t.Fatalf("recipient balance %q", out)
	}
	if out := run("", "balance", a); out != "1.499995 SOL\n" { // 2 − 0.5 − 5000 lamports fee
		t.Fatalf("sender balance %q", out)
	}
	hist := run("", "history", b)
	if !strings.Contains(hist, "+0.5 SOL") || !strings.Contains(hist, `memo "for the GPU"`) {
		t.Fatalf("history %q", hist)
	}
	if out := run("", "export", b); strings.TrimSpace(out) != abandonPhrase {
		t.Fatalf("export printed %q", out)
	}
	if out := run("", "earnings", a); !strings.Contains(out, "no earnings yet") {
		t.Fatalf("earnings %q", out)
	}
	if out := run("", "settle", a); !strings.Contains(out, "nothing owed") {
		t.Fatalf("settle %q", out)
	}
}

func TestWalletCLIErrors(t *testing.T) {
	fastKDF(t)
	t.Setenv(PasswordEnv, "pw")
	dir := t.TempDir()
	local := []string{"--data-dir", dir, "--cluster", "localnet", "--rpc-url", "http://127.0.0.1:1"}
	if _, _, code := walletCLI(t, "", append([]string{"create"}, local...)...); code != 0 {
		t.Fatal("create failed")
	}
	k, _ := keys.Generate()
	js, _ := keys.MarshalKeypairJSON(k)
	kp := filepath.Join(t.TempDir(), "id.json")
	if err := os.WriteFile(kp, js, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		env   string // password; "" keeps "pw"
		code  int
		inErr string
	}{
		{"no subcommand", nil, "", 2, "missing subcommand"},
		{"unknown subcommand", []string{"mint"}, "", 2, "unknown wallet subcommand"},
		{"unknown cluster", []string{"address", "--data-dir", dir, "--cluster", "moon"}, "", 2, "unknown cluster"},
		{"send without recipient", append([]string{"send", "--amount", "1"}, local...), "", 2, "--to and --amount are required"},
		{"send bad amount", append([]string{"send", "--to", k.Address(), "--amount", "1.0000000001"}, local...), "", 2, "bad --amount"},
		{"create twice", append([]string{"create"}, local...), "", 1, "already exists"},
		{"wrong password", append([]string{"export"}, local...), "nope", 1, "wrong password"},
		{"unreachable rpc", append([]string{"balance"}, local...), "", 1, "unreachable"},
		{"no wallet", []string{"address", "--data-dir", t.TempDir()}, "", 1, "no wallet"},
		{"airdrop on mainnet", []string{"airdrop", "--data-dir", dir, "--cluster", "mainnet-beta"}, "", 1, "airdrop unavailable"},
		{"bad keypair file", []string{"import", "--data-dir", t.TempDir(), "--keypair", filepath.Join(t.TempDir(), "missing.json")}, "", 1, "read keypair"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(PasswordEnv, tc.env)
			}
			out, errOut, code := walletCLI(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.inErr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
		})
	}
	// Keypair import and export round trip.
	dir2 := t.TempDir()
	if out, errOut, code := walletCLI(t, "", "import", "--data-dir", dir2, "--keypair", kp); code != 0 || !strings.Contains(out, k.Address()) {
		t.Fatalf("keypair import: %d %s %s", code, out, errOut)
	}
	out, _, code := walletCLI(t, "", "export", "--data-dir", dir2, "--keypair")
	if code != 0 || strings.TrimSpace(out) != string(js) {
		t.Fatalf("keypair export: %d %q", code, out)
	}
	if _, errOut, code := walletCLI(t, "", "export", "--data-dir", dir2); code != 1 || !strings.Contains(errOut, "no mnemonic") {
		t.Fatalf("mnemonic export of a keypair wallet: %d %s", code, errOut)
	}
	// Without the environment variable and without a terminal there is no password.
	os.Unsetenv(PasswordEnv)
	if _, errOut, code := walletCLI(t, "", "export", "--data-dir", dir2); code != 1 || !strings.Contains(errOut, PasswordEnv) {
		t.Fatalf("no password source: %d %s", code, errOut)
	}
}
