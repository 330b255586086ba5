package hardware

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadWindow is wrapped by every schedule parse error.
var ErrBadWindow = errors.New("bad schedule window")

// Days is a set of weekdays, bit i for time.Weekday(i).
type Days uint8

// Common day sets.
const (
	Weekdays Days = 1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday
	Weekend  Days = 1<<time.Saturday | 1<<time.Sunday
	Everyday Days = Weekdays | Weekend
)

// Has reports whether d contains day.
func (d Days) Has(day time.Weekday) bool { return d&(1<<uint(day)) != 0 }

// Window is a weekly time window on the local wall clock: it opens at Start on each of
// Days and closes at End. End before Start crosses midnight: "Mon-Fri 23:00-07:00" runs
// from Monday 23:00 to Tuesday 07:00, …, Friday 23:00 to Saturday 07:00 (the day is the
// day the window opens). Start and End are minutes since midnight; End may be 1440 (24:00).
type Window struct {
	Days  Days
	Start int
	End   int
}

// Validate checks the window.
func (w Window) Validate() error {
	switch {
	case w.Days == 0 || w.Days&^Everyday != 0:
		return fmt.Errorf("%w: no days or unknown days %#x", ErrBadWindow, uint8(w.Days))
	case w.Start < 0 || w.Start >= 24*60:
		return fmt.Errorf("%w: start %d out of range", ErrBadWindow, w.Start)
	case w.End <= 0 || w.End > 24*60:
		return fmt.Errorf("%w: end %d out of range", ErrBadWindow, w.End)
	case w.Start == w.End:
		return fmt.Errorf("%w: empty window", ErrBadWindow)
	}
	return nil
}

// Contains reports whether the wall-clock time t (in its own location) is inside w.
func (w Window) Contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if w.Start < w.End {
		return w.Days.Has(t.Weekday()) && m >= w.Start && m < w.End
	}
	// Crosses midnight: the evening part belongs to today, the morning part to yesterday.
	if m >= w.Start {
		return w.Days.Has(t.Weekday())
	}
	return m < w.End && w.Days.Has((t.Weekday()+6)%7)
}

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// String formats w as ParseWindow reads it, e.g. "Mon-Fri 23:00-07:00".
func (w Window) String() string {
	return formatDays(w.Days) + " " + formatClock(w.Start) + "-" + formatClock(w.End)
}

func formatDays(d Days) string {
	switch d {
	case Everyday:
		return "daily"
	case Weekdays:
		return "Mon-Fri"
	case Weekend:
		return "Sat,Sun"
	}
	var parts []string
	for _, day := range []time.Weekday{1, 2, 3, 4, 5, 6, 0} {
		if d.Has(day) {
			parts = append(parts, dayNames[day])
		}
	}
	return strings.Join(parts, ",")
}

func formatClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// ParseWindow reads "DAYS HH:MM-HH:MM". DAYS is "daily", "weekdays", "weekend", or a
// comma list of days and ranges: "Mon-Fri", "Sat,Sun", "Fri-Mon" (ranges may wrap).
func ParseWindow(s string) (Window, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return Window{}, fmt.Errorf("%w: %q: want \"DAYS HH:MM-HH:MM\"", ErrBadWindow, s)
	}
	days, err := parseDays(fields[0])
	if err != nil {
		return Window{}, fmt.Errorf("%w: %q: %v", ErrBadWindow, s, err)
	}
	from, to, ok := strings.Cut(fields[1], "-")
	if !ok {
		return Window{}, fmt.Errorf("%w: %q: want HH:MM-HH:MM", ErrBadWindow, s)
	}
	w := Window{Days: days}
	if w.Start, err = parseClock(from); err != nil {
		return Window{}, fmt.Errorf("%w: %q: %v", ErrBadWindow, s, err)
	}
	if w.End, err = parseClock(to); err != nil {
		return Window{}, fmt.Errorf("%w: %q: %v", ErrBadWindow, s, err)
	}
	if err := w.Validate(); err != nil {
		return Window{}, fmt.Errorf("%q: %w", s, err)
	}
	return w, nil
}

func parseDays(s string) (Days, error) {
	switch strings.ToLower(s) {
	case "daily", "everyday":
		return Everyday, nil
	case "weekdays":
		return Weekdays, nil
	case "weekend", "weekends":
		return Weekend, nil
	}
	var d Days
	for _, part := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err := parseDay(from)
		if err != nil {
			return 0, err
		}
		b := a
		if isRange {
			if b, err = parseDay(to); err != nil {
				return 0, err
			}
		}
		for day := a; ; day = (day + 1) % 7 {
			d |= 1 << uint(day)
			if day == b {
				break
			}
		}
	}
	return d, nil
}

func parseDay(s string) (time.Weekday, error) {
	for i, n := range dayNames {
		if strings.EqualFold(s, n) {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("unknown day %q", s)
}

func parseClock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) == 0 || len(hh) > 2 || len(mm) != 2 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return h*60 + m, nil
}

// MarshalText implements encoding.TextMarshaler.
func (w Window) MarshalText() ([]byte, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return []byte(w.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (w *Window) UnmarshalText(b []byte) error {
	v, err := ParseWindow(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// Schedule is a set of windows; lending is allowed inside any of them. An empty schedule
// allows any time.
type Schedule []Window

// Allows reports whether t is inside the schedule.
func (s Schedule) Allows(t time.Time) bool {
	if len(s) == 0 {
		return true
	}
	for _, w := range s {
		if w.Contains(t) {
			return true
		}
	}
	return false
}

// HoursPerDay is how many hours a day the schedule allows on average over a
// week (overlapping windows count once); 24 for an empty schedule.
func (s Schedule) HoursPerDay() float64 {
	if len(s) == 0 {
		return 24
	}
	const week = 7 * 24 * 60
	var open [week]bool // by minute of the week, Sunday 00:00 first
	for _, w := range s {
		if w.Validate() != nil {
			continue
		}
		end := w.End
		if end < w.Start {
			end += 24 * 60 // runs past midnight into the next day
		}
		for d := time.Sunday; d <= time.Saturday; d++ {
			if !w.Days.Has(d) {
				continue
			}
			for m := w.Start; m < end; m++ {
				open[(int(d)*24*60+m)%week] = true
			}
		}
	}
	n := 0
	for _, o := range open {
		if o {
			n++
		}
	}
	return float64(n) / 60 / 7
}
