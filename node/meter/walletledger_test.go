package meter

import (
	"path/filepath"
	"testing"

	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// walletLedger adapts the wallet's ledger to Ledger, as the node does.
type walletLedger struct {
	l        *ledger.Ledger
	provider receipt.PublicKey
	price    receipt.Price
}

func (w walletLedger) Record(s receipt.Signed) error {
	_, err := w.l.AcceptReceipt(s, w.provider, &w.price)
	return err
}

// TestWithWalletLedger meters a session into the wallet's real ledger: every
// receipt the provider accepts is stored, and the ledger's earnings are the
// session's priced units.
func TestWithWalletLedger(t *testing.T) {
	l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	k := newKey(t)
	terms := paidTerms(k, 2500) // 2.5 base units per unit, rounded up per receipt
	p, err := NewProvider(terms, walletLedger{l: l, provider: terms.Provider, price: terms.Price}, 50)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(terms, k)
	if err != nil {
		t.Fatal(err)
	}
	pauses := 0
	for step := range 10 {
		// The consumer pays only when the provider pauses the session.
		if err := p.CheckCredit(); err != nil {
			pauses++
			r, err := c.Receipt()
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Accept(r); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if err := p.CheckCredit(); err != nil {
				t.Fatalf("step %d: still paused after paying: %v", step, err)
			}
		}
		units := uint64(3 * (step + 1)) // a growing batch through 3 layers
		if err := p.Served(units); err != nil {
			t.Fatal(err)
		}
		if err := c.Add(units); err != nil {
			t.Fatal(err)
		}
	}
	if pauses < 2 {
		t.Fatalf("%d pauses with a credit limit of 50", pauses)
	}
	last, err := c.Receipt()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Accept(last); err != nil {
		t.Fatal(err)
	}
	stored, err := l.Receipted(terms.Session)
	if err != nil {
		t.Fatal(err)
	}
	served, _ := p.Units()
	want, _ := terms.Price.Amount(served)
	if stored.Seq != last.Seq || stored.Units != served || stored.Amount != want {
		t.Fatalf("ledger holds seq %d, %d units, %d; want seq %d, %d units, %d", stored.Seq, stored.Units, stored.Amount, last.Seq, served, want)
	}
	earnings, err := l.Earnings()
	if err != nil {
		t.Fatal(err)
	}
	if len(earnings) != 1 || earnings[0].Earned != want {
		t.Fatalf("earnings %+v, want %d", earnings, want)
	}
}
