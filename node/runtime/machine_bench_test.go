package runtime

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// TestMachineBench runs the real benchmark: a one-token forward through a
// synthetic 1B-shaped shard gives positive, plausible throughputs, quickly.
func TestMachineBench(t *testing.T) {
	start := time.Now()
	b, err := RunMachineBench(context.Background(), "test cpu", 2)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%+v (took %v)", b, took)
	if b.Threads != 2 || b.CPU != "test cpu" || b.Kernels != tensor.KernelSet() || b.Version != benchVersion || b.Weights != "Q4_K" {
		t.Errorf("key %+v weights %s", b.MachineKey, b.Weights)
	}
	// A Q4_K 1B layer is ~24.8 MB: 44M weights at 4.5 bits.
	if b.LayerBytes < 23<<20 || b.LayerBytes > 25<<20 {
		t.Errorf("layer bytes %d, want a 1B layer's ~24.8 MB", b.LayerBytes)
	}
	// Even a slow CPU under -race streams a layer in well under a second,
	// and no CPU reads 25 MB in under 10 µs (2.5 TB/s).
	if !(b.LayerTokS > 1) || b.LayerTokS > 1e5 {
		t.Errorf("layer tok/s %v is implausible", b.LayerTokS)
	}
	if !(b.Model1BTokS > 0) || b.Model1BTokS >= b.LayerTokS/benchLayers*1.0001 {
		t.Errorf("1B tok/s %v: want positive and below a 22nd of the layer rate %v", b.Model1BTokS, b.LayerTokS)
	}
	if b.HeadMs < 0 || b.Steps < benchMinSteps || b.TookMs <= 0 || b.At.IsZero() {
		t.Errorf("head %v ms, %d steps, took %v ms, at %v", b.HeadMs, b.Steps, b.TookMs, b.At)
	}
	if limit := 20 * time.Second; took > limit { // a few seconds normally; -race slows the kernels' Go parts
		t.Errorf("took %v, want under %v", took, limit)
	}
	if got := b.LayerTokSFor(2 * b.LayerBytes); math.Abs(got-b.LayerTokS/2) > 1e-9*b.LayerTokS {
		t.Errorf("a layer twice as big runs at %v, want %v", got, b.LayerTokS/2)
	}
}

func TestMachineBenchCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunMachineBench(ctx, "", 1); err == nil {
		t.Fatal("a cancelled benchmark reported no error")
	}
}

// TestMachineBenchCache: the first call measures and writes
// machine-bench.json; the next reuses it; a different key (threads, CPU,
// kernels, version) or force measures again.
func TestMachineBenchCache(t *testing.T) {
	fastBench(t)
	dir := t.TempDir()
	ctx := context.Background()
	first, cached, err := MachineBenchFor(ctx, dir, 1, false)
	if err != nil || cached {
		t.Fatalf("first: cached %v err %v", cached, err)
	}
	if first.MachineKey != MachineKeyFor(ctx, 1) {
		t.Errorf("key %+v, want %+v", first.MachineKey, MachineKeyFor(ctx, 1))
	}
	again, cached, err := MachineBenchFor(ctx, dir, 1, false)
	if err != nil || !cached || again.LayerTokS != first.LayerTokS || !again.At.Equal(first.At) {
		t.Fatalf("second: cached %v err %v, %+v vs %+v", cached, err, again, first)
	}
	// Another thread count is another key.
	if b, cached, err := MachineBenchFor(ctx, dir, 2, false); err != nil || cached || b.Threads != 2 {
		t.Fatalf("2 threads: cached %v err %v threads %d", cached, err, b.Threads)
	}
	if _, ok := LoadMachineBench(dir, MachineKeyFor(ctx, 1)); ok {
		t.Error("the 1-thread result survived a 2-thread run")
	}
	// A file from another CPU or kernel set is measured again.
	path := filepath.Join(dir, MachineBenchFile)
	for _, edit := range []func(*MachineBench){
		func(b *MachineBench) { b.CPU = "Some Other CPU" },
		func(b *MachineBench) { b.Kernels = "other-kernels" },
		func(b *MachineBench) { b.Version = benchVersion - 1 },
	} {
		b := first
		b.Threads = 2
		edit(&b)
		raw, _ := json.Marshal(b)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, cached, err := MachineBenchFor(ctx, dir, 2, false); err != nil || cached {
			t.Errorf("key %+v: cached %v err %v", b.MachineKey, cached, err)
		}
	}
	if _, cached, err := MachineBenchFor(ctx, dir, 2, true); err != nil || cached {
		t.Errorf("forced: cached %v err %v", cached, err)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, cached, err := MachineBenchFor(ctx, dir, 2, false); err != nil || cached {
		t.Errorf("corrupt file: cached %v err %v", cached, err)
	}
}
