package hardware

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// fakeNVML records calls and fails the test on any call but Init before Init succeeded,
// which is what kills the process with the real library.
type fakeNVML struct {
	t        *testing.T
	initErr  error
	devices  []GPU
	devErr   map[int]error
	countErr error

	mu       sync.Mutex
	inited   bool
	calls    map[string]int
	shutdown bool
}

func (f *fakeNVML) call(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
	if name != "Init" && (!f.inited || f.shutdown) {
		f.t.Errorf("%s called without a live NVML", name)
	}
}

func (f *fakeNVML) Init() error {
	f.call("Init")
	if f.initErr == nil {
		f.mu.Lock()
		f.inited = true
		f.mu.Unlock()
	}
	return f.initErr
}

func (f *fakeNVML) Shutdown() error {
	f.call("Shutdown")
	f.mu.Lock()
	f.shutdown = true
	f.mu.Unlock()
	return nil
}

func (f *fakeNVML) DeviceCount() (int, error) {
	f.call("DeviceCount")
	return len(f.devices), f.countErr
}

func (f *fakeNVML) Device(i int) (GPU, error) {
	f.call("Device")
	if err := f.devErr[i]; err != nil {
		return GPU{}, err
	}
	g := f.devices[i]
	g.Processes = append([]GPUProc(nil), g.Processes...)
	return g, nil
}

func (f *fakeNVML) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func TestNVMLSourceInitFailures(t *testing.T) {
	tests := []struct {
		err    error
		status string
	}{
		{ErrNoDriver, "no NVIDIA driver"},
		{ErrDriverNotLoaded, "NVIDIA driver not loaded"},
		{ErrNoPermission, "no permission to read NVIDIA GPUs"},
		{ErrNVMLUnsupported, "NVIDIA telemetry not supported in this build"},
		{fmt.Errorf("nvml init: return code %d", 999), "NVIDIA unavailable: nvml init: return code 999"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			lib := &fakeNVML{t: t, initErr: tt.err}
			s := newNVMLSource(lib, 1, nil)
			for range 3 {
				gpus, status := s.GPUs(context.Background())
				if gpus != nil || status != tt.status {
					t.Fatalf("GPUs() = %v, %q; want none, %q", gpus, status, tt.status)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if n := lib.count("Init"); n != 1 {
				t.Fatalf("Init called %d times, want once", n)
			}
			if n := lib.count("Shutdown"); n != 0 {
				t.Fatalf("Shutdown after a failed Init")
			}
		})
	}
}

func TestNVMLSourceDevices(t *testing.T) {
	const self = 4242
	lib := &fakeNVML{t: t, devices: []GPU{
		{Name: "NVIDIA GeForce RTX 4090", UUID: "GPU-a", VRAMTotal: 24 << 30, VRAMUsed: 3 << 30, UtilPct: 40,
			Processes: []GPUProc{
				{PID: self, UsedMem: 1 << 30},                           // compute: ours, nameless
				{PID: 1234, Name: "/home/u/.steam/steam", UsedMem: 100}, // graphics
				{PID: 1234, Name: "", UsedMem: 2 << 30},                 // same process as compute
				{PID: 0, Name: "kernel"},                                // nonsense PID dropped
			}},
		{Name: "lost", UUID: "GPU-b"},
		{Name: "NVIDIA RTX A2000", UUID: "GPU-c", Processes: []GPUProc{{PID: self, Name: "hearth"}}},
	}, devErr: map[int]error{1: errors.New("gpu is lost")}}
	names := map[int]string{self: "hearth"}
	s := newNVMLSource(lib, self, func(pid int) string { return names[pid] })

	gpus, status := s.GPUs(context.Background())
	if status != "2 NVIDIA GPUs; GPU 1: gpu is lost" {
		t.Fatalf("status %q", status)
	}
	if len(gpus) != 2 || gpus[0].Index != 0 || gpus[1].Index != 2 {
		t.Fatalf("gpus %+v", gpus)
	}
	wantProcs := []GPUProc{
		{PID: 1234, Name: "steam", UsedMem: 2 << 30},
		{PID: self, Name: "hearth", UsedMem: 1 << 30, Ours: true},
	}
	if !reflect.DeepEqual(gpus[0].Processes, wantProcs) || !gpus[0].OthersUsing {
		t.Fatalf("GPU 0 processes %+v others %v", gpus[0].Processes, gpus[0].OthersUsing)
	}
	if gpus[1].OthersUsing || len(gpus[1].Processes) != 1 || !gpus[1].Processes[0].Ours {
		t.Fatalf("GPU 2: %+v", gpus[1])
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if lib.count("Shutdown") != 1 {
		t.Fatalf("Shutdown called %d times", lib.count("Shutdown"))
	}
	gpus, status = s.GPUs(context.Background())
	if gpus != nil || !strings.Contains(status, "closed") {
		t.Fatalf("after Close: %v %q", gpus, status)
	}
}

func TestNVMLSourceCountError(t *testing.T) {
	lib := &fakeNVML{t: t, countErr: errors.New("driver/library version mismatch")}
	gpus, status := newNVMLSource(lib, 1, nil).GPUs(context.Background())
	if gpus != nil || status != "NVIDIA: cannot count GPUs: driver/library version mismatch" {
		t.Fatalf("%v %q", gpus, status)
	}
}

func TestNVMLSourceNoDevicesAndClosedBeforeUse(t *testing.T) {
	lib := &fakeNVML{t: t}
	if _, status := newNVMLSource(lib, 1, nil).GPUs(context.Background()); status != "no NVIDIA GPU" {
		t.Fatalf("status %q", status)
	}
	lib = &fakeNVML{t: t}
	s := newNVMLSource(lib, 1, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, status := s.GPUs(context.Background()); !strings.Contains(status, "closed") || lib.count("Init") != 0 {
		t.Fatalf("closed before use: %q, Init %d", status, lib.count("Init"))
	}
}

func TestNVMLSourceConcurrent(t *testing.T) {
	lib := &fakeNVML{t: t, devices: []GPU{{Name: "g"}}}
	s := newNVMLSource(lib, 1, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if gpus, _ := s.GPUs(context.Background()); len(gpus) != 1 {
					t.Errorf("gpus %v", gpus)
				}
			}
		})
	}
	wg.Wait()
	if lib.count("Init") != 1 {
		t.Fatalf("Init %d times", lib.count("Init"))
	}
}

func TestCleanProcName(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/lib/xorg/Xorg":     "Xorg",
		`C:\Games\eldenring.exe`: "eldenring.exe",
		" steam ":                "steam",
		"":                       "",
		"/":                      "",
	} {
		if got := cleanProcName(in); got != want {
			t.Errorf("cleanProcName(%q) = %q, want %q", in, got, want)
		}
	}
}

// The real NVML, on whatever machine runs the tests: without a driver it must report so
// cleanly (and not kill the process); with one, the devices must look like devices.
func TestNVMLSourceLive(t *testing.T) {
	s := NewNVMLSource()
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	gpus, status := s.GPUs(context.Background())
	t.Logf("status %q, %d GPUs", status, len(gpus))
	if _, err := os.Stat("/dev/nvidiactl"); err != nil {
		if len(gpus) != 0 {
			t.Fatalf("GPUs without /dev/nvidiactl: %+v", gpus)
		}
		switch status {
		case "no NVIDIA driver", "NVIDIA driver not loaded", "NVIDIA telemetry not supported in this build":
		default:
			t.Fatalf("status %q, want a clear no-driver status", status)
		}
		return
	}
	if len(gpus) == 0 {
		t.Fatalf("an NVIDIA device node exists but no GPUs: %q", status)
	}
	for _, g := range gpus {
		if g.Name == "" || !strings.HasPrefix(g.UUID, "GPU-") || g.VRAMTotal == 0 || g.VRAMUsed > g.VRAMTotal ||
			g.UtilPct < 0 || g.UtilPct > 100 || g.TempC <= 0 || g.TempC > 130 {
			t.Fatalf("implausible GPU %+v", g)
		}
		t.Logf("GPU %d: %s %s vram %d/%d util %.0f%% %0.f°C %.0f/%.0f W sm %d mem %d MHz procs %+v",
			g.Index, g.Name, g.UUID, g.VRAMUsed, g.VRAMTotal, g.UtilPct, g.TempC, g.PowerW, g.PowerLimitW,
			g.SMClockMHz, g.MemClockMHz, g.Processes)
	}
}
