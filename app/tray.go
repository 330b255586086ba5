package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
)

// trayMenu is the system tray's menu: a status line, pause or resume
// lending, open the window, quit.
type trayMenu struct {
	u       *UI
	menu    *fyne.Menu
	status  *fyne.MenuItem
	lending *fyne.MenuItem
	open    *fyne.MenuItem
	quit    *fyne.MenuItem
	on      bool // lending is on
}

func newTrayMenu(u *UI) *trayMenu {
	t := &trayMenu{u: u}
	t.status = &fyne.MenuItem{Label: "Hearth", Disabled: true}
	t.lending = &fyne.MenuItem{Label: "Resume lending", Action: t.toggleLending}
	t.open = &fyne.MenuItem{Label: "Open Hearth", Action: t.openWindow}
	t.quit = &fyne.MenuItem{Label: "Quit", IsQuit: true, Action: func() { u.app.Quit() }}
	t.menu = fyne.NewMenu("Hearth", t.status, fyne.NewMenuItemSeparator(), t.lending, t.open, fyne.NewMenuItemSeparator(), t.quit)
	return t
}

// install puts the menu in the system tray where the driver has one and
// reports whether it did.
func (t *trayMenu) install(icon fyne.Resource) bool {
	desk, ok := t.u.app.(desktop.App)
	if !ok {
		return false
	}
	desk.SetSystemTrayIcon(icon)
	desk.SetSystemTrayMenu(t.menu)
	if t.u.win != nil {
		desk.SetSystemTrayWindow(t.u.win)
	}
	return true
}

func (t *trayMenu) setStatus(s Status) {
	t.on = s.Lending
	t.status.Label = s.Line
	if s.Lending {
		t.lending.Label = "Pause lending"
	} else {
		t.lending.Label = "Resume lending"
	}
	t.menu.Refresh()
}

// toggleLending flips lending through the same path as the Settings tab.
func (t *trayMenu) toggleLending() {
	t.u.settings.lending.SetChecked(!t.on)
}

func (t *trayMenu) openWindow() {
	if t.u.win != nil {
		t.u.win.Show()
		t.u.win.RequestFocus()
	}
}
