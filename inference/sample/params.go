package sample

import (
	"errors"
	"fmt"
	"math"
)

// ErrParams is wrapped by every error Validate returns.
var ErrParams = errors.New("invalid sampling parameters")

// Params configures a Sampler. The filters run in llama.cpp's default order:
// repetition penalties, top-k, top-p, min-p, temperature, then a seeded draw.
type Params struct {
	// Temperature divides the logits; <= 0 means greedy (always the most
	// likely token, the lowest id among ties).
	Temperature float32
	// TopK keeps the K most likely tokens; 0 disables it.
	TopK int
	// TopP keeps the most likely tokens whose probabilities add up to at
	// least TopP (nucleus sampling); 1 disables it.
	TopP float32
	// MinP drops tokens less likely than MinP times the most likely one;
	// 0 disables it.
	MinP float32
	// RepeatPenalty divides the positive logits (multiplies the negative
	// ones) of tokens seen in the last RepeatLastN tokens; 1 disables it.
	RepeatPenalty float32
	// RepeatLastN is how many recent tokens the penalties look at: 0
	// disables them, -1 means the whole history.
	RepeatLastN int
	// FrequencyPenalty is subtracted once per occurrence, PresencePenalty
	// once per token seen, from the logits of tokens in that window.
	FrequencyPenalty, PresencePenalty float32
	// Seed seeds the random draw: equal seeds and inputs give equal tokens.
	Seed uint64
}

// Default returns llama.cpp's default sampling settings (temperature 0.8,
// top-k 40, top-p 0.95, min-p 0.05, penalties off, last-n 64), seed 0.
func Default() Params {
	return Params{
		Temperature:   0.8,
		TopK:          40,
		TopP:          0.95,
		MinP:          0.05,
		RepeatPenalty: 1,
		RepeatLastN:   64,
	}
}

// Presets are named settings for the chat UI.
var Presets = map[string]Params{
	// precise: near-deterministic answers, mild repetition penalty.
	"precise": {Temperature: 0.2, TopK: 20, TopP: 0.9, MinP: 0.1, RepeatPenalty: 1.05, RepeatLastN: 64},
	// balanced: llama.cpp's defaults.
	"balanced": Default(),
	// creative: a flatter distribution with more candidates, discouraging repeats.
	"creative": {Temperature: 1.1, TopK: 100, TopP: 0.98, MinP: 0.02, RepeatPenalty: 1.1, RepeatLastN: 128, PresencePenalty: 0.2},
}

// Validate reports the first parameter that is out of range.
func (p Params) Validate() error {
	finite := func(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }
	switch {
	case !finite(p.Temperature):
		return fmt.Errorf("%w: temperature %v is not a finite number", ErrParams, p.Temperature)
	case p.TopK < 0:
		return fmt.Errorf("%w: top-k %d is negative", ErrParams, p.TopK)
	case !(p.TopP >= 0 && p.TopP <= 1):
		return fmt.Errorf("%w: top-p %v is outside [0,1]", ErrParams, p.TopP)
	case !(p.MinP >= 0 && p.MinP <= 1):
		return fmt.Errorf("%w: min-p %v is outside [0,1]", ErrParams, p.MinP)
	case !finite(p.RepeatPenalty) || p.RepeatPenalty <= 0:
		return fmt.Errorf("%w: repeat penalty %v is not a positive number", ErrParams, p.RepeatPenalty)
	case p.RepeatLastN < -1:
		return fmt.Errorf("%w: repeat last-n %d is below -1", ErrParams, p.RepeatLastN)
	case !finite(p.FrequencyPenalty) || !finite(p.PresencePenalty):
		return fmt.Errorf("%w: frequency/presence penalties %v/%v are not finite", ErrParams, p.FrequencyPenalty, p.PresencePenalty)
	}
	return nil
}
