package receipt

import (
	"errors"
	"fmt"
	"math/bits"
)

var (
	// ErrOverflow reports an amount that does not fit in 64 bits.
	ErrOverflow = errors.New("amount overflows uint64")
	// ErrUnderpriced reports a receipt whose amount is below the agreed price.
	ErrUnderpriced = errors.New("receipt amount below price")
	// ErrWrongMint reports a receipt in another currency than the price.
	ErrWrongMint = errors.New("receipt mint differs from price")
)

// Price is what a provider charges: PerKiloUnit base units of Mint (lamports
// when Mint is zero) per 1,000 units (token × layer).
type Price struct {
	PerKiloUnit uint64
	Mint        PublicKey
}

// Amount is the price of units, rounded up: ceil(units × PerKiloUnit / 1000),
// computed exactly in 128 bits. Receipts are cumulative and each one prices
// its cumulative units, so the rounding never accumulates: a session's total
// exceeds the exact price by less than one base unit.
func (p Price) Amount(units uint64) (uint64, error) {
	hi, lo := bits.Mul64(units, p.PerKiloUnit)
	lo, carry := bits.Add64(lo, 999, 0)
	hi += carry
	if hi >= 1000 {
		return 0, fmt.Errorf("%w: %d units at %d per 1000", ErrOverflow, units, p.PerKiloUnit)
	}
	q, _ := bits.Div64(hi, lo, 1000)
	return q, nil
}

// Check reports whether r pays at least p for its units, in p's currency.
func (p Price) Check(r *Receipt) error {
	if r.Mint != p.Mint {
		return fmt.Errorf("%w: receipt in %s, price in %s", ErrWrongMint, mintName(r.Mint), mintName(p.Mint))
	}
	want, err := p.Amount(r.Units)
	if err != nil {
		return err
	}
	if r.Amount < want {
		return fmt.Errorf("%w: %d for %d units, want at least %d", ErrUnderpriced, r.Amount, r.Units, want)
	}
	return nil
}

func mintName(m PublicKey) string {
	if m.IsZero() {
		return "SOL"
	}
	return m.String()
}
