package app

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// formatBytes writes n in decimal units, as disk and download sizes are
// shown everywhere else: "669 MB", "4.68 GB".
func formatBytes(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	prec := 2
	switch {
	case v >= 100:
		prec = 0
	case v >= 10:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + string("kMGTPE"[exp]) + "B"
}

// formatRate writes a byte rate: "2.4 MB/s".
func formatRate(bps float64) string {
	if bps < 0 {
		bps = 0
	}
	return formatBytes(uint64(bps)) + "/s"
}

// formatAmount writes base units with their decimals, trimming zeros:
// formatAmount(2_483_150_000, 9) == "2.48315".
func formatAmount(units uint64, decimals int) string {
	s := strconv.FormatUint(units, 10)
	if decimals <= 0 {
		return s
	}
	if len(s) <= decimals {
		s = strings.Repeat("0", decimals-len(s)+1) + s
	}
	whole, frac := s[:len(s)-decimals], strings.TrimRight(s[len(s)-decimals:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// formatSOL writes lamports as SOL with at most 4 decimals, for charts
// and tables where width matters.
func formatSOL(lamports uint64) string {
	return strconv.FormatFloat(float64(lamports)/1e9, 'f', 4, 64) + " SOL"
}

// Errors of parseAmount.
var (
	errAmountEmpty     = errors.New("enter an amount")
	errAmountSyntax    = errors.New("not a number")
	errAmountZero      = errors.New("must be more than zero")
	errAmountPrecision = errors.New("too many decimals")
)

// parseAmount reads a decimal amount typed by the user into base units
// without going through floating point.
func parseAmount(s string, decimals int) (uint64, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", "."))
	if s == "" {
		return 0, errAmountEmpty
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if !allDigits(whole) || !allDigits(frac) || strings.Count(s, ".") > 1 {
		return 0, errAmountSyntax
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > decimals {
		return 0, errAmountPrecision
	}
	frac += strings.Repeat("0", decimals-len(frac))
	v, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok || !v.IsUint64() {
		return 0, errAmountSyntax
	}
	if v.Sign() == 0 {
		return 0, errAmountZero
	}
	return v.Uint64(), nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// errAddress explains what a Solana address looks like.
var errAddress = errors.New("not a Solana address (32 bytes in base58)")

// checkAddress reports whether s is a base58 encoding of 32 bytes, which
// every Solana address is.
func checkAddress(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return errors.New("enter an address")
	}
	n := new(big.Int)
	for _, r := range s {
		i := strings.IndexRune(base58Alphabet, r)
		if i < 0 {
			return errAddress
		}
		n.Mul(n, big.NewInt(58))
		n.Add(n, big.NewInt(int64(i)))
	}
	zeros := len(s) - len(strings.TrimLeft(s, "1"))
	if zeros+len(n.Bytes()) != 32 {
		return errAddress
	}
	return nil
}

// shortID abbreviates a long identifier to its ends: "12D3Ko…ZrKoYs".
func shortID(s string) string {
	r := []rune(s)
	if len(r) <= 14 {
		return s
	}
	return string(r[:6]) + "…" + string(r[len(r)-6:])
}

// ago writes how long before now t was: "just now", "4 min ago".
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	case d < 48*time.Hour:
		return "yesterday"
	}
	return t.Format("2 Jan")
}

// formatRate1 writes a float with one decimal.
func formatFloat1(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "–"
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}
