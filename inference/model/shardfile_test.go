package model

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// writeShard writes a GGUF holding only what a stage [from,to) of src needs,
// as catalog.FetchLayers does.
func writeShard(t *testing.T, src *Model, from, to int) string {
	t.Helper()
	w := gguf.NewWriter()
	w.CopyKV(src.File.Header)
	w.Set(KeyShardFrom, uint32(from))
	w.Set(KeyShardTo, uint32(to))
	w.Set(KeyShardTotal, uint32(src.NumLayers))
	for i := range src.File.Tensors {
		ti := &src.File.Tensors[i]
		keep := false
		switch {
		case strings.HasPrefix(ti.Name, "blk."):
			var l int
			fmt.Sscanf(ti.Name, "blk.%d.", &l)
			keep = l >= from && l < to
		case ti.Name == "token_embd.weight":
			keep = from == 0 || (to == src.NumLayers && src.TiedEmbeddings())
		case ti.Name == "output_norm.weight" || ti.Name == "output.weight":
			keep = to == src.NumLayers
		}
		if keep {
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, src.File.Data(ti)); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("shard-%d-%d.gguf", from, to))
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestShardFiles runs a model from shard files that each hold only their
// layers: the result is bit-identical to the full file, and a stage outside
// a file's layers is refused with a clear error.
func TestShardFiles(t *testing.T) {
	full := openModel(t, testmodels.Stories260K)
	pool := tensor.NewPool(2)
	defer pool.Close()
	ranges := [][2]int{{0, 2}, {2, 4}, {4, 5}}
	var chain Chain
	for _, r := range ranges {
		m, err := Open(writeShard(t, full, r[0], r[1]))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if m.HeldFrom != r[0] || m.HeldTo != r[1] || m.Vocab != full.Vocab {
			t.Fatalf("shard %v: holds [%d,%d) vocab %d", r, m.HeldFrom, m.HeldTo, m.Vocab)
		}
		st, err := m.NewStage(r[0], r[1], pool)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := st.NewSession(64)
		chain = append(chain, s)
		if r[0] > 0 {
			if _, err := m.NewStage(0, r[1], pool); err == nil || !strings.Contains(err.Error(), "holds only layers") {
				t.Errorf("shard %v: stage from 0: %v", r, err)
			}
		}
	}
	ids, _, err := Generate(context.Background(), chain, []int32{1}, greedy{}, GenerateOptions{MaxTokens: 40})
	if err != nil {
		t.Fatal(err)
	}
	if want := parseIDs(t, referenceIDs[testmodels.Stories260K]); fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	// A middle shard without embeddings cannot be a first stage.
	mid, err := Open(writeShard(t, full, 2, 4))
	if err != nil {
		t.Fatal(err)
	}
	defer mid.Close()
	mid.HeldFrom = 0 // pretend the range covers layer 0: the embeddings are still missing
	if _, err := mid.NewStage(0, 2, pool); !errors.Is(err, ErrMissingTensor) {
		t.Errorf("first stage without embeddings: %v", err)
	}
}
