package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/receipt"
)

// ErrPaymentsLocked: paying providers needs the wallet unlocked
// (UnlockPayments).
var ErrPaymentsLocked = errors.New("payments are locked: unlock the wallet to pay peers")

// Payments is the state of paying providers for offloading.
type Payments struct {
	// Unlocked: the wallet key signs receipts, so offloading may use
	// providers charging up to the settings' MaxPayPrice.
	Unlocked bool
	// Owed is what the receipts signed and not yet paid owe providers, in
	// lamports; Providers is how many providers they owe.
	Owed      uint64
	Providers int
}

// UnlockPayments opens the wallet's key with password until LockPayments
// (or a cluster change): offloading then pays providers charging up to
// the settings' MaxPayPrice, and PayProviders settles what is owed. A wrong
// password fails with ErrWrongPassword.
func (d *Desktop) UnlockPayments(ctx context.Context, password string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := d.walletConfig(d.Settings())
	if !wallet.Exists(cfg) {
		return fmt.Errorf("unlock payments: %w", ErrNoWallet)
	}
	w, err := d.wallet.readOnly(cfg)
	if err != nil {
		return fmt.Errorf("unlock payments: %w", err)
	}
	if err := w.Unlock([]byte(password)); err != nil {
		return fmt.Errorf("unlock payments: %w", err)
	}
	d.log.Info("payments unlocked", "address", w.Address())
	d.publish(WalletChanged{})
	return nil
}

// LockPayments forgets the wallet's key: new offloading pipelines use free
// providers only. Pipelines open keep paying until they close.
func (d *Desktop) LockPayments() {
	d.wallet.mu.Lock()
	w := d.wallet.ro
	d.wallet.mu.Unlock()
	if w == nil || !w.Unlocked() {
		return
	}
	w.Lock()
	d.log.Info("payments locked")
	d.publish(WalletChanged{})
}

// Payments reports whether payments are unlocked and what is owed (SOL).
func (d *Desktop) Payments() (Payments, error) {
	cfg := d.walletConfig(d.Settings())
	if !wallet.Exists(cfg) {
		return Payments{}, nil
	}
	w, err := d.wallet.readOnly(cfg)
	if err != nil {
		return Payments{}, err
	}
	p := Payments{Unlocked: w.Unlocked()}
	l, err := w.Ledger()
	if err != nil {
		return p, err
	}
	owed, err := l.Owed()
	if err != nil {
		return p, err
	}
	for _, o := range owed {
		if o.Mint.IsZero() {
			p.Owed += o.Amount
			p.Providers++
		}
	}
	return p, nil
}

// PayProviders pays every provider what the receipts owe them (the code
// path of `hearth wallet settle`) and returns the confirmed payments'
// signatures; the error joins the failed ones'.
func (d *Desktop) PayProviders(ctx context.Context) ([]string, error) {
	w, err := d.payingWallet()
	if err != nil {
		return nil, err
	}
	rs, err := w.Settle(ctx)
	errs := []error{err}
	var sigs []string
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("paying %s: %w", r.Provider, r.Err))
			continue
		}
		sigs = append(sigs, r.Signature.String())
	}
	if len(rs) > 0 {
		d.log.Info("paid providers", "payments", len(sigs), "failed", len(rs)-len(sigs))
		d.publish(WalletChanged{})
	}
	if err := errors.Join(errs...); err != nil {
		return sigs, fmt.Errorf("pay providers: %w", err)
	}
	return sigs, nil
}

// payingWallet is the wallet when payments are unlocked, else
// ErrPaymentsLocked.
func (d *Desktop) payingWallet() (*wallet.Wallet, error) {
	cfg := d.walletConfig(d.Settings())
	if !wallet.Exists(cfg) {
		return nil, ErrPaymentsLocked
	}
	w, err := d.wallet.readOnly(cfg)
	if err != nil {
		return nil, err
	}
	if !w.Unlocked() {
		return nil, ErrPaymentsLocked
	}
	return w, nil
}

// payOptions lets an offloading pipeline pay providers charging up to
// maxPrice (0: free providers only) when payments are unlocked. It reports
// whether the pipeline may pay, and so has receipts to record.
func (d *Desktop) payOptions(opts *PipelineOptions, maxPrice uint64) bool {
	if maxPrice == 0 {
		return false
	}
	w, err := d.payingWallet()
	if err != nil {
		if !errors.Is(err, ErrPaymentsLocked) {
			d.log.Warn("offloading to free providers only", "err", err)
		}
		return false
	}
	signer, err := w.Signer()
	if err != nil { // locked since
		return false
	}
	opts.Signer, opts.MaxPrice = signer, receipt.Price{PerKiloUnit: maxPrice}
	return true
}

// walletLedger is the ledger of the wallet as it is now: the wallet may
// have been reopened (another cluster) since a pipeline opened.
func (d *Desktop) walletLedger() (*ledger.Ledger, error) {
	w, err := d.wallet.readOnly(d.walletConfig(d.Settings()))
	if err != nil {
		return nil, err
	}
	return w.Ledger()
}

// voidInWallet writes off a cheating provider's session in the wallet's
// ledger as it is when the cheat is caught.
func (d *Desktop) voidInWallet(session [16]byte, provider string) error {
	l, err := d.walletLedger()
	if err != nil {
		return err
	}
	return VoidIn(l)(session, provider)
}

// recordReceipts records what a closed paying pipeline owes in the
// wallet's ledger.
func (d *Desktop) recordReceipts(p *Pipeline) {
	l, err := d.walletLedger()
	if err == nil {
		err = RecordReceipts(p, l)
	}
	if err != nil {
		d.log.Error("receipts not recorded: what is owed is unknown", "err", err)
		return
	}
	d.publish(WalletChanged{})
}
