package meter

import (
	"fmt"
	"sync"

	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// Ledger stores the receipts a provider accepts. The wallet's receipts ledger
// satisfies it; MemoryLedger is an in-memory one.
type Ledger interface {
	// Record stores a verified receipt. Receipts of a session arrive with
	// increasing Seq; each supersedes the previous one.
	Record(r receipt.Signed) error
}

// Provider meters one session on the provider's side: the units it served,
// the receipts it accepted, and whether the session may go on.
type Provider struct {
	terms  Terms
	ledger Ledger
	limit  uint64 // most unreceipted base units before the session pauses

	mu     sync.Mutex // guards the fields below
	served uint64
	last   receipt.Signed
	have   bool // last holds an accepted receipt
}

// NewProvider starts metering a session under t, recording receipts in
// ledger (which a paid session needs). creditLimit is the most the consumer
// may owe beyond its last receipt, in base units of the price's mint.
func NewProvider(t Terms, ledger Ledger, creditLimit uint64) (*Provider, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if !t.Free() && ledger == nil {
		return nil, fmt.Errorf("%w: a paid session needs a ledger", ErrInvalidTerms)
	}
	return &Provider{terms: t, ledger: ledger, limit: creditLimit}, nil
}

// Terms returns the session's terms.
func (p *Provider) Terms() Terms { return p.terms }

// Served records units of work done for the consumer.
func (p *Provider) Served(units uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, err := addUnits(p.served, units)
	if err != nil {
		return err
	}
	p.served = u
	return nil
}

// Units returns the work served and the work covered by accepted receipts.
func (p *Provider) Units() (served, receipted uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.served, p.last.Units
}

// Unreceipted is what the consumer owes beyond its last receipt, in base
// units; zero in free mode.
func (p *Provider) Unreceipted() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unreceiptedLocked()
}

func (p *Provider) unreceiptedLocked() uint64 {
	if p.terms.Free() {
		return 0
	}
	owed, err := p.terms.Price.Amount(p.served)
	if err != nil {
		return ^uint64(0) // unpayable: treat as over any limit
	}
	if owed <= p.last.Amount {
		return 0
	}
	return owed - p.last.Amount
}

// CheckCredit returns ErrPaymentRequired when the unreceipted credit exceeds
// the limit: the provider then serves nothing more until a receipt arrives.
func (p *Provider) CheckCredit() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.unreceiptedLocked(); u > p.limit {
		return fmt.Errorf("%w: %d base units unreceipted, limit %d", ErrPaymentRequired, u, p.limit)
	}
	return nil
}

// Accept verifies a receipt against the session and records it in the
// ledger. It wraps ErrRejected (and the receipt package's error, when there
// is one) for a receipt that is forged, for another session, not newer than
// the last, for more work than was served, or underpriced.
func (p *Provider) Accept(s receipt.Signed) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check(&s); err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if err := p.ledger.Record(s); err != nil {
		return fmt.Errorf("record receipt: %w", err)
	}
	p.last, p.have = s, true
	return nil
}

// check validates s under p.mu.
func (p *Provider) check(s *receipt.Signed) error {
	t, r := &p.terms, &s.Receipt
	if t.Free() {
		return fmt.Errorf("free session takes no receipts")
	}
	if err := s.Verify(); err != nil {
		return err
	}
	switch {
	case r.Consumer != t.Consumer:
		return fmt.Errorf("signed by %s, session consumer is %s", r.Consumer, t.Consumer)
	case r.Session != t.Session:
		return fmt.Errorf("receipt for session %x", r.Session)
	case r.Provider != t.Provider:
		return fmt.Errorf("receipt pays %s, not this provider %s", r.Provider, t.Provider)
	case r.Model != t.Model || r.From != t.From || r.To != t.To:
		return fmt.Errorf("receipt for model %x layers [%d,%d)", r.Model[:4], r.From, r.To)
	case p.have && r.Seq <= p.last.Seq:
		return fmt.Errorf("seq %d not after %d", r.Seq, p.last.Seq)
	case r.Units < p.last.Units || r.Amount < p.last.Amount:
		return fmt.Errorf("receipt (%d units, %d) below the previous (%d units, %d)", r.Units, r.Amount, p.last.Units, p.last.Amount)
	case r.Units > p.served:
		return fmt.Errorf("receipt for %d units, only %d served", r.Units, p.served)
	}
	return t.Price.Check(r)
}

// Last returns the last accepted receipt, if any.
func (p *Provider) Last() (receipt.Signed, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.have
}
