package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock hands out strictly increasing times.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func openTestStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC)}
	s.now = clock.now
	return s
}

func TestStoreCRUD(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", StoreFile)
	s := openTestStore(t, path)
	defer s.Close()

	a := NewConversation("smollm2-135m-instruct-q8_0", "Be brief.")
	if !a.Offload.LocalOnly {
		t.Error("new conversations must default to local-only")
	}
	if err := s.Create(a); err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.Created.IsZero() || !a.Updated.Equal(a.Created) {
		t.Fatalf("create did not fill id/times: %+v", a)
	}
	b := &Conversation{Model: "qwen2.5-0.5b-instruct-q4_k_m", Messages: []Message{{Role: RoleUser, Content: "Plan a trip\nto Lisbon in May"}}}
	if err := s.Create(b); err != nil {
		t.Fatal(err)
	}
	if b.Title != "Plan a trip" {
		t.Errorf("title %q, want the first line of the first user message", b.Title)
	}
	if err := s.Create(b); err == nil {
		t.Error("creating an existing id again succeeded")
	}

	// Append to a: it becomes the most recently updated and gets a title.
	if err := s.Append(a.ID, Message{Role: RoleUser, Content: "What is GGUF?"}, Message{Role: RoleAssistant, Content: "A file format.", Tokens: 4}); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("list order %+v, want a (updated last) then b", list)
	}
	if list[0].Title != "What is GGUF?" || list[0].Messages != 2 || list[1].Messages != 1 {
		t.Errorf("summaries %+v", list)
	}

	got, err := s.Get(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 2 || got.Messages[1].Content != "A file format." || got.Messages[1].Tokens != 4 || got.Messages[0].Time.IsZero() {
		t.Errorf("messages %+v", got.Messages)
	}
	if got.System != "Be brief." || !got.Offload.LocalOnly {
		t.Errorf("settings lost: %+v", got)
	}
	prompt := got.Prompt()
	if len(prompt) != 3 || prompt[0].Role != RoleSystem {
		t.Errorf("prompt %+v", prompt)
	}

	// Update: regenerate the last reply and opt in to trusted peers.
	err = s.Update(a.ID, func(c *Conversation) error {
		c.Messages[1].Content = "A single-file model format."
		c.Offload = Offload{Peers: []string{"12D3KooWpeer"}}
		c.Sampling = "precise"
		c.ID = "ignored"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.Get(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Messages[1].Content != "A single-file model format." || got.Offload.LocalOnly || got.Offload.Peers[0] != "12D3KooWpeer" || got.Sampling != "precise" {
		t.Errorf("update not stored: %+v", got)
	}
	// A failing update changes nothing.
	boom := errors.New("boom")
	if err := s.Update(a.ID, func(c *Conversation) error { c.Title = "x"; return boom }); !errors.Is(err, boom) {
		t.Errorf("update error %v, want boom", err)
	}
	if got2, _ := s.Get(a.ID); got2.Title != got.Title {
		t.Error("failed update was stored")
	}

	// Heads: the conversations' settings in list order, without messages.
	heads, err := s.Heads()
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 2 || heads[0].ID != a.ID || heads[1].ID != b.ID {
		t.Fatalf("heads order %v, %v, want a then b", heads[0].ID, heads[1].ID)
	}
	if h := heads[0]; len(h.Messages) != 0 || h.System != "Be brief." || h.Sampling != "precise" || h.Offload.Peers[0] != "12D3KooWpeer" || h.Title != got.Title {
		t.Errorf("head %+v", h)
	}

	if err := s.Delete(b.ID); err != nil {
		t.Fatal(err)
	}
	for _, op := range []func() error{
		func() error { _, err := s.Get(b.ID); return err },
		func() error { return s.Delete(b.ID) },
		func() error { return s.Append(b.ID, Message{Role: RoleUser}) },
		func() error { return s.Update(b.ID, func(*Conversation) error { return nil }) },
	} {
		if err := op(); !errors.Is(err, ErrNotFound) {
			t.Errorf("op on deleted conversation: %v, want ErrNotFound", err)
		}
	}
}

func TestStoreReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s := openTestStore(t, path)
	c := NewConversation("m", "")
	c.Messages = []Message{{Role: RoleUser, Content: "héllo ✓"}}
	if err := s.Create(c); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(c.ID, Message{Role: RoleAssistant, Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openTestStore(t, path)
	defer s2.Close()
	got, err := s2.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 2 || got.Messages[0].Content != "héllo ✓" || got.Messages[1].Content != "hi" {
		t.Errorf("after reopen: %+v", got.Messages)
	}
	// Appends continue after the stored ones.
	if err := s2.Append(c.ID, Message{Role: RoleUser, Content: "again"}); err != nil {
		t.Fatal(err)
	}
	got, _ = s2.Get(c.ID)
	if len(got.Messages) != 3 || got.Messages[2].Content != "again" {
		t.Errorf("append after reopen: %+v", got.Messages)
	}
}

func TestStoreBusyAndBadPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s := openTestStore(t, path)
	defer s.Close()
	if _, err := OpenStore(path); !errors.Is(err, ErrStoreBusy) {
		t.Errorf("second open: %v, want ErrStoreBusy", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(filepath.Join(file, StoreFile)); err == nil {
		t.Error("opening a store under a regular file succeeded")
	}
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a bolt db "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(garbage); err == nil {
		t.Error("opening a corrupt database succeeded")
	}
}

func TestExports(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), StoreFile))
	defer s.Close()
	c := NewConversation("llama-3.2-1b-instruct-q4_k_m", "You are terse.\nAnswer in one line.")
	c.Messages = []Message{
		{Role: RoleUser, Content: "Name a prime.", Time: time.Date(2025, 3, 5, 10, 1, 0, 0, time.UTC)},
		{Role: RoleAssistant, Content: "7\n", Tokens: 2},
	}
	if err := s.Create(c); err != nil {
		t.Fatal(err)
	}

	var js bytes.Buffer
	if err := s.ExportJSON(&js, c.ID); err != nil {
		t.Fatal(err)
	}
	var back Conversation
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("exported JSON does not parse: %v\n%s", err, js.String())
	}
	if back.ID != c.ID || back.Model != c.Model || len(back.Messages) != 2 || back.Messages[1].Tokens != 2 || back.System != c.System {
		t.Errorf("JSON round trip lost data: %+v", back)
	}

	var md bytes.Buffer
	if err := s.ExportMarkdown(&md, c.ID); err != nil {
		t.Fatal(err)
	}
	want := "# Name a prime.\n\n" +
		"- Model: llama-3.2-1b-instruct-q4_k_m\n" +
		"- Created: 2025-03-05T10:00:01Z\n" +
		"- Updated: 2025-03-05T10:00:01Z\n\n" +
		"> **System:** You are terse.\n> Answer in one line.\n\n" +
		"## You · 2025-03-05 10:01\n\nName a prime.\n\n" +
		"## Assistant\n\n7\n\n"
	if md.String() != want {
		t.Errorf("markdown\n got: %q\nwant: %q", md.String(), want)
	}
	if err := s.ExportJSON(&js, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("export missing: %v", err)
	}
}

func TestTitleFrom(t *testing.T) {
	cases := []struct{ in, want string }{
		{"  hello  world ", "hello world"},
		{"first line\nsecond", "first line"},
		{strings.Repeat("word ", 20), strings.TrimSpace(strings.Repeat("word ", 12)) + "…"},
		{strings.Repeat("abcdefg ", 10), strings.TrimSpace(strings.Repeat("abcdefg ", 7)) + "…"},
		{strings.Repeat("x", 70), strings.Repeat("x", 60) + "…"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := TitleFrom(tc.in); got != tc.want {
			t.Errorf("TitleFrom(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
