package hardware

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// fixedGPUs is a GPUSource with a fixed answer.
type fixedGPUs struct {
	gpus   []GPU
	status string
}

func (f fixedGPUs) GPUs(context.Context) ([]GPU, string) { return f.gpus, f.status }

// fixedIdle is an IdleSource with a fixed answer.
type fixedIdle UserIdle

func (f fixedIdle) UserIdle(context.Context, time.Time) UserIdle { return UserIdle(f) }

// burn spends about d of CPU time in this process.
func burn(d time.Duration) {
	x := 1.0
	for start := time.Now(); time.Since(start) < d; {
		for range 1000 {
			x = x*1.0000001 + 1e-9
		}
	}
	_ = x
}

// Live gopsutil data on the machine running the tests, with the real NVML and input
// sources: everything must be within sane ranges, GPUs absent with a clear status where
// there is no driver.
func TestSamplerLive(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultSamplerConfig()
	dataDir := filepath.Join(t.TempDir(), "not", "created", "yet")
	cfg.DataDir = dataDir
	nv := NewNVMLSource()
	defer func() {
		if err := nv.Close(); err != nil {
			t.Error(err)
		}
	}()
	s, err := NewSampler(ctx, cfg, nv, NewInputIdle())
	if err != nil {
		t.Fatal(err)
	}
	burn(300 * time.Millisecond)
	before := time.Now()
	r, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reading: %+v", r)
	c := r.CPU
	switch {
	case r.Time.Before(before) || r.Time.After(time.Now()):
		t.Errorf("time %v", r.Time)
	case c.Cores < 1 || c.Threads < c.Cores || c.Threads > 4*runtime.NumCPU()+64:
		t.Errorf("cores %d threads %d", c.Cores, c.Threads)
	case c.UsagePct <= 0 || c.UsagePct > 100:
		t.Errorf("usage %v%% after burning CPU", c.UsagePct)
	case c.OthersPct < 0 || c.OthersPct >= c.UsagePct:
		t.Errorf("others %v%% of usage %v%%: our own burn must not count as others", c.OthersPct, c.UsagePct)
	case c.Load1 < 0:
		t.Errorf("load %v", c.Load1)
	}
	if m := r.Mem; m.Total == 0 || m.Available == 0 || m.Available > m.Total || m.OurRSS == 0 || m.OurRSS > m.Total {
		t.Errorf("memory %+v", m)
	}
	if d := r.Disk; d.Path != filepath.Dir(filepath.Dir(filepath.Dir(dataDir))) || d.Total == 0 || d.Free > d.Total {
		t.Errorf("disk %+v", d)
	}
	for _, tc := range r.Temps {
		if tc.C <= 0 || tc.C > 150 {
			t.Errorf("temperature %+v", tc)
		}
	}
	if p := r.Power; p.BatteryPct < 0 || p.BatteryPct > 100 || (!p.Known && p.OnBattery) {
		t.Errorf("power %+v", p)
	}
	if entries, _ := os.ReadDir(powerSupplyRoot); len(entries) == 0 && r.Power.Known {
		t.Errorf("power known without power supplies: %+v", r.Power)
	}
	if _, err := os.Stat("/dev/nvidiactl"); err != nil && (len(r.GPUs) != 0 || r.GPUStatus != "no NVIDIA driver") {
		t.Errorf("no NVIDIA device here, got GPUs %+v status %q", r.GPUs, r.GPUStatus)
	}
	if r.UserIdle.Known {
		t.Errorf("user idleness known on the first look: %+v", r.UserIdle)
	}
	if r.Err != "" {
		t.Errorf("err %q", r.Err)
	}

	// A second read right away reuses the percentages rather than dividing by ~0.
	r2, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r2.CPU.UsagePct < 0 || r2.CPU.UsagePct > 100 || r2.CPU.OthersPct > r2.CPU.UsagePct {
		t.Errorf("second read cpu %+v", r2.CPU)
	}
}

func TestSamplerSources(t *testing.T) {
	ctx := context.Background()
	gpus := fixedGPUs{gpus: []GPU{{Name: "fake"}}, status: "1 NVIDIA GPU"}
	idle := fixedIdle{Known: true, For: time.Minute}
	s, err := NewSampler(ctx, DefaultSamplerConfig(), gpus, idle)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GPUs) != 1 || r.GPUStatus != "1 NVIDIA GPU" || r.UserIdle != UserIdle(idle) || r.Disk != (Disk{}) {
		t.Fatalf("reading %+v", r)
	}

	s, err = NewSampler(ctx, DefaultSamplerConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = s.Read(ctx); err != nil || r.GPUs != nil || r.GPUStatus != "GPU telemetry off" || r.UserIdle.Known {
		t.Fatalf("no sources: %+v %v", r, err)
	}
}

func TestSamplerErrors(t *testing.T) {
	if _, err := NewSampler(context.Background(), SamplerConfig{}, nil, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty config: %v", err)
	}
	s, err := NewSampler(context.Background(), DefaultSamplerConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
	// A broken power-supply directory is a warning, not a failure.
	cfg := DefaultSamplerConfig()
	cfg.PowerSupplyDir = os.Args[0] // a file
	if runtime.GOOS == "linux" {
		s, err = NewSampler(context.Background(), cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Read(context.Background())
		if err != nil || len(r.Warnings) == 0 {
			t.Fatalf("bad power dir: %v, warnings %v", err, r.Warnings)
		}
	}
}

func TestExistingAncestor(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]string{
		dir:                               dir,
		filepath.Join(dir, "a", "b", "c"): dir,
		"/":                               "/",
		"relative-does-not-exist":         ".",
	}
	for in, want := range tests {
		if got := existingAncestor(in); got != want {
			t.Errorf("existingAncestor(%q) = %q, want %q", in, got, want)
		}
	}
}
