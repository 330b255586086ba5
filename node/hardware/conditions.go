package hardware

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// blockers lists what keeps the node from lending. A lending node is checked against the
// exit (busy) levels, any other against the stricter enter (idle) levels, so a value
// between the two neither starts nor stops lending.
func blockers(cfg Policy, r Reading, st State) []Reason {
	lending := st.Mode == ModeLending
	var out []Reason
	add := func(code ReasonCode, format string, args ...any) {
		out = append(out, Reason{code, fmt.Sprintf(format, args...)})
	}
	if r.Err != "" {
		add(ReasonTelemetry, "telemetry unavailable: %s", r.Err)
	}
	if !cfg.Enabled {
		add(ReasonDisabled, "lending disabled")
	}
	if !cfg.Schedule.Allows(r.Time) {
		add(ReasonSchedule, "outside schedule")
	}
	if text, active := userActive(cfg, r, st); active {
		add(ReasonUserActive, "%s", text)
	}
	cpuLevel := cfg.IdleCPUPct
	if lending {
		cpuLevel = cfg.BusyCPUPct
	}
	if r.CPU.OthersPct > cpuLevel || math.IsNaN(r.CPU.OthersPct) {
		add(ReasonCPUBusy, "CPU busy (others %.0f%%)", r.CPU.OthersPct)
	}
	out = append(out, gpuBlockers(cfg, r.GPUs, lending)...)
	if text, hot := thermal(cfg, r, lending); hot {
		add(ReasonThermal, "%s", text)
	}
	if w := totalGPUPower(r.GPUs); cfg.MaxPowerW > 0 && (w > cfg.MaxPowerW || (!lending && w > 0.9*cfg.MaxPowerW)) {
		add(ReasonPower, "GPU power %.0f W", w)
	}
	if r.Power.Known && r.Power.OnBattery {
		switch {
		case cfg.PauseOnBattery:
			add(ReasonBattery, "on battery %.0f%%", r.Power.BatteryPct)
		case r.Power.BatteryPct < cfg.MinBatteryPct:
			add(ReasonBattery, "battery low %.0f%%", r.Power.BatteryPct)
		}
	}
	if lowMemory(cfg, r.Mem, lending) {
		add(ReasonLowMemory, "low memory (%s available)", formatBytes(r.Mem.Available))
	}
	return out
}

// userActive: a lending node stops on any input newer than the start of lending; a paused
// one waits until the last input is HoldIdle old.
func userActive(cfg Policy, r Reading, st State) (string, bool) {
	if !r.UserIdle.Known {
		return "", false
	}
	ago := max(r.UserIdle.For, 0)
	last := r.Time.Add(-ago)
	if st.Mode == ModeLending {
		return "user active", last.After(st.Since)
	}
	return fmt.Sprintf("user active (input %v ago)", ago.Round(time.Second)), ago < cfg.HoldIdle
}

func gpuBlockers(cfg Policy, gpus []GPU, lending bool) []Reason {
	var (
		out    []Reason
		others []GPUProc
	)
	level := cfg.IdleGPUPct
	if lending {
		level = cfg.BusyGPUPct
	}
	for _, g := range gpus {
		ours := false
		for _, p := range g.Processes {
			switch {
			case p.Ours:
				ours = true
			case !ignoredProc(cfg.IgnoreGPUProcs, p.Name):
				others = append(others, p)
			}
		}
		// With Hearth on the device its utilisation is (partly) ours: other users show up
		// as processes instead.
		if !ours && (g.UtilPct > level || math.IsNaN(g.UtilPct)) {
			out = append(out, Reason{ReasonGPUBusy, fmt.Sprintf("GPU %d busy (%.0f%%)", g.Index, g.UtilPct)})
		}
	}
	if len(others) > 0 {
		p := others[0]
		text := fmt.Sprintf("game on GPU (pid %d %s)", p.PID, p.Name)
		if p.Name == "" {
			text = fmt.Sprintf("game on GPU (pid %d)", p.PID)
		}
		if len(others) > 1 {
			text = strings.TrimSuffix(text, ")") + fmt.Sprintf(", +%d more)", len(others)-1)
		}
		out = append([]Reason{{ReasonGPUProcess, text}}, out...)
	}
	return out
}

func ignoredProc(ignore []string, name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".exe")
	for _, n := range ignore {
		if strings.TrimSuffix(strings.ToLower(n), ".exe") == name {
			return true
		}
	}
	return false
}

// thermal: a lending node pauses at MaxTempC; a paused one resumes only below
// MaxTempC - TempHysteresisC. It checks the hottest CPU sensor and every GPU.
func thermal(cfg Policy, r Reading, lending bool) (string, bool) {
	if cfg.MaxTempC <= 0 {
		return "", false
	}
	limit := cfg.MaxTempC
	if !lending {
		limit -= cfg.TempHysteresisC
	}
	hot := func(c float64) bool { return c >= limit || math.IsNaN(c) }
	if c, ok := hottestCPU(r.Temps); ok && hot(c) {
		return fmt.Sprintf("CPU %.0f°C", c), true
	}
	for _, g := range r.GPUs {
		if hot(g.TempC) {
			return fmt.Sprintf("GPU %d %.0f°C", g.Index, g.TempC), true
		}
	}
	return "", false
}

// cpuSensorHints pick the processor among hwmon sensors (disks and Wi-Fi run hotter
// or cooler and say nothing about the CPU).
var cpuSensorHints = []string{"coretemp", "k10temp", "zenpower", "cpu", "package", "tctl", "tdie", "soc"}

// hottestCPU is the hottest CPU sensor, or the hottest sensor of any kind when none
// looks like a CPU.
func hottestCPU(temps []Temp) (float64, bool) {
	var best, hottest float64
	var found, anyFound bool
	for _, t := range temps {
		if !anyFound || t.C > hottest || math.IsNaN(t.C) {
			hottest, anyFound = t.C, true
		}
		key := strings.ToLower(t.Sensor)
		for _, h := range cpuSensorHints {
			if strings.Contains(key, h) {
				if !found || t.C > best || math.IsNaN(t.C) {
					best, found = t.C, true
				}
				break
			}
		}
	}
	if found {
		return best, true
	}
	return hottest, anyFound
}

func totalGPUPower(gpus []GPU) float64 {
	var w float64
	for _, g := range gpus {
		if g.PowerW > 0 {
			w += g.PowerW
		}
	}
	return w
}

// lowMemory: a lending node stops when available memory falls below the reserve; a
// paused one starts only when there is memory to lend.
func lowMemory(cfg Policy, m Mem, lending bool) bool {
	if lending {
		return m.Available < cfg.RAMReserveBytes
	}
	return ramBudget(cfg, m) == 0
}

// threadCap is min(MaxThreads, floor(cores × MaxCoresPct/100)), at least 1.
func threadCap(cfg Policy, c CPU) int {
	cores := c.Cores
	if cores <= 0 {
		cores = c.Threads
	}
	n := 1
	if pct := cfg.MaxCoresPct; cores > 0 && pct > 0 && pct <= 100 {
		n = int(math.Floor(float64(cores) * pct / 100))
	}
	if cfg.MaxThreads > 0 {
		n = min(n, cfg.MaxThreads)
	}
	return max(n, 1)
}

// ramBudget is min(MaxRAMBytes, Available − RAMReserveBytes), never below 0.
func ramBudget(cfg Policy, m Mem) uint64 {
	b := subSat(m.Available, cfg.RAMReserveBytes)
	if cfg.MaxRAMBytes > 0 {
		b = min(b, cfg.MaxRAMBytes)
	}
	return b
}

// vramBudget is the free VRAM of the emptiest GPU less VRAMReserveBytes, capped by
// MaxVRAMBytes; 0 without GPUs.
func vramBudget(cfg Policy, gpus []GPU) uint64 {
	var free uint64
	for _, g := range gpus {
		free = max(free, subSat(g.VRAMTotal, g.VRAMUsed))
	}
	b := subSat(free, cfg.VRAMReserveBytes)
	if cfg.MaxVRAMBytes > 0 {
		b = min(b, cfg.MaxVRAMBytes)
	}
	return b
}

func subSat(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func formatBytes(b uint64) string {
	const gib, mib = 1 << 30, 1 << 20
	if b >= gib {
		return fmt.Sprintf("%.1f GiB", float64(b)/gib)
	}
	return fmt.Sprintf("%d MiB", b/mib)
}
