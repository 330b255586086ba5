package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

func (h *harness) settings() app.Settings {
	h.t.Helper()
	s, err := h.b.Settings(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func trayItem(m *fyne.Menu, prefix string) *fyne.MenuItem {
	for _, it := range m.Items {
		if strings.HasPrefix(it.Label, prefix) {
			return it
		}
	}
	return nil
}

func TestLendingToggleReachesBackend(t *testing.T) {
	h := start(t, demo.Options{}, app.TabSettings)
	check := h.u.SettingsLending()
	if !check.Checked {
		t.Fatal("lending shows off; the demo has it on")
	}
	if got := h.u.StatusLine(); got != "Lending · 3 sessions · 23.9 tok/s served" {
		t.Errorf("status %q", got)
	}
	test.Tap(check)
	h.waitFor("backend lending off", func() bool { return !h.settings().Lending })
	h.waitFor("status line", func() bool { return h.u.StatusLine() == "Lending paused · chat is local" })
	menu := h.u.TrayMenu()
	if menu.Items[0].Label != "Lending paused · chat is local" || trayItem(menu, "Resume lending") == nil {
		t.Errorf("tray menu: %q, %v", menu.Items[0].Label, menu.Items)
	}
	if h.b.Updates() != 1 {
		t.Errorf("%d updates, want 1", h.b.Updates())
	}

	trayItem(menu, "Resume lending").Action()
	h.waitFor("backend lending on", func() bool { return h.settings().Lending })
	h.waitFor("tray label", func() bool { return trayItem(menu, "Pause lending") != nil })
	if !check.Checked {
		t.Error("Settings check not updated by the tray")
	}
}

func TestSettingsValidation(t *testing.T) {
	h := start(t, demo.Options{}, app.TabSettings)
	for _, tc := range []struct {
		name   string
		edit   func()
		reason string
	}{
		{"thermal too high", func() { h.u.SettingsThermal().SetText("300") }, "between 40 and 100"},
		{"RAM beyond machine", func() { h.u.SettingsRAM().SetText("64") }, "between 0.5 and 32"},
		{"RAM not a number", func() { h.u.SettingsRAM().SetText("lots") }, "not a number"},
		{"bad schedule time", h.u.SettingsAddWindow, "window 3: time as HH:MM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.u.SettingsRevert()
			tc.edit()
			h.u.SettingsSave()
			h.settle()
			if msg := h.u.SettingsMessage(); !strings.Contains(msg, tc.reason) || !strings.HasPrefix(msg, "Not saved") {
				t.Errorf("message %q, want it to say %q", msg, tc.reason)
			}
			if h.b.Updates() != 0 {
				t.Error("invalid settings reached the backend")
			}
		})
	}
}

func TestSettingsSave(t *testing.T) {
	h := start(t, demo.Options{}, app.TabSettings)
	h.u.SettingsThermal().SetText("85")
	h.u.SettingsThreads().SetValue(8)
	h.u.SettingsPrivacy().SetSelected("Any peer")
	h.u.SettingsTheme().SetSelected("Dark")
	h.u.SettingsSave()
	h.waitFor("saved", func() bool { return h.u.SettingsMessage() != "" })
	if got := h.u.SettingsMessage(); got != "Saved." {
		t.Fatalf("message %q", got)
	}
	s := h.settings()
	if s.ThermalLimitC != 85 || s.MaxThreads != 8 || s.Privacy != app.PrivacyAny || s.Theme != app.ThemeDark || len(s.Schedule) != 2 {
		t.Errorf("stored %+v", s)
	}
	if got := fmt.Sprint(h.a.Settings().Theme()); got != fmt.Sprint(app.Theme(app.ThemeDark)) {
		t.Errorf("theme not applied: %v", got)
	}
}
