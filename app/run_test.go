package app_test

import (
	"os"
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/app/internal/demo"
)

func TestAppIDMatchesFyneApp(t *testing.T) {
	data, err := os.ReadFile("../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `ID = "`+app.AppID+`"`) {
		t.Errorf("FyneApp.toml does not declare ID %q", app.AppID)
	}
}

func TestWindowSizeAndTray(t *testing.T) {
	h := start(t, demo.Options{}, "no-such-tab")
	if h.u.SelectedTab() != app.TabChat {
		t.Errorf("unknown tab opened %q, want chat", h.u.SelectedTab())
	}
	if got := h.w.Canvas().Size(); got != app.DefaultSize {
		t.Errorf("window %v, want %v", got, app.DefaultSize)
	}
	if min := h.w.Content().MinSize(); min.Width < app.MinSize.Width || min.Height < app.MinSize.Height {
		t.Errorf("minimum size %v below %v", min, app.MinSize)
	}
	var labels []string
	for _, it := range h.u.TrayMenu().Items {
		labels = append(labels, it.Label)
	}
	want := []string{"Lending · 3 sessions · 23.9 tok/s served", "", "Pause lending", "Open Hearth", "", "Quit"}
	if strings.Join(labels, "|") != strings.Join(want, "|") {
		t.Errorf("tray menu %q, want %q", labels, want)
	}
	if !h.u.TrayMenu().Items[0].Disabled || !h.u.TrayMenu().Items[5].IsQuit {
		t.Error("status line should be disabled and Quit marked IsQuit")
	}
	for _, tab := range app.Tabs {
		h.u.SelectTab(tab)
		if h.u.SelectedTab() != tab {
			t.Errorf("SelectTab(%q) shows %q", tab, h.u.SelectedTab())
		}
	}
	var _ fyne.Window = h.w
}
