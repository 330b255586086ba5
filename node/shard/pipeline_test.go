package shard

import (
	"fmt"
	"math"
	"testing"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// prompt is a short story start (ids valid in both shared models).
var prompt = []int32{1, 403, 407, 261, 378, 432}

const decodeSteps = 12

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func sameLogits(t *testing.T, got, want [][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d steps of logits, want %d", len(got), len(want))
	}
	for i := range want {
		if !bitsEqual(got[i], want[i]) {
			t.Fatalf("step %d: logits differ from the local unsplit model", i)
		}
	}
}

// TestSplitAcrossHostsIsBitIdentical runs every layer boundary of the real
// models as a pipeline over loopback libp2p hosts — remote then remote, local
// then remote, remote then local — and requires the logits of every step to
// be bit-identical to the unsplit local model.
func TestSplitAcrossHostsIsBitIdentical(t *testing.T) {
	for _, name := range []string{stories260K, tinyQ8} {
		t.Run(name, func(t *testing.T) {
			tm := openTestModel(t, name)
			n := tm.m.NumLayers
			ctxLen := len(prompt) + decodeSteps
			wantIDs, want := decode(t, model.Chain{tm.localStage(t, 0, n, ctxLen)}, prompt, decodeSteps)
			// One server serves the whole model: clients open sub-ranges.
			whole := startServer(t, Default(), nil, tm.backend(t, 0, n))
			client := p2ptest.NewHost(t, nil)
			c := dial(t, client, whole)
			for k := 1; k < n; k++ {
				// Two more servers serve exactly [0,k) and [k,n).
				head := dial(t, client, startServer(t, Default(), nil, tm.backend(t, 0, k)))
				tail := dial(t, client, startServer(t, Default(), nil, tm.backend(t, k, n)))
				open := func(c *Client, from, to int) *RemoteStage {
					return openStage(t, c, SessionConfig{Model: tm.hash, From: from, To: to, MaxContext: ctxLen, DType: F32})
				}
				chains := map[string]model.Chain{
					"remote,remote two hosts": {open(head, 0, k), open(tail, k, n)},
					"remote,remote one host":  {open(c, 0, k), open(c, k, n)},
					"local,remote":            {tm.localStage(t, 0, k, ctxLen), open(tail, k, n)},
					"remote,local":            {open(head, 0, k), tm.localStage(t, k, n, ctxLen)},
				}
				for label, chain := range chains {
					t.Run(fmt.Sprintf("cut %d %s", k, label), func(t *testing.T) {
						ids, got := decode(t, chain, prompt, decodeSteps)
						sameLogits(t, got, want)
						if fmt.Sprint(ids) != fmt.Sprint(wantIDs) {
							t.Fatalf("ids %v, want %v", ids, wantIDs)
						}
					})
				}
			}
		})
	}
}

// TestChunkedPrefillIsBitIdentical sends a prompt longer than the server's
// batch limit: the client splits it into frames and the result must not
// change.
func TestChunkedPrefillIsBitIdentical(t *testing.T) {
	tm := openTestModel(t, stories260K)
	n := tm.m.NumLayers
	long := make([]int32, 0, 40)
	for i := range 40 {
		long = append(long, int32(260+i*5))
	}
	_, want := decode(t, model.Chain{tm.localStage(t, 0, n, 64)}, long, 4)
	cfg := Default()
	cfg.MaxBatch = 7
	srv := startServer(t, cfg, nil, tm.backend(t, 0, n))
	c := dial(t, p2ptest.NewHost(t, nil), srv)
	for _, cut := range []int{0, 2} {
		var chain model.Chain
		if cut > 0 {
			chain = append(chain, tm.localStage(t, 0, cut, 64))
		}
		r := openStage(t, c, SessionConfig{Model: tm.hash, From: cut, To: n, MaxContext: 64, DType: F32})
		chain = append(chain, r)
		_, got := decode(t, chain, long, 4)
		sameLogits(t, got, want)
		if st := r.Stats(); st.Forwards != 6+3 || st.Tokens != 43 {
			t.Errorf("cut %d: %d frames for %d tokens, want 9 frames (6 chunks + 3 steps) for 43", cut, st.Forwards, st.Tokens)
		}
	}
}

// TestF16WireTolerance runs the middle hop with f16 hidden states on the
// wire. The stated tolerance: greedy ids equal to the f32 pipeline's on the
// shared models, and every logit within 1% of the step's logit range (max −
// min) of the f32 value. Measured: stories260K (f32 weights) 0.004 absolute;
// TinyStories-656K (Q8_0, whose activations are re-quantised to 8 bits, which
// amplifies f16 rounding) 0.14 absolute, about 0.5% of its range.
func TestF16WireTolerance(t *testing.T) {
	const tolerance = 0.01
	for _, name := range []string{stories260K, tinyQ8} {
		t.Run(name, func(t *testing.T) {
			tm := openTestModel(t, name)
			n := tm.m.NumLayers
			steps := 30
			ctxLen := len(prompt) + steps
			wantIDs, want := decode(t, model.Chain{tm.localStage(t, 0, n, ctxLen)}, prompt, steps)
			srv := startServer(t, Default(), nil, tm.backend(t, 0, n))
			c := dial(t, p2ptest.NewHost(t, nil), srv)
			// Hidden states cross the wire to the remote hop and, when the
			// model has layers left for a local tail, back again.
			mid := max(2, n-1)
			chain := model.Chain{
				tm.localStage(t, 0, 1, ctxLen),
				openStage(t, c, SessionConfig{Model: tm.hash, From: 1, To: mid, MaxContext: ctxLen, DType: F16}),
			}
			if mid < n {
				chain = append(chain, tm.localStage(t, mid, n, ctxLen))
			}
			ids, got := decode(t, chain, prompt, steps)
			if fmt.Sprint(ids) != fmt.Sprint(wantIDs) {
				t.Fatalf("f16 wire ids %v, want %v", ids, wantIDs)
			}
			// Each step's error relative to the spread of its logits.
			var maxDiff, maxRel float64
			for s := range want {
				lo, hi, d := math.Inf(1), math.Inf(-1), 0.0
				for i, w := range want[s] {
					lo, hi = min(lo, float64(w)), max(hi, float64(w))
					d = max(d, math.Abs(float64(got[s][i]-w)))
				}
				maxDiff, maxRel = max(maxDiff, d), max(maxRel, d/(hi-lo))
			}
			t.Logf("%s: f16 wire, %d steps, max |Δlogit| = %.5f (%.3f%% of the logit range)", name, steps, maxDiff, 100*maxRel)
			if maxRel > tolerance {
				t.Fatalf("max |Δlogit| is %.3f%% of the logit range, above the stated %v%%", 100*maxRel, 100*tolerance)
			}
			if maxDiff == 0 {
				t.Fatal("f16 wire mode gave exact f32 logits: hidden states did not go over as f16")
			}
		})
	}
}
