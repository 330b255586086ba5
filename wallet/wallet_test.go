package wallet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/wallet/internal/svmtest"
	"github.com/hearth-p2p/hearth/wallet/keys"
	"github.com/hearth-p2p/hearth/wallet/keystore"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

const abandon = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

func testConfig(t *testing.T, rpcURL string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.KDF = keystore.Params{Time: 1, MemoryKiB: 1024, Threads: 1}
	cfg.Solana.Cluster = solana.Localnet
	if rpcURL != "" {
		cfg.Solana.RPCURL = rpcURL
	}
	cfg.Solana.PollInterval = 20 * time.Millisecond
	cfg.Solana.RebroadcastInterval = 100 * time.Millisecond
	return cfg
}

func TestCreateOpenExport(t *testing.T) {
	cfg := testConfig(t, "")
	pw := []byte("pw")
	if _, err := OpenReadOnly(cfg, nil); !errors.Is(err, ErrNoWallet) {
		t.Fatalf("open before create: %v", err)
	}
	w, m, err := Create(cfg, pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	k, _ := keys.FromMnemonic(m, "")
	if len(strings.Fields(m)) != 24 || w.Address() != k.Address() {
		t.Fatalf("mnemonic does not derive the wallet address")
	}
	if _, _, err := Create(cfg, pw, nil); !errors.Is(err, ErrWalletExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := ImportMnemonic(cfg, abandon, "", pw, nil); !errors.Is(err, ErrWalletExists) {
		t.Fatalf("import over a wallet: %v", err)
	}
	if _, err := Open(cfg, []byte("nope"), nil); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	w2, err := Open(cfg, pw, nil)
	if err != nil || w2.Address() != w.Address() {
		t.Fatalf("open: %v", err)
	}
	w2.Close()
	if _, err := w.ExportMnemonic([]byte("nope")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("export with a wrong password: %v", err)
	}
	if got, err := w.ExportMnemonic(pw); err != nil || got != m {
		t.Fatalf("export: %v", err)
	}
	ro, err := OpenReadOnly(cfg, nil)
	if err != nil || ro.Address() != w.Address() {
		t.Fatalf("read-only: %v", err)
	}
	defer ro.Close()
	if _, err := ro.Send(context.Background(), w.Address(), 1, ""); !errors.Is(err, ErrLocked) {
		t.Fatalf("send from a read-only wallet: %v", err)
	}
	if _, err := ro.Signer(); !errors.Is(err, ErrLocked) {
		t.Fatalf("signer of a read-only wallet: %v", err)
	}

	// A read-only wallet unlocks with the password and locks again.
	if err := ro.Unlock([]byte("nope")); !errors.Is(err, ErrWrongPassword) || ro.Unlocked() {
		t.Fatalf("unlock with a wrong password: %v", err)
	}
	if err := ro.Unlock(pw); err != nil || !ro.Unlocked() {
		t.Fatalf("unlock: %v", err)
	}
	if s, err := ro.Signer(); err != nil || receipt.PublicKey(s.PublicKey()) != w.PublicKey() {
		t.Fatalf("signer of an unlocked wallet: %v", err)
	}
	ro.Lock()
	if _, err := ro.Signer(); !errors.Is(err, ErrLocked) || ro.Unlocked() {
		t.Fatalf("signer after lock: %v", err)
	}
}

func TestImports(t *testing.T) {
	cfg := testConfig(t, "")
	w, err := ImportMnemonic(cfg, "  ABANDON "+strings.TrimPrefix(abandon, "abandon"), "", []byte("pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Address() != "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk" {
		t.Fatalf("address %s", w.Address())
	}
	if m, _ := w.ExportMnemonic([]byte("pw")); m != abandon {
		t.Fatalf("stored phrase not normalised: %q", m)
	}
	if _, err := ImportMnemonic(testConfig(t, ""), "abandon abandon", "", []byte("pw"), nil); !errors.Is(err, keys.ErrInvalidMnemonic) {
		t.Fatalf("bad mnemonic: %v", err)
	}

	k, _ := keys.Generate()
	js, _ := keys.MarshalKeypairJSON(k)
	cfg2 := testConfig(t, "")
	w2, err := ImportKeypair(cfg2, js, []byte("pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if w2.Address() != k.Address() {
		t.Fatal("keypair import changed the address")
	}
	if _, err := w2.ExportMnemonic([]byte("pw")); !errors.Is(err, ErrNoMnemonic) {
		t.Fatalf("mnemonic of a keypair wallet: %v", err)
	}
	back, err := w2.ExportKeypair([]byte("pw"))
	if err != nil || string(back) != string(js) {
		t.Fatalf("keypair export: %v", err)
	}
	w3, err := Import(testConfig(t, ""), " "+string(js)+"\n", []byte("pw"), nil)
	if err != nil || w3.Address() != k.Address() {
		t.Fatalf("Import of a pasted keypair: %v", err)
	}
	w3.Close()
	w4, err := Import(testConfig(t, ""), abandon, []byte("pw"), nil)
	if err != nil || w4.Address() != "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk" {
		t.Fatalf("Import of a pasted phrase: %v", err)
	}
	w4.Close()
	if _, err := ImportKeypair(testConfig(t, ""), []byte("[1,2,3]"), []byte("pw"), nil); !errors.Is(err, keys.ErrInvalidKeypair) {
		t.Fatalf("bad keypair: %v", err)
	}
}

func TestWalletOnChain(t *testing.T) {
	srv := svmtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, _, err := Create(testConfig(t, srv.URL), []byte("pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _, err := Create(testConfig(t, srv.URL), []byte("pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.Airdrop(ctx, 3*solana.LamportsPerSOL); err != nil {
		t.Fatal(err)
	}
	if sim, err := a.Preview(ctx, b.Address(), "", 10*solana.LamportsPerSOL, ""); err != nil || !errors.Is(sim.Err, solana.ErrInsufficientFunds) {
		t.Fatalf("preview of an overdraft: %+v, %v", sim, err)
	}
	if sim, err := a.Preview(ctx, b.Address(), "", solana.LamportsPerSOL, "thanks"); err != nil || sim.Err != nil {
		t.Fatalf("preview: %+v, %v", sim, err)
	}
	sig, err := a.Send(ctx, b.Address(), solana.LamportsPerSOL, "thanks")
	if err != nil {
		t.Fatal(err)
	}
	hist, err := a.History(ctx, 10, "")
	if err != nil || len(hist) != 2 || hist[0].Signature != sig {
		t.Fatalf("history %+v, %v", hist, err)
	}
	if hist[0].Lamports != -int64(solana.LamportsPerSOL+hist[0].Fee) || hist[0].Memos[0] != "thanks" || hist[1].Lamports != 3*solana.LamportsPerSOL {
		t.Fatalf("history entries %+v", hist)
	}
	bal, err := a.Balance(ctx)
	if err != nil || bal.Lamports != 2*solana.LamportsPerSOL-hist[0].Fee {
		t.Fatalf("balance %+v, %v", bal, err)
	}

	key, _ := a.signer()
	mint, err := a.chain.CreateMint(ctx, key, a.address, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.chain.MintTo(ctx, key, mint, a.address, 10_000); err != nil {
		t.Fatal(err)
	}
	if d, err := a.TokenDecimals(ctx, mint.String()); err != nil || d != 2 {
		t.Fatalf("decimals %d, %v", d, err)
	}
	if _, err := a.SendToken(ctx, b.Address(), mint.String(), 2_500, ""); err != nil {
		t.Fatal(err)
	}
	bb, err := b.Balance(ctx)
	if err != nil || bb.Lamports != solana.LamportsPerSOL || len(bb.Tokens) != 1 || bb.Tokens[0].Amount != 2_500 || bb.Tokens[0].Decimals != 2 {
		t.Fatalf("recipient balance %+v, %v", bb, err)
	}
	bh, _ := b.History(ctx, 10, "")
	if len(bh) != 2 || len(bh[0].TokenDeltas) != 1 || bh[0].TokenDeltas[0].Delta != 2_500 {
		t.Fatalf("recipient history %+v", bh)
	}
	if _, err := a.Send(ctx, "not-an-address", 1, ""); !errors.Is(err, solana.ErrInvalidAddress) {
		t.Fatalf("bad address: %v", err)
	}
	if _, err := a.Send(ctx, b.Address(), 100*solana.LamportsPerSOL, ""); !errors.Is(err, solana.ErrInsufficientFunds) {
		t.Fatalf("overdraft: %v", err)
	}
	es, err := a.Earnings()
	if err != nil || len(es) != 0 {
		t.Fatalf("earnings of a fresh wallet %+v, %v", es, err)
	}
	if rs, err := a.Settle(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("settle with nothing owed: %+v, %v", rs, err)
	}
}
