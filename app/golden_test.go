package app_test

import (
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

// TestTabGoldens renders every tab at the default window size in the light
// and the dark theme and compares it with testdata/tabs/<tab>-<theme>.png.
// After an intended change, copy testdata/failed/tabs/*.png over them.
func TestTabGoldens(t *testing.T) {
	for _, th := range []struct {
		name string
		mode app.ThemeMode
	}{{"light", app.ThemeLight}, {"dark", app.ThemeDark}} {
		for _, tab := range app.Tabs {
			t.Run(tab+"-"+th.name, func(t *testing.T) {
				h := start(t, demo.Options{}, tab, setTheme(th.mode))
				test.ApplyTheme(t, app.Theme(th.mode))
				h.settle()
				test.AssertImageMatches(t, "tabs/"+tab+"-"+th.name+".png", h.w.Canvas().Capture())
			})
		}
	}
}

func TestWalletSetupGolden(t *testing.T) {
	h := start(t, demo.Options{NoWallet: true}, app.TabWallet, setTheme(app.ThemeLight))
	test.ApplyTheme(t, app.Theme(app.ThemeLight))
	h.settle()
	test.AssertImageMatches(t, "tabs/wallet-setup-light.png", h.w.Canvas().Capture())
}

// TestSettingsLowerGolden renders the end of the Settings tab: the lending
// model and price, privacy with the trusted peers, and the Save button.
func TestSettingsLowerGolden(t *testing.T) {
	h := start(t, demo.Options{}, app.TabSettings, setTheme(app.ThemeLight))
	test.ApplyTheme(t, app.Theme(app.ThemeLight))
	h.settle()
	h.u.SettingsScrollToBottom()
	h.settle()
	test.AssertImageMatches(t, "tabs/settings-lower-light.png", h.w.Canvas().Capture())
}
