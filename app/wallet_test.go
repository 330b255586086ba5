package app_test

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

func TestWalletCreateShowsPhraseOnceAndConfirms(t *testing.T) {
	h := start(t, demo.Options{NoWallet: true}, app.TabWallet)
	if h.u.WalletBody() != h.u.WalletWelcome() {
		t.Fatal("without a wallet the tab should offer create and import")
	}
	h.u.WalletStartCreate()
	pw, pw2 := h.u.WalletPasswords()
	for _, tc := range []struct{ p, p2, want string }{
		{"short", "short", "at least 8"},
		{"long enough", "long enougH", "differ"},
	} {
		pw.SetText(tc.p)
		pw2.SetText(tc.p2)
		test.Tap(h.u.WalletCreate())
		h.settle()
		if !strings.Contains(h.u.WalletCreateError(), tc.want) || h.u.WalletStep() != "create" {
			t.Errorf("passwords %q/%q: error %q, step %q", tc.p, tc.p2, h.u.WalletCreateError(), h.u.WalletStep())
		}
	}
	if w, _ := h.b.Wallet(context.Background()); w.Exists {
		t.Fatal("wallet created despite invalid passwords")
	}
	pw.SetText("correct horse")
	pw2.SetText("correct horse")
	test.Tap(h.u.WalletCreate())
	h.waitFor("phrase", func() bool { return h.u.WalletStep() == "phrase" })
	shown := h.u.WalletPhraseShown()
	if len(shown) != 12 || !strings.HasSuffix(shown[11], "about") || !strings.HasPrefix(shown[0], " 1.") {
		t.Fatalf("phrase shown as %q", shown)
	}
	if a, b := h.u.WalletPasswords(); a.Text != "" || b.Text != "" {
		t.Error("password fields still hold the password")
	}

	test.Tap(h.u.WalletWritten())
	if h.u.WalletStep() != "confirm" || len(h.u.WalletPhraseShown()) != 12 {
		t.Fatalf("step %q", h.u.WalletStep())
	}
	idx, entries := h.u.WalletConfirmIndices(), h.u.WalletConfirmEntries()
	if len(idx) != 3 || len(entries) != 3 || idx[0] >= idx[1] || idx[1] >= idx[2] {
		t.Fatalf("asked for words %v", idx)
	}
	for k, i := range idx {
		entries[k].SetText(demo.Mnemonic[i])
	}
	entries[1].SetText("zoo")
	test.Tap(h.u.WalletConfirm())
	if !strings.Contains(h.u.WalletConfirmError(), "does not match") || h.u.WalletStep() != "confirm" {
		t.Fatalf("a wrong word was accepted: %q", h.u.WalletConfirmError())
	}
	entries[1].SetText(" " + strings.ToUpper(demo.Mnemonic[idx[1]]) + " ")
	test.Tap(h.u.WalletConfirm())
	h.waitFor("wallet view", func() bool { return h.u.WalletBody() == h.u.WalletReady() })
	if h.u.WalletAddress() != "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk" {
		t.Errorf("address %q", h.u.WalletAddress())
	}
	if len(h.u.WalletPhraseShown()) != 0 {
		t.Error("the phrase is still on screen after confirmation")
	}
}

func TestWalletImport(t *testing.T) {
	h := start(t, demo.Options{NoWallet: true}, app.TabWallet)
	h.u.WalletStartImport()
	secret, pw := h.u.WalletImportFields()
	secret.SetText("just four words here")
	pw.SetText("password1")
	test.Tap(h.u.WalletImport())
	h.waitFor("import error", func() bool { return h.u.WalletImportError() != "" })
	if !strings.Contains(h.u.WalletImportError(), "12 or 24 words") {
		t.Errorf("error %q", h.u.WalletImportError())
	}
	secret.SetText(strings.Join(demo.Mnemonic, " "))
	test.Tap(h.u.WalletImport())
	h.waitFor("wallet view", func() bool { return h.u.WalletBody() == h.u.WalletReady() })
}

func TestWalletView(t *testing.T) {
	h := start(t, demo.Options{}, app.TabWallet)
	if h.u.WalletAddress() != "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU" {
		t.Errorf("address %q", h.u.WalletAddress())
	}
	if got := h.u.WalletBalances(); len(got) != 2 || got[0] != "2.48315 SOL" || got[1] != "12.5 USDC" {
		t.Errorf("balances %q", got)
	}
	if h.u.WalletHistoryRows() != 6 {
		t.Errorf("%d history rows", h.u.WalletHistoryRows())
	}
	if got := h.u.WalletEarningsTotals(); !strings.HasPrefix(got, "14 days: earned ") {
		t.Errorf("totals %q", got)
	}
	test.Tap(h.u.WalletCopy())
	if got := h.a.Clipboard().Content(); got != "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU" {
		t.Errorf("clipboard %q", got)
	}
	if h.u.WalletRPCURL().Disabled() == false {
		t.Error("RPC URL editable for devnet")
	}
	h.u.WalletCluster().SetSelected("custom")
	h.u.WalletRPCURL().SetText("http://127.0.0.1:8899")
	h.u.WalletApplyCluster()
	h.waitFor("custom cluster", func() bool {
		w, _ := h.b.Wallet(context.Background())
		return w.Cluster.Name == "custom" && w.Cluster.URL == "http://127.0.0.1:8899"
	})
}

func TestWalletSendValidatesThenSends(t *testing.T) {
	h := start(t, demo.Options{}, app.TabWallet)
	f := h.u.WalletSend()
	const to = "DRpbCBMxVnDK7maPM5tGv6MvB3v1sRMC86PZ8okm21hy"
	for _, tc := range []struct {
		name, to, amount, token string
		bad                     string // field expected to fail
	}{
		{"address not base58", "0OIl" + to[4:], "1", "SOL", "to"},
		{"address too short", to[:30], "1", "SOL", "to"},
		{"own address", "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU", "1", "SOL", "to"},
		{"amount not a number", to, "1.2.3", "SOL", "amount"},
		{"amount zero", to, "0", "SOL", "amount"},
		{"amount over balance", to, "2.5", "SOL", "amount"},
		{"too many decimals", to, "0.0000001", "USDC", "amount"},
		{"USDC over balance", to, "13", "USDC", "amount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.Token.SetSelected(tc.token)
			f.To.SetText(tc.to)
			f.Amount.SetText(tc.amount)
			toErr, amountErr := f.To.Validate(), f.Amount.Validate()
			if (toErr != nil) != (tc.bad == "to") || (amountErr != nil) != (tc.bad == "amount") {
				t.Errorf("to error %v, amount error %v; want %s to fail", toErr, amountErr, tc.bad)
			}
			f.Password.SetText("x")
			h.u.WalletSubmit()
			if !strings.HasPrefix(h.u.WalletSendResult(), "Check the form") {
				t.Errorf("result %q", h.u.WalletSendResult())
			}
		})
	}
	if len(h.b.Sent()) != 0 {
		t.Fatal("an invalid transfer reached the backend")
	}

	f.Token.SetSelected("SOL")
	f.To.SetText(to)
	f.Amount.SetText("0.5")
	f.Password.SetText("wrong password")
	h.u.WalletSubmit()
	h.waitFor("backend answer", func() bool { return strings.HasPrefix(h.u.WalletSendResult(), "Not sent") })
	if got := h.u.WalletSendResult(); got != "Not sent: Wrong password." {
		t.Errorf("result %q", got)
	}
	f.Password.SetText("correct horse battery")
	h.u.WalletSubmit()
	h.waitFor("sent", func() bool { return strings.HasPrefix(h.u.WalletSendResult(), "Sent") })
	if got := h.b.Sent(); len(got) != 1 || got[0].Amount != 500_000_000 || got[0].To != to || got[0].Symbol != "SOL" {
		t.Errorf("backend got %+v", got)
	}
	h.waitFor("balance and history update", func() bool {
		return h.u.WalletBalances()[0] == "1.983145 SOL" && h.u.WalletHistoryRows() == 7
	})
	if f.Password.Text != "" || f.Amount.Text != "" || f.To.Text != "" {
		t.Error("form not cleared after sending")
	}
}

// TestWalletPayPeers: the wallet starts locked with what is owed shown and
// Pay now off; a wrong password leaves it locked; unlocked, Pay now pays
// each provider owed (balance and history follow) and Lock locks again.
func TestWalletPayPeers(t *testing.T) {
	h := start(t, demo.Options{}, app.TabWallet)
	ctx := context.Background()
	if !strings.HasPrefix(h.u.WalletPayState(), "Locked") || h.u.WalletUnlock().Hidden || !h.u.WalletLock().Hidden {
		t.Fatalf("state %q, unlock hidden %v, lock hidden %v", h.u.WalletPayState(), h.u.WalletUnlock().Hidden, h.u.WalletLock().Hidden)
	}
	if got := h.u.WalletOwed(); got != "Owed to providers: 0.00184 SOL (2 providers)" {
		t.Errorf("owed %q", got)
	}
	if !h.u.WalletPayNow().Disabled() {
		t.Error("Pay now enabled while locked")
	}

	test.Tap(h.u.WalletUnlock())
	if h.w.Canvas().Overlays().Top() == nil {
		t.Fatal("no password dialog")
	}
	h.u.WalletUnlockPassword().SetText("wrong password")
	h.u.WalletUnlockSubmit()
	h.waitFor("wrong password", func() bool { return h.u.WalletPayResult() == "Not unlocked: Wrong password." })
	if w, _ := h.b.Wallet(ctx); w.Payments.Unlocked {
		t.Fatal("unlocked with a wrong password")
	}
	if h.u.WalletUnlockPassword().Text != "" {
		t.Error("the dialog still holds the password")
	}
	h.u.WalletUnlockPassword().SetText("correct horse battery")
	h.u.WalletUnlockSubmit()
	h.waitFor("unlocked", func() bool { return strings.HasPrefix(h.u.WalletPayState(), "Unlocked") })
	if !h.u.WalletUnlock().Hidden || h.u.WalletLock().Hidden || h.u.WalletPayNow().Disabled() {
		t.Errorf("unlocked: unlock hidden %v, lock hidden %v, pay now disabled %v",
			h.u.WalletUnlock().Hidden, h.u.WalletLock().Hidden, h.u.WalletPayNow().Disabled())
	}

	test.Tap(h.u.WalletPayNow())
	h.waitFor("paid", func() bool { return h.u.WalletPayResult() == "Paid 2 providers." })
	h.waitFor("owed, balance and history update", func() bool {
		return h.u.WalletOwed() == "Owed to providers: 0 SOL" && h.u.WalletBalances()[0] == "2.4813 SOL" && h.u.WalletHistoryRows() == 8
	})
	if !h.u.WalletPayNow().Disabled() {
		t.Error("Pay now enabled with nothing owed")
	}

	test.Tap(h.u.WalletLock())
	h.waitFor("locked", func() bool { return strings.HasPrefix(h.u.WalletPayState(), "Locked") })
	if w, _ := h.b.Wallet(ctx); w.Payments.Unlocked {
		t.Error("the backend is still unlocked")
	}
}
