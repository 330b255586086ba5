package runtime

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/node/hardware"
)

// fastBench shortens the benchmark's measurement for the test.
func fastBench(t *testing.T) {
	budget, minSteps := benchBudget, benchMinSteps
	benchBudget, benchMinSteps = 50*time.Millisecond, 2
	t.Cleanup(func() { benchBudget, benchMinSteps = budget, minSteps })
}

// TestDesktopMachineBench: Serve measures the machine in the background at
// the first start, reports it with MachineBenchChanged and caches it in
// the data directory; the next start reuses it; new lending threads
// measure again.
func TestDesktopMachineBench(t *testing.T) {
	fastBench(t)
	cfg := testDesktopConfig(t)
	cfg.MachineBench = true
	d := openDesktop(t, cfg)
	log := watchEvents(t, d)
	stop := serve(t, d)
	eventually(t, "the benchmark", func() bool { return d.MachineBench().Ready })
	log.waitFor(t, "MachineBenchChanged", func(evs []DesktopEvent) bool {
		for _, ev := range evs {
			if _, ok := ev.(MachineBenchChanged); ok {
				return true
			}
		}
		return false
	})
	first := d.MachineBench()
	if first.Running || first.Err != "" || !(first.Bench.Model1BTokS > 0) || first.Bench.Threads != d.Settings().MaxThreads {
		t.Fatalf("%+v", first)
	}
	if _, err := os.Stat(filepath.Join(d.DataDir(), MachineBenchFile)); err != nil {
		t.Fatal(err)
	}
	stop()
	d.Close()

	d2 := openDesktop(t, cfg)
	serve(t, d2)
	eventually(t, "the cached benchmark", func() bool { return d2.MachineBench().Ready })
	if got := d2.MachineBench().Bench; !got.At.Equal(first.Bench.At) || got.LayerTokS != first.Bench.LayerTokS {
		t.Errorf("second start measured again: %+v, first %+v", got, first.Bench)
	}
	s := d2.Settings()
	s.MaxThreads = 1 // the machine has 8; the default is 4
	if err := d2.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a 1-thread benchmark", func() bool {
		b := d2.MachineBench()
		return b.Ready && !b.Running && b.Bench.Threads == 1
	})
}

// seedBench caches a benchmark for d's lending threads and loads it.
func seedBench(t *testing.T, d *Desktop, layerTokS float64) MachineBench {
	t.Helper()
	b := MachineBench{MachineKey: MachineKeyFor(context.Background(), d.Settings().MaxThreads), Weights: "Q4_K",
		LayerTokS: layerTokS, Model1BTokS: layerTokS / 25, LayerBytes: 24788992, At: time.Now().UTC()}
	if err := saveMachineBench(d.DataDir(), b); err != nil {
		t.Fatal(err)
	}
	d.RunMachineBench(false)
	if got := d.MachineBench(); !got.Ready || got.Bench.LayerTokS != layerTokS {
		t.Fatalf("seeded benchmark not loaded: %+v", got)
	}
	return b
}

// TestEstimateEarnings: the estimate follows the price and the schedule,
// serves the 1B reference when no model is installed and the lend model's
// layers the RAM cap holds when one is.
func TestEstimateEarnings(t *testing.T) {
	d := openDesktop(t, testDesktopConfig(t))
	s := d.Settings()
	if e := d.EstimateEarnings(s); e.Ready || e.PerDay != 0 {
		t.Fatalf("estimate before any benchmark: %+v", e)
	}
	seedBench(t, d, 500)
	s.Price, s.MaxRAMGiB = 20, 16

	e := d.EstimateEarnings(s)
	// 500 token-layers/s × 86400 s × 20/1000 lamports.
	if e.Model != ReferenceModel || e.Layers != benchLayers || e.HoursPerDay != 24 || e.PerDay != 864000 {
		t.Fatalf("reference, all day: %+v", e)
	}
	if math.Abs(e.TokS-500.0/benchLayers) > 1e-9 {
		t.Errorf("tok/s %v, want %v", e.TokS, 500.0/benchLayers)
	}
	s.Price = 40
	if e2 := d.EstimateEarnings(s); e2.PerDay != 2*e.PerDay {
		t.Errorf("double the price earns %d, want %d", e2.PerDay, 2*e.PerDay)
	}
	s.Price = 0
	if e2 := d.EstimateEarnings(s); e2.PerDay != 0 {
		t.Errorf("free lending earns %d", e2.PerDay)
	}
	s.Price = 20
	night, err := hardware.ParseWindow("Mon-Sun 22:00-06:00")
	if err != nil {
		t.Fatal(err)
	}
	s.Schedule = []hardware.Window{night}
	if e2 := d.EstimateEarnings(s); e2.HoursPerDay != 8 || e2.PerDay+1 < e.PerDay/3 || e2.PerDay > e.PerDay/3 { // floating point may round a lamport down
		t.Errorf("8 h a day: %v h, %d lamports, want %d", e2.HoursPerDay, e2.PerDay, e.PerDay/3)
	}
	s.Schedule = nil
	s.MaxRAMGiB = 0.1 // holds 4 layers of 24.8 MB
	if e2 := d.EstimateEarnings(s); e2.Layers != 4 || e2.PerDay != e.PerDay {
		t.Errorf("0.1 GiB: %d layers, %d lamports (the same work a second: %d)", e2.Layers, e2.PerDay, e.PerDay)
	}

	m := withStories(t, d)
	s.MaxRAMGiB = 16
	e2 := d.EstimateEarnings(s)
	if e2.Model != m.Name || e2.Layers != 5 { // stories260K: 5 layers
		t.Errorf("with %s installed: %+v", m.Name, e2)
	}
	// Its layers are tiny: far more tokens a second than a 1B layer.
	if !(e2.TokS > e.TokS) || e2.PerDay <= e.PerDay {
		t.Errorf("stories layers run at %v tok/s, earning %d; the 1B reference %v, %d", e2.TokS, e2.PerDay, e.TokS, e.PerDay)
	}
}

// TestDesktopMachineBenchWaitsForQuiet: a speed test asked for while a
// reply is being generated waits for the reply to end, so that neither
// skews nor slows the other.
func TestDesktopMachineBenchWaitsForQuiet(t *testing.T) {
	fastBench(t)
	d := openDesktop(t, testDesktopConfig(t))
	serve(t, d)
	turn, err := d.chat.reserve("a conversation")
	if err != nil {
		t.Fatal(err)
	}
	d.RunMachineBench(true)
	time.Sleep(3 * time.Second)
	if b := d.MachineBench(); !b.Running || b.Ready {
		t.Fatalf("speed test during a reply: %+v", b)
	}
	released := time.Now()
	d.chat.release("a conversation", turn)
	eventually(t, "the speed test after the reply", func() bool { b := d.MachineBench(); return b.Ready && !b.Running })
	// It began measuring after the reply ended (At is its end, to the second).
	b := d.MachineBench().Bench
	if began := b.At.Add(-time.Duration(b.TookMs * float64(time.Millisecond))); began.Before(released.Add(-time.Second)) {
		t.Fatalf("measured from %v, the reply ended at %v", began, released)
	}
}
