package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/node/hardware"
)

// TestDesktopSettings stores settings, finds them after a restart, and
// refuses values out of range with the field named.
func TestDesktopSettings(t *testing.T) {
	cfg := testDesktopConfig(t)
	d := openDesktop(t, cfg)
	log := watchEvents(t, d)
	ctx := context.Background()
	m, err := d.Machine(ctx)
	if err != nil || m.Threads != 8 || m.RAMBytes != 32<<30 {
		t.Fatalf("machine %+v, %v", m, err)
	}
	s := d.Settings()
	if s.Lending || s.MaxThreads != 4 || s.MaxRAMGiB != 16 || s.Privacy != PrivacyAny || s.DataDir != cfg.DataDir || s.Cluster != "devnet" {
		t.Fatalf("defaults %+v", s)
	}
	night, err := hardware.ParseWindow("weekdays 22:00-07:00")
	if err != nil {
		t.Fatal(err)
	}
	s.Schedule = []hardware.Window{night}
	s.MaxThreads, s.MaxCPUPercent, s.ThermalLimitC = 6, 60, 75
	s.Privacy, s.Theme, s.MaxPayPrice = PrivacyTrusted, ThemeDark, 50_000
	s.TrustedPeers = []string{"12D3KooWQm7E4sR3YH8pV2JbzLkDfA9cN1xTgUe6WvPqMhZrKoYs"}
	if err := d.UpdateSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "SettingsChanged", hasEvent[SettingsChanged])
	if _, err := os.Stat(filepath.Join(cfg.ConfigDir, SettingsFile)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		field string
		edit  func(*DesktopSettings)
	}{
		{"threads", func(s *DesktopSettings) { s.MaxThreads = 9 }},
		{"threads", func(s *DesktopSettings) { s.MaxThreads = 0 }},
		{"RAM cap", func(s *DesktopSettings) { s.MaxRAMGiB = 64 }},
		{"VRAM cap", func(s *DesktopSettings) { s.MaxVRAMGiB = 1 }}, // no GPU
		{"CPU cap", func(s *DesktopSettings) { s.MaxCPUPercent = 101 }},
		{"thermal limit", func(s *DesktopSettings) { s.ThermalLimitC = 20 }},
		{"most paid", func(s *DesktopSettings) { s.MaxPayPrice = MaxPayPriceLimit + 1 }},
		{"data directory", func(s *DesktopSettings) { s.DataDir = "relative/dir" }},
		{"privacy", func(s *DesktopSettings) { s.Privacy = "some" }},
		{"theme", func(s *DesktopSettings) { s.Theme = "sepia" }},
		{"cluster", func(s *DesktopSettings) { s.Cluster = "custom" }},
		{"trusted peers", func(s *DesktopSettings) { s.TrustedPeers = []string{"me"} }},
		{"schedule", func(s *DesktopSettings) {
			s.Schedule = []hardware.Window{{Days: hardware.Weekdays, Start: 60, End: 2000}}
		}},
	} {
		t.Run(tc.field, func(t *testing.T) {
			bad := d.Settings()
			tc.edit(&bad)
			err := d.UpdateSettings(ctx, bad)
			if !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %v, want ErrInvalidSettings naming %q", err, tc.field)
			}
		})
	}

	d.Close()
	d2 := openDesktop(t, cfg)
	got := d2.Settings()
	if got.MaxThreads != 6 || got.Privacy != PrivacyTrusted || got.Theme != ThemeDark || len(got.Schedule) != 1 ||
		got.Schedule[0] != night || len(got.TrustedPeers) != 1 || got.MaxPayPrice != 50_000 {
		t.Fatalf("after restart %+v", got)
	}
}

// TestSettingsFileRecovery: a broken or out-of-range settings file does
// not stop the app; the bad values are reset.
func TestSettingsFileRecovery(t *testing.T) {
	m := Machine{Threads: 8, RAMBytes: 32 << 30}
	def := DefaultDesktopSettings(m, "/data")
	dir := t.TempDir()
	path := filepath.Join(dir, SettingsFile)
	os.WriteFile(path, []byte("{not json"), 0o600)
	s, note, err := loadSettings(path, def, m)
	if err != nil || note == "" || s.MaxThreads != def.MaxThreads {
		t.Fatalf("broken file: %+v %q %v", s, note, err)
	}
	os.WriteFile(path, []byte(`{"lending":true,"max_threads":64,"max_ram_gib":8,"max_cpu_percent":40,"thermal_limit_c":80,"privacy":"any","data_dir":"/elsewhere","theme":"light","cluster":"testnet"}`), 0o600)
	s, note, err = loadSettings(path, def, m)
	if err != nil || note == "" || s.MaxThreads != def.MaxThreads || !s.Lending || s.MaxRAMGiB != 8 || s.DataDir != "/elsewhere" || s.Theme != ThemeLight {
		t.Fatalf("out-of-range threads: %+v %q %v", s, note, err)
	}
	if err := s.Validate(m); err != nil {
		t.Fatal(err)
	}
}
