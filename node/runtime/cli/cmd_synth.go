package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/model/synth"
)

func init() {
	register(&command{
		name:    "synth",
		summary: "write a random-weight model with real shapes (for tests and benchmarks)",
		usage:   "--preset NAME --out FILE [--vocab-dir DIR]",
		run:     runSynth,
	})
}

func runSynth(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "synth")
	preset := fs.String("preset", "", "preset: "+strings.Join(synth.Names(), ", "))
	out := fs.String("out", "", "output GGUF file")
	vocabDir := fs.String("vocab-dir", "", "directory holding the vocab/ GGUF files (default: ../shared/models beside the repository, or $HEARTH_MODELS_DIR)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, ok := synth.Presets[*preset]
	if !ok {
		return usageError("unknown preset %q (have %s)", *preset, strings.Join(synth.Names(), ", "))
	}
	if *out == "" {
		return usageError("--out is required")
	}
	dir := *vocabDir
	if dir == "" {
		dir = defaultModelsDir()
	}
	vf, err := gguf.Open(filepath.Join(dir, p.Vocab))
	if err != nil {
		return fmt.Errorf("vocabulary for %s: %w (set --vocab-dir)", p.Name, err)
	}
	defer vf.Close()
	w, err := synth.Build(p, vf.Header)
	if err != nil {
		return err
	}
	if err := w.WriteFile(*out); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s (%s, %.1f MB)\n", *out, p.Name, float64(st.Size())/1e6)
	return nil
}

// defaultModelsDir is $HEARTH_MODELS_DIR, else ../shared/models beside the
// repository holding the working directory.
func defaultModelsDir() string {
	if d := os.Getenv("HEARTH_MODELS_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return "models"
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "models")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(wd, "models")
		}
	}
}
