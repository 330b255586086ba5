package verify

import (
	"fmt"
	"math"

	"github.com/hearth-p2p/hearth/node/shard"
)

// Comparing results. With f32 arithmetic on the CPU backend the kernels'
// reduction order is fixed and a split, a batch or a replay changes nothing
// in the arithmetic, so a re-execution fed exactly the values the provider
// decoded gives exactly its output, rounded to the result's wire dtype: the
// comparison is bit for bit. A provider on another backend (WebGPU) sums in
// another order: its results are compared with a tolerance instead.

// DefaultTolerance is the tolerance of inexact comparisons: every value
// within 1% of the range (max − min) of its row in the reference, the
// precision the f16 wire keeps on the shared models (see node/shard).
const DefaultTolerance = 0.01

// BackendCPU is the backend whose results are bit-exact.
const BackendCPU = "cpu"

// exactBetween reports whether results of two backends compare bit for bit.
func exactBetween(a, b string) bool {
	return (a == BackendCPU || a == "") && (b == BackendCPU || b == "")
}

// mismatch compares a provider's output with a reference computed from the
// same inputs, row by row (rows of width row; a single row for logits). It
// returns "" when they agree: exactly, or within tol of each reference row's
// range when exact is false.
func mismatch(claimed, ref []float32, row int, exact bool, tol float64) string {
	if len(claimed) != len(ref) {
		return fmt.Sprintf("%d values where the re-execution gave %d", len(claimed), len(ref))
	}
	if row <= 0 || len(ref)%row != 0 {
		row = len(ref)
	}
	for start := 0; start < len(ref); start += row {
		c, r := claimed[start:start+row], ref[start:start+row]
		if exact {
			for i := range r {
				if math.Float32bits(c[i]) != math.Float32bits(r[i]) {
					return fmt.Sprintf("value %d is %v, the re-execution gave %v", start+i, c[i], r[i])
				}
			}
			continue
		}
		lo, hi := float64(r[0]), float64(r[0])
		for _, v := range r {
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		limit := tol * (hi - lo)
		for i := range r {
			if d := math.Abs(float64(c[i]) - float64(r[i])); d > limit || math.IsNaN(d) {
				return fmt.Sprintf("value %d is %v, the re-execution gave %v (tolerance %.3g)", start+i, c[i], r[i], limit)
			}
		}
	}
	return ""
}

// roundTo rounds v to what dt carries: v itself for f32, the f16 values
// for f16.
func roundTo(dt shard.DType, v []float32) ([]float32, error) {
	if dt != shard.F16 {
		return v, nil
	}
	return shard.DecodeFloats(shard.F16, shard.EncodeFloats(shard.F16, v))
}

// asReceived returns the hidden states [0, n) as the provider decoded them:
// each position rounded through its wire dtype.
func asReceived(hidden []float32, dim int, dtypes []shard.DType) ([]float32, error) {
	if len(dtypes) == 0 {
		return hidden, nil
	}
	if len(dtypes)*dim != len(hidden) {
		return nil, fmt.Errorf("%d input dtypes for %d positions", len(dtypes), len(hidden)/dim)
	}
	out := hidden
	copied := false
	for i, dt := range dtypes {
		if dt != shard.F16 {
			continue
		}
		if !copied {
			out, copied = append([]float32(nil), hidden...), true
		}
		r, err := roundTo(shard.F16, out[i*dim:(i+1)*dim])
		if err != nil {
			return nil, err
		}
		copy(out[i*dim:], r)
	}
	return out, nil
}
