package hardware

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 3, 0, 0, 0, time.FixedZone("CET", 3600))

// lendingState is a node that has been lending since t0.
func lendingState() State { return State{Mode: ModeLending, Since: t0} }

func TestDecideReasons(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*Policy, *Reading)
		st       State
		sessions int
		mode     Mode
		codes    []ReasonCode
		text     string
	}{
		{"disabled while paused", func(p *Policy, _ *Reading) { p.Enabled = false }, State{}, 0,
			ModePaused, []ReasonCode{ReasonDisabled}, "lending disabled"},
		{"disabled while lending drains", func(p *Policy, _ *Reading) { p.Enabled = false }, lendingState(), 2,
			ModeDraining, []ReasonCode{ReasonDisabled}, "lending disabled"},
		{"telemetry failure", func(_ *Policy, r *Reading) { r.Err = "read memory: boom" }, lendingState(), 1,
			ModeDraining, []ReasonCode{ReasonTelemetry}, "telemetry unavailable: read memory: boom"},
		{"invalid policy never lends", func(p *Policy, _ *Reading) { p.MaxCoresPct = 0 }, State{}, 0,
			ModePaused, []ReasonCode{ReasonInvalidPolicy}, "max cores"},
		{"invalid policy stops lending", func(p *Policy, _ *Reading) { p.DrainTimeout = -1 }, lendingState(), 0,
			ModePaused, []ReasonCode{ReasonInvalidPolicy}, "drain timeout"},
		{"game without a name", func(_ *Policy, r *Reading) {
			r.GPUs[0].Processes = append(r.GPUs[0].Processes, GPUProc{PID: 77})
		}, lendingState(), 0, ModePaused, []ReasonCode{ReasonGPUProcess}, "game on GPU (pid 77)"},
		{"two games", func(_ *Policy, r *Reading) {
			r.GPUs[0].Processes = append(r.GPUs[0].Processes, GPUProc{PID: 77, Name: "a"}, GPUProc{PID: 78, Name: "b"})
		}, lendingState(), 0, ModePaused, []ReasonCode{ReasonGPUProcess}, "game on GPU (pid 77 a, +1 more)"},
		{"ignored compositor, any case, .exe", func(p *Policy, r *Reading) {
			p.IgnoreGPUProcs = []string{"DWM.exe"}
			r.GPUs[0].Processes = []GPUProc{{PID: 5, Name: "dwm.EXE"}}
		}, lendingState(), 0, ModeLending, nil, ""},
		{"hot nvme does not count as CPU", func(_ *Policy, r *Reading) {
			r.Temps = []Temp{{Sensor: "k10temp_tctl", C: 60}, {Sensor: "nvme_composite", C: 90}}
		}, lendingState(), 0, ModeLending, nil, ""},
		{"unknown sensors: hottest counts", func(_ *Policy, r *Reading) {
			r.Temps = []Temp{{Sensor: "acpitz", C: 91}, {Sensor: "iwlwifi", C: 40}}
		}, lendingState(), 0, ModePaused, []ReasonCode{ReasonThermal}, "CPU 91°C"},
		{"no temperature limit", func(p *Policy, r *Reading) {
			p.MaxTempC, p.TempHysteresisC = 0, 0
			r.Temps = []Temp{{Sensor: "coretemp", C: 99}}
		}, lendingState(), 0, ModeLending, nil, ""},
		{"on battery without battery info is not on battery", func(_ *Policy, r *Reading) {
			r.Power = Power{Known: false, OnBattery: true}
		}, lendingState(), 0, ModeLending, nil, ""},
		{"unknown memory never starts lending", func(p *Policy, r *Reading) {
			p.HoldIdle = 0
			r.Mem = Mem{}
		}, State{}, 0, ModePaused, []ReasonCode{ReasonLowMemory}, "low memory (0 MiB available)"},
		{"many reasons at once", func(_ *Policy, r *Reading) {
			r.CPU.OthersPct = 90
			r.Power = Power{Known: true, OnBattery: true, BatteryPct: 20}
			r.Temps = []Temp{{Sensor: "coretemp", C: 95}}
		}, lendingState(), 3, ModeDraining, []ReasonCode{ReasonCPUBusy, ReasonThermal, ReasonBattery}, "on battery 20%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r := testPolicy(), idleReading(t0.Add(time.Hour))
			tt.mutate(&p, &r)
			d, st := Decide(p, tt.st, r, tt.sessions)
			if d.Mode != tt.mode || st.Mode != tt.mode {
				t.Fatalf("mode %s (state %s), want %s; reasons %v", d.Mode, st.Mode, tt.mode, d.Reasons)
			}
			var codes []ReasonCode
			for _, rs := range d.Reasons {
				codes = append(codes, rs.Code)
			}
			if tt.codes != nil && !equalCodes(codes, tt.codes) {
				t.Fatalf("reasons %v, want %v", d.Reasons, tt.codes)
			}
			if tt.mode == ModeLending && len(d.Reasons) != 0 {
				t.Fatalf("lending with reasons %v", d.Reasons)
			}
			if tt.text != "" && !strings.Contains(joinTexts(d.Reasons), tt.text) {
				t.Fatalf("reasons %v do not say %q", d.Reasons, tt.text)
			}
		})
	}
}

func equalCodes(a, b []ReasonCode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func joinTexts(rs []Reason) string { return strings.Join(reasonTexts(rs), " | ") }

func TestDecideCaps(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name   string
		mutate func(*Policy, *Reading)
		thr    int
		ram    uint64
		vram   uint64
	}{
		// Defaults: 75% of cores, 4 GiB RAM and 512 MiB VRAM reserve, no other caps.
		{"defaults", func(*Policy, *Reading) {}, 6, 20 * gib, 11*gib - 512<<20},
		{"max threads", func(p *Policy, _ *Reading) { p.MaxThreads = 4 }, 4, 20 * gib, 11*gib - 512<<20},
		{"cores pct rounds down", func(p *Policy, _ *Reading) { p.MaxCoresPct = 60 }, 4, 20 * gib, 11*gib - 512<<20},
		{"single core keeps one thread", func(p *Policy, r *Reading) { p.MaxCoresPct = 10; r.CPU.Cores = 1 }, 1, 20 * gib, 11*gib - 512<<20},
		{"unknown cores use threads", func(_ *Policy, r *Reading) { r.CPU.Cores, r.CPU.Threads = 0, 4 }, 3, 20 * gib, 11*gib - 512<<20},
		{"nothing known: one thread", func(_ *Policy, r *Reading) { r.CPU.Cores, r.CPU.Threads = 0, 0 }, 1, 20 * gib, 11*gib - 512<<20},
		{"max ram", func(p *Policy, _ *Reading) { p.MaxRAMBytes = 8 * gib }, 6, 8 * gib, 11*gib - 512<<20},
		{"max ram above available", func(p *Policy, _ *Reading) { p.MaxRAMBytes = 64 * gib }, 6, 20 * gib, 11*gib - 512<<20},
		{"no reserve", func(p *Policy, _ *Reading) { p.RAMReserveBytes, p.VRAMReserveBytes = 0, 0 }, 6, 24 * gib, 11 * gib},
		{"max vram", func(p *Policy, _ *Reading) { p.MaxVRAMBytes = 4 * gib }, 6, 20 * gib, 4 * gib},
		{"emptiest of two GPUs", func(_ *Policy, r *Reading) {
			r.GPUs = append(r.GPUs, GPU{Index: 1, VRAMTotal: 24 * gib, VRAMUsed: 2 * gib})
		}, 6, 20 * gib, 22*gib - 512<<20},
		{"no GPU", func(_ *Policy, r *Reading) { r.GPUs = nil }, 6, 20 * gib, 0},
		{"used above total", func(_ *Policy, r *Reading) { r.GPUs[0].VRAMUsed = 13 * gib }, 6, 20 * gib, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r := testPolicy(), idleReading(t0.Add(time.Hour))
			tt.mutate(&p, &r)
			d, _ := Decide(p, lendingState(), r, 1)
			if d.Mode != ModeLending {
				t.Fatalf("mode %s, reasons %v", d.Mode, d.Reasons)
			}
			if d.Threads != tt.thr || d.RAMBudget != tt.ram || d.VRAMBudget != tt.vram {
				t.Fatalf("threads %d ram %d vram %d; want %d %d %d", d.Threads, d.RAMBudget, d.VRAMBudget, tt.thr, tt.ram, tt.vram)
			}
			// Draining keeps the budgets for the running sessions but runs on one thread;
			// Paused holds nothing.
			p.Enabled = false
			d, st := Decide(p, lendingState(), r, 1)
			if d.Mode != ModeDraining || d.Threads != 1 || d.RAMBudget != tt.ram || d.VRAMBudget != tt.vram {
				t.Fatalf("draining: %+v", d)
			}
			d, _ = Decide(p, st, r, 0)
			if d.Mode != ModePaused || d.Threads != 0 || d.RAMBudget != 0 || d.VRAMBudget != 0 {
				t.Fatalf("paused: %+v", d)
			}
		})
	}
}

func TestDecideStates(t *testing.T) {
	r := idleReading(t0)
	tests := []struct {
		name     string
		mutate   func(*Policy)
		st       State
		sessions int
		mode     Mode
		since    time.Time
		deadline time.Time
	}{
		{"zero state is paused", nil, State{}, 0, ModePaused, t0, time.Time{}},
		{"unknown mode is paused from now", nil, State{Mode: "bogus", Since: t0.Add(-time.Hour)}, 0, ModePaused, t0, time.Time{}},
		{"no hold lends at once", func(p *Policy) { p.HoldIdle = 0 }, State{}, 0, ModeLending, t0, time.Time{}},
		{"hold elapsed", nil, State{Mode: ModePaused, Since: t0.Add(-time.Hour), IdleSince: t0.Add(-2 * time.Minute)}, 0, ModeLending, t0, time.Time{}},
		{"hold not elapsed", nil, State{Mode: ModePaused, Since: t0.Add(-time.Hour), IdleSince: t0.Add(-time.Minute)}, 0, ModePaused, t0.Add(-time.Hour), time.Time{}},
		{"idle since in the future is now", func(p *Policy) { p.HoldIdle = time.Second }, State{Mode: ModePaused, IdleSince: t0.Add(time.Hour)}, 0, ModePaused, t0, time.Time{}},
		{"draining without deadline gets one", nil, State{Mode: ModeDraining, Since: t0.Add(-time.Second)}, 1, ModeDraining, t0.Add(-time.Second), t0.Add(time.Minute)},
		{"draining waits for sessions", nil, State{Mode: ModeDraining, Since: t0.Add(-time.Second), DrainDeadline: t0.Add(time.Second)}, 1, ModeDraining, t0.Add(-time.Second), t0.Add(time.Second)},
		{"draining stops at the deadline", nil, State{Mode: ModeDraining, Since: t0.Add(-time.Minute), DrainDeadline: t0}, 1, ModePaused, t0, time.Time{}},
		{"draining ends with the sessions even when idle again", nil, State{Mode: ModeDraining, Since: t0.Add(-time.Second), DrainDeadline: t0.Add(time.Minute)}, 0, ModePaused, t0, time.Time{}},
		{"negative sessions count as none", func(p *Policy) { p.Enabled = false }, lendingState(), -3, ModePaused, t0, time.Time{}},
		{"lending stays lending", nil, State{Mode: ModeLending, Since: t0.Add(-time.Hour)}, 2, ModeLending, t0.Add(-time.Hour), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			if tt.mutate != nil {
				tt.mutate(&p)
			}
			d, st := Decide(p, tt.st, r, tt.sessions)
			if d.Mode != tt.mode || st.Mode != tt.mode || !d.Since.Equal(tt.since) || !d.DrainDeadline.Equal(tt.deadline) {
				t.Fatalf("got %s since %v deadline %v; want %s since %v deadline %v (reasons %v)",
					d.Mode, d.Since, d.DrainDeadline, tt.mode, tt.since, tt.deadline, d.Reasons)
			}
			if d.AcceptSessions != (d.Mode == ModeLending) {
				t.Fatalf("accept %v in %s", d.AcceptSessions, d.Mode)
			}
		})
	}
}

// Draining shows what ended lending even after that cause went away.
func TestDrainingKeepsCause(t *testing.T) {
	p, r := testPolicy(), idleReading(t0)
	r.CPU.OthersPct = 90
	d, st := Decide(p, lendingState(), r, 1)
	if d.Mode != ModeDraining || d.Reasons[0].Code != ReasonCPUBusy {
		t.Fatalf("first: %+v", d)
	}
	r.CPU.OthersPct = 1
	r.Time = t0.Add(5 * time.Second)
	d, _ = Decide(p, st, r, 1)
	if d.Mode != ModeDraining || len(d.Reasons) != 1 || d.Reasons[0].Text != "CPU busy (others 90%)" {
		t.Fatalf("later: %+v", d)
	}
}
