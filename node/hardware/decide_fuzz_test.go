package hardware

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// fuzzBytes hands out values from the fuzzer's input, zeros once it runs out.
type fuzzBytes struct{ b []byte }

func (f *fuzzBytes) u8() uint8 {
	if len(f.b) == 0 {
		return 0
	}
	v := f.b[0]
	f.b = f.b[1:]
	return v
}

func (f *fuzzBytes) u32() uint32 {
	var buf [4]byte
	for i := range buf {
		buf[i] = f.u8()
	}
	return binary.LittleEndian.Uint32(buf[:])
}

// pct is mostly a plausible percentage, sometimes nonsense (negative, NaN, huge).
func (f *fuzzBytes) pct() float64 {
	switch v := f.u8(); {
	case v == 255:
		return math.NaN()
	case v == 254:
		return -float64(f.u8())
	case v == 253:
		return math.Inf(1)
	default:
		return float64(v) / 2.5
	}
}

func (f *fuzzBytes) policy() Policy {
	p := Default()
	p.Enabled = f.u8()%8 != 0
	p.IdleCPUPct, p.BusyCPUPct = f.pct(), f.pct()
	if f.u8()%4 != 0 { // mostly valid levels
		p.IdleCPUPct, p.BusyCPUPct = min(p.IdleCPUPct, p.BusyCPUPct), max(p.IdleCPUPct, p.BusyCPUPct)
	}
	p.IdleGPUPct, p.BusyGPUPct = 10, 30
	p.HoldIdle = time.Duration(f.u8()%10) * time.Second
	p.DrainTimeout = time.Duration(int(f.u8())-8) * time.Second
	p.MaxThreads = int(f.u8()%20) - 2
	p.MaxCoresPct = f.pct()
	p.MaxRAMBytes = uint64(f.u32()) << 8
	p.RAMReserveBytes = uint64(f.u32()) << 8
	p.MaxVRAMBytes = uint64(f.u32()) << 8
	p.VRAMReserveBytes = uint64(f.u32()) << 4
	p.MaxTempC, p.TempHysteresisC = float64(f.u8()), float64(f.u8()%30)
	p.MaxPowerW = float64(f.u8()) * 2
	p.PauseOnBattery = f.u8()%2 == 0
	p.MinBatteryPct = f.pct()
	if f.u8()%3 == 0 {
		p.Schedule = Schedule{{Days(f.u8()), int(f.u32() % 1500), int(f.u32() % 1500)}}
	}
	return p
}

func (f *fuzzBytes) reading(now time.Time) Reading {
	r := Reading{Time: now}
	r.CPU = CPU{Cores: int(f.u8()%70) - 2, Threads: int(f.u8() % 130), UsagePct: f.pct(), OthersPct: f.pct()}
	r.Mem = Mem{Total: uint64(f.u32()) << 10, Available: uint64(f.u32()) << 10}
	for range f.u8() % 4 {
		r.Temps = append(r.Temps, Temp{Sensor: []string{"coretemp", "nvme", "acpitz", ""}[f.u8()%4], C: f.pct()})
	}
	for i := range int(f.u8() % 3) {
		g := GPU{Index: i, VRAMTotal: uint64(f.u32()) << 8, VRAMUsed: uint64(f.u32()) << 8,
			UtilPct: f.pct(), TempC: f.pct(), PowerW: f.pct() * 4}
		for range f.u8() % 4 {
			g.Processes = append(g.Processes, GPUProc{PID: int(f.u8()), Name: []string{"Xorg", "steam", "", "hearth"}[f.u8()%4], Ours: f.u8()%3 == 0})
		}
		r.GPUs = append(r.GPUs, g)
	}
	r.Power = Power{Known: f.u8()%2 == 0, OnBattery: f.u8()%2 == 0, BatteryPct: f.pct()}
	r.UserIdle = UserIdle{Known: f.u8()%2 == 0, For: time.Duration(int32(f.u32())) * time.Millisecond}
	if f.u8() == 7 {
		r.Err = "boom"
	}
	return r
}

// FuzzDecide drives Decide with random policies, readings, session counts and clocks
// (including time going backwards) and checks its invariants on every step.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 10, 50, 1, 3, 60, 5, 75, 0, 0, 0, 1, 0, 0, 0, 4, 85, 10, 0, 1, 50})
	f.Add(make([]byte, 400))
	seed := make([]byte, 600)
	for i := range seed {
		seed[i] = byte(i * 37)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzBytes{data}
		p := in.policy()
		valid := p.Validate() == nil
		now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).Add(time.Duration(in.u32()) * time.Second)
		var st State
		for step := 0; step < 64 && (step == 0 || len(in.b) > 0); step++ {
			// Mostly forward a second or so; sometimes a jump, sometimes backwards.
			switch j := in.u8(); {
			case j < 200:
				now = now.Add(time.Duration(j%4) * time.Second)
			case j < 250:
				now = now.Add(time.Duration(j) * time.Minute)
			default:
				now = now.Add(-time.Duration(j) * time.Second)
			}
			r := in.reading(now)
			sessions := int(in.u8()%6) - 1
			prev := st
			d, next := Decide(p, st, r, sessions)
			checkInvariants(t, p, valid, prev, next, d, r, sessions)
			st = next
		}
	})
}

func checkInvariants(t *testing.T, p Policy, valid bool, prev, st State, d Decision, r Reading, sessions int) {
	t.Helper()
	fail := func(msg string) {
		t.Fatalf("%s\npolicy %+v\nprev %+v\nstate %+v\ndecision %+v\nreading %+v sessions %d", msg, p, prev, st, d, r, sessions)
	}
	if d.Mode != st.Mode || !d.Since.Equal(st.Since) {
		fail("decision and state disagree")
	}
	if d.AcceptSessions != (d.Mode == ModeLending) {
		fail("AcceptSessions outside Lending")
	}
	if d.Since.After(r.Time) {
		fail("mode starts in the future")
	}
	switch d.Mode {
	case ModeLending:
		bound := max(r.CPU.Cores, r.CPU.Threads, 1)
		if p.MaxThreads > 0 {
			bound = min(bound, p.MaxThreads)
		}
		if d.Threads < 1 || d.Threads > max(bound, 1) {
			fail("threads out of caps")
		}
		if len(d.Reasons) != 0 {
			fail("lending with reasons")
		}
		if !valid || !p.Enabled || r.Err != "" {
			fail("lending under an invalid or disabled policy or a failed reading")
		}
		if prev.Mode == ModeDraining {
			fail("lending straight after draining")
		}
		if prev.Mode != ModeLending && p.HoldIdle > 0 && (prev.IdleSince.IsZero() || r.Time.Sub(prev.IdleSince) < p.HoldIdle) {
			fail("lending without a completed hold")
		}
	case ModeDraining:
		if d.DrainDeadline.IsZero() || d.Threads != 1 {
			fail("draining without a deadline or with more than one thread")
		}
		if prev.Mode != ModeLending && prev.Mode != ModeDraining {
			fail("draining entered from " + string(prev.Mode))
		}
	case ModePaused:
		if d.Threads != 0 || d.RAMBudget != 0 || d.VRAMBudget != 0 || len(d.Reasons) == 0 {
			fail("paused holds resources or gives no reason")
		}
	default:
		fail("unknown mode")
	}
	if d.Mode != ModePaused {
		if p.MaxRAMBytes > 0 && d.RAMBudget > p.MaxRAMBytes || d.RAMBudget > r.Mem.Available {
			fail("RAM budget over caps")
		}
		if p.MaxVRAMBytes > 0 && d.VRAMBudget > p.MaxVRAMBytes {
			fail("VRAM budget over cap")
		}
	}
	if d.Mode != ModeDraining && !d.DrainDeadline.IsZero() {
		fail("deadline outside Draining")
	}
}
