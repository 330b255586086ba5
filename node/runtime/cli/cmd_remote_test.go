package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunFindsProvidersInTheSwarm: without --peers, `hearth run` joins the
// swarm through a bootstrap peer, finds the providers of the layers it does
// not run in their announcements, and gives the single-process ids.
func TestRunFindsProvidersInTheSwarm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hearth processes")
	}
	stories := filepath.Join(defaultModelsDir(), "stories260K.gguf")
	want := hearthRun(t, stories, "")
	a := startNode(t, stories, "1:3", "--no-mdns")
	b := startNode(t, stories, "3:5", "--no-mdns", "--bootstrap", a.addr)
	got := hearthRun(t, stories, "", "--local-layers", "0:1", "--bootstrap", a.addr, "--no-mdns",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--discovery-wait", "45s")
	sameRun(t, "providers from the swarm", got, want)
	if sa, sb := a.served(t), b.served(t); sa != 1 || sb != 1 {
		t.Fatalf("nodes served %d and %d sessions, want 1 each", sa, sb)
	}
}

// TestRunWithoutProviders: a run that finds nobody for its missing layers
// says so clearly instead of hanging.
func TestRunWithoutProviders(t *testing.T) {
	_, errs, code := runMain(t, "run", "--model", filepath.Join(defaultModelsDir(), "stories260K.gguf"),
		"--local-layers", "0:1", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", "--discovery-wait", "300ms", "--max-tokens", "4")
	if code != 1 || !strings.Contains(errs, "no providers cover the layers not run here") {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
}

// TestChatThroughPeers: `hearth chat --peers` runs the conversation's
// middle layers on two nodes; the greedy replies are the local ones.
func TestChatThroughPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hearth processes")
	}
	stories := filepath.Join(defaultModelsDir(), "stories260K.gguf")
	chatOnce := func(extra ...string) string {
		in := strings.Join([]string{"Once upon a time", "Lily went to the park", "/quit"}, "\n")
		var out, errb strings.Builder
		env := &Env{Stdin: strings.NewReader(in), Stdout: &out, Stderr: &errb, Interrupts: make(chan os.Signal)}
		args := append([]string{"chat", "--model", stories, "--data-dir", t.TempDir(), "--temperature", "0", "--max-tokens", "24"}, extra...)
		if code := runWithEnv(env, args...); code != 0 {
			t.Fatalf("hearth %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.String()
	}
	want := chatOnce()
	a, b := startNode(t, stories, "1:3"), startNode(t, stories, "3:4")
	got := chatOnce("--local-layers", "0:1,4:5", "--peers", peers(a, b), "--listen", "/ip4/127.0.0.1/tcp/0")
	if got != want || strings.TrimSpace(want) == "" {
		t.Fatalf("replies through peers:\n%q\nlocal:\n%q", got, want)
	}
	if sa := a.served(t); sa < 1 {
		t.Fatalf("node served %d sessions", sa)
	}
}
