package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// f16Decode64 is an independent binary16 decoder: sign·mant·2^exp in float64.
func f16Decode64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>10&0x1f), float64(h&0x3ff)
	switch {
	case e == 0x1f && m == 0:
		return math.Inf(int(sign))
	case e == 0x1f:
		return math.NaN()
	case e == 0:
		return sign * math.Ldexp(m, -24)
	}
	return sign * math.Ldexp(1024+m, e-25)
}

// ggmlF32ToF16 is ggml's ggml_compute_fp32_to_fp16 (the scalar fallback of
// ggml-impl.h, after Maratos' FP16 library), written out as a second,
// differently-built implementation to check F32ToF16 against.
func ggmlF32ToF16(f float32) uint16 {
	scaleToInf := math.Float32frombits(0x77800000)
	scaleToZero := math.Float32frombits(0x08800000)
	base := float32(absf(f)*scaleToInf) * scaleToZero
	w := math.Float32bits(f)
	shl1 := w + w
	sign := w & 0x80000000
	bias := shl1 & 0xff000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = math.Float32frombits(bias>>1+0x07800000) + base
	bits := math.Float32bits(base)
	nonsign := bits>>13&0x7c00 + bits&0xfff
	if shl1 > 0xff000000 {
		return uint16(sign>>16) | 0x7e00
	}
	return uint16(sign>>16) | uint16(nonsign)
}

func TestF16ToF32Known(t *testing.T) {
	cases := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3800, 0.5},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0xfbff, -65504},
		{0x0400, 1.0 / 16384},                 // smallest normal 2^-14
		{0x0001, float32(math.Ldexp(1, -24))}, // smallest subnormal
		{0x03ff, float32(math.Ldexp(1023, -24))},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, c := range cases {
		if got := F16ToF32(c.h); got != c.want {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if got := F16ToF32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("F16ToF32(0x8000) = %v, want -0", got)
	}
	if got := F16ToF32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("F16ToF32(0x7e00) = %v, want NaN", got)
	}
}

func TestF16ToF32AllValues(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got, bits := F16ToF32(h), f16ToF32Bits(h)
		if math.Float32bits(got) != math.Float32bits(bits) {
			t.Fatalf("table and decoder disagree at %#04x: %v vs %v", h, got, bits)
		}
		want := f16Decode64(h)
		if math.IsNaN(want) {
			// NaN payload and sign survive, quiet bit included.
			if !math.IsNaN(float64(got)) || math.Float32bits(got)>>13&0x3ff != uint32(h&0x3ff) ||
				math.Signbit(float64(got)) != (h&0x8000 != 0) {
				t.Fatalf("F16ToF32(%#04x) = %#08x, want NaN with the same payload", h, math.Float32bits(got))
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, got, want)
		}
		if back := F32ToF16(got); back != h {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

func TestF32ToF16Rounding(t *testing.T) {
	ulp1 := float32(math.Ldexp(1, -10)) // spacing of binary16 at 1
	cases := []struct {
		name string
		f    float32
		want uint16
	}{
		{"one", 1, 0x3c00},
		{"tie to even stays", 1 + ulp1/2, 0x3c00},
		{"tie to even goes up", 1 + 3*ulp1/2, 0x3c02},
		{"above tie", 1 + ulp1/2 + ulp1/1024, 0x3c01},
		{"max", 65504, 0x7bff},
		{"below overflow tie", 65519.996, 0x7bff},
		{"overflow tie to inf", 65520, 0x7c00},
		{"huge", 1e30, 0x7c00},
		{"negative huge", -1e30, 0xfc00},
		{"inf", float32(math.Inf(1)), 0x7c00},
		{"smallest subnormal", float32(math.Ldexp(1, -24)), 0x0001},
		{"half smallest subnormal ties to 0", float32(math.Ldexp(1, -25)), 0x0000},
		{"just above half subnormal", float32(math.Ldexp(1.0001, -25)), 0x0001},
		{"1.5 subnormal ties to 2", float32(math.Ldexp(3, -25)), 0x0002},
		{"2.5 subnormal ties to 2", float32(math.Ldexp(5, -25)), 0x0002},
		{"subnormal rounds up to normal", float32(math.Ldexp(2047, -25)), 0x0400},
		{"tiny", 1e-10, 0x0000},
		{"negative tiny", -1e-10, 0x8000},
		{"negative zero", float32(math.Copysign(0, -1)), 0x8000},
		{"nan", float32(math.NaN()), 0x7e00},
		{"negative nan", math.Float32frombits(0xffc00001), 0xfe00},
		{"third", 1.0 / 3, 0x3555},
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.want {
			t.Errorf("%s: F32ToF16(%v) = %#04x, want %#04x", c.name, c.f, got, c.want)
		}
	}
}

// TestF32ToF16MatchesGGML compares with ggml's own algorithm on every
// binary16 value, every midpoint between neighbours (the ties), their float32
// neighbours, and a million random bit patterns.
func TestF32ToF16MatchesGGML(t *testing.T) {
	check := func(f float32) {
		if got, want := F32ToF16(f), ggmlF32ToF16(f); got != want {
			t.Fatalf("F32ToF16(%v = %#08x) = %#04x, ggml gives %#04x", f, math.Float32bits(f), got, want)
		}
	}
	for i := 0; i < 1<<15; i++ { // positive halves; sign handled below
		lo := f16Decode64(uint16(i))
		hi := f16Decode64(uint16(i + 1))
		if math.IsNaN(lo) || math.IsInf(lo, 0) {
			continue
		}
		for _, s := range []float64{1, -1} {
			mid := float32(s * (lo + hi) / 2) // exact in float32
			check(mid)
			check(math.Nextafter32(mid, 0))
			check(math.Nextafter32(mid, float32(math.Inf(int(s)))))
			check(float32(s * lo))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1 << 20 {
		check(math.Float32frombits(rng.Uint32()))
	}
}

func TestBF16(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81},
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // max float rounds to inf
		{float32(math.Inf(-1)), 0xff80},
		{math.Float32frombits(0x7f800001), 0x7fc0}, // signalling NaN quieted
		{math.Float32frombits(0xff810000), 0xffc1},
		{math.Float32frombits(0x00000001), 0x0000}, // subnormals round, not flush
		{math.Float32frombits(0x00008000), 0x0000},
		{math.Float32frombits(0x00018000), 0x0002},
	}
	for _, c := range cases {
		if got := F32ToBF16(c.f); got != c.want {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", math.Float32bits(c.f), got, c.want)
		}
	}
	for i := 0; i < 1<<16; i++ {
		f := BF16ToF32(uint16(i))
		if math.Float32bits(f) != uint32(i)<<16 {
			t.Fatalf("BF16ToF32(%#04x) = %#08x", i, math.Float32bits(f))
		}
		if !math.IsNaN(float64(f)) && F32ToBF16(f) != uint16(i) {
			t.Fatalf("BF16 round trip of %#04x gives %#04x", i, F32ToBF16(f))
		}
	}
	// Against float64 nearest-even on random finite values.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1 << 18 {
		b := rng.Uint32()
		f := math.Float32frombits(b)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		got := BF16ToF32(F32ToBF16(f))
		lo := math.Float32frombits(b &^ 0xffff)
		hi := math.Float32frombits(b&^0xffff + 0x10000)
		hiVal := float64(hi)
		if math.IsInf(hiVal, 0) { // rounding treats the overflow as 2^128
			hiVal = math.Copysign(math.Ldexp(1, 128), hiVal)
		}
		dlo, dhi := math.Abs(float64(f)-float64(lo)), math.Abs(hiVal-float64(f))
		want := lo
		if dhi < dlo || dhi == dlo && (b>>16)&1 == 1 {
			want = hi
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("BF16 rounding of %#08x: got %#08x, want %#08x", b, math.Float32bits(got), math.Float32bits(want))
		}
	}
}
