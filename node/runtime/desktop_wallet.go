package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hearth-p2p/hearth/wallet"
	"github.com/hearth-p2p/hearth/wallet/settle"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

// Wallet errors, as the wallet reports them (match with errors.Is).
var (
	ErrNoWallet          = wallet.ErrNoWallet
	ErrWrongPassword     = wallet.ErrWrongPassword
	ErrInsufficientFunds = solana.ErrInsufficientFunds
	ErrWalletExists      = wallet.ErrWalletExists
	// ErrWeakPassword: a new wallet's password is too short.
	ErrWeakPassword = errors.New("password: use at least 8 characters")
)

// MinPasswordLen is the shortest password a new wallet accepts.
const MinPasswordLen = 8

// WalletInfo is the wallet's state.
type WalletInfo struct {
	Exists   bool
	Address  string
	Cluster  string // "devnet", "testnet", "mainnet-beta", "localnet" or "custom"
	RPCURL   string // the endpoint in use
	Balances []Balance
	// BalanceErr says why the balances could not be read (the cluster is
	// unreachable); the rest is still valid.
	BalanceErr string
	// Payments: whether offloading may pay providers, and what it owes.
	Payments Payments
}

// Balance is an amount of SOL or of an SPL token.
type Balance struct {
	Symbol   string // "SOL", a known token's symbol, or the mint abbreviated
	Mint     string // "" for SOL
	Amount   uint64 // base units
	Decimals int
}

// TransferKind says how a transfer relates to this wallet.
type TransferKind string

// Transfer kinds.
const (
	TransferIn     TransferKind = "in"
	TransferOut    TransferKind = "out"
	TransferPayout TransferKind = "payout" // settlement for shards served
)

// Transfer is one entry of the wallet's history.
type Transfer struct {
	Signature    string
	Time         time.Time
	Kind         TransferKind
	Symbol       string
	Amount       uint64
	Decimals     int
	Counterparty string // the sender of incoming transfers; "" when unknown
	Confirmed    bool
	Memo         string
}

// DayEarnings is what lending earned on one day, in lamports.
type DayEarnings struct {
	Day                      time.Time // midnight UTC
	Earned, Settled, Pending uint64
}

// SendRequest is a transfer the user asked for.
type SendRequest struct {
	To       string
	Symbol   string // a Balance's Symbol
	Amount   uint64 // base units
	Password string
}

// balanceTimeout bounds reading the balances, so an unreachable cluster
// does not hold the wallet view.
const balanceTimeout = 15 * time.Second

// historyLimit is how many transactions History reads.
const historyLimit = 50

// walletState holds the wallet opened read-only (no password needed) for
// balances, history, earnings and the lending node's ledger.
type walletState struct {
	mu sync.Mutex // guards ro
	ro *wallet.Wallet
}

// readOnly opens the wallet without its password on first use.
func (w *walletState) readOnly(cfg wallet.Config) (*wallet.Wallet, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ro == nil {
		ro, err := wallet.OpenReadOnly(cfg, nil)
		if err != nil {
			return nil, err
		}
		w.ro = ro
	}
	return w.ro, nil
}

// reset closes the read-only wallet; the next call reopens it (after a
// cluster change or a new wallet).
func (w *walletState) reset() {
	w.mu.Lock()
	ro := w.ro
	w.ro = nil
	w.mu.Unlock()
	if ro != nil {
		ro.Close()
	}
}

func (w *walletState) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ro == nil {
		return nil
	}
	err := w.ro.Close()
	w.ro = nil
	return err
}

// walletConfig is the wallet's configuration under settings s.
func (d *Desktop) walletConfig(s DesktopSettings) wallet.Config {
	cfg := d.cfg.Wallet
	cfg.DataDir = d.dataDir
	c, err := solana.ParseCluster(s.Cluster)
	if err != nil { // validated settings never get here
		c = solana.Devnet
	}
	cfg.Solana.Cluster, cfg.Solana.RPCURL = c, s.RPCURL
	return cfg
}

// knownMints names the tokens people hold most.
var knownMints = map[string]string{
	"EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v": "USDC",
	"4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU": "USDC", // devnet
	"Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB": "USDT",
}

// symbolOf names a token mint.
func symbolOf(mint string) string {
	if s, ok := knownMints[mint]; ok {
		return s
	}
	if len(mint) > 8 {
		return mint[:4] + "…" + mint[len(mint)-4:]
	}
	return mint
}

// Wallet reports whether a wallet exists and, if so, its address, cluster
// and balances.
func (d *Desktop) Wallet(ctx context.Context) (WalletInfo, error) {
	s := d.Settings()
	cfg := d.walletConfig(s)
	info := WalletInfo{Cluster: string(cfg.Solana.Cluster), RPCURL: cfg.Solana.Endpoint()}
	if !wallet.Exists(cfg) {
		return info, nil
	}
	w, err := d.wallet.readOnly(cfg)
	if err != nil {
		return info, err
	}
	info.Exists, info.Address = true, w.Address()
	if info.Payments, err = d.Payments(); err != nil {
		d.log.Warn("reading what is owed to providers", "err", err)
	}
	bctx, cancel := context.WithTimeout(ctx, balanceTimeout)
	defer cancel()
	b, err := w.Balance(bctx)
	if err != nil {
		if ctx.Err() != nil {
			return info, ctx.Err()
		}
		d.log.Warn("reading the balances", "cluster", info.Cluster, "err", err)
		info.BalanceErr = err.Error()
		return info, nil
	}
	info.Balances = append(info.Balances, Balance{Symbol: "SOL", Amount: b.Lamports, Decimals: solana.SOLDecimals})
	for _, t := range b.Tokens {
		info.Balances = append(info.Balances, Balance{Symbol: symbolOf(t.Mint), Mint: t.Mint, Amount: t.Amount, Decimals: int(t.Decimals)})
	}
	return info, nil
}

// CreateWallet makes a new wallet under password and returns its recovery
// phrase, the only time it is shown.
func (d *Desktop) CreateWallet(ctx context.Context, password string) ([]string, error) {
	if len(password) < MinPasswordLen {
		return nil, ErrWeakPassword
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, mnemonic, err := wallet.Create(d.walletConfig(d.Settings()), []byte(password), d.log)
	if err != nil {
		return nil, err
	}
	w.Close()
	d.wallet.reset()
	d.publish(WalletChanged{})
	return strings.Fields(mnemonic), nil
}

// ImportWallet restores a wallet from a recovery phrase or a Solana
// keypair JSON array.
func (d *Desktop) ImportWallet(ctx context.Context, secret, password string) error {
	if len(password) < MinPasswordLen {
		return ErrWeakPassword
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w, err := wallet.Import(d.walletConfig(d.Settings()), secret, []byte(password), d.log)
	if err != nil {
		return err
	}
	w.Close()
	d.wallet.reset()
	d.publish(WalletChanged{})
	return nil
}

// SendFunds unlocks the wallet with the request's password, sends, waits
// for confirmation and returns the signature.
func (d *Desktop) SendFunds(ctx context.Context, req SendRequest) (string, error) {
	cfg := d.walletConfig(d.Settings())
	if !wallet.Exists(cfg) {
		return "", ErrNoWallet
	}
	if req.Amount == 0 {
		return "", errors.New("send: the amount is zero")
	}
	mint := ""
	if req.Symbol != "SOL" {
		info, err := d.Wallet(ctx)
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(info.Balances, func(b Balance) bool { return b.Symbol == req.Symbol && b.Mint != "" })
		if i < 0 {
			return "", fmt.Errorf("send: this wallet holds no %s", req.Symbol)
		}
		mint = info.Balances[i].Mint
	}
	w, err := wallet.Open(cfg, []byte(req.Password), d.log)
	if err != nil {
		return "", err
	}
	defer w.Close()
	var sig string
	if mint == "" {
		sig, err = w.Send(ctx, req.To, req.Amount, "")
	} else {
		sig, err = w.SendToken(ctx, req.To, mint, req.Amount, "")
	}
	if err != nil {
		return "", err
	}
	d.publish(WalletChanged{})
	return sig, nil
}

// History lists the wallet's recent transfers, newest first.
func (d *Desktop) History(ctx context.Context) ([]Transfer, error) {
	w, err := d.wallet.readOnly(d.walletConfig(d.Settings()))
	if err != nil {
		return nil, err
	}
	entries, err := w.History(ctx, historyLimit, "")
	if err != nil {
		return nil, err
	}
	decimals := map[string]int{}
	var out []Transfer
	for _, e := range entries {
		if e.Failed != "" {
			continue
		}
		memo := strings.Join(e.Memos, " ")
		payout := slices.ContainsFunc(e.Memos, func(m string) bool { return strings.HasPrefix(m, settle.MemoPrefix) })
		ours := e.FeePayer == w.Address()
		lamports := e.Lamports
		if ours {
			lamports += int64(e.Fee) // the fee is not part of the transfer
		}
		add := func(delta int64, symbol string, dec int) {
			t := Transfer{Signature: e.Signature, Time: e.Time, Symbol: symbol, Decimals: dec, Confirmed: true, Memo: memo}
			switch {
			case delta > 0:
				t.Kind, t.Amount = TransferIn, uint64(delta)
				if payout {
					t.Kind = TransferPayout
				}
				if !ours {
					t.Counterparty = e.FeePayer
				}
			case delta < 0:
				t.Kind, t.Amount = TransferOut, uint64(-delta)
			default:
				return
			}
			out = append(out, t)
		}
		add(lamports, "SOL", solana.SOLDecimals)
		for _, td := range e.TokenDeltas {
			dec, ok := decimals[td.Mint]
			if !ok {
				if x, err := w.TokenDecimals(ctx, td.Mint); err == nil {
					dec = int(x)
				}
				decimals[td.Mint] = dec
			}
			add(td.Delta, symbolOf(td.Mint), dec)
		}
	}
	return out, nil
}

// Earnings lists what lending earned (SOL) per UTC day for the last days
// days, oldest first, days without earnings included.
func (d *Desktop) Earnings(ctx context.Context, days int) ([]DayEarnings, error) {
	if days <= 0 {
		return nil, fmt.Errorf("earnings: want a positive number of days, got %d", days)
	}
	w, err := d.wallet.readOnly(d.walletConfig(d.Settings()))
	if err != nil {
		return nil, err
	}
	es, err := w.Earnings()
	if err != nil {
		return nil, err
	}
	byDay := map[string]DayEarnings{}
	for _, e := range es {
		if !e.Mint.IsZero() {
			continue
		}
		for _, de := range e.Days {
			byDay[de.Day] = DayEarnings{Earned: de.Earned, Settled: de.Settled, Pending: sub0(de.Earned, de.Settled)}
		}
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	out := make([]DayEarnings, days)
	for i := range out {
		day := today.AddDate(0, 0, i-days+1)
		de := byDay[day.Format(time.DateOnly)]
		de.Day = day
		out[i] = de
	}
	return out, ctx.Err()
}

// SetCluster switches the wallet's cluster (and stores it in the
// settings). url is required for "custom" and overrides the public
// endpoint of the others.
func (d *Desktop) SetCluster(ctx context.Context, cluster, url string) error {
	s := d.Settings()
	s.Cluster, s.RPCURL = cluster, url
	return d.UpdateSettings(ctx, s)
}
