package settle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	Interval time.Duration // between scans
	PageSize int           // signatures per RPC page
}

// DefaultWatcherConfig scans every 30 s.
func DefaultWatcherConfig() WatcherConfig {
	return WatcherConfig{Interval: 30 * time.Second, PageSize: 100}
}

// Validate checks the configuration.
func (c WatcherConfig) Validate() error {
	if c.Interval <= 0 || c.PageSize < 1 || c.PageSize > 1000 {
		return fmt.Errorf("settle: watcher interval must be positive and page size in [1,1000]")
	}
	return nil
}

// Applied is one settlement payment the watcher processed.
type Applied struct {
	Signature sol.Signature
	Outcome   ledger.Outcome
}

// Watcher scans the provider's address (and its token accounts for the
// currencies it has receipts in) for confirmed incoming transactions with a
// settlement memo, and applies them to the ledger.
type Watcher struct {
	chain    Chain
	ledger   *ledger.Ledger
	provider sol.PublicKey
	cfg      WatcherConfig
	log      *slog.Logger
}

// NewWatcher returns a watcher for the provider's payments.
func NewWatcher(chain Chain, l *ledger.Ledger, provider sol.PublicKey, cfg WatcherConfig, log *slog.Logger) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{chain: chain, ledger: l, provider: provider, cfg: cfg, log: log.With("sub", "settle-watch")}, nil
}

// Serve scans every Interval until ctx ends. Scan errors are logged and the
// next scan retries; Serve returns nil when ctx is cancelled.
func (w *Watcher) Serve(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := w.ScanOnce(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("settlement scan failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ScanOnce processes every transaction new since the last scan, oldest
// first, for the provider's address and its associated token accounts.
func (w *Watcher) ScanOnce(ctx context.Context) ([]Applied, error) {
	mints, err := w.ledger.ReceiptMints()
	if err != nil {
		return nil, err
	}
	addrs := []sol.PublicKey{w.provider}
	for _, m := range mints {
		if m.IsZero() {
			continue
		}
		ata, err := solana.AssociatedTokenAddress(w.provider, sol.PublicKey(m))
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, ata)
	}
	var out []Applied
	seen := map[sol.Signature]bool{} // an SPL payment can touch the wallet and its token account
	for _, a := range addrs {
		applied, err := w.scanAddress(ctx, a)
		for _, ap := range applied {
			if !seen[ap.Signature] {
				seen[ap.Signature] = true
				out = append(out, ap)
			}
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (w *Watcher) scanAddress(ctx context.Context, addr sol.PublicKey) ([]Applied, error) {
	cursorName := "settle/watch/" + addr.String()
	cur, err := w.ledger.Cursor(cursorName)
	if err != nil {
		return nil, err
	}
	var until sol.Signature
	copy(until[:], cur)
	// Collect everything newer than the cursor, newest first, page by page.
	var sigs []solana.SignatureInfo
	var before sol.Signature
	for {
		page, err := w.chain.Signatures(ctx, addr, solana.SignatureQuery{Limit: w.cfg.PageSize, Before: before, Until: until})
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, page...)
		if len(page) < w.cfg.PageSize {
			break
		}
		before = page[len(page)-1].Signature
	}
	var out []Applied
	for i := len(sigs) - 1; i >= 0; i-- {
		s := sigs[i]
		if !s.Failed {
			a, ok, err := w.apply(ctx, s.Signature)
			if err != nil {
				return out, err
			}
			if ok {
				out = append(out, a)
			}
		}
		if err := w.ledger.SetCursor(cursorName, s.Signature[:]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// apply reads one transaction and, if it carries a settlement memo, applies
// what the provider received in it.
func (w *Watcher) apply(ctx context.Context, sig sol.Signature) (Applied, bool, error) {
	info, err := w.chain.Transaction(ctx, sig)
	if errors.Is(err, solana.ErrNotFound) {
		return Applied{}, false, nil
	}
	if err != nil {
		return Applied{}, false, err
	}
	if info.Err != nil || info.FeePayer.Equals(w.provider) {
		return Applied{}, false, nil // failed, or sent by this provider itself
	}
	var digests [][32]byte
	for _, m := range info.Memos {
		ds, err := ParseMemo(m)
		if err != nil {
			continue // someone else's memo
		}
		digests = append(digests, ds...)
	}
	if len(digests) == 0 {
		return Applied{}, false, nil
	}
	received := map[receipt.PublicKey]uint64{{}: info.Received(w.provider, sol.PublicKey{})}
	for _, d := range info.TokenDeltas {
		if d.Owner.Equals(w.provider) {
			received[receipt.PublicKey(d.Mint)] = info.Received(w.provider, d.Mint)
		}
	}
	outcome, err := w.ledger.ApplyPayment(ledger.Payment{
		Signature: sig,
		Payer:     receipt.PublicKey(info.FeePayer),
		Received:  received,
		Digests:   digests,
		Time:      info.BlockTime,
	})
	if err != nil {
		return Applied{}, false, err
	}
	w.log.Info("settlement seen", "sig", sig, "outcome", outcome)
	return Applied{Signature: sig, Outcome: outcome}, true, nil
}
