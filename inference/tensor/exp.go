package tensor

import "math"

// The exponential of the model's softmax and SiLU. It lives here so that
// SwiGLU can have a vector version (exp_amd64.s) that gives the same bits.

// Exp is e^x, computed the same way on every CPU. (math.Exp is not: on
// amd64 it uses fused multiply-adds when the CPU has FMA, so its last bit
// depends on the machine, and a peer's hidden states could not be checked
// by another peer.) It is Go's portable algorithm (math/exp.go, from
// FreeBSD's e_exp.c, error < 1 ulp) with every product rounded before it is
// added, so no compiler may fuse them either.
func Exp(x float64) float64 {
	const (
		overflow  = 7.09782712893383973096e+02
		underflow = -7.45133219101941108420e+02
		nearZero  = 1.0 / (1 << 28)
	)
	switch {
	case x != x:
		return x
	case x > overflow:
		return math.Inf(1)
	case x < underflow:
		return 0
	case -nearZero < x && x < nearZero:
		return 1 + x
	}
	y, k := expParts(x)
	if -1021 <= k && k <= 1022 {
		// y·2^k is normal, so multiplying by the power of two is exact:
		// the same value as Ldexp, without its special cases.
		return y * math.Float64frombits(uint64(k+1023)<<52)
	}
	return math.Ldexp(y, k)
}

// expParts splits e^x = y·2^k for x in Exp's ordinary range.
func expParts(x float64) (y float64, k int) {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
		log2e = 1.44269504088896338700e+00

		p1 = 1.66666666666666657415e-01
		p2 = -2.77777777770155933842e-03
		p3 = 6.61375632143793436117e-05
		p4 = -1.65339022054652515390e-06
		p5 = 4.13813679705723846039e-08
	)
	switch {
	case x < 0:
		k = int(float64(log2e*x) - 0.5)
	case x > 0:
		k = int(float64(log2e*x) + 0.5)
	}
	hi := x - float64(float64(k)*ln2Hi)
	lo := float64(k) * ln2Lo
	r := hi - lo
	t := float64(r * r)
	c := r - float64(t*(p1+float64(t*(p2+float64(t*(p3+float64(t*(p4+float64(t*p5)))))))))
	return 1 - ((lo - float64(r*c)/(2-c)) - hi), k
}

// ExpAll sets x[i] = Exp(x[i]) for every element.
func ExpAll(x []float64) {
	for i := 0; i < len(x); {
		if n := expFast(x[i:]); n > 0 {
			i += n
			continue
		}
		for end := min(i+4, len(x)); i < end; i++ {
			x[i] = Exp(x[i])
		}
	}
}

// SwiGLU sets g[i] = silu(g[i])·u[i], silu(v) = v/float32(1+Exp(-v)) (the
// sum in float64, then rounded). It panics if u is shorter than g.
func SwiGLU(g, u []float32) {
	u = u[:len(g)]
	for i := 0; i < len(g); {
		if n := swigluFast(g[i:], u[i:]); n > 0 {
			i += n
			continue
		}
		// The next four (or the tail) in Go: the vector code leaves
		// arguments near 0 and beyond ±700 to Exp's special cases.
		for end := min(i+4, len(g)); i < end; i++ {
			v := g[i]
			silu := v / float32(1+Exp(float64(-v)))
			g[i] = silu * u[i]
		}
	}
}
