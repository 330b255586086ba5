package meter

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/hearth-p2p/hearth/wallet/receipt"
)

var (
	// ErrPaymentRequired reports a paid session whose unreceipted credit
	// exceeds the provider's limit: it is paused until a receipt arrives.
	ErrPaymentRequired = errors.New("payment required")
	// ErrRejected reports a receipt the provider does not accept; the wrapped
	// error says why.
	ErrRejected = errors.New("receipt rejected")
	// ErrInvalidTerms reports session terms that cannot be metered.
	ErrInvalidTerms = errors.New("invalid session terms")
	// ErrOverflow reports a unit count that does not fit in 64 bits.
	ErrOverflow = errors.New("unit count overflows")
)

// Terms are what a session was opened under. Consumer and provider derive the
// same terms from the open handshake, and every receipt of the session must
// repeat them.
type Terms struct {
	Session  [16]byte
	Consumer receipt.PublicKey // signs receipts; zero only in free mode
	Provider receipt.PublicKey // the provider's payout address
	Model    [32]byte          // content hash of the model file
	From, To uint32            // layer range [From,To)
	Price    receipt.Price
}

// Free reports whether the session costs nothing (price zero).
func (t Terms) Free() bool { return t.Price.PerKiloUnit == 0 }

// Layers is the number of layers the session covers.
func (t Terms) Layers() uint64 { return uint64(t.To - t.From) }

// Validate checks that the terms can be metered: a non-empty layer range and,
// for a paid session, distinct non-zero consumer and provider keys.
func (t Terms) Validate() error {
	if t.From >= t.To {
		return fmt.Errorf("%w: empty layer range [%d,%d)", ErrInvalidTerms, t.From, t.To)
	}
	if t.Free() {
		return nil
	}
	switch {
	case t.Consumer.IsZero():
		return fmt.Errorf("%w: a paid session needs a consumer key", ErrInvalidTerms)
	case t.Provider.IsZero():
		return fmt.Errorf("%w: a paid session needs a payout address", ErrInvalidTerms)
	case t.Consumer == t.Provider:
		return fmt.Errorf("%w: consumer and provider are the same key", ErrInvalidTerms)
	}
	return nil
}

// receiptFor returns the unsigned receipt of the terms for units at seq.
func (t Terms) receiptFor(units, seq uint64) (receipt.Receipt, error) {
	amount, err := t.Price.Amount(units)
	if err != nil {
		return receipt.Receipt{}, err
	}
	return receipt.Receipt{
		Session: t.Session, Consumer: t.Consumer, Provider: t.Provider, Model: t.Model,
		From: t.From, To: t.To, Units: units, Amount: amount, Mint: t.Price.Mint, Seq: seq,
	}, nil
}

// Units is the metered work of a forward of tokens positions through layers
// layers: tokens × layers.
func Units(tokens, layers int) (uint64, error) {
	if tokens < 0 || layers < 0 {
		return 0, fmt.Errorf("%w: %d tokens × %d layers", ErrInvalidTerms, tokens, layers)
	}
	hi, lo := bits.Mul64(uint64(tokens), uint64(layers))
	if hi != 0 {
		return 0, ErrOverflow
	}
	return lo, nil
}

// addUnits returns a+b or ErrOverflow.
func addUnits(a, b uint64) (uint64, error) {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return 0, ErrOverflow
	}
	return s, nil
}
