package hardware

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	tests := []struct {
		in      string
		want    Window
		str     string // String() of the result
		wantErr bool
	}{
		{in: "Mon-Fri 23:00-07:00", want: Window{Weekdays, 23 * 60, 7 * 60}, str: "Mon-Fri 23:00-07:00"},
		{in: "weekdays 23:00-07:00", want: Window{Weekdays, 23 * 60, 7 * 60}, str: "Mon-Fri 23:00-07:00"},
		{in: "daily 0:00-24:00", want: Window{Everyday, 0, 24 * 60}, str: "daily 00:00-24:00"},
		{in: "sat,SUN 10:30-18:00", want: Window{Weekend, 630, 1080}, str: "Sat,Sun 10:30-18:00"},
		{in: "Fri-Mon 22:00-02:00", want: Window{1<<time.Friday | Weekend | 1<<time.Monday, 1320, 120}, str: "Mon,Fri,Sat,Sun 22:00-02:00"},
		{in: "Wed 12:00-13:00", want: Window{1 << time.Wednesday, 720, 780}, str: "Wed 12:00-13:00"},
		{in: "  Mon-Fri   09:00-17:00 ", want: Window{Weekdays, 540, 1020}, str: "Mon-Fri 09:00-17:00"},
		{in: "", wantErr: true},
		{in: "Mon-Fri", wantErr: true},
		{in: "Mon-Fri 23:00", wantErr: true},
		{in: "Funday 10:00-11:00", wantErr: true},
		{in: "Mon-Fri 25:00-07:00", wantErr: true},
		{in: "Mon-Fri 23:60-07:00", wantErr: true},
		{in: "Mon-Fri 24:00-07:00", wantErr: true}, // 24:00 only ends a window
		{in: "Mon-Fri 07:00-07:00", wantErr: true}, // empty
		{in: "Mon-Fri 7-9", wantErr: true},
		{in: "Mon-Fri -1:00-07:00", wantErr: true},
		{in: "Mon-Fri 10:00-11:00 extra", wantErr: true},
		{in: "Mon,,Tue 10:00-11:00", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseWindow(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadWindow) {
					t.Fatalf("ParseWindow(%q) = %v, %v; want ErrBadWindow", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseWindow(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.str {
				t.Fatalf("String() = %q, want %q", got.String(), tt.str)
			}
			again, err := ParseWindow(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip %q: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestWindowContains(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	// 2026-11-23 is a Monday.
	day := func(d, h, m int) time.Time { return time.Date(2026, 11, 22+d, h, m, 0, 0, cet) }
	nights := Window{Weekdays, 23 * 60, 7 * 60}
	weekend := Window{Weekend, 10 * 60, 18 * 60}
	allDay := Window{1 << time.Tuesday, 0, 24 * 60}
	tests := []struct {
		name string
		w    Window
		t    time.Time
		want bool
	}{
		{"Mon 22:59 before the first night", nights, day(1, 22, 59), false},
		{"Mon 23:00 opens", nights, day(1, 23, 0), true},
		{"Tue 00:00 after midnight", nights, day(2, 0, 0), true},
		{"Tue 06:59 last minute", nights, day(2, 6, 59), true},
		{"Tue 07:00 closed", nights, day(2, 7, 0), false},
		{"Fri 23:30 opens Friday", nights, day(5, 23, 30), true},
		{"Sat 06:59 Friday's night", nights, day(6, 6, 59), true},
		{"Sat 07:00 closed", nights, day(6, 7, 0), false},
		{"Sat 23:00 not a weekday", nights, day(6, 23, 0), false},
		{"Sun 23:30 not a weekday", nights, day(7, 23, 30), false},
		{"Mon 00:30 Sunday's night: closed", nights, day(8, 0, 30), false},
		{"Mon 12:00 midday", nights, day(1, 12, 0), false},
		{"Sat 10:00 opens", weekend, day(6, 10, 0), true},
		{"Sun 17:59", weekend, day(7, 17, 59), true},
		{"Sun 18:00 closes", weekend, day(7, 18, 0), false},
		{"Mon 12:00 weekday", weekend, day(8, 12, 0), false},
		{"Tue 00:00 all day", allDay, day(2, 0, 0), true},
		{"Tue 23:59 all day", allDay, day(2, 23, 59), true},
		{"Wed 00:00 next day", allDay, day(3, 0, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.w.Contains(tt.t); got != tt.want {
				t.Fatalf("%v.Contains(%v) = %v, want %v", tt.w, tt.t, got, tt.want)
			}
		})
	}
}

func TestScheduleAllows(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) // Monday noon
	if !(Schedule(nil)).Allows(at) {
		t.Fatal("empty schedule must allow any time")
	}
	s := Schedule{{Weekend, 0, 1440}, {Weekdays, 11 * 60, 13 * 60}}
	if !s.Allows(at) {
		t.Fatal("lunch window should allow Monday noon")
	}
	if s.Allows(at.Add(2 * time.Hour)) {
		t.Fatal("Monday 14:00 is outside every window")
	}
}

func TestWindowJSON(t *testing.T) {
	s := Schedule{{Weekdays, 23 * 60, 7 * 60}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `["Mon-Fri 23:00-07:00"]` {
		t.Fatalf("marshal = %s", b)
	}
	var back Schedule
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 1 || back[0] != s[0] {
		t.Fatalf("unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`["Mon-Fri 23:00"]`), &back); !errors.Is(err, ErrBadWindow) {
		t.Fatalf("bad window: err = %v", err)
	}
	if _, err := json.Marshal(Window{}); err == nil {
		t.Fatal("marshalling an invalid window must fail")
	}
}

// FuzzParseWindow: any text parses or fails cleanly; what parses is valid and round-trips.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"Mon-Fri 23:00-07:00", "daily 00:00-24:00", "Fri-Mon 22:00-02:00", "sat,sun 9:30-18:00", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(s)
		if err != nil {
			if !errors.Is(err, ErrBadWindow) {
				t.Fatalf("ParseWindow(%q) error %v does not wrap ErrBadWindow", s, err)
			}
			return
		}
		if err := w.Validate(); err != nil {
			t.Fatalf("ParseWindow(%q) = invalid %+v: %v", s, w, err)
		}
		again, err := ParseWindow(w.String())
		if err != nil || again != w {
			t.Fatalf("round trip of %q via %q: %+v, %v", s, w.String(), again, err)
		}
	})
}

func TestScheduleHoursPerDay(t *testing.T) {
	tests := []struct {
		windows []string
		want    float64
	}{
		{nil, 24},
		{[]string{"Mon-Sun 22:00-06:00"}, 8},
		{[]string{"Mon-Fri 09:00-17:00"}, 8 * 5 / 7.0},
		{[]string{"Mon-Sun 00:00-24:00"}, 24},
		{[]string{"Mon-Sun 20:00-23:00", "Mon-Sun 22:00-24:00"}, 4}, // overlaps count once
		{[]string{"Sat 23:00-01:00"}, 2 / 7.0},                      // Saturday night runs into Sunday
	}
	for _, tc := range tests {
		var s Schedule
		for _, w := range tc.windows {
			win, err := ParseWindow(w)
			if err != nil {
				t.Fatal(err)
			}
			s = append(s, win)
		}
		if got := s.HoursPerDay(); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%v: %v h/day, want %v", tc.windows, got, tc.want)
		}
	}
}
