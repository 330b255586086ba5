package model

import (
	"fmt"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Model is a llama-family model whose weights stay memory-mapped in their
// GGUF file. Stages built from it read only the tensors of their layers.
type Model struct {
	Config
	File *gguf.File

	// HeldFrom and HeldTo are the layers the file holds: all of them,
	// or a shard's range (hearth.shard.from/to).
	HeldFrom, HeldTo int

	embd      tensor.Matrix // (vocab, dim) token embeddings
	output    tensor.Matrix // (vocab, dim) LM head; token_embd when tied
	outNorm   []float32     // (dim,)
	ropeFreqs []float32     // (ropeDims/2,) optional frequency divisors (llama 3.1)
}

// Open memory-maps the GGUF file at path and loads its model.
func Open(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := Load(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

// Load reads the model of an open GGUF file. The model does not own f unless
// it came from Open; Close closes f either way.
func Load(f *gguf.File) (*Model, error) {
	cfg, err := ParseConfig(f.Header)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, File: f}
	if err := m.loadShape(); err != nil {
		return nil, err
	}
	// A shard file (hearth.shard.*) holds only some layers: the embeddings
	// and head are loaded when present and required only by the stages
	// that use them (see checkStage).
	if _, ok := f.Tensor("token_embd.weight"); ok {
		if m.embd, err = m.matrix("token_embd.weight", m.Vocab, m.Dim); err != nil {
			return nil, err
		}
	}
	if _, ok := f.Tensor("output.weight"); ok {
		if m.output, err = m.matrix("output.weight", m.Vocab, m.Dim); err != nil {
			return nil, err
		}
	} else {
		m.output = m.embd // tied embeddings
	}
	if _, ok := f.Tensor("output_norm.weight"); ok {
		if m.outNorm, err = m.vector("output_norm.weight", m.Dim); err != nil {
			return nil, err
		}
	}
	if _, ok := f.Tensor("rope_freqs.weight"); ok {
		if m.ropeFreqs, err = m.vector("rope_freqs.weight", m.RopeDims/2); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Metadata keys a shard file written by catalog.FetchLayers carries.
const (
	KeyShardFrom  = "hearth.shard.from"
	KeyShardTo    = "hearth.shard.to"
	KeyShardTotal = "hearth.shard.total_layers"
)

// loadShape sets the vocabulary size and the layer range the file holds.
func (m *Model) loadShape() error {
	f := m.File
	if ti, ok := f.Tensor("token_embd.weight"); ok {
		if len(ti.Dims) < 2 {
			return fmt.Errorf("model: token_embd.weight has dims %v", ti.Dims)
		}
		m.Vocab = int(ti.Dims[1])
	} else if v, err := f.Uint(m.Arch + ".vocab_size"); err == nil {
		m.Vocab = int(v)
	} else if toks, err := f.Array("tokenizer.ggml.tokens"); err == nil {
		if t, ok := toks.([]string); ok {
			m.Vocab = len(t)
		}
	}
	if m.Vocab <= 0 {
		return fmt.Errorf("%w: token_embd.weight (and no vocabulary size in the metadata)", ErrMissingTensor)
	}
	m.HeldFrom, m.HeldTo = 0, m.NumLayers
	from, errFrom := f.Uint(KeyShardFrom)
	to, errTo := f.Uint(KeyShardTo)
	if errFrom == nil && errTo == nil {
		if from >= to || to > uint64(m.NumLayers) {
			return fmt.Errorf("model: shard file holds layers [%d,%d) of %d", from, to, m.NumLayers)
		}
		m.HeldFrom, m.HeldTo = int(from), int(to)
	}
	return nil
}

// checkStage reports whether this file holds what the stage [from,to) needs.
func (m *Model) checkStage(from, to int) error {
	if from < m.HeldFrom || to > m.HeldTo {
		return fmt.Errorf("stage [%d,%d): this shard file holds only layers [%d,%d)", from, to, m.HeldFrom, m.HeldTo)
	}
	if from == 0 && m.embd.Data == nil {
		return fmt.Errorf("%w: token_embd.weight (needed by the first stage)", ErrMissingTensor)
	}
	if to == m.NumLayers && (m.output.Data == nil || m.outNorm == nil) {
		return fmt.Errorf("%w: output_norm.weight / output.weight (needed by the last stage)", ErrMissingTensor)
	}
	return nil
}

// Close releases the model's file mapping. Stages and sessions of the model
// must not be used afterwards.
func (m *Model) Close() error { return m.File.Close() }

// TiedEmbeddings reports whether the LM head reuses the token embeddings.
func (m *Model) TiedEmbeddings() bool { _, ok := m.File.Tensor("output.weight"); return !ok }

// matrix returns a 2-D weight of the given shape, checking dims and type.
func (m *Model) matrix(name string, rows, cols int) (tensor.Matrix, error) {
	ti, data, err := m.File.TensorData(name)
	if err != nil {
		return tensor.Matrix{}, fmt.Errorf("%w: %s", ErrMissingTensor, name)
	}
	if len(ti.Dims) < 2 || int(ti.Dims[0]) != cols || int(ti.Dims[1]) != rows || ti.Elements() != uint64(rows*cols) {
		return tensor.Matrix{}, fmt.Errorf("model: %s has dims %v, want [%d %d]", name, ti.Dims, cols, rows)
	}
	mat, err := tensor.NewMatrix(ti.Type, rows, cols, data)
	if err != nil {
		return tensor.Matrix{}, fmt.Errorf("model: %s: %w", name, err)
	}
	if err := tensor.DequantizeRow(ti.Type, make([]float32, cols), mat.Row(0)); err != nil {
		return tensor.Matrix{}, fmt.Errorf("model: %s: %w", name, err)
	}
	return mat, nil
}

// vector returns a 1-D weight (norms, biases) as float32.
func (m *Model) vector(name string, n int) ([]float32, error) {
	ti, data, err := m.File.TensorData(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMissingTensor, name)
	}
	if ti.Elements() != uint64(n) {
		return nil, fmt.Errorf("model: %s has dims %v, want [%d]", name, ti.Dims, n)
	}
	out := make([]float32, n)
	if err := tensor.DequantizeRow(ti.Type, out, data); err != nil {
		return nil, fmt.Errorf("model: %s: %w", name, err)
	}
	return out, nil
}

// layer holds the weights of one transformer block.
type layer struct {
	attnNorm   []float32     // (dim,)
	wq         tensor.Matrix // (heads*headDim, dim)
	wk, wv     tensor.Matrix // (kvHeads*headDim, dim)
	bq, bk, bv []float32     // optional biases
	wo         tensor.Matrix // (dim, heads*headDim)
	ffnNorm    []float32     // (dim,)
	gate, up   tensor.Matrix // (ffn, dim)
	down       tensor.Matrix // (dim, ffn)
}

func (m *Model) loadLayer(i int) (*layer, error) {
	name := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
	qDim, kvDim := m.Heads*m.HeadDim, m.KVDim()
	l := &layer{}
	var err error
	steps := []func() error{
		func() error { l.attnNorm, err = m.vector(name("attn_norm.weight"), m.Dim); return err },
		func() error { l.wq, err = m.matrix(name("attn_q.weight"), qDim, m.Dim); return err },
		func() error { l.wk, err = m.matrix(name("attn_k.weight"), kvDim, m.Dim); return err },
		func() error { l.wv, err = m.matrix(name("attn_v.weight"), kvDim, m.Dim); return err },
		func() error { l.wo, err = m.matrix(name("attn_output.weight"), m.Dim, qDim); return err },
		func() error { l.ffnNorm, err = m.vector(name("ffn_norm.weight"), m.Dim); return err },
		func() error { l.gate, err = m.matrix(name("ffn_gate.weight"), m.FFN, m.Dim); return err },
		func() error { l.up, err = m.matrix(name("ffn_up.weight"), m.FFN, m.Dim); return err },
		func() error { l.down, err = m.matrix(name("ffn_down.weight"), m.Dim, m.FFN); return err },
	}
	// Biases are optional in every architecture (qwen2 has them).
	for _, b := range []struct {
		dst  *[]float32
		name string
		n    int
	}{{&l.bq, "attn_q.bias", qDim}, {&l.bk, "attn_k.bias", kvDim}, {&l.bv, "attn_v.bias", kvDim}} {
		if _, ok := m.File.Tensor(name(b.name)); ok {
			steps = append(steps, func() error { *b.dst, err = m.vector(name(b.name), b.n); return err })
		} else if m.AttnBias {
			return nil, fmt.Errorf("%w: %s", ErrMissingTensor, name(b.name))
		}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return l, nil
}
