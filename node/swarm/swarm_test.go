package swarm

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/model/synth"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/node/route"
	"github.com/hearth-p2p/hearth/node/shard"
)

// modelsDir finds ../shared/models beside the repository root.
func modelsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("HEARTH_MODELS_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "models")
		}
	}
	t.Fatal("no go.mod above the working directory")
	return ""
}

// synthModel writes a synthetic preset to a temporary file.
func synthModel(t testing.TB, preset string) string {
	t.Helper()
	p, ok := synth.Presets[preset]
	if !ok {
		t.Fatalf("no preset %s", preset)
	}
	vf, err := gguf.Open(filepath.Join(modelsDir(t), p.Vocab))
	if err != nil {
		t.Fatal(err)
	}
	defer vf.Close()
	w, err := synth.Build(p, vf.Header)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), preset+".gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSwarmShort runs a small swarm with churn, a slow provider and a
// cheater, checking a quarter of the results: every generation completes,
// none has wrong ids unless a cheater's result passed through it before it
// was caught, the cheater is caught and nobody honest is banned. Figures
// are logged, not asserted.
func TestSwarmShort(t *testing.T) {
	cfg := Config{
		ModelPath: filepath.Join(modelsDir(t), "stories260K.gguf"), Providers: 10, Capacity: 3,
		Clients: 3, Concurrency: 2, Generations: 18, Prompt: 4, Steps: 24, Wire: shard.F32,
		CheckRate: 0.25, Gossip: true, Churn: 200 * time.Millisecond, Downtime: 700 * time.Millisecond, Freeze: true,
		Slow: 1, SlowDelay: 5 * time.Millisecond, Cheaters: 1, Seed: 3,
		Deadline: route.Deadline{Floor: 400 * time.Millisecond, Initial: 20 * time.Second, K: 8, MinSamples: 8},
		Logger:   p2ptest.Logger(t, slog.LevelError),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", res)
	if res.Generations != cfg.Generations || res.Completed != res.Generations {
		t.Fatalf("%d of %d generations completed", res.Completed, res.Generations)
	}
	if wrong := res.Completed - res.Correct; wrong != res.WrongGen {
		t.Fatalf("%d generations with wrong ids, %d of them explained by a cheater", wrong, res.WrongGen)
	}
	if res.Kills == 0 || res.Failovers-res.Faulty == 0 {
		t.Fatalf("churn: %d kills, %d failovers of which %d for wrong results", res.Kills, res.Failovers, res.Faulty)
	}
	if res.Exposed == 0 || res.Caught == 0 || res.Stopped != res.Exposed || res.WrongBans != 0 {
		t.Fatalf("cheater: %d exposures, %d convictions, %d clients exposed banned it, %d honest providers banned",
			res.Exposed, res.Caught, res.Stopped, res.WrongBans)
	}
	for _, n := range res.Detection {
		if n > 40 { // P(no check in 40 results at rate 1/4) < 1e-5
			t.Fatalf("a client needed %d of the cheater's results to catch it", n)
		}
	}
}

func TestPlaceRanges(t *testing.T) {
	rs := placeRanges(8, 5, 3)
	cov := make([]int, 5)
	for _, r := range rs {
		if r.Len() != 3 {
			t.Fatalf("range %v", r)
		}
		for l := r.From; l < r.To; l++ {
			cov[l]++
		}
	}
	for l, c := range cov {
		if c < 4 {
			t.Fatalf("layer %d has %d replicas: %v", l, c, cov)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Default()
	good.ModelPath = "m.gguf"
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no model":          func(c *Config) { c.ModelPath = "" },
		"one provider":      func(c *Config) { c.Providers = 1 },
		"no honest":         func(c *Config) { c.Slow, c.Cheaters = 8, 8 },
		"no steps":          func(c *Config) { c.Steps = 0 },
		"negative downtime": func(c *Config) { c.Downtime = -1 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}
