package cli

import (
	"path/filepath"
	"strings"

	"github.com/hearth-p2p/hearth/inference/catalog"
)

// resolveModel turns --model into a file path: a GGUF file, a model
// installed in the data directory's store, or a catalog name (which must be
// pulled first).
func resolveModel(nameOrPath, dataDir string) (string, error) {
	if nameOrPath == "" {
		return "", usageError("--model is required")
	}
	store, err := catalog.Open(catalog.Default(dataDir))
	if err != nil {
		return "", err
	}
	return store.Resolve(nameOrPath)
}

// modelName is the name a model is served under: its file name without .gguf.
func modelName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".gguf")
}
