package hardware

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Policy is the user's lending policy: when this machine may serve shards to peers and
// how much of it they may use. Zero caps (MaxThreads, MaxRAMBytes, MaxVRAMBytes, MaxTempC,
// MaxPowerW) mean "no limit".
type Policy struct {
	Enabled  bool     // lending at all (opt-in)
	Schedule Schedule // when lending is allowed; empty = any time (local wall clock)

	// Others' CPU use (machine total minus Hearth, in %): the machine counts as idle at or
	// below IdleCPUPct; a lending machine stops above BusyCPUPct (>= IdleCPUPct).
	IdleCPUPct float64
	BusyCPUPct float64
	// GPU utilisation, same enter/exit levels. Ignored on a GPU where Hearth itself runs,
	// since the driver cannot split utilisation between processes.
	IdleGPUPct float64
	BusyGPUPct float64
	// IgnoreGPUProcs are process names on the GPU that do not mean "the user is gaming"
	// (desktop compositors, X servers). Matched case-insensitively, ".exe" ignored.
	IgnoreGPUProcs []string

	HoldIdle     time.Duration // idle this long, continuously, before lending starts
	DrainTimeout time.Duration // how long running sessions may finish once the user is back

	MaxThreads       int     // threads for shard work
	MaxCoresPct      float64 // % of physical cores for shard work, (0,100]
	MaxRAMBytes      uint64
	RAMReserveBytes  uint64 // always left available for the user
	MaxVRAMBytes     uint64
	VRAMReserveBytes uint64

	MaxTempC        float64 // pause at or above this (hottest CPU sensor or GPU)
	TempHysteresisC float64 // resume only below MaxTempC - TempHysteresisC
	MaxPowerW       float64 // pause when the GPUs draw more than this in total

	PauseOnBattery bool    // pause whenever on battery
	MinBatteryPct  float64 // otherwise pause on battery below this charge
}

// DefaultIgnoreGPUProcs are desktop processes found on a GPU of an idle desktop.
var DefaultIgnoreGPUProcs = []string{
	"Xorg", "X", "Xwayland", "gnome-shell", "kwin_x11", "kwin_wayland", "plasmashell",
	"sway", "Hyprland", "weston", "mutter", "cinnamon", "picom", "compiz", "gamescope-wl",
	"dwm", "explorer", "ShellExperienceHost", "SearchHost", "TextInputHost", "WindowServer",
}

// Default is a conservative policy, disabled until the user opts in: lend after two
// quiet minutes, on mains power, under 85 °C, using at most 75% of the cores and leaving
// 4 GiB of RAM and 512 MiB of VRAM to the user.
func Default() Policy {
	return Policy{
		IdleCPUPct:       15,
		BusyCPUPct:       35,
		IdleGPUPct:       10,
		BusyGPUPct:       30,
		IgnoreGPUProcs:   append([]string(nil), DefaultIgnoreGPUProcs...),
		HoldIdle:         2 * time.Minute,
		DrainTimeout:     time.Minute,
		MaxCoresPct:      75,
		RAMReserveBytes:  4 << 30,
		VRAMReserveBytes: 512 << 20,
		MaxTempC:         85,
		TempHysteresisC:  10,
		PauseOnBattery:   true,
		MinBatteryPct:    50,
	}
}

// Validate checks the policy; the error wraps ErrInvalidConfig.
func (p Policy) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("lending policy: %w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	pct := func(v float64) bool { return v >= 0 && v <= 100 } // false for NaN
	switch {
	case !pct(p.IdleCPUPct) || !pct(p.BusyCPUPct) || p.BusyCPUPct < p.IdleCPUPct:
		return bad("cpu levels idle %v busy %v: want 0 <= idle <= busy <= 100", p.IdleCPUPct, p.BusyCPUPct)
	case !pct(p.IdleGPUPct) || !pct(p.BusyGPUPct) || p.BusyGPUPct < p.IdleGPUPct:
		return bad("gpu levels idle %v busy %v: want 0 <= idle <= busy <= 100", p.IdleGPUPct, p.BusyGPUPct)
	case p.HoldIdle < 0:
		return bad("negative hold %v", p.HoldIdle)
	case p.DrainTimeout <= 0:
		return bad("drain timeout %v: want > 0", p.DrainTimeout)
	case p.MaxThreads < 0:
		return bad("negative max threads %d", p.MaxThreads)
	case !(p.MaxCoresPct > 0 && p.MaxCoresPct <= 100):
		return bad("max cores %v%%: want (0,100]", p.MaxCoresPct)
	case !(p.MaxTempC >= 0 && p.MaxTempC < 200):
		return bad("max temperature %v", p.MaxTempC)
	case !(p.TempHysteresisC >= 0) || (p.MaxTempC > 0 && p.TempHysteresisC >= p.MaxTempC):
		return bad("temperature hysteresis %v: want 0 <= h < max temperature", p.TempHysteresisC)
	case !(p.MaxPowerW >= 0) || math.IsInf(p.MaxPowerW, 0):
		return bad("max power %v", p.MaxPowerW)
	case !pct(p.MinBatteryPct):
		return bad("min battery %v%%", p.MinBatteryPct)
	}
	for i, w := range p.Schedule {
		if err := w.Validate(); err != nil {
			return fmt.Errorf("lending policy: %w: schedule window %d: %w", ErrInvalidConfig, i, err)
		}
	}
	return nil
}

// policyJSON is Policy with readable durations ("2m0s") for config files.
type policyJSON struct {
	Enabled          bool     `json:"enabled"`
	Schedule         Schedule `json:"schedule,omitempty"`
	IdleCPUPct       float64  `json:"idle_cpu_pct"`
	BusyCPUPct       float64  `json:"busy_cpu_pct"`
	IdleGPUPct       float64  `json:"idle_gpu_pct"`
	BusyGPUPct       float64  `json:"busy_gpu_pct"`
	IgnoreGPUProcs   []string `json:"ignore_gpu_procs,omitempty"`
	HoldIdle         string   `json:"hold_idle"`
	DrainTimeout     string   `json:"drain_timeout"`
	MaxThreads       int      `json:"max_threads"`
	MaxCoresPct      float64  `json:"max_cores_pct"`
	MaxRAMBytes      uint64   `json:"max_ram_bytes"`
	RAMReserveBytes  uint64   `json:"ram_reserve_bytes"`
	MaxVRAMBytes     uint64   `json:"max_vram_bytes"`
	VRAMReserveBytes uint64   `json:"vram_reserve_bytes"`
	MaxTempC         float64  `json:"max_temp_c"`
	TempHysteresisC  float64  `json:"temp_hysteresis_c"`
	MaxPowerW        float64  `json:"max_power_w"`
	PauseOnBattery   bool     `json:"pause_on_battery"`
	MinBatteryPct    float64  `json:"min_battery_pct"`
}

// MarshalJSON writes durations as Go duration strings.
func (p Policy) MarshalJSON() ([]byte, error) {
	j := policyJSON{
		p.Enabled, p.Schedule, p.IdleCPUPct, p.BusyCPUPct, p.IdleGPUPct, p.BusyGPUPct,
		p.IgnoreGPUProcs, p.HoldIdle.String(), p.DrainTimeout.String(), p.MaxThreads,
		p.MaxCoresPct, p.MaxRAMBytes, p.RAMReserveBytes, p.MaxVRAMBytes, p.VRAMReserveBytes,
		p.MaxTempC, p.TempHysteresisC, p.MaxPowerW, p.PauseOnBattery, p.MinBatteryPct,
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes. Fields absent from the input keep their
// current values, so unmarshalling onto Default() fills the gaps.
func (p *Policy) UnmarshalJSON(b []byte) error {
	cur, err := p.MarshalJSON()
	if err != nil {
		return err
	}
	var j policyJSON
	if err := json.Unmarshal(cur, &j); err != nil {
		return fmt.Errorf("lending policy: %w", err)
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("lending policy: %w", err)
	}
	hold, err := time.ParseDuration(j.HoldIdle)
	if err != nil {
		return fmt.Errorf("lending policy: hold_idle: %w", err)
	}
	drain, err := time.ParseDuration(j.DrainTimeout)
	if err != nil {
		return fmt.Errorf("lending policy: drain_timeout: %w", err)
	}
	*p = Policy{
		j.Enabled, j.Schedule, j.IdleCPUPct, j.BusyCPUPct, j.IdleGPUPct, j.BusyGPUPct,
		j.IgnoreGPUProcs, hold, drain, j.MaxThreads, j.MaxCoresPct, j.MaxRAMBytes,
		j.RAMReserveBytes, j.MaxVRAMBytes, j.VRAMReserveBytes, j.MaxTempC, j.TempHysteresisC,
		j.MaxPowerW, j.PauseOnBattery, j.MinBatteryPct,
	}
	return nil
}
