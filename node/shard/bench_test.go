package shard

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/model/synth"
	"github.com/hearth-p2p/hearth/inference/tensor"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

// benchModel is $HEARTH_BENCH_MODEL (e.g. a synthetic 1B llama written by
// `hearth synth --preset llama-1b-q8_0`), else a tiny synthetic model written
// to a temporary directory.
func benchModel(b *testing.B) *testModel {
	b.Helper()
	if p := os.Getenv("HEARTH_BENCH_MODEL"); p != "" {
		return openModelFile(b, p)
	}
	p := synth.Presets["llama-tiny-q8_0"]
	vf, err := gguf.Open(filepath.Join(modelsDir(b), p.Vocab))
	if err != nil {
		b.Fatal(err)
	}
	defer vf.Close()
	w, err := synth.Build(p, vf.Header)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "llama-tiny-q8_0.gguf")
	if err := w.WriteFile(path); err != nil {
		b.Fatal(err)
	}
	return openModelFile(b, path)
}

// BenchmarkDecode measures single-token decode through the whole model: all
// local, then as two hops over loopback libp2p (local+remote and
// remote+remote). One op is one token; tok/s is reported, and the ratio to the
// local run is the pipeline's efficiency. Every stage runs on the same pool
// of threads, so the difference is the protocol's cost per token.
func BenchmarkDecode(b *testing.B) {
	tm := benchModel(b)
	n := tm.m.NumLayers
	k := n / 2
	const promptLen = 16
	maxCtx := min(tm.m.ContextLen, 256)
	threads, _ := strconv.Atoi(os.Getenv("HEARTH_BENCH_THREADS")) // 0: one per CPU
	pool := tensor.NewPool(threads)
	b.Cleanup(pool.Close)
	local := func(from, to int) model.Forwarder {
		st, err := tm.m.NewStage(from, to, pool)
		if err != nil {
			b.Fatal(err)
		}
		s, err := st.NewSession(maxCtx)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		return s
	}
	remote := func(from, to int) model.Forwarder {
		// The servers share the local run's pool: on one machine, separate
		// pools would only compete for the same cores.
		be, err := NewModelBackend(tm.m, pool, tm.hash, from, to)
		if err != nil {
			b.Fatal(err)
		}
		srv := startServer(b, Default(), nil, be)
		c := dial(b, p2ptest.NewHost(b, nil), srv)
		return openStage(b, c, SessionConfig{Model: tm.hash, From: from, To: to, MaxContext: maxCtx, DType: F32})
	}
	cases := []struct {
		name  string
		chain func() model.Chain
	}{
		{"local", func() model.Chain { return model.Chain{local(0, n)} }},
		{"2-hop-local-remote", func() model.Chain { return model.Chain{local(0, k), remote(k, n)} }},
		{"2-hop-remote-remote", func() model.Chain { return model.Chain{remote(0, k), remote(k, n)} }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			chain := tc.chain()
			ctx := context.Background()
			prompt := make([]int32, promptLen)
			for i := range prompt {
				prompt[i] = int32(1 + i)
			}
			if _, err := chain.Forward(ctx, 0, prompt); err != nil {
				b.Fatal(err)
			}
			pos := promptLen
			b.ResetTimer()
			for range b.N {
				if pos == maxCtx { // start over after the prompt: the cache truncates
					pos = promptLen
				}
				if _, err := chain.Forward(ctx, pos, []int32{int32(100 + pos)}); err != nil {
					b.Fatal(err)
				}
				pos++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkHopOverhead measures what one remote hop adds per token: the same
// single-layer stage run locally and through a loopback server (one kernel
// thread, so that only the protocol differs). "first" sends a token id and
// gets dim hidden floats back; "last" sends dim floats and gets the logits.
func BenchmarkHopOverhead(b *testing.B) {
	tm := benchModel(b)
	n := tm.m.NumLayers
	pool := tensor.NewPool(1)
	b.Cleanup(pool.Close)
	srv := startServer(b, Default(), nil, mustBackend(b, tm, pool))
	c := dial(b, p2ptest.NewHost(b, nil), srv)
	maxCtx := min(tm.m.ContextLen, 256)
	for _, tc := range []struct {
		name     string
		from, to int
	}{{"first", 0, 1}, {"last", n - 1, n}} {
		input := func(pos int) ([]int32, []float32) {
			if tc.from == 0 {
				return []int32{int32(100 + pos)}, nil
			}
			h := make([]float32, tm.m.Dim)
			for i := range h {
				h[i] = float32(i%7) * 0.1
			}
			return nil, h
		}
		run := func(b *testing.B, f model.Forwarder) {
			ctx := context.Background()
			pos := 0
			for range b.N {
				if pos == maxCtx {
					pos = 0
				}
				tk, hd := input(pos)
				if _, err := f.Forward(ctx, pos, tk, hd); err != nil {
					b.Fatal(err)
				}
				pos++
			}
		}
		b.Run(tc.name+"/local", func(b *testing.B) {
			st, err := tm.m.NewStage(tc.from, tc.to, pool)
			if err != nil {
				b.Fatal(err)
			}
			s, err := st.NewSession(maxCtx)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			run(b, s)
		})
		b.Run(tc.name+"/remote", func(b *testing.B) {
			run(b, openStage(b, c, SessionConfig{Model: tm.hash, From: tc.from, To: tc.to, MaxContext: maxCtx, DType: F32}))
		})
	}
}

func mustBackend(b *testing.B, tm *testModel, pool *tensor.Pool) *ModelBackend {
	be, err := NewModelBackend(tm.m, pool, tm.hash, 0, tm.m.NumLayers)
	if err != nil {
		b.Fatal(err)
	}
	return be
}
