package llamaref

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// ErrUnavailable is returned (wrapped) when node or the npm reference tools
// are missing.
var ErrUnavailable = errors.New("llamaref: reference tools unavailable")

// ModelsEnv overrides ModelsDir when set.
const ModelsEnv = "HEARTH_MODELS_DIR"

// scriptRel is the CLI's path relative to the repository root.
var scriptRel = filepath.Join(".ci", "tools", "llamaref", "llamaref.mjs")

// RepoRoot returns the nearest directory at or above the working directory
// that holds a go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("llamaref: working dir: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("llamaref: no go.mod at or above the working dir")
		}
		dir = parent
	}
}

// ModelsDir returns the shared test models directory, <root>/../shared/models,
// where <root> is RepoRoot; $HEARTH_MODELS_DIR overrides it. It returns ""
// when neither is known.
func ModelsDir() string {
	if dir := os.Getenv(ModelsEnv); dir != "" {
		return dir
	}
	root, err := RepoRoot()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(root), "shared", "models")
}

// ModelPath returns the path of a file in ModelsDir, e.g. "stories260K.gguf".
func ModelPath(name string) string {
	return filepath.Join(ModelsDir(), name)
}

// tools is what Run needs to start the CLI.
type tools struct {
	node   string // node executable
	script string // llamaref.mjs
}

var (
	toolsMu    sync.Mutex // guards toolsFound
	toolsFound *tools     // the first successful lookup; workers keep using it
)

// findTools locates node, the CLI and its node-llama-cpp install. A found set
// is remembered, so a later change of working dir does not lose it.
func findTools() (tools, error) {
	toolsMu.Lock()
	defer toolsMu.Unlock()
	if toolsFound != nil {
		return *toolsFound, nil
	}
	t, err := lookTools()
	if err != nil {
		return tools{}, err
	}
	toolsFound = &t
	return t, nil
}

func lookTools() (tools, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return tools{}, fmt.Errorf("%w: node not in PATH: %v", ErrUnavailable, err)
	}
	root, err := RepoRoot()
	if err != nil {
		return tools{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	script := filepath.Join(root, scriptRel)
	if _, err := os.Stat(script); err != nil {
		return tools{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	pkg := filepath.Join(root, ".ci", "tools", "node_modules", "node-llama-cpp", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		return tools{}, fmt.Errorf("%w: node-llama-cpp not installed (run .ci/setup): %v", ErrUnavailable, err)
	}
	return tools{node: node, script: script}, nil
}

// Available reports whether Run can work: node is in PATH and the CLI and
// .ci/tools/node_modules (node-llama-cpp) are present. The error wraps
// ErrUnavailable.
func Available() error {
	_, err := findTools()
	return err
}
