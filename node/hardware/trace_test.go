package hardware

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A trace is a recorded sequence of readings over time with the decisions expected on
// each sample (testdata/traces/*.json). Each step patches the current reading (JSON merge
// onto the previous one) and is sampled at T, or every Every seconds from T to Until.
type trace struct {
	Name   string          `json:"name"`
	Start  time.Time       `json:"start"`  // wall clock of t=0, in the zone the schedule uses
	Policy json.RawMessage `json:"policy"` // merged onto testPolicy()
	Base   json.RawMessage `json:"base"`   // merged onto idleReading()
	Steps  []traceStep     `json:"steps"`
}

type traceStep struct {
	T         float64         `json:"t"`          // seconds after Start
	Until     float64         `json:"until"`      // last sample (inclusive); 0: only T
	Every     float64         `json:"every"`      // seconds between samples; default 1
	Set       json.RawMessage `json:"set"`        // patch onto the current reading
	LastInput *float64        `json:"last_input"` // seconds after Start of the last user input
	NoInput   bool            `json:"no_input"`   // input idleness becomes unknown
	Sessions  *int            `json:"sessions"`
	Want      traceWant       `json:"want"`
}

type traceWant struct {
	Mode     Mode     `json:"mode"`
	Accept   *bool    `json:"accept"`
	Reasons  []string `json:"reasons"` // reason codes, in order; [] = none
	Text     []string `json:"text"`    // each must appear in a reason text
	Since    *float64 `json:"since"`
	Deadline *float64 `json:"deadline"`
	Threads  *int     `json:"threads"`
}

func TestTraces(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "traces", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no traces: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			runTrace(t, loadTrace(t, f))
		})
	}
}

func loadTrace(t *testing.T, path string) trace {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr trace
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if len(tr.Steps) == 0 || tr.Start.IsZero() {
		t.Fatalf("%s: empty trace", path)
	}
	return tr
}

func runTrace(t *testing.T, tr trace) {
	pol := testPolicy()
	if len(tr.Policy) > 0 {
		if err := json.Unmarshal(tr.Policy, &pol); err != nil {
			t.Fatalf("policy: %v", err)
		}
	}
	if err := pol.Validate(); err != nil {
		t.Fatalf("trace policy: %v", err)
	}
	r := idleReading(tr.Start)
	patch(t, &r, tr.Base)
	var (
		st        State
		sessions  int
		lastInput = new(-3600.0) // an hour before the start unless a step says otherwise
		samples   int
	)
	for i, step := range tr.Steps {
		patch(t, &r, step.Set)
		if step.LastInput != nil {
			lastInput = step.LastInput
		}
		if step.NoInput {
			lastInput = nil
		}
		if step.Sessions != nil {
			sessions = *step.Sessions
		}
		every := step.Every
		if every <= 0 {
			every = 1
		}
		for sec := step.T; sec <= max(step.T, step.Until); sec += every {
			r.Time = at(tr.Start, sec)
			r.UserIdle = UserIdle{}
			if lastInput != nil {
				r.UserIdle = UserIdle{Known: true, For: r.Time.Sub(at(tr.Start, *lastInput))}
			}
			var d Decision
			d, st = Decide(pol, st, r, sessions)
			samples++
			checkWant(t, i, sec, tr.Start, d, step.Want)
		}
	}
	t.Logf("%s: %d samples", tr.Name, samples)
}

func at(start time.Time, sec float64) time.Time {
	return start.Add(time.Duration(sec * float64(time.Second)))
}

// patch merges a JSON object onto r: absent fields keep their values, lists are replaced.
func patch(t *testing.T, r *Reading, p json.RawMessage) {
	t.Helper()
	if len(p) == 0 {
		return
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(p, &keys); err != nil {
		t.Fatalf("patch %s: %v", p, err)
	}
	// encoding/json decodes an array into the existing elements of a slice, merging old
	// and new entries; a patch replaces lists whole.
	if _, ok := keys["gpus"]; ok {
		r.GPUs = nil
	}
	if _, ok := keys["temps"]; ok {
		r.Temps = nil
	}
	if err := json.Unmarshal(p, r); err != nil {
		t.Fatalf("patch %s: %v", p, err)
	}
}

func checkWant(t *testing.T, step int, sec float64, start time.Time, d Decision, w traceWant) {
	t.Helper()
	where := func() string { return "step " + itoa(step) + " t=" + ftoa(sec) }
	if w.Mode != "" && d.Mode != w.Mode {
		t.Fatalf("%s: mode %s, want %s (reasons %v)", where(), d.Mode, w.Mode, d.Reasons)
	}
	if w.Accept != nil && d.AcceptSessions != *w.Accept {
		t.Fatalf("%s: accept %v, want %v", where(), d.AcceptSessions, *w.Accept)
	}
	if w.Reasons != nil {
		var codes []string
		for _, r := range d.Reasons {
			codes = append(codes, string(r.Code))
		}
		if !slices.Equal(codes, w.Reasons) {
			t.Fatalf("%s: reasons %v, want %v (%v)", where(), codes, w.Reasons, d.Reasons)
		}
	}
	for _, text := range w.Text {
		if !slices.ContainsFunc(d.Reasons, func(r Reason) bool { return strings.Contains(r.Text, text) }) {
			t.Fatalf("%s: no reason says %q: %v", where(), text, d.Reasons)
		}
	}
	if w.Since != nil && !d.Since.Equal(at(start, *w.Since)) {
		t.Fatalf("%s: since %v, want t=%v", where(), d.Since.Sub(start), *w.Since)
	}
	if w.Deadline != nil && !d.DrainDeadline.Equal(at(start, *w.Deadline)) {
		t.Fatalf("%s: deadline %v, want t=%v", where(), d.DrainDeadline.Sub(start), *w.Deadline)
	}
	if w.Threads != nil && d.Threads != *w.Threads {
		t.Fatalf("%s: threads %d, want %d", where(), d.Threads, *w.Threads)
	}
}
