package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/hearth-p2p/hearth/inference/gguf"
)

// ErrArchitecture reports a model architecture this engine cannot run.
var ErrArchitecture = errors.New("unsupported model architecture")

// ErrMissingTensor reports a weight the architecture needs but the file lacks.
var ErrMissingTensor = errors.New("missing tensor")

// RopeScaling is how rotary position frequencies are rescaled for long context.
type RopeScaling string

// Rope scaling kinds as named in GGUF metadata.
const (
	RopeScalingNone   RopeScaling = "none"
	RopeScalingLinear RopeScaling = "linear"
	RopeScalingYaRN   RopeScaling = "yarn"
)

// Config holds a llama-family model's hyperparameters, read from GGUF metadata.
type Config struct {
	Arch       string // general.architecture: llama, mistral, qwen2
	Name       string
	NumLayers  int
	Dim        int // embedding length
	FFN        int // feed-forward hidden size
	Heads      int
	KVHeads    int
	HeadDim    int // key/value head size
	Vocab      int
	ContextLen int // training context

	RMSEps float32

	RopeDims      int     // rotated dimensions per head
	RopeBase      float32 // frequency base
	RopeNeoX      bool    // NeoX-style (half-split) pairs instead of adjacent pairs
	RopeScaling   RopeScaling
	RopeFreqScale float32 // 1/factor for linear and YaRN scaling
	YaRNOrigCtx   int     // original context for YaRN
	YaRNExtFactor float32
	YaRNAttnFac   float32
	YaRNBetaFast  float32
	YaRNBetaSlow  float32

	AttnBias bool // Q, K, V projections carry biases (qwen2)
}

// KVDim is the width of one position's keys (or values) across KV heads.
func (c Config) KVDim() int { return c.KVHeads * c.HeadDim }

// ParseConfig reads the hyperparameters of a llama-family model from h.
func ParseConfig(h *gguf.Header) (Config, error) {
	arch, err := h.Architecture()
	if err != nil {
		return Config{}, err
	}
	c := Config{Arch: arch}
	switch arch {
	case "llama", "mistral":
	case "qwen2":
		c.RopeNeoX = true
		c.AttnBias = true
	default:
		return Config{}, fmt.Errorf("%w: %q (supported: llama, mistral, qwen2)", ErrArchitecture, arch)
	}
	c.Name, _ = h.String("general.name")
	r := metaReader{h: h, prefix: arch + "."}
	c.NumLayers = r.int("block_count", 0)
	c.Dim = r.int("embedding_length", 0)
	c.FFN = r.int("feed_forward_length", 0)
	c.Heads = r.int("attention.head_count", 0)
	c.KVHeads = r.int("attention.head_count_kv", c.Heads)
	c.ContextLen = r.int("context_length", 2048)
	if c.Heads > 0 {
		c.HeadDim = r.int("attention.key_length", c.Dim/c.Heads)
		if v := r.int("attention.value_length", c.HeadDim); v != c.HeadDim {
			r.fail("attention.value_length %d differs from key_length %d", v, c.HeadDim)
		}
	}
	c.RopeDims = r.int("rope.dimension_count", c.HeadDim)
	c.RMSEps = float32(r.float("attention.layer_norm_rms_epsilon", 1e-5))
	c.RopeBase = float32(r.float("rope.freq_base", 10000))
	c.RopeScaling = RopeScaling(r.str("rope.scaling.type", string(RopeScalingNone)))
	factor := r.float("rope.scaling.factor", r.float("rope.scale_linear", 0))
	c.RopeFreqScale = 1
	if factor > 0 && c.RopeScaling == RopeScalingNone {
		c.RopeScaling = RopeScalingLinear
	}
	if c.RopeScaling != RopeScalingNone && factor > 0 {
		c.RopeFreqScale = float32(1 / factor)
	}
	c.YaRNOrigCtx = r.int("rope.scaling.original_context_length", c.ContextLen)
	c.YaRNAttnFac = float32(r.float("rope.scaling.attn_factor", 1))
	c.YaRNBetaFast = float32(r.float("rope.scaling.yarn_beta_fast", 32))
	c.YaRNBetaSlow = float32(r.float("rope.scaling.yarn_beta_slow", 1))
	if c.RopeScaling == RopeScalingYaRN {
		c.YaRNExtFactor = float32(r.float("rope.scaling.yarn_ext_factor", 1))
	}
	if r.err != nil {
		return Config{}, r.err
	}
	return c, c.validate()
}

func (c Config) validate() error {
	switch {
	case c.NumLayers <= 0 || c.NumLayers > 1024:
		return fmt.Errorf("model config: %d layers", c.NumLayers)
	case c.Dim <= 0 || c.FFN <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.HeadDim <= 0:
		return fmt.Errorf("model config: dim %d ffn %d heads %d kv heads %d head dim %d", c.Dim, c.FFN, c.Heads, c.KVHeads, c.HeadDim)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("model config: %d heads not a multiple of %d kv heads", c.Heads, c.KVHeads)
	case c.RopeDims <= 0 || c.RopeDims > c.HeadDim || c.RopeDims%2 != 0:
		return fmt.Errorf("model config: rope dims %d for head dim %d", c.RopeDims, c.HeadDim)
	case !(c.RMSEps > 0) || !(c.RopeBase > 0) || math.IsInf(float64(c.RopeBase), 0):
		return fmt.Errorf("model config: rms eps %g rope base %g", c.RMSEps, c.RopeBase)
	case !(c.RopeFreqScale > 0):
		return fmt.Errorf("model config: rope frequency scale %g", c.RopeFreqScale)
	case c.RopeScaling != RopeScalingNone && c.RopeScaling != RopeScalingLinear && c.RopeScaling != RopeScalingYaRN:
		return fmt.Errorf("model config: rope scaling %q not supported", c.RopeScaling)
	}
	return nil
}

// metaReader reads optional metadata under an architecture prefix, keeping
// the first type error.
type metaReader struct {
	h      *gguf.Header
	prefix string
	err    error
}

func (r *metaReader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("model config: "+format, a...)
	}
}

func (r *metaReader) int(key string, def int) int {
	v, ok := r.h.Get(r.prefix + key)
	if !ok {
		return def
	}
	u, ok := v.Uint()
	if !ok || u > 1<<31 {
		r.fail("%s%s: %v is not a size", r.prefix, key, v.Any())
		return def
	}
	return int(u)
}

func (r *metaReader) float(key string, def float64) float64 {
	v, ok := r.h.Get(r.prefix + key)
	if !ok {
		return def
	}
	f, ok := v.Float()
	if !ok {
		r.fail("%s%s: %v is not a number", r.prefix, key, v.Any())
		return def
	}
	return f
}

func (r *metaReader) str(key, def string) string {
	v, ok := r.h.Get(r.prefix + key)
	if !ok {
		return def
	}
	s, ok := v.Str()
	if !ok {
		r.fail("%s%s: %v is not a string", r.prefix, key, v.Any())
		return def
	}
	return s
}
