package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/node/runtime"
)

func sharedModel(t testing.TB, name string) string {
	t.Helper()
	wd, _ := os.Getwd()
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "models", name)
		}
	}
	t.Fatal("no go.mod above the working directory")
	return ""
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
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

type fixture struct {
	url  string
	logs *syncBuffer
}

func newFixture(t *testing.T, key string) fixture {
	t.Helper()
	lm, err := runtime.OpenModel(sharedModel(t, "stories260K.gguf"), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.Close() })
	eng, err := runtime.NewChatEngine(lm, runtime.ChatOptions{Context: 512})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	cfg := Default()
	cfg.ModelName, cfg.APIKey = "stories260K", key
	logs := &syncBuffer{}
	srv, err := New(cfg, eng, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return fixture{url: ts.URL, logs: logs}
}

func post(t *testing.T, url, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// readSSE collects the data payloads of an event stream until [DONE].
func readSSE(t *testing.T, r io.Reader) []string {
	t.Helper()
	var events []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		data := strings.TrimPrefix(line, "data: ")
		if data == "[DONE]" {
			return events
		}
		events = append(events, data)
	}
	t.Fatalf("stream ended without [DONE] after %d events", len(events))
	return nil
}

const greedyChat = `{"model":"stories260K","temperature":0,"max_tokens":24,"messages":[{"role":"system","content":"You tell stories."},{"role":"user","content":"Once upon a time"}]`

func TestChatCompletionsStreamMatchesNonStream(t *testing.T) {
	f := newFixture(t, "")
	resp, body := post(t, f.url+"/v1/chat/completions", greedyChat+`}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var full chatResponse
	if err := json.Unmarshal(body, &full); err != nil {
		t.Fatal(err)
	}
	c := full.Choices[0]
	if full.Object != "chat.completion" || c.Message.Role != "assistant" || c.Message.Content == "" || c.FinishReason == "" {
		t.Fatalf("response %+v", full)
	}
	if u := full.Usage; u.CompletionTokens == 0 || u.CompletionTokens > 24 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage %+v", u)
	}

	resp, body = post(t, f.url+"/v1/chat/completions", greedyChat+`,"stream":true,"stream_options":{"include_usage":true}}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := readSSE(t, bytes.NewReader(body))
	var text strings.Builder
	var finish string
	var gotUsage *usage
	for i, e := range events {
		var ch chatChunk
		if err := json.Unmarshal([]byte(e), &ch); err != nil {
			t.Fatal(err)
		}
		if ch.Object != "chat.completion.chunk" || ch.ID == "" {
			t.Fatalf("chunk %d: %s", i, e)
		}
		if ch.Usage != nil {
			gotUsage = ch.Usage
			continue
		}
		d := ch.Choices[0]
		if i == 0 && d.Delta.Role != "assistant" {
			t.Fatalf("first chunk without role: %s", e)
		}
		if d.Delta.Content != nil {
			text.WriteString(*d.Delta.Content)
		}
		if d.FinishReason != nil {
			finish = *d.FinishReason
		}
	}
	if text.String() != c.Message.Content || finish != c.FinishReason {
		t.Fatalf("stream %q (%s), non-stream %q (%s)", text.String(), finish, c.Message.Content, c.FinishReason)
	}
	if gotUsage == nil || *gotUsage != full.Usage {
		t.Fatalf("stream usage %+v, want %+v", gotUsage, full.Usage)
	}
}

func TestCompletions(t *testing.T) {
	f := newFixture(t, "")
	resp, body := post(t, f.url+"/v1/completions", `{"prompt":"Once upon a time","temperature":0}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var full completionResponse
	if err := json.Unmarshal(body, &full); err != nil {
		t.Fatal(err)
	}
	// Greedy story continuation, 16 tokens by default.
	if full.Object != "text_completion" || !strings.HasPrefix(full.Choices[0].Text, ", there was a little girl") ||
		*full.Choices[0].FinishReason != "length" || full.Usage.CompletionTokens != 16 {
		t.Fatalf("response %s", body)
	}
	_, body = post(t, f.url+"/v1/completions", `{"prompt":["Once upon a time"],"temperature":0,"stream":true}`)
	var text strings.Builder
	for _, e := range readSSE(t, bytes.NewReader(body)) {
		var ch completionResponse
		if err := json.Unmarshal([]byte(e), &ch); err != nil {
			t.Fatal(err)
		}
		text.WriteString(ch.Choices[0].Text)
	}
	if text.String() != full.Choices[0].Text {
		t.Fatalf("stream %q, non-stream %q", text.String(), full.Choices[0].Text)
	}
}

func TestModelsAndHealth(t *testing.T) {
	f := newFixture(t, "")
	for path, want := range map[string]string{"/health": `"status":"ok"`, "/v1/models": `"id":"stories260K"`, "/v1/models/stories260K": `"owned_by":"hearth"`} {
		resp, err := http.Get(f.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t, "")
	cases := []struct {
		path, body string
		status     int
		code       string
	}{
		{"/v1/chat/completions", `{"messages":[`, 400, "invalid_json"},
		{"/v1/chat/completions", `{"messages":[]}`, 400, "invalid_messages"},
		{"/v1/chat/completions", `{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found"},
		{"/v1/chat/completions", `{"messages":[{"role":"tool","content":"hi"}]}`, 400, "invalid_messages"},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, 400, "invalid_messages"},
		{"/v1/chat/completions", `{"n":2,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_parameter"},
		{"/v1/chat/completions", `{"temperature":3,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_parameter"},
		{"/v1/chat/completions", `{"max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_parameter"},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"` + strings.Repeat("long story ", 400) + `"}]}`, 400, "context_length_exceeded"},
		{"/v1/completions", `{"max_tokens":4}`, 400, "invalid_prompt"},
		{"/v1/completions", `{"prompt":"x"} {"prompt":"y"}`, 400, "invalid_json"},
		{"/v1/completions", `{"prompt":"` + strings.Repeat("x", 9<<20) + `"}`, 413, "request_too_large"},
		{"/v1/embeddings", `{}`, 404, "unknown_url"},
	}
	for _, c := range cases {
		resp, body := post(t, f.url+c.path, c.body)
		var e apiError
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != c.status || e.Error.Code == nil || *e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s %.60s: status %d body %.200s, want %d %s", c.path, c.body, resp.StatusCode, body, c.status, c.code)
		}
	}
}

func TestAPIKey(t *testing.T) {
	f := newFixture(t, "s3cret")
	body := `{"prompt":"Lily","max_tokens":2}`
	if resp, _ := post(t, f.url+"/v1/completions", body); resp.StatusCode != 401 {
		t.Errorf("no key: %d", resp.StatusCode)
	}
	if resp, _ := post(t, f.url+"/v1/completions", body, "Authorization", "Bearer wrong"); resp.StatusCode != 401 {
		t.Errorf("wrong key: %d", resp.StatusCode)
	}
	if resp, b := post(t, f.url+"/v1/completions", body, "Authorization", "Bearer s3cret"); resp.StatusCode != 200 {
		t.Errorf("right key: %d %s", resp.StatusCode, b)
	}
	cfg := Default()
	cfg.ModelName, cfg.Addr = "m", "0.0.0.0:8080"
	if err := cfg.Validate(); !errors.Is(err, ErrNeedAPIKey) {
		t.Errorf("public bind without key: %v", err)
	}
}

// TestConcurrentRequestsDoNotMix sends several different greedy requests at
// once: each reply equals the reply to the same request sent alone.
func TestConcurrentRequestsDoNotMix(t *testing.T) {
	f := newFixture(t, "")
	prompts := []string{"Once upon a time", "Lily saw a dog", "Tom and Sue", "The sun was hot"}
	body := func(p string) string {
		return `{"prompt":"` + p + `","temperature":0,"max_tokens":12,"user":"` + p + `"}`
	}
	alone := map[string]string{}
	for _, p := range prompts {
		_, b := post(t, f.url+"/v1/completions", body(p))
		alone[p] = string(b[bytes.Index(b, []byte(`"choices"`)):bytes.Index(b, []byte(`"usage"`))])
	}
	var wg sync.WaitGroup
	for round := 0; round < 2; round++ {
		for _, p := range prompts {
			wg.Add(1)
			go func(p string) {
				defer wg.Done()
				resp, b := post(t, f.url+"/v1/completions", body(p))
				got := string(b[bytes.Index(b, []byte(`"choices"`)):bytes.Index(b, []byte(`"usage"`))])
				if resp.StatusCode != 200 || got != alone[p] {
					t.Errorf("%q concurrently: %s, alone: %s", p, got, alone[p])
				}
			}(p)
		}
	}
	wg.Wait()
}

// TestDisconnectCancels closes the connection of a long streaming request:
// the server must stop generating rather than run to max_tokens.
func TestDisconnectCancels(t *testing.T) {
	f := newFixture(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", f.url+"/v1/completions", strings.NewReader(`{"prompt":"Once","max_tokens":400,"temperature":0.8,"stream":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first event: %q %v", line, err)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(f.logs.String(), "generation cancelled") {
		if time.Now().After(deadline) {
			t.Fatalf("generation not cancelled; logs:\n%s", f.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The model is free again.
	if resp, b := post(t, f.url+"/v1/completions", `{"prompt":"Lily","max_tokens":2}`); resp.StatusCode != 200 {
		t.Fatalf("after cancel: %d %s", resp.StatusCode, b)
	}
}
