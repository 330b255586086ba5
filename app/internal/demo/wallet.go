package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/app"
)

// Network implements app.NetworkBackend.
func (b *Backend) Network(context.Context) (app.NetworkState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.network
	n.Node.Lending = b.settings.Lending
	n.Node.Addrs = slices.Clone(n.Node.Addrs)
	n.Shards = slices.Clone(n.Shards)
	n.Peers = slices.Clone(n.Peers)
	n.Sessions = slices.Clone(n.Sessions)
	n.Samples = slices.Clone(n.Samples)
	return n, nil
}

// Wallet implements app.WalletBackend.
func (b *Backend) Wallet(context.Context) (app.WalletInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.wallet
	w.Balances = slices.Clone(w.Balances)
	return w, nil
}

// UnlockPayments implements app.WalletBackend.
func (b *Backend) UnlockPayments(_ context.Context, password string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.wallet.Exists {
		return app.ErrNoWallet
	}
	if password != b.password {
		return app.ErrWrongPassword
	}
	b.wallet.Payments.Unlocked = true
	b.publish(app.WalletChanged{})
	return nil
}

// LockPayments implements app.WalletBackend.
func (b *Backend) LockPayments() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.wallet.Payments.Unlocked = false
	b.publish(app.WalletChanged{})
}

// PayProviders implements app.WalletBackend: one payment per provider
// owed, each shown in the history.
func (b *Backend) PayProviders(context.Context) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := &b.wallet.Payments
	if !p.Unlocked {
		return nil, errors.New("payments are locked: unlock the wallet to pay peers")
	}
	if p.Providers == 0 {
		return nil, nil
	}
	const fee = 5000
	if p.Owed+fee*uint64(p.Providers) > b.wallet.Balances[0].Amount {
		return nil, app.ErrInsufficientFunds
	}
	var sigs []string
	for i := range p.Providers {
		amount := p.Owed / uint64(p.Providers)
		if i == 0 {
			amount += p.Owed % uint64(p.Providers)
		}
		sig := fmt.Sprintf("3pay%040d", len(b.history)+1)
		b.history = append([]app.Transfer{{
			Signature: sig, Time: b.tick(), Kind: app.TransferOut, Symbol: "SOL", Amount: amount, Decimals: 9,
			Counterparty: providers[i%len(providers)], Confirmed: true, Memo: "hearth settle",
		}}, b.history...)
		b.wallet.Balances[0].Amount -= amount + fee
		sigs = append(sigs, sig)
	}
	p.Owed, p.Providers = 0, 0
	b.publish(app.WalletChanged{})
	return sigs, nil
}

// providers are the peers the demo wallet owes.
var providers = []string{"9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", "3Kz7c9Gf1Yq2LrTm8pVnX4dWs6JbHe5RaUoNi2PtQcMv"}

// Mnemonic is the phrase CreateWallet returns: the BIP-39 test vector of
// all-zero entropy, so tests know it.
var Mnemonic = strings.Fields("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")

// CreateWallet implements app.WalletBackend.
func (b *Backend) CreateWallet(_ context.Context, password string) ([]string, error) {
	if len(password) < 8 {
		return nil, errors.New("password: at least 8 characters")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wallet.Exists {
		return nil, errors.New("a wallet already exists")
	}
	b.setWallet(password)
	return slices.Clone(Mnemonic), nil
}

func (b *Backend) setWallet(password string) {
	b.password = password
	b.wallet.Exists = true
	b.wallet.Address = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
	b.wallet.Balances = []app.Balance{{Symbol: "SOL", Decimals: 9}}
	b.history, b.earnings = nil, nil
	b.publish(app.WalletChanged{})
}

// ImportWallet implements app.WalletBackend.
func (b *Backend) ImportWallet(_ context.Context, secret, password string) error {
	if len(password) < 8 {
		return errors.New("password: at least 8 characters")
	}
	secret = strings.TrimSpace(secret)
	switch {
	case strings.HasPrefix(secret, "["):
		var key []int
		if err := json.Unmarshal([]byte(secret), &key); err != nil || len(key) != 64 {
			return errors.New("keypair JSON: want an array of 64 numbers")
		}
	case len(strings.Fields(secret)) != 12 && len(strings.Fields(secret)) != 24:
		return errors.New("recovery phrase: want 12 or 24 words")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wallet.Exists {
		return errors.New("a wallet already exists")
	}
	b.setWallet(password)
	return nil
}

// SendFunds implements app.WalletBackend.
func (b *Backend) SendFunds(_ context.Context, req app.SendRequest) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.wallet.Exists {
		return "", app.ErrNoWallet
	}
	if req.Password != b.password {
		return "", app.ErrWrongPassword
	}
	i := slices.IndexFunc(b.wallet.Balances, func(x app.Balance) bool { return x.Symbol == req.Symbol })
	if i < 0 {
		return "", fmt.Errorf("no %s balance", req.Symbol)
	}
	bal := &b.wallet.Balances[i]
	fee := uint64(0)
	if bal.Symbol == "SOL" {
		fee = 5000
	}
	if req.Amount+fee > bal.Amount {
		return "", app.ErrInsufficientFunds
	}
	bal.Amount -= req.Amount + fee
	sig := fmt.Sprintf("5demo%039d", len(b.sent)+1)
	b.sent = append(b.sent, req)
	b.history = append([]app.Transfer{{
		Signature: sig, Time: b.tick(), Kind: app.TransferOut, Symbol: bal.Symbol,
		Amount: req.Amount, Decimals: bal.Decimals, Counterparty: req.To, Confirmed: true,
	}}, b.history...)
	b.publish(app.WalletChanged{})
	return sig, nil
}

// Sent lists the transfers sent so far, for tests.
func (b *Backend) Sent() []app.SendRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sent)
}

// History implements app.WalletBackend.
func (b *Backend) History(context.Context) ([]app.Transfer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.history), nil
}

// Earnings implements app.WalletBackend.
func (b *Backend) Earnings(_ context.Context, days int) ([]app.DayEarnings, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.earnings
	if len(e) > days {
		e = e[len(e)-days:]
	}
	return slices.Clone(e), nil
}

// SetCluster implements app.WalletBackend.
func (b *Backend) SetCluster(_ context.Context, c app.Cluster) error {
	switch c.Name {
	case "devnet", "testnet", "mainnet-beta":
		c.URL = "https://api." + c.Name + ".solana.com"
	case "custom":
		if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
			return errors.New("custom cluster: want an http(s) RPC URL")
		}
	default:
		return fmt.Errorf("unknown cluster %q", c.Name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.wallet.Cluster = c
	b.publish(app.WalletChanged{})
	return nil
}

// Payout records a confirmed settlement and publishes it.
func (b *Backend) Payout(lamports uint64, from string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := app.Transfer{
		Signature: fmt.Sprintf("4payout%037d", len(b.history)+1), Time: b.tick(),
		Kind: app.TransferPayout, Symbol: "SOL", Amount: lamports, Decimals: 9,
		Counterparty: from, Confirmed: true, Memo: "hearth settle",
	}
	b.history = append([]app.Transfer{t}, b.history...)
	if len(b.wallet.Balances) > 0 {
		b.wallet.Balances[0].Amount += lamports
	}
	b.publish(app.PayoutEvent{Transfer: t})
	b.publish(app.WalletChanged{})
}

// Settings implements app.SettingsBackend.
func (b *Backend) Settings(context.Context) (app.Settings, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.settings
	s.Schedule, s.TrustedPeers = slices.Clone(s.Schedule), slices.Clone(s.TrustedPeers)
	return s, nil
}

// UpdateSettings implements app.SettingsBackend.
func (b *Backend) UpdateSettings(_ context.Context, s app.Settings) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := validate(s, b.machine); err != nil {
		return fmt.Errorf("%w: %w", app.ErrInvalidSettings, err)
	}
	s.Schedule, s.TrustedPeers = slices.Clone(s.Schedule), slices.Clone(s.TrustedPeers)
	b.settings = s
	b.updates++
	b.publish(app.SettingsChanged{Settings: s})
	b.publish(app.StatusEvent{Status: b.status()})
	return nil
}

// Updates counts the accepted UpdateSettings calls, for tests.
func (b *Backend) Updates() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.updates
}

func validate(s app.Settings, m app.Machine) error {
	switch {
	case s.MaxThreads < 1 || s.MaxThreads > m.Threads:
		return fmt.Errorf("threads: want 1 to %d", m.Threads)
	case s.MaxRAMGiB <= 0 || s.MaxRAMGiB > float64(m.RAMBytes)/gib:
		return errors.New("RAM cap: beyond this machine's memory")
	case s.MaxVRAMGiB < 0 || s.MaxVRAMGiB > float64(m.VRAMBytes)/gib:
		return errors.New("VRAM cap: beyond this machine's GPU memory")
	case s.MaxCPUPercent < 1 || s.MaxCPUPercent > 100:
		return errors.New("CPU cap: want 1 to 100 %")
	case s.ThermalLimitC < 40 || s.ThermalLimitC > 100:
		return errors.New("thermal limit: want 40 to 100 °C")
	case s.MaxPayPrice > 1_000_000_000:
		return errors.New("most paid: want 0 to 1000000000 lamports per 1,000 token-layers")
	case strings.TrimSpace(s.DataDir) == "":
		return errors.New("data directory: empty")
	}
	// As the runtime checks them.
	for _, id := range s.TrustedPeers {
		if _, err := peer.Decode(id); err != nil {
			return fmt.Errorf("trusted peers: %q is not a peer ID", id)
		}
	}
	return nil
}

// Machine implements app.SettingsBackend.
func (b *Backend) Machine(context.Context) (app.Machine, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.machine, nil
}
