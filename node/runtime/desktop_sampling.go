package runtime

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/hearth-p2p/hearth/inference/sample"
)

// SamplingSettings are a conversation's sampler settings: a preset's
// values, or custom ones (Preset "custom").
type SamplingSettings struct {
	Preset        string // "balanced", "precise", "creative" or "custom"
	Temperature   float64
	TopP          float64
	TopK          int
	MinP          float64
	RepeatPenalty float64
	MaxTokens     int // 0: up to the context limit
}

// SamplingPreset is a named SamplingSettings.
type SamplingPreset struct {
	Name, Label string
	Sampling    SamplingSettings
}

// PresetCustom names sampling settings that are no preset's.
const PresetCustom = "custom"

// presetOrder lists the presets as shown, the default first.
var presetOrder = []struct{ name, label string }{
	{"balanced", "Balanced"}, {"precise", "Precise"}, {"creative", "Creative"},
}

// SamplingPresets lists sample.Presets, "balanced" (the default) first.
func SamplingPresets() []SamplingPreset {
	out := make([]SamplingPreset, 0, len(presetOrder))
	for _, p := range presetOrder {
		out = append(out, SamplingPreset{Name: p.name, Label: p.label, Sampling: settingsOf(p.name, sample.Presets[p.name])})
	}
	return out
}

// DefaultSampling is the settings of a new conversation.
func DefaultSampling() SamplingSettings { return SamplingPresets()[0].Sampling }

// round6 drops the float32 noise of a preset's values.
func round6(f float32) float64 { return math.Round(float64(f)*1e6) / 1e6 }

func settingsOf(name string, p sample.Params) SamplingSettings {
	return SamplingSettings{Preset: name, Temperature: round6(p.Temperature), TopP: round6(p.TopP), TopK: p.TopK,
		MinP: round6(p.MinP), RepeatPenalty: round6(p.RepeatPenalty)}
}

// Params turns the settings into sampler parameters (seed 0): a preset's
// full parameters with the settings' values over them.
func (s SamplingSettings) Params() (sample.Params, error) {
	p, ok := sample.Presets[s.Preset]
	if !ok {
		p = sample.Default()
	}
	p.Temperature, p.TopP, p.TopK = float32(s.Temperature), float32(s.TopP), s.TopK
	p.MinP, p.RepeatPenalty = float32(s.MinP), float32(s.RepeatPenalty)
	if s.Temperature < 0 {
		return p, fmt.Errorf("%w: temperature %v is negative", sample.ErrParams, s.Temperature)
	}
	if s.MaxTokens < 0 {
		return p, fmt.Errorf("%w: max tokens %d is negative", sample.ErrParams, s.MaxTokens)
	}
	return p, p.Validate()
}

// encodeSampling writes the settings into a conversation's Sampling field:
// the preset's name when they are exactly a preset, else the name with the
// values as a query ("custom?temperature=0.5&top_k=20…").
func encodeSampling(s SamplingSettings) string {
	name := s.Preset
	if _, ok := sample.Presets[name]; !ok {
		name = PresetCustom
	}
	if name != PresetCustom {
		want, got := settingsOf(name, sample.Presets[name]), s
		got.Preset, got.MaxTokens = name, 0
		if got == want {
			if s.MaxTokens == 0 {
				return name
			}
			return name + "?max_tokens=" + strconv.Itoa(s.MaxTokens)
		}
		name = PresetCustom // edited values are no longer the preset
	}
	q := url.Values{}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	q.Set("temperature", f(s.Temperature))
	q.Set("top_p", f(s.TopP))
	q.Set("top_k", strconv.Itoa(s.TopK))
	q.Set("min_p", f(s.MinP))
	q.Set("repeat_penalty", f(s.RepeatPenalty))
	if s.MaxTokens > 0 {
		q.Set("max_tokens", strconv.Itoa(s.MaxTokens))
	}
	return name + "?" + q.Encode()
}

// decodeSampling reads what encodeSampling wrote; unknown or malformed
// parts fall back to the default preset's values.
func decodeSampling(v string) SamplingSettings {
	name, query, _ := strings.Cut(v, "?")
	s := DefaultSampling()
	if p, ok := sample.Presets[name]; ok {
		s = settingsOf(name, p)
	} else if name == PresetCustom {
		s.Preset = PresetCustom
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return s
	}
	num := func(key string, dst *float64) {
		if x, err := strconv.ParseFloat(q.Get(key), 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
			*dst = x
		}
	}
	whole := func(key string, dst *int) {
		if x, err := strconv.Atoi(q.Get(key)); err == nil {
			*dst = x
		}
	}
	num("temperature", &s.Temperature)
	num("top_p", &s.TopP)
	whole("top_k", &s.TopK)
	num("min_p", &s.MinP)
	num("repeat_penalty", &s.RepeatPenalty)
	whole("max_tokens", &s.MaxTokens)
	return s
}
