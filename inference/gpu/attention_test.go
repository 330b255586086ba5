package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refAttention mirrors inference/model's attention for one position: out
// (heads × hd) from q over the first ctx rows of kc, vc (kvDim wide).
func refAttention(out, q, kc, vc []float32, ctx, heads, kvHeads, hd int) {
	kvDim, group := kvHeads*hd, heads/kvHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	sc := make([]float32, ctx)
	for h := 0; h < heads; h++ {
		off := (h / group) * hd
		maxv := float32(math.Inf(-1))
		for j := range sc {
			var dot float32
			for d := 0; d < hd; d++ {
				dot += q[h*hd+d] * kc[j*kvDim+off+d]
			}
			sc[j] = dot * scale
			maxv = max(maxv, sc[j])
		}
		var sum float64
		for j, v := range sc {
			sc[j] = float32(math.Exp(float64(v - maxv)))
			sum += float64(sc[j])
		}
		for d := 0; d < hd; d++ {
			var o float32
			for j, w := range sc {
				o += w / float32(sum) * vc[j*kvDim+off+d]
			}
			out[h*hd+d] = o
		}
	}
}

// TestAttention checks causal grouped-query attention over a cache of
// several 64-key tiles, for a batch of tokens at a later position.
func TestAttention(t *testing.T) {
	d := testDevice(t)
	r := rand.New(rand.NewPCG(17, 18))
	for _, c := range []struct{ heads, kvHeads, hd, pos, n int }{
		{8, 4, 16, 11, 1}, {8, 4, 16, 0, 20}, {4, 4, 8, 3, 5}, {8, 2, 64, 130, 3}, {2, 1, 128, 60, 9}, {2, 2, 256, 5, 2},
	} {
		t.Run(fmt.Sprintf("h%d_kv%d_hd%d_pos%d_n%d", c.heads, c.kvHeads, c.hd, c.pos, c.n), func(t *testing.T) {
			h := newHarness(t, d, 256)
			qDim, kvDim, ctx := c.heads*c.hd, c.kvHeads*c.hd, c.pos+c.n
			q := randFloats(r, c.n*qDim, 1)
			kc, vc := randFloats(r, ctx*kvDim, 1), randFloats(r, ctx*kvDim, 1)
			qs, ks, vs, os := h.f32(q, 0), h.f32(kc, 0), h.f32(vc, 0), h.f32(nil, c.n*qDim)
			scale := float32(1 / math.Sqrt(float64(c.hd)))
			got := h.run(func(b *builder) {
				b.simple("attention", params(c.heads, c.kvHeads, c.hd, qDim, kvDim, qDim, scale),
					func(n int, _ bool) (uint32, uint32, uint32) { return uint32(c.heads), uint32(n), 1 },
					qs, ks, vs, os)
			}, c.n, c.pos, os, c.n*qDim)
			want := make([]float32, c.n*qDim)
			for k := 0; k < c.n; k++ {
				refAttention(want[k*qDim:(k+1)*qDim], q[k*qDim:(k+1)*qDim], kc, vc, c.pos+k+1, c.heads, c.kvHeads, c.hd)
			}
			e := maxAbsRel(got, want)
			t.Logf("max error %.2e", e)
			if e > 1e-5 {
				t.Errorf("max error %.2e", e)
			}
		})
	}
}
