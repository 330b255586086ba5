package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	lendModel  *widget.Select
	lendIDs    []string         // the model ID of each lendModel option; "": the first installed
	installed  []InstalledModel // what lendModel offers
	price      *widget.Entry
	maxPay     *widget.Entry // the most offloading pays
	privacy    *widget.RadioGroup
	trusted    *widget.Entry
	dataDir    *widget.Entry
	themeMode  *widget.RadioGroup
	form       *widget.Form
	message    *widget.Label
	machineTxt *widget.Label

	estimateTxt *widget.Label  // what lending could earn (settings_estimate.go)
	measure     *widget.Button // runs the speed test again
	estimateSeq int            // the latest estimate asked for
	filling     bool           // fill is setting the form: no estimate per field
}

var (
	privacyLabels = []string{"Never offload", "Trusted peers only (my devices)", "Any peer"}
	themeLabels   = []string{"System", "Dark", "Light"}
)

func newSettingsView(u *UI) *settingsView {
	v := &settingsView{u: u}
	changed := func() {
		v.dirty = true
		v.loadEstimate()
	}
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
	v.lendModel = &widget.Select{OnChanged: func(string) { changed() }}
	v.setLendChoices("")
	v.price = &widget.Entry{Validator: lamports("price"), OnChanged: func(string) { changed() }}
	v.maxPay = &widget.Entry{Validator: lamports("most I pay"), OnChanged: func(string) { v.dirty = true }}
	v.trusted = &widget.Entry{MultiLine: true, Wrapping: fyne.TextWrapOff, PlaceHolder: "12D3KooW… (one peer ID per line)",
		OnChanged: func(string) { changed() }}
	v.trusted.SetMinRowsVisible(3)
	v.privacy = &widget.RadioGroup{Options: privacyLabels, Required: true, OnChanged: func(string) {
		v.enableTrusted()
		changed()
	}}
	v.dataDir = &widget.Entry{Validator: func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("choose a folder")
		}
		return nil
	}, OnChanged: func(string) { changed() }}
	browse := &widget.Button{Icon: theme.FolderOpenIcon(), OnTapped: v.browseDataDir}
	v.themeMode = &widget.RadioGroup{Options: themeLabels, Horizontal: true, Required: true, OnChanged: func(string) { changed() }}
	v.machineTxt = caption("")
	v.measure = &widget.Button{Text: "Measure again", Icon: theme.ViewRefreshIcon(), OnTapped: v.measureMachine}
	v.estimateTxt = caption("")
	v.estimateTxt.Wrapping = fyne.TextWrapWord
	v.form = &widget.Form{Items: []*widget.FormItem{
		{Text: "Schedule", Widget: v.schedule.root, HintText: "Lend only inside these windows; none means whenever the machine is idle."},
		{Text: "CPU threads", Widget: container.NewBorder(nil, nil, nil, fixed(90, v.threadsVal), v.threads)},
		{Text: "CPU use", Widget: container.NewBorder(nil, nil, nil, fixed(90, v.cpuVal), v.cpu)},
		{Text: "RAM cap (GiB)", Widget: v.ram},
		{Text: "VRAM cap (GiB)", Widget: v.vram},
		{Text: "Thermal limit (°C)", Widget: v.thermal, HintText: "Lending pauses above this temperature."},
		{Text: "Battery", Widget: v.battery},
		{Text: "Model to lend", Widget: v.lendModel, HintText: "The installed model whose layers peers may run here."},
		{Text: "Price (lamports)", Widget: v.price, HintText: "Per 1,000 token-layers served; 0 lends for free. A price needs a wallet to be paid to."},
		{Text: "Could earn", Widget: container.NewBorder(nil, nil, nil, v.measure, v.estimateTxt)},
		{Text: "Privacy", Widget: v.privacy, HintText: "Where conversations that allow offloading may send layers."},
		{Text: "Trusted peers", Widget: v.trusted, HintText: "One peer ID per line; each device shows its own in the Network tab."},
		{Text: "Most I pay (lamports)", Widget: v.maxPay, HintText: "Per 1,000 token-layers peers run for you; 0 uses free peers only. Paying needs the wallet unlocked (Wallet tab)."},
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
	v.loadModels()
}

// loadModels offers the installed models to lend.
func (v *settingsView) loadModels() {
	call(v.u, v.u.b.Installed, func(im InstalledModels) {
		v.installed = im.Models
		v.setLendChoices(v.lendModelID())
	})
}

// setLendChoices offers "the first installed model", each installed model,
// and id when it is not installed (the runtime says why it cannot lend
// it), and selects id without marking the form edited.
func (v *settingsView) setLendChoices(id string) {
	first := "First installed model"
	if len(v.installed) > 0 {
		first += " (" + v.installed[0].Name + ")"
	}
	opts, ids := []string{first}, []string{""}
	for _, m := range v.installed {
		name := m.Name
		if name == "" || slices.Contains(opts, name) {
			name = m.ID
		}
		opts, ids = append(opts, name), append(ids, m.ID)
	}
	if !slices.Contains(ids, id) {
		opts, ids = append(opts, id+" (not installed)"), append(ids, id)
	}
	on := v.lendModel.OnChanged
	v.lendModel.OnChanged = nil
	v.lendModel.SetOptions(opts)
	v.lendModel.SetSelectedIndex(slices.Index(ids, id))
	v.lendModel.OnChanged = on
	v.lendIDs = ids
}

// lendModelID is the selected model's ID; "" for the first installed.
func (v *settingsView) lendModelID() string {
	if i := v.lendModel.SelectedIndex(); i >= 0 && i < len(v.lendIDs) {
		return v.lendIDs[i]
	}
	return ""
}

// enableTrusted enables the trusted peers' entry while the privacy choice
// uses it; the list is kept either way.
func (v *settingsView) enableTrusted() {
	if v.privacy.Selected == privacyLabels[PrivacyTrusted] {
		v.trusted.Enable()
	} else {
		v.trusted.Disable()
	}
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
	v.saved, v.loaded, v.filling = s, true, true
	v.setLendingCheck(s.Lending)
	v.schedule.set(s.Schedule)
	v.threads.SetValue(float64(s.MaxThreads))
	v.cpu.SetValue(float64(s.MaxCPUPercent))
	v.ram.SetText(strconv.FormatFloat(s.MaxRAMGiB, 'f', -1, 64))
	v.vram.SetText(strconv.FormatFloat(s.MaxVRAMGiB, 'f', -1, 64))
	v.thermal.SetText(strconv.Itoa(s.ThermalLimitC))
	v.battery.SetChecked(s.PauseOnBattery)
	v.setLendChoices(s.LendModel)
	v.price.SetText(strconv.FormatUint(s.Price, 10))
	v.maxPay.SetText(strconv.FormatUint(s.MaxPayPrice, 10))
	v.privacy.SetSelected(privacyLabels[s.Privacy])
	v.trusted.SetText(strings.Join(s.TrustedPeers, "\n"))
	v.enableTrusted()
	v.dataDir.SetText(s.DataDir)
	v.themeMode.SetSelected(themeLabels[s.Theme])
	v.dirty, v.filling = false, false
	v.loadEstimate()
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
	s.LendModel = v.lendModelID()
	s.Price, _ = strconv.ParseUint(strings.TrimSpace(v.price.Text), 10, 64)
	s.MaxPayPrice, _ = strconv.ParseUint(strings.TrimSpace(v.maxPay.Text), 10, 64)
	s.Privacy = Privacy(index(privacyLabels, v.privacy.Selected))
	s.TrustedPeers = nil
	if ids := strings.Fields(v.trusted.Text); len(ids) > 0 {
		s.TrustedPeers = ids // the backend checks each one
	}
	s.DataDir = strings.TrimSpace(v.dataDir.Text)
	s.Theme = ThemeMode(index(themeLabels, v.themeMode.Selected))
	return s, nil
}

// lamports accepts a whole, non-negative number of lamports in the field
// named.
func lamports(field string) func(string) error {
	return func(s string) error {
		if _, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64); err != nil {
			return fmt.Errorf("%s: a whole number of lamports, 0 or more", field)
		}
		return nil
	}
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
		if s.Privacy == PrivacyTrusted && len(s.TrustedPeers) == 0 {
			v.showMessage("Saved. No trusted peers yet: conversations that allow offloading will find no one to offload to.", widget.WarningImportance)
			return
		}
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
