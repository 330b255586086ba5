package cli

import (
	"bufio"
	"context"
	"encoding/json"
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

// interruptingWriter sends a Ctrl-C the first time it sees text, as a user
// pressing Ctrl-C while a reply is being written.
type interruptingWriter struct {
	mu    sync.Mutex
	b     strings.Builder
	intr  chan os.Signal
	armed bool
}

func (w *interruptingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed && strings.TrimSpace(string(p)) != "" {
		w.armed = false
		w.intr <- os.Interrupt
	}
	return w.b.Write(p)
}

func (w *interruptingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestChatSession(t *testing.T) {
	dir := t.TempDir()
	model := sharedModel(t, "stories260K.gguf")
	export := filepath.Join(dir, "story.md")
	in := strings.Join([]string{
		"Once upon a time",
		"/system You are a storyteller.",
		"Lily went to the park",
		"Tom came too",
		"/save " + export,
		"/save",
		"/bogus",
		"/quit",
	}, "\n")
	var out, errb strings.Builder
	env := &Env{Stdin: strings.NewReader(in), Stdout: &out, Stderr: &errb, Interrupts: make(chan os.Signal)}
	code := runWithEnv(env, "chat", "--model", model, "--data-dir", dir, "--temperature", "0", "--max-tokens", "20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"system prompt set", "exported to", "saved as", "unknown command /bogus", "tok/s"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	md, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "Lily went to the park") || !strings.Contains(string(md), "Tom came too") || !strings.Contains(string(md), "You are a storyteller.") {
		t.Errorf("export:\n%s", md)
	}
	// The conversation is stored and listed.
	out.Reset()
	if code := runWithEnv(&Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, "chat", "--list", "--data-dir", dir); code != 0 {
		t.Fatal("list failed")
	}
	if lines := strings.Count(out.String(), "\n"); lines != 2 {
		t.Errorf("want 2 conversations listed, got:\n%s", out.String())
	}
}

func TestChatCtrlCStopsReplyNotSession(t *testing.T) {
	dir := t.TempDir()
	intr := make(chan os.Signal, 1)
	w := &interruptingWriter{intr: intr, armed: true}
	var errb strings.Builder
	in := "Once upon a time\nLily\n/quit\n"
	env := &Env{Stdin: strings.NewReader(in), Stdout: w, Stderr: &errb, Interrupts: intr}
	code := runWithEnv(env, "chat", "--model", sharedModel(t, "stories260K.gguf"), "--data-dir", dir, "--temperature", "0", "--max-tokens", "200")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "(stopped)") {
		t.Fatalf("no stop notice:\n%s", errb.String())
	}
	// The second message still got a reply after the interrupted one.
	if n := strings.Count(errb.String(), "tok/s]"); n != 2 {
		t.Fatalf("%d replies:\n%s", n, errb.String())
	}
}

func runWithEnv(env *Env, args ...string) int {
	return Run(context.Background(), env, args)
}

// startServe runs `hearth serve` on stories260K at a free loopback port
// and returns its base URL; stop ends it and requires a clean exit.
func startServe(t *testing.T) (base string, stop func()) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb syncBuffer
	go func() {
		env := &Env{Stdin: strings.NewReader(""), Stdout: pw, Stderr: &errb}
		done <- Run(ctx, env, []string{"serve", "--model", sharedModel(t, "stories260K.gguf"), "--addr", "127.0.0.1:0"})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening http://127.0.0.1:") {
		cancel()
		t.Fatalf("first line %q: %v", line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening ")), func() {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("serve exited %d: %s", code, errb.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop")
		}
	}
}

// TestServeWithCurl runs the README's curl example against a real `hearth
// serve`: a streamed chat completion ending in data: [DONE], then the model
// list.
func TestServeWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
			t.Fatal("curl is not installed (.ci/setup installs it)")
		}
		t.Skip("curl is not installed")
	}
	base, stop := startServe(t)
	defer stop()
	out, err := exec.Command(curl, "-sS", "--fail-with-body", base+"/v1/chat/completions", "-H", "content-type: application/json",
		"-d", `{"messages":[{"role":"user","content":"Tell me a story"}],"stream":true,"max_tokens":16,"temperature":0}`).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	var text strings.Builder
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, l := range lines {
		data, ok := strings.CutPrefix(l, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var chunk struct {
			Object  string
			Choices []struct{ Delta struct{ Content string } }
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil || chunk.Object != "chat.completion.chunk" {
			t.Fatalf("event %q: %v", data, err)
		}
		if len(chunk.Choices) > 0 {
			text.WriteString(chunk.Choices[0].Delta.Content)
		}
	}
	if lines[len(lines)-1] != "data: [DONE]" || text.Len() == 0 {
		t.Fatalf("stream (text %q):\n%s", text.String(), out)
	}
	out, err = exec.Command(curl, "-sS", "--fail-with-body", base+"/v1/models").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"id":"stories260K"`) {
		t.Fatalf("curl /v1/models: %v\n%s", err, out)
	}
}

func TestServeCommand(t *testing.T) {
	url, stop := startServe(t)
	resp, err := http.Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"stories260K","temperature":0,"max_tokens":8,"messages":[{"role":"user","content":"Once upon a time"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Choices []struct {
			Message struct{ Content string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 || len(r.Choices) != 1 {
		t.Fatalf("status %d: %v %+v", resp.StatusCode, err, r)
	}
	resp.Body.Close()
	stop()
	var errb strings.Builder
	if code := runWithEnv(&Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &errb}, "serve", "--model", sharedModel(t, "stories260K.gguf"), "--addr", "0.0.0.0:0"); code != 2 ||
		!strings.Contains(errb.String(), "API key is required") {
		t.Fatalf("public bind without key: exit %d %s", code, errb.String())
	}
}
