package ledger

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	bolt "go.etcd.io/bbolt"
)

type fixture struct {
	t        *testing.T
	consumer keys.Key
	provider receipt.PublicKey
	model    [32]byte
	clock    *clock
}

type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := keys.Generate()
	return &fixture{
		t:        t,
		consumer: c,
		provider: receipt.PublicKey(p.PublicKey()),
		model:    [32]byte{1, 2, 3},
		clock:    &clock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)},
	}
}

func (f *fixture) open(path string) *Ledger {
	f.t.Helper()
	l, err := Open(path, nil, WithClock(f.clock.now))
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

func (f *fixture) ledger() *Ledger {
	l := f.open(filepath.Join(f.t.TempDir(), "ledger.db"))
	f.t.Cleanup(func() { _ = l.Close() })
	return l
}

func (f *fixture) receipt(session byte, seq, units, amount uint64, mint receipt.PublicKey) receipt.Signed {
	f.t.Helper()
	r := receipt.Receipt{
		Session:  [16]byte{session},
		Consumer: receipt.PublicKey(f.consumer.PublicKey()),
		Provider: f.provider,
		Model:    f.model,
		From:     0,
		To:       16,
		Units:    units,
		Amount:   amount,
		Mint:     mint,
		Seq:      seq,
	}
	s, err := receipt.Sign(r, f.consumer)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

var sol receipt.PublicKey // zero mint: SOL

func TestAcceptReceiptRules(t *testing.T) {
	f := newFixture(t)
	l := f.ledger()
	other, _ := keys.Generate()
	r1 := f.receipt(1, 1, 100, 10, sol)
	r2 := f.receipt(1, 2, 200, 20, sol)

	forged := r2
	forged.Seq = 3
	forged.Units, forged.Amount = 300, 30
	sig := other.Sign(forged.SigningMessage()) // signed by someone else
	copy(forged.Signature[:], sig)

	tampered := f.receipt(1, 3, 300, 30, sol)
	tampered.Amount = 3000

	wrongProv := f.receipt(1, 3, 300, 30, sol)
	wrongProv.Provider = receipt.PublicKey(other.PublicKey())
	wrongProv, _ = receipt.Sign(wrongProv.Receipt, f.consumer)

	otherModel := f.receipt(1, 3, 300, 30, sol)
	otherModel.Model[0] = 9
	otherModel, _ = receipt.Sign(otherModel.Receipt, f.consumer)

	otherConsumer := f.receipt(1, 3, 300, 30, sol)
	otherConsumer.Consumer = receipt.PublicKey(other.PublicKey())
	otherConsumer, _ = receipt.Sign(otherConsumer.Receipt, other)

	price := &receipt.Price{PerKiloUnit: 1000}
	for _, tc := range []struct {
		name  string
		r     receipt.Signed
		price *receipt.Price
		added uint64
		want  error
	}{
		{"first", r1, nil, 10, nil},
		{"replay first", r1, nil, 0, nil},
		{"second", r2, nil, 10, nil},
		{"replay older", r1, nil, 0, nil},
		{"replay latest", r2, nil, 0, nil},
		{"conflict same seq", f.receipt(1, 2, 200, 25, sol), nil, 0, ErrConflict},
		{"units go back", f.receipt(1, 3, 150, 30, sol), nil, 0, ErrNonMonotonic},
		{"amount goes back", f.receipt(1, 3, 300, 15, sol), nil, 0, ErrNonMonotonic},
		{"unknown older seq", f.receipt(1, 1, 50, 5, sol), nil, 0, ErrNonMonotonic},
		{"forged signature", forged, nil, 0, ErrBadReceipt},
		{"tampered amount", tampered, nil, 0, ErrBadReceipt},
		{"wrong provider", wrongProv, nil, 0, ErrWrongProvider},
		{"other model", otherModel, nil, 0, ErrSessionMismatch},
		{"other consumer", otherConsumer, nil, 0, ErrSessionMismatch},
		{"other mint", f.receipt(1, 3, 300, 30, receipt.PublicKey{7}), nil, 0, ErrSessionMismatch},
		{"underpriced", f.receipt(2, 1, 1000, 999, sol), price, 0, ErrBadReceipt},
		{"priced", f.receipt(2, 1, 1000, 1000, sol), price, 1000, nil},
		{"third", f.receipt(1, 3, 300, 30, sol), nil, 10, nil},
	} {
		added, err := l.AcceptReceipt(tc.r, f.provider, tc.price)
		if !errors.Is(err, tc.want) || added != tc.added {
			t.Errorf("%s: added %d, err %v; want %d, %v", tc.name, added, err, tc.added, tc.want)
		}
	}
	got, err := l.Receipted([16]byte{1})
	if err != nil || got.Seq != 3 || got.Amount != 30 {
		t.Fatalf("latest = seq %d amount %d, %v", got.Seq, got.Amount, err)
	}
	if _, err := l.Receipted([16]byte{99}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	es, _ := l.Earnings()
	if len(es) != 1 || es[0].Earned != 1030 || es[0].Pending != 1030 || es[0].Sessions != 2 {
		t.Fatalf("earnings %+v", es)
	}
}

func TestCreditCheck(t *testing.T) {
	f := newFixture(t)
	l := f.ledger()
	consumer := receipt.PublicKey(f.consumer.PublicKey())
	s := [16]byte{1}
	for _, tc := range []struct {
		name          string
		receiptUnits  uint64 // 0: no receipt yet
		served, limit uint64
		open          uint64
		want          error
	}{
		{"nothing receipted yet, under limit", 0, 500, 1000, 500, nil},
		{"nothing receipted yet, over limit", 0, 1500, 1000, 1500, ErrCreditExceeded},
		{"receipts cover it", 1000, 1000, 0, 0, nil},
		{"receipt ahead of count", 1000, 800, 0, 0, nil},
		{"behind within limit", 1000, 1900, 1000, 900, nil},
		{"behind over limit", 1000, 2001, 1000, 1001, ErrCreditExceeded},
	} {
		if tc.receiptUnits > 0 {
			if _, err := l.AcceptReceipt(f.receipt(1, tc.receiptUnits, tc.receiptUnits, tc.receiptUnits, sol), f.provider, nil); err != nil {
				t.Fatal(err)
			}
		}
		open, err := l.UnreceiptedCredit(s, tc.served)
		if err != nil || open != tc.open {
			t.Errorf("%s: open %d, %v; want %d", tc.name, open, err, tc.open)
		}
		if err := l.CheckCredit(s, consumer, tc.served, tc.limit); !errors.Is(err, tc.want) {
			t.Errorf("%s: check %v, want %v", tc.name, err, tc.want)
		}
	}
}

func digests(rs ...receipt.Signed) [][32]byte {
	out := make([][32]byte, len(rs))
	for i := range rs {
		out[i] = rs[i].Digest()
	}
	return out
}

func TestApplyPayment(t *testing.T) {
	f := newFixture(t)
	l := f.ledger()
	mint := receipt.PublicKey{42}
	a1, b1 := f.receipt(1, 1, 1000, 100, sol), f.receipt(2, 1, 500, 50, sol)
	a2 := f.receipt(1, 2, 1800, 180, sol)
	tok := f.receipt(3, 1, 10, 7, mint)
	for _, r := range []receipt.Signed{a1, b1, tok} {
		if _, err := l.AcceptReceipt(r, f.provider, nil); err != nil {
			t.Fatal(err)
		}
	}
	payer := receipt.PublicKey(f.consumer.PublicKey())
	pay := func(n byte, amount uint64, mint receipt.PublicKey, ds [][32]byte) Payment {
		return Payment{Signature: [64]byte{n}, Payer: payer, Received: map[receipt.PublicKey]uint64{mint: amount}, Digests: ds, Time: f.clock.now()}
	}
	steps := []struct {
		name    string
		before  func()
		p       Payment
		want    Outcome
		settled uint64 // SOL settled afterwards
	}{
		{"short by one", nil, pay(1, 149, sol, digests(a1, b1)), OutcomeInsufficient, 0},
		{"exact", nil, pay(2, 150, sol, digests(a1, b1)), OutcomeSettled, 150},
		{"replay of the same tx", nil, pay(2, 150, sol, digests(a1, b1)), OutcomeSettled, 150},
		{"same receipts paid again", nil, pay(3, 150, sol, digests(a1, b1)), OutcomeNothingDue, 150},
		{"unknown receipts", nil, pay(4, 500, sol, [][32]byte{{1}, {2}}), OutcomeUnknown, 150},
		{"sol for a token receipt", nil, pay(5, 500, sol, digests(tok)), OutcomeInsufficient, 150},
		{"mixed currencies", nil, pay(10, 500, sol, digests(tok, a1)), OutcomeWrongMint, 150},
		{"increment short", func() { mustAccept(t, l, f, a2) }, pay(6, 79, sol, digests(a2)), OutcomeInsufficient, 150},
		{"increment exact", nil, pay(7, 80, sol, digests(a2)), OutcomeSettled, 230},
		{"token paid", nil, pay(8, 7, mint, digests(tok)), OutcomeSettled, 230},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		got, err := l.ApplyPayment(s.p)
		if err != nil || got != s.want {
			t.Fatalf("%s: outcome %q, %v; want %q", s.name, got, err, s.want)
		}
		es, _ := l.Earnings()
		if es[0].Settled != s.settled || es[0].Pending != es[0].Earned-s.settled {
			t.Fatalf("%s: SOL earnings %+v, want settled %d", s.name, es[0], s.settled)
		}
		if o, err := l.PaymentOutcome(s.p.Signature); err != nil || o != s.want {
			t.Fatalf("%s: stored outcome %q, %v", s.name, o, err)
		}
	}
	es, _ := l.Earnings()
	if len(es) != 2 || !es[0].Mint.IsZero() || es[1].Mint != mint || es[1].Settled != 7 || es[1].Pending != 0 {
		t.Fatalf("earnings %+v", es)
	}
	mints, _ := l.ReceiptMints()
	if len(mints) != 2 {
		t.Fatalf("mints %v", mints)
	}
}

func mustAccept(t *testing.T, l *Ledger, f *fixture, r receipt.Signed) {
	t.Helper()
	if _, err := l.AcceptReceipt(r, f.provider, nil); err != nil {
		t.Fatal(err)
	}
}

func TestNonPayersAndEarningsPerDay(t *testing.T) {
	f := newFixture(t)
	l := f.ledger()
	consumer := receipt.PublicKey(f.consumer.PublicKey())
	r1 := f.receipt(1, 1, 100, 10, sol)
	mustAccept(t, l, f, r1)
	f.clock.advance(30 * time.Minute)
	if banned, err := l.MarkNonPayers(time.Hour); err != nil || len(banned) != 0 {
		t.Fatalf("banned early: %v, %v", banned, err)
	}
	f.clock.advance(24 * time.Hour) // next day
	r2 := f.receipt(1, 2, 300, 30, sol)
	mustAccept(t, l, f, r2)
	banned, err := l.MarkNonPayers(time.Hour)
	if err != nil || len(banned) != 1 || banned[0].Consumer != consumer || banned[0].Owed != 30 {
		t.Fatalf("banned %+v, %v", banned, err)
	}
	if again, _ := l.MarkNonPayers(time.Hour); len(again) != 0 {
		t.Fatal("banned twice")
	}
	if err := l.CheckCredit([16]byte{1}, consumer, 0, 1000); !errors.Is(err, ErrBanned) {
		t.Fatalf("check credit of a banned consumer: %v", err)
	}
	// Paying everything lifts the ban.
	if o, err := l.ApplyPayment(Payment{Signature: [64]byte{1}, Received: map[receipt.PublicKey]uint64{sol: 30}, Digests: digests(r2)}); err != nil || o != OutcomeSettled {
		t.Fatalf("payment: %q, %v", o, err)
	}
	if b, _ := l.IsBanned(consumer); b {
		t.Fatal("still banned after paying up")
	}
	es, _ := l.Earnings()
	want := []DayEarnings{{"2026-11-20", 10, 0}, {"2026-11-21", 20, 30}}
	if len(es) != 1 || len(es[0].Days) != 2 || es[0].Days[0] != want[0] || es[0].Days[1] != want[1] {
		t.Fatalf("days %+v, want %+v", es[0].Days, want)
	}
	// Manual ban management.
	f.clock.advance(time.Minute)
	mustAccept(t, l, f, f.receipt(1, 3, 400, 40, sol))
	f.clock.advance(2 * time.Hour)
	if b, _ := l.MarkNonPayers(time.Hour); len(b) != 1 {
		t.Fatalf("not banned again: %v", b)
	}
	if list, _ := l.Banned(); len(list) != 1 {
		t.Fatalf("ban list %v", list)
	}
	if err := l.Unban(consumer); err != nil {
		t.Fatal(err)
	}
	if b, _ := l.IsBanned(consumer); b {
		t.Fatal("Unban did not unban")
	}
}

func TestConsumerIntentLifecycle(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := f.open(path)
	a1, b1 := f.receipt(1, 1, 1000, 100, sol), f.receipt(2, 1, 500, 50, sol)
	for _, r := range []receipt.Signed{a1, b1, a1} {
		if err := l.RecordIssued(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.RecordIssued(f.receipt(1, 2, 900, 200, sol)); !errors.Is(err, ErrNonMonotonic) {
		t.Fatalf("non-monotonic issue: %v", err)
	}
	owed, err := l.Owed()
	if err != nil || len(owed) != 1 || owed[0].Amount != 150 || owed[0].Provider != f.provider || len(owed[0].Sessions) != 2 {
		t.Fatalf("owed %+v, %v", owed, err)
	}
	in := Intent{Signature: [64]byte{7}, Provider: f.provider, Mint: sol, Amount: 150, Sessions: owed[0].Sessions, Raw: []byte{1, 2, 3}, LastValidBlockHeight: 99}
	bad := in
	bad.Amount = 149
	if err := l.RecordIntent(bad); !errors.Is(err, ErrSessionMismatch) {
		t.Fatalf("wrong amount: %v", err)
	}
	if err := l.RecordIntent(in); err != nil {
		t.Fatal(err)
	}
	second := in
	second.Signature = [64]byte{8}
	if err := l.RecordIntent(second); !errors.Is(err, ErrIntentOpen) {
		t.Fatalf("second intent: %v", err)
	}
	if owed, _ := l.Owed(); len(owed) != 0 {
		t.Fatalf("sessions in flight still owed: %+v", owed)
	}
	// Crash: close without resolving, reopen.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = f.open(path)
	defer l.Close()
	open, err := l.OpenIntents()
	if err != nil || len(open) != 1 || open[0].Signature != in.Signature || string(open[0].Raw) != "\x01\x02\x03" || open[0].LastValidBlockHeight != 99 {
		t.Fatalf("intent lost in the crash: %+v, %v", open, err)
	}
	if err := l.ConfirmIntent(in.Signature); err != nil {
		t.Fatal(err)
	}
	if err := l.ConfirmIntent(in.Signature); err != nil {
		t.Fatalf("second confirm: %v", err)
	}
	if err := l.AbandonIntent(in.Signature); !errors.Is(err, ErrNotFound) {
		t.Fatalf("abandon after confirm: %v", err)
	}
	if owed, _ := l.Owed(); len(owed) != 0 {
		t.Fatalf("still owed after payment: %+v", owed)
	}
	paid, _ := l.Payments()
	if len(paid) != 1 || paid[0].Amount != 150 || paid[0].Confirmed.IsZero() {
		t.Fatalf("payments %+v", paid)
	}
	// More work, a payment that expires, then owed again.
	if err := l.RecordIssued(f.receipt(1, 2, 2000, 230, sol)); err != nil {
		t.Fatal(err)
	}
	owed, _ = l.Owed()
	if len(owed) != 1 || owed[0].Amount != 130 || owed[0].Sessions[0].Paid != 100 {
		t.Fatalf("owed after more work %+v", owed)
	}
	in2 := Intent{Signature: [64]byte{9}, Provider: f.provider, Mint: sol, Amount: 130, Sessions: owed[0].Sessions, Raw: []byte{1}}
	if err := l.RecordIntent(in2); err != nil {
		t.Fatal(err)
	}
	if err := l.AbandonIntent(in2.Signature); err != nil {
		t.Fatal(err)
	}
	if owed, _ := l.Owed(); len(owed) != 1 || owed[0].Amount != 130 {
		t.Fatalf("abandoned payment not owed again: %+v", owed)
	}
}

func TestCorruptRecordIsAnError(t *testing.T) {
	f := newFixture(t)
	l := f.ledger()
	err := l.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProvSessions).Put(make([]byte, 16), []byte("{not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AcceptReceipt(f.receipt(0, 1, 1, 1, sol), f.provider, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if _, err := l.Earnings(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("earnings: %v", err)
	}
}

func TestCursor(t *testing.T) {
	l := newFixture(t).ledger()
	if c, err := l.Cursor("x"); err != nil || c != nil {
		t.Fatalf("empty cursor %v, %v", c, err)
	}
	if err := l.SetCursor("x", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if c, _ := l.Cursor("x"); string(c) != "\x01\x02" {
		t.Fatalf("cursor %v", c)
	}
}

// TestPartialSettlementRestartsDeadline: paying up to an older receipt does
// not leave the consumer exposed to a ban for the whole session's age.
func TestPartialSettlementRestartsDeadline(t *testing.T) {
	f := newFixture(t)
	l := f.ledger()
	r1 := f.receipt(1, 1, 100, 10, sol)
	mustAccept(t, l, f, r1)
	f.clock.advance(50 * time.Minute)
	mustAccept(t, l, f, f.receipt(1, 2, 200, 20, sol))
	if o, err := l.ApplyPayment(Payment{Signature: [64]byte{1}, Received: map[receipt.PublicKey]uint64{sol: 10}, Digests: digests(r1)}); err != nil || o != OutcomeSettled {
		t.Fatalf("partial payment: %q, %v", o, err)
	}
	f.clock.advance(30 * time.Minute) // 80 min after the first receipt, 30 after the payment
	if b, err := l.MarkNonPayers(time.Hour); err != nil || len(b) != 0 {
		t.Fatalf("banned a consumer that paid 30 minutes ago: %+v, %v", b, err)
	}
	f.clock.advance(31 * time.Minute)
	if b, _ := l.MarkNonPayers(time.Hour); len(b) != 1 || b[0].Owed != 10 {
		t.Fatalf("not banned once the remainder is overdue: %+v", b)
	}
}
