package settle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	sol "github.com/gagliardetto/solana-go"
	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/receipt"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

// Chain is what settlement needs from a Solana cluster; *solana.Client
// implements it.
type Chain interface {
	BuildTransfer(ctx context.Context, t solana.Transfer) (*solana.Prepared, error)
	Send(ctx context.Context, p *solana.Prepared) error
	Confirm(ctx context.Context, p *solana.Prepared) (*solana.Status, error)
	SignatureStatus(ctx context.Context, sig sol.Signature) (*solana.Status, error)
	BlockHeight(ctx context.Context) (uint64, error)
	Signatures(ctx context.Context, addr sol.PublicKey, q solana.SignatureQuery) ([]solana.SignatureInfo, error)
	Transaction(ctx context.Context, sig sol.Signature) (*solana.TxInfo, error)
}

// Result reports one payment.
type Result struct {
	Provider  receipt.PublicKey
	Mint      receipt.PublicKey // zero: SOL
	Amount    uint64
	Receipts  int
	Signature sol.Signature
	Err       error // nil: confirmed
}

// Payer settles the consumer's debts from its wallet key.
type Payer struct {
	chain  Chain
	ledger *ledger.Ledger
	key    sol.PrivateKey
	log    *slog.Logger
}

// NewPayer returns a Payer paying from key.
func NewPayer(chain Chain, l *ledger.Ledger, key sol.PrivateKey, log *slog.Logger) *Payer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Payer{chain: chain, ledger: l, key: key, log: log.With("sub", "settle")}
}

// PayAll first resolves payments left open by an earlier run (Resume), then
// pays every provider what its receipts say is owed: one transaction per
// provider and currency (more if it has more than MaxDigestsPerMemo
// sessions). Each result carries its own error; the returned error is only
// for failures that stop the run (ledger or RPC trouble).
func (p *Payer) PayAll(ctx context.Context) ([]Result, error) {
	results, err := p.Resume(ctx)
	if err != nil {
		return results, err
	}
	owed, err := p.ledger.Owed()
	if err != nil {
		return results, fmt.Errorf("list debts: %w", err)
	}
	for _, o := range owed {
		for start := 0; start < len(o.Sessions); start += MaxDigestsPerMemo {
			batch := o
			batch.Sessions = o.Sessions[start:min(start+MaxDigestsPerMemo, len(o.Sessions))]
			batch.Amount = 0
			for _, d := range batch.Sessions {
				batch.Amount += d.Target - d.Paid
			}
			r, fatal := p.pay(ctx, batch)
			results = append(results, r)
			if fatal != nil {
				return results, fatal
			}
		}
	}
	return results, nil
}

// Prepare builds and signs the payment for owed and records the intent,
// without sending it. The intent is durable before any byte leaves the node.
func (p *Payer) Prepare(ctx context.Context, owed ledger.Owed) (*solana.Prepared, ledger.Intent, error) {
	digests := make([][32]byte, len(owed.Sessions))
	for i, d := range owed.Sessions {
		digests[i] = d.Digest
	}
	memo, err := FormatMemo(digests)
	if err != nil {
		return nil, ledger.Intent{}, err
	}
	prep, err := p.chain.BuildTransfer(ctx, solana.Transfer{
		From:   p.key,
		To:     sol.PublicKey(owed.Provider),
		Amount: owed.Amount,
		Mint:   sol.PublicKey(owed.Mint),
		Memo:   memo,
	})
	if err != nil {
		return nil, ledger.Intent{}, fmt.Errorf("build payment: %w", err)
	}
	in := ledger.Intent{
		Signature:            prep.Signature,
		Provider:             owed.Provider,
		Mint:                 owed.Mint,
		Amount:               owed.Amount,
		Sessions:             owed.Sessions,
		Raw:                  prep.Raw,
		LastValidBlockHeight: prep.LastValidBlockHeight,
	}
	if err := p.ledger.RecordIntent(in); err != nil {
		return nil, ledger.Intent{}, fmt.Errorf("record payment intent: %w", err)
	}
	return prep, in, nil
}

// pay prepares, sends and confirms one payment. The second return is an
// error that should stop PayAll.
func (p *Payer) pay(ctx context.Context, owed ledger.Owed) (Result, error) {
	r := Result{Provider: owed.Provider, Mint: owed.Mint, Amount: owed.Amount, Receipts: len(owed.Sessions)}
	prep, in, err := p.Prepare(ctx, owed)
	if err != nil {
		r.Err = err
		return r, stopping(err)
	}
	r.Signature = prep.Signature
	err = p.chain.Send(ctx, prep)
	switch {
	case err == nil, errors.Is(err, solana.ErrAlreadyProcessed):
	case isRefusal(err):
		// Preflight refused a transaction never sent before: it cannot land.
		r.Err = err
		if aerr := p.ledger.AbandonIntent(in.Signature); aerr != nil {
			return r, aerr
		}
		return r, nil
	default:
		// Unknown whether it reached the cluster: leave the intent for Resume.
		r.Err = err
		return r, stopping(err)
	}
	r.Err = p.finish(ctx, prep, in)
	return r, stopping(r.Err)
}

// finish confirms a sent payment and records the outcome; an unresolved
// outcome leaves the intent open.
func (p *Payer) finish(ctx context.Context, prep *solana.Prepared, in ledger.Intent) error {
	_, err := p.chain.Confirm(ctx, prep)
	var txErr *solana.TxError
	switch {
	case err == nil:
		if err := p.ledger.ConfirmIntent(in.Signature); err != nil {
			return err
		}
		p.log.Info("payment confirmed", "provider", in.Provider, "amount", in.Amount, "sig", prep.Signature)
		return nil
	case errors.Is(err, solana.ErrBlockhashExpired), errors.As(err, &txErr):
		// Expired without landing, or failed on chain: nothing was transferred.
		if aerr := p.ledger.AbandonIntent(in.Signature); aerr != nil {
			return aerr
		}
		p.log.Warn("payment abandoned", "provider", in.Provider, "sig", prep.Signature, "err", err)
		return err
	default:
		return err
	}
}

// Resume resolves payments recorded by a run that stopped before it knew
// their fate: a confirmed one is recorded as paid, one that failed or whose
// blockhash expired unseen is released to be paid anew, and one that may
// still land is re-sent (the same signed bytes, so it cannot pay twice) and
// confirmed.
func (p *Payer) Resume(ctx context.Context) ([]Result, error) {
	open, err := p.ledger.OpenIntents()
	if err != nil {
		return nil, fmt.Errorf("list open payments: %w", err)
	}
	var results []Result
	for _, in := range open {
		r := Result{Provider: in.Provider, Mint: in.Mint, Amount: in.Amount, Receipts: len(in.Sessions), Signature: in.Signature}
		prep, err := solana.PreparedFromRaw(in.Raw, in.LastValidBlockHeight)
		if err != nil {
			return results, fmt.Errorf("open payment %s: %w", sol.Signature(in.Signature), err)
		}
		p.log.Info("resuming payment", "provider", in.Provider, "sig", prep.Signature)
		st, err := p.chain.SignatureStatus(ctx, prep.Signature)
		switch {
		case err == nil && st.Confirmed && st.Err == nil:
			r.Err = p.ledger.ConfirmIntent(in.Signature)
		case err == nil && st.Confirmed:
			r.Err = p.ledger.AbandonIntent(in.Signature)
			if r.Err == nil {
				r.Err = st.Err
			}
		case err == nil || errors.Is(err, solana.ErrNotFound):
			// Not seen (or not yet confirmed): re-send while it can still land.
			if serr := p.chain.Send(ctx, prep); serr != nil && !errors.Is(serr, solana.ErrAlreadyProcessed) {
				p.log.Debug("re-send refused", "sig", prep.Signature, "err", serr)
			}
			r.Err = p.finish(ctx, prep, in)
		default:
			r.Err = err
		}
		results = append(results, r)
		if stop := stopping(r.Err); stop != nil {
			return results, stop
		}
	}
	return results, nil
}

// isRefusal reports a preflight rejection: the RPC node simulated the
// transaction, saw it fail and did not forward it.
func isRefusal(err error) bool {
	var txErr *solana.TxError
	return errors.As(err, &txErr) && !errors.Is(err, solana.ErrAlreadyProcessed)
}

// stopping picks the errors that should end a run: the node is unreachable,
// the context ended, or the ledger failed. Per-payment failures do not.
func stopping(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, solana.ErrRPCUnreachable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ledger.ErrCorrupt):
		return err
	}
	return nil
}
