package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// settingsView is the Settings tab. The lending switch applies at once;
// the rest applies with Save, after the form's checks and the backend's.
type settingsView struct {
	u    *UI
	root fyne.CanvasObject

	saved   Settings
	loaded  bool // saved holds the backend's settings
	machine Machine
	dirty   bool // the form has edits not saved yet

	lending    *widget.Check
	schedule   *scheduleEditor
	threads    *widget.Slider
	threadsVal *widget.Label
	ram        *widget.Entry
	vram       *widget.Entry
	cpu        *widget.Slider
	cpuVal     *widget.Label
	thermal    *widget.Entry
	battery    *widget.Check
	privacy    *widget.RadioGroup
	dataDir    *widget.Entry
	themeMode  *widget.RadioGroup
	form       *widget.Form
	message    *widget.Label
	machineTxt *widget.Label
}

var (
	privacyLabels = []string{"Never offload", "Trusted peers only (my devices)", "Any peer"}
	themeLabels   = []string{"System", "Dark", "Light"}
)

func newSettingsView(u *UI) *settingsView {
	v := &settingsView{u: u}
	changed := func() { v.dirty = true }
	v.lending = &widget.Check{Text: "Lend idle compute to peers and earn SOL", OnChanged: v.setLending}
	v.schedule = newScheduleEditor(changed)
	v.threadsVal, v.cpuVal = &widget.Label{}, &widget.Label{}
	v.threads = &widget.Slider{Min: 1, Max: 16, Step: 1, OnChanged: func(f float64) {
		v.threadsVal.SetText(fmt.Sprintf("%.0f threads", f))
		changed()
	}}
	v.cpu = &widget.Slider{Min: 5, Max: 100, Step: 5, OnChanged: func(f float64) {
		v.cpuVal.SetText(fmt.Sprintf("%.0f %%", f))
		changed()
	}}
	v.ram = &widget.Entry{OnChanged: func(string) { changed() }}
	v.vram = &widget.Entry{OnChanged: func(string) { changed() }}
	v.thermal = &widget.Entry{Validator: intIn(40, 100), OnChanged: func(string) { changed() }}
	v.battery = &widget.Check{Text: "Pause lending on battery power", OnChanged: func(bool) { changed() }}
	v.privacy = &widget.RadioGroup{Options: privacyLabels, Required: true, OnChanged: func(string) { changed() }}
	v.dataDir = &widget.Entry{Validator: func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("choose a folder")
		}
		return nil
	}, OnChanged: func(string) { changed() }}
	browse := &widget.Button{Icon: theme.FolderOpenIcon(), OnTapped: v.browseDataDir}
	v.themeMode = &widget.RadioGroup{Options: themeLabels, Horizontal: true, Required: true, OnChanged: func(string) { changed() }}
	v.machineTxt = caption("")
	v.form = &widget.Form{Items: []*widget.FormItem{
		{Text: "Schedule", Widget: v.schedule.root, HintText: "Lend only inside these windows; none means whenever the machine is idle."},
		{Text: "CPU threads", Widget: container.NewBorder(nil, nil, nil, fixed(90, v.threadsVal), v.threads)},
		{Text: "CPU use", Widget: container.NewBorder(nil, nil, nil, fixed(90, v.cpuVal), v.cpu)},
		{Text: "RAM cap (GiB)", Widget: v.ram},
		{Text: "VRAM cap (GiB)", Widget: v.vram},
		{Text: "Thermal limit (°C)", Widget: v.thermal, HintText: "Lending pauses above this temperature."},
		{Text: "Battery", Widget: v.battery},
		{Text: "Privacy", Widget: v.privacy, HintText: "Where conversations that allow offloading may send layers."},
		{Text: "Data folder", Widget: container.NewBorder(nil, nil, nil, browse, v.dataDir)},
		{Text: "Theme", Widget: v.themeMode},
	}}
	v.message = &widget.Label{Wrapping: fyne.TextWrapWord}
	save := &widget.Button{Text: "Save", Icon: theme.DocumentSaveIcon(), Importance: widget.HighImportance, OnTapped: v.save}
	revert := &widget.Button{Text: "Revert", OnTapped: func() {
		v.fill(v.saved)
		v.showMessage("", widget.MediumImportance)
	}}
	content := container.NewVBox(
		heading("Lending"), v.lending, v.machineTxt, widget.NewSeparator(),
		heading("Limits and preferences"), v.form,
		container.NewHBox(save, revert), v.message)
	v.root = container.NewVScroll(container.NewPadded(content))
	return v
}

func (v *settingsView) load() {
	call(v.u, v.u.b.Machine, func(m Machine) {
		v.machine = m
		v.threads.Max = float64(max(m.Threads, 1))
		v.threads.Refresh()
		gpu := "no GPU"
		if m.VRAMBytes > 0 {
			gpu = fmt.Sprintf("%s, %.0f GiB", m.GPU, float64(m.VRAMBytes)/(1<<30))
		}
		v.machineTxt.SetText(fmt.Sprintf("This machine: %d threads, %.0f GiB RAM, %s.", m.Threads, float64(m.RAMBytes)/(1<<30), gpu))
		v.ram.Validator = floatIn(0.5, float64(m.RAMBytes)/(1<<30))
		v.vram.Validator = floatIn(0, float64(m.VRAMBytes)/(1<<30))
		if m.VRAMBytes == 0 {
			v.vram.Disable()
		}
	})
	call(v.u, v.u.b.Settings, func(s Settings) {
		v.fill(s)
		v.applyTheme(s.Theme)
	})
}

// apply shows settings that changed elsewhere (the tray, the CLI).
func (v *settingsView) apply(s Settings) {
	if !v.dirty {
		v.fill(s)
	} else {
		v.saved = s
		v.setLendingCheck(s.Lending)
	}
	v.applyTheme(s.Theme)
}

func (v *settingsView) applyTheme(m ThemeMode) {
	if cur, ok := v.u.app.Settings().Theme().(hearthTheme); ok && cur.mode == m {
		return
	}
	v.u.app.Settings().SetTheme(Theme(m))
}

func (v *settingsView) setLendingCheck(on bool) {
	v.lending.OnChanged = nil
	v.lending.SetChecked(on)
	v.lending.OnChanged = v.setLending
}

// fill shows s in the form and forgets unsaved edits.
func (v *settingsView) fill(s Settings) {
	v.saved, v.loaded = s, true
	v.setLendingCheck(s.Lending)
	v.schedule.set(s.Schedule)
	v.threads.SetValue(float64(s.MaxThreads))
	v.cpu.SetValue(float64(s.MaxCPUPercent))
	v.ram.SetText(strconv.FormatFloat(s.MaxRAMGiB, 'f', -1, 64))
	v.vram.SetText(strconv.FormatFloat(s.MaxVRAMGiB, 'f', -1, 64))
	v.thermal.SetText(strconv.Itoa(s.ThermalLimitC))
	v.battery.SetChecked(s.PauseOnBattery)
	v.privacy.SetSelected(privacyLabels[s.Privacy])
	v.dataDir.SetText(s.DataDir)
	v.themeMode.SetSelected(themeLabels[s.Theme])
	v.dirty = false
}

// setLending applies the lending switch at once.
func (v *settingsView) setLending(on bool) {
	if !v.loaded {
		v.setLendingCheck(!on)
		return
	}
	s := v.saved
	s.Lending = on
	v.update(s, func() {
		v.saved.Lending = on
		v.u.refreshStatus()
	}, func() { v.setLendingCheck(!on) })
}

// read builds Settings from the form, or reports the first invalid field.
func (v *settingsView) read() (Settings, error) {
	s := v.saved
	if err := v.form.Validate(); err != nil {
		return s, err
	}
	sched, err := v.schedule.windows()
	if err != nil {
		return s, fmt.Errorf("schedule: %w", err)
	}
	s.Schedule = sched
	s.MaxThreads = int(v.threads.Value)
	s.MaxCPUPercent = int(v.cpu.Value)
	s.MaxRAMGiB, _ = strconv.ParseFloat(strings.TrimSpace(v.ram.Text), 64) // validated
	s.MaxVRAMGiB, _ = strconv.ParseFloat(strings.TrimSpace(v.vram.Text), 64)
	s.ThermalLimitC, _ = strconv.Atoi(strings.TrimSpace(v.thermal.Text))
	s.PauseOnBattery = v.battery.Checked
	s.Privacy = Privacy(index(privacyLabels, v.privacy.Selected))
	s.DataDir = strings.TrimSpace(v.dataDir.Text)
	s.Theme = ThemeMode(index(themeLabels, v.themeMode.Selected))
	return s, nil
}

func index(options []string, s string) int {
	for i, o := range options {
		if o == s {
			return i
		}
	}
	return 0
}

func (v *settingsView) save() {
	if !v.loaded {
		return
	}
	s, err := v.read()
	if err != nil {
		v.showMessage("Not saved: "+err.Error(), widget.DangerImportance)
		return
	}
	v.update(s, func() {
		v.fill(s)
		v.applyTheme(s.Theme)
		v.showMessage("Saved.", widget.SuccessImportance)
	}, nil)
}

// update stores s; onErr undoes what the form shows on failure.
func (v *settingsView) update(s Settings, then, onErr func()) {
	callErr(v.u, func(ctx context.Context) (struct{}, error) { return struct{}{}, v.u.b.UpdateSettings(ctx, s) },
		func(struct{}) { then() },
		func(err error) {
			if onErr != nil {
				onErr()
			}
			v.showMessage("Not saved: "+err.Error(), widget.DangerImportance)
		})
}

func (v *settingsView) showMessage(text string, imp widget.Importance) {
	v.message.Importance = imp
	v.message.SetText(text)
}

func (v *settingsView) browseDataDir() {
	if v.u.win == nil {
		return
	}
	dialog.ShowFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			v.u.showError("data folder", err)
			return
		}
		if u != nil {
			v.dataDir.SetText(u.Path())
		}
	}, v.u.win)
}
