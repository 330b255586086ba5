package wallet

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	sol "github.com/gagliardetto/solana-go"
	"github.com/hearth-p2p/hearth/wallet/ledger"
	"github.com/hearth-p2p/hearth/wallet/settle"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

// TokenBalance is a balance of one SPL token.
type TokenBalance struct {
	Mint     string
	Amount   uint64 // base units
	Decimals uint8
}

// Balance is what the wallet holds.
type Balance struct {
	Lamports uint64
	Tokens   []TokenBalance
}

// Balance reads SOL and SPL token balances.
func (w *Wallet) Balance(ctx context.Context) (Balance, error) {
	lamports, err := w.chain.Balance(ctx, w.address)
	if err != nil {
		return Balance{}, err
	}
	accts, err := w.chain.TokenAccounts(ctx, w.address)
	if err != nil {
		return Balance{}, err
	}
	b := Balance{Lamports: lamports}
	byMint := map[sol.PublicKey]int{}
	for _, a := range accts {
		if i, ok := byMint[a.Mint]; ok {
			b.Tokens[i].Amount += a.Amount
			continue
		}
		byMint[a.Mint] = len(b.Tokens)
		b.Tokens = append(b.Tokens, TokenBalance{Mint: a.Mint.String(), Amount: a.Amount, Decimals: a.Decimals})
	}
	return b, nil
}

func parseAddress(what, s string) (sol.PublicKey, error) {
	pk, err := sol.PublicKeyFromBase58(s)
	if err != nil {
		return sol.PublicKey{}, fmt.Errorf("%w: %s %q", solana.ErrInvalidAddress, what, s)
	}
	return pk, nil
}

func (w *Wallet) signer() (sol.PrivateKey, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.key == nil {
		return nil, ErrLocked
	}
	return w.key.Solana(), nil
}

// Send transfers lamports to a base58 address and waits for confirmation.
func (w *Wallet) Send(ctx context.Context, to string, lamports uint64, memo string) (string, error) {
	key, err := w.signer()
	if err != nil {
		return "", err
	}
	dst, err := parseAddress("recipient", to)
	if err != nil {
		return "", err
	}
	sig, err := w.chain.SendSOL(ctx, key, dst, lamports, memo)
	if err != nil {
		return "", fmt.Errorf("send %s SOL: %w", solana.FormatAmount(lamports, solana.SOLDecimals), err)
	}
	w.log.Info("sent SOL", "to", to, "lamports", lamports, "sig", sig)
	return sig.String(), nil
}

// SendToken transfers base units of an SPL token, creating the recipient's
// token account if needed, and waits for confirmation.
func (w *Wallet) SendToken(ctx context.Context, to, mint string, amount uint64, memo string) (string, error) {
	key, err := w.signer()
	if err != nil {
		return "", err
	}
	dst, err := parseAddress("recipient", to)
	if err != nil {
		return "", err
	}
	m, err := parseAddress("mint", mint)
	if err != nil {
		return "", err
	}
	sig, err := w.chain.SendToken(ctx, key, dst, m, amount, memo)
	if err != nil {
		return "", fmt.Errorf("send tokens: %w", err)
	}
	w.log.Info("sent tokens", "to", to, "mint", mint, "amount", amount, "sig", sig)
	return sig.String(), nil
}

// TokenDecimals returns an SPL mint's decimals.
func (w *Wallet) TokenDecimals(ctx context.Context, mint string) (uint8, error) {
	m, err := parseAddress("mint", mint)
	if err != nil {
		return 0, err
	}
	return w.chain.MintDecimals(ctx, m)
}

// Airdrop asks the cluster's faucet for lamports (not on mainnet).
func (w *Wallet) Airdrop(ctx context.Context, lamports uint64) (string, error) {
	sig, err := w.chain.Airdrop(ctx, w.address, lamports)
	if err != nil {
		return "", err
	}
	return sig.String(), nil
}

// HistoryEntry is one transaction touching the wallet, from its point of view.
type HistoryEntry struct {
	Signature   string
	Time        time.Time
	Slot        uint64
	Fee         uint64 // lamports, paid by the fee payer
	FeePayer    string
	Failed      string // the error, or "" when it succeeded
	Memos       []string
	Lamports    int64 // change of the wallet's SOL balance (fee included)
	TokenDeltas []TokenDelta
}

// TokenDelta is a change of the wallet's balance of one token.
type TokenDelta struct {
	Mint  string
	Delta int64
}

// History returns the wallet's most recent transactions (newest first),
// older than before when it is set.
func (w *Wallet) History(ctx context.Context, limit int, before string) ([]HistoryEntry, error) {
	var b sol.Signature
	if before != "" {
		s, err := sol.SignatureFromBase58(before)
		if err != nil {
			return nil, fmt.Errorf("history: bad signature %q: %w", before, err)
		}
		b = s
	}
	txs, err := w.chain.History(ctx, w.address, limit, b)
	if err != nil {
		return nil, err
	}
	out := make([]HistoryEntry, 0, len(txs))
	for _, t := range txs {
		e := HistoryEntry{
			Signature: t.Signature.String(),
			Time:      t.BlockTime,
			Slot:      t.Slot,
			Fee:       t.Fee,
			FeePayer:  t.FeePayer.String(),
			Memos:     t.Memos,
			Lamports:  t.LamportDeltas[w.address],
		}
		if t.Err != nil {
			e.Failed = t.Err.Error()
		}
		for _, d := range t.TokenDeltas {
			if d.Owner.Equals(w.address) && d.Post != d.Pre {
				e.TokenDeltas = append(e.TokenDeltas, TokenDelta{Mint: d.Mint.String(), Delta: int64(d.Post) - int64(d.Pre)})
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Earnings are the provider's earnings per currency, from the ledger.
func (w *Wallet) Earnings() ([]ledger.Earnings, error) {
	l, err := w.Ledger()
	if err != nil {
		return nil, err
	}
	return l.Earnings()
}

// Settle pays every provider what this node's receipts owe them.
func (w *Wallet) Settle(ctx context.Context) ([]settle.Result, error) {
	key, err := w.signer()
	if err != nil {
		return nil, err
	}
	l, err := w.Ledger()
	if err != nil {
		return nil, err
	}
	return settle.NewPayer(w.chain, l, key, w.log).PayAll(ctx)
}

// Watcher returns the service that marks this provider's receipts settled
// as payments arrive (run it with Serve).
func (w *Wallet) Watcher(cfg settle.WatcherConfig, log *slog.Logger) (*settle.Watcher, error) {
	l, err := w.Ledger()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = w.log
	}
	return settle.NewWatcher(w.chain, l, w.address, cfg, log)
}

// Preview builds and signs a transfer (SOL when mint is "") and simulates it
// without sending: Simulation.Err says why it would fail, nil if it would not.
func (w *Wallet) Preview(ctx context.Context, to, mint string, amount uint64, memo string) (*solana.Simulation, error) {
	key, err := w.signer()
	if err != nil {
		return nil, err
	}
	dst, err := parseAddress("recipient", to)
	if err != nil {
		return nil, err
	}
	var m sol.PublicKey
	if mint != "" {
		if m, err = parseAddress("mint", mint); err != nil {
			return nil, err
		}
	}
	p, err := w.chain.BuildTransfer(ctx, solana.Transfer{From: key, To: dst, Amount: amount, Mint: m, Memo: memo})
	if err != nil {
		return nil, err
	}
	return w.chain.Simulate(ctx, p)
}
