package solana

import (
	"fmt"
	"strconv"
	"strings"
)

// SOLDecimals is the number of decimals of SOL: 1 SOL = 10^9 lamports.
const SOLDecimals = 9

// LamportsPerSOL is 10^9.
const LamportsPerSOL = 1_000_000_000

// ParseAmount converts a decimal string such as "1.5" into base units of a
// currency with the given decimals, exactly (no floating point). It rejects
// signs, exponents, excess decimals and values that overflow uint64.
func ParseAmount(s string, decimals uint8) (uint64, error) {
	whole, frac, hasDot := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" && frac == "" || hasDot && frac == "" {
		return 0, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
	}
	if len(frac) > int(decimals) {
		return 0, fmt.Errorf("%w: %q has more than %d decimals", ErrInvalidAmount, s, decimals)
	}
	for _, part := range []string{whole, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("%w: %q is not a plain decimal number", ErrInvalidAmount, s)
			}
		}
	}
	digits := strings.TrimLeft(whole+frac+strings.Repeat("0", int(decimals)-len(frac)), "0")
	if digits == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is too large", ErrInvalidAmount, s)
	}
	return v, nil
}

// FormatAmount renders base units with the given decimals, trimming trailing
// zeros ("1.5", "0.000000001", "42").
func FormatAmount(v uint64, decimals uint8) string {
	s := strconv.FormatUint(v, 10)
	if decimals == 0 {
		return s
	}
	if len(s) <= int(decimals) {
		s = strings.Repeat("0", int(decimals)-len(s)+1) + s
	}
	cut := len(s) - int(decimals)
	frac := strings.TrimRight(s[cut:], "0")
	if frac == "" {
		return s[:cut]
	}
	return s[:cut] + "." + frac
}
