package tensor

import (
	"encoding/binary"
	"math"
	"testing"
)

// fuzzType maps a fuzzer byte to a type id, mostly ones with codecs.
func fuzzType(b uint8) Type {
	all := append(append([]Type{}, quantTypes...), IQ2_XXS, IQ4_NL, I8, TQ1_0, Type(5), Type(200))
	return all[int(b)%len(all)]
}

// FuzzDequantize: any type, length and bytes either decode or give an
// error, never a panic; the error happens exactly when the lengths or the
// type are wrong.
func FuzzDequantize(f *testing.F) {
	f.Add(uint8(3), uint16(32), make([]byte, 18))
	f.Add(uint8(12), uint16(256), make([]byte, 144))
	f.Add(uint8(1), uint16(5), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Fuzz(func(t *testing.T, tb uint8, n uint16, data []byte) {
		typ := fuzzType(tb)
		dst := make([]float32, n)
		err := DequantizeRow(typ, dst, data)
		_, supported := decoders[typ]
		size, serr := typ.RowSize(int64(n))
		valid := supported && serr == nil && size == int64(len(data))
		if valid != (err == nil) {
			t.Fatalf("%s n=%d len=%d: err=%v, valid=%v", typ, n, len(data), err, valid)
		}
		if _, ok := kernels[typ]; ok && err == nil {
			// The same bytes as a weight row: the fast kernel equals the
			// reference, whatever the scales hold (NaN, Inf, subnormals).
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			a, qerr := quantizeAct(typ, x)
			if qerr != nil {
				t.Fatal(qerr)
			}
			checkTiers(t, typ, data, &a, "fuzzed row")
		}
	})
}

// floatsFrom turns fuzz bytes into n finite floats of moderate size: the
// block formats' f16 scales cannot hold more than ±65504·127.
func floatsFrom(data []byte, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		var b [4]byte
		for j := range b {
			if k := 4*i + j; k < len(data) {
				b[j] = data[k]
			}
		}
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e4 {
			v = float32(math.Mod(float64(binary.LittleEndian.Uint32(b[:])), 2001)/100 - 10)
		}
		x[i] = v
	}
	return x
}

// roundTripBound is the largest error a round trip may make, as a fraction
// of the largest magnitude in the block (super-block for k-quants).
var roundTripBound = map[Type]float64{
	Q8_0: 0.01, Q8_1: 0.01, Q8_K: 0.01, Q6_K: 0.05,
	Q5_0: 0.07, Q5_1: 0.07, Q5_K: 0.1,
	Q4_0: 0.2, Q4_1: 0.2, Q4_K: 0.2, Q3_K: 0.4, Q2_K: 0.8,
}

// underflowSlack is the absolute error allowed where a block's f16 scale
// underflows: Q6_K's d = amax/(32·128) flushes to zero for amax below
// 2^-24·4096 ≈ 2.4e-4, the largest such threshold of the formats.
const underflowSlack = 2.5e-4

// FuzzQuantize: QuantizeRow then DequantizeRow stays within each format's
// per-block error bound (plus slack for scales that underflow f16).
func FuzzQuantize(f *testing.F) {
	f.Add(uint8(3), uint8(1), []byte{0, 0, 128, 63, 0, 0, 0, 192})
	f.Add(uint8(12), uint8(2), []byte("some bytes that become floats"))
	f.Fuzz(func(t *testing.T, tb, blocks uint8, data []byte) {
		typ := quantTypes[int(tb)%len(quantTypes)]
		bs := typ.BlockSize()
		n := bs * (1 + int(blocks)%3)
		if bs == 1 {
			n = int(blocks)
		}
		x := floatsFrom(data, n)
		y := roundTrip(t, typ, x)
		for b := 0; b < n; b += bs {
			var amax float64
			for _, v := range x[b : b+bs] {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			for i := b; i < b+bs; i++ {
				err := math.Abs(float64(x[i]) - float64(y[i]))
				var bound float64
				switch typ {
				case F32:
					bound = 0
				case F16:
					bound = math.Abs(float64(x[i]))*0x1p-11 + 0x1p-25
				case BF16:
					bound = math.Abs(float64(x[i]))*0x1p-8 + 0x1p-134
				default:
					bound = roundTripBound[typ]*amax + underflowSlack
				}
				if !(err <= bound) {
					t.Fatalf("%s element %d: %v → %v (block amax %v, bound %v)", typ, i, x[i], y[i], amax, bound)
				}
			}
		}
	})
}

// FuzzDot: for quantiser-made rows and fuzzed activations, the fast kernel
// equals the reference bit for bit and DotRow stays within the activation
// quantisation bound of the exact product; float rows are also read from an
// unaligned copy.
func FuzzDot(f *testing.F) {
	f.Add(uint8(0), uint8(1), []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8})
	f.Add(uint8(10), uint8(1), []byte("weights"), []byte("activations"))
	f.Fuzz(func(t *testing.T, tb, blocks uint8, wdata, xdata []byte) {
		typ := kernelTypes[int(tb)%len(kernelTypes)]
		n := typ.BlockSize() * (1 + int(blocks)%3)
		if typ.BlockSize() == 1 {
			n = int(blocks)
		}
		row := quantizedRow(t, typ, floatsFrom(wdata, n))
		x := floatsFrom(xdata, n)
		a, err := quantizeAct(typ, x)
		if err != nil {
			t.Fatal(err)
		}
		checkTiers(t, typ, row, &a, "quantised row")
		got := kernels[typ].dot(row, &a)
		if typ.BlockSize() == 1 {
			shifted := make([]byte, len(row)+1)[1:]
			copy(shifted, row)
			if u := kernels[typ].dot(shifted, &a); !sameFloat(u, got) {
				t.Fatalf("unaligned row gives %v, aligned %v", u, got)
			}
		}
		w := make([]float32, n)
		if err := DequantizeRow(typ, w, row); err != nil {
			t.Fatal(err)
		}
		var exact float64
		for i := range w {
			exact += float64(w[i]) * float64(x[i])
		}
		if d, b := math.Abs(float64(got)-exact), actErrorBound(typ, row, w, x, &a); !(d <= b) {
			t.Fatalf("dot %v, exact %v: error %g > bound %g", got, exact, d, b)
		}
	})
}

// FuzzKernelBytes: arbitrary bytes, cut or padded to whole blocks, as a
// weight row (any scales: NaN, Inf, subnormal; any levels) against fuzzed
// activations: the fast kernel equals the reference bit for bit.
func FuzzKernelBytes(f *testing.F) {
	f.Add(uint8(3), uint8(0), []byte{0, 0x3c, 0x12, 0x34}, []byte{1, 2, 3})
	f.Add(uint8(10), uint8(1), []byte("\xff\x7c q6k"), []byte("x"))
	f.Fuzz(func(t *testing.T, tb, blocks uint8, wdata, xdata []byte) {
		typ := kernelTypes[int(tb)%len(kernelTypes)]
		n := typ.BlockSize() * (1 + int(blocks)%3)
		if typ.BlockSize() == 1 {
			n = int(blocks)
		}
		row := make([]byte, n/typ.BlockSize()*typ.TypeSize())
		for i := range row {
			if len(wdata) > 0 {
				row[i] = wdata[i%len(wdata)] ^ byte(i/len(wdata))
			}
		}
		a, err := quantizeAct(typ, floatsFrom(xdata, n))
		if err != nil {
			t.Fatal(err)
		}
		checkTiers(t, typ, row, &a, "arbitrary bytes")
	})
}

// FuzzMatMul: arbitrary bytes as a matrix (any scales and levels) times
// fuzzed tokens, through every MatMul path a token count selects (tile,
// transposed, packed eight-token kernels): each element equals the
// reference kernel bit for bit.
func FuzzMatMul(f *testing.F) {
	f.Add(uint8(8), uint8(9), uint8(3), []byte{0, 0x3c, 0x12, 0x34}, []byte{1, 2, 3})
	f.Add(uint8(12), uint8(2), uint8(5), []byte("\xff\x7c q4k"), []byte("x"))
	f.Add(uint8(2), uint8(17), uint8(2), []byte("q4_0 \x00\x7e"), []byte("tokens"))
	f.Fuzz(func(t *testing.T, tb, ntok, nrows uint8, wdata, xdata []byte) {
		typ := kernelTypes[int(tb)%len(kernelTypes)]
		n, rows := 1+int(ntok)%20, 1+int(nrows)%9
		cols := typ.BlockSize() * 16
		if typ.BlockSize() == 1 {
			cols = 40
		} else if typ.BlockSize() == QK_K {
			cols = QK_K * (1 + int(nrows)%3)
		}
		rb := cols / typ.BlockSize() * typ.TypeSize()
		data := make([]byte, rows*rb)
		for i := range data {
			if len(wdata) > 0 {
				data[i] = wdata[i%len(wdata)] ^ byte(i/len(wdata))
			}
		}
		m, err := NewMatrix(typ, rows, cols, data)
		if err != nil {
			t.Fatal(err)
		}
		x := floatsFrom(xdata, n*cols)
		dst := make([]float32, n*rows)
		p := NewPool(2)
		defer p.Close()
		p.MatMul(dst, m, x, n)
		for tok := range n {
			a, err := quantizeAct(typ, x[tok*cols:(tok+1)*cols])
			if err != nil {
				t.Fatal(err)
			}
			for r := range rows {
				if want := refDot(typ, m.Row(r), &a); !sameFloat(want, dst[tok*rows+r]) {
					t.Fatalf("%s n=%d token %d row %d: %v, reference %v", typ, n, tok, r, dst[tok*rows+r], want)
				}
			}
		}
	})
}
