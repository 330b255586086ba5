package hardware

import (
	"fmt"
	"time"
)

// Mode is what the node does with its spare capacity.
type Mode string

// Modes. Paused → Lending only after HoldIdle of continuous idleness; Lending → Draining
// on the first busy sample; Draining → Paused when the last session ends or at the
// drain deadline.
const (
	ModePaused   Mode = "paused"   // not lending; no shard sessions
	ModeLending  Mode = "lending"  // accepting and serving shard sessions
	ModeDraining Mode = "draining" // the user is back: no new sessions, running ones finish
)

// ReasonCode says why the node is not lending (or is about to stop).
type ReasonCode string

// Reason codes.
const (
	ReasonInvalidPolicy ReasonCode = "invalid_policy"
	ReasonTelemetry     ReasonCode = "telemetry"
	ReasonDisabled      ReasonCode = "disabled"
	ReasonSchedule      ReasonCode = "schedule"
	ReasonUserActive    ReasonCode = "user_active"
	ReasonCPUBusy       ReasonCode = "cpu_busy"
	ReasonGPUProcess    ReasonCode = "gpu_process"
	ReasonGPUBusy       ReasonCode = "gpu_busy"
	ReasonThermal       ReasonCode = "thermal"
	ReasonPower         ReasonCode = "power"
	ReasonBattery       ReasonCode = "battery"
	ReasonLowMemory     ReasonCode = "low_memory"
	ReasonHolding       ReasonCode = "holding" // idle, waiting out HoldIdle
)

// Reason is a code for programs and a short text for people ("game on GPU (pid 1234 steam)").
type Reason struct {
	Code ReasonCode `json:"code"`
	Text string     `json:"text"`
}

// Decision is what the runtime must do now.
type Decision struct {
	Mode           Mode      `json:"mode"`
	AcceptSessions bool      `json:"accept_sessions"` // true only while Lending
	Threads        int       `json:"threads"`         // for shard work: >= 1 while Lending, 1 while Draining, 0 Paused
	RAMBudget      uint64    `json:"ram_budget"`      // bytes shard work may still take (0 when Paused)
	VRAMBudget     uint64    `json:"vram_budget"`
	Reasons        []Reason  `json:"reasons,omitempty"`       // why not lending; empty while Lending
	DrainDeadline  time.Time `json:"drain_deadline,omitzero"` // Draining only: stop sessions by then
	Since          time.Time `json:"since"`                   // when Mode began
}

// State is what Decide remembers between samples. The zero State is Paused.
type State struct {
	Mode          Mode
	Since         time.Time // when Mode began
	IdleSince     time.Time // Paused: start of the current idle stretch; zero when not idle
	DrainDeadline time.Time // Draining only
	Cause         []Reason  // Draining: what ended lending
}

// Decide applies the policy to one reading. It is pure: the same inputs give the same
// outputs. sessions is the number of shard sessions running now. Any input is accepted:
// an invalid policy or a failed reading stops lending with a reason saying so.
func Decide(cfg Policy, st State, r Reading, sessions int) (Decision, State) {
	now := r.Time
	st = normalize(st, now, cfg.DrainTimeout)
	sessions = max(sessions, 0)

	reasons := check(cfg, r, st)
	switch st.Mode {
	case ModeLending:
		if len(reasons) == 0 {
			break
		}
		if sessions > 0 {
			st = State{Mode: ModeDraining, Since: now, DrainDeadline: now.Add(drainTimeout(cfg)), Cause: reasons}
			break
		}
		st, reasons = pause(cfg, r)
	case ModeDraining:
		if sessions == 0 || !now.Before(st.DrainDeadline) {
			st, reasons = pause(cfg, r)
		}
	default: // ModePaused
		st, reasons = hold(cfg, st, now, reasons)
	}
	return decision(cfg, st, r, reasons), st
}

// check is the policy's blockers, or the reason the policy itself is unusable.
func check(cfg Policy, r Reading, st State) []Reason {
	if err := cfg.Validate(); err != nil {
		return []Reason{{ReasonInvalidPolicy, err.Error()}}
	}
	return blockers(cfg, r, st)
}

// pause enters Paused on r, judged by the enter levels. The idle stretch may start on
// this very sample, but lending never does.
func pause(cfg Policy, r Reading) (State, []Reason) {
	st := State{Mode: ModePaused, Since: r.Time}
	reasons := check(cfg, r, st)
	st.IdleSince = r.Time
	for _, rs := range reasons {
		if rs.Code != ReasonUserActive {
			st.IdleSince = time.Time{}
		}
	}
	if len(reasons) == 0 {
		reasons = []Reason{holding(0, cfg.HoldIdle)}
	}
	return st, reasons
}

// normalize makes any State usable: unknown modes are Paused, times after now are now,
// and Draining always has a deadline.
func normalize(st State, now time.Time, drain time.Duration) State {
	switch st.Mode {
	case ModeLending, ModeDraining, ModePaused:
	default:
		st = State{Mode: ModePaused}
	}
	if st.Since.IsZero() || st.Since.After(now) {
		st.Since = now
	}
	if st.IdleSince.After(now) {
		st.IdleSince = now
	}
	if st.Mode == ModeDraining && st.DrainDeadline.IsZero() {
		st.DrainDeadline = now.Add(max(drain, 0))
	}
	if st.Mode != ModeDraining {
		st.DrainDeadline, st.Cause = time.Time{}, nil
	}
	if st.Mode != ModePaused {
		st.IdleSince = time.Time{}
	}
	return st
}

func drainTimeout(cfg Policy) time.Duration { return max(cfg.DrainTimeout, 0) }

// hold tracks the idle stretch of a paused node and starts lending once it is long enough.
// Recent user input does not restart the stretch: it holds lending back by itself until
// the input is HoldIdle old.
func hold(cfg Policy, st State, now time.Time, reasons []Reason) (State, []Reason) {
	for _, r := range reasons {
		if r.Code != ReasonUserActive {
			st.IdleSince = time.Time{}
			return st, reasons
		}
	}
	if st.IdleSince.IsZero() {
		st.IdleSince = now
	}
	if len(reasons) > 0 {
		return st, reasons
	}
	idle := now.Sub(st.IdleSince)
	if idle >= cfg.HoldIdle {
		return State{Mode: ModeLending, Since: now}, nil
	}
	return st, []Reason{holding(idle, cfg.HoldIdle)}
}

func holding(idle, hold time.Duration) Reason {
	return Reason{ReasonHolding, fmt.Sprintf("idle for %v, lending after %v", idle.Round(time.Second), hold)}
}

func decision(cfg Policy, st State, r Reading, reasons []Reason) Decision {
	d := Decision{Mode: st.Mode, Since: st.Since, Reasons: reasons}
	switch st.Mode {
	case ModeLending:
		d.AcceptSessions = true
		d.Threads = threadCap(cfg, r.CPU)
		d.RAMBudget, d.VRAMBudget = ramBudget(cfg, r.Mem), vramBudget(cfg, r.GPUs)
		d.Reasons = nil
	case ModeDraining:
		d.Threads = 1 // finish politely: one thread leaves the cores to the user
		d.RAMBudget, d.VRAMBudget = ramBudget(cfg, r.Mem), vramBudget(cfg, r.GPUs)
		d.DrainDeadline = st.DrainDeadline
		if len(d.Reasons) == 0 {
			d.Reasons = st.Cause
		}
	}
	return d
}
