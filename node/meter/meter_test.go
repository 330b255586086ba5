package meter

import (
	"errors"
	"testing"

	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

func newKey(t *testing.T) keys.Key {
	t.Helper()
	k, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func paidTerms(consumer keys.Key, perKilo uint64) Terms {
	return Terms{
		Session:  [16]byte{1, 2, 3},
		Consumer: receipt.PublicKey(consumer.PublicKey()),
		Provider: receipt.PublicKey{9, 9, 9},
		Model:    [32]byte{0xab},
		From:     2,
		To:       5,
		Price:    receipt.Price{PerKiloUnit: perKilo},
	}
}

func TestUnits(t *testing.T) {
	tests := []struct {
		tokens, layers int
		want           uint64
		err            bool
	}{
		{1, 1, 1, false},
		{7, 3, 21, false},
		{0, 5, 0, false},
		{-1, 5, 0, true},
		{5, -1, 0, true},
	}
	for _, tc := range tests {
		got, err := Units(tc.tokens, tc.layers)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Units(%d,%d) = %d, %v; want %d, err %v", tc.tokens, tc.layers, got, err, tc.want, tc.err)
		}
	}
}

func TestTermsValidate(t *testing.T) {
	k := newKey(t)
	good := paidTerms(k, 10)
	tests := []struct {
		name   string
		mutate func(*Terms)
		ok     bool
	}{
		{"paid", func(*Terms) {}, true},
		{"free without keys", func(t *Terms) { *t = Terms{From: 0, To: 1} }, true},
		{"empty range", func(t *Terms) { t.From, t.To = 3, 3 }, false},
		{"paid without consumer", func(t *Terms) { t.Consumer = receipt.PublicKey{} }, false},
		{"paid without provider", func(t *Terms) { t.Provider = receipt.PublicKey{} }, false},
		{"consumer is provider", func(t *Terms) { t.Provider = t.Consumer }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := good
			tc.mutate(&tr)
			err := tr.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidTerms) {
				t.Fatalf("error %v does not wrap ErrInvalidTerms", err)
			}
		})
	}
}

func TestConsumerReceipts(t *testing.T) {
	k := newKey(t)
	c, err := NewConsumer(paidTerms(k, 3), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Receipt(); !errors.Is(err, ErrNothingToReceipt) {
		t.Fatalf("receipt before work: %v", err)
	}
	steps := []struct {
		add        uint64
		wantUnits  uint64
		wantAmount uint64 // ceil(units × 3 / 1000)
	}{
		{1, 1, 1},
		{332, 333, 1},
		{1, 334, 2},
		{9666, 10000, 30},
	}
	for i, s := range steps {
		if err := c.Add(s.add); err != nil {
			t.Fatal(err)
		}
		if got := c.Unreceipted(); got != s.add {
			t.Errorf("step %d: unreceipted %d, want %d", i, got, s.add)
		}
		r, err := c.Receipt()
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Verify(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if r.Seq != uint64(i+1) || r.Units != s.wantUnits || r.Amount != s.wantAmount {
			t.Errorf("step %d: seq %d units %d amount %d; want %d %d %d", i, r.Seq, r.Units, r.Amount, i+1, s.wantUnits, s.wantAmount)
		}
		if c.Unreceipted() != 0 {
			t.Errorf("step %d: unreceipted after receipt", i)
		}
	}
	if _, err := c.Receipt(); !errors.Is(err, ErrNothingToReceipt) {
		t.Fatalf("receipt with no new work: %v", err)
	}
	if last, ok := c.Last(); !ok || last.Seq != 4 {
		t.Fatalf("Last = %d, %v", last.Seq, ok)
	}
}

func TestConsumerConstruction(t *testing.T) {
	k, other := newKey(t), newKey(t)
	if _, err := NewConsumer(paidTerms(k, 1), nil); !errors.Is(err, ErrInvalidTerms) {
		t.Errorf("paid without signer: %v", err)
	}
	if _, err := NewConsumer(paidTerms(k, 1), other); !errors.Is(err, receipt.ErrWrongSigner) {
		t.Errorf("wrong signer: %v", err)
	}
	free, err := NewConsumer(Terms{From: 0, To: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := free.Add(100); err != nil {
		t.Fatal(err)
	}
	if free.Unreceipted() != 0 || free.Units() != 100 {
		t.Errorf("free: unreceipted %d units %d", free.Unreceipted(), free.Units())
	}
	if _, err := free.Receipt(); !errors.Is(err, ErrNothingToReceipt) {
		t.Errorf("free receipt: %v", err)
	}
	if err := free.Add(^uint64(0)); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflow: %v", err)
	}
}

// sign signs r with k, bypassing the consumer meter (to build bad receipts).
func sign(t *testing.T, r receipt.Receipt, k keys.Key) receipt.Signed {
	t.Helper()
	s, err := receipt.Sign(r, k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProviderAccept(t *testing.T) {
	k, mallory := newKey(t), newKey(t)
	terms := paidTerms(k, 1000) // one base unit per unit
	good := func(units, seq uint64) receipt.Receipt {
		r, err := terms.receiptFor(units, seq)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name    string
		receipt func() receipt.Signed
		wantErr error // nil: accepted
	}{
		{"valid", func() receipt.Signed { return sign(t, good(50, 2), k) }, nil},
		{"bad signature", func() receipt.Signed {
			s := sign(t, good(50, 2), k)
			s.Amount++ // tampered after signing
			return s
		}, receipt.ErrBadSignature},
		{"other consumer", func() receipt.Signed {
			r := good(50, 2)
			r.Consumer = receipt.PublicKey(mallory.PublicKey())
			return sign(t, r, mallory)
		}, ErrRejected},
		{"other session", func() receipt.Signed { r := good(50, 2); r.Session[0]++; return sign(t, r, k) }, ErrRejected},
		{"other provider", func() receipt.Signed { r := good(50, 2); r.Provider[0]++; return sign(t, r, k) }, ErrRejected},
		{"other range", func() receipt.Signed { r := good(50, 2); r.To++; return sign(t, r, k) }, ErrRejected},
		{"other model", func() receipt.Signed { r := good(50, 2); r.Model[5] = 1; return sign(t, r, k) }, ErrRejected},
		{"replayed seq", func() receipt.Signed { return sign(t, good(50, 1), k) }, ErrRejected},
		{"fewer units", func() receipt.Signed { return sign(t, good(5, 2), k) }, ErrRejected},
		{"unserved units", func() receipt.Signed { return sign(t, good(101, 2), k) }, ErrRejected},
		{"underpriced", func() receipt.Signed { r := good(50, 2); r.Amount = 49; return sign(t, r, k) }, receipt.ErrUnderpriced},
		{"wrong mint", func() receipt.Signed { r := good(50, 2); r.Mint[0] = 1; return sign(t, r, k) }, receipt.ErrWrongMint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			led := NewMemoryLedger()
			p, err := NewProvider(terms, led, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Served(100); err != nil {
				t.Fatal(err)
			}
			if err := p.Accept(sign(t, good(10, 1), k)); err != nil {
				t.Fatalf("first receipt: %v", err)
			}
			err = p.Accept(tc.receipt())
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Accept: %v", err)
				}
				if last, _ := p.Last(); last.Seq != 2 || len(led.All()) != 2 {
					t.Fatalf("not recorded: last seq %d, ledger %d", last.Seq, len(led.All()))
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !errors.Is(err, ErrRejected) {
				t.Fatalf("Accept = %v, want %v wrapped in ErrRejected", err, tc.wantErr)
			}
			if last, _ := p.Last(); last.Seq != 1 || len(led.All()) != 1 {
				t.Fatalf("rejected receipt recorded: last seq %d, ledger %d", last.Seq, len(led.All()))
			}
		})
	}
}

func TestProviderCreditLimit(t *testing.T) {
	k := newKey(t)
	terms := paidTerms(k, 2000) // 2 base units per unit
	p, err := NewProvider(terms, NewMemoryLedger(), 100)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(terms, k)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(units uint64) {
		t.Helper()
		if err := p.Served(units); err != nil {
			t.Fatal(err)
		}
		if err := c.Add(units); err != nil {
			t.Fatal(err)
		}
	}
	serve(50) // owes 100: at the limit, not over it
	if err := p.CheckCredit(); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	serve(1) // owes 102
	if err := p.CheckCredit(); !errors.Is(err, ErrPaymentRequired) {
		t.Fatalf("over the limit: %v", err)
	}
	if got := p.Unreceipted(); got != 102 {
		t.Fatalf("unreceipted %d, want 102", got)
	}
	r, err := c.Receipt()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Accept(r); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckCredit(); err != nil {
		t.Fatalf("after receipt: %v", err)
	}
	if served, receipted := p.Units(); served != 51 || receipted != 51 {
		t.Fatalf("units %d/%d", served, receipted)
	}
}

func TestProviderFreeMode(t *testing.T) {
	k := newKey(t)
	p, err := NewProvider(Terms{From: 0, To: 4}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Served(1 << 40); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckCredit(); err != nil {
		t.Fatalf("free session paused: %v", err)
	}
	r, err := paidTerms(k, 1).receiptFor(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Accept(sign(t, r, k)); !errors.Is(err, ErrRejected) {
		t.Fatalf("receipt in free session: %v", err)
	}
	if _, err := NewProvider(paidTerms(k, 1), nil, 0); !errors.Is(err, ErrInvalidTerms) {
		t.Fatalf("paid session without ledger: %v", err)
	}
}

// failingLedger refuses every receipt, like a full disk.
type failingLedger struct{}

func (failingLedger) Record(receipt.Signed) error { return errors.New("disk full") }

func TestProviderLedgerFailure(t *testing.T) {
	k := newKey(t)
	terms := paidTerms(k, 1000)
	p, err := NewProvider(terms, failingLedger{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Served(10); err != nil {
		t.Fatal(err)
	}
	c, _ := NewConsumer(terms, k)
	_ = c.Add(10)
	r, err := c.Receipt()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Accept(r); err == nil || errors.Is(err, ErrRejected) {
		t.Fatalf("Accept with failing ledger = %v", err)
	}
	if _, ok := p.Last(); ok {
		t.Fatal("receipt counted although the ledger refused it")
	}
	if err := p.CheckCredit(); !errors.Is(err, ErrPaymentRequired) {
		t.Fatalf("credit: %v", err)
	}
}

func TestMemoryLedgerOrder(t *testing.T) {
	k := newKey(t)
	terms := paidTerms(k, 1)
	l := NewMemoryLedger()
	for _, seq := range []uint64{1, 2} {
		r, _ := terms.receiptFor(seq, seq)
		if err := l.Record(sign(t, r, k)); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := terms.receiptFor(3, 2)
	if err := l.Record(sign(t, r, k)); err == nil {
		t.Fatal("ledger accepted a stale seq")
	}
	if latest, ok := l.Latest(terms.Session); !ok || latest.Seq != 2 {
		t.Fatalf("latest %d %v", latest.Seq, ok)
	}
}
