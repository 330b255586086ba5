package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/svmtest"
)

const abandonPhrase = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

// TestDesktopWallet creates a wallet on a local Solana runtime, funds it,
// sends with the password given per request, reads the history, and
// imports it elsewhere from its phrase.
func TestDesktopWallet(t *testing.T) {
	srv := svmtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testDesktopConfig(t)
	d := openDesktop(t, cfg)
	log := watchEvents(t, d)

	if err := d.SetCluster(ctx, "custom", ""); !errors.Is(err, ErrInvalidSettings) {
		t.Fatalf("custom cluster without a URL: %v", err)
	}
	if err := d.SetCluster(ctx, "localnet", srv.URL); err != nil {
		t.Fatal(err)
	}
	info, err := d.Wallet(ctx)
	if err != nil || info.Exists || info.Cluster != "localnet" || info.RPCURL != srv.URL {
		t.Fatalf("before create: %+v, %v", info, err)
	}
	if _, err := d.History(ctx); !errors.Is(err, ErrNoWallet) {
		t.Errorf("history without a wallet: %v", err)
	}
	if _, err := d.SendFunds(ctx, SendRequest{To: "x", Symbol: "SOL", Amount: 1, Password: "whatever1"}); !errors.Is(err, ErrNoWallet) {
		t.Errorf("send without a wallet: %v", err)
	}
	if _, err := d.CreateWallet(ctx, "short"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short password: %v", err)
	}
	const pw = "correct horse"
	words, err := d.CreateWallet(ctx, pw)
	if err != nil || len(words) != 24 {
		t.Fatalf("create: %d words, %v", len(words), err)
	}
	log.waitFor(t, "WalletChanged", hasEvent[WalletChanged])
	if _, err := d.CreateWallet(ctx, pw); !errors.Is(err, ErrWalletExists) {
		t.Errorf("second create: %v", err)
	}
	info, err = d.Wallet(ctx)
	if err != nil || !info.Exists || info.BalanceErr != "" || len(info.Balances) != 1 || info.Balances[0].Symbol != "SOL" || info.Balances[0].Amount != 0 {
		t.Fatalf("new wallet: %+v, %v", info, err)
	}
	k, err := keys.FromMnemonic(strings.Join(words, " "), "")
	if err != nil || k.Address() != info.Address {
		t.Fatalf("the phrase does not derive the address: %v", err)
	}

	// Fund it (the faucet is not a desktop feature).
	w, err := wallet.Open(d.walletConfig(d.Settings()), []byte(pw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Airdrop(ctx, 2_000_000_000); err != nil {
		t.Fatal(err)
	}
	w.Close()
	to := "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk" // the abandon phrase's address
	if _, err := d.SendFunds(ctx, SendRequest{To: to, Symbol: "SOL", Amount: 1000, Password: "wrong password"}); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := d.SendFunds(ctx, SendRequest{To: to, Symbol: "SOL", Amount: 5_000_000_000, Password: pw}); !errors.Is(err, ErrInsufficientFunds) {
		t.Errorf("more than the balance: %v", err)
	}
	if _, err := d.SendFunds(ctx, SendRequest{To: to, Symbol: "USDC", Amount: 1, Password: pw}); err == nil {
		t.Error("sent a token the wallet does not hold")
	}
	sig, err := d.SendFunds(ctx, SendRequest{To: to, Symbol: "SOL", Amount: 250_000_000, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	info, err = d.Wallet(ctx)
	if err != nil || info.Balances[0].Amount >= 1_750_000_000 || info.Balances[0].Amount < 1_749_000_000 {
		t.Fatalf("balance after sending: %+v, %v", info, err)
	}
	hist, err := d.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Signature != sig || hist[0].Kind != TransferOut || hist[0].Amount != 250_000_000 ||
		hist[1].Kind != TransferIn || hist[1].Amount != 2_000_000_000 {
		t.Fatalf("history %+v", hist)
	}
	days, err := d.Earnings(ctx, 7)
	if err != nil || len(days) != 7 || !days[6].Day.Equal(time.Now().UTC().Truncate(24*time.Hour)) || days[6].Earned != 0 {
		t.Fatalf("earnings %+v, %v", days, err)
	}

	// Lending at a price is paid to this wallet: the node and the wallet
	// view share its ledger.
	withStories(t, d)
	serve(t, d)
	s := d.Settings()
	s.Lending, s.Price = true, 100
	if err := d.UpdateSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a paid node", func() bool {
		ns, _ := d.Network(ctx)
		return ns.Node.Accepting && len(ns.Shards) == 1 && ns.Shards[0].Price == 100
	})
	if days, err := d.Earnings(ctx, 3); err != nil || len(days) != 3 {
		t.Fatalf("earnings while lending: %+v, %v", days, err)
	}

	// The phrase restores the wallet in another data directory.
	cfg2 := testDesktopConfig(t)
	d2 := openDesktop(t, cfg2)
	if err := d2.SetCluster(ctx, "localnet", srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := d2.ImportWallet(ctx, "abandon abandon", pw); !errors.Is(err, keys.ErrInvalidMnemonic) {
		t.Errorf("a bad phrase: %v", err)
	}
	if err := d2.ImportWallet(ctx, strings.Join(words, " "), pw); err != nil {
		t.Fatal(err)
	}
	if info2, err := d2.Wallet(ctx); err != nil || info2.Address != info.Address || info2.Balances[0].Amount != info.Balances[0].Amount {
		t.Fatalf("imported wallet %+v, %v", info2, err)
	}

	// A keypair JSON restores one too.
	cfg3 := testDesktopConfig(t)
	d3 := openDesktop(t, cfg3)
	if err := d3.SetCluster(ctx, "localnet", srv.URL); err != nil {
		t.Fatal(err)
	}
	kp, err := keys.FromMnemonic(abandonPhrase, "")
	if err != nil {
		t.Fatal(err)
	}
	js, err := keys.MarshalKeypairJSON(kp)
	if err != nil {
		t.Fatal(err)
	}
	if err := d3.ImportWallet(ctx, string(js), pw); err != nil {
		t.Fatal(err)
	}
	if info3, err := d3.Wallet(ctx); err != nil || info3.Address != to || info3.Balances[0].Amount != 250_000_000 {
		t.Fatalf("keypair wallet %+v, %v", info3, err)
	}
}
