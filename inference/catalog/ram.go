package catalog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Shape is what the RAM estimate needs to know about a model.
type Shape struct {
	WeightBytes   uint64 // bytes of weights (the file size is a close upper bound)
	Layers        int
	KVHeads       int
	HeadDim       int
	ContextLength int // the model's trained context, the default for the estimate
}

// Shape of a catalog entry (from its config.json numbers and file size).
func (e *Entry) Shape() Shape {
	return Shape{WeightBytes: uint64(e.Size), Layers: e.Layers, KVHeads: e.KVHeads, HeadDim: e.HeadDim, ContextLength: e.ContextLength}
}

// Shape of an installed or inspected model.
func (in *Info) Shape() Shape {
	return Shape{WeightBytes: in.WeightBytes, Layers: in.Layers, KVHeads: in.KVHeads, HeadDim: in.HeadDim, ContextLength: in.ContextLength}
}

// Estimate is the memory a model needs at a context size, and whether this
// machine has it.
type Estimate struct {
	Context   int
	Weights   uint64
	KVCache   uint64 // 2 (K and V) × layers × context × kv_heads × head_dim × 4 bytes (f32 cache)
	Overhead  uint64 // activations and runtime: 5% of weights, at least 64 MiB
	Total     uint64
	Available uint64 // memory this machine can give now (0 when unknown)
	Known     bool   // Available was read successfully
	Fits      bool   // Known and Total <= Available
}

// MemoryReader reports how much memory is available to a new process.
type MemoryReader interface {
	AvailableMemory() (uint64, error)
}

// DefaultContext is the context the estimate uses when none is given and
// the model's trained context is longer: what a chat typically allocates.
const DefaultContext = 4096

// EstimateRAM computes the memory s needs at ctx tokens (0: the model's
// context, capped at DefaultContext) and compares it with mem (SystemMemory
// when nil). A failing memory reader leaves Known false rather than failing.
func EstimateRAM(s Shape, ctx int, mem MemoryReader) (Estimate, error) {
	if ctx < 0 {
		return Estimate{}, fmt.Errorf("estimate memory: negative context %d", ctx)
	}
	if ctx == 0 {
		ctx = DefaultContext
		if s.ContextLength > 0 && s.ContextLength < ctx {
			ctx = s.ContextLength
		}
	}
	if s.Layers <= 0 || s.KVHeads <= 0 || s.HeadDim <= 0 {
		return Estimate{}, errors.New("estimate memory: model shape unknown (layers, kv heads or head size missing)")
	}
	e := Estimate{Context: ctx, Weights: s.WeightBytes}
	e.KVCache = 2 * uint64(s.Layers) * uint64(ctx) * uint64(s.KVHeads) * uint64(s.HeadDim) * 4
	e.Overhead = max(s.WeightBytes/20, 64<<20)
	e.Total = e.Weights + e.KVCache + e.Overhead
	if mem == nil {
		mem = SystemMemory{}
	}
	if avail, err := mem.AvailableMemory(); err == nil {
		e.Available, e.Known = avail, true
		e.Fits = e.Total <= avail
	}
	return e, nil
}

// String is a one-line summary: "needs 1.2 GiB (weights 0.9 GiB + KV 0.2 GiB
// at 4096 tokens); 10.3 GiB available: fits".
func (e Estimate) String() string {
	s := fmt.Sprintf("needs %s (weights %s + KV cache %s at %d tokens + %s overhead)",
		HumanBytes(int64(e.Total)), HumanBytes(int64(e.Weights)), HumanBytes(int64(e.KVCache)), e.Context, HumanBytes(int64(e.Overhead)))
	switch {
	case !e.Known:
		return s + "; free memory unknown"
	case e.Fits:
		return s + fmt.Sprintf("; %s available: fits", HumanBytes(int64(e.Available)))
	}
	return s + fmt.Sprintf("; only %s available: does not fit", HumanBytes(int64(e.Available)))
}

// SystemMemory reads available memory from /proc/meminfo (Linux). Path
// overrides the file (tests).
type SystemMemory struct{ Path string }

// ErrMemoryUnknown: this platform offers no reading of available memory here.
var ErrMemoryUnknown = errors.New("available memory is unknown on this platform")

// AvailableMemory returns MemAvailable (or MemFree+Buffers+Cached on old kernels).
func (m SystemMemory) AvailableMemory() (uint64, error) {
	path := m.Path
	if path == "" {
		if runtime.GOOS != "linux" {
			return 0, ErrMemoryUnknown
		}
		path = "/proc/meminfo"
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read memory info: %w", err)
	}
	defer f.Close()
	return parseMeminfo(f)
}

func parseMeminfo(r io.Reader) (uint64, error) {
	fields := map[string]uint64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		parts := strings.Fields(rest)
		if len(parts) == 0 {
			continue
		}
		n, err := strconv.ParseUint(parts[0], 10, 64)
		if err != nil {
			continue
		}
		if len(parts) > 1 && parts[1] == "kB" {
			n *= 1024
		}
		fields[key] = n
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read memory info: %w", err)
	}
	if v, ok := fields["MemAvailable"]; ok {
		return v, nil
	}
	free, okF := fields["MemFree"]
	if !okF {
		return 0, errors.New("read memory info: no MemAvailable or MemFree line")
	}
	return free + fields["Buffers"] + fields["Cached"], nil
}
