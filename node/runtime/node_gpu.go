package runtime

import (
	"unicode/utf8"

	"github.com/hearth-p2p/hearth/inference/gpu"
	"github.com/hearth-p2p/hearth/node/shard"
)

// maxBackendLabel is the longest backend name the shard protocol carries.
const maxBackendLabel = 32

// gpuBackend puts sm's whole range on the best GPU (a CPU adapter only with
// HEARTH_GPU_ALLOW_CPU=1) and serves it from there.
func (n *Node) gpuBackend(sm *servedModel) (shard.Backend, func(int) (shard.StageSession, error), error) {
	dev, err := gpu.Open(gpu.Options{})
	if err != nil {
		return nil, nil, err
	}
	n.closers = append(n.closers, func() error { dev.Close(); return nil })
	st, err := gpu.NewStage(sm.lm.Model, sm.from, sm.to, dev)
	if err != nil {
		return nil, nil, err
	}
	n.closers = append(n.closers, func() error { st.Close(); return nil })
	sm.backend = truncateLabel(gpu.BackendName(dev), maxBackendLabel)
	n.cfg.Shard.Backend = sm.backend
	m := sm.lm.Model
	info := shard.ModelInfo{Hash: sm.hash, Name: m.Name, NumLayers: m.NumLayers, Dim: m.Dim, Vocab: m.Vocab,
		KVDim: m.KVDim(), ContextLen: m.ContextLen, From: sm.from, To: sm.to}
	open := func(maxCtx int) (shard.StageSession, error) { return st.NewSession(maxCtx) }
	b, err := shard.NewRangeBackend(info, open)
	return b, open, err
}

// truncateLabel cuts s to at most n bytes on a rune boundary.
func truncateLabel(s string, n int) string {
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
