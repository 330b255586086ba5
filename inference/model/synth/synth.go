// Package synth writes random-weight llama-family models with real shapes and
// a real tokenizer, so that every tensor format and architecture can be run,
// checked against llama.cpp and benchmarked without downloading a model.
package synth

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Preset describes a synthetic model.
type Preset struct {
	Name      string
	Arch      string // llama or qwen2
	Layers    int
	Dim       int
	FFN       int
	Heads     int
	KVHeads   int
	Context   int
	Vocab     string      // vocabulary GGUF (relative to the shared models dir) whose tokenizer is copied
	Weights   tensor.Type // type of the 2-D weights
	Output    tensor.Type // type of output.weight (and token_embd for k-quants, as llama.cpp's mixes do)
	Embedding tensor.Type
	Tied      bool // no output.weight: the head reuses token_embd
	RopeBase  float32
	Seed      uint64
}

// Presets are the models `hearth synth` can write. The tiny ones keep every
// dimension a multiple of 256 so that every quantisation applies; the 1B
// ones have TinyLlama-1.1B's shapes.
var Presets = map[string]Preset{}

func init() {
	tiny := Preset{Arch: "llama", Layers: 4, Dim: 256, FFN: 768, Heads: 8, KVHeads: 2, Context: 512,
		Vocab: "vocab/ggml-vocab-llama-spm.gguf", RopeBase: 10000, Seed: 1}
	add := func(name string, p Preset, w, out, emb tensor.Type) {
		p.Name, p.Weights, p.Output, p.Embedding = name, w, out, emb
		Presets[name] = p
	}
	add("llama-tiny-f16", tiny, tensor.F16, tensor.F16, tensor.F16)
	add("llama-tiny-q8_0", tiny, tensor.Q8_0, tensor.Q8_0, tensor.Q8_0)
	add("llama-tiny-q4_0", tiny, tensor.Q4_0, tensor.Q6_K, tensor.Q4_0)
	add("llama-tiny-q4_k", tiny, tensor.Q4_K, tensor.Q6_K, tensor.Q4_K)
	add("llama-tiny-q6_k", tiny, tensor.Q6_K, tensor.Q6_K, tensor.Q6_K)
	qwen := tiny
	qwen.Arch, qwen.Vocab, qwen.RopeBase, qwen.Tied, qwen.Seed = "qwen2", "vocab/ggml-vocab-gpt-2.gguf", 1000000, true, 2
	add("qwen2-tiny-q8_0", qwen, tensor.Q8_0, tensor.Q8_0, tensor.Q8_0)
	oneB := Preset{Arch: "llama", Layers: 22, Dim: 2048, FFN: 5632, Heads: 32, KVHeads: 4, Context: 2048,
		Vocab: "vocab/ggml-vocab-llama-spm.gguf", RopeBase: 10000, Seed: 3}
	add("llama-1b-q8_0", oneB, tensor.Q8_0, tensor.Q8_0, tensor.Q8_0)
	add("llama-1b-q4_0", oneB, tensor.Q4_0, tensor.Q6_K, tensor.Q4_0)
	add("llama-1b-q4_k", oneB, tensor.Q4_K, tensor.Q6_K, tensor.Q4_K)
}

// Names lists the presets in order.
func Names() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// fileType maps a weight type to general.file_type (llama_ftype).
var fileType = map[tensor.Type]uint32{
	tensor.F32: 0, tensor.F16: 1, tensor.Q4_0: 2, tensor.Q4_1: 3, tensor.Q8_0: 7, tensor.Q5_0: 8, tensor.Q5_1: 9,
	tensor.Q4_K: 15, tensor.Q5_K: 17, tensor.Q6_K: 18, tensor.BF16: 32,
}

// Build returns a GGUF writer holding the preset's model; vocab is the
// parsed vocabulary file named by p.Vocab.
func Build(p Preset, vocab *gguf.Header) (*gguf.Writer, error) {
	if p.Dim%p.Heads != 0 || p.Heads%p.KVHeads != 0 {
		return nil, fmt.Errorf("synth %s: bad head shapes", p.Name)
	}
	toks, err := vocab.Array("tokenizer.ggml.tokens")
	if err != nil {
		return nil, fmt.Errorf("synth %s: vocabulary: %w", p.Name, err)
	}
	nVocab := len(toks.([]string))
	headDim := p.Dim / p.Heads
	w := gguf.NewWriter()
	a := p.Arch + "."
	w.Set("general.architecture", p.Arch)
	w.Set("general.name", "hearth-synth-"+p.Name)
	w.Set("general.description", "random weights with real shapes, written by hearth synth")
	if ft, ok := fileType[p.Weights]; ok {
		w.Set("general.file_type", ft)
	}
	w.Set("general.quantization_version", uint32(2))
	w.Set(a+"context_length", uint32(p.Context))
	w.Set(a+"embedding_length", uint32(p.Dim))
	w.Set(a+"block_count", uint32(p.Layers))
	w.Set(a+"feed_forward_length", uint32(p.FFN))
	w.Set(a+"attention.head_count", uint32(p.Heads))
	w.Set(a+"attention.head_count_kv", uint32(p.KVHeads))
	w.Set(a+"attention.layer_norm_rms_epsilon", float32(1e-5))
	w.Set(a+"rope.dimension_count", uint32(headDim))
	w.Set(a+"rope.freq_base", p.RopeBase)
	w.Set(a+"vocab_size", uint32(nVocab))
	for _, kv := range vocab.KV {
		if len(kv.Key) > 10 && kv.Key[:10] == "tokenizer." {
			w.Set(kv.Key, kv.Value)
		}
	}

	g := generator{seed: p.Seed}
	if err := g.matrix(w, "token_embd.weight", p.Embedding, nVocab, p.Dim, 1); err != nil {
		return nil, err
	}
	g.norm(w, "output_norm.weight", p.Dim)
	if !p.Tied {
		if err := g.matrix(w, "output.weight", p.Output, nVocab, p.Dim, 1); err != nil {
			return nil, err
		}
	}
	qDim, kvDim := p.Heads*headDim, p.KVHeads*headDim
	for l := 0; l < p.Layers; l++ {
		n := func(s string) string { return fmt.Sprintf("blk.%d.%s", l, s) }
		g.norm(w, n("attn_norm.weight"), p.Dim)
		g.norm(w, n("ffn_norm.weight"), p.Dim)
		mats := []struct {
			name       string
			rows, cols int
		}{
			{"attn_q.weight", qDim, p.Dim}, {"attn_k.weight", kvDim, p.Dim}, {"attn_v.weight", kvDim, p.Dim},
			{"attn_output.weight", p.Dim, qDim}, {"ffn_gate.weight", p.FFN, p.Dim}, {"ffn_up.weight", p.FFN, p.Dim},
			{"ffn_down.weight", p.Dim, p.FFN},
		}
		for _, mt := range mats {
			if err := g.matrix(w, n(mt.name), p.Weights, mt.rows, mt.cols, 1/math.Sqrt(float64(mt.cols))); err != nil {
				return nil, err
			}
		}
		if p.Arch == "qwen2" {
			g.bias(w, n("attn_q.bias"), qDim)
			g.bias(w, n("attn_k.bias"), kvDim)
			g.bias(w, n("attn_v.bias"), kvDim)
		}
	}
	return w, nil
}

// generator makes reproducible random tensors: each tensor's values depend
// only on the preset seed and the tensor's name.
type generator struct{ seed uint64 }

func (g generator) rng(name string, block uint64) *rand.Rand {
	h := fnv.New64a()
	io.WriteString(h, name)
	return rand.New(rand.NewPCG(g.seed^h.Sum64(), block))
}

// norm writes an F32 vector of values around 1.
func (g generator) norm(w *gguf.Writer, name string, n int) {
	r := g.rng(name, 0)
	buf := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(0.8+0.4*r.Float64())))
	}
	if err := w.AddTensor(name, tensor.F32, []uint64{uint64(n)}, buf); err != nil {
		panic(err) // shapes are fixed by the presets
	}
}

// bias writes a small F32 vector.
func (g generator) bias(w *gguf.Writer, name string, n int) {
	r := g.rng(name, 0)
	buf := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(0.2*(r.Float64()-0.5))))
	}
	if err := w.AddTensor(name, tensor.F32, []uint64{uint64(n)}, buf); err != nil {
		panic(err)
	}
}

// rowsPerBlock is how many rows share one random stream; blocks are filled
// in parallel and written in order.
const rowsPerBlock = 64

// matrix adds a (rows, cols) weight of type t with values uniform in
// ±scale·√3 (standard deviation scale), generated when the file is written.
func (g generator) matrix(w *gguf.Writer, name string, t tensor.Type, rows, cols int, scale float64) error {
	rowBytes, err := t.RowSize(int64(cols))
	if err != nil {
		return fmt.Errorf("synth %s: %w", name, err)
	}
	size := uint64(rowBytes) * uint64(rows)
	write := func(out io.Writer) error {
		blocks := (rows + rowsPerBlock - 1) / rowsPerBlock
		workers := max(1, runtime.GOMAXPROCS(0))
		bufs := make([][]byte, blocks)
		errs := make([]error, blocks)
		for start := 0; start < blocks; start += workers {
			end := min(blocks, start+workers)
			var wg sync.WaitGroup
			for b := start; b < end; b++ {
				wg.Add(1)
				go func(b int) {
					defer wg.Done()
					bufs[b], errs[b] = g.fill(name, t, b, min(rowsPerBlock, rows-b*rowsPerBlock), cols, int(rowBytes), scale)
				}(b)
			}
			wg.Wait()
			for b := start; b < end; b++ {
				if errs[b] != nil {
					return errs[b]
				}
				if _, err := out.Write(bufs[b]); err != nil {
					return err
				}
				bufs[b] = nil
			}
		}
		return nil
	}
	return w.AddTensorFunc(name, t, []uint64{uint64(cols), uint64(rows)}, write, size)
}

func (g generator) fill(name string, t tensor.Type, block, rows, cols, rowBytes int, scale float64) ([]byte, error) {
	r := g.rng(name, uint64(block))
	amp := scale * math.Sqrt(3)
	row := make([]float32, cols)
	out := make([]byte, rows*rowBytes)
	for i := 0; i < rows; i++ {
		for j := range row {
			row[j] = float32(amp * (2*r.Float64() - 1))
		}
		if err := tensor.QuantizeRow(t, out[i*rowBytes:(i+1)*rowBytes], row); err != nil {
			return nil, fmt.Errorf("synth %s: %w", name, err)
		}
	}
	return out, nil
}
