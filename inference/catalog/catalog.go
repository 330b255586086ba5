package catalog

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// DefaultBaseURL is where catalog files are downloaded from unless a mirror
// is configured.
const DefaultBaseURL = "https://huggingface.co"

// Verification modes of a catalog entry.
const (
	VerifySHA256   = "sha256"    // size and sha256 are checked
	VerifySizeOnly = "size-only" // no published hash was found: only the size is checked
)

// Errors of this package. Returned errors wrap one of these.
var (
	ErrUnknownModel = errors.New("unknown model")
	ErrBadCatalog   = errors.New("invalid catalog")
)

// Entry is one downloadable model file of the catalog.
type Entry struct {
	Name     string `json:"name"`               // unique id, also the installed file name (<name>.gguf)
	Title    string `json:"title"`              // display name
	Repo     string `json:"repo"`               // Hugging Face repository "owner/name"
	Revision string `json:"revision,omitempty"` // commit the size/hash belong to; "" means main
	File     string `json:"file"`               // file name in the repository
	Size     int64  `json:"size"`               // bytes
	SHA256   string `json:"sha256"`             // lowercase hex, "" when unknown
	Verify   string `json:"verify"`             // VerifySHA256 or VerifySizeOnly
	Quant    string `json:"quant"`              // Q4_K_M, Q8_0, …
	Params   string `json:"params"`             // parameter count as published ("1.5B")
	Arch     string `json:"arch"`               // general.architecture
	// Shape, for the RAM estimate before download.
	Layers        int    `json:"layers"`
	KVHeads       int    `json:"kv_heads"`
	HeadDim       int    `json:"head_dim"`
	ContextLength int    `json:"context_length"`
	License       string `json:"license"`
	Template      string `json:"template"` // chat template family (see inference/chat)
}

// URL is the download address of the entry under base (DefaultBaseURL when
// empty): <base>/<repo>/resolve/<revision>/<file>.
func (e *Entry) URL(base string) string {
	if base == "" {
		base = DefaultBaseURL
	}
	rev := e.Revision
	if rev == "" {
		rev = "main"
	}
	u := strings.TrimRight(base, "/") + "/" + e.Repo + "/resolve/" + url.PathEscape(rev) + "/"
	parts := strings.Split(e.File, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return u + strings.Join(parts, "/")
}

// FileName is the name the entry is installed under in the store.
func (e *Entry) FileName() string { return e.Name + ".gguf" }

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)
	repoRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Validate checks an entry for the fields a download needs.
func (e *Entry) Validate() error {
	switch {
	case !nameRE.MatchString(e.Name):
		return fmt.Errorf("%w: entry name %q (want lowercase letters, digits, '.', '_', '-')", ErrBadCatalog, e.Name)
	case !repoRE.MatchString(e.Repo):
		return fmt.Errorf("%w: %s: repo %q is not owner/name", ErrBadCatalog, e.Name, e.Repo)
	case e.File == "" || strings.Contains(e.File, "..") || path.IsAbs(e.File) || !strings.HasSuffix(e.File, ".gguf"):
		return fmt.Errorf("%w: %s: file %q", ErrBadCatalog, e.Name, e.File)
	case e.Size <= 0:
		return fmt.Errorf("%w: %s: size %d", ErrBadCatalog, e.Name, e.Size)
	}
	switch e.Verify {
	case VerifySHA256:
		if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != 32 || e.SHA256 != strings.ToLower(e.SHA256) {
			return fmt.Errorf("%w: %s: sha256 %q is not 64 lowercase hex digits", ErrBadCatalog, e.Name, e.SHA256)
		}
	case VerifySizeOnly:
		if e.SHA256 != "" {
			return fmt.Errorf("%w: %s: size-only entry carries a sha256", ErrBadCatalog, e.Name)
		}
	default:
		return fmt.Errorf("%w: %s: verify %q (want %q or %q)", ErrBadCatalog, e.Name, e.Verify, VerifySHA256, VerifySizeOnly)
	}
	if e.Layers < 0 || e.KVHeads < 0 || e.HeadDim < 0 || e.ContextLength < 0 {
		return fmt.Errorf("%w: %s: negative shape", ErrBadCatalog, e.Name)
	}
	return nil
}

// Catalog is a list of entries with unique names.
type Catalog struct {
	Version int     `json:"version"`
	Models  []Entry `json:"models"`
}

// Parse reads a catalog from JSON and validates every entry.
func Parse(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCatalog, err)
	}
	seen := map[string]bool{}
	for i := range c.Models {
		e := &c.Models[i]
		if err := e.Validate(); err != nil {
			return nil, err
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("%w: duplicate entry %q", ErrBadCatalog, e.Name)
		}
		seen[e.Name] = true
	}
	return &c, nil
}

//go:embed catalog.json
var builtinJSON []byte

var builtin = sync.OnceValues(func() (*Catalog, error) { return Parse(builtinJSON) })

// Builtin is the catalog shipped with the app (catalog.json, see
// catalog_sources.md for where its sizes and hashes come from).
func Builtin() *Catalog {
	c, err := builtin()
	if err != nil {
		panic("catalog: embedded catalog.json is invalid: " + err.Error()) // caught by tests
	}
	return c
}

// Lookup finds an entry by name (case-insensitive).
func (c *Catalog) Lookup(name string) (Entry, error) {
	want := strings.ToLower(strings.TrimSuffix(name, ".gguf"))
	for _, e := range c.Models {
		if e.Name == want {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%w: %q (see 'hearth models list')", ErrUnknownModel, name)
}

// Names lists the entry names, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.Models))
	for i, e := range c.Models {
		out[i] = e.Name
	}
	sort.Strings(out)
	return out
}
