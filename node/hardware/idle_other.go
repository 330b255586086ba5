//go:build !linux

package hardware

import "time"

// NewInputIdle returns an IdleSource that reports Known=false: reading input idleness is
// implemented for Linux only.
func NewInputIdle() *InputIdle { return newInputIdle("") }

func newInputIdle(glob string) *InputIdle {
	return &InputIdle{glob: glob, newestOf: func([]string) (time.Time, bool) { return time.Time{}, false }}
}
