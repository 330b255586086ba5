package hardware

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Sentinel errors for NVML initialisation. None of them is a failure of Hearth: a machine
// without an NVIDIA GPU is a normal machine.
var (
	ErrNoDriver        = errors.New("no NVIDIA driver")
	ErrDriverNotLoaded = errors.New("NVIDIA driver not loaded")
	ErrNoPermission    = errors.New("no permission to read NVIDIA GPUs")
	ErrNVMLUnsupported = errors.New("NVIDIA telemetry not supported in this build")
)

// nvmlLib is the part of NVML that NVMLSource needs. The real one lives in nvml_linux.go;
// tests use a fake. No method other than Init may be called unless Init returned nil:
// with no driver, go-nvml kills the process on any other call.
type nvmlLib interface {
	Init() error
	Shutdown() error
	DeviceCount() (int, error)
	// Device reads one device. Unsupported fields stay zero; Processes carry PID, UsedMem
	// and, where the driver knows it, Name.
	Device(index int) (GPU, error)
}

// NVMLSource reports NVIDIA GPUs through NVML. It initialises NVML once, on first use;
// when that fails it reports why (e.g. "no NVIDIA driver") and never calls NVML again.
// It is safe for concurrent use.
type NVMLSource struct {
	lib      nvmlLib
	selfPID  int
	procName func(pid int) string // fallback name lookup; may return ""

	once    sync.Once
	mu      sync.Mutex // guards initErr, ready and closed, and serialises NVML calls
	initErr error
	ready   bool // Init succeeded and Close has not run
	closed  bool
}

// newNVMLSource wraps lib. selfPID marks this process's entries on the GPUs.
func newNVMLSource(lib nvmlLib, selfPID int, procName func(int) string) *NVMLSource {
	return &NVMLSource{lib: lib, selfPID: selfPID, procName: procName}
}

func (s *NVMLSource) init() {
	s.once.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			s.initErr = fmt.Errorf("nvml: %w", errClosed)
			return
		}
		if err := s.lib.Init(); err != nil {
			s.initErr = err
			return
		}
		s.ready = true
	})
}

var errClosed = errors.New("source closed")

// GPUs returns the devices and a one-line status for people ("no NVIDIA driver",
// "2 NVIDIA GPUs", "1 NVIDIA GPU; GPU 1: gpu is lost"). It never returns an error:
// every failure is a state to show.
func (s *NVMLSource) GPUs(ctx context.Context) ([]GPU, string) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return nil, initStatus(s.initErr)
	}
	n, err := s.lib.DeviceCount()
	if err != nil {
		return nil, "NVIDIA: cannot count GPUs: " + err.Error()
	}
	var (
		gpus     []GPU
		problems []string
	)
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			problems = append(problems, "interrupted")
			break
		}
		g, err := s.lib.Device(i)
		if err != nil {
			problems = append(problems, fmt.Sprintf("GPU %d: %v", i, err))
			continue
		}
		g.Index = i
		s.markProcesses(&g)
		gpus = append(gpus, g)
	}
	return gpus, countStatus(len(gpus), problems)
}

// markProcesses merges duplicate PIDs (a process can be both a compute and a graphics
// client), fills missing names, flags our own process and sets OthersUsing.
func (s *NVMLSource) markProcesses(g *GPU) {
	byPID := make(map[int]GPUProc, len(g.Processes))
	for _, p := range g.Processes {
		if p.PID <= 0 {
			continue
		}
		q, seen := byPID[p.PID]
		if !seen || p.UsedMem > q.UsedMem {
			q.UsedMem = p.UsedMem
		}
		q.PID = p.PID
		if q.Name == "" {
			q.Name = cleanProcName(p.Name)
		}
		byPID[p.PID] = q
	}
	procs := make([]GPUProc, 0, len(byPID))
	g.OthersUsing = false
	for _, p := range byPID {
		if p.Name == "" && s.procName != nil {
			p.Name = cleanProcName(s.procName(p.PID))
		}
		p.Ours = p.PID == s.selfPID
		if !p.Ours {
			g.OthersUsing = true
		}
		procs = append(procs, p)
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].PID < procs[j].PID })
	g.Processes = procs
}

// Close shuts NVML down if it was initialised. GPUs reports a closed source afterwards.
func (s *NVMLSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if !s.ready {
		return nil
	}
	s.ready = false
	s.initErr = fmt.Errorf("nvml: %w", errClosed)
	if err := s.lib.Shutdown(); err != nil {
		return fmt.Errorf("nvml shutdown: %w", err)
	}
	return nil
}

func initStatus(err error) string {
	switch {
	case err == nil:
		return "NVIDIA: not initialised"
	case errors.Is(err, ErrNoDriver):
		return ErrNoDriver.Error()
	case errors.Is(err, ErrDriverNotLoaded):
		return ErrDriverNotLoaded.Error()
	case errors.Is(err, ErrNoPermission):
		return ErrNoPermission.Error()
	case errors.Is(err, ErrNVMLUnsupported):
		return ErrNVMLUnsupported.Error()
	default:
		return "NVIDIA unavailable: " + err.Error()
	}
}

func countStatus(n int, problems []string) string {
	var s string
	switch n {
	case 0:
		s = "no NVIDIA GPU"
	case 1:
		s = "1 NVIDIA GPU"
	default:
		s = fmt.Sprintf("%d NVIDIA GPUs", n)
	}
	if len(problems) > 0 {
		s += "; " + strings.Join(problems, "; ")
	}
	return s
}

// cleanProcName turns "/usr/lib/xorg/Xorg" or `C:\Games\game.exe` into "Xorg" / "game.exe".
func cleanProcName(name string) string {
	name = strings.TrimSpace(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return name
}
