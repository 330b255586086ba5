package shard

import (
	"context"
	"fmt"
	"sync"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// StageSession is one session's state in a served layer range: the method
// set of *model.Session, which satisfies it as is.
type StageSession interface {
	// Forward runs n positions from pos: token ids for a first stage, n×dim
	// hidden states otherwise. It returns n×dim hidden states, or the last
	// position's logits for a last stage, valid until the next call.
	Forward(ctx context.Context, pos int, tokens []int32, hidden []float32) ([]float32, error)
	Len() int
	Truncate(n int) error
	Close()
}

// Backend executes the layers a server serves of one model.
type Backend interface {
	// Info describes the model and the served range; TokPerSec may be zero
	// (the server fills in what it measures).
	Info() ModelInfo
	// OpenSession starts a session on layers [from,to), a sub-range of the
	// served range, holding up to maxCtx positions.
	OpenSession(from, to, maxCtx int) (StageSession, error)
}

// ModelBackend serves a layer range of a model opened on this machine.
type ModelBackend struct {
	m    *model.Model
	pool *tensor.Pool
	info ModelInfo

	mu     sync.Mutex // guards stages
	stages map[[2]int]*model.Stage
}

// NewModelBackend serves layers [from,to) of m, whose file has content hash
// hash, running kernels on pool.
func NewModelBackend(m *model.Model, pool *tensor.Pool, hash [32]byte, from, to int) (*ModelBackend, error) {
	if from < 0 || from >= to || to > m.NumLayers {
		return nil, fmt.Errorf("model backend: layers [%d,%d) outside [0,%d)", from, to, m.NumLayers)
	}
	if pool == nil {
		return nil, fmt.Errorf("model backend: nil pool")
	}
	b := &ModelBackend{m: m, pool: pool, stages: map[[2]int]*model.Stage{}}
	b.info = ModelInfo{
		Hash: hash, Name: m.Name, NumLayers: m.NumLayers, Dim: m.Dim, Vocab: m.Vocab,
		KVDim: m.KVDim(), ContextLen: m.ContextLen, From: from, To: to,
	}
	// Load the whole range once so that a broken file fails here, not in a
	// peer's session.
	if _, err := b.stage(from, to); err != nil {
		return nil, err
	}
	return b, nil
}

// Info describes the served model and range.
func (b *ModelBackend) Info() ModelInfo { return b.info }

// OpenSession opens a session on [from,to).
func (b *ModelBackend) OpenSession(from, to, maxCtx int) (StageSession, error) {
	if from < b.info.From || to > b.info.To || from >= to {
		return nil, fmt.Errorf("model backend: layers [%d,%d) outside served [%d,%d)", from, to, b.info.From, b.info.To)
	}
	st, err := b.stage(from, to)
	if err != nil {
		return nil, err
	}
	ss, err := st.NewSession(maxCtx)
	if err != nil {
		return nil, fmt.Errorf("model backend: %w", err)
	}
	return ss, nil
}

// stage returns the (cached) stage of [from,to).
func (b *ModelBackend) stage(from, to int) (*model.Stage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.stages[[2]int{from, to}]; ok {
		return st, nil
	}
	st, err := b.m.NewStage(from, to, b.pool)
	if err != nil {
		return nil, fmt.Errorf("model backend: %w", err)
	}
	b.stages[[2]int{from, to}] = st
	return st, nil
}
