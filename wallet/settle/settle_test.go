package settle

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

var solMint sol.PublicKey // zero: SOL

// TestSettleSOL pays two providers, checks the memo, both ledgers and every
// balance to the lamport, then pays only the increment of new work.
func TestSettleSOL(t *testing.T) {
	e := newEnv(t, 10*solana.LamportsPerSOL)
	p1, p2 := e.newProvider(), e.newProvider()
	a := e.work(p1, 1, 1, 10_000, 3_000_000, solMint)
	b := e.work(p1, 2, 1, 5_000, 1_500_000, solMint)
	c := e.work(p2, 3, 1, 7_000, 2_000_000, solMint)

	consBefore := e.balance(e.consumerAddr())
	rs := e.payAll()
	if len(rs) != 2 {
		t.Fatalf("%d payments, want one per provider", len(rs))
	}
	var fees uint64
	for _, r := range rs {
		if r.Err != nil {
			t.Fatalf("payment to %s: %v", r.Provider, r.Err)
		}
		fees += e.fee(r.Signature)
	}
	if got, want := e.balance(e.consumerAddr()), consBefore-4_500_000-2_000_000-fees; got != want {
		t.Fatalf("consumer holds %d, want %d", got, want)
	}
	if e.balance(p1.addr()) != 4_500_000 || e.balance(p2.addr()) != 2_000_000 {
		t.Fatalf("providers hold %d and %d", e.balance(p1.addr()), e.balance(p2.addr()))
	}
	// The memo in the executed transaction names the receipts it pays.
	sig1 := rs[0].Signature
	if rs[0].Provider != receipt.PublicKey(p1.addr()) {
		sig1 = rs[1].Signature
	}
	info, err := e.chain.Transaction(e.ctx, sig1)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Memos) != 1 || !strings.HasPrefix(info.Memos[0], MemoPrefix) ||
		!strings.Contains(info.Memos[0], hex.EncodeToString(digestOf(a))) || !strings.Contains(info.Memos[0], hex.EncodeToString(digestOf(b))) {
		t.Fatalf("memo %q does not name both receipts", info.Memos)
	}

	for _, p := range []*provider{p1, p2} {
		applied := p.scan(t, e.ctx)
		if len(applied) != 1 || applied[0].Outcome != ledger.OutcomeSettled {
			t.Fatalf("provider %s saw %+v", p.addr(), applied)
		}
	}
	if ea := earnings(t, p1, solMint); ea.Earned != 4_500_000 || ea.Settled != 4_500_000 || ea.Pending != 0 {
		t.Fatalf("p1 earnings %+v", ea)
	}
	if ea := earnings(t, p2, solMint); ea.Settled != 2_000_000 || ea.Pending != 0 {
		t.Fatalf("p2 earnings %+v", ea)
	}
	if owed, _ := e.consLed.Owed(); len(owed) != 0 {
		t.Fatalf("consumer still owes %+v", owed)
	}

	// More work in session a: only the increment is paid, and settled.
	e.work(p1, 1, 2, 12_000, 3_600_000, solMint)
	rs = e.payAll()
	if len(rs) != 1 || rs[0].Err != nil || rs[0].Amount != 600_000 {
		t.Fatalf("increment payment %+v", rs)
	}
	if e.balance(p1.addr()) != 5_100_000 {
		t.Fatalf("p1 holds %d after the increment", e.balance(p1.addr()))
	}
	if applied := p1.scan(t, e.ctx); len(applied) != 1 || applied[0].Outcome != ledger.OutcomeSettled {
		t.Fatalf("increment seen as %+v", applied)
	}
	if ea := earnings(t, p1, solMint); ea.Earned != 5_100_000 || ea.Settled != 5_100_000 {
		t.Fatalf("p1 earnings after increment %+v", ea)
	}
	// Nothing owed, nothing new.
	if rs := e.payAll(); len(rs) != 0 {
		t.Fatalf("paid again: %+v", rs)
	}
	if applied := p1.scan(t, e.ctx); len(applied) != 0 {
		t.Fatalf("rescan applied %+v", applied)
	}
	_ = c
}

func digestOf(r receipt.Signed) []byte {
	d := r.Digest()
	return d[:]
}

func TestSettleSPL(t *testing.T) {
	e := newEnv(t, 5*solana.LamportsPerSOL)
	p := e.newProvider()
	mint, err := e.chain.CreateMint(e.ctx, e.consumer.Solana(), e.consumerAddr(), 6)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.chain.MintTo(e.ctx, e.consumer.Solana(), mint, e.consumerAddr(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	e.work(p, 1, 1, 1000, 1234, mint)
	e.work(p, 2, 1, 1000, 766, mint)
	rs := e.payAll()
	if len(rs) != 1 || rs[0].Err != nil || rs[0].Amount != 2000 || rs[0].Mint != receipt.PublicKey(mint) {
		t.Fatalf("payments %+v", rs)
	}
	for _, tc := range []struct {
		owner sol.PublicKey
		want  uint64
	}{{p.addr(), 2000}, {e.consumerAddr(), 998_000}} {
		if got, err := e.chain.TokenBalance(e.ctx, tc.owner, mint); err != nil || got != tc.want {
			t.Fatalf("token balance %d, %v; want %d", got, err, tc.want)
		}
	}
	applied := p.scan(t, e.ctx)
	if len(applied) != 1 || applied[0].Outcome != ledger.OutcomeSettled {
		t.Fatalf("applied %+v", applied)
	}
	if ea := earnings(t, p, mint); ea.Earned != 2000 || ea.Settled != 2000 || ea.Pending != 0 {
		t.Fatalf("earnings %+v", ea)
	}
	// A second payment goes to the existing token account.
	e.work(p, 1, 2, 2000, 1500, mint)
	if rs := e.payAll(); len(rs) != 1 || rs[0].Err != nil || rs[0].Amount != 266 {
		t.Fatalf("increment %+v", rs)
	}
	if applied := p.scan(t, e.ctx); len(applied) != 1 || applied[0].Outcome != ledger.OutcomeSettled {
		t.Fatalf("increment applied %+v", applied)
	}
	if ea := earnings(t, p, mint); ea.Settled != 2266 || ea.Pending != 0 {
		t.Fatalf("earnings %+v", ea)
	}
}

// TestTamperedPaymentsDoNotSettle: a consumer (or anyone) sends transfers
// whose memo names the receipts but whose amount falls short, or whose memo
// names receipts the provider never accepted; none settles.
func TestTamperedPaymentsDoNotSettle(t *testing.T) {
	e := newEnv(t, 5*solana.LamportsPerSOL)
	p := e.newProvider()
	r := e.work(p, 1, 1, 1000, 2_000_000, solMint)

	// A forged receipt (signed by another key) and a receipt with an amount
	// changed after signing are refused by the provider's ledger.
	forged := r
	forged.Seq, forged.Amount = 2, 9_000_000
	copy(forged.Signature[:], p.key.Sign(forged.SigningMessage()))
	if _, err := p.ledger.AcceptReceipt(forged, receipt.PublicKey(p.addr()), nil); !errors.Is(err, ledger.ErrBadReceipt) {
		t.Fatalf("forged receipt: %v", err)
	}
	altered := r
	altered.Amount = 1
	if _, err := p.ledger.AcceptReceipt(altered, receipt.PublicKey(p.addr()), nil); !errors.Is(err, ledger.ErrBadReceipt) {
		t.Fatalf("altered receipt: %v", err)
	}

	memoFor := func(rs ...receipt.Signed) string {
		ds := make([][32]byte, len(rs))
		for i := range rs {
			ds[i] = rs[i].Digest()
		}
		m, _ := FormatMemo(ds)
		return m
	}
	send := func(amount uint64, memo string) {
		if _, err := e.chain.SendSOL(e.ctx, e.consumer.Solana(), p.addr(), amount, memo); err != nil {
			t.Fatal(err)
		}
	}
	send(1_999_999, memoFor(r))      // one lamport short
	send(5_000_000, memoFor(forged)) // names a receipt the provider refused
	send(5_000_000, memoFor(altered))
	applied := p.scan(t, e.ctx)
	want := []ledger.Outcome{ledger.OutcomeInsufficient, ledger.OutcomeUnknown, ledger.OutcomeUnknown}
	if len(applied) != len(want) {
		t.Fatalf("applied %+v", applied)
	}
	for i, a := range applied {
		if a.Outcome != want[i] {
			t.Fatalf("payment %d: %q, want %q", i, a.Outcome, want[i])
		}
	}
	if ea := earnings(t, p, solMint); ea.Settled != 0 || ea.Pending != 2_000_000 {
		t.Fatalf("tampered payments settled something: %+v", ea)
	}
	// The honest payment settles.
	rs := e.payAll()
	if len(rs) != 1 || rs[0].Err != nil {
		t.Fatalf("payment %+v", rs)
	}
	if applied := p.scan(t, e.ctx); len(applied) != 1 || applied[0].Outcome != ledger.OutcomeSettled {
		t.Fatalf("honest payment %+v", applied)
	}
	if ea := earnings(t, p, solMint); ea.Settled != 2_000_000 || ea.Pending != 0 {
		t.Fatalf("earnings %+v", ea)
	}
}

func TestPaymentWithInsufficientFunds(t *testing.T) {
	e := newEnv(t, 10_000_000) // 0.01 SOL
	p := e.newProvider()
	e.work(p, 1, 1, 1000, solana.LamportsPerSOL, solMint)
	rs := e.payAll()
	if len(rs) != 1 || !errors.Is(rs[0].Err, solana.ErrInsufficientFunds) {
		t.Fatalf("results %+v", rs)
	}
	if open, _ := e.consLed.OpenIntents(); len(open) != 0 {
		t.Fatalf("a refused payment left an open intent: %+v", open)
	}
	if owed, _ := e.consLed.Owed(); len(owed) != 1 || owed[0].Amount != solana.LamportsPerSOL {
		t.Fatalf("debt lost: %+v", owed)
	}
	if e.balance(e.consumerAddr()) != 10_000_000 {
		t.Fatal("a refused payment cost a fee")
	}
}

func TestPayAllUnreachable(t *testing.T) {
	e := newEnv(t, solana.LamportsPerSOL)
	p := e.newProvider()
	e.work(p, 1, 1, 1000, 1_000_000, solMint)
	cfg := e.chain.Config()
	cfg.RPCURL = "http://127.0.0.1:1"
	dead, err := solana.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPayer(dead, e.consLed, e.consumer.Solana(), nil).PayAll(e.ctx)
	if !errors.Is(err, solana.ErrRPCUnreachable) {
		t.Fatalf("err = %v, want ErrRPCUnreachable", err)
	}
	if owed, _ := e.consLed.Owed(); len(owed) != 1 {
		t.Fatal("debt lost")
	}
}

// TestWatcherServe runs the watcher as a service while the consumer pays.
func TestWatcherServe(t *testing.T) {
	e := newEnv(t, solana.LamportsPerSOL)
	p := e.newProvider()
	w, err := NewWatcher(e.chain, p.ledger, p.addr(), WatcherConfig{Interval: 50 * time.Millisecond, PageSize: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- w.Serve(ctx) }()
	e.work(p, 1, 1, 1000, 2_000_000, solMint)
	if rs := e.payAll(); len(rs) != 1 || rs[0].Err != nil {
		t.Fatalf("payment %+v", rs)
	}
	deadline := time.Now().Add(10 * time.Second)
	for earnings(t, p, solMint).Settled != 2_000_000 {
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not settle the payment")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := NewWatcher(e.chain, p.ledger, p.addr(), WatcherConfig{}, nil); err == nil {
		t.Fatal("zero watcher config accepted")
	}
}
