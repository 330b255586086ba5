package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
)

func blockTensors(layers ...int) []string {
	var out []string
	for _, l := range layers {
		for _, t := range []string{"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"} {
			out = append(out, "blk."+itoa(l)+"."+t+".weight")
		}
	}
	return out
}

func itoa(n int) string { return string(rune('0' + n)) }

func TestFetchLayers(t *testing.T) {
	cases := []struct {
		name        string
		model       string
		from, to    int
		ignoreRange bool
		want        []string // tensor names, any order
	}{
		{"stories first stage", testmodels.Stories260K, 0, 2, false, append([]string{"token_embd.weight"}, blockTensors(0, 1)...)},
		{"stories last stage", testmodels.Stories260K, 2, 5, false, append([]string{"output_norm.weight", "output.weight"}, blockTensors(2, 3, 4)...)},
		{"stories middle stage", testmodels.Stories260K, 1, 3, false, blockTensors(1, 2)},
		{"stories whole model", testmodels.Stories260K, 0, 5, false, append([]string{"token_embd.weight", "output_norm.weight", "output.weight"}, blockTensors(0, 1, 2, 3, 4)...)},
		{"tied LM head needs token_embd", testmodels.TinyStoriesQ8, 1, 2, false, append([]string{"token_embd.weight", "output_norm.weight"}, blockTensors(1)...)},
		{"server ignores Range", testmodels.Stories260K, 2, 5, true, append([]string{"output_norm.weight", "output.weight"}, blockTensors(2, 3, 4)...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := sharedModel(t, tc.model)
			fs := newFileServer(t)
			fs.add("o/r", "main", "m.gguf", data)
			fs.ignoreRange = tc.ignoreRange
			s := testStore(t, fs)
			dst := filepath.Join(t.TempDir(), "shard.gguf")
			info, err := s.FetchLayers(context.Background(), fs.URL+"/o/r/resolve/main/m.gguf", tc.from, tc.to, dst)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := gguf.FromBytes(data)
			if err != nil {
				t.Fatal(err)
			}
			shard, err := gguf.Open(dst)
			if err != nil {
				t.Fatalf("shard does not parse: %v", err)
			}
			defer shard.Close()
			var names []string
			for _, ti := range shard.Tensors {
				names = append(names, ti.Name)
				want, err := orig.Header.Tensor(ti.Name)
				if !err {
					t.Fatalf("shard holds %s, which the model lacks", ti.Name)
				}
				if ti.Type != want.Type || !slices.Equal(ti.Dims, want.Dims) {
					t.Errorf("%s: type/dims %v %v, want %v %v", ti.Name, ti.Type, ti.Dims, want.Type, want.Dims)
				}
				if !bytes.Equal(shard.Data(&ti), orig.Data(want)) {
					t.Errorf("%s: bytes differ from the original tensor", ti.Name)
				}
			}
			slices.Sort(names)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("tensors\n got %v\nwant %v", names, want)
			}
			// Original metadata plus the shard keys.
			for _, kv := range orig.KV {
				if _, ok := shard.Get(kv.Key); !ok {
					t.Errorf("metadata %s lost", kv.Key)
				}
			}
			total, err := orig.Header.Uint("llama.block_count")
			if err != nil {
				t.Fatal(err)
			}
			if info.Shard == nil || info.Shard.From != tc.from || info.Shard.To != tc.to || uint64(info.Shard.Total) != total {
				t.Errorf("shard range %+v, want [%d,%d) of %d", info.Shard, tc.from, tc.to, total)
			}
			if !tc.ignoreRange {
				for _, r := range fs.log() {
					if !strings.Contains(r, "range=bytes=") {
						t.Errorf("request without a range: %s", r)
					}
				}
			}
		})
	}
}

func TestFetchLayersFetchesOnlyWhatItNeeds(t *testing.T) {
	data, _ := sharedModel(t, testmodels.Stories260K)
	fs := newFileServer(t)
	fs.add("o/r", "main", "m.gguf", data)
	s := testStore(t, fs)
	if _, err := s.FetchLayers(context.Background(), fs.URL+"/o/r/resolve/main/m.gguf", 1, 3, filepath.Join(t.TempDir(), "s.gguf")); err != nil {
		t.Fatal(err)
	}
	var fetched int64
	for _, r := range fs.log() {
		_, rng, _ := strings.Cut(r, "range=bytes=")
		var a, b int64
		if _, err := fmt.Sscanf(rng, "%d-%d", &a, &b); err != nil {
			t.Fatalf("range %q: %v", rng, err)
		}
		fetched += min(b+1, int64(len(data))) - a
	}
	// The header prefix (256 KiB) plus two of five blocks: well under the file.
	if fetched >= int64(len(data)) {
		t.Errorf("fetched %d bytes of a %d-byte file", fetched, len(data))
	}
}

func TestFetchLayersErrors(t *testing.T) {
	data, _ := sharedModel(t, testmodels.Stories260K)
	fs := newFileServer(t)
	fs.add("o/r", "main", "m.gguf", data)
	fs.add("o/r", "main", "junk.gguf", bytes.Repeat([]byte("junk"), 1000))
	s := testStore(t, fs)
	url := fs.URL + "/o/r/resolve/main/"
	cases := []struct {
		name     string
		file     string
		from, to int
		want     error
	}{
		{"empty range", "m.gguf", 2, 2, ErrLayerRange},
		{"past the end", "m.gguf", 3, 6, ErrLayerRange},
		{"negative", "m.gguf", -1, 2, ErrLayerRange},
		{"not gguf", "junk.gguf", 0, 1, ErrBadModel},
		{"404", "missing.gguf", 0, 1, ErrRemoteNotFound},
	}
	for _, tc := range cases {
		dst := filepath.Join(t.TempDir(), "s.gguf")
		if _, err := s.FetchLayers(context.Background(), url+tc.file, tc.from, tc.to, dst); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if names := dirNames(t, filepath.Dir(dst)); len(names) != 0 {
			t.Errorf("%s: left behind %v", tc.name, names)
		}
	}
}
