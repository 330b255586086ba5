package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// dayChoices are the day sets the schedule editor offers.
var dayChoices = []struct {
	label string
	days  []time.Weekday
}{
	{"Every day", []time.Weekday{0, 1, 2, 3, 4, 5, 6}},
	{"Weekdays", []time.Weekday{1, 2, 3, 4, 5}},
	{"Weekends", []time.Weekday{0, 6}},
	{"Mondays", []time.Weekday{1}},
	{"Tuesdays", []time.Weekday{2}},
	{"Wednesdays", []time.Weekday{3}},
	{"Thursdays", []time.Weekday{4}},
	{"Fridays", []time.Weekday{5}},
	{"Saturdays", []time.Weekday{6}},
	{"Sundays", []time.Weekday{0}},
}

func dayLabels() []string {
	out := make([]string, len(dayChoices))
	for i, c := range dayChoices {
		out[i] = c.label
	}
	return out
}

func daysLabel(days []time.Weekday) string {
	d := slices.Clone(days)
	slices.Sort(d)
	for _, c := range dayChoices {
		if slices.Equal(c.days, d) {
			return c.label
		}
	}
	return dayChoices[0].label
}

func labelDays(label string) []time.Weekday {
	for _, c := range dayChoices {
		if c.label == label {
			return slices.Clone(c.days)
		}
	}
	return nil
}

// scheduleEditor edits the lending windows: one row per window with its
// days, start and end, and a button to add one.
type scheduleEditor struct {
	root     *fyne.Container
	rows     *fyne.Container
	rowsList []*windowRow
	changed  func()
}

type windowRow struct {
	days       *widget.Select
	start, end *widget.Entry
	row        fyne.CanvasObject
}

func newScheduleEditor(changed func()) *scheduleEditor {
	e := &scheduleEditor{rows: container.NewVBox(), changed: changed}
	add := &widget.Button{Text: "Add window", Icon: theme.ContentAddIcon(), Importance: widget.LowImportance, OnTapped: func() {
		e.add(Window{Days: dayChoices[1].days, Start: "22:00", End: "07:00"})
		changed()
	}}
	e.root = container.NewVBox(e.rows, container.NewHBox(add))
	return e
}

func (e *scheduleEditor) set(ws []Window) {
	e.rows.RemoveAll()
	e.rowsList = nil
	for _, w := range ws {
		e.add(w)
	}
}

func (e *scheduleEditor) add(w Window) {
	r := &windowRow{
		days:  &widget.Select{Options: dayLabels(), Selected: daysLabel(w.Days), OnChanged: func(string) { e.changed() }},
		start: &widget.Entry{Text: w.Start, Validator: checkClock, OnChanged: func(string) { e.changed() }},
		end:   &widget.Entry{Text: w.End, Validator: checkClock, OnChanged: func(string) { e.changed() }},
	}
	remove := &widget.Button{Icon: theme.ContentRemoveIcon(), Importance: widget.LowImportance}
	r.row = container.NewHBox(fixed(150, r.days), fixed(110, r.start), &widget.Label{Text: "to"}, fixed(110, r.end), remove)
	remove.OnTapped = func() {
		e.rowsList = slices.DeleteFunc(e.rowsList, func(x *windowRow) bool { return x == r })
		e.rows.Remove(r.row)
		e.changed()
	}
	e.rowsList = append(e.rowsList, r)
	e.rows.Add(r.row)
}

// windows reads the rows, checking each time.
func (e *scheduleEditor) windows() ([]Window, error) {
	out := make([]Window, 0, len(e.rowsList))
	for i, r := range e.rowsList {
		for _, t := range []*widget.Entry{r.start, r.end} {
			if err := checkClock(t.Text); err != nil {
				return nil, fmt.Errorf("window %d: %w", i+1, err)
			}
		}
		if strings.TrimSpace(r.start.Text) == strings.TrimSpace(r.end.Text) {
			return nil, fmt.Errorf("window %d: start and end are the same", i+1)
		}
		out = append(out, Window{Days: labelDays(r.days.Selected), Start: strings.TrimSpace(r.start.Text), End: strings.TrimSpace(r.end.Text)})
	}
	return out, nil
}

// checkClock accepts a 24-hour "HH:MM".
func checkClock(s string) error {
	s = strings.TrimSpace(s)
	if len(s) != 5 {
		return errors.New("time as HH:MM")
	}
	if _, err := time.Parse("15:04", s); err != nil {
		return errors.New("time as HH:MM")
	}
	return nil
}
