package sample

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// logitsOf returns logits whose softmax is probs.
func logitsOf(probs ...float64) []float32 {
	l := make([]float32, len(probs))
	for i, p := range probs {
		l[i] = float32(math.Log(p))
	}
	return l
}

// only returns params with every filter off and temperature temp.
func only(temp float32) Params {
	return Params{Temperature: temp, TopP: 1, RepeatPenalty: 1}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default: %v", err)
	}
	for name, p := range Presets {
		if err := p.Validate(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	nan := float32(math.NaN())
	bad := map[string]func(*Params){
		"nan temperature":   func(p *Params) { p.Temperature = nan },
		"inf temperature":   func(p *Params) { p.Temperature = float32(math.Inf(1)) },
		"negative top-k":    func(p *Params) { p.TopK = -1 },
		"top-p above 1":     func(p *Params) { p.TopP = 1.5 },
		"nan top-p":         func(p *Params) { p.TopP = nan },
		"negative min-p":    func(p *Params) { p.MinP = -0.1 },
		"zero penalty":      func(p *Params) { p.RepeatPenalty = 0 },
		"last-n below -1":   func(p *Params) { p.RepeatLastN = -2 },
		"nan frequency":     func(p *Params) { p.FrequencyPenalty = nan },
		"inf presence":      func(p *Params) { p.PresencePenalty = float32(math.Inf(-1)) },
		"negative penalty":  func(p *Params) { p.RepeatPenalty = -1 },
		"min-p above 1":     func(p *Params) { p.MinP = 2 },
		"negative top-p":    func(p *Params) { p.TopP = -0.5 },
		"nan repeat":        func(p *Params) { p.RepeatPenalty = nan },
		"inf repeat":        func(p *Params) { p.RepeatPenalty = float32(math.Inf(1)) },
		"nan presence":      func(p *Params) { p.PresencePenalty = nan },
		"negative infinity": func(p *Params) { p.Temperature = float32(math.Inf(-1)) },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			p := Default()
			mutate(&p)
			if err := p.Validate(); !errors.Is(err, ErrParams) {
				t.Errorf("Validate() = %v, want ErrParams", err)
			}
		})
	}
}

func TestGreedy(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		name   string
		temp   float32
		logits []float32
		want   int32
	}{
		{"argmax", 0, []float32{0.1, 2.5, -1, 2.4}, 1},
		{"ties go to the lowest id", 0, []float32{1, 3, 3, 3}, 1},
		{"all negative", 0, []float32{-5, -2, -3}, 1},
		{"negative temperature is greedy", -1, []float32{0, 0, 7}, 2},
		{"nan is never chosen", 0, []float32{nan, -1, nan}, 1},
		{"all -inf picks the first", 0, []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, 0},
		{"+inf wins", 0, []float32{3, float32(math.Inf(1)), 4}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Default()
			p.Temperature = c.temp
			orig := slices.Clone(c.logits)
			if got := New(p).Sample(c.logits, []int32{0, 1, 2}); got != c.want {
				t.Errorf("Sample = %d, want %d", got, c.want)
			}
			if !slices.EqualFunc(orig, c.logits, func(a, b float32) bool { return a == b || (a != a && b != b) }) {
				t.Errorf("logits modified: %v, was %v", c.logits, orig)
			}
		})
	}
	if got := New(Default()).Sample(nil, nil); got != -1 {
		t.Errorf("Sample(no logits) = %d, want -1", got)
	}
}

// TestGreedyWithPenalty: a penalty can move greedy's choice, only when set.
func TestGreedyWithPenalty(t *testing.T) {
	logits := []float32{1.0, 1.5, 0.2}
	p := only(0)
	if got := New(p).Sample(logits, []int32{1, 1}); got != 1 {
		t.Fatalf("no penalty: %d, want 1", got)
	}
	p.RepeatPenalty, p.RepeatLastN = 2, 64 // 1.5/2 = 0.75 < 1.0
	if got := New(p).Sample(logits, []int32{1, 1}); got != 0 {
		t.Fatalf("with penalty: %d, want 0", got)
	}
}

func TestPenalties(t *testing.T) {
	base := []float32{2, -2, 3, 0.5, 1}
	cases := []struct {
		name    string
		mutate  func(*Params)
		history []int32
		want    []float32
	}{
		{"off", func(*Params) {}, []int32{0, 1, 2}, []float32{2, -2, 3, 0.5, 1}},
		{"repeat divides positive, multiplies negative", func(p *Params) { p.RepeatPenalty = 2 },
			[]int32{0, 1, 0}, []float32{1, -4, 3, 0.5, 1}},
		{"frequency counts occurrences", func(p *Params) { p.FrequencyPenalty = 0.5 },
			[]int32{2, 2, 2, 3}, []float32{2, -2, 1.5, 0, 1}},
		{"presence counts once", func(p *Params) { p.PresencePenalty = 0.5 },
			[]int32{2, 2, 2, 3}, []float32{2, -2, 2.5, 0, 1}},
		{"window is the last n", func(p *Params) { p.RepeatPenalty, p.RepeatLastN = 2, 2 },
			[]int32{0, 4, 2}, []float32{2, -2, 1.5, 0.5, 0.5}},
		{"last-n 0 disables", func(p *Params) { p.RepeatPenalty, p.RepeatLastN = 2, 0 },
			[]int32{0, 4, 2}, []float32{2, -2, 3, 0.5, 1}},
		{"last-n -1 is everything", func(p *Params) { p.RepeatPenalty, p.RepeatLastN = 2, -1 },
			[]int32{0, 4, 2}, []float32{1, -2, 1.5, 0.5, 0.5}},
		{"ids outside the vocabulary are ignored", func(p *Params) { p.RepeatPenalty = 2 },
			[]int32{-3, 99, 4}, []float32{2, -2, 3, 0.5, 0.5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := only(1)
			p.RepeatLastN = 64
			c.mutate(&p)
			s := New(p)
			cand := make([]candidate, len(base))
			for i, l := range base {
				cand[i] = candidate{int32(i), l}
			}
			s.penalize(cand, c.history)
			for i, want := range c.want {
				if cand[i].logit != want {
					t.Errorf("token %d: logit %v, want %v (all %v)", i, cand[i].logit, want, cand)
				}
			}
		})
	}
}

// TestFilters checks which tokens each filter keeps on a known distribution.
func TestFilters(t *testing.T) {
	probs := []float64{0.05, 0.4, 0.1, 0.3, 0.15} // sorted: 1, 3, 4, 2, 0
	cases := []struct {
		name   string
		mutate func(*Params)
		want   []int32
	}{
		{"none", func(*Params) {}, []int32{0, 1, 2, 3, 4}},
		{"top-k 2", func(p *Params) { p.TopK = 2 }, []int32{1, 3}},
		{"top-k 1", func(p *Params) { p.TopK = 1 }, []int32{1}},
		{"top-k above vocabulary", func(p *Params) { p.TopK = 50 }, []int32{0, 1, 2, 3, 4}},
		{"top-p 0.65 stops at 0.4+0.3", func(p *Params) { p.TopP = 0.65 }, []int32{1, 3}},
		{"top-p 0.71 needs a third", func(p *Params) { p.TopP = 0.71 }, []int32{1, 3, 4}},
		{"top-p 0 keeps one", func(p *Params) { p.TopP = 0 }, []int32{1}},
		{"min-p 0.3 keeps p >= 0.12", func(p *Params) { p.MinP = 0.3 }, []int32{1, 3, 4}},
		{"min-p 1 keeps the best", func(p *Params) { p.MinP = 1 }, []int32{1}},
		{"top-k then min-p", func(p *Params) { p.TopK, p.MinP = 4, 0.3 }, []int32{1, 3, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := only(1)
			c.mutate(&p)
			s := New(p)
			got := map[int32]bool{}
			logits := logitsOf(probs...)
			for range 2000 {
				got[s.Sample(logits, nil)] = true
			}
			ids := make([]int32, 0, len(got))
			for id := range got {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, c.want) {
				t.Errorf("sampled ids %v, want %v", ids, c.want)
			}
		})
	}
}

// TestMaskedLogits: -Inf and NaN logits (masked tokens) are never drawn,
// whatever the filters.
func TestMaskedLogits(t *testing.T) {
	inf, nan := float32(math.Inf(-1)), float32(math.NaN())
	logits := []float32{inf, 1, nan, 0.5, inf, 2, nan}
	for _, p := range []Params{Default(), only(1), {Temperature: 1.5, TopP: 0.99, RepeatPenalty: 1}, {Temperature: 1, TopK: 7, MinP: 0.5, TopP: 1, RepeatPenalty: 1}} {
		s := New(p)
		for range 500 {
			switch id := s.Sample(logits, nil); id {
			case 1, 3, 5:
			default:
				t.Fatalf("%+v: drew masked token %d", p, id)
			}
		}
	}
	if id := New(only(1)).Sample([]float32{inf, nan, inf}, nil); id != 0 {
		t.Errorf("all masked: %d, want the first", id)
	}
}

// chiSquare is Pearson's statistic of counts against expected probabilities.
func chiSquare(counts []int, probs []float64) float64 {
	n := 0
	for _, c := range counts {
		n += c
	}
	x := 0.0
	for i, p := range probs {
		e := p * float64(n)
		d := float64(counts[i]) - e
		x += d * d / e
	}
	return x
}

// TestFrequencies: sampled frequencies follow the softmax of the filtered,
// temperature-scaled logits (chi-square at the 0.1% level, fixed seeds).
func TestFrequencies(t *testing.T) {
	probs := []float64{0.4, 0.3, 0.2, 0.1}
	sqrtNorm := func(ps ...float64) []float64 {
		out, sum := make([]float64, len(ps)), 0.0
		for i, p := range ps {
			out[i] = math.Sqrt(p)
			sum += out[i]
		}
		for i := range out {
			out[i] /= sum
		}
		return out
	}
	cases := []struct {
		name     string
		mutate   func(*Params)
		expected []float64
		critical float64 // chi-square 0.999 quantile, df = len-1
	}{
		{"temperature 1", func(*Params) {}, probs, 16.27},
		{"temperature 2 flattens", func(p *Params) { p.Temperature = 2 }, sqrtNorm(probs...), 16.27},
		{"top-k 2 renormalizes", func(p *Params) { p.TopK = 2 }, []float64{4.0 / 7, 3.0 / 7, 0, 0}, 10.83},
		{"top-p 0.85 drops the tail", func(p *Params) { p.TopP = 0.85 }, []float64{4.0 / 9, 3.0 / 9, 2.0 / 9, 0}, 13.82},
	}
	const draws = 20000
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := only(1)
			p.Seed = uint64(1000 + i)
			c.mutate(&p)
			s := New(p)
			counts := make([]int, len(probs))
			logits := logitsOf(probs...)
			for range draws {
				counts[s.Sample(logits, nil)]++
			}
			var kc []int
			var kp []float64
			for j, e := range c.expected {
				if e == 0 {
					if counts[j] != 0 {
						t.Errorf("token %d sampled %d times, want never", j, counts[j])
					}
					continue
				}
				kc, kp = append(kc, counts[j]), append(kp, e)
			}
			if x := chiSquare(kc, kp); x > c.critical {
				t.Errorf("chi-square %.2f > %.2f: counts %v, expected %v", x, c.critical, counts, c.expected)
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	logits := make([]float32, 1000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 3)
	}
	run := func(s *Sampler) []int32 {
		out := make([]int32, 200)
		for i := range out {
			out[i] = s.Sample(logits, out[:i])
		}
		return out
	}
	p := Default()
	p.Seed = 42
	a, b := run(New(p)), run(New(p))
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different tokens")
	}
	p.Seed = 43
	if c := run(New(p)); slices.Equal(a, c) {
		t.Fatal("different seeds gave the same 200 tokens")
	}
	s := New(p)
	run(s)
	s.Reset(42)
	if d := run(s); !slices.Equal(a, d) {
		t.Fatal("Reset(42) did not replay seed 42")
	}
}

// TestNoAllocs: after the first call, sampling a 150k vocabulary allocates
// nothing, with every filter on.
func TestNoAllocs(t *testing.T) {
	logits := make([]float32, 150_000)
	for i := range logits {
		logits[i] = float32(i%977) / 100
	}
	history := []int32{5, 9, 5, 1000, 149_999}
	p := Default()
	p.RepeatPenalty, p.FrequencyPenalty = 1.1, 0.1
	for _, mutate := range []func(*Params){
		func(*Params) {},
		func(p *Params) { p.TopK = 0 },
		func(p *Params) { p.Temperature = 0 },
	} {
		q := p
		mutate(&q)
		s := New(q)
		s.Sample(logits, history)
		if n := testing.AllocsPerRun(5, func() { s.Sample(logits, history) }); n != 0 {
			t.Errorf("%+v: %v allocations per Sample", q, n)
		}
	}
}

func BenchmarkSample(b *testing.B) {
	logits := make([]float32, 150_000)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 4)
	}
	history := make([]int32, 64)
	for i := range history {
		history[i] = int32(r.IntN(len(logits)))
	}
	for _, c := range []struct {
		name string
		p    Params
	}{
		{"greedy", only(0)},
		{"default", Default()},
		{"top-p-only", Params{Temperature: 0.8, TopP: 0.95, RepeatPenalty: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := New(c.p)
			for b.Loop() {
				s.Sample(logits, history)
			}
		})
	}
}

// FuzzSample: any logits (NaN and infinities included) and any parameters
// give an id inside the vocabulary, leave the logits untouched, and greedy
// without penalties is the first maximum.
func FuzzSample(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 192, 127}, float32(0.8), 40, float32(0.95), float32(0.05), float32(1.1), uint64(1), []byte{1, 0})
	f.Add([]byte{0, 0, 128, 255, 0, 0, 128, 255}, float32(0), 0, float32(1), float32(0), float32(1), uint64(7), []byte{})
	f.Fuzz(func(t *testing.T, raw []byte, temp float32, topK int, topP, minP, repeat float32, seed uint64, hist []byte) {
		logits := make([]float32, len(raw)/4)
		for i := range logits {
			logits[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
		}
		history := make([]int32, len(hist))
		for i, b := range hist {
			history[i] = int32(b) - 4
		}
		p := Params{Temperature: temp, TopK: topK, TopP: topP, MinP: minP, RepeatPenalty: repeat, RepeatLastN: 64, Seed: seed}
		orig := slices.Clone(raw)
		got := New(p).Sample(logits, history)
		if len(logits) == 0 {
			if got != -1 {
				t.Fatalf("no logits: %d", got)
			}
			return
		}
		if got < 0 || int(got) >= len(logits) {
			t.Fatalf("Sample = %d for %d logits", got, len(logits))
		}
		for i, l := range logits {
			if math.Float32bits(l) != uint32(orig[4*i])|uint32(orig[4*i+1])<<8|uint32(orig[4*i+2])<<16|uint32(orig[4*i+3])<<24 {
				t.Fatalf("logit %d modified", i)
			}
		}
		q := New(Params{Temperature: min(temp, 0), TopP: 1, RepeatPenalty: 1})
		want := int32(0)
		best := float32(math.Inf(-1))
		for i, l := range logits {
			if l == l && l > best {
				best, want = l, int32(i)
			}
		}
		if temp != temp || temp <= 0 {
			if g := q.Sample(logits, history); g != want {
				t.Fatalf("greedy = %d, want %d (%v)", g, want, logits)
			}
		}
	})
}
