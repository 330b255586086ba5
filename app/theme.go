package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// hearthTheme is Fyne's default theme with an ember primary colour and,
// unless it follows the system, a fixed light or dark variant.
type hearthTheme struct {
	mode ThemeMode
}

// Theme returns Hearth's theme for mode.
func Theme(mode ThemeMode) fyne.Theme { return hearthTheme{mode: mode} }

var (
	ember     = color.NRGBA{R: 0xE8, G: 0x6A, B: 0x1C, A: 0xFF}
	emberDark = color.NRGBA{R: 0xF5, G: 0x8A, B: 0x3A, A: 0xFF}
	// Badge colours: green "local", amber "peers", red "does not fit".
	colorLocal = color.NRGBA{R: 0x2E, G: 0x9E, B: 0x5B, A: 0xFF}
	colorPeers = color.NRGBA{R: 0xD9, G: 0x8E, B: 0x04, A: 0xFF}
	colorNoFit = color.NRGBA{R: 0xC6, G: 0x3D, B: 0x3D, A: 0xFF}
	// Chart series.
	colorIn      = color.NRGBA{R: 0x3B, G: 0x82, B: 0xF6, A: 0xFF}
	colorOut     = ember
	colorSettled = colorLocal
	colorPending = colorPeers
)

func (t hearthTheme) variant(v fyne.ThemeVariant) fyne.ThemeVariant {
	switch t.mode {
	case ThemeDark:
		return theme.VariantDark
	case ThemeLight:
		return theme.VariantLight
	}
	return v
}

func (t hearthTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	v = t.variant(v)
	switch n {
	case theme.ColorNamePrimary, theme.ColorNameFocus, theme.ColorNameHyperlink:
		if v == theme.VariantDark {
			return emberDark
		}
		return ember
	case theme.ColorNameSelection:
		c := ember
		c.A = 0x40
		return c
	}
	return theme.DefaultTheme().Color(n, v)
}

func (t hearthTheme) Font(s fyne.TextStyle) fyne.Resource { return theme.DefaultTheme().Font(s) }

func (t hearthTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }

func (t hearthTheme) Size(n fyne.ThemeSizeName) float32 { return theme.DefaultTheme().Size(n) }
