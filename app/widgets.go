package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// badge is a short white label on a rounded coloured pill: "Local only",
// "Fits", "Paused".
type badge struct {
	widget.BaseWidget
	text  string
	color color.Color
}

func newBadge(text string, c color.Color) *badge {
	b := &badge{text: text, color: c}
	b.ExtendBaseWidget(b)
	return b
}

// Set changes the badge's text and colour.
func (b *badge) Set(text string, c color.Color) {
	b.text, b.color = text, c
	b.Refresh()
}

// Text is the badge's label.
func (b *badge) Text() string { return b.text }

func (b *badge) CreateRenderer() fyne.WidgetRenderer {
	r := &badgeRenderer{b: b, bg: &canvas.Rectangle{}, label: &canvas.Text{TextStyle: fyne.TextStyle{Bold: true}}}
	r.Refresh()
	return r
}

type badgeRenderer struct {
	b     *badge
	bg    *canvas.Rectangle
	label *canvas.Text
}

func (r *badgeRenderer) pad() fyne.Size {
	p := theme.Padding()
	return fyne.NewSize(2*p, p/2)
}

func (r *badgeRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	ts := r.label.MinSize()
	r.label.Move(fyne.NewPos((size.Width-ts.Width)/2, (size.Height-ts.Height)/2))
	r.label.Resize(ts)
}

func (r *badgeRenderer) MinSize() fyne.Size {
	p := r.pad()
	return r.label.MinSize().Add(fyne.NewSize(2*p.Width, 2*p.Height))
}

func (r *badgeRenderer) Refresh() {
	r.label.Text = r.b.text
	r.label.TextSize = theme.CaptionTextSize()
	r.label.Color = color.White
	r.bg.FillColor = r.b.color
	r.bg.CornerRadius = theme.InputRadiusSize() * 2
	r.label.Refresh()
	r.bg.Refresh()
}

func (r *badgeRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.bg, r.label} }
func (r *badgeRenderer) Destroy()                     {}

// panel draws content on a rounded background of a theme colour, for chat
// bubbles and cards; the colour follows theme changes.
type panel struct {
	widget.BaseWidget
	content fyne.CanvasObject
	bgName  fyne.ThemeColorName
}

func newPanel(bg fyne.ThemeColorName, content fyne.CanvasObject) *panel {
	p := &panel{content: content, bgName: bg}
	p.ExtendBaseWidget(p)
	return p
}

func (p *panel) CreateRenderer() fyne.WidgetRenderer {
	r := &panelRenderer{p: p, bg: &canvas.Rectangle{}}
	r.Refresh()
	return r
}

type panelRenderer struct {
	p  *panel
	bg *canvas.Rectangle
}

func (r *panelRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	pad := theme.Padding()
	r.p.content.Move(fyne.NewPos(pad, pad))
	r.p.content.Resize(size.Subtract(fyne.NewSize(2*pad, 2*pad)))
}

func (r *panelRenderer) MinSize() fyne.Size {
	pad := theme.Padding()
	return r.p.content.MinSize().Add(fyne.NewSize(2*pad, 2*pad))
}

func (r *panelRenderer) Refresh() {
	r.bg.FillColor = theme.Color(r.p.bgName)
	r.bg.CornerRadius = theme.InputRadiusSize() * 2
	r.bg.Refresh()
	r.p.content.Refresh()
}

func (r *panelRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.bg, r.p.content} }
func (r *panelRenderer) Destroy()                     {}

// heading is a bold label for section titles.
func heading(text string) *widget.Label {
	return &widget.Label{Text: text, TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameSubHeadingText}
}

// caption is a small label for secondary text.
func caption(text string) *widget.Label {
	return &widget.Label{Text: text, SizeName: theme.SizeNameCaptionText}
}
