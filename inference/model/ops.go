package model

import (
	"math"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

// The element-wise kernels below fix their arithmetic order and write every
// intermediate rounding explicitly (float32(a*b)), so the Go compiler cannot
// fuse multiply-adds: results are the same on every platform and thread count.

// rmsnorm sets o = x / sqrt(mean(x²) + eps) * w, as llama.cpp computes it
// (sum of squares in float64).
func rmsnorm(o, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(float32(v * v))
	}
	mean := float32(sum / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	w = w[:len(x)]
	o = o[:len(x)]
	for i, v := range x {
		o[i] = float32(v*scale) * w[i]
	}
}

// softmax turns x into probabilities in place. The exponentials are taken
// 64 at a time (tensor.ExpAll: the same bits on every CPU) and summed in
// order, in float64.
func softmax(x []float32) {
	maxv := float32(math.Inf(-1))
	for _, v := range x {
		maxv = max(maxv, v)
	}
	var buf [64]float64
	var sum float64
	for i := 0; i < len(x); i += len(buf) {
		chunk := x[i:min(i+len(buf), len(x))]
		b := buf[:len(chunk)]
		for j, v := range chunk {
			b[j] = float64(v - maxv)
		}
		tensor.ExpAll(b)
		for j := range chunk {
			e := float32(b[j])
			chunk[j] = e
			sum += float64(e)
		}
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// swiglu sets g = silu(g) * u (tensor.SwiGLU: its exp is the same on
// every CPU).
func swiglu(g, u []float32) { tensor.SwiGLU(g, u) }

// add sets x += y.
func add(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}

// addRows adds the vector b to each of the n rows of x.
func addRows(x, b []float32, n int) {
	w := len(b)
	for t := 0; t < n; t++ {
		add(x[t*w:(t+1)*w], b)
	}
}

// rope holds the rotary embedding parameters of a model.
type rope struct {
	dims       int // rotated dimensions per head
	neox       bool
	thetaScale float32   // base^(-2/dims)
	freqScale  float32   // linear/YaRN interpolation factor
	freqs      []float32 // optional per-pair frequency divisors
	extFactor  float32   // YaRN
	attnFactor float32
	corrLow    float32
	corrHigh   float32
}

func newRope(c Config, freqs []float32) rope {
	r := rope{
		dims:       c.RopeDims,
		neox:       c.RopeNeoX,
		thetaScale: float32(math.Pow(float64(c.RopeBase), -2/float64(c.RopeDims))),
		freqScale:  c.RopeFreqScale,
		freqs:      freqs,
		extFactor:  c.YaRNExtFactor,
		attnFactor: c.YaRNAttnFac,
	}
	if r.attnFactor == 0 {
		r.attnFactor = 1
	}
	if c.RopeScaling == RopeScalingYaRN {
		r.corrLow, r.corrHigh = yarnCorrDims(c.RopeDims, c.YaRNOrigCtx, c.RopeBase, c.YaRNBetaFast, c.YaRNBetaSlow)
	}
	return r
}

// yarnCorrDims is ggml_rope_yarn_corr_dims: the dimension range over which
// YaRN ramps from interpolation to extrapolation.
func yarnCorrDims(nDims, origCtx int, base, betaFast, betaSlow float32) (float32, float32) {
	corr := func(nRot float32) float64 {
		return float64(nDims) * math.Log(float64(origCtx)/(float64(nRot)*2*math.Pi)) / (2 * math.Log(float64(base)))
	}
	lo := math.Max(0, math.Floor(corr(betaFast)))
	hi := math.Min(float64(nDims-1), math.Ceil(corr(betaSlow)))
	return float32(lo), float32(hi)
}

// table fills cs with (cos, sin) pairs for position pos: cs[i0], cs[i0+1]
// for each rotated pair i0 = 0, 2, …, dims-2 (ggml_rope_cache_init).
func (r *rope) table(cs []float32, pos int) {
	theta := float32(pos)
	for i0 := 0; i0 < r.dims; i0 += 2 {
		t := theta
		if r.freqs != nil {
			t /= r.freqs[i0/2]
		}
		c, s := r.yarn(t, i0)
		cs[i0], cs[i0+1] = c, s
		theta *= r.thetaScale
	}
}

// yarn is ggml's rope_yarn: the rotation angle for extrapolated angle
// thetaExtrap at pair i0, with YaRN's interpolation ramp and magnitude scale.
func (r *rope) yarn(thetaExtrap float32, i0 int) (float32, float32) {
	thetaInterp := r.freqScale * thetaExtrap
	theta := thetaInterp
	mscale := r.attnFactor
	if r.extFactor != 0 {
		y := (float32(i0/2) - r.corrLow) / max(0.001, r.corrHigh-r.corrLow)
		ramp := 1 - min(1, max(0, y))
		mix := ramp * r.extFactor
		theta = float32(thetaInterp*(1-mix)) + float32(thetaExtrap*mix)
		mscale *= 1 + 0.1*float32(math.Log(float64(1/r.freqScale)))
	}
	return float32(math.Cos(float64(theta))) * mscale, float32(math.Sin(float64(theta))) * mscale
}

// apply rotates each of the heads (of size headDim) packed in x using the
// cos/sin table cs of one position.
func (r *rope) apply(x []float32, heads, headDim int, cs []float32) {
	half := r.dims / 2
	for h := 0; h < heads; h++ {
		v := x[h*headDim : h*headDim+r.dims]
		for i0 := 0; i0 < r.dims; i0 += 2 {
			c, s := cs[i0], cs[i0+1]
			a, b := i0, i0+1 // adjacent pairs
			if r.neox {
				a, b = i0/2, i0/2+half
			}
			x0, x1 := v[a], v[b]
			v[a] = float32(x0*c) - float32(x1*s)
			v[b] = float32(x0*s) + float32(x1*c)
		}
	}
}
