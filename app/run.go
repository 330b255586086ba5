package app

import (
	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/hearth-p2p/hearth/assets"
)

// AppID is Hearth's application ID, as in FyneApp.toml, the .desktop file
// and the AppStream metainfo.
const AppID = "io.hearth.Hearth"

// Window sizes.
var (
	DefaultSize = fyne.NewSize(1100, 720)
	MinSize     = fyne.NewSize(880, 580)
)

// Icon is the app icon.
var Icon = fyne.NewStaticResource("hearth.png", assets.Icon256)

// Run opens Hearth's window on backend b and returns when the app quits.
func Run(b Backend, opt Options) error {
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(Icon)
	w := a.NewWindow("Hearth")
	u := New(a, b, opt)
	u.Attach(w)
	// Closing the window quits: a tray host is not on every desktop, so a
	// hidden window could not always be found again. Lending in the
	// background is the job of `hearth node` (packaging/systemd).
	u.tray.install(Icon)
	u.Start()
	w.ShowAndRun()
	u.Close()
	return nil
}

// Attach shows the UI in w at the default size and installs the keyboard
// shortcuts: Ctrl+N new chat, Ctrl+Enter send, Esc stop, Ctrl+Q quit.
func (u *UI) Attach(w fyne.Window) {
	u.win = w
	w.SetContent(container.New(minLayout{MinSize}, u.root))
	w.Resize(DefaultSize)
	w.SetMaster()
	c := w.Canvas()
	for _, s := range shortcuts {
		c.AddShortcut(s, func(s fyne.Shortcut) {
			if cs, ok := s.(*desktop.CustomShortcut); ok {
				u.handleShortcut(cs)
			}
		})
	}
	c.SetOnTypedKey(func(k *fyne.KeyEvent) {
		if k.Name == fyne.KeyEscape {
			u.chat.stopReply()
		}
	})
}

var (
	shortcutNew  = &desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutQuit = &desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutSend = &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}
	shortcuts    = []*desktop.CustomShortcut{shortcutNew, shortcutQuit, shortcutSend}
)

// handleShortcut runs the window shortcut s and reports whether it was one.
func (u *UI) handleShortcut(s *desktop.CustomShortcut) bool {
	switch {
	case s.KeyName == shortcutNew.KeyName && s.Modifier == shortcutNew.Modifier:
		u.chat.newConversation()
	case s.KeyName == shortcutQuit.KeyName && s.Modifier == shortcutQuit.Modifier:
		u.app.Quit()
	case isSendShortcut(s):
		u.SelectTab(TabChat)
		u.chat.sendInput()
	default:
		return false
	}
	return true
}

// minLayout gives its content at least a minimum size, which becomes the
// window's minimum size.
type minLayout struct{ min fyne.Size }

func (l minLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := l.min
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

func (l minLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}
