package shard

import (
	"context"
	"os"
	"path/filepath"
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
// remote+remote, each server with its own pool of as many threads as the
// local run). One op is one token; tok/s is reported, and the ratio to the
// local run is the pipeline's efficiency.
func BenchmarkDecode(b *testing.B) {
	tm := benchModel(b)
	n := tm.m.NumLayers
	k := n / 2
	const promptLen = 16
	maxCtx := min(tm.m.ContextLen, 256)
	pool := tensor.NewPool(0) // the local run's threads, and each server's
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
		sp := tensor.NewPool(0)
		b.Cleanup(sp.Close)
		be, err := NewModelBackend(tm.m, sp, tm.hash, from, to)
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
