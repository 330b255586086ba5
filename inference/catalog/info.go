package catalog

import (
	"fmt"
	"sort"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// Info summarises a GGUF model from its header.
type Info struct {
	Name          string // general.name
	Arch          string // general.architecture
	Quant         string // from general.file_type, else the dominant tensor type
	Params        uint64 // total tensor elements
	Tensors       int
	Layers        int // <arch>.block_count
	ContextLength int
	Embedding     int
	Heads         int
	KVHeads       int
	HeadDim       int
	VocabSize     int
	WeightBytes   uint64 // bytes of tensor data
	HasTemplate   bool   // tokenizer.chat_template present
	License       string
	Shard         *ShardRange // set for files written by FetchLayers
}

// ShardRange is the layer range a shard file holds.
type ShardRange struct{ From, To, Total int }

// ReadInfo opens a GGUF file (memory-mapped, so only the header is read),
// checks that every tensor lies inside the file, and summarises it.
func ReadInfo(path string) (Info, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	defer f.Close()
	return InfoFromHeader(f.Header)
}

// InfoFromHeader summarises a parsed header.
func InfoFromHeader(h *gguf.Header) (Info, error) {
	arch, err := h.Architecture()
	if err != nil {
		return Info{}, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	in := Info{Arch: arch, Tensors: len(h.Tensors), WeightBytes: h.DataSize()}
	in.Name, _ = h.String("general.name")
	in.License, _ = h.String("general.license")
	_, in.HasTemplate = h.Get("tokenizer.chat_template")
	in.Layers = optInt(h, arch+".block_count")
	in.ContextLength = optInt(h, arch+".context_length")
	in.Embedding = optInt(h, arch+".embedding_length")
	in.Heads = optInt(h, arch+".attention.head_count")
	in.KVHeads = optInt(h, arch+".attention.head_count_kv")
	if in.KVHeads == 0 {
		in.KVHeads = in.Heads
	}
	in.HeadDim = optInt(h, arch+".attention.key_length")
	if in.HeadDim == 0 && in.Heads > 0 {
		in.HeadDim = in.Embedding / in.Heads
	}
	if v, err := h.Array("tokenizer.ggml.tokens"); err == nil {
		if toks, ok := v.([]string); ok {
			in.VocabSize = len(toks)
		}
	}
	for i := range h.Tensors {
		in.Params += h.Tensors[i].Elements()
	}
	in.Quant = quantOf(h)
	if from, err := h.Uint(KeyShardFrom); err == nil {
		to, _ := h.Uint(KeyShardTo)
		total, _ := h.Uint(KeyShardTotal)
		in.Shard = &ShardRange{From: int(from), To: int(to), Total: int(total)}
	}
	return in, nil
}

func optInt(h *gguf.Header, key string) int {
	v, err := h.Uint(key)
	if err != nil || v > 1<<31 {
		return 0
	}
	return int(v)
}

// fileTypes are llama.cpp's llama_ftype names (general.file_type).
var fileTypes = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
	22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
	28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
	38: "MXFP4_MOE",
}

// quantOf names the quantisation: general.file_type when present, else
// the tensor type holding the most bytes.
func quantOf(h *gguf.Header) string {
	if ft, err := h.Uint("general.file_type"); err == nil {
		if s, ok := fileTypes[ft]; ok {
			return s
		}
	}
	bytes := map[tensor.Type]uint64{}
	for i := range h.Tensors {
		bytes[h.Tensors[i].Type] += h.Tensors[i].Size
	}
	types := make([]tensor.Type, 0, len(bytes))
	for t := range bytes {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		if bytes[types[i]] != bytes[types[j]] {
			return bytes[types[i]] > bytes[types[j]]
		}
		return types[i] < types[j]
	})
	if len(types) == 0 {
		return ""
	}
	return types[0].String()
}

// HumanParams formats a parameter count: 292.8K, 1.24B.
func HumanParams(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprintf("%d", n)
}

// HumanBytes formats a byte count in binary units: 1.5 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
