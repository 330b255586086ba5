//go:build linux && amd64

package tensor

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ebitengine/purego"
)

// This test compares the codecs with llama.cpp's own, loaded from the
// prebuilt libggml-base.so that the CI tools (npm node-llama-cpp, installed
// by .ci/setup into .ci/tools) ship. Without that library it skips.

const ggmlLibRel = ".ci/tools/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so"

// ggmlLib opens libggml-base.so from the repository's CI tools.
func ggmlLib(t *testing.T) uintptr {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("repository root not found")
		}
		dir = filepath.Dir(dir)
	}
	path := filepath.Join(dir, ggmlLibRel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("llama.cpp's libggml-base.so not installed (run .ci/setup): %v", err)
	}
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Skipf("dlopen %s: %v", path, err)
	}
	return lib
}

// ggmlNames maps each type to the suffix of ggml's codec symbols.
var ggmlNames = map[Type]string{
	Q4_0: "q4_0", Q4_1: "q4_1", Q5_0: "q5_0", Q5_1: "q5_1", Q8_0: "q8_0",
	Q2_K: "q2_K", Q3_K: "q3_K", Q4_K: "q4_K", Q5_K: "q5_K", Q6_K: "q6_K", Q8_K: "q8_K",
}

// TestMatchesGGML: QuantizeRow writes byte-identical blocks to ggml's
// quantize_row_*_ref and DequantizeRow decodes them to identical floats, on
// Gaussian rows, rows with outliers and rows with a zero sub-block.
func TestMatchesGGML(t *testing.T) {
	lib := ggmlLib(t)
	rng := rand.New(rand.NewPCG(61, 62))
	const n = 8 * QK_K
	inputs := map[string][]float32{"gauss": randVec(rng, n, 1), "small": randVec(rng, n, 1e-3)}
	out := randVec(rng, n, 1)
	for i := 0; i < n; i += 97 {
		out[i] *= 40
	}
	inputs["outliers"] = out
	zeros := randVec(rng, n, 1)
	clear(zeros[QK_K+32 : QK_K+96])
	inputs["zero sub-blocks"] = zeros
	for typ, name := range ggmlNames {
		var quant func(x *float32, y *byte, k int64)
		var dequant func(x *byte, y *float32, k int64)
		purego.RegisterLibFunc(&quant, lib, "quantize_row_"+name+"_ref")
		purego.RegisterLibFunc(&dequant, lib, "dequantize_row_"+name)
		for iname, x := range inputs {
			size, _ := typ.RowSize(n)
			want := make([]byte, size)
			quant(&x[0], &want[0], n)
			got := make([]byte, size)
			if err := QuantizeRow(typ, got, x); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < len(got); b += typ.TypeSize() {
				if string(got[b:b+typ.TypeSize()]) != string(want[b:b+typ.TypeSize()]) {
					t.Errorf("%s %s: block %d differs from ggml\n got  %x\n want %x", typ, iname,
						b/typ.TypeSize(), got[b:b+typ.TypeSize()], want[b:b+typ.TypeSize()])
					break
				}
			}
			ref := make([]float32, n)
			dequant(&want[0], &ref[0], n)
			dec := make([]float32, n)
			if err := DequantizeRow(typ, dec, want); err != nil {
				t.Fatal(err)
			}
			for i := range dec {
				if math.Float32bits(dec[i]) != math.Float32bits(ref[i]) {
					t.Errorf("%s %s: element %d decodes to %v, ggml %v", typ, iname, i, dec[i], ref[i])
					break
				}
			}
		}
	}

	var toF16 func(x float32) uint16
	var toBF16 func(x float32) uint16
	purego.RegisterLibFunc(&toF16, lib, "ggml_fp32_to_fp16")
	purego.RegisterLibFunc(&toBF16, lib, "ggml_fp32_to_bf16")
	for range 1 << 16 {
		f := math.Float32frombits(rng.Uint32())
		if got, want := F32ToF16(f), toF16(f); got != want {
			t.Fatalf("F32ToF16(%#08x) = %#04x, ggml %#04x", math.Float32bits(f), got, want)
		}
		if got, want := F32ToBF16(f), toBF16(f); got != want {
			t.Fatalf("F32ToBF16(%#08x) = %#04x, ggml %#04x", math.Float32bits(f), got, want)
		}
	}
}
