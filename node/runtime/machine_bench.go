package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"time"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// The machine benchmark times one-token decode steps through a synthetic
// shard with the shapes of a 1B llama (TinyLlama-1.1B: dim 2048, FFN 5632,
// 32 heads, 4 KV heads, 32000-token head) and Q4_K weights quantised from
// random numbers in memory, on the real kernels and a pool of the given
// threads. Nothing is read from disk: it runs on a fresh install, before
// any model is downloaded, and gives the throughput a provider can expect
// and announce and what it could earn.

// Reference shard shapes: a 1B llama.
const (
	benchLayers  = 22 // the whole reference model
	benchDim     = 2048
	benchFFN     = 5632
	benchHeads   = 32
	benchKVHeads = 4
	benchVocab   = 32000
	benchHeld    = 3 // layers the synthetic shard holds: two middle ones and the last
	benchWeights = tensor.Q4_K
	benchHead    = tensor.Q6_K

	// benchVersion changes when the benchmark measures differently, so
	// that cached results of an older one are measured again.
	benchVersion = 1
)

// Bounds of one measurement: it stops after benchBudget (or benchMaxSteps
// steps), having taken at least benchMinSteps.
var (
	benchBudget   = 700 * time.Millisecond
	benchMinSteps = 5
	benchMaxSteps = 64
)

// MachineBench is what the machine benchmark measured.
type MachineBench struct {
	// Key says what the figures hold for; another CPU, thread count or
	// kernel set is measured again.
	MachineKey
	// Weights is the reference shard's weight format.
	Weights string `json:"weights"`
	// LayerTokS is tokens per second through one 1B-class layer (token-
	// layers per second): what the machine serves whatever range it runs.
	LayerTokS float64 `json:"layer_tok_s"`
	// HeadMs is the output norm and LM head's time per token.
	HeadMs float64 `json:"head_ms"`
	// Model1BTokS is tokens per second through a whole 1B model (22
	// layers and the head) on this machine.
	Model1BTokS float64 `json:"model_1b_tok_s"`
	// LayerBytes is the weight bytes of one reference layer; a layer of
	// another model runs about LayerBytes/its bytes times as fast.
	LayerBytes uint64 `json:"layer_bytes"`
	// Steps is how many decode steps were timed; TookMs how long the
	// whole benchmark ran (building the shard included).
	Steps  int       `json:"steps"`
	TookMs float64   `json:"took_ms"`
	At     time.Time `json:"at"`
}

// MachineKey identifies a benchmark's conditions.
type MachineKey struct {
	Version int    `json:"version"`
	CPU     string `json:"cpu"`
	Threads int    `json:"threads"`
	Kernels string `json:"kernels"`
}

// LayerTokSFor estimates tokens per second through one layer of a model
// whose layers hold layerBytes of weights: decode reads every weight once
// a token, so its time grows with the bytes.
func (b MachineBench) LayerTokSFor(layerBytes uint64) float64 {
	if layerBytes == 0 || b.LayerBytes == 0 {
		return b.LayerTokS
	}
	return b.LayerTokS * float64(b.LayerBytes) / float64(layerBytes)
}

// RunMachineBench builds the synthetic shard and times decode steps
// through it on threads threads (<= 0: one per CPU). It takes about a
// second plus building the shard (~130 MB of weights).
func RunMachineBench(ctx context.Context, cpuModel string, threads int) (MachineBench, error) {
	start := time.Now()
	if threads <= 0 {
		threads = goruntime.NumCPU()
	}
	res := MachineBench{MachineKey: MachineKey{Version: benchVersion, CPU: cpuModel, Threads: threads, Kernels: tensor.KernelSet()},
		Weights: benchWeights.String()}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	m, layerBytes, err := benchShard()
	if err != nil {
		return res, fmt.Errorf("machine bench: %w", err)
	}
	defer m.Close()
	res.LayerBytes = layerBytes
	if err := ctx.Err(); err != nil {
		return res, err
	}
	pool := tensor.NewPool(threads)
	defer pool.Close()
	// Two middle layers time a layer; the last layer with the head, less
	// a layer, times the head.
	from := benchLayers - benchHeld
	mid, err := m.NewStage(from, benchLayers-1, pool)
	if err != nil {
		return res, fmt.Errorf("machine bench: %w", err)
	}
	last, err := m.NewStage(benchLayers-1, benchLayers, pool)
	if err != nil {
		return res, fmt.Errorf("machine bench: %w", err)
	}
	midT, lastT, steps, err := timeStages(ctx, mid, last)
	res.Steps = steps
	if err != nil {
		return res, err
	}
	layer := midT.Seconds() / float64(benchHeld-1) // (s) per token per layer
	head := max(lastT.Seconds()-layer, 0)
	if !(layer > 0) {
		return res, errors.New("machine bench: no time measured")
	}
	res.LayerTokS = 1 / layer
	res.HeadMs = head * 1e3
	res.Model1BTokS = 1 / (benchLayers*layer + head)
	res.TookMs = float64(time.Since(start).Microseconds()) / 1e3
	res.At = time.Now().UTC().Truncate(time.Second)
	return res, nil
}

// timeStages runs one-token steps through mid then last, as a pipeline
// does, and returns the median step time of each.
func timeStages(ctx context.Context, mid, last *model.Stage) (midT, lastT time.Duration, steps int, err error) {
	midTs, lastTs, err := stepStages(ctx, mid, last)
	if err != nil {
		return 0, 0, 0, err
	}
	return medianDuration(midTs), medianDuration(lastTs), len(midTs), nil
}

// stepStages returns the time of each measured step of mid and of last.
func stepStages(ctx context.Context, mid, last *model.Stage) ([]time.Duration, []time.Duration, error) {
	ms, err := mid.NewSession(benchMaxSteps + 4)
	if err != nil {
		return nil, nil, fmt.Errorf("machine bench: %w", err)
	}
	defer ms.Close()
	ls, err := last.NewSession(benchMaxSteps + 4)
	if err != nil {
		return nil, nil, fmt.Errorf("machine bench: %w", err)
	}
	defer ls.Close()
	x := make([]float32, benchDim) // (dim,) the hidden state entering the shard
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	var midT, lastT []time.Duration
	step := func(pos int) error {
		t0 := time.Now()
		h, err := ms.Forward(ctx, pos, nil, x)
		if err != nil {
			return fmt.Errorf("machine bench: %w", err)
		}
		t1 := time.Now()
		if _, err := ls.Forward(ctx, pos, nil, h); err != nil {
			return fmt.Errorf("machine bench: %w", err)
		}
		midT, lastT = append(midT, t1.Sub(t0)), append(lastT, time.Since(t1))
		return nil
	}
	const warm = 2 // page in the weights, size the buffers
	for pos := range warm {
		if err := step(pos); err != nil {
			return nil, nil, err
		}
	}
	midT, lastT = midT[:0], lastT[:0]
	begin := time.Now()
	for pos := warm; pos < warm+benchMaxSteps; pos++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if len(midT) >= benchMinSteps && time.Since(begin) > benchBudget {
			break
		}
		if err := step(pos); err != nil {
			return nil, nil, err
		}
	}
	return midT, lastT, nil
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchShard builds the reference shard in memory: a GGUF shard file
// holding the last benchHeld layers of a 22-layer 1B llama with its output
// norm and head. It returns the model and one layer's weight bytes.
func benchShard() (*model.Model, uint64, error) {
	w := gguf.NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("general.name", "hearth machine benchmark")
	w.Set("llama.context_length", uint32(2048))
	w.Set("llama.embedding_length", uint32(benchDim))
	w.Set("llama.block_count", uint32(benchLayers))
	w.Set("llama.feed_forward_length", uint32(benchFFN))
	w.Set("llama.attention.head_count", uint32(benchHeads))
	w.Set("llama.attention.head_count_kv", uint32(benchKVHeads))
	w.Set("llama.attention.layer_norm_rms_epsilon", float32(1e-5))
	w.Set("llama.rope.freq_base", float32(10000))
	w.Set("llama.vocab_size", uint32(benchVocab))
	w.Set(model.KeyShardFrom, uint32(benchLayers-benchHeld))
	w.Set(model.KeyShardTo, uint32(benchLayers))
	w.Set(model.KeyShardTotal, uint32(benchLayers))

	rows := newRowSource()
	var total, layerBytes uint64
	add := func(name string, t tensor.Type, r, c int) error {
		size, err := rows.add(w, name, t, r, c)
		total += size
		return err
	}
	vec := func(name string) {
		buf := make([]byte, 4*benchDim)
		for i := range benchDim {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(0.9+0.2*float32(i%5)/5))
		}
		total += uint64(len(buf))
		if err := w.AddTensor(name, tensor.F32, []uint64{benchDim}, buf); err != nil {
			panic(err) // fixed shapes
		}
	}
	kvDim := benchKVHeads * benchDim / benchHeads
	vec("output_norm.weight")
	if err := add("output.weight", benchHead, benchVocab, benchDim); err != nil {
		return nil, 0, err
	}
	for l := benchLayers - benchHeld; l < benchLayers; l++ {
		before := total
		n := func(s string) string { return fmt.Sprintf("blk.%d.%s", l, s) }
		vec(n("attn_norm.weight"))
		vec(n("ffn_norm.weight"))
		for _, mt := range []struct {
			name string
			r, c int
		}{
			{"attn_q.weight", benchDim, benchDim}, {"attn_k.weight", kvDim, benchDim}, {"attn_v.weight", kvDim, benchDim},
			{"attn_output.weight", benchDim, benchDim}, {"ffn_gate.weight", benchFFN, benchDim},
			{"ffn_up.weight", benchFFN, benchDim}, {"ffn_down.weight", benchDim, benchFFN},
		} {
			if err := add(n(mt.name), benchWeights, mt.r, mt.c); err != nil {
				return nil, 0, err
			}
		}
		layerBytes = total - before
	}
	var buf bytes.Buffer
	buf.Grow(int(total) + 1<<20)
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, 0, err
	}
	f, err := gguf.FromBytes(buf.Bytes())
	if err != nil {
		return nil, 0, err
	}
	m, err := model.Load(f)
	if err != nil {
		return nil, 0, err
	}
	return m, layerBytes, nil
}

// rowSource quantises a few random rows per (type, width) and tiles them
// into each matrix: every matrix has its own memory, as a model's do (the
// bench must stream weights from RAM, not from cache), without quantising
// 130 MB of random numbers.
type rowSource struct {
	rows map[[2]int][]byte // (type, cols) → distinctRows quantised rows
	rng  *rand.Rand
}

const distinctRows = 61 // prime, so tiles do not line up with the kernels' row blocks

func newRowSource() *rowSource {
	return &rowSource{rows: map[[2]int][]byte{}, rng: rand.New(rand.NewPCG(3, 4))}
}

// add adds a (r, c) matrix of type t to w and returns its size in bytes.
func (s *rowSource) add(w *gguf.Writer, name string, t tensor.Type, r, c int) (uint64, error) {
	rowBytes, err := t.RowSize(int64(c))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	k := [2]int{int(t), c}
	pat, ok := s.rows[k]
	if !ok {
		pat = make([]byte, distinctRows*int(rowBytes))
		row := make([]float32, c) // (cols,)
		amp := math.Sqrt(3 / float64(c))
		for i := range distinctRows {
			for j := range row {
				row[j] = float32(amp * (2*s.rng.Float64() - 1))
			}
			if err := tensor.QuantizeRow(t, pat[i*int(rowBytes):(i+1)*int(rowBytes)], row); err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
		}
		s.rows[k] = pat
	}
	size := uint64(rowBytes) * uint64(r)
	write := func(out io.Writer) error {
		for left := size; left > 0; {
			n := min(left, uint64(len(pat)))
			if _, err := out.Write(pat[:n]); err != nil {
				return err
			}
			left -= n
		}
		return nil
	}
	return size, w.AddTensorFunc(name, t, []uint64{uint64(c), uint64(r)}, write, size)
}
