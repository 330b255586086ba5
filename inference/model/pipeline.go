package model

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Forwarder is one hop of a pipeline: a local stage session or a remote
// stage served by a peer. The first hop takes token ids, later hops take the
// previous hop's hidden states, and the last returns logits (see
// Session.Forward for the contract).
type Forwarder interface {
	Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error)
}

// Chain runs a batch through hops in order and returns the last hop's logits.
type Chain []Forwarder

// Forward passes tokens at positions pos… through every hop.
func (c Chain) Forward(ctx context.Context, pos int, tokens []int32) ([]float32, error) {
	if len(c) == 0 {
		return nil, errors.New("pipeline: no stages")
	}
	out, err := c[0].Forward(ctx, pos, tokens, nil)
	if err != nil {
		return nil, fmt.Errorf("stage 0: %w", err)
	}
	for i, hop := range c[1:] {
		if out, err = hop.Forward(ctx, pos, nil, out); err != nil {
			return nil, fmt.Errorf("stage %d: %w", i+1, err)
		}
	}
	return out, nil
}

// Split returns the stages of m cut at the given layer boundaries, e.g.
// cuts [2, 4] on a 6-layer model gives [0,2), [2,4), [4,6). No cuts gives one
// stage with every layer.
func (m *Model) Split(cuts []int, pool *tensor.Pool) ([]*Stage, error) {
	for _, c := range cuts {
		if c <= 0 || c >= m.NumLayers {
			return nil, fmt.Errorf("split: cut at layer %d is outside (0,%d)", c, m.NumLayers)
		}
	}
	bounds := append(append([]int{0}, cuts...), m.NumLayers)
	stages := make([]*Stage, 0, len(bounds)-1)
	for i := 0; i+1 < len(bounds); i++ {
		if bounds[i] >= bounds[i+1] {
			return nil, fmt.Errorf("split: cuts %v must increase strictly inside (0,%d)", cuts, m.NumLayers)
		}
		st, err := m.NewStage(bounds[i], bounds[i+1], pool)
		if err != nil {
			return nil, err
		}
		stages = append(stages, st)
	}
	return stages, nil
}

// LocalChain opens a session of maxCtx positions on each stage and returns
// them as a chain, with a function that closes them.
func LocalChain(stages []*Stage, maxCtx int) (Chain, func(), error) {
	var sessions []*Session
	closeAll := func() {
		for _, s := range sessions {
			s.Close()
		}
	}
	chain := make(Chain, 0, len(stages))
	for _, st := range stages {
		s, err := st.NewSession(maxCtx)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		sessions = append(sessions, s)
		chain = append(chain, s)
	}
	return chain, closeAll, nil
}

// Sampler picks the next token from logits given the tokens so far.
type Sampler interface {
	Sample(logits []float32, history []int32) int32
}

// GenerateOptions bound a generation.
type GenerateOptions struct {
	MaxTokens int
	// Stop reports whether id ends the generation (end-of-generation tokens);
	// the stopping token is not emitted.
	Stop func(id int32) bool
	// OnToken is called with each generated token; returning an error stops
	// the generation with that error.
	OnToken func(id int32) error
	// OnLogits, if set, sees the logits of each step before sampling.
	OnLogits func(step int, logits []float32)
	// Prefix is the number of leading prompt tokens already in the chain's
	// caches (reused from an earlier turn); only the rest is evaluated.
	Prefix int
}

// Stats reports the timing of a generation.
type Stats struct {
	PromptTokens int // tokens of the prompt evaluated now (beyond Prefix)
	Generated    int
	// Cached is the number of positions now in the chain's caches: the
	// prompt plus every generated token fed back (the last sampled token is
	// not evaluated when generation stops).
	Cached          int
	PrefillDuration time.Duration
	DecodeDuration  time.Duration
	StopReason      string // "stop", "length", "cancelled" or "error"
}

// PrefillTokS is prompt tokens per second.
func (s Stats) PrefillTokS() float64 { return rate(s.PromptTokens, s.PrefillDuration) }

// DecodeTokS is generated tokens per second after the first.
func (s Stats) DecodeTokS() float64 {
	if s.Generated <= 1 {
		return 0
	}
	return rate(s.Generated-1, s.DecodeDuration)
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Generate evaluates prompt (all tokens at positions 0…, the first Prefix of
// which are already cached) and then samples up to MaxTokens tokens, feeding
// each back. It returns the generated ids.
func Generate(ctx context.Context, c Chain, prompt []int32, s Sampler, opt GenerateOptions) ([]int32, Stats, error) {
	var st Stats
	if len(prompt) == 0 || opt.Prefix < 0 || opt.Prefix >= len(prompt) {
		return nil, st, fmt.Errorf("generate: prompt of %d tokens with %d cached", len(prompt), opt.Prefix)
	}
	history := append(make([]int32, 0, len(prompt)+opt.MaxTokens), prompt...)
	start := time.Now()
	logits, err := c.Forward(ctx, opt.Prefix, prompt[opt.Prefix:])
	st.PromptTokens = len(prompt) - opt.Prefix
	if err == nil {
		st.Cached = len(prompt)
	}
	st.PrefillDuration = time.Since(start)
	var out []int32
	decodeStart := time.Now()
	for step := 0; err == nil; step++ {
		if opt.OnLogits != nil {
			opt.OnLogits(step, logits)
		}
		if step >= opt.MaxTokens {
			st.StopReason = "length"
			break
		}
		id := s.Sample(logits, history)
		if opt.Stop != nil && opt.Stop(id) {
			st.StopReason = "stop"
			break
		}
		out = append(out, id)
		history = append(history, id)
		st.Generated++
		if step == 0 {
			decodeStart = time.Now()
		}
		if opt.OnToken != nil {
			if err = opt.OnToken(id); err != nil {
				break
			}
		}
		if len(out) == opt.MaxTokens {
			st.StopReason = "length"
			break
		}
		if logits, err = c.Forward(ctx, len(history)-1, []int32{id}); err == nil {
			st.Cached++
		}
	}
	st.DecodeDuration = time.Since(decodeStart)
	if err != nil {
		st.StopReason = "error"
		if ctx.Err() != nil {
			st.StopReason = "cancelled"
		}
		return out, st, err
	}
	return out, st, nil
}
