package bridge

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/node/hardware"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
	"github.com/hearth-p2p/hearth/node/runtime"
	"github.com/hearth-p2p/hearth/wallet/keystore"
	"github.com/hearth-p2p/hearth/wallet/svmtest"
)

// sharedModel returns a model from ../shared/models beside the repository.
func sharedModel(t testing.TB, name string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", "models", name)
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("shared model: %v", err)
			}
			return p
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above the working directory")
		}
	}
}

// idleMachine is an idle 8-thread machine with 32 GiB.
type idleMachine struct{}

func (idleMachine) Read(context.Context) (hardware.Reading, error) {
	return hardware.Reading{Time: time.Now(), CPU: hardware.CPU{Cores: 4, Threads: 8, UsagePct: 3, OthersPct: 1},
		Mem: hardware.Mem{Total: 32 << 30, Available: 24 << 30}}, nil
}

type fixedMemory uint64

func (m fixedMemory) AvailableMemory() (uint64, error) { return uint64(m), nil }

// testConfig keeps the desktop in temporary directories and on loopback.
func testConfig(t *testing.T) runtime.DesktopConfig {
	cfg := runtime.DefaultDesktopConfig()
	cfg.DataDir, cfg.ConfigDir = t.TempDir(), t.TempDir()
	cfg.Threads, cfg.ChatContext = 1, 256
	cfg.P2P, cfg.ConsumerP2P = p2ptest.Config(), p2ptest.Config()
	cfg.Discovery.EnableDHT, cfg.Discovery.EnableMDNS = false, false
	cfg.Lending.HoldIdle, cfg.Lending.RAMReserveBytes = 100*time.Millisecond, 0
	cfg.Reader, cfg.Memory = idleMachine{}, fixedMemory(16<<30)
	cfg.Wallet.KDF = keystore.Params{Time: 1, MemoryKiB: 1024, Threads: 1}
	cfg.Wallet.Solana.PollInterval = 20 * time.Millisecond
	cfg.Wallet.Solana.RebroadcastInterval = 100 * time.Millisecond
	cfg.SampleInterval = 100 * time.Millisecond
	cfg.DiscoveryWait = 300 * time.Millisecond
	cfg.MachineBench = false // the benchmark has its own tests (node/runtime)
	return cfg
}

// open runs a backend over a fresh desktop with stories260K installed,
// released when the test ends.
func open(t *testing.T) (*Backend, runtime.DesktopConfig) {
	t.Helper()
	cfg := testConfig(t)
	b, release, err := OpenWith(context.Background(), cfg, p2ptest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	if _, err := b.Import(context.Background(), sharedModel(t, "stories260K.gguf")); err != nil {
		t.Fatal(err)
	}
	return b.(*Backend), cfg
}

// reply reads a reply to its end.
func reply(t *testing.T, ch <-chan app.ChatDelta) (string, int, app.ChatDelta) {
	t.Helper()
	var text string
	var n int
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case d, ok := <-ch:
			if !ok {
				t.Fatal("closed without a final delta")
			}
			text += d.Text
			if d.Done {
				if _, more := <-ch; more {
					t.Fatal("a delta after the final one")
				}
				return text, n, d
			}
			n++
		case <-timeout:
			t.Fatal("no end of reply in 2 minutes")
		}
	}
}

func greedy(max int) app.Sampling {
	return app.Sampling{Preset: "custom", Temperature: 0, TopP: 1, RepeatPenalty: 1, MaxTokens: max}
}

// TestChatThroughTheBridge: a conversation streams, stops and regenerates
// in the GUI's types, with its events.
func TestChatThroughTheBridge(t *testing.T) {
	b, _ := open(t)
	ctx := context.Background()
	sctx, cancel := context.WithCancel(ctx)
	events := b.Subscribe(sctx)

	ms, err := b.ChatModels(ctx)
	if err != nil || len(ms) != 1 || ms[0].ID != "stories260K" || !ms[0].Local {
		t.Fatalf("chat models %+v, %v", ms, err)
	}
	presets := b.SamplingPresets()
	if len(presets) != 3 || presets[0].Name != "balanced" || presets[0].Sampling.Preset != "balanced" {
		t.Fatalf("presets %+v", presets)
	}
	c, err := b.NewConversation(ctx)
	if err != nil || c.Settings.Model != "stories260K" || c.Settings.Offload != app.OffloadLocal || c.Settings.Sampling != presets[0].Sampling {
		t.Fatalf("new conversation %+v, %v", c, err)
	}
	set := app.ChatSettings{Model: c.Settings.Model, SystemPrompt: "Be brief.", Sampling: greedy(16)}
	if err := b.Configure(ctx, c.ID, set); err != nil {
		t.Fatal(err)
	}
	ch, err := b.Send(ctx, c.ID, "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	text, n, final := reply(t, ch)
	if n == 0 || text == "" || final.Err != nil || final.Stats.Tokens == 0 || final.Stats.TokensPerSec <= 0 ||
		(final.Stats.Finish != "stop" && final.Stats.Finish != "length") {
		t.Fatalf("reply %q in %d deltas, final %+v", text, n, final)
	}
	msgs, err := b.Messages(ctx, c.ID)
	if err != nil || len(msgs) != 2 || msgs[0].Role != app.RoleUser || msgs[1].Role != app.RoleAssistant || msgs[1].Text != text || msgs[1].Stats != final.Stats {
		t.Fatalf("messages %+v, %v", msgs, err)
	}
	cs, err := b.Conversations(ctx)
	if err != nil || len(cs) != 1 || cs[0].Title != "Once upon a time" || cs[0].Settings != set {
		t.Fatalf("conversations %+v, %v", cs, err)
	}

	ch, err = b.Regenerate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again, _, final := reply(t, ch); again != text || final.Err != nil {
		t.Fatalf("regenerated %q (%+v), want %q", again, final, text)
	}

	// Stop returns at once and the reply ends "cancelled".
	set.Sampling = greedy(0)
	if err := b.Configure(ctx, c.ID, set); err != nil {
		t.Fatal(err)
	}
	ch, err = b.Send(ctx, c.ID, "The end")
	if err != nil {
		t.Fatal(err)
	}
	first := <-ch
	start := time.Now()
	b.Stop(c.ID)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Stop took %v", d)
	}
	if first.Done {
		t.Fatalf("the reply ended before it was stopped: %+v", first)
	}
	if _, _, final := reply(t, ch); final.Stats.Finish != "cancelled" || final.Err != nil {
		t.Fatalf("stopped reply %+v", final)
	}

	if err := b.RenameConversation(ctx, c.ID, "Tales"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteConversation(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	var seen []string
	deadline := time.After(30 * time.Second)
	for !slices.Contains(seen, "conversations") || !slices.Contains(seen, "status") {
		select {
		case ev := <-events:
			switch ev.(type) {
			case app.ConversationsChanged:
				seen = append(seen, "conversations")
			case app.StatusEvent:
				seen = append(seen, "status")
			}
		case <-deadline:
			t.Fatalf("events seen: %v", seen)
		}
	}
	cancel()
	for range events { // closed once the context ends
	}
}

// TestSettingsThroughTheBridge: the GUI's settings round trip, and a bad
// value is app.ErrInvalidSettings naming the field.
func TestSettingsThroughTheBridge(t *testing.T) {
	b, cfg := open(t)
	ctx := context.Background()
	m, err := b.Machine(ctx)
	if err != nil || m.Threads != 8 || m.RAMBytes != 32<<30 {
		t.Fatalf("machine %+v, %v", m, err)
	}
	s, err := b.Settings(ctx)
	if err != nil || s.Lending || s.Privacy != app.PrivacyAny || s.Theme != app.ThemeSystem || s.DataDir != cfg.DataDir {
		t.Fatalf("defaults %+v, %v", s, err)
	}
	s.Schedule = []app.Window{{Days: []time.Weekday{1, 2, 3, 4, 5}, Start: "22:00", End: "07:00"}, {Days: []time.Weekday{0, 6}, Start: "00:00", End: "24:00"}}
	s.MaxThreads, s.MaxRAMGiB, s.MaxCPUPercent, s.ThermalLimitC = 6, 12, 70, 80
	s.Privacy, s.Theme, s.PauseOnBattery = app.PrivacyTrusted, app.ThemeDark, false
	s.TrustedPeers = []string{"12D3KooWRndVhVZPCiQwHBBBdg769GyrPUW13zxwqQyf9r3ANaba", "12D3KooWPT98FXMfDQYavZm66EeVjTqP9Nnehn1gyaydqV8L8BQw"}
	s.LendModel, s.Price, s.MaxPayPrice = "stories260K", 1500, 40_000
	if err := b.UpdateSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := b.Settings(ctx)
	if err != nil || !equalSettings(got, s) {
		t.Fatalf("stored %+v, want %+v (%v)", got, s, err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*app.Settings)
	}{
		{"threads", func(s *app.Settings) { s.MaxThreads = 99 }},
		{"CPU cap", func(s *app.Settings) { s.MaxCPUPercent = 0 }},
		{"schedule", func(s *app.Settings) {
			s.Schedule = []app.Window{{Days: []time.Weekday{1}, Start: "25:00", End: "07:00"}}
		}},
		{"schedule", func(s *app.Settings) { s.Schedule = []app.Window{{Start: "22:00", End: "07:00"}} }},
		{"privacy", func(s *app.Settings) { s.Privacy = 7 }},
		{"most paid", func(s *app.Settings) { s.MaxPayPrice = 2_000_000_000 }},
		{`trusted peers: "my-phone" is not a peer ID`, func(s *app.Settings) { s.TrustedPeers = append(s.TrustedPeers, "my-phone") }},
	} {
		bad := got
		tc.edit(&bad)
		err := b.UpdateSettings(ctx, bad)
		if !errors.Is(err, app.ErrInvalidSettings) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want app.ErrInvalidSettings naming it", tc.field, err)
		}
	}
	if err := b.SetCluster(ctx, app.Cluster{Name: "custom"}); !errors.Is(err, app.ErrInvalidSettings) {
		t.Errorf("custom cluster without URL: %v", err)
	}
	if _, err := b.SendFunds(ctx, app.SendRequest{To: "x", Symbol: "SOL", Amount: 1, Password: "password"}); !errors.Is(err, app.ErrNoWallet) {
		t.Errorf("send without a wallet: %v", err)
	}
	if w, err := b.Wallet(ctx); err != nil || w.Exists || w.Cluster != (app.Cluster{Name: "devnet", URL: "https://api.devnet.solana.com"}) {
		t.Errorf("no wallet yet: %+v, %v", w, err)
	}
}

func equalSettings(a, b app.Settings) bool {
	if len(a.Schedule) != len(b.Schedule) {
		return false
	}
	for i := range a.Schedule {
		x, y := a.Schedule[i], b.Schedule[i]
		slices.Sort(x.Days)
		slices.Sort(y.Days)
		if !slices.Equal(x.Days, y.Days) || x.Start != y.Start || x.End != y.End {
			return false
		}
	}
	a.Schedule, b.Schedule = nil, nil
	return reflect.DeepEqual(a, b)
}

// TestWalletThroughTheBridge: wallet errors arrive as the GUI's sentinels.
func TestWalletThroughTheBridge(t *testing.T) {
	srv := svmtest.Start(t)
	b, _ := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.SetCluster(ctx, app.Cluster{Name: "custom", URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	words, err := b.CreateWallet(ctx, "correct horse")
	if err != nil || len(words) != 24 {
		t.Fatalf("create: %v", err)
	}
	w, err := b.Wallet(ctx)
	if err != nil || !w.Exists || w.Cluster != (app.Cluster{Name: "custom", URL: srv.URL}) || len(w.Balances) != 1 || w.Balances[0].Symbol != "SOL" {
		t.Fatalf("wallet %+v, %v", w, err)
	}
	to := "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
	if _, err := b.SendFunds(ctx, app.SendRequest{To: to, Symbol: "SOL", Amount: 1, Password: "wrong one"}); !errors.Is(err, app.ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := b.SendFunds(ctx, app.SendRequest{To: to, Symbol: "SOL", Amount: 1_000_000, Password: "correct horse"}); !errors.Is(err, app.ErrInsufficientFunds) {
		t.Errorf("an empty wallet: %v", err)
	}
	if h, err := b.History(ctx); err != nil || len(h) != 0 {
		t.Errorf("history %+v, %v", h, err)
	}
	if e, err := b.Earnings(ctx, 14); err != nil || len(e) != 14 {
		t.Errorf("earnings %+v, %v", e, err)
	}

	// Payments unlock with the password and lock again; nothing is owed.
	if err := b.UnlockPayments(ctx, "wrong one"); !errors.Is(err, app.ErrWrongPassword) {
		t.Errorf("unlocking with a wrong password: %v", err)
	}
	if err := b.UnlockPayments(ctx, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if w, err := b.Wallet(ctx); err != nil || w.Payments != (app.Payments{Unlocked: true}) {
		t.Errorf("payments unlocked: %+v, %v", w.Payments, err)
	}
	if sigs, err := b.PayProviders(ctx); err != nil || len(sigs) != 0 {
		t.Errorf("paying nothing owed: %v, %v", sigs, err)
	}
	b.LockPayments()
	if w, err := b.Wallet(ctx); err != nil || w.Payments.Unlocked {
		t.Errorf("payments locked: %+v, %v", w.Payments, err)
	}
}

// TestOpenWithTheDefaults opens the runtime as `hearth` does (the real
// hardware sampler, the OS directories pointed at temporary ones) and
// releases it.
func TestOpenWithTheDefaults(t *testing.T) {
	t.Setenv("HEARTH_DATA_DIR", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv(LogLevelEnv, "warn")
	b, release, err := Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := b.Machine(ctx)
	if err != nil || m.Threads < 1 || m.RAMBytes == 0 {
		t.Errorf("machine %+v, %v", m, err)
	}
	s, err := b.Settings(ctx)
	if err != nil || s.DataDir != os.Getenv("HEARTH_DATA_DIR") || s.Lending {
		t.Errorf("settings %+v, %v", s, err)
	}
	if cat, err := b.Catalog(ctx); err != nil || len(cat) == 0 {
		t.Errorf("built-in catalog: %d entries, %v", len(cat), err)
	}
	if st, err := b.Status(ctx); err != nil || st.Line == "" {
		t.Errorf("status %+v, %v", st, err)
	}
	done := make(chan struct{})
	go func() { release(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("release did not return")
	}

	t.Setenv(LogLevelEnv, "loud")
	if _, _, err := Open(context.Background()); err == nil || !strings.Contains(err.Error(), LogLevelEnv) {
		t.Errorf("a bad log level: %v", err)
	}
}
