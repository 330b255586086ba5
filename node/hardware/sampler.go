package hardware

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/process"
	"github.com/shirou/gopsutil/v4/sensors"
)

// GPUSource reports the GPUs and a one-line status for people. *NVMLSource is one.
type GPUSource interface {
	GPUs(ctx context.Context) ([]GPU, string)
}

// SamplerConfig says what the Sampler reads beyond CPU and memory.
type SamplerConfig struct {
	// DataDir is where models and the ledger live; Disk reports its file system
	// (the nearest existing parent if it does not exist yet). "" skips the disk.
	DataDir string
	// PowerSupplyDir is the Linux power-supply class directory.
	PowerSupplyDir string
}

// DefaultSamplerConfig reads the system's power supplies and no disk.
func DefaultSamplerConfig() SamplerConfig {
	return SamplerConfig{PowerSupplyDir: powerSupplyRoot}
}

// Validate checks the configuration.
func (c SamplerConfig) Validate() error {
	if c.PowerSupplyDir == "" {
		return fmt.Errorf("sampler config: %w: empty power supply dir", ErrInvalidConfig)
	}
	return nil
}

// ErrInvalidConfig is wrapped by every configuration validation error.
var ErrInvalidConfig = errors.New("invalid config")

// Sampler reads the machine's state through gopsutil, a GPUSource and an IdleSource.
// CPU percentages are measured between consecutive Reads (the first against NewSampler).
// It is safe for concurrent use.
type Sampler struct {
	cfg  SamplerConfig
	gpus GPUSource
	idle IdleSource
	self *process.Process
	now  func() time.Time

	static CPU // model and counts, read once

	mu      sync.Mutex // guards the fields below and serialises Reads
	prev    cpuTimes
	lastCPU CPU // last computed percentages, reused when too little time has passed
}

// cpuTimes is one measurement of machine-wide and own CPU seconds.
type cpuTimes struct {
	total, busy, ours float64
}

// NewSampler returns a Sampler. gpus and idle may be nil: no GPUs, idleness not known.
func NewSampler(ctx context.Context, cfg SamplerConfig, gpus GPUSource, idle IdleSource) (*Sampler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	self, err := process.NewProcessWithContext(ctx, int32(os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("open own process: %w", err)
	}
	if idle == nil {
		idle = noIdle{}
	}
	s := &Sampler{cfg: cfg, gpus: gpus, idle: idle, self: self, now: time.Now}
	s.static = staticCPU(ctx)
	if s.prev, err = s.readTimes(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func staticCPU(ctx context.Context) CPU {
	c := CPU{Threads: runtime.NumCPU()}
	if n, err := cpu.CountsWithContext(ctx, true); err == nil && n > 0 {
		c.Threads = n
	}
	c.Cores = c.Threads
	if n, err := cpu.CountsWithContext(ctx, false); err == nil && n > 0 && n <= c.Threads {
		c.Cores = n
	}
	if info, err := cpu.InfoWithContext(ctx); err == nil && len(info) > 0 {
		c.Model = info[0].ModelName
	}
	return c
}

func (s *Sampler) readTimes(ctx context.Context) (cpuTimes, error) {
	ts, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read cpu times: %w", err)
	}
	if len(ts) == 0 {
		return cpuTimes{}, errors.New("read cpu times: no data")
	}
	t := ts[0]
	// Guest time is already counted in user time on Linux.
	total := t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	ct := cpuTimes{total: total, busy: total - t.Idle - t.Iowait}
	if own, err := s.self.TimesWithContext(ctx); err == nil {
		ct.ours = own.User + own.System
	}
	return ct, nil
}

// Read takes one sample. It fails only when CPU or memory cannot be read at all (or ctx
// ends); every other part that cannot be read is left zero and named in Warnings.
func (s *Sampler) Read(ctx context.Context) (Reading, error) {
	if err := ctx.Err(); err != nil {
		return Reading{}, fmt.Errorf("read hardware: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Reading{Time: s.now()}
	if err := s.readCPU(ctx, &r); err != nil {
		return Reading{}, err
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return Reading{}, fmt.Errorf("read memory: %w", err)
	}
	r.Mem.Total, r.Mem.Available = vm.Total, vm.Available
	if mi, err := s.self.MemoryInfoWithContext(ctx); err == nil {
		r.Mem.OurRSS = mi.RSS
	} else {
		r.warn("own memory", err)
	}
	s.readDisk(ctx, &r)
	s.readTemps(ctx, &r)
	if r.Power, err = readPower(s.cfg.PowerSupplyDir); err != nil {
		r.warn("power", err)
	}
	if s.gpus != nil {
		r.GPUs, r.GPUStatus = s.gpus.GPUs(ctx)
	} else {
		r.GPUStatus = "GPU telemetry off"
	}
	r.UserIdle = s.idle.UserIdle(ctx, r.Time)
	return r, nil
}

func (r *Reading) warn(what string, err error) {
	r.Warnings = append(r.Warnings, what+": "+err.Error())
}

func (s *Sampler) readCPU(ctx context.Context, r *Reading) error {
	r.CPU = s.static
	cur, err := s.readTimes(ctx)
	if err != nil {
		return err
	}
	dTotal := cur.total - s.prev.total
	if dTotal > 0.05 { // at least 50 ms of CPU time: otherwise reuse the last figures
		usage := clampPct((cur.busy - s.prev.busy) / dTotal * 100)
		ours := clampPct((cur.ours - s.prev.ours) / dTotal * 100)
		s.lastCPU.UsagePct = usage
		s.lastCPU.OthersPct = max(0, usage-ours)
		s.prev = cur
	}
	r.CPU.UsagePct, r.CPU.OthersPct = s.lastCPU.UsagePct, s.lastCPU.OthersPct
	if avg, err := load.AvgWithContext(ctx); err == nil {
		r.CPU.Load1 = avg.Load1
	} else {
		r.warn("load", err)
	}
	return nil
}

func clampPct(v float64) float64 {
	if v != v || v < 0 { // NaN or negative
		return 0
	}
	return min(v, 100)
}

func (s *Sampler) readDisk(ctx context.Context, r *Reading) {
	if s.cfg.DataDir == "" {
		return
	}
	path := existingAncestor(s.cfg.DataDir)
	r.Disk.Path = path
	u, err := disk.UsageWithContext(ctx, path)
	if err != nil {
		r.warn("disk", err)
		return
	}
	r.Disk.Free, r.Disk.Total = u.Free, u.Total
}

// existingAncestor is dir itself or its nearest parent that exists.
func existingAncestor(dir string) string {
	dir = filepath.Clean(dir)
	for {
		if _, err := os.Stat(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

func (s *Sampler) readTemps(ctx context.Context, r *Reading) {
	ts, err := sensors.TemperaturesWithContext(ctx)
	if err != nil {
		r.warn("temperatures", err) // may be partial: keep what was read
	}
	for _, t := range ts {
		if t.Temperature <= 0 || t.Temperature > 150 { // absent or nonsense sensors
			continue
		}
		r.Temps = append(r.Temps, Temp{Sensor: t.SensorKey, C: t.Temperature, HighC: t.High, CriticalC: t.Critical})
	}
}

// processName is a process's short name, or "" when it cannot be read.
func processName(pid int) string {
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		return ""
	}
	name, err := p.Name()
	if err != nil {
		return ""
	}
	return name
}
