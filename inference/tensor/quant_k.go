package tensor

// Shared machinery of the k-quants: 256-element super-blocks split into
// sub-blocks of 16 or 32 elements, each with a small integer scale (and for
// Q2_K/Q4_K/Q5_K a min) that is itself quantised against a per-super-block
// f16 scale. The scale-search helpers below port ggml's make_qx_quants,
// make_q3_quants and make_qkx2_quants (ggml-quants.c). Every product that
// feeds a sum is rounded to float32 explicitly so that no platform fuses it
// into an FMA: the same input always gives the same file.

const groupMaxEps = 1e-15 // ggml's GROUP_MAX_EPS: a group this small is all-zero

// makeQXQuants is make_qx_quants with rmse_type 1 and no importance weights
// (weights x²): it picks a symmetric scale for nmax levels each side by a
// small search around -nmax/max, storing L[i] = l+nmax ∈ [0, 2·nmax).
func makeQXQuants(nmax int, x []float32, L []int8) float32 {
	maxv, amax := absMax(x)
	if amax < groupMaxEps {
		clear(L[:len(x)])
		return 0
	}
	fmax := float32(nmax)
	iscale := -fmax / maxv
	sumlx, suml2 := qxSums(nmax, iscale, x, L)
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fmax + float32(0.1*float32(is))) / maxv
		sumlx, suml2 = qxSums(nmax, iscale, x, nil)
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			qxSums(nmax, iscale, x, L)
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

// qxSums quantises x with iscale (levels clamped to [-nmax, nmax-1]) and
// returns Σw·x·l and Σw·l² with w = x². It stores l+nmax in L unless L is nil.
func qxSums(nmax int, iscale float32, x []float32, L []int8) (sumlx, suml2 float32) {
	for i, v := range x {
		l := clampInt(nearestInt(iscale*v), -nmax, nmax-1)
		if L != nil {
			L[i] = int8(l + nmax)
		}
		w := float32(v * v)
		fl := float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	return sumlx, suml2
}

// makeQ3Quants is make_q3_quants with do_rmse: start from the max-based
// scale, then greedily move single levels while the weighted fit improves.
// It stores L[i] = l+nmax.
func makeQ3Quants(nmax int, x []float32, L []int8) float32 {
	maxv, amax := absMax(x)
	if amax < groupMaxEps {
		clear(L[:len(x)])
		return 0
	}
	iscale := -float32(nmax) / maxv
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampInt(nearestInt(iscale*v), -nmax, nmax-1)
		L[i] = int8(l)
		w := float32(v * v)
		sumlx += float32(float32(w*v) * float32(l))
		suml2 += float32(float32(w*float32(l)) * float32(l))
	}
	for range 5 {
		changed := 0
		for i, v := range x {
			w := float32(v * v)
			li := float32(L[i])
			slx := sumlx - float32(float32(w*v)*li)
			if slx <= 0 {
				continue
			}
			sl2 := suml2 - float32(float32(w*li)*li)
			nl := clampInt(nearestInt(float32(v*sl2)/slx), -nmax, nmax-1)
			if nl == int(L[i]) {
				continue
			}
			fn := float32(nl)
			slx += float32(float32(w*v) * fn)
			sl2 += float32(float32(w*fn) * fn)
			if sl2 > 0 && float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
				L[i] = int8(nl)
				sumlx, suml2 = slx, sl2
				changed++
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := range x {
		L[i] += int8(nmax)
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// qkx2Params are make_qkx2_quants' search settings.
type qkx2Params struct {
	nmax          int
	rmin, rdelta  float32
	nstep         int
	meanAbsoluteE bool // minimise Σw|err| rather than Σw·err²
}

// makeQKX2Quants is make_qkx2_quants: an asymmetric fit x ≈ scale·L - min
// with L ∈ [0, nmax], searching nstep+1 candidate scales and solving the
// weighted least-squares (scale, min) for each. It returns scale and the
// (non-negative) min; laux is scratch of len(x).
func makeQKX2Quants(p qkx2Params, x, w []float32, L, laux []uint8) (scale, theMin float32) {
	lo, hi := x[0], x[0]
	sumW := w[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < len(x); i++ {
		if x[i] < lo {
			lo = x[i]
		}
		if x[i] > hi {
			hi = x[i]
		}
		sumW += w[i]
		sumX += float32(w[i] * x[i])
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		clear(L[:len(x)])
		return 0, -lo
	}
	nmax := float32(p.nmax)
	iscale := nmax / (hi - lo)
	scale = 1 / iscale
	for i, v := range x {
		L[i] = uint8(clampInt(nearestInt(iscale*(v-lo)), 0, p.nmax))
	}
	bestErr := qkx2Error(p.meanAbsoluteE, scale, lo, x, w, L)
	if p.nstep < 1 {
		return scale, -lo
	}
	for is := 0; is <= p.nstep; is++ {
		iscale = (float32(p.rmin+float32(p.rdelta*float32(is))) + nmax) / (hi - lo)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := clampInt(nearestInt(iscale*(v-lo)), 0, p.nmax)
			laux[i] = uint8(l)
			fl := float32(l)
			wl := float32(w[i] * fl)
			sumL += wl
			sumL2 += float32(wl * fl)
			sumXL += float32(wl * v)
		}
		det := float32(sumW*sumL2) - float32(sumL*sumL)
		if det <= 0 {
			continue
		}
		thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / det
		thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / det
		if thisMin > 0 {
			thisMin = 0
			thisScale = sumXL / sumL2
		}
		if e := qkx2Error(p.meanAbsoluteE, thisScale, thisMin, x, w, laux); e < bestErr {
			copy(L[:len(x)], laux[:len(x)])
			bestErr, scale, lo = e, thisScale, thisMin
		}
	}
	return scale, -lo
}

// qkx2Error is Σ w·|scale·L + min - x| (or squared).
func qkx2Error(mad bool, scale, minv float32, x, w []float32, L []uint8) float32 {
	var e float32
	for i, v := range x {
		diff := float32(float32(scale*float32(L[i]))+minv) - v
		if mad {
			diff = absf(diff)
		} else {
			diff = float32(diff * diff)
		}
		e += float32(w[i] * diff)
	}
	return e
}

// packQ2Bits stores 256 two-bit values (L[e] < 4) in 64 bytes: element
// 128c + 32j + l sits in bits 2j of byte 32c + l.
func packQ2Bits(qs []byte, L []uint8) {
	for c := 0; c < 2; c++ {
		for l := 0; l < 32; l++ {
			e := 128*c + l
			qs[32*c+l] = L[e] | L[e+32]<<2 | L[e+64]<<4 | L[e+96]<<6
		}
	}
}

// q2Bits returns the two-bit value of element e as packed by packQ2Bits.
func q2Bits(qs []byte, e int) uint8 {
	return qs[32*(e/128)+e%32] >> (2 * (e % 128 / 32)) & 3
}
