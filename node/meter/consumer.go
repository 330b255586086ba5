package meter

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// Consumer meters one session on the consumer's side: it adds the units each
// acknowledged result reports and signs cumulative receipts for them.
type Consumer struct {
	terms  Terms
	signer receipt.Signer

	mu        sync.Mutex // guards the fields below
	units     uint64     // acknowledged so far
	receipted uint64     // units of the last signed receipt
	seq       uint64     // Seq of the last signed receipt
	last      receipt.Signed
}

// NewConsumer starts metering a session under t. A paid session needs signer,
// whose key must be t.Consumer; a free one may pass nil.
func NewConsumer(t Terms, signer receipt.Signer) (*Consumer, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if !t.Free() {
		if signer == nil {
			return nil, fmt.Errorf("%w: a paid session needs a signer", ErrInvalidTerms)
		}
		if pub := signer.PublicKey(); len(pub) != len(t.Consumer) || receipt.PublicKey(pub) != t.Consumer {
			return nil, fmt.Errorf("%w: %w", ErrInvalidTerms, receipt.ErrWrongSigner)
		}
	}
	return &Consumer{terms: t, signer: signer}, nil
}

// Terms returns the session's terms.
func (c *Consumer) Terms() Terms { return c.terms }

// Add records units of acknowledged work.
func (c *Consumer) Add(units uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, err := addUnits(c.units, units)
	if err != nil {
		return err
	}
	c.units = u
	return nil
}

// Units is the work acknowledged so far.
func (c *Consumer) Units() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.units
}

// Unreceipted is the work acknowledged but not yet covered by a receipt. It is
// always zero in free mode.
func (c *Consumer) Unreceipted() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.terms.Free() {
		return 0
	}
	return c.units - c.receipted
}

// ErrNothingToReceipt reports a receipt asked for with no new work (or in
// free mode, where there is nothing to pay).
var ErrNothingToReceipt = errors.New("no unreceipted work")

// Receipt signs a cumulative receipt for all work acknowledged so far, with
// the next Seq. It returns ErrNothingToReceipt when the last receipt already
// covers everything or the session is free.
func (c *Consumer) Receipt() (receipt.Signed, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.terms.Free() || c.units == c.receipted {
		return receipt.Signed{}, ErrNothingToReceipt
	}
	r, err := c.terms.receiptFor(c.units, c.seq+1)
	if err != nil {
		return receipt.Signed{}, err
	}
	s, err := receipt.Sign(r, c.signer)
	if err != nil {
		return receipt.Signed{}, fmt.Errorf("sign receipt: %w", err)
	}
	c.seq, c.receipted, c.last = r.Seq, r.Units, s
	return s, nil
}

// Last returns the last receipt signed, if any.
func (c *Consumer) Last() (receipt.Signed, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.seq > 0
}
