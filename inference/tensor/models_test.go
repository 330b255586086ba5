package tensor_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/hearth-p2p/hearth/inference/gguf"
	"github.com/hearth-p2p/hearth/inference/tensor"
)

// modelPath finds a shared test model: walk up from the working directory
// to the repository root (the directory with go.mod) and look in
// <root>/../shared/models. The models are fixtures: missing ones fail.
func modelPath(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod) not found above the test directory")
		}
		dir = parent
	}
	p := filepath.Join(filepath.Dir(dir), "shared", "models", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared test model: %v", err)
	}
	return p
}

func openModel(t *testing.T, name string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(modelPath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// half decodes binary16 independently of the package: sign·m·2^e in float64.
func half(h uint16) float32 {
	e, m := int(h>>10&0x1f), float64(h&0x3ff)
	v := math.Ldexp(1024+m, e-25)
	if e == 0 {
		v = math.Ldexp(m, -24)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return float32(v)
}

// tensorsOf returns the names of the file's tensors of type typ.
func tensorsOf(f *gguf.File, typ tensor.Type) []string {
	var names []string
	for _, ti := range f.Tensors {
		if ti.Type == typ {
			names = append(names, ti.Name)
		}
	}
	return names
}

// TestRealQ8_0 decodes every Q8_0 tensor of TinyStories-656K with
// DequantizeRow and with an independent decoder, requantises the result
// (ggml's quantiser reproduces its own output), and checks a MatVec with the
// real embedding matrix against float64 arithmetic.
func TestRealQ8_0(t *testing.T) {
	f := openModel(t, "TinyStories-656K-Q8_0.gguf")
	names := tensorsOf(f, tensor.Q8_0)
	if len(names) != 15 {
		t.Fatalf("%d Q8_0 tensors, README says 15", len(names))
	}
	for _, name := range names {
		ti, data, err := f.TensorData(name)
		if err != nil {
			t.Fatal(err)
		}
		n := int(ti.Elements())
		got := make([]float32, n)
		if err := tensor.DequantizeRow(tensor.Q8_0, got, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for b := 0; b < n/32; b++ {
			blk := data[34*b : 34*b+34]
			d := half(binary.LittleEndian.Uint16(blk))
			for j := 0; j < 32; j++ {
				if want := float32(int8(blk[2+j])) * d; got[32*b+j] != want {
					t.Fatalf("%s element %d = %v, want %v", name, 32*b+j, got[32*b+j], want)
				}
			}
		}
		again := make([]byte, len(data))
		if err := tensor.QuantizeRow(tensor.Q8_0, again, got); err != nil {
			t.Fatal(err)
		}
		same := 0
		for b := 0; b < n/32; b++ {
			if string(again[34*b:34*b+34]) == string(data[34*b:34*b+34]) {
				same++
			}
		}
		if same < n/32*99/100 {
			t.Errorf("%s: requantising reproduced %d of %d blocks", name, same, n/32)
		}
	}

	ti, data, err := f.TensorData("token_embd.weight")
	if err != nil {
		t.Fatal(err)
	}
	cols, rows := int(ti.Dims[0]), int(ti.Dims[1])
	m, err := tensor.NewMatrix(ti.Type, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(41, 42))
	x := make([]float32, cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	p := tensor.NewPool(2)
	defer p.Close()
	out := make([]float32, rows)
	p.MatVec(out, m, x)
	w := make([]float32, cols)
	for r := 0; r < rows; r++ {
		if err := tensor.DequantizeRow(ti.Type, w, m.Row(r)); err != nil {
			t.Fatal(err)
		}
		var exact, mag float64
		for i := range w {
			exact += float64(w[i]) * float64(x[i])
			mag += math.Abs(float64(w[i]) * float64(x[i]))
		}
		// Q8_0 activations: error ≈ 0.4% of Σ|w·x| in the worst case.
		if d := math.Abs(float64(out[r]) - exact); d > 0.01*mag+1e-6 {
			t.Fatalf("row %d: MatVec %v, exact %v (Σ|w·x| = %v)", r, out[r], exact, mag)
		}
	}
}

// TestRealF16 decodes the F16 and F32 tensors of llama-2-tiny-random.
func TestRealF16(t *testing.T) {
	f := openModel(t, "llama-2-tiny-random.gguf")
	f16s, f32s := tensorsOf(f, tensor.F16), tensorsOf(f, tensor.F32)
	if len(f16s) != 9 || len(f32s) != 3 {
		t.Fatalf("%d F16 and %d F32 tensors, README says 9 and 3", len(f16s), len(f32s))
	}
	for _, name := range append(f16s, f32s...) {
		ti, data, err := f.TensorData(name)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, ti.Elements())
		if err := tensor.DequantizeRow(ti.Type, got, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range got {
			var want float32
			if ti.Type == tensor.F16 {
				want = half(binary.LittleEndian.Uint16(data[2*i:]))
			} else {
				want = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			}
			if math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("%s element %d = %v, want %v", name, i, got[i], want)
			}
		}
		if ti.Type == tensor.F16 { // F16 re-encoding is lossless
			again := make([]byte, len(data))
			if err := tensor.QuantizeRow(tensor.F16, again, got); err != nil {
				t.Fatal(err)
			}
			if string(again) != string(data) {
				t.Errorf("%s: F16 round trip changed the bytes", name)
			}
		}
	}
}
