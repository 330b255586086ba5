package app_test

import (
	"context"
	"fmt"
	"slices"
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
		{"price negative", func() { h.u.SettingsPrice().SetText("-5") }, "price: a whole number of lamports, 0 or more"},
		{"price fractional", func() { h.u.SettingsPrice().SetText("1.5") }, "price: a whole number of lamports"},
		{"price empty", func() { h.u.SettingsPrice().SetText(" ") }, "price: a whole number of lamports"},
		{"price beyond uint64", func() { h.u.SettingsPrice().SetText("18446744073709551616") }, "price: a whole number of lamports"},
		{"most I pay fractional", func() { h.u.SettingsMaxPay().SetText("0.5") }, "most I pay: a whole number of lamports, 0 or more"},
		{"most I pay beyond the backend's bound", func() { h.u.SettingsMaxPay().SetText("2000000000") }, "most paid: want 0 to"},
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
	if got := h.u.SettingsMaxPay().Text; got != "50" {
		t.Errorf("most I pay shows %q", got)
	}
	h.u.SettingsMaxPay().SetText(" 1200 ")
	h.u.SettingsSave()
	h.waitFor("saved", func() bool { return h.u.SettingsMessage() != "" })
	if got := h.u.SettingsMessage(); got != "Saved." {
		t.Fatalf("message %q", got)
	}
	s := h.settings()
	if s.ThermalLimitC != 85 || s.MaxThreads != 8 || s.Privacy != app.PrivacyAny || s.Theme != app.ThemeDark || len(s.Schedule) != 2 || s.MaxPayPrice != 1200 {
		t.Errorf("stored %+v", s)
	}
	if got := fmt.Sprint(h.a.Settings().Theme()); got != fmt.Sprint(app.Theme(app.ThemeDark)) {
		t.Errorf("theme not applied: %v", got)
	}
}

// Valid peer IDs (Ed25519 keys).
const (
	laptopID = "12D3KooWRndVhVZPCiQwHBBBdg769GyrPUW13zxwqQyf9r3ANaba"
	phoneID  = "12D3KooWPT98FXMfDQYavZm66EeVjTqP9Nnehn1gyaydqV8L8BQw"
)

// TestSettingsTrustedPeers: the trusted peers' entry is editable only with
// "Trusted peers only"; the IDs typed one per line (blank lines and spaces
// ignored) reach the backend with the privacy choice, and an ID the
// backend rejects is not saved, with the backend's reason shown.
func TestSettingsTrustedPeers(t *testing.T) {
	h := start(t, demo.Options{}, app.TabSettings)
	trusted := h.u.SettingsTrusted()
	if trusted.Disabled() || !strings.Contains(trusted.Text, "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5") {
		t.Fatalf("trusted peers disabled=%v, %q; the demo trusts two", trusted.Disabled(), trusted.Text)
	}
	h.u.SettingsPrivacy().SetSelected("Any peer")
	if !trusted.Disabled() {
		t.Error("trusted peers editable with any peer allowed")
	}
	h.u.SettingsPrivacy().SetSelected("Trusted peers only (my devices)")
	if trusted.Disabled() {
		t.Fatal("trusted peers not editable with trusted peers only")
	}
	trusted.SetText("  " + laptopID + "\n\n" + phoneID + "  \n")
	h.u.SettingsSave()
	h.waitFor("saved", func() bool { return h.u.SettingsMessage() != "" })
	if got := h.u.SettingsMessage(); got != "Saved." {
		t.Fatalf("message %q", got)
	}
	s := h.settings()
	if s.Privacy != app.PrivacyTrusted || !slices.Equal(s.TrustedPeers, []string{laptopID, phoneID}) {
		t.Fatalf("stored privacy %v, trusted %q", s.Privacy, s.TrustedPeers)
	}
	if got := trusted.Text; got != laptopID+"\n"+phoneID {
		t.Errorf("entry after saving %q", got)
	}

	// Another privacy keeps the list for later.
	h.u.SettingsPrivacy().SetSelected("Never offload")
	h.u.SettingsSave()
	h.waitFor("saved", func() bool { return h.b.Updates() == 2 })
	if s := h.settings(); s.Privacy != app.PrivacyNever || len(s.TrustedPeers) != 2 {
		t.Errorf("stored privacy %v, trusted %q", s.Privacy, s.TrustedPeers)
	}

	h.u.SettingsPrivacy().SetSelected("Trusted peers only (my devices)")
	trusted.SetText(laptopID + "\nmy-phone")
	h.u.SettingsSave()
	h.waitFor("rejected", func() bool { return strings.HasPrefix(h.u.SettingsMessage(), "Not saved") })
	if msg := h.u.SettingsMessage(); !strings.Contains(msg, `trusted peers: "my-phone" is not a peer ID`) {
		t.Errorf("message %q", msg)
	}
	if s := h.settings(); h.b.Updates() != 2 || s.Privacy != app.PrivacyNever {
		t.Errorf("rejected settings stored: %+v", s)
	}

	// Trusted peers only, with nobody trusted: saved, with a warning.
	h.u.SettingsPrivacy().SetSelected("Trusted peers only (my devices)")
	trusted.SetText("")
	h.u.SettingsSave()
	h.waitFor("saved", func() bool { return h.b.Updates() == 3 })
	h.waitFor("warned", func() bool {
		return strings.HasPrefix(h.u.SettingsMessage(), "Saved. No trusted peers yet")
	})
	if s := h.settings(); s.Privacy != app.PrivacyTrusted || len(s.TrustedPeers) != 0 {
		t.Errorf("stored privacy %v, trusted %q", s.Privacy, s.TrustedPeers)
	}
}

// TestSettingsLendModelAndPrice: the lend model select offers the first
// installed model (named) and each installed one; the choice and the price
// reach the backend as the model's ID and lamports; a lend model removed
// from the store stays selected, marked not installed.
func TestSettingsLendModelAndPrice(t *testing.T) {
	h := start(t, demo.Options{}, app.TabSettings)
	sel, price := h.u.SettingsLendModel(), h.u.SettingsPrice()
	want := []string{"First installed model (TinyLlama 1.1B Chat)", "TinyLlama 1.1B Chat", "Llama 3.2 3B Instruct", "Qwen2.5 7B Instruct"}
	if !slices.Equal(sel.Options, want) || sel.Selected != want[0] || price.Text != "20" {
		t.Fatalf("options %q, selected %q, price %q", sel.Options, sel.Selected, price.Text)
	}
	sel.SetSelected("Llama 3.2 3B Instruct")
	price.SetText("1500")
	h.u.SettingsSave()
	h.waitFor("saved", func() bool { return h.u.SettingsMessage() != "" })
	if got := h.u.SettingsMessage(); got != "Saved." {
		t.Fatalf("message %q", got)
	}
	if s := h.settings(); s.LendModel != "llama-3.2-3b-instruct-q4_k_m" || s.Price != 1500 {
		t.Fatalf("stored lend model %q, price %d", s.LendModel, s.Price)
	}

	if err := h.b.Remove(context.Background(), "llama-3.2-3b-instruct-q4_k_m"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("options without the removed model", func() bool { return len(sel.Options) == 4 && !slices.Contains(sel.Options, "Llama 3.2 3B Instruct") })
	if sel.Selected != "llama-3.2-3b-instruct-q4_k_m (not installed)" {
		t.Errorf("selected %q after removal", sel.Selected)
	}

	sel.SetSelected(sel.Options[0])
	price.SetText("0")
	h.u.SettingsSave()
	h.waitFor("saved", func() bool { return h.b.Updates() == 2 })
	if s := h.settings(); s.LendModel != "" || s.Price != 0 {
		t.Errorf("stored lend model %q, price %d; want the first installed, free", s.LendModel, s.Price)
	}
}

// TestSettingsPriceWithoutWallet: a price without a wallet saves, and the
// status line shows the backend's note that lending cannot start.
func TestSettingsPriceWithoutWallet(t *testing.T) {
	h := start(t, demo.Options{NoWallet: true}, app.TabSettings)
	h.u.SettingsPrice().SetText("100")
	h.u.SettingsSave()
	h.waitFor("saved", func() bool { return h.u.SettingsMessage() == "Saved." })
	h.waitFor("status note", func() bool { return strings.Contains(h.u.StatusLine(), "a price needs a wallet") })
	if s := h.settings(); s.Price != 100 {
		t.Errorf("stored price %d", s.Price)
	}
}
