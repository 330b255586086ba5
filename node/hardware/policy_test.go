package hardware

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Policy)
		ok     bool
	}{
		{"default", func(*Policy) {}, true},
		{"enabled with schedule", func(p *Policy) { p.Enabled = true; p.Schedule = Schedule{{Weekdays, 1380, 420}} }, true},
		{"no limits", func(p *Policy) { p.MaxTempC, p.TempHysteresisC, p.MaxPowerW, p.HoldIdle = 0, 0, 0, 0 }, true},
		{"busy below idle cpu", func(p *Policy) { p.BusyCPUPct = p.IdleCPUPct - 1 }, false},
		{"cpu over 100", func(p *Policy) { p.BusyCPUPct = 101 }, false},
		{"NaN cpu", func(p *Policy) { p.IdleCPUPct = math.NaN() }, false},
		{"busy below idle gpu", func(p *Policy) { p.IdleGPUPct, p.BusyGPUPct = 50, 40 }, false},
		{"negative gpu", func(p *Policy) { p.IdleGPUPct = -1 }, false},
		{"negative hold", func(p *Policy) { p.HoldIdle = -time.Second }, false},
		{"zero drain", func(p *Policy) { p.DrainTimeout = 0 }, false},
		{"negative threads", func(p *Policy) { p.MaxThreads = -1 }, false},
		{"zero cores pct", func(p *Policy) { p.MaxCoresPct = 0 }, false},
		{"cores pct over 100", func(p *Policy) { p.MaxCoresPct = 150 }, false},
		{"negative temp", func(p *Policy) { p.MaxTempC = -5 }, false},
		{"hysteresis above limit", func(p *Policy) { p.TempHysteresisC = p.MaxTempC }, false},
		{"NaN hysteresis", func(p *Policy) { p.TempHysteresisC = math.NaN() }, false},
		{"infinite power", func(p *Policy) { p.MaxPowerW = math.Inf(1) }, false},
		{"battery over 100", func(p *Policy) { p.MinBatteryPct = 101 }, false},
		{"bad window", func(p *Policy) { p.Schedule = Schedule{{Weekdays, 600, 600}} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Default()
			tt.mutate(&p)
			err := p.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestDefaultIsOptIn(t *testing.T) {
	p := Default()
	if p.Enabled {
		t.Fatal("lending must be opt-in")
	}
	d, _ := Decide(p, State{}, idleReading(time.Now()), 0)
	if d.Mode != ModePaused || d.Reasons[0].Code != ReasonDisabled {
		t.Fatalf("default policy decision = %+v", d)
	}
}

func TestPolicyJSON(t *testing.T) {
	p := testPolicy()
	p.Schedule = Schedule{{Weekdays, 23 * 60, 7 * 60}}
	p.HoldIdle = 90 * time.Second
	p.MaxVRAMBytes = 6 << 30
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Policy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip:\n got %+v\nwant %+v\njson %s", back, p, b)
	}

	// A partial document onto Default keeps the other defaults.
	partial := Default()
	if err := json.Unmarshal([]byte(`{"enabled": true, "hold_idle": "5m", "max_threads": 4}`), &partial); err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Enabled, want.HoldIdle, want.MaxThreads = true, 5*time.Minute, 4
	if !reflect.DeepEqual(partial, want) {
		t.Fatalf("partial:\n got %+v\nwant %+v", partial, want)
	}

	for _, bad := range []string{`{"hold_idle": "soon"}`, `{"drain_timeout": 5}`, `{"schedule": ["never"]}`, `[`} {
		q := Default()
		if err := json.Unmarshal([]byte(bad), &q); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}
