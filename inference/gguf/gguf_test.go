package gguf

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hearth-p2p/hearth/inference/internal/testmodels"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

func TestOpenSharedModels(t *testing.T) {
	cases := []struct {
		file      string
		tensors   int
		kvs       int
		blocks    uint64
		embd      uint64
		tokens    int
		typeCount map[tensor.Type]int
	}{
		{testmodels.Stories260K, 48, 19, 5, 64, 512, map[tensor.Type]int{tensor.F32: 48}},
		{testmodels.TinyStoriesQ8, 20, 34, 2, 128, 2048, map[tensor.Type]int{tensor.Q8_0: 15, tensor.F32: 5}},
		{testmodels.TinyRandom, 12, 18, 1, 8, 32000, map[tensor.Type]int{tensor.F16: 9, tensor.F32: 3}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f, err := Open(testmodels.Path(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Version != 3 {
				t.Errorf("version %d, want 3", f.Version)
			}
			if len(f.Tensors) != c.tensors || len(f.KV) != c.kvs {
				t.Errorf("%d tensors / %d kv, want %d / %d", len(f.Tensors), len(f.KV), c.tensors, c.kvs)
			}
			if f.Alignment != DefaultAlignment {
				t.Errorf("alignment %d", f.Alignment)
			}
			if got, _ := f.Uint("llama.block_count"); got != c.blocks {
				t.Errorf("block_count %d, want %d", got, c.blocks)
			}
			if got, _ := f.Uint("llama.embedding_length"); got != c.embd {
				t.Errorf("embedding_length %d, want %d", got, c.embd)
			}
			toks, err := f.Array("tokenizer.ggml.tokens")
			if err != nil || len(toks.([]string)) != c.tokens {
				t.Errorf("tokens: %v, %d", err, len(toks.([]string)))
			}
			// The data section ends exactly at EOF for these files.
			if end := f.DataOffset + f.DataSize(); end != uint64(f.Size()) {
				t.Errorf("data ends at %d, file is %d bytes", end, f.Size())
			}
			counts := map[tensor.Type]int{}
			for _, ti := range f.Tensors {
				counts[ti.Type]++
			}
			if !reflect.DeepEqual(counts, c.typeCount) {
				t.Errorf("type counts %v, want %v", counts, c.typeCount)
			}
			ti, data, err := f.TensorData("token_embd.weight")
			if err != nil {
				t.Fatal(err)
			}
			if ti.Dims[0] != c.embd || uint64(len(data)) != ti.Size {
				t.Errorf("token_embd dims %v size %d", ti.Dims, len(data))
			}
		})
	}
}

func TestMetadataTypes(t *testing.T) {
	f, err := Open(testmodels.Path(t, testmodels.Stories260K))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s, err := f.Architecture(); err != nil || s != "llama" {
		t.Errorf("architecture %q %v", s, err)
	}
	eps, err := f.Float("llama.attention.layer_norm_rms_epsilon")
	if err != nil || eps < 0.9e-5 || eps > 1.1e-5 {
		t.Errorf("rms eps %v %v", eps, err)
	}
	if _, err := f.Uint("general.name"); !errors.Is(err, ErrWrongType) {
		t.Errorf("Uint on string: %v", err)
	}
	if _, err := f.String("no.such.key"); !errors.Is(err, ErrNoKey) {
		t.Errorf("missing key: %v", err)
	}
	scores, err := f.Array("tokenizer.ggml.scores")
	if err != nil {
		t.Fatal(err)
	}
	if sc := scores.([]float32); len(sc) != 512 {
		t.Errorf("%d scores", len(sc))
	}
	sep, err := f.Uint("tokenizer.ggml.seperator_token_id")
	if err != nil || sep != 4294967295 {
		t.Errorf("separator id %d %v", sep, err)
	}
}

// TestRewriteIsIdentical re-encodes each shared model with Writer and expects
// the very same bytes: the writer follows llama.cpp's layout exactly.
func TestRewriteIsIdentical(t *testing.T) {
	for _, name := range []string{testmodels.Stories260K, testmodels.TinyStoriesQ8, testmodels.TinyRandom, testmodels.VocabPhi3} {
		t.Run(name, func(t *testing.T) {
			orig, err := os.ReadFile(testmodels.Path(t, name))
			if err != nil {
				t.Fatal(err)
			}
			f, err := FromBytes(orig)
			if err != nil {
				t.Fatal(err)
			}
			w := NewWriter()
			w.CopyKV(f.Header)
			for i := range f.Tensors {
				ti := &f.Tensors[i]
				if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, f.Data(ti)); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if _, err := w.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), orig) {
				t.Fatalf("rewrite differs: %d bytes vs %d", buf.Len(), len(orig))
			}
		})
	}
}

func TestWriterRoundTripAllTypes(t *testing.T) {
	w := NewWriter()
	vals := []any{
		uint8(7), int8(-7), uint16(700), int16(-700), uint32(70000), int32(-70000),
		float32(1.5), true, "héllo", uint64(1 << 40), int64(-1 << 40), float64(2.25),
		[]uint8{1, 2}, []int8{-1, 2}, []uint16{3}, []int16{-3}, []uint32{4, 5}, []int32{-4},
		[]float32{0.5, -0.25}, []bool{true, false, true}, []string{"a", "", "ccc"},
		[]uint64{9}, []int64{-9}, []float64{3.5},
		[]Value{NewValue([]int32{1, 2}), NewValue([]string{"x"})},
		[]string{},
	}
	for i, v := range vals {
		w.Set(keyName(i), v)
	}
	w.Set("general.alignment", uint32(64))
	data := make([]byte, 2*34)
	for i := range data {
		data[i] = byte(i)
	}
	if err := w.AddTensor("a", tensor.Q8_0, []uint64{64}, data); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("b", tensor.F32, []uint64{3, 2}, make([]byte, 24)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("b", tensor.F32, []uint64{1}, make([]byte, 4)); err == nil {
		t.Error("duplicate tensor accepted")
	}
	if err := w.AddTensor("c", tensor.Q8_0, []uint64{33}, make([]byte, 34)); err == nil {
		t.Error("partial block accepted")
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := FromBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		got, ok := f.Get(keyName(i))
		if !ok {
			t.Fatalf("key %d missing", i)
		}
		if want := NewValue(v); !reflect.DeepEqual(got, want) {
			t.Errorf("key %d: got %#v, want %#v", i, got, want)
		}
	}
	if f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Errorf("alignment %d offset %d", f.Alignment, f.DataOffset)
	}
	ti, got, err := f.TensorData("a")
	if err != nil || !bytes.Equal(got, data) || ti.Type != tensor.Q8_0 {
		t.Errorf("tensor a: %v", err)
	}
	if b, _ := f.Tensor("b"); b.Offset != 128 || !reflect.DeepEqual(b.Dims, []uint64{3, 2}) {
		t.Errorf("tensor b at %d dims %v", b.Offset, b.Dims)
	}
}

func keyName(i int) string { return "test.key" + string(rune('a'+i)) }

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	for _, write := range []func(io.Writer) error{
		func(io.Writer) error { return nil },                                        // short data
		func(io.Writer) error { return errors.New("disk full") },                    // failing source
		func(w io.Writer) error { _, err := w.Write(make([]byte, 20)); return err }, // long data
	} {
		w := NewWriter()
		w.Set("general.architecture", "llama")
		if err := w.AddTensorFunc("x", tensor.F32, []uint64{4}, write, 16); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteFile(path); err == nil {
			t.Fatal("bad tensor data accepted")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("failed write left %d files", len(entries))
		}
	}
	w := NewWriter()
	w.Set("general.architecture", "llama")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if a, _ := f.Architecture(); a != "llama" {
		t.Errorf("architecture %q", a)
	}
}

func TestCorruptHeaders(t *testing.T) {
	good := writeSmall(t)
	le := func(b []byte, off int, v uint32) []byte {
		c := bytes.Clone(b)
		c[off], c[off+1], c[off+2], c[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		return c
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"magic", append([]byte("GGUX"), good[4:]...), ErrNotGGUF},
		{"v1", le(good, 4, 1), ErrVersion},
		{"v9", le(good, 4, 9), ErrVersion},
		{"bigendian", le(good, 4, 3<<24), ErrBigEndian},
		{"huge kv count", le(le(good, 16, 0xffffffff), 20, 0xffffffff), ErrTruncated},
		{"huge tensor count", le(le(good, 8, 0xffffffff), 12, 0xff), ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromBytes(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestEveryPrefixFails cuts a real file at many lengths: each must be a clean
// error wrapping ErrTruncated.
func TestEveryPrefixFails(t *testing.T) {
	orig, err := os.ReadFile(testmodels.Path(t, testmodels.TinyStoriesQ8))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(orig)
	if err != nil {
		t.Fatal(err)
	}
	// Every length through the fixed header and the first entries, then a
	// prime stride through the rest of the metadata and the tensor data.
	for n := 0; n < len(orig); {
		switch {
		case n < 512:
			n++
		case n < int(h.DataOffset):
			n += 61
		default:
			n += 4093
		}
		if n >= len(orig) {
			break
		}
		_, err := FromBytes(orig[:n])
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix %d: got %v, want ErrTruncated", n, err)
		}
	}
}

func writeSmall(t testing.TB) []byte {
	w := NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("llama.block_count", uint32(1))
	w.Set("tokenizer.ggml.tokens", []string{"<unk>", "a", "b"})
	if err := w.AddTensor("t", tensor.F32, []uint64{2, 2}, make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func FuzzParseHeader(f *testing.F) {
	f.Add(writeSmall(f))
	for _, name := range []string{testmodels.Stories260K, testmodels.TinyStoriesQ8} {
		dir, err := testmodels.Dir()
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		h, err := ParseHeader(data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(int(h.DataOffset), 4096)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := FromBytes(data)
		if err != nil {
			return
		}
		// Whatever parses must be self-consistent and safe to read.
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if got := file.Data(ti); uint64(len(got)) != ti.Size {
				t.Fatalf("tensor %q: %d bytes, want %d", ti.Name, len(got), ti.Size)
			}
		}
		// And it re-encodes to something that parses to the same header.
		w := NewWriter()
		w.CopyKV(file.Header)
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, file.Data(ti)); err != nil {
				t.Fatalf("re-add %q: %v", ti.Name, err)
			}
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := FromBytes(buf.Bytes())
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		if len(again.KV) != len(file.KV) || len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("re-encoded header differs")
		}
	})
}
