package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/hearth-p2p/hearth/node/hardware"
	"github.com/hearth-p2p/hearth/wallet/solana"
)

// ErrInvalidSettings is wrapped by every error DesktopSettings.Validate
// returns; the message names the field.
var ErrInvalidSettings = errors.New("invalid settings")

// Privacy limits which peers offloading conversations may use.
type Privacy string

// Privacy modes.
const (
	PrivacyNever   Privacy = "never"   // no conversation offloads
	PrivacyTrusted Privacy = "trusted" // only to TrustedPeers (the user's own devices)
	PrivacyAny     Privacy = "any"     // to any provider the planner picks
)

// Themes.
const (
	ThemeSystem = "system"
	ThemeDark   = "dark"
	ThemeLight  = "light"
)

// SettingsFile is the settings' file name in the config directory.
const SettingsFile = "settings.json"

// DesktopSettings are the user's preferences, kept as JSON in the config
// directory. Lending runs a shard provider under the lending policy these
// caps and the schedule make (see Policy).
type DesktopSettings struct {
	Lending        bool              `json:"lending"`
	Schedule       []hardware.Window `json:"schedule,omitempty"` // lend only inside; empty: any time
	MaxThreads     int               `json:"max_threads"`
	MaxRAMGiB      float64           `json:"max_ram_gib"`
	MaxVRAMGiB     float64           `json:"max_vram_gib"`
	MaxCPUPercent  int               `json:"max_cpu_percent"`
	ThermalLimitC  int               `json:"thermal_limit_c"`
	PauseOnBattery bool              `json:"pause_on_battery"`
	Privacy        Privacy           `json:"privacy"`
	// TrustedPeers are the peer IDs PrivacyTrusted allows.
	TrustedPeers []string `json:"trusted_peers,omitempty"`
	// DataDir holds models, conversations, the wallet and the node
	// identity. A change applies at the next start.
	DataDir string `json:"data_dir"`
	Theme   string `json:"theme"`
	// LendModel is the installed model lending serves; "": the first one.
	LendModel string `json:"lend_model,omitempty"`
	// Price is what lending charges, in lamports per 1,000 token-layers;
	// 0 serves for free. A price needs a wallet (the payout address).
	Price uint64 `json:"price,omitempty"`
	// MaxPayPrice is the most offloading pays, in lamports per 1,000
	// token-layers, once payments are unlocked (see UnlockPayments); 0
	// uses free providers only.
	MaxPayPrice uint64 `json:"max_pay_price,omitempty"`
	// Cluster and RPCURL are the wallet's Solana cluster ("custom" needs
	// the URL; for the others it overrides the public endpoint).
	Cluster string `json:"cluster"`
	RPCURL  string `json:"rpc_url,omitempty"`
}

// Machine is the hardware the settings' caps are bounded by.
type Machine struct {
	Threads   int
	RAMBytes  uint64
	VRAMBytes uint64 // 0: no GPU seen
	GPU       string
	OnBattery bool
}

const gib = 1 << 30

// DefaultDesktopSettings lends nothing, keeps chat local, and caps lending
// at half of m when the user turns it on.
func DefaultDesktopSettings(m Machine, dataDir string) DesktopSettings {
	return DesktopSettings{
		MaxThreads:     max(1, m.Threads/2),
		MaxRAMGiB:      roundGiB(float64(m.RAMBytes) / gib / 2),
		MaxVRAMGiB:     roundGiB(float64(m.VRAMBytes) / gib / 2),
		MaxCPUPercent:  50,
		ThermalLimitC:  85,
		PauseOnBattery: true,
		Privacy:        PrivacyAny,
		DataDir:        dataDir,
		Theme:          ThemeSystem,
		Cluster:        string(solana.Devnet),
	}
}

// MaxPayPriceLimit bounds DesktopSettings.MaxPayPrice: 1 SOL per 1,000
// token-layers, far above any sensible price (a typo guard).
const MaxPayPriceLimit = 1_000_000_000

// roundGiB rounds down to a tenth of a GiB.
func roundGiB(x float64) float64 { return math.Floor(x*10) / 10 }

// Validate checks s against machine m; the error wraps ErrInvalidSettings
// and names the field.
func (s DesktopSettings) Validate(m Machine) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidSettings, field, fmt.Sprintf(format, args...))
	}
	ramGiB, vramGiB := float64(m.RAMBytes)/gib, float64(m.VRAMBytes)/gib
	switch {
	case s.MaxThreads < 1 || (m.Threads > 0 && s.MaxThreads > m.Threads):
		return bad("threads", "want 1 to %d", m.Threads)
	case !(s.MaxRAMGiB > 0) || (m.RAMBytes > 0 && s.MaxRAMGiB > ramGiB+0.05):
		return bad("RAM cap", "want more than 0 and at most this machine's %.1f GiB", ramGiB)
	case !(s.MaxVRAMGiB >= 0) || s.MaxVRAMGiB > vramGiB+0.05:
		return bad("VRAM cap", "want 0 to this machine's %.1f GiB", vramGiB)
	case s.MaxCPUPercent < 1 || s.MaxCPUPercent > 100:
		return bad("CPU cap", "want 1 to 100 %%")
	case s.ThermalLimitC < 40 || s.ThermalLimitC > 100:
		return bad("thermal limit", "want 40 to 100 °C")
	case s.MaxPayPrice > MaxPayPriceLimit:
		return bad("most paid", "want 0 to %d lamports per 1,000 token-layers", MaxPayPriceLimit)
	case strings.TrimSpace(s.DataDir) == "" || !filepath.IsAbs(s.DataDir):
		return bad("data directory", "want an absolute path, got %q", s.DataDir)
	}
	for _, w := range s.Schedule {
		if err := w.Validate(); err != nil {
			return bad("schedule", "%v", err)
		}
	}
	for _, id := range s.TrustedPeers {
		if _, err := peer.Decode(id); err != nil {
			return bad("trusted peers", "%q is not a peer ID", id)
		}
	}
	switch s.Privacy {
	case PrivacyNever, PrivacyTrusted, PrivacyAny:
	default:
		return bad("privacy", "want never, trusted or any, got %q", s.Privacy)
	}
	switch s.Theme {
	case ThemeSystem, ThemeDark, ThemeLight:
	default:
		return bad("theme", "want system, dark or light, got %q", s.Theme)
	}
	c, err := solana.ParseCluster(s.Cluster)
	if err != nil {
		return bad("cluster", "%v", err)
	}
	sc := solana.DefaultConfig()
	sc.Cluster, sc.RPCURL = c, s.RPCURL
	if err := sc.Validate(); err != nil {
		return bad("cluster", "%v", err)
	}
	return nil
}

// Policy is the lending policy the settings make from base (the
// thresholds and timings the settings do not cover).
func (s DesktopSettings) Policy(base hardware.Policy) hardware.Policy {
	p := base
	p.Enabled = true
	p.Schedule = hardware.Schedule(s.Schedule)
	p.MaxThreads = s.MaxThreads
	p.MaxCoresPct = float64(s.MaxCPUPercent)
	p.MaxRAMBytes = uint64(s.MaxRAMGiB * gib)
	p.MaxVRAMBytes = uint64(s.MaxVRAMGiB * gib)
	p.MaxTempC = float64(s.ThermalLimitC)
	p.PauseOnBattery = s.PauseOnBattery
	return p
}

// clone copies the slices of s.
func (s DesktopSettings) clone() DesktopSettings {
	s.Schedule = append([]hardware.Window(nil), s.Schedule...)
	s.TrustedPeers = append([]string(nil), s.TrustedPeers...)
	return s
}

// loadSettings reads the settings file. A missing file gives the defaults;
// a file that cannot be parsed, or fields out of range for this machine,
// are replaced by the defaults and reported in the returned note.
func loadSettings(path string, def DesktopSettings, m Machine) (DesktopSettings, string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return def, "", nil
	}
	if err != nil {
		return def, "", fmt.Errorf("read settings: %w", err)
	}
	s := def
	if err := json.Unmarshal(raw, &s); err != nil {
		return def, fmt.Sprintf("settings file %s is unreadable (%v); using the defaults", path, err), nil
	}
	if err := s.Validate(m); err != nil {
		fixed := sanitize(s, def, m)
		return fixed, fmt.Sprintf("settings file %s: %v; out-of-range values reset", path, err), nil
	}
	return s, "", nil
}

// sanitize replaces the fields of s that fail validation with def's.
func sanitize(s, def DesktopSettings, m Machine) DesktopSettings {
	fix := []func(*DesktopSettings){
		func(x *DesktopSettings) { x.MaxThreads = def.MaxThreads },
		func(x *DesktopSettings) { x.MaxRAMGiB = def.MaxRAMGiB },
		func(x *DesktopSettings) { x.MaxVRAMGiB = def.MaxVRAMGiB },
		func(x *DesktopSettings) { x.MaxCPUPercent = def.MaxCPUPercent },
		func(x *DesktopSettings) { x.ThermalLimitC = def.ThermalLimitC },
		func(x *DesktopSettings) { x.MaxPayPrice = def.MaxPayPrice },
		func(x *DesktopSettings) { x.DataDir = def.DataDir },
		func(x *DesktopSettings) { x.Schedule = nil },
		func(x *DesktopSettings) { x.Privacy = def.Privacy },
		func(x *DesktopSettings) { x.Theme = def.Theme },
		func(x *DesktopSettings) { x.Cluster, x.RPCURL = def.Cluster, def.RPCURL },
	}
	for _, f := range fix {
		if s.Validate(m) == nil {
			break
		}
		trial := s
		f(&trial)
		// Keep a reset only when it removes this error.
		if before, after := s.Validate(m), trial.Validate(m); after == nil || before.Error() != after.Error() {
			s = trial
		}
	}
	if s.Validate(m) != nil {
		return def
	}
	return s
}

// saveSettings writes s atomically (a temporary file renamed into place).
func saveSettings(path string, s DesktopSettings) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".settings-*")
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	_, werr := tmp.Write(append(raw, '\n'))
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save settings: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save settings: %w", err)
	}
	return nil
}

// WeeklyWindow makes a schedule window open on days from start to end
// ("HH:MM"; an end before the start runs past midnight).
func WeeklyWindow(days []time.Weekday, start, end string) (hardware.Window, error) {
	if len(days) == 0 {
		return hardware.Window{}, fmt.Errorf("%w: no days", hardware.ErrBadWindow)
	}
	names := make([]string, 0, len(days))
	for _, d := range days {
		if d < time.Sunday || d > time.Saturday {
			return hardware.Window{}, fmt.Errorf("%w: day %d", hardware.ErrBadWindow, d)
		}
		names = append(names, d.String()[:3])
	}
	return hardware.ParseWindow(strings.Join(names, ",") + " " + strings.TrimSpace(start) + "-" + strings.TrimSpace(end))
}

// WindowParts splits a schedule window into its days (Sunday first) and
// its "HH:MM" start and end.
func WindowParts(w hardware.Window) (days []time.Weekday, start, end string) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if w.Days.Has(d) {
			days = append(days, d)
		}
	}
	clock := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	return days, clock(w.Start), clock(w.End)
}
