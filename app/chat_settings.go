package app

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

func newChatSettingsForm(v *chatView) *chatSettingsForm {
	f := &chatSettingsForm{v: v}
	f.system = &widget.Entry{MultiLine: true, Wrapping: fyne.TextWrapWord, PlaceHolder: "You are a helpful assistant."}
	f.system.SetMinRowsVisible(3)
	f.temperature = &widget.Entry{Validator: floatIn(0, 2)}
	f.topP = &widget.Entry{Validator: floatIn(0, 1)}
	f.topK = &widget.Entry{Validator: intIn(0, 1000)}
	f.maxTokens = &widget.Entry{Validator: intIn(0, 1<<20), PlaceHolder: "0 = up to the context limit"}
	for _, e := range []*widget.Entry{f.temperature, f.topP, f.topK} {
		e.OnChanged = func(string) { f.preset.SetSelected(presetCustom) }
	}
	f.preset = &widget.Select{OnChanged: f.pickPreset}
	f.offload = &widget.RadioGroup{Options: []string{offloadLocalLabel, offloadPeersLabel}, Required: true}
	f.form = &widget.Form{Items: []*widget.FormItem{
		{Text: "System prompt", Widget: f.system},
		{Text: "Sampling", Widget: f.preset},
		{Text: "Temperature", Widget: f.temperature, HintText: "0 to 2; higher is more varied"},
		{Text: "Top-p", Widget: f.topP},
		{Text: "Top-k", Widget: f.topK},
		{Text: "Max tokens", Widget: f.maxTokens},
		{Text: "Offload", Widget: f.offload},
	}}
	return f
}

// fill shows conversation c's settings.
func (f *chatSettingsForm) fill(c Conversation) {
	s := c.Settings
	f.preset.Options = nil
	for _, p := range f.v.u.b.SamplingPresets() {
		f.preset.Options = append(f.preset.Options, p.Label)
	}
	f.preset.Options = append(f.preset.Options, presetCustom)
	f.system.SetText(s.SystemPrompt)
	f.setSampling(s.Sampling)
	label := presetCustom
	for _, p := range f.v.u.b.SamplingPresets() {
		if p.Name == s.Sampling.Preset {
			label = p.Label
		}
	}
	f.preset.OnChanged = nil
	f.preset.SetSelected(label)
	f.preset.OnChanged = f.pickPreset
	f.maxTokens.SetText(strconv.Itoa(s.Sampling.MaxTokens))
	if s.Offload == OffloadPeers {
		f.offload.SetSelected(offloadPeersLabel)
	} else {
		f.offload.SetSelected(offloadLocalLabel)
	}
}

func (f *chatSettingsForm) setSampling(s Sampling) {
	f.temperature.SetText(strconv.FormatFloat(s.Temperature, 'f', -1, 64))
	f.topP.SetText(strconv.FormatFloat(s.TopP, 'f', -1, 64))
	f.topK.SetText(strconv.Itoa(s.TopK))
}

// pickPreset fills the sampling fields from the chosen preset.
func (f *chatSettingsForm) pickPreset(label string) {
	for _, p := range f.v.u.b.SamplingPresets() {
		if p.Label == label {
			f.preset.OnChanged = nil // setSampling would flip it to Custom
			for _, e := range []*widget.Entry{f.temperature, f.topP, f.topK} {
				e.OnChanged = nil
			}
			f.setSampling(p.Sampling)
			for _, e := range []*widget.Entry{f.temperature, f.topP, f.topK} {
				e.OnChanged = func(string) { f.preset.SetSelected(presetCustom) }
			}
			f.preset.OnChanged = f.pickPreset
		}
	}
}

// settings reads the form into ChatSettings for conversation c.
func (f *chatSettingsForm) settings(c Conversation) (ChatSettings, error) {
	if err := f.form.Validate(); err != nil {
		return ChatSettings{}, err
	}
	s := c.Settings
	s.SystemPrompt = strings.TrimSpace(f.system.Text)
	s.Sampling.Preset = "custom"
	for _, p := range f.v.u.b.SamplingPresets() {
		if p.Label == f.preset.Selected {
			s.Sampling = p.Sampling
		}
	}
	s.Sampling.Temperature, _ = strconv.ParseFloat(f.temperature.Text, 64) // validated
	s.Sampling.TopP, _ = strconv.ParseFloat(f.topP.Text, 64)
	s.Sampling.TopK, _ = strconv.Atoi(f.topK.Text)
	s.Sampling.MaxTokens, _ = strconv.Atoi(f.maxTokens.Text)
	s.Offload = OffloadLocal
	if f.offload.Selected == offloadPeersLabel {
		s.Offload = OffloadPeers
	}
	return s, nil
}

// save stores the form for the open conversation.
func (f *chatSettingsForm) save() error {
	c, ok := f.v.conversation()
	if !ok {
		return errors.New("no conversation is open")
	}
	s, err := f.settings(c)
	if err != nil {
		return err
	}
	f.v.configureConversation(c.ID, s)
	return nil
}

func (v *chatView) showSettings() {
	c, ok := v.conversation()
	if !ok || v.u.win == nil {
		return
	}
	v.settings.fill(c)
	d := dialog.NewCustomConfirm("Conversation settings", "Save", "Cancel", v.settings.form, func(ok bool) {
		if ok {
			if err := v.settings.save(); err != nil {
				v.u.showError("conversation settings", err)
			}
		}
	}, v.u.win)
	d.Resize(fyne.NewSize(560, 520))
	d.Show()
}

func floatIn(lo, hi float64) fyne.StringValidator {
	return func(s string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return errors.New("not a number")
		}
		if f < lo || f > hi {
			return fmt.Errorf("between %g and %g", lo, hi)
		}
		return nil
	}
}

func intIn(lo, hi int) fyne.StringValidator {
	return func(s string) error {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return errors.New("not a whole number")
		}
		if n < lo || n > hi {
			return fmt.Errorf("between %d and %d", lo, hi)
		}
		return nil
	}
}
