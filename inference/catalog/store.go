package catalog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Store errors.
var (
	ErrNotInstalled = errors.New("model is not installed")
	ErrExists       = errors.New("a model with that name is already installed")
	ErrBadModel     = errors.New("not a usable GGUF model")
	ErrPermission   = errors.New("permission denied")
)

// Suffixes of in-progress downloads.
const (
	partialSuffix = ".partial"
	metaSuffix    = ".partial.json"
)

// Store is the local model store: one <name>.gguf file per installed model
// in <data dir>/models, plus <name>.gguf.partial files (with a small
// .partial.json sidecar) for downloads in progress. The directory is the
// only state: files copied in by hand show up too.
type Store struct {
	cfg Config
	dir string
}

// Open returns the store of cfg.DataDir. The models directory is created on
// the first write, not here, so listing a fresh data dir needs no write access.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, dir: filepath.Join(cfg.DataDir, ModelsDir)}, nil
}

// Dir is the models directory.
func (s *Store) Dir() string { return s.dir }

// Catalog is the catalog the store downloads from.
func (s *Store) Catalog() *Catalog { return s.cfg.Catalog }

// Installed describes a model file in the store.
type Installed struct {
	Name    string // file name without .gguf
	Path    string
	Size    int64
	Info    Info   // read from the GGUF header; zero when Err is set
	Catalog *Entry // the catalog entry of the same name, if any
	Err     error  // why the file could not be read as a GGUF model
}

// List returns the installed models, sorted by name. A file that is not a
// readable GGUF model is listed with Err set rather than failing the list.
func (s *Store) List() ([]Installed, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrapFS("list models", err)
	}
	var out []Installed
	for _, de := range ents {
		name, ok := strings.CutSuffix(de.Name(), ".gguf")
		if !ok || de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		out = append(out, s.inspect(name, filepath.Join(s.dir, de.Name())))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Store) inspect(name, path string) Installed {
	in := Installed{Name: name, Path: path}
	if e, err := s.cfg.Catalog.Lookup(name); err == nil {
		in.Catalog = &e
	}
	st, err := os.Stat(path)
	if err != nil {
		in.Err = err
		return in
	}
	in.Size = st.Size()
	in.Info, in.Err = ReadInfo(path)
	return in
}

// Get returns one installed model.
func (s *Store) Get(name string) (Installed, error) {
	path := filepath.Join(s.dir, strings.TrimSuffix(name, ".gguf")+".gguf")
	if !validName(name) {
		return Installed{}, fmt.Errorf("%w: %q", ErrNotInstalled, name)
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Installed{}, fmt.Errorf("%w: %s", ErrNotInstalled, name)
		}
		return Installed{}, s.wrapFS("read model", err)
	}
	return s.inspect(strings.TrimSuffix(name, ".gguf"), path), nil
}

var importNameRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// validName reports whether name can be a store file name.
func validName(name string) bool {
	name = strings.TrimSuffix(name, ".gguf")
	return name != "" && name != "." && name != ".." && !strings.HasPrefix(name, ".") &&
		importNameRE.FindStringIndex(name) == nil
}

// ImportName is the store name Import gives a file: its base name without
// .gguf, with characters other than letters, digits, '.', '_' and '-'
// replaced by '-'.
func ImportName(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), ".gguf")
	base = strings.Trim(importNameRE.ReplaceAllString(base, "-"), "-.")
	if base == "" {
		base = "model"
	}
	return base
}

// Import adds a local GGUF file to the store under name (ImportName(path)
// when empty) after checking that its header parses and its tensors fit in
// the file. It hard-links the file when the store is on the same filesystem
// (instant, no extra disk space; the bytes are shared, which is safe because
// neither Hearth nor llama.cpp tools rewrite a GGUF in place) and otherwise
// copies it through a temporary file renamed into place. An existing model
// of the same name is never replaced (ErrExists).
func (s *Store) Import(path, name string) (Installed, error) {
	if name == "" {
		name = ImportName(path)
	}
	if !validName(name) {
		return Installed{}, fmt.Errorf("import: invalid model name %q", name)
	}
	name = strings.TrimSuffix(name, ".gguf")
	if _, err := ReadInfo(path); err != nil {
		return Installed{}, fmt.Errorf("import %s: %w", path, err)
	}
	if err := s.ensureDir(); err != nil {
		return Installed{}, err
	}
	dst := filepath.Join(s.dir, name+".gguf")
	if _, err := os.Lstat(dst); err == nil {
		return Installed{}, fmt.Errorf("import %s: %w: %s", path, ErrExists, name)
	}
	if err := os.Link(path, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Installed{}, fmt.Errorf("import %s: %w: %s", path, ErrExists, name)
		}
		if err := copyInto(path, dst); err != nil {
			return Installed{}, s.wrapFS("import "+path, err)
		}
	}
	return s.inspect(name, dst), nil
}

// copyInto copies src to dst via a synced temporary file in dst's
// directory; dst must not exist (the final step is a no-replace link).
func copyInto(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".import*")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	// Link rather than rename so an existing dst is never replaced.
	if err = os.Link(tmp.Name(), dst); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExists, filepath.Base(dst))
	}
	return err
}

// Remove deletes an installed model and any unfinished download of it.
func (s *Store) Remove(name string) error {
	if !validName(name) {
		return fmt.Errorf("remove: %w: %q", ErrNotInstalled, name)
	}
	base := filepath.Join(s.dir, strings.TrimSuffix(name, ".gguf")+".gguf")
	err := os.Remove(base)
	if errors.Is(err, fs.ErrNotExist) {
		partialErr := os.Remove(base + partialSuffix)
		_ = os.Remove(base + metaSuffix)
		if partialErr == nil {
			return nil // only an unfinished download was there
		}
		return fmt.Errorf("remove: %w: %s", ErrNotInstalled, name)
	}
	if err != nil {
		return s.wrapFS("remove "+name, err)
	}
	_ = os.Remove(base + partialSuffix)
	_ = os.Remove(base + metaSuffix)
	return nil
}

// Resolve turns what a user typed into a model file path: an existing file
// path, an installed model's name, or a catalog name (which must be
// installed; the error then says how to pull it).
func (s *Store) Resolve(nameOrPath string) (string, error) {
	if nameOrPath == "" {
		return "", errors.New("resolve model: empty name")
	}
	looksLikePath := strings.ContainsAny(nameOrPath, `/\`) || strings.HasSuffix(nameOrPath, ".gguf")
	if st, err := os.Stat(nameOrPath); err == nil && !st.IsDir() && looksLikePath {
		return filepath.Abs(nameOrPath)
	}
	if validName(nameOrPath) {
		p := filepath.Join(s.dir, strings.TrimSuffix(nameOrPath, ".gguf")+".gguf")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if e, err := s.cfg.Catalog.Lookup(nameOrPath); err == nil {
		p := filepath.Join(s.dir, e.FileName())
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("%w: %s (run 'hearth models pull %s')", ErrNotInstalled, e.Name, e.Name)
	}
	if looksLikePath {
		return "", fmt.Errorf("%w: no file %s", ErrNotInstalled, nameOrPath)
	}
	return "", fmt.Errorf("%w: %q is neither a file, an installed model nor a catalog entry", ErrUnknownModel, nameOrPath)
}

// DiskUsage is the bytes used by the models directory, unfinished
// downloads included.
func (s *Store) DiskUsage() (int64, error) {
	var total int64
	err := filepath.WalkDir(s.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrapFS("disk usage", err)
	}
	return total, nil
}

func (s *Store) ensureDir() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return s.wrapFS("create models directory", err)
	}
	return nil
}

// wrapFS turns permission errors into a message naming the directory and
// the way out.
func (s *Store) wrapFS(op string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%s: %w: cannot write to %s (choose another --data-dir or fix its permissions): %w", op, ErrPermission, s.dir, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
