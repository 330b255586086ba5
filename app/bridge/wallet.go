package bridge

import (
	"context"
	"slices"
	"strings"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/node/runtime"
)

// Wallet implements app.WalletBackend. Balances the cluster could not
// give are left out (the runtime logs why).
func (b *Backend) Wallet(ctx context.Context) (app.WalletInfo, error) {
	w, err := b.d.Wallet(ctx)
	if err != nil {
		return app.WalletInfo{}, mapErr(err)
	}
	out := app.WalletInfo{Exists: w.Exists, Address: w.Address, Cluster: cluster(w.Cluster, w.RPCURL),
		Payments: app.Payments{Unlocked: w.Payments.Unlocked, Owed: w.Payments.Owed, Providers: w.Payments.Providers}}
	for _, bal := range w.Balances {
		out.Balances = append(out.Balances, app.Balance{Symbol: bal.Symbol, Mint: bal.Mint, Amount: bal.Amount, Decimals: bal.Decimals})
	}
	return out, nil
}

// publicClusters are the clusters the GUI names; the others (localnet)
// show as custom with their URL.
var publicClusters = []string{"devnet", "testnet", "mainnet-beta"}

func cluster(name, url string) app.Cluster {
	for _, c := range publicClusters {
		if c == name {
			return app.Cluster{Name: name, URL: url}
		}
	}
	return app.Cluster{Name: "custom", URL: url}
}

// CreateWallet implements app.WalletBackend.
func (b *Backend) CreateWallet(ctx context.Context, password string) ([]string, error) {
	words, err := b.d.CreateWallet(ctx, password)
	return words, mapErr(err)
}

// ImportWallet implements app.WalletBackend.
func (b *Backend) ImportWallet(ctx context.Context, secret, password string) error {
	return mapErr(b.d.ImportWallet(ctx, secret, password))
}

// SendFunds implements app.WalletBackend.
func (b *Backend) SendFunds(ctx context.Context, req app.SendRequest) (string, error) {
	sig, err := b.d.SendFunds(ctx, runtime.SendRequest{To: strings.TrimSpace(req.To), Symbol: req.Symbol, Amount: req.Amount, Password: req.Password})
	return sig, mapErr(err)
}

// History implements app.WalletBackend.
func (b *Backend) History(ctx context.Context) ([]app.Transfer, error) {
	ts, err := b.d.History(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]app.Transfer, len(ts))
	for i, t := range ts {
		out[i] = transfer(t)
	}
	return out, nil
}

func transfer(t runtime.Transfer) app.Transfer {
	return app.Transfer{Signature: t.Signature, Time: t.Time, Kind: app.TransferKind(t.Kind), Symbol: t.Symbol,
		Amount: t.Amount, Decimals: t.Decimals, Counterparty: t.Counterparty, Confirmed: t.Confirmed, Memo: t.Memo}
}

// Earnings implements app.WalletBackend.
func (b *Backend) Earnings(ctx context.Context, days int) ([]app.DayEarnings, error) {
	es, err := b.d.Earnings(ctx, days)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]app.DayEarnings, len(es))
	for i, e := range es {
		out[i] = app.DayEarnings{Day: e.Day, Earned: e.Earned, Settled: e.Settled, Pending: e.Pending}
	}
	return out, nil
}

// SetCluster implements app.WalletBackend. A named cluster uses its
// public endpoint unless the URL says otherwise.
func (b *Backend) SetCluster(ctx context.Context, c app.Cluster) error {
	url := strings.TrimSpace(c.URL)
	if c.Name != "custom" && url == publicURL(c.Name) {
		url = ""
	}
	return mapErr(b.d.SetCluster(ctx, c.Name, url))
}

// UnlockPayments implements app.WalletBackend.
func (b *Backend) UnlockPayments(ctx context.Context, password string) error {
	return mapErr(b.d.UnlockPayments(ctx, password))
}

// LockPayments implements app.WalletBackend.
func (b *Backend) LockPayments() { b.d.LockPayments() }

// PayProviders implements app.WalletBackend.
func (b *Backend) PayProviders(ctx context.Context) ([]string, error) {
	sigs, err := b.d.PayProviders(ctx)
	return sigs, mapErr(err)
}

// publicURL is a named cluster's public RPC endpoint.
func publicURL(name string) string {
	switch name {
	case "devnet", "testnet", "mainnet-beta":
		return "https://api." + name + ".solana.com"
	}
	return ""
}

// Settings implements app.SettingsBackend.
func (b *Backend) Settings(ctx context.Context) (app.Settings, error) {
	return settings(b.d.Settings()), ctx.Err()
}

var (
	privacies = []runtime.Privacy{runtime.PrivacyNever, runtime.PrivacyTrusted, runtime.PrivacyAny} // by app.Privacy
	themes    = []string{runtime.ThemeSystem, runtime.ThemeDark, runtime.ThemeLight}                // by app.ThemeMode
)

func settings(s runtime.DesktopSettings) app.Settings {
	out := app.Settings{Lending: s.Lending, MaxThreads: s.MaxThreads, MaxRAMGiB: s.MaxRAMGiB, MaxVRAMGiB: s.MaxVRAMGiB,
		MaxCPUPercent: s.MaxCPUPercent, ThermalLimitC: s.ThermalLimitC, PauseOnBattery: s.PauseOnBattery, DataDir: s.DataDir,
		TrustedPeers: slices.Clone(s.TrustedPeers), LendModel: s.LendModel, Price: s.Price, MaxPayPrice: s.MaxPayPrice}
	for i, p := range privacies {
		if p == s.Privacy {
			out.Privacy = app.Privacy(i)
		}
	}
	for i, t := range themes {
		if t == s.Theme {
			out.Theme = app.ThemeMode(i)
		}
	}
	for _, w := range s.Schedule {
		days, start, end := runtime.WindowParts(w)
		out.Schedule = append(out.Schedule, app.Window{Days: days, Start: start, End: end})
	}
	return out
}

// UpdateSettings implements app.SettingsBackend: the GUI's fields over the
// stored settings (the runtime keeps some the GUI does not show).
func (b *Backend) UpdateSettings(ctx context.Context, s app.Settings) error {
	rs, err := b.runtimeSettings(s)
	if err != nil {
		return err
	}
	return mapErr(b.d.UpdateSettings(ctx, rs))
}

// runtimeSettings is s over the stored settings (the runtime keeps some
// the GUI does not show).
func (b *Backend) runtimeSettings(s app.Settings) (runtime.DesktopSettings, error) {
	rs := b.d.Settings()
	rs.Lending, rs.MaxThreads, rs.MaxRAMGiB, rs.MaxVRAMGiB = s.Lending, s.MaxThreads, s.MaxRAMGiB, s.MaxVRAMGiB
	rs.MaxCPUPercent, rs.ThermalLimitC, rs.PauseOnBattery = s.MaxCPUPercent, s.ThermalLimitC, s.PauseOnBattery
	rs.DataDir = strings.TrimSpace(s.DataDir)
	rs.TrustedPeers, rs.LendModel, rs.Price = slices.Clone(s.TrustedPeers), s.LendModel, s.Price
	rs.MaxPayPrice = s.MaxPayPrice
	if int(s.Privacy) < 0 || int(s.Privacy) >= len(privacies) {
		return rs, invalid("privacy: unknown mode %d", s.Privacy)
	}
	rs.Privacy = privacies[s.Privacy]
	if int(s.Theme) < 0 || int(s.Theme) >= len(themes) {
		return rs, invalid("theme: unknown mode %d", s.Theme)
	}
	rs.Theme = themes[s.Theme]
	rs.Schedule = rs.Schedule[:0:0]
	for _, w := range s.Schedule {
		hw, err := runtime.WeeklyWindow(w.Days, w.Start, w.End)
		if err != nil {
			return rs, invalid("schedule: %v", err)
		}
		rs.Schedule = append(rs.Schedule, hw)
	}
	return rs, nil
}

// EstimateEarnings implements app.SettingsBackend.
func (b *Backend) EstimateEarnings(ctx context.Context, s app.Settings) (app.EarningsEstimate, error) {
	rs, err := b.runtimeSettings(s)
	if err != nil {
		return app.EarningsEstimate{}, err
	}
	e := b.d.EstimateEarnings(rs)
	return app.EarningsEstimate{Ready: e.Ready, Running: e.Running, Err: e.Err,
		Model1BTokS: e.Bench.Model1BTokS, LayerTokS: e.Bench.LayerTokS, Threads: e.Bench.Threads,
		Model: e.Model, Layers: e.Layers, TokS: e.TokS, HoursPerDay: e.HoursPerDay, Price: e.Price, PerDay: e.PerDay}, ctx.Err()
}

// MeasureMachine implements app.SettingsBackend.
func (b *Backend) MeasureMachine(ctx context.Context) error {
	b.d.RunMachineBench(true)
	return ctx.Err()
}

// Machine implements app.SettingsBackend.
func (b *Backend) Machine(ctx context.Context) (app.Machine, error) {
	m, err := b.d.Machine(ctx)
	if err != nil {
		return app.Machine{}, err
	}
	return app.Machine{Threads: m.Threads, RAMBytes: m.RAMBytes, VRAMBytes: m.VRAMBytes, GPU: m.GPU, OnBattery: m.OnBattery}, nil
}
