package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// resolveModel turns --model into a file path: an existing file, or the name
// of a model installed in the data directory's model store.
func resolveModel(nameOrPath, dataDir string) (string, error) {
	if nameOrPath == "" {
		return "", usageError("--model is required")
	}
	if st, err := os.Stat(nameOrPath); err == nil && !st.IsDir() {
		return nameOrPath, nil
	}
	if strings.ContainsAny(nameOrPath, `/\`) || strings.HasSuffix(nameOrPath, ".gguf") {
		return "", fmt.Errorf("model file %s: %w", nameOrPath, os.ErrNotExist)
	}
	installed := filepath.Join(dataDir, "models", nameOrPath+".gguf")
	if _, err := os.Stat(installed); err == nil {
		return installed, nil
	}
	return "", fmt.Errorf("model %q is neither a file nor installed in %s (try 'hearth models pull %s')", nameOrPath, filepath.Join(dataDir, "models"), nameOrPath)
}

// modelName is the name a model is served under: its file name without .gguf.
func modelName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".gguf")
}
