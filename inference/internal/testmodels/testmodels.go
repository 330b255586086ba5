// Package testmodels locates the small real GGUF files that tests use. They
// live beside the repository in ../shared/models and are never copied into it.
package testmodels

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared models directory, found by walking up from the
// working directory to the repository root (the directory holding go.mod).
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	if env := os.Getenv("HEARTH_MODELS_DIR"); env != "" {
		return env, nil
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "models"), nil
		}
		if filepath.Dir(d) == d {
			return "", os.ErrNotExist
		}
	}
}

// Path returns the path of a shared model file, failing the test if the file
// is missing: the models are part of the project's test fixtures.
func Path(t testing.TB, name string) string {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatalf("locate shared models: %v", err)
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared model %s: %v (expected at ../shared/models beside the repository)", name, err)
	}
	return p
}

// Names of the shared models.
const (
	Stories260K   = "stories260K.gguf"
	TinyStoriesQ8 = "TinyStories-656K-Q8_0.gguf"
	TinyRandom    = "llama-2-tiny-random.gguf"
	VocabGPT2     = "vocab/ggml-vocab-gpt-2.gguf"
	VocabLlamaSPM = "vocab/ggml-vocab-llama-spm.gguf"
	VocabPhi3     = "vocab/ggml-vocab-phi-3.gguf"
)
