package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/settle"
	"github.com/hearth-p2p/hearth/wallet/svmtest"
)

// walletDesktop opens a serving desktop on the local Solana runtime at url
// with a wallet funded with lamports.
func walletDesktop(t *testing.T, ctx context.Context, cfg DesktopConfig, url, pw string, lamports uint64) *Desktop {
	t.Helper()
	d := openDesktop(t, cfg)
	if err := d.SetCluster(ctx, "localnet", url); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateWallet(ctx, pw); err != nil {
		t.Fatal(err)
	}
	w, err := wallet.Open(d.walletConfig(d.Settings()), []byte(pw), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Airdrop(ctx, lamports); err != nil {
		t.Fatal(err)
	}
	withStories(t, d)
	serve(t, d)
	return d
}

// solBalance is a desktop wallet's SOL balance.
func solBalance(t *testing.T, ctx context.Context, d *Desktop) uint64 {
	t.Helper()
	info, err := d.Wallet(ctx)
	if err != nil || info.BalanceErr != "" || len(info.Balances) == 0 {
		t.Fatalf("wallet %+v, %v", info, err)
	}
	return info.Balances[0].Amount
}

// today is a desktop's earnings today.
func today(t *testing.T, ctx context.Context, d *Desktop) DayEarnings {
	t.Helper()
	days, err := d.Earnings(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	return days[0]
}

// TestDesktopPaysProviders: desktop A lends at a price; desktop B, with
// payments locked, refuses it; unlocked, B's offloading conversation runs
// there with the local reply, B's ledger owes A what A's ledger earned,
// PayProviders settles it on a real Solana runtime (LiteSVM), A's watcher
// marks it settled, and both balances match to the lamport.
func TestDesktopPaysProviders(t *testing.T) {
	if testing.Short() {
		t.Skip("two desktops, libp2p hosts and a Solana runtime")
	}
	srv := svmtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const (
		pw    = "correct horse"
		price = 20_000_000 // lamports per 1,000 token-layers
	)
	cfgA := testDesktopConfig(t)
	cfgA.Watcher = settle.WatcherConfig{Interval: 100 * time.Millisecond, PageSize: 10}
	a := walletDesktop(t, ctx, cfgA, srv.URL, pw, 50_000_000) // the account exists: payments below rent are fine
	s := a.Settings()
	s.Price = price
	if err := a.UpdateSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	ns := lend(t, a, true)
	if ns.Shards[0].Price != price {
		t.Fatalf("shard %+v", ns.Shards[0])
	}

	cfgB := consumerOf(t, ns)
	b := walletDesktop(t, ctx, cfgB, srv.URL, pw, 1_000_000_000)
	s = b.Settings()
	s.MaxPayPrice = price
	if err := b.UpdateSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	c, err := b.NewConversation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	set := ChatSettings{Model: "stories260K", Sampling: greedySettings(12), Offload: true}
	if err := b.Configure(ctx, c.ID, set); err != nil {
		t.Fatal(err)
	}

	// Locked, B does not pay: the paid provider is refused.
	if p, err := b.Payments(); err != nil || p.Unlocked || p.Owed != 0 {
		t.Fatalf("payments before unlocking %+v, %v", p, err)
	}
	ch, err := b.Send(ctx, c.ID, "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, final := drain(t, ch); !errors.Is(final.Err, ErrNoProviders) || !strings.Contains(final.Err.Error(), "payments are unlocked") {
		t.Fatalf("offloaded to a paid provider while locked: %+v", final)
	}
	if _, err := b.PayProviders(ctx); !errors.Is(err, ErrPaymentsLocked) {
		t.Errorf("paying while locked: %v", err)
	}

	// Unlocked, B pays A.
	if err := b.UnlockPayments(ctx, "wrong password"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("unlocking with a wrong password: %v", err)
	}
	if err := b.UnlockPayments(ctx, pw); err != nil {
		t.Fatal(err)
	}
	ch, err = b.Regenerate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	remote, _, final := drain(t, ch)
	if final.Err != nil || final.Stats.Peers != 1 || remote == "" {
		t.Fatalf("offloaded reply %q, final %+v", remote, final)
	}
	set.Offload = false // closes the pipeline, which records the receipts
	if err := b.Configure(ctx, c.ID, set); err != nil {
		t.Fatal(err)
	}
	ch, err = b.Regenerate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if local, _, final := drain(t, ch); final.Err != nil || local != remote {
		t.Fatalf("local reply %q (%+v), offloaded %q", local, final, remote)
	}
	var owed Payments
	eventually(t, "B to owe what A earned", func() bool {
		owed, err = b.Payments()
		if err != nil {
			t.Fatal(err)
		}
		return owed.Owed > 0 && owed.Owed == today(t, ctx, a).Earned
	})
	if !owed.Unlocked || owed.Providers != 1 || owed.Owed%(price/1000) != 0 {
		t.Fatalf("owed %+v", owed)
	}
	if info, err := b.Wallet(ctx); err != nil || info.Payments != owed {
		t.Errorf("wallet view's payments %+v, %v", info.Payments, err)
	}

	aBefore, bBefore := solBalance(t, ctx, a), solBalance(t, ctx, b)
	sigs, err := b.PayProviders(ctx)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("pay providers: %v, %v", sigs, err)
	}
	eventually(t, "A's watcher to mark the receipts settled", func() bool {
		e := today(t, ctx, a)
		return e.Settled == owed.Owed && e.Pending == 0
	})
	if p, err := b.Payments(); err != nil || p.Owed != 0 {
		t.Errorf("payments after paying %+v, %v", p, err)
	}
	if got := solBalance(t, ctx, a); got != aBefore+owed.Owed {
		t.Errorf("A holds %d, want %d + %d", got, aBefore, owed.Owed)
	}
	bw, err := b.payingWallet()
	if err != nil {
		t.Fatal(err)
	}
	hist, err := bw.History(ctx, 10, "")
	if err != nil || len(hist) == 0 || hist[0].Signature != sigs[0] {
		t.Fatalf("B's history %+v, %v", hist, err)
	}
	fee := hist[0].Fee
	if got := solBalance(t, ctx, b); got != bBefore-owed.Owed-fee {
		t.Errorf("B holds %d, want %d - %d - fee %d", got, bBefore, owed.Owed, fee)
	}
	if again, err := b.PayProviders(ctx); err != nil || len(again) != 0 {
		t.Errorf("paying again: %v, %v", again, err)
	}

	b.LockPayments()
	if p, err := b.Payments(); err != nil || p.Unlocked {
		t.Errorf("payments after locking %+v, %v", p, err)
	}
	if _, err := b.PayProviders(ctx); !errors.Is(err, ErrPaymentsLocked) {
		t.Errorf("paying after locking: %v", err)
	}
}

// TestDesktopVoidsInTheCurrentWallet: a cheater's session is written off in
// the wallet's ledger as the desktop has it when the cheat is caught, also
// after the wallet was reopened for another cluster.
func TestDesktopVoidsInTheCurrentWallet(t *testing.T) {
	ctx := context.Background()
	d := openDesktop(t, testDesktopConfig(t))
	serve(t, d)
	if _, err := d.CreateWallet(ctx, "a long password"); err != nil {
		t.Fatal(err)
	}
	if err := d.voidInWallet([16]byte{1}, "12D3KooWcheater"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetCluster(ctx, "localnet", "http://127.0.0.1:9"); err != nil { // reopens the wallet (no RPC is needed)
		t.Fatal(err)
	}
	if err := d.voidInWallet([16]byte{2}, "12D3KooWcheater"); err != nil {
		t.Fatal(err)
	}
	w, err := d.wallet.readOnly(d.walletConfig(d.Settings()))
	if err != nil {
		t.Fatal(err)
	}
	l, err := w.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	voided, err := l.Voided()
	if err != nil || len(voided) != 2 {
		t.Fatalf("voided %+v, %v", voided, err)
	}
}
