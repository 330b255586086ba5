package app_test

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

// TestSettingsShowsEstimate: the Settings tab shows the speed test and what
// lending could earn, and the figure follows the price and the schedule
// being edited, before Save, and a new speed test.
func TestSettingsShowsEstimate(t *testing.T) {
	h := start(t, demo.Options{}, app.TabSettings)
	// The demo: 910 token-layers/s, lending 86 h a week (Friday night and
	// Saturday overlap) at 20 lamports: 804,648 lamports a day.
	h.waitFor("the estimate", func() bool { return strings.Contains(h.u.SettingsEstimate(), "could earn") })
	est := h.u.SettingsEstimate()
	for _, want := range []string{"~38.4 tok/s on a 1B model", "910 tok/s per layer", "12 threads",
		"Lending 12.3 h/day at 20 lamports per 1,000 token-layers could earn ~0.0008 SOL a day", "22 layers of TinyLlama 1.1B Chat"} {
		if !strings.Contains(est, want) {
			t.Errorf("estimate lacks %q:\n%s", want, est)
		}
	}

	h.u.SettingsPrice().SetText("200")
	h.waitFor("ten times the price", func() bool {
		return strings.Contains(h.u.SettingsEstimate(), "at 200 lamports per 1,000 token-layers could earn ~0.0080 SOL a day")
	})
	h.u.SettingsPrice().SetText("2")
	h.waitFor("a tenth of the price", func() bool { return strings.Contains(h.u.SettingsEstimate(), "could earn ~80464 lamports a day") })
	h.u.SettingsPrice().SetText("0")
	h.waitFor("free lending", func() bool { return strings.Contains(h.u.SettingsEstimate(), "Lending for free earns nothing") })
	h.u.SettingsPrice().SetText("20")
	h.u.SettingsWindowStart(0).SetText("20:00") // weeknights from 20:00, not 22:00: 10 h a week more
	h.waitFor("a longer schedule", func() bool { return strings.Contains(h.u.SettingsEstimate(), "Lending 13.7 h/day") })
	if h.b.Updates() != 0 {
		t.Errorf("%d settings updates: the estimate must not save the form", h.b.Updates())
	}

	// A new speed test result is shown when the backend reports it.
	h.b.Publish(app.EstimateChanged{})
	h.waitFor("the estimate after a new speed test", func() bool { return strings.Contains(h.u.SettingsEstimate(), "Lending 13.7 h/day") })

	// "Measure again" asks the backend for a new speed test.
	test.Tap(h.u.SettingsMeasureAgain())
	h.waitFor("a new speed test", func() bool { return h.b.Measured() == 1 })
}
