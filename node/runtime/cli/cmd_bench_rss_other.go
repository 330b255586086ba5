//go:build !unix

package cli

// peakRSS is not measured on this system.
func peakRSS() (int64, bool) { return 0, false }

// rssParts is not measured on this system.
func rssParts() (anon, file int64, ok bool) { return 0, 0, false }
