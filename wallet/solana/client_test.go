package solana

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	sol "github.com/gagliardetto/solana-go"
)

func TestAirdropAndHistory(t *testing.T) {
	c, _ := testClient(t)
	ctx := testCtx(t)
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Version(ctx); err != nil || v == "" {
		t.Fatalf("version %q, %v", v, err)
	}
	slot0, err := c.Slot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t)
	if b := balance(t, c, k.PublicKey()); b != 0 {
		t.Fatalf("fresh account holds %d", b)
	}
	sig, err := c.Airdrop(ctx, k.PublicKey(), 2*LamportsPerSOL)
	if err != nil {
		t.Fatal(err)
	}
	if b := balance(t, c, k.PublicKey()); b != 2*LamportsPerSOL {
		t.Fatalf("balance %d after a 2 SOL airdrop", b)
	}
	if slot1, err := c.Slot(ctx); err != nil || slot1 <= slot0 {
		t.Fatalf("slot %d after %d, %v", slot1, slot0, err)
	}
	hist, err := c.History(ctx, k.PublicKey(), 10, sol.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Signature != sig {
		t.Fatalf("history %+v, want the airdrop %s", hist, sig)
	}
	h := hist[0]
	if h.Err != nil || h.Received(k.PublicKey(), sol.PublicKey{}) != 2*LamportsPerSOL || h.BlockTime.IsZero() {
		t.Fatalf("airdrop entry %+v", h)
	}
	if len(h.SOLTransfers) != 1 || h.SOLTransfers[0].To != k.PublicKey() || h.SOLTransfers[0].Lamports != 2*LamportsPerSOL {
		t.Fatalf("transfers %+v", h.SOLTransfers)
	}
}

func TestAirdropRefusedOnMainnet(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Cluster = MainnetBeta
	cfg.RPCURL = "http://127.0.0.1:1" // never contacted
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Airdrop(testCtx(t), newKey(t).PublicKey(), 1); !errors.Is(err, ErrAirdropUnavailable) {
		t.Fatalf("err = %v, want ErrAirdropUnavailable", err)
	}
}

// TestSendSOLExactBalances checks both balances to the lamport, with the fee
// read from the executed transaction and checked against 5000 per signature.
func TestSendSOLExactBalances(t *testing.T) {
	c, _ := testClient(t)
	ctx := testCtx(t)
	a := funded(t, c, 5*LamportsPerSOL)
	b := newKey(t).PublicKey()
	const amount = 1_234_567_891
	sig, err := c.SendSOL(ctx, a, b, amount, "hello hearth")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Transaction(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	if info.Fee != 5000 {
		t.Fatalf("fee %d, want 5000 (one signature)", info.Fee)
	}
	if got := balance(t, c, a.PublicKey()); got != 5*LamportsPerSOL-amount-info.Fee {
		t.Fatalf("sender holds %d, want %d", got, 5*LamportsPerSOL-amount-info.Fee)
	}
	if got := balance(t, c, b); got != amount {
		t.Fatalf("recipient holds %d, want %d", got, amount)
	}
	if len(info.Memos) != 1 || info.Memos[0] != "hello hearth" {
		t.Fatalf("memos %q", info.Memos)
	}
	if info.FeePayer != a.PublicKey() || info.Received(b, sol.PublicKey{}) != amount || info.Received(a.PublicKey(), sol.PublicKey{}) != 0 {
		t.Fatalf("parsed %+v", info)
	}
	if info.LamportDeltas[a.PublicKey()] != -int64(amount+info.Fee) {
		t.Fatalf("sender delta %d", info.LamportDeltas[a.PublicKey()])
	}
}

func TestSPLMintATAAndTransfer(t *testing.T) {
	c, _ := testClient(t)
	ctx := testCtx(t)
	a := funded(t, c, 5*LamportsPerSOL)
	b := newKey(t).PublicKey()
	mint, err := c.CreateMint(ctx, a, a.PublicKey(), 6)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.MintDecimals(ctx, mint); err != nil || d != 6 {
		t.Fatalf("decimals %d, %v", d, err)
	}
	if _, err := c.MintTo(ctx, a, mint, a.PublicKey(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	solBefore := balance(t, c, a.PublicKey())
	ataRent, err := c.RentExemptMinimum(ctx, tokenAccountSize)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := c.SendToken(ctx, a, b, mint, 250_000, "spl memo")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Transaction(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	// The sender paid the fee and the rent of the recipient's new token account.
	if got := balance(t, c, a.PublicKey()); got != solBefore-info.Fee-ataRent {
		t.Fatalf("sender SOL %d, want %d - fee %d - rent %d", got, solBefore, info.Fee, ataRent)
	}
	for _, tc := range []struct {
		owner sol.PublicKey
		want  uint64
	}{{a.PublicKey(), 750_000}, {b, 250_000}} {
		got, err := c.TokenBalance(ctx, tc.owner, mint)
		if err != nil || got != tc.want {
			t.Fatalf("token balance of %s = %d, %v; want %d", tc.owner, got, err, tc.want)
		}
	}
	accts, err := c.TokenAccounts(ctx, b)
	if err != nil || len(accts) != 1 || accts[0].Mint != mint || accts[0].Amount != 250_000 || accts[0].Decimals != 6 {
		t.Fatalf("token accounts %+v, %v", accts, err)
	}
	if ata, _ := AssociatedTokenAddress(b, mint); accts[0].Address != ata {
		t.Fatal("recipient's tokens are not in its associated token account")
	}
	if info.Received(b, mint) != 250_000 || len(info.TokenTransfers) != 1 || info.TokenTransfers[0].Mint != mint || info.Memos[0] != "spl memo" {
		t.Fatalf("parsed %+v", info)
	}
	// Second transfer: the account exists, so no creation and no rent.
	solBefore = balance(t, c, a.PublicKey())
	sig, err = c.SendToken(ctx, a, b, mint, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	info, _ = c.Transaction(ctx, sig)
	if got := balance(t, c, a.PublicKey()); got != solBefore-info.Fee {
		t.Fatalf("second transfer cost %d, want only the fee %d", solBefore-got, info.Fee)
	}
	// More tokens than held.
	if _, err := c.SendToken(ctx, a, b, mint, 10_000_000, ""); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("overdraft: err = %v, want ErrInsufficientFunds", err)
	}
	// Not a mint.
	if _, err := c.SendToken(ctx, a, b, b, 1, ""); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnsupportedMint) {
		t.Fatalf("bogus mint: err = %v", err)
	}
}

func TestReplayHasNoEffect(t *testing.T) {
	c, _ := testClient(t)
	ctx := testCtx(t)
	a := funded(t, c, LamportsPerSOL)
	b := newKey(t).PublicKey()
	p, err := c.BuildTransfer(ctx, Transfer{From: a, To: b, Amount: 100_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Submit(ctx, p); err != nil {
		t.Fatal(err)
	}
	aBal, bBal := balance(t, c, a.PublicKey()), balance(t, c, b)
	if err := c.Send(ctx, p); !errors.Is(err, ErrAlreadyProcessed) {
		t.Fatalf("replay with preflight: err = %v, want ErrAlreadyProcessed", err)
	}
	for range 3 {
		if err := c.send(ctx, p, true); err != nil {
			t.Fatalf("replay without preflight: %v", err)
		}
	}
	if err := c.Submit(ctx, p); err != nil {
		t.Fatalf("resubmitting a landed transaction: %v", err)
	}
	if balance(t, c, a.PublicKey()) != aBal || balance(t, c, b) != bBal {
		t.Fatal("replaying the transaction moved funds again")
	}
	hist, err := c.History(ctx, b, 10, sol.Signature{})
	if err != nil || len(hist) != 1 {
		t.Fatalf("recipient history has %d entries, %v", len(hist), err)
	}
}

func TestInsufficientFunds(t *testing.T) {
	c, _ := testClient(t)
	ctx := testCtx(t)
	poor := funded(t, c, 10_000_000)
	b := newKey(t).PublicKey()
	// Simulation predicts the failure without sending anything.
	p, err := c.BuildTransfer(ctx, Transfer{From: poor, To: b, Amount: LamportsPerSOL})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := c.Simulate(ctx, p)
	if err != nil || !errors.Is(sim.Err, ErrInsufficientFunds) || len(sim.Logs) == 0 {
		t.Fatalf("simulation %+v, %v", sim, err)
	}
	ok, _ := c.BuildTransfer(ctx, Transfer{From: poor, To: b, Amount: 2_000_000})
	if sim, err := c.Simulate(ctx, ok); err != nil || sim.Err != nil || sim.UnitsConsumed == 0 {
		t.Fatalf("simulation of a good transfer %+v, %v", sim, err)
	}
	_, err = c.SendSOL(ctx, poor, b, LamportsPerSOL, "")
	if !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("err = %v, want ErrInsufficientFunds", err)
	}
	var txErr *TxError
	if !errors.As(err, &txErr) || !strings.Contains(err.Error(), "insufficient lamports") || len(txErr.Logs) == 0 {
		t.Fatalf("error lacks the program's explanation: %v", err)
	}
	if got := balance(t, c, poor.PublicKey()); got != 10_000_000 {
		t.Fatalf("a refused transfer cost %d lamports", 10_000_000-got)
	}
	// A wallet that never held SOL cannot pay the fee.
	if _, err := c.SendSOL(ctx, newKey(t), b, 1_000_000, ""); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("empty wallet: err = %v, want ErrInsufficientFunds", err)
	}
	// Enough for the amount but the new account would not be rent exempt.
	if _, err := c.SendSOL(ctx, poor, b, 1000, ""); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("below rent: err = %v, want ErrInsufficientFunds", err)
	}
}

// TestRebroadcastAfterLoss: the first sends never reach the leader; the
// client's rebroadcast gets the transaction in.
func TestRebroadcastAfterLoss(t *testing.T) {
	c, srv := testClient(t)
	ctx := testCtx(t)
	a := funded(t, c, LamportsPerSOL)
	b := newKey(t).PublicKey()
	srv.DropTransactions(3)
	if _, err := c.SendSOL(ctx, a, b, 5_000_000, ""); err != nil {
		t.Fatal(err)
	}
	if got := balance(t, c, b); got != 5_000_000 {
		t.Fatalf("recipient holds %d", got)
	}
}

func TestBlockhashExpiry(t *testing.T) {
	c, srv := testClient(t)
	ctx := testCtx(t)
	a := funded(t, c, LamportsPerSOL)
	b := newKey(t).PublicKey()
	p, err := c.BuildTransfer(ctx, Transfer{From: a, To: b, Amount: 5_000_000})
	if err != nil {
		t.Fatal(err)
	}
	srv.DropTransactions(1000)
	if err := c.Send(ctx, p); err != nil {
		t.Fatal(err)
	}
	srv.AdvanceSlots(151)
	srv.DropTransactions(0)
	start := time.Now()
	if _, err := c.Confirm(ctx, p); !errors.Is(err, ErrBlockhashExpired) {
		t.Fatalf("err = %v, want ErrBlockhashExpired", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("expiry took too long to notice")
	}
	// It can never land now.
	if err := c.Send(ctx, p); err == nil {
		t.Fatal("an expired transaction passed preflight")
	}
	if _, err := c.SignatureStatus(ctx, p.Signature); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status: %v, want ErrNotFound", err)
	}
	if got := balance(t, c, b); got != 0 {
		t.Fatalf("expired transfer delivered %d", got)
	}
}

func TestConfirmTimeout(t *testing.T) {
	c, srv := testClient(t)
	ctx := testCtx(t)
	a := funded(t, c, LamportsPerSOL)
	c.cfg.ConfirmTimeout = 400 * time.Millisecond
	srv.DropTransactions(1000)
	p, err := c.BuildTransfer(ctx, Transfer{From: a, To: newKey(t).PublicKey(), Amount: 5_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Submit(ctx, p); !errors.Is(err, ErrConfirmTimeout) {
		t.Fatalf("err = %v, want ErrConfirmTimeout", err)
	}
}

func TestUnreachableRPC(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := DefaultConfig()
	cfg.Cluster = Localnet
	cfg.RPCURL = "http://" + addr
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Balance(testCtx(t), newKey(t).PublicKey())
	if !errors.Is(err, ErrRPCUnreachable) {
		t.Fatalf("err = %v, want ErrRPCUnreachable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v to report an unreachable node", d)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Fatalf("error does not say why: %v", err)
	}
}

func TestHistoryPaging(t *testing.T) {
	c, _ := testClient(t)
	ctx := testCtx(t)
	a := funded(t, c, LamportsPerSOL)
	b := newKey(t).PublicKey()
	var sigs []sol.Signature
	for i := range 3 {
		sig, err := c.SendSOL(ctx, a, b, uint64(1_000_000+i), "")
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
	}
	page1, err := c.History(ctx, b, 2, sol.Signature{})
	if err != nil || len(page1) != 2 || page1[0].Signature != sigs[2] || page1[1].Signature != sigs[1] {
		t.Fatalf("page 1: %v", err)
	}
	page2, err := c.History(ctx, b, 2, page1[1].Signature)
	if err != nil || len(page2) != 1 || page2[0].Signature != sigs[0] {
		t.Fatalf("page 2: %v", err)
	}
	if _, err := c.Transaction(ctx, sol.Signature{1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown transaction: %v", err)
	}
}
