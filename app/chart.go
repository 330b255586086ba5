package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// series is one named line or bar stack of a chart.
type series struct {
	name   string
	color  color.Color
	values []float64
}

// lineChart draws recent samples of one or more series as lines over a
// light grid, scaled to the largest value shown, newest on the right.
type lineChart struct {
	widget.BaseWidget
	title    string
	format   func(float64) string // the scale label
	capacity int                  // samples kept per series
	series   []series
}

func newLineChart(title string, capacity int, format func(float64) string, s ...series) *lineChart {
	c := &lineChart{title: title, format: format, capacity: capacity, series: s}
	c.ExtendBaseWidget(c)
	return c
}

// Push appends one value to each series (in order) and drops the oldest
// beyond capacity.
func (c *lineChart) Push(values ...float64) {
	for i := range c.series {
		if i < len(values) {
			s := append(c.series[i].values, values[i])
			if len(s) > c.capacity {
				s = s[len(s)-c.capacity:]
			}
			c.series[i].values = s
		}
	}
	c.Refresh()
}

// Reset empties every series.
func (c *lineChart) Reset() {
	for i := range c.series {
		c.series[i].values = nil
	}
	c.Refresh()
}

// Last returns the newest value of series i, or 0.
func (c *lineChart) Last(i int) float64 {
	v := c.series[i].values
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func (c *lineChart) max() float64 {
	m := 0.0
	for _, s := range c.series {
		for _, v := range s.values {
			m = max(m, v)
		}
	}
	if m == 0 {
		return 1
	}
	return m * 1.1
}

func (c *lineChart) CreateRenderer() fyne.WidgetRenderer {
	return &chartRenderer{build: c.build, minSize: fyne.NewSize(280, 150)}
}

// build lays out the chart for size.
func (c *lineChart) build(size fyne.Size) []fyne.CanvasObject {
	frame := newChartFrame(size, c.title, c.format(c.max()), c.series)
	objs := frame.objects
	top := c.max()
	for _, s := range c.series {
		n := len(s.values)
		if n < 2 {
			continue
		}
		step := frame.plot.Width / float32(c.capacity-1)
		x0 := frame.plot.Width - float32(n-1)*step
		pt := func(i int) fyne.Position {
			y := frame.plot.Height * float32(1-s.values[i]/top)
			return frame.origin.Add(fyne.NewPos(x0+float32(i)*step, y))
		}
		for i := 1; i < n; i++ {
			l := canvas.NewLine(s.color)
			l.StrokeWidth = 2
			l.Position1, l.Position2 = pt(i-1), pt(i)
			objs = append(objs, l)
		}
	}
	return objs
}

// barChart draws one stacked bar per label: each series stacks on the
// previous one.
type barChart struct {
	widget.BaseWidget
	title  string
	format func(float64) string
	labels []string
	series []series
}

func newBarChart(title string, format func(float64) string) *barChart {
	c := &barChart{title: title, format: format}
	c.ExtendBaseWidget(c)
	return c
}

// Set replaces the bars.
func (c *barChart) Set(labels []string, s ...series) {
	c.labels, c.series = labels, s
	c.Refresh()
}

func (c *barChart) total(i int) float64 {
	t := 0.0
	for _, s := range c.series {
		if i < len(s.values) {
			t += s.values[i]
		}
	}
	return t
}

func (c *barChart) CreateRenderer() fyne.WidgetRenderer {
	return &chartRenderer{build: c.build, minSize: fyne.NewSize(320, 170)}
}

func (c *barChart) build(size fyne.Size) []fyne.CanvasObject {
	top := 0.0
	for i := range c.labels {
		top = max(top, c.total(i))
	}
	if top == 0 {
		top = 1
	}
	top *= 1.1
	frame := newChartFrame(size, c.title, c.format(top), c.series)
	objs := frame.objects
	n := len(c.labels)
	if n == 0 {
		return objs
	}
	slot := frame.plot.Width / float32(n)
	w := slot * 0.7
	for i, label := range c.labels {
		x := frame.origin.X + float32(i)*slot + (slot-w)/2
		y := frame.origin.Y + frame.plot.Height
		for _, s := range c.series {
			if i >= len(s.values) || s.values[i] <= 0 {
				continue
			}
			h := frame.plot.Height * float32(s.values[i]/top)
			r := canvas.NewRectangle(s.color)
			r.Move(fyne.NewPos(x, y-h))
			r.Resize(fyne.NewSize(w, h))
			objs = append(objs, r)
			y -= h
		}
		if n <= 14 || i%2 == 0 {
			t := canvas.NewText(label, theme.Color(theme.ColorNamePlaceHolder))
			t.TextSize = theme.CaptionTextSize() * 0.9
			ts := t.MinSize()
			t.Move(fyne.NewPos(x+w/2-ts.Width/2, frame.origin.Y+frame.plot.Height+2))
			objs = append(objs, t)
		}
	}
	return objs
}

// chartFrame is what line and bar charts share: background, title,
// scale label, grid and legend, and where the plot area lies.
type chartFrame struct {
	objects []fyne.CanvasObject
	origin  fyne.Position // top left of the plot area
	plot    fyne.Size
}

func newChartFrame(size fyne.Size, title, scale string, s []series) chartFrame {
	pad := theme.Padding()
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	bg.CornerRadius = theme.InputRadiusSize() * 2
	bg.Resize(size)
	objs := []fyne.CanvasObject{bg}

	text := func(s string, c color.Color, bold bool) *canvas.Text {
		t := canvas.NewText(s, c)
		t.TextSize = theme.CaptionTextSize()
		t.TextStyle.Bold = bold
		return t
	}
	head := text(title, theme.Color(theme.ColorNameForeground), true)
	head.Move(fyne.NewPos(2*pad, pad))
	objs = append(objs, head)
	x := size.Width - 2*pad
	for i := len(s) - 1; i >= 0; i-- { // legend, right-aligned
		t := text(s[i].name, theme.Color(theme.ColorNameForeground), false)
		x -= t.MinSize().Width
		t.Move(fyne.NewPos(x, pad))
		sw := canvas.NewRectangle(s[i].color)
		sw.Resize(fyne.NewSize(10, 10))
		x -= 14
		sw.Move(fyne.NewPos(x, pad+(t.MinSize().Height-10)/2))
		x -= 2 * pad
		objs = append(objs, t, sw)
	}
	lineH := head.MinSize().Height
	origin := fyne.NewPos(2*pad, 2*pad+lineH)
	plot := fyne.NewSize(size.Width-4*pad, size.Height-origin.Y-2*pad-lineH)
	plot.Height = max(plot.Height, 1)
	grid := theme.Color(theme.ColorNameSeparator)
	for i := 0; i <= 4; i++ {
		y := origin.Y + plot.Height*float32(i)/4
		l := canvas.NewLine(grid)
		l.StrokeWidth = 1
		l.Position1, l.Position2 = fyne.NewPos(origin.X, y), fyne.NewPos(origin.X+plot.Width, y)
		objs = append(objs, l)
	}
	sc := text(scale, theme.Color(theme.ColorNamePlaceHolder), false)
	sc.Move(fyne.NewPos(origin.X+pad, origin.Y))
	objs = append(objs, sc)
	return chartFrame{objects: objs, origin: origin, plot: plot}
}

// chartRenderer rebuilds its objects from build on every layout and
// refresh: charts hold at most a few hundred objects.
type chartRenderer struct {
	build   func(fyne.Size) []fyne.CanvasObject
	minSize fyne.Size
	size    fyne.Size
	objects []fyne.CanvasObject
}

func (r *chartRenderer) Layout(size fyne.Size) {
	r.size = size
	r.objects = r.build(size)
}

func (r *chartRenderer) MinSize() fyne.Size { return r.minSize }

func (r *chartRenderer) Refresh() {
	if !r.size.IsZero() {
		r.objects = r.build(r.size)
	}
	for _, o := range r.objects {
		canvas.Refresh(o)
	}
}

func (r *chartRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *chartRenderer) Destroy()                     {}
