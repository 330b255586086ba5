package gpu

import (
	"errors"
	"fmt"

	"github.com/oliverbestmann/webgpu/wgpu"

	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// maxHeadDim is the largest head size the attention kernel handles.
const maxHeadDim = 256

// Stage runs the layers [From, To) of a model on a GPU, with the same
// contract as model.Stage: the first stage (From == 0) embeds token ids,
// the last (To == NumLayers) applies the output norm and LM head. Its
// weights are uploaded once, as their raw GGUF blocks.
type Stage struct {
	dev      *Device
	m        *model.Model
	from, to int
	layers   []*layer
	embd     *matrix      // (vocab, dim) first stage only
	outNorm  *wgpu.Buffer // (dim,) last stage only
	output   *matrix      // (vocab, dim) last stage only; shares embd's buffers when tied and both present
	rope     ropeTable
	bytes    int64 // weight bytes on the device
	kernels  map[string]bool
}

// layer holds one transformer block's weights on the device.
type layer struct {
	attnNorm, ffnNorm *wgpu.Buffer // (dim,)
	wq, wk, wv, wo    *matrix
	gate, up, down    *matrix
	bq, bk, bv        *wgpu.Buffer // optional biases
}

// NewStage uploads the layers [from, to) of m to dev.
func NewStage(m *model.Model, from, to int, dev *Device) (*Stage, error) {
	if from < 0 || to > m.NumLayers || from >= to {
		return nil, fmt.Errorf("gpu stage: layer range [%d,%d) outside [0,%d)", from, to, m.NumLayers)
	}
	if dev == nil {
		return nil, errors.New("gpu stage: nil device")
	}
	if m.HeadDim%2 != 0 || m.HeadDim > maxHeadDim {
		return nil, fmt.Errorf("gpu stage: head size %d (the GPU kernels take even sizes up to %d)", m.HeadDim, maxHeadDim)
	}
	if err := dev.Err(); err != nil {
		return nil, err
	}
	freqs, err := optionalVector(m, "rope_freqs.weight", m.RopeDims/2)
	if err != nil {
		return nil, err
	}
	s := &Stage{dev: dev, m: m, from: from, to: to, rope: newRopeTable(m.Config, freqs), kernels: map[string]bool{}}
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if err := s.load(); err != nil {
		s.release()
		return nil, err
	}
	dev.flush()
	return s, nil
}

func (s *Stage) load() error {
	m, d := s.m, s.dev
	if s.IsFirst() {
		var err error
		if s.embd, err = s.matrix("token_embd.weight", m.Vocab, m.Dim); err != nil {
			return err
		}
		s.need("get_rows:" + s.embd.typ.String())
	}
	for i := s.from; i < s.to; i++ {
		l, err := s.loadLayer(i)
		s.layers = append(s.layers, l) // released by the caller on error too
		if err != nil {
			return err
		}
	}
	if s.IsLast() {
		norm, err := vector(m, "output_norm.weight", m.Dim)
		if err != nil {
			return err
		}
		if s.outNorm, err = d.uploadF32("output_norm.weight", norm); err != nil {
			return err
		}
		s.bytes += int64(4 * m.Dim)
		name := "output.weight"
		if m.TiedEmbeddings() {
			name = "token_embd.weight"
		}
		if name == "token_embd.weight" && s.embd != nil {
			s.output = s.embd
		} else if s.output, err = s.matrix(name, m.Vocab, m.Dim); err != nil {
			return err
		}
		s.needMatmul(s.output, false)
	}
	s.need("rmsnorm")
	for name := range s.kernels {
		if _, err := d.kernel(name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stage) loadLayer(i int) (*layer, error) {
	m, d := s.m, s.dev
	name := func(t string) string { return fmt.Sprintf("blk.%d.%s", i, t) }
	qDim, kvDim := m.Heads*m.HeadDim, m.KVDim()
	l := &layer{}
	var err error
	mats := []struct {
		dst        **matrix
		name       string
		rows, cols int
	}{
		{&l.wq, "attn_q.weight", qDim, m.Dim}, {&l.wk, "attn_k.weight", kvDim, m.Dim},
		{&l.wv, "attn_v.weight", kvDim, m.Dim}, {&l.wo, "attn_output.weight", m.Dim, qDim},
		{&l.gate, "ffn_gate.weight", m.FFN, m.Dim}, {&l.up, "ffn_up.weight", m.FFN, m.Dim},
		{&l.down, "ffn_down.weight", m.Dim, m.FFN},
	}
	for _, mt := range mats {
		if *mt.dst, err = s.matrix(name(mt.name), mt.rows, mt.cols); err != nil {
			return l, err
		}
		s.needMatmul(*mt.dst, true)
	}
	vecs := []struct {
		dst      **wgpu.Buffer
		name     string
		n        int
		optional bool
	}{
		{&l.attnNorm, "attn_norm.weight", m.Dim, false}, {&l.ffnNorm, "ffn_norm.weight", m.Dim, false},
		{&l.bq, "attn_q.bias", qDim, !m.AttnBias}, {&l.bk, "attn_k.bias", kvDim, !m.AttnBias},
		{&l.bv, "attn_v.bias", kvDim, !m.AttnBias},
	}
	for _, v := range vecs {
		if _, ok := m.File.Tensor(name(v.name)); !ok && v.optional {
			continue
		}
		x, err := vector(m, name(v.name), v.n)
		if err != nil {
			return l, err
		}
		if *v.dst, err = d.uploadF32(name(v.name), x); err != nil {
			return l, err
		}
		s.bytes += int64(4 * v.n)
		if v.n != m.Dim {
			s.need("add_bias")
		}
	}
	for _, k := range []string{"rope_q", "kv_store", "attention", "swiglu"} {
		s.need(k)
	}
	return l, nil
}

func (s *Stage) need(kernel string) { s.kernels[kernel] = true }

// needMatmul records the kernels a matrix product with w uses; batched
// ones also run prefill batches.
func (s *Stage) needMatmul(w *matrix, batched bool) {
	s.need(fmt.Sprintf("matmul:%s/%d", w.typ, tokensDecode))
	if batched {
		s.need(fmt.Sprintf("matmul:%s/%d", w.typ, tokensPrefill))
	}
	switch formats[w.typ].act {
	case actQ8:
		s.need("quant_q8")
	case actQ8K:
		s.need("quant_q8k")
	}
}

// matrix uploads a 2-D weight after checking its shape.
func (s *Stage) matrix(name string, rows, cols int) (*matrix, error) {
	ti, data, err := s.m.File.TensorData(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", model.ErrMissingTensor, name)
	}
	if len(ti.Dims) < 2 || int(ti.Dims[0]) != cols || int(ti.Dims[1]) != rows || ti.Elements() != uint64(rows*cols) {
		return nil, fmt.Errorf("gpu stage: %s has dims %v, want [%d %d]", name, ti.Dims, cols, rows)
	}
	t := ti.Type
	if formats[t].act == actQ8 && cols%32 != 0 || formats[t].act == actQ8K && cols%tensor.QK_K != 0 {
		return nil, fmt.Errorf("gpu stage: %s: %d columns of %s", name, cols, t)
	}
	mat, err := s.dev.uploadMatrix(name, t, rows, cols, data)
	if err != nil {
		return nil, err
	}
	s.bytes += mat.bytes()
	return mat, nil
}

// vector reads a 1-D weight as float32.
func vector(m *model.Model, name string, n int) ([]float32, error) {
	ti, data, err := m.File.TensorData(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", model.ErrMissingTensor, name)
	}
	if ti.Elements() != uint64(n) {
		return nil, fmt.Errorf("gpu stage: %s has dims %v, want [%d]", name, ti.Dims, n)
	}
	out := make([]float32, n)
	if err := tensor.DequantizeRow(ti.Type, out, data); err != nil {
		return nil, fmt.Errorf("gpu stage: %s: %w", name, err)
	}
	return out, nil
}

// optionalVector is vector for a tensor that may be absent (nil, nil).
func optionalVector(m *model.Model, name string, n int) ([]float32, error) {
	if _, ok := m.File.Tensor(name); !ok {
		return nil, nil
	}
	return vector(m, name, n)
}

// Model returns the model the stage belongs to.
func (s *Stage) Model() *model.Model { return s.m }

// From is the first layer of the stage.
func (s *Stage) From() int { return s.from }

// To is one past the last layer of the stage.
func (s *Stage) To() int { return s.to }

// IsFirst reports whether the stage takes token ids.
func (s *Stage) IsFirst() bool { return s.from == 0 }

// IsLast reports whether the stage returns logits.
func (s *Stage) IsLast() bool { return s.to == s.m.NumLayers }

// Bytes is the device memory the stage's weights occupy.
func (s *Stage) Bytes() int64 { return s.bytes }

// Device is the device the stage runs on.
func (s *Stage) Device() *Device { return s.dev }

// Close releases the stage's weights. Its sessions must be closed first.
func (s *Stage) Close() {
	s.dev.mu.Lock()
	defer s.dev.mu.Unlock()
	s.release()
}

func (s *Stage) release() {
	for _, l := range s.layers {
		for _, m := range []*matrix{l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down} {
			if m != nil {
				m.release()
			}
		}
		for _, b := range []*wgpu.Buffer{l.attnNorm, l.ffnNorm, l.bq, l.bk, l.bv} {
			if b != nil {
				b.Release()
			}
		}
	}
	s.layers = nil
	if s.output != nil && s.output != s.embd {
		s.output.release()
	}
	if s.embd != nil {
		s.embd.release()
	}
	if s.outNorm != nil {
		s.outNorm.Release()
	}
	s.embd, s.output, s.outNorm = nil, nil, nil
}
