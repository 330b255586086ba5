package tensor

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// Hand-made blocks with values worked out by hand from ggml's layouts.

var handBlocks = []struct {
	name string
	t    Type
	blk  []byte
	want map[int]float32 // element → value
}{
	{
		name: "Q8_0 d=0.5",
		t:    Q8_0,
		blk:  append([]byte{0x00, 0x38, 0x01, 0xff, 0x7f, 0x80}, make([]byte, 28)...),
		want: map[int]float32{0: 0.5, 1: -0.5, 2: 63.5, 3: -64, 4: 0, 31: 0},
	},
	{
		name: "Q4_0 d=2",
		t:    Q4_0,
		blk: []byte{0x00, 0x40,
			0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
			0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78},
		want: map[int]float32{0: -16, 1: -12, 7: 12, 8: 14, 9: 12, 16: -14, 23: 14, 24: -16, 31: -2},
	},
	{
		name: "Q4_1 d=0.5 m=-1",
		t:    Q4_1,
		blk:  append([]byte{0x00, 0x38, 0x00, 0xbc, 0xf3}, make([]byte, 15)...),
		want: map[int]float32{0: 0.5, 16: 6.5, 1: -1, 17: -1},
	},
	{
		name: "Q5_0 d=1 fifth bits of elements 0 and 16",
		t:    Q5_0,
		blk:  append([]byte{0x00, 0x3c, 0x01, 0x00, 0x01, 0x00, 0x21}, make([]byte, 15)...),
		want: map[int]float32{0: 1, 16: 2, 1: -16, 17: -16},
	},
	{
		name: "Q5_1 d=1 m=0.5 fifth bit of element 31",
		t:    Q5_1,
		blk:  append([]byte{0x00, 0x3c, 0x00, 0x38, 0, 0, 0, 0x80}, append(make([]byte, 15), 0xf0)...),
		want: map[int]float32{31: 31.5, 15: 0.5, 0: 0.5},
	},
	{
		name: "Q4_K packed 6-bit scales and mins",
		t:    Q4_K,
		blk: func() []byte {
			b := make([]byte, 144)
			copy(b, []byte{0x00, 0x3c, 0x00, 0x38, 65, 130, 195, 4, 64, 129, 2, 195, 65, 129, 127, 245})
			b[16+0] = 0x3a
			b[16+127] = 0xf1
			return b
		}(),
		// sc = 1 2 3 4 17 33 63 5, m = 0 1 2 3 20 40 7 63, d=1, dmin=0.5
		want: map[int]float32{0: 10, 32: 5.5, 223: 59.5, 255: 43.5, 100: -1.5, 150: -10},
	},
	{
		name: "Q6_K int8 scales",
		t:    Q6_K,
		blk: func() []byte {
			b := make([]byte, 210)
			b[0], b[16] = 0x21, 0x0f // ql
			b[128], b[128+16] = 0x02, 0x03
			b[192], b[193] = 2, 0xfd // scales 2, -3
			b[208], b[209] = 0x00, 0x3c
			return b
		}(),
		want: map[int]float32{0: 2, 1: -64, 16: -93, 32: 0},
	},
	{
		name: "Q8_K f32 scale",
		t:    Q8_K,
		blk: func() []byte {
			b := make([]byte, 292)
			binary.LittleEndian.PutUint32(b, math.Float32bits(0.25))
			b[4], b[4+255] = 0x80, 0x05
			return b
		}(),
		want: map[int]float32{0: -32, 255: 1.25, 7: 0},
	},
}

func TestDequantizeHandBlocks(t *testing.T) {
	for _, c := range handBlocks {
		t.Run(c.name, func(t *testing.T) {
			dst := make([]float32, c.t.BlockSize())
			if err := DequantizeRow(c.t, dst, c.blk); err != nil {
				t.Fatal(err)
			}
			for e, want := range c.want {
				if dst[e] != want {
					t.Errorf("element %d = %v, want %v", e, dst[e], want)
				}
			}
		})
	}
}

// specBlock builds one random block of type t by placing random levels and
// scales bit by bit as ggml-common.h describes, and returns it with the
// values the dequantiser must give (computed with ggml's float expressions).
func specBlock(t *testing.T, typ Type, rng *rand.Rand) ([]byte, []float32) {
	t.Helper()
	half := func() (uint16, float32) {
		h := F32ToF16(float32(rng.NormFloat64()))
		return h, F16ToF32(h)
	}
	put16 := func(b []byte, h uint16) { b[0], b[1] = byte(h), byte(h>>8) }
	blk := make([]byte, typ.TypeSize())
	want := make([]float32, typ.BlockSize())
	switch typ {
	case Q8_0, Q8_1:
		hd, d := half()
		put16(blk, hd)
		off := 2
		if typ == Q8_1 {
			hs, _ := half()
			put16(blk[2:], hs)
			off = 4
		}
		for e := range want {
			q := int8(rng.IntN(256) - 128)
			blk[off+e] = byte(q)
			want[e] = float32(q) * d
		}
	case Q4_0, Q4_1, Q5_0, Q5_1:
		hd, d := half()
		put16(blk, hd)
		var m float32
		qs := blk[2:]
		if typ == Q4_1 || typ == Q5_1 {
			var hm uint16
			hm, m = half()
			put16(blk[2:], hm)
			qs = blk[4:]
		}
		five := typ == Q5_0 || typ == Q5_1
		var qh []byte
		if five {
			qh, qs = qs[:4], qs[4:]
		}
		for e := range want {
			q := rng.IntN(16)
			if five {
				q = rng.IntN(32)
				qh[e/8] |= byte(q>>4) << (e % 8)
			}
			qs[e%16] |= byte(q&15) << (4 * (e / 16))
			switch typ {
			case Q4_0:
				want[e] = float32(q-8) * d
			case Q5_0:
				want[e] = float32(q-16) * d
			default:
				want[e] = float32(float32(q)*d) + m
			}
		}
	default:
		specBlockK(typ, blk, want, rng)
	}
	return blk, want
}

// specBlockK is specBlock for the k-quants.
func specBlockK(typ Type, blk []byte, want []float32, rng *rand.Rand) {
	hd := F32ToF16(float32(rng.NormFloat64()))
	d := F16ToF32(hd)
	hm := F32ToF16(float32(rng.NormFloat64()))
	dmin := F16ToF32(hm)
	setBits := func(b []byte, bit, v, width int) { // little-endian bit field
		for i := 0; i < width; i++ {
			if v>>i&1 == 1 {
				b[(bit+i)/8] |= 1 << ((bit + i) % 8)
			}
		}
	}
	switch typ {
	case Q2_K: // scales[16] qs[64] d dmin
		blk[80], blk[81], blk[82], blk[83] = byte(hd), byte(hd>>8), byte(hm), byte(hm>>8)
		for g := 0; g < 16; g++ {
			blk[g] = byte(rng.IntN(256))
		}
		for e := range want {
			q := rng.IntN(4)
			setBits(blk[16:], 8*(32*(e/128)+e%32)+2*(e%128/32), q, 2)
			sc, m := blk[e/16]&15, blk[e/16]>>4
			want[e] = float32(float32(d*float32(sc))*float32(q)) - dmin*float32(m)
		}
	case Q3_K: // hmask[32] qs[64] scales[12] d
		blk[108], blk[109] = byte(hd), byte(hd>>8)
		var sc [16]int
		for g := range sc {
			sc[g] = rng.IntN(64)
			setBits(blk[96:], 8*(g%8)+4*(g/8), sc[g]&15, 4)
			setBits(blk[104:], 8*(g%4)+2*(g/4), sc[g]>>4, 2)
		}
		for e := range want {
			q := rng.IntN(8)
			setBits(blk[32:], 8*(32*(e/128)+e%32)+2*(e%128/32), q&3, 2)
			setBits(blk, 8*(e%32)+e/32, q>>2, 1)
			want[e] = float32(d*float32(sc[e/16]-32)) * float32(q-4)
		}
	case Q4_K, Q5_K:
		specBlockK45(typ, blk, want, rng, hd, hm, d, dmin, setBits)
	case Q6_K: // ql[128] qh[64] scales[16] d
		blk[208], blk[209] = byte(hd), byte(hd>>8)
		for g := 0; g < 16; g++ {
			blk[192+g] = byte(rng.IntN(256))
		}
		for e := range want {
			q := rng.IntN(64)
			c, k, l := e/128, e%128/32, e%32
			setBits(blk, 8*(64*c+l+32*(k%2))+4*(k/2), q&15, 4)
			setBits(blk[128:], 8*(32*c+l)+2*k, q>>4, 2)
			want[e] = float32(d*float32(int8(blk[192+e/16]))) * float32(q-32)
		}
	case Q8_K:
		df := float32(rng.NormFloat64())
		binary.LittleEndian.PutUint32(blk, math.Float32bits(df))
		for e := range want {
			q := int8(rng.IntN(256) - 128)
			blk[4+e] = byte(q)
			want[e] = float32(q) * df
		}
	}
}

// blockTypes are the formats with block codecs; floatTypes the plain ones.
var (
	blockTypes = []Type{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K}
	floatTypes = []Type{F32, F16, BF16}
)

func TestDequantizeSpecBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range blockTypes {
		t.Run(typ.String(), func(t *testing.T) {
			for range 50 {
				// Three blocks in a row, to check the block stride too.
				var src []byte
				var want []float32
				for range 3 {
					b, w := specBlock(t, typ, rng)
					src, want = append(src, b...), append(want, w...)
				}
				dst := make([]float32, len(want))
				if err := DequantizeRow(typ, dst, src); err != nil {
					t.Fatal(err)
				}
				for e := range want {
					if math.Float32bits(dst[e]) != math.Float32bits(want[e]) {
						t.Fatalf("element %d = %v, want %v", e, dst[e], want[e])
					}
				}
			}
		})
	}
}

func TestFloatRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, typ := range floatTypes {
		for _, n := range []int{0, 1, 15, 17, 64, 172} {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(rng.NormFloat64() * 100)
			}
			row := make([]byte, n*typ.TypeSize())
			if err := QuantizeRow(typ, row, src); err != nil {
				t.Fatal(err)
			}
			dst := make([]float32, n)
			if err := DequantizeRow(typ, dst, row); err != nil {
				t.Fatal(err)
			}
			for i, v := range src {
				var want float32
				switch typ {
				case F32:
					want = v
				case F16:
					want = F16ToF32(F32ToF16(v))
				case BF16:
					want = BF16ToF32(F32ToBF16(v))
				}
				if dst[i] != want {
					t.Fatalf("%s[%d]: %v → %v, want %v", typ, i, v, dst[i], want)
				}
			}
		}
	}
}

func TestRowErrors(t *testing.T) {
	cases := []struct {
		name    string
		t       Type
		n, size int
		want    error
	}{
		{"short source", Q4_0, 32, 17, ErrLength},
		{"long source", Q4_0, 32, 19, ErrLength},
		{"partial block", Q4_0, 31, 18, nil},
		{"partial super-block", Q4_K, 128, 72, nil},
		{"f32 wrong size", F32, 3, 11, ErrLength},
		{"unsupported", IQ2_XXS, 256, 66, ErrUnsupportedType},
		{"unknown", Type(99), 32, 32, ErrUnsupportedType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := DequantizeRow(c.t, make([]float32, c.n), make([]byte, c.size))
			if err == nil {
				t.Fatal("DequantizeRow: no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("DequantizeRow: %v, want %v", err, c.want)
			}
			err = QuantizeRow(c.t, make([]byte, c.size), make([]float32, c.n))
			if err == nil {
				t.Fatal("QuantizeRow: no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("QuantizeRow: %v, want %v", err, c.want)
			}
		})
	}
}

func TestQuantizeRejectsNonFinite(t *testing.T) {
	for _, typ := range blockTypes {
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			src := make([]float32, typ.BlockSize())
			src[3] = bad
			dst := make([]byte, typ.TypeSize())
			if err := QuantizeRow(typ, dst, src); !errors.Is(err, ErrNonFinite) {
				t.Errorf("%s with %v: %v, want ErrNonFinite", typ, bad, err)
			}
		}
	}
}

// specBlockK45 builds Q4_K/Q5_K blocks: d dmin scales[12] (qh[32]) qs[128].
func specBlockK45(typ Type, blk []byte, want []float32, rng *rand.Rand, hd, hm uint16, d, dmin float32, setBits func(b []byte, bit, v, width int)) {
	blk[0], blk[1], blk[2], blk[3] = byte(hd), byte(hd>>8), byte(hm), byte(hm>>8)
	var sc, mn [8]int
	for j := range sc {
		sc[j], mn[j] = rng.IntN(64), rng.IntN(64)
		if j < 4 {
			setBits(blk[4:], 8*j, sc[j], 6)
			setBits(blk[4:], 8*(j+4), mn[j], 6)
		} else {
			setBits(blk[4:], 8*(j+4), sc[j]&15, 4)
			setBits(blk[4:], 8*(j+4)+4, mn[j]&15, 4)
			setBits(blk[4:], 8*(j-4)+6, sc[j]>>4, 2)
			setBits(blk[4:], 8*j+6, mn[j]>>4, 2)
		}
	}
	qs := blk[16:]
	if typ == Q5_K {
		qs = blk[48:]
	}
	for e := range want {
		q := rng.IntN(16)
		if typ == Q5_K {
			q = rng.IntN(32)
			setBits(blk[16:], 8*(e%32)+e/32, q>>4, 1)
		}
		setBits(qs, 8*(32*(e/64)+e%32)+4*(e%64/32), q&15, 4)
		dl, ml := d*float32(sc[e/32]), dmin*float32(mn[e/32])
		want[e] = float32(dl*float32(q)) - ml
	}
}
