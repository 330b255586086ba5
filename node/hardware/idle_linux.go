//go:build linux

package hardware

import (
	"syscall"
	"time"
)

// NewInputIdle returns an IdleSource over /dev/input/event*.
func NewInputIdle() *InputIdle { return newInputIdle("/dev/input/event*") }

func newInputIdle(glob string) *InputIdle {
	return &InputIdle{glob: glob, newestOf: newestInputTime}
}

// newestInputTime is the newest atime/mtime among the paths this process may read.
func newestInputTime(paths []string) (time.Time, bool) {
	var (
		newest time.Time
		found  bool
	)
	for _, p := range paths {
		if syscall.Access(p, 4 /* R_OK */) != nil {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			continue
		}
		for _, ts := range []syscall.Timespec{st.Atim, st.Mtim} {
			if t := time.Unix(ts.Unix()); t.After(newest) {
				newest = t
			}
		}
		found = true
	}
	return newest, found
}
