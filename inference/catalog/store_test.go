package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hearth-p2p/hearth/inference/chat"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

func TestBuiltinCatalog(t *testing.T) {
	c := Builtin()
	if len(c.Models) < 15 {
		t.Fatalf("catalog has %d entries", len(c.Models))
	}
	families := map[string]bool{}
	for _, f := range chat.Families() {
		families[string(f)] = true
	}
	wantNames := []string{"smollm2-135m-instruct-q8_0", "smollm2-360m-instruct-q8_0", "smollm2-1.7b-instruct-q4_k_m",
		"qwen2.5-0.5b-instruct-q4_k_m", "qwen2.5-1.5b-instruct-q4_k_m", "qwen2.5-3b-instruct-q4_k_m", "qwen2.5-7b-instruct-q4_k_m",
		"llama-3.2-1b-instruct-q4_k_m", "llama-3.2-3b-instruct-q4_k_m", "mistral-7b-instruct-v0.3-q4_k_m", "mistral-7b-instruct-v0.3-q8_0"}
	for _, n := range wantNames {
		if _, err := c.Lookup(n); err != nil {
			t.Errorf("missing %s: %v", n, err)
		}
	}
	for _, e := range c.Models {
		if !families[e.Template] {
			t.Errorf("%s: template family %q unknown to inference/chat", e.Name, e.Template)
		}
		if e.Layers == 0 || e.KVHeads == 0 || e.HeadDim == 0 || e.ContextLength == 0 || e.License == "" || e.Quant == "" {
			t.Errorf("%s: incomplete entry %+v", e.Name, e)
		}
		if !strings.EqualFold(strings.TrimSuffix(e.File, ".gguf")[len(e.File)-len(e.Quant)-5:], e.Quant) {
			t.Errorf("%s: file %s does not end with its quant %s", e.Name, e.File, e.Quant)
		}
		if e.Verify == VerifySizeOnly && e.SHA256 != "" {
			t.Errorf("%s: size-only with a hash", e.Name)
		}
	}
	e, _ := c.Lookup("Qwen2.5-7B-Instruct-Q4_K_M.gguf")
	want := "https://huggingface.co/bartowski/Qwen2.5-7B-Instruct-GGUF/resolve/8911e8a47f92bac19d6f5c64a2e2095bd2f7d031/Qwen2.5-7B-Instruct-Q4_K_M.gguf"
	if got := e.URL(""); got != want {
		t.Errorf("URL %s, want %s", got, want)
	}
	if got := e.URL("http://mirror.local:8080/hf/"); !strings.HasPrefix(got, "http://mirror.local:8080/hf/bartowski/") {
		t.Errorf("mirror URL %s", got)
	}
	if _, err := c.Lookup("gpt-5"); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("lookup unknown: %v", err)
	}
}

func TestParseRejectsBadEntries(t *testing.T) {
	good := `{"name":"m","title":"M","repo":"o/r","file":"m.gguf","size":10,"sha256":"` + strings.Repeat("a", 64) + `","verify":"sha256"}`
	cases := []struct{ name, json string }{
		{"not json", `{`},
		{"duplicate", `{"models":[` + good + `,` + good + `]}`},
		{"uppercase hash", strings.Replace(`{"models":[`+good+`]}`, strings.Repeat("a", 64), strings.Repeat("A", 64), 1)},
		{"short hash", strings.Replace(`{"models":[`+good+`]}`, strings.Repeat("a", 64), "abcd", 1)},
		{"invented verify mode", strings.Replace(`{"models":[`+good+`]}`, `"verify":"sha256"`, `"verify":"trust-me"`, 1)},
		{"size-only with hash", strings.Replace(`{"models":[`+good+`]}`, `"verify":"sha256"`, `"verify":"size-only"`, 1)},
		{"zero size", strings.Replace(`{"models":[`+good+`]}`, `"size":10`, `"size":0`, 1)},
		{"path escape", strings.Replace(`{"models":[`+good+`]}`, `"m.gguf"`, `"../m.gguf"`, 1)},
		{"bad name", strings.Replace(`{"models":[`+good+`]}`, `"name":"m"`, `"name":"../m"`, 1)},
		{"bad repo", strings.Replace(`{"models":[`+good+`]}`, `"o/r"`, `"o"`, 1)},
	}
	if _, err := Parse([]byte(`{"models":[` + good + `]}`)); err != nil {
		t.Fatalf("good catalog: %v", err)
	}
	for _, tc := range cases {
		if _, err := Parse([]byte(tc.json)); !errors.Is(err, ErrBadCatalog) {
			t.Errorf("%s: err = %v, want ErrBadCatalog", tc.name, err)
		}
	}
}

func FuzzParseCatalog(f *testing.F) {
	f.Add(string(builtinJSON))
	f.Add(`{"models":[{"name":"a","repo":"o/r","file":"a.gguf","size":1,"verify":"size-only"}]}`)
	f.Fuzz(func(t *testing.T, data string) {
		c, err := Parse([]byte(data))
		if err != nil {
			return
		}
		for _, e := range c.Models {
			if e.Validate() != nil || e.Size <= 0 {
				t.Fatalf("Parse accepted an invalid entry %+v", e)
			}
			if u := e.URL("http://x"); !strings.HasPrefix(u, "http://x/"+e.Repo+"/resolve/") {
				t.Fatalf("URL %q escapes the repository", u)
			}
		}
	})
}

func TestImportListRemove(t *testing.T) {
	s := testStore(t, nil)
	src := filepath.Join(t.TempDir(), "TinyStories 656K (Q8).gguf")
	data, _ := sharedModel(t, testmodels.TinyStoriesQ8)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := s.Import(src, "")
	if err != nil {
		t.Fatal(err)
	}
	if in.Name != "TinyStories-656K-Q8" || in.Err != nil {
		t.Fatalf("imported %+v", in)
	}
	if !sameInode(t, src, in.Path) {
		t.Error("same-filesystem import did not hard-link")
	}
	info := in.Info
	if info.Arch != "llama" || info.Quant != "Q8_0" || info.Layers != 2 || info.ContextLength != 512 ||
		info.Tensors != 20 || info.VocabSize != 2048 || info.KVHeads != 4 || info.HeadDim != 16 {
		t.Errorf("info %+v", info)
	}
	if _, err := s.Import(src, ""); !errors.Is(err, ErrExists) {
		t.Errorf("second import: %v, want ErrExists", err)
	}
	storiesPath := testmodels.Path(t, testmodels.Stories260K)
	st, err := s.Import(storiesPath, "stories")
	if err != nil {
		t.Fatal(err)
	}
	if st.Info.Quant != "F32" || HumanParams(st.Info.Params) != "292.8K" {
		t.Errorf("stories: quant %s params %s", st.Info.Quant, HumanParams(st.Info.Params))
	}

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "TinyStories-656K-Q8" || list[1].Name != "stories" {
		t.Fatalf("list %+v", list)
	}
	usage, err := s.DiskUsage()
	if err != nil || usage != int64(len(data))+list[1].Size {
		t.Errorf("disk usage %d (%v)", usage, err)
	}

	if err := s.Remove("stories"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("stories"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second remove: %v", err)
	}
	if err := s.Remove("../etc/passwd"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("remove outside the store: %v", err)
	}
	if _, err := os.Stat(storiesPath); err != nil {
		t.Errorf("removing the imported copy touched the original: %v", err)
	}
}

func sameInode(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return os.SameFile(sa, sb)
}

func TestImportRejectsBadFiles(t *testing.T) {
	s := testStore(t, nil)
	dir := t.TempDir()
	data, _ := sharedModel(t, testmodels.Stories260K)
	cases := map[string][]byte{
		"text.gguf":      []byte("hello, not a model"),
		"truncated.gguf": data[:len(data)/2],
		"empty.gguf":     nil,
	}
	for name, content := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Import(p, ""); !errors.Is(err, ErrBadModel) {
			t.Errorf("%s: %v, want ErrBadModel", name, err)
		}
	}
	if _, err := s.Import(filepath.Join(dir, "missing.gguf"), ""); err == nil {
		t.Error("importing a missing file succeeded")
	}
	if names := dirNames(t, s.Dir()); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
}

func TestCopyIntoFallback(t *testing.T) {
	// Import copies when it cannot hard-link (another filesystem); copyInto
	// is that path, exercised directly.
	data, _ := sharedModel(t, testmodels.Stories260K)
	src := filepath.Join(t.TempDir(), "a.gguf")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "b.gguf")
	if err := copyInto(src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || string(got) != string(data) || sameInode(t, src, dst) {
		t.Fatalf("copy wrong (err %v)", err)
	}
	if err := copyInto(src, dst); !errors.Is(err, ErrExists) {
		t.Errorf("copy over an existing file: %v", err)
	}
	if n := len(dirNames(t, filepath.Dir(dst))); n != 1 {
		t.Errorf("temporary files left: %d entries", n)
	}
}

func TestResolve(t *testing.T) {
	fs := newFileServer(t)
	e := storiesEntry(t, fs)
	other := e
	other.Name = "not-pulled"
	s := testStore(t, fs, e, other)
	if _, err := s.Pull(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	file := testmodels.Path(t, testmodels.TinyRandom)
	cases := []struct {
		in, want string
		err      error
	}{
		{e.Name, filepath.Join(s.Dir(), "stories260k.gguf"), nil},
		{"stories260k.gguf", filepath.Join(s.Dir(), "stories260k.gguf"), nil},
		{file, file, nil},
		{"not-pulled", "", ErrNotInstalled},
		{"./nope/missing.gguf", "", ErrNotInstalled},
		{"who-knows", "", ErrUnknownModel},
	}
	for _, tc := range cases {
		got, err := s.Resolve(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Resolve(%q): %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := s.Resolve("not-pulled"); err == nil || !strings.Contains(err.Error(), "hearth models pull not-pulled") {
		t.Errorf("missing catalog model error should say how to pull it: %v", err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Catalog == nil || list[0].Catalog.Name != e.Name {
		t.Errorf("installed catalog model not linked to its entry: %+v %v", list, err)
	}
}

func TestStoreListsUnreadableFiles(t *testing.T) {
	s := testStore(t, nil)
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Fatalf("fresh store: %v %v", list, err)
	}
	if err := os.MkdirAll(s.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "broken.gguf"), []byte("GGUF\x03\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || !errors.Is(list[0].Err, ErrBadModel) {
		t.Errorf("list with a broken file: %+v %v", list, err)
	}
}

func TestWrapFSPermission(t *testing.T) {
	s := testStore(t, nil)
	err := s.wrapFS("write", &os.PathError{Op: "open", Path: "x", Err: syscall.EACCES})
	if !errors.Is(err, ErrPermission) || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), s.Dir()) {
		t.Errorf("wrapped: %v", err)
	}
}
