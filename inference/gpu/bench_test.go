package gpu

import (
	"context"
	"testing"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/model/synth"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// BenchmarkDecode measures single-token decode through a whole tiny preset
// on the CPU engine and on the GPU stage (tok/s). On lavapipe the GPU
// numbers say nothing about GPUs: they are for correctness runs only.
func BenchmarkDecode(b *testing.B) {
	dir := b.TempDir()
	for _, name := range []string{"llama-tiny-q8_0", "llama-tiny-q4_k", "llama-tiny-f16"} {
		path := writeSynth(b, name, dir, nil)
		m := openModel(b, path)
		prompt := synthPrompt(synth.Presets[name])
		b.Run(name+"/cpu", func(b *testing.B) {
			pool := tensor.NewPool(0)
			defer pool.Close()
			st, err := m.NewStage(0, m.NumLayers, pool)
			if err != nil {
				b.Fatal(err)
			}
			s, err := st.NewSession(m.ContextLen)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchDecode(b, s, prompt, m.ContextLen)
		})
		b.Run(name+"/gpu", func(b *testing.B) {
			d := testDevice(b)
			st, err := NewStage(m, 0, m.NumLayers, d)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			s, err := st.NewSession(m.ContextLen)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchDecode(b, s, prompt, m.ContextLen)
		})
	}
}

func benchDecode(b *testing.B, s model.Forwarder, prompt []int32, maxCtx int) {
	ctx := context.Background()
	if _, err := s.Forward(ctx, 0, prompt, nil); err != nil {
		b.Fatal(err)
	}
	pos := len(prompt)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if pos == maxCtx {
			pos = len(prompt) // rewinds the cache
		}
		if _, err := s.Forward(ctx, pos, []int32{prompt[1]}, nil); err != nil {
			b.Fatal(err)
		}
		pos++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}
