package gpu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hearth-p2p/hearth/inference/model"
)

// ErrNoRoom reports that automatic placement found no layer that fits in
// the device's memory budget.
var ErrNoRoom = errors.New("no layer fits in GPU memory")

// Plan is the layer range [From, To) to run on a GPU and what it costs.
type Plan struct {
	From, To    int
	WeightBytes int64 // the range's weights (plus embeddings / LM head at the ends)
	CacheBytes  int64 // one session's KV cache at full context and working buffers
	Budget      MemoryBudget
}

// Layers is the number of layers on the GPU.
func (p Plan) Layers() int { return p.To - p.From }

// Bytes is the device memory the plan needs with one session.
func (p Plan) Bytes() int64 { return p.WeightBytes + p.CacheBytes }

// Fits reports whether the plan fits its budget (true when the budget is
// unknown).
func (p Plan) Fits() bool { return p.Budget.Bytes <= 0 || p.Bytes() <= p.Budget.Bytes }

func (p Plan) String() string {
	return fmt.Sprintf("layers [%d,%d) on the GPU: %.1f MiB weights + %.1f MiB cache (budget %.0f MiB from %s)",
		p.From, p.To, mib(p.WeightBytes), mib(p.CacheBytes), mib(p.Budget.Bytes), p.Budget.Source)
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// ParseLayers parses a --gpu-layers value for a model of numLayers
// layers: "A:B" (layers A … B-1), "all", or "auto" (auto is true; fit as
// many trailing layers as memory allows).
func ParseLayers(spec string, numLayers int) (from, to int, auto bool, err error) {
	switch s := strings.TrimSpace(strings.ToLower(spec)); s {
	case "all":
		return 0, numLayers, false, nil
	case "auto":
		return 0, 0, true, nil
	default:
		a, b, ok := strings.Cut(s, ":")
		from, err1 := strconv.Atoi(strings.TrimSpace(a))
		to, err2 := strconv.Atoi(strings.TrimSpace(b))
		if !ok || err1 != nil || err2 != nil {
			return 0, 0, false, fmt.Errorf("gpu layers %q: want A:B, all or auto", spec)
		}
		if from < 0 || to > numLayers || from >= to {
			return 0, 0, false, fmt.Errorf("gpu layers %q: range outside the model's %d layers", spec, numLayers)
		}
		return from, to, false, nil
	}
}

// StageBytes is the device memory the weights of layers [from, to) take,
// with the token embeddings for a first stage and the output norm and LM
// head for a last one.
func StageBytes(m *model.Model, from, to int) int64 {
	var n int64
	size := func(name string) int64 {
		if ti, ok := m.File.Tensor(name); ok {
			return int64(ti.Size)
		}
		return 0
	}
	for _, ti := range m.File.Header.Tensors {
		var layer int
		var rest string
		if _, err := fmt.Sscanf(ti.Name, "blk.%d.%s", &layer, &rest); err == nil && layer >= from && layer < to {
			n += int64(ti.Size)
		}
	}
	if from == 0 {
		n += size("token_embd.weight")
	}
	if to == m.NumLayers {
		n += size("output_norm.weight")
		if m.TiedEmbeddings() {
			if from != 0 {
				n += size("token_embd.weight")
			}
		} else {
			n += size("output.weight")
		}
	}
	return n
}

// SessionBytes is the device memory of one session on layers [from, to)
// holding maxCtx positions: its f32 KV cache and working buffers.
func SessionBytes(m *model.Model, from, to, maxCtx int) int64 {
	qDim, kvDim := m.Heads*m.HeadDim, m.KVDim()
	kmax := int64(roundUp(max(m.Dim, qDim, m.FFN), 256))
	kv := int64(2*(to-from)) * int64(maxCtx) * int64(kvDim) * 4
	work := int64(MaxBatch) * int64(2*m.Dim+2*qDim+2*kvDim+2*m.FFN+m.RopeDims+1) * 4
	b := int64(MaxBatch)
	work += 4 * (b*kmax/4 + 3*b*kmax/32 + b*kmax/4 + b*kmax/256 + b*kmax/16) // quantised activations
	if to == m.NumLayers {
		work += int64(m.Vocab) * 8 // logits and their readback
	} else {
		work += int64(MaxBatch) * int64(m.Dim) * 4
	}
	return kv + work
}

// PlanLayers resolves a --gpu-layers spec for m on dev with sessions of
// maxCtx positions (0: the training context). For "auto" it fits the
// longest tail of layers [N-k, N) (which includes the LM head) whose
// weights and one session fit in the budget less a reserve (a tenth, at
// least 256 MiB) for the driver and other programs; a zero budget means
// dev.MemoryBudget(). An explicit range is returned as asked, with its
// cost, for the caller to compare with the budget.
func PlanLayers(m *model.Model, dev *Device, spec string, maxCtx int, budget MemoryBudget) (Plan, error) {
	if maxCtx <= 0 {
		maxCtx = m.ContextLen
	}
	if budget.Bytes <= 0 && dev != nil {
		budget = dev.MemoryBudget()
	}
	from, to, auto, err := ParseLayers(spec, m.NumLayers)
	if err != nil {
		return Plan{}, err
	}
	plan := func(from, to int) Plan {
		return Plan{From: from, To: to, WeightBytes: StageBytes(m, from, to),
			CacheBytes: SessionBytes(m, from, to, maxCtx), Budget: budget}
	}
	if !auto {
		return plan(from, to), nil
	}
	if budget.Bytes <= 0 {
		return Plan{}, fmt.Errorf("%w: the GPU's free memory is unknown; set %s (e.g. 6GiB) or give --gpu-layers A:B", ErrNoRoom, EnvMemory)
	}
	usable := budget.Bytes - max(budget.Bytes/10, 256<<20)
	n := m.NumLayers
	for k := n; k > 0; k-- {
		if p := plan(n-k, n); p.Bytes() <= usable {
			return p, nil
		}
	}
	last := plan(n-1, n)
	return Plan{}, fmt.Errorf("%w: one layer with the LM head needs %.0f MiB, the budget leaves %.0f MiB (%s)",
		ErrNoRoom, mib(last.Bytes()), mib(max(usable, 0)), budget.Source)
}
