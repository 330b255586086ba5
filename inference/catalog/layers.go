package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/inference/gguf"
)

// Metadata keys FetchLayers adds to a shard file.
const (
	KeyShardFrom  = "hearth.shard.from"         // first layer held (uint32)
	KeyShardTo    = "hearth.shard.to"           // one past the last layer held (uint32)
	KeyShardTotal = "hearth.shard.total_layers" // layers of the whole model (uint32)
	// KeyShardSource is the sha256 (hex) of the whole model file a shard
	// was cut from: its identity in the swarm, so that shard holders and
	// whole-file holders announce the same model.
	KeyShardSource = "hearth.shard.source_sha256"
)

// Header fetch limits: start small, double until the header parses.
const (
	headerFirstFetch = 256 << 10
	headerMaxFetch   = 512 << 20
)

// ErrLayerRange: the requested layers are not a range of the model.
var ErrLayerRange = errors.New("invalid layer range")

// FetchLayers downloads only what a pipeline stage [from,to) of the model
// at url needs and writes it to dst as a standalone GGUF file: the original
// metadata plus hearth.shard.from/to/total_layers, and the tensors
// token_embd.* (when from == 0), blk.{from..to-1}.*, output_norm.* and
// output.* (when to == the model's layer count; token_embd.* too when the
// LM head is tied to it), and any other tensor outside the blocks (such as
// rope_freqs). Tensor bytes are copied unchanged. The header is found by
// fetching a growing prefix of the file until it parses; tensors arrive
// with one Range request per run of adjacent tensors, staged in a
// temporary file beside dst so memory use stays small. dst is replaced
// atomically. The server must honour Range requests.
func (s *Store) FetchLayers(ctx context.Context, url string, from, to int, dst string) (Info, error) {
	return s.fetchLayers(ctx, url, from, to, dst, "")
}

// FetchEntryLayers is FetchLayers for a catalog entry, from the store's
// base URL. The shard records the entry's sha256 as its source
// (KeyShardSource) when the catalog publishes one.
func (s *Store) FetchEntryLayers(ctx context.Context, e Entry, from, to int, dst string) (Info, error) {
	return s.fetchLayers(ctx, e.URL(s.cfg.BaseURL), from, to, dst, e.SHA256)
}

func (s *Store) fetchLayers(ctx context.Context, url string, from, to int, dst, source string) (Info, error) {
	h, err := s.fetchHeader(ctx, url)
	if err != nil {
		return Info{}, fmt.Errorf("fetch layers: %w", err)
	}
	arch, err := h.Architecture()
	if err != nil {
		return Info{}, fmt.Errorf("fetch layers: %w", err)
	}
	total, err := h.Uint(arch + ".block_count")
	if err != nil {
		return Info{}, fmt.Errorf("fetch layers: %w", err)
	}
	if from < 0 || to <= from || uint64(to) > total {
		return Info{}, fmt.Errorf("%w: [%d,%d) of a %d-layer model", ErrLayerRange, from, to, total)
	}
	names := StageTensors(h, from, to, int(total))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Info{}, fmt.Errorf("fetch layers: %w", err)
	}
	staged, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".fetch*")
	if err != nil {
		return Info{}, fmt.Errorf("fetch layers: %w", err)
	}
	defer func() {
		staged.Close()
		os.Remove(staged.Name())
	}()
	offsets, err := s.fetchTensors(ctx, url, h, names, staged)
	if err != nil {
		return Info{}, fmt.Errorf("fetch layers: %w", err)
	}
	w := gguf.NewWriter()
	w.CopyKV(h)
	w.Set(KeyShardFrom, uint32(from))
	w.Set(KeyShardTo, uint32(to))
	w.Set(KeyShardTotal, uint32(total))
	if source != "" {
		w.Set(KeyShardSource, source)
	}
	for _, name := range names {
		t, _ := h.Tensor(name)
		sec := io.NewSectionReader(staged, offsets[name], int64(t.Size))
		err := w.AddTensorFunc(t.Name, t.Type, t.Dims, func(out io.Writer) error {
			_, err := io.Copy(out, io.NewSectionReader(sec, 0, sec.Size()))
			return err
		}, t.Size)
		if err != nil {
			return Info{}, fmt.Errorf("fetch layers: %w", err)
		}
	}
	if err := w.WriteFile(dst); err != nil {
		return Info{}, fmt.Errorf("fetch layers: %w", err)
	}
	return ReadInfo(dst)
}

// StageTensors lists, in file order, the tensors of h that a stage holding
// layers [from,to) of a total-layer model needs.
func StageTensors(h *gguf.Header, from, to, total int) []string {
	_, hasOutput := h.Tensor("output.weight")
	var out []string
	for i := range h.Tensors {
		name := h.Tensors[i].Name
		base, _, _ := strings.Cut(name, ".")
		switch base {
		case "blk":
			rest := strings.TrimPrefix(name, "blk.")
			idx, _, _ := strings.Cut(rest, ".")
			n, err := strconv.Atoi(idx)
			if err == nil && n >= from && n < to {
				out = append(out, name)
			}
		case "token_embd":
			if from == 0 || (to == total && !hasOutput) {
				out = append(out, name)
			}
		case "output_norm", "output":
			if to == total {
				out = append(out, name)
			}
		default: // shared tensors such as rope_freqs
			out = append(out, name)
		}
	}
	return out
}

// fetchHeader range-fetches a growing prefix of the file until the GGUF
// header parses.
func (s *Store) fetchHeader(ctx context.Context, url string) (*gguf.Header, error) {
	for n := int64(headerFirstFetch); ; n *= 2 {
		buf, err := s.fetchRange(ctx, url, 0, n)
		if err != nil {
			return nil, err
		}
		h, err := gguf.ParseHeader(buf)
		if err == nil {
			return h, nil
		}
		if !errors.Is(err, gguf.ErrTruncated) || int64(len(buf)) < n || n >= headerMaxFetch {
			return nil, fmt.Errorf("%w: %w", ErrBadModel, err)
		}
	}
}

// fetchTensors downloads the named tensors into staged, one request per
// run of tensors that are adjacent in the file, and returns each tensor's
// offset in staged.
func (s *Store) fetchTensors(ctx context.Context, url string, h *gguf.Header, names []string, staged *os.File) (map[string]int64, error) {
	infos := make([]*gguf.TensorInfo, len(names))
	for i, n := range names {
		infos[i], _ = h.Tensor(n)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Offset < infos[j].Offset })
	offsets := make(map[string]int64, len(infos))
	var pos int64
	for i := 0; i < len(infos); {
		// Extend the run while the next tensor starts within alignment padding.
		j, end := i+1, infos[i].Offset+infos[i].Size
		for j < len(infos) && infos[j].Offset <= alignUp(end, h.Alignment) {
			end = infos[j].Offset + infos[j].Size
			j++
		}
		start := infos[i].Offset
		buf, err := s.fetchRange(ctx, url, int64(h.DataOffset+start), int64(end-start))
		if err != nil {
			return nil, err
		}
		if int64(len(buf)) != int64(end-start) {
			return nil, fmt.Errorf("%w: tensor data ends early (%d of %d bytes)", ErrDownload, len(buf), end-start)
		}
		if _, err := staged.WriteAt(buf, pos); err != nil {
			return nil, fmt.Errorf("stage tensors: %w", err)
		}
		for k := i; k < j; k++ {
			offsets[infos[k].Name] = pos + int64(infos[k].Offset-start)
		}
		pos += int64(len(buf))
		i = j
	}
	return offsets, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// fetchRange GETs n bytes at off (fewer at the end of the file), retrying
// transient failures like Pull does. A server that ignores Range is read
// up to the wanted bytes only.
func (s *Store) fetchRange(ctx context.Context, url string, off, n int64) ([]byte, error) {
	var last error
	for attempt := 1; attempt <= s.cfg.Retries+1; attempt++ {
		buf, retry, err := s.fetchRangeOnce(ctx, url, off, n)
		if err == nil {
			return buf, nil
		}
		if !retry || ctx.Err() != nil {
			return nil, err
		}
		last = err
		if attempt > s.cfg.Retries {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff(s.cfg.BackoffBase, s.cfg.BackoffMax, attempt)):
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrDownload, last)
}

func (s *Store) fetchRangeOnce(ctx context.Context, url string, off, n int64) (buf []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrDownload, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, _, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != off {
			return nil, false, fmt.Errorf("%w: server answered range %d- with %q", ErrDownload, off, resp.Header.Get("Content-Range"))
		}
	case http.StatusOK: // Range ignored: skip to off
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			return nil, true, fmt.Errorf("skip to byte %d: %w", off, err)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		return nil, false, fmt.Errorf("%w: byte %d is past the end of %s", ErrBadModel, off, url)
	case http.StatusNotFound, http.StatusGone:
		return nil, false, fmt.Errorf("%w: %s answered %s", ErrRemoteNotFound, url, resp.Status)
	default:
		err := fmt.Errorf("%w: %s answered %s", ErrDownload, url, resp.Status)
		return nil, resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, err
	}
	buf, err = io.ReadAll(io.LimitReader(body, n))
	if err != nil {
		return nil, true, fmt.Errorf("read range: %w", err)
	}
	return buf, false, nil
}
