package gpu

import (
	"math"

	"github.com/hearth-p2p/hearth/inference/model"
)

// ropeTable computes the rotary (cos, sin) pairs of positions on the host,
// exactly as the CPU engine does (inference/model ops.go: ggml's
// rope_cache_init with YaRN and rope_freqs), so the GPU rotates with the
// very same table; it is uploaded with each batch (dims floats a position).
type ropeTable struct {
	dims       int
	thetaScale float32
	freqScale  float32
	freqs      []float32 // optional per-pair frequency divisors
	extFactor  float32
	attnFactor float32
	corrLow    float32
	corrHigh   float32
}

func newRopeTable(c model.Config, freqs []float32) ropeTable {
	r := ropeTable{
		dims:       c.RopeDims,
		thetaScale: float32(math.Pow(float64(c.RopeBase), -2/float64(c.RopeDims))),
		freqScale:  c.RopeFreqScale,
		freqs:      freqs,
		extFactor:  c.YaRNExtFactor,
		attnFactor: c.YaRNAttnFac,
	}
	if r.attnFactor == 0 {
		r.attnFactor = 1
	}
	if c.RopeScaling == model.RopeScalingYaRN {
		r.corrLow, r.corrHigh = yarnCorrDims(c.RopeDims, c.YaRNOrigCtx, c.RopeBase, c.YaRNBetaFast, c.YaRNBetaSlow)
	}
	return r
}

// yarnCorrDims is ggml_rope_yarn_corr_dims.
func yarnCorrDims(nDims, origCtx int, base, betaFast, betaSlow float32) (float32, float32) {
	corr := func(nRot float32) float64 {
		return float64(nDims) * math.Log(float64(origCtx)/(float64(nRot)*2*math.Pi)) / (2 * math.Log(float64(base)))
	}
	lo := math.Max(0, math.Floor(corr(betaFast)))
	hi := math.Min(float64(nDims-1), math.Ceil(corr(betaSlow)))
	return float32(lo), float32(hi)
}

// fill writes the table of positions pos … pos+n-1 into cs (n × dims).
func (r *ropeTable) fill(cs []float32, pos, n int) {
	for t := 0; t < n; t++ {
		r.position(cs[t*r.dims:(t+1)*r.dims], pos+t)
	}
}

// position fills cs with the (cos, sin) pairs of one position.
func (r *ropeTable) position(cs []float32, pos int) {
	theta := float32(pos)
	for i0 := 0; i0 < r.dims; i0 += 2 {
		t := theta
		if r.freqs != nil {
			t /= r.freqs[i0/2]
		}
		cs[i0], cs[i0+1] = r.yarn(t, i0)
		theta *= r.thetaScale
	}
}

// yarn is ggml's rope_yarn.
func (r *ropeTable) yarn(thetaExtrap float32, i0 int) (float32, float32) {
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
