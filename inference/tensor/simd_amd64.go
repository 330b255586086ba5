package tensor

// Assembly kernels for amd64 (dotf_amd64.s, dotq_amd64.s, dotk_amd64.s).
// They compute the canonical orders of dot_f32.go, dot_q.go and dot_k.go
// bit for bit, so which tier runs (portable Go, AVX2, AVX2+VNNI) changes
// the speed and never the result. They need no GOEXPERIMENT: every amd64
// build has them and picks a tier at run time from the CPU's features.

//go:noescape
func dotF32AVX2(acc *[16]float32, a, b *float32, n int)

//go:noescape
func dotF16AVX2(acc *[16]float32, w *byte, x *float32, n int)

//go:noescape
func dotBF16AVX2(acc *[16]float32, w *byte, x *float32, n int)

// Tile kernels (dotq_amd64.s, dotk_amd64.s; see tile_amd64.h).

//go:noescape
func q8_0TileAVX2(a *tileArgs)

//go:noescape
func q8_0TileVNNI(a *tileArgs)

//go:noescape
func q4_0TileAVX2(a *tileArgs)

//go:noescape
func q4_0TileVNNI(a *tileArgs)

//go:noescape
func q5_0TileAVX2(a *tileArgs)

//go:noescape
func q5_0TileVNNI(a *tileArgs)

//go:noescape
func q4_1TileAVX2(a *tileArgs)

//go:noescape
func q4_1TileVNNI(a *tileArgs)

//go:noescape
func q5_1TileAVX2(a *tileArgs)

//go:noescape
func q5_1TileVNNI(a *tileArgs)

//go:noescape
func q4KVTileAVX2(a *tileArgs)

//go:noescape
func q4KVTileVNNI(a *tileArgs)

//go:noescape
func q5KTileAVX2(a *tileArgs)

//go:noescape
func q5KTileVNNI(a *tileArgs)

//go:noescape
func q6KTileAVX2(a *tileArgs)

//go:noescape
func q6KTileVNNI(a *tileArgs)

//go:noescape
func q2KTileAVX2(a *tileArgs)

//go:noescape
func q2KTileVNNI(a *tileArgs)

//go:noescape
func q3KTileAVX2(a *tileArgs)

//go:noescape
func q3KTileVNNI(a *tileArgs)

//go:noescape
func q8_0MTileVNNI(a *tileArgs)

//go:noescape
func q4_0MTileVNNI(a *tileArgs)

//go:noescape
func q4_1MTileVNNI(a *tileArgs)

//go:noescape
func q4KMTileVNNI(a *tileArgs)

//go:noescape
func q8_0PTileVNNI(a *tileArgs)

//go:noescape
func q4_0PTileVNNI(a *tileArgs)

//go:noescape
func q4_1PTileVNNI(a *tileArgs)

// f32Body adds the whole 16-element groups of a·b to acc (DotF32's body).
func f32Body(acc *[16]float32, a, b []float32) {
	if hasAVX2 && len(a) >= 16 {
		dotF32AVX2(acc, &a[0], &b[0], len(a)&^15)
		return
	}
	dotF32Body(acc, a, b)
}

// floatRowAVX2 is the float-row kernel of t (F32, F16, BF16) on AVX2.
func floatRowAVX2(t Type) func(w []byte, x []float32) float32 {
	size := t.TypeSize()
	return func(w []byte, x []float32) float32 {
		var acc [16]float32
		n := len(x) &^ 15
		if n > 0 {
			switch t {
			case F32:
				if f, ok := asFloat32s(w); ok {
					dotF32AVX2(&acc, &f[0], &x[0], n)
				} else {
					return dotF32Row(w, x) // unaligned bytes: decode in Go
				}
			case F16:
				dotF16AVX2(&acc, &w[0], &x[0], n)
			case BF16:
				dotBF16AVX2(&acc, &w[0], &x[0], n)
			}
		}
		for i := n; i < len(x); i++ {
			acc[i-n] += float32(floatAt(t, w[size*i:]) * x[i])
		}
		return reduce16(&acc)
	}
}

// runTile runs the tile kernel of t at a tier.
func runTile(t Type, vnni bool, a *tileArgs) {
	switch t {
	case Q8_0:
		if vnni {
			q8_0TileVNNI(a)
		} else {
			q8_0TileAVX2(a)
		}
	case Q4_0:
		if vnni {
			q4_0TileVNNI(a)
		} else {
			q4_0TileAVX2(a)
		}
	case Q5_0:
		if vnni {
			q5_0TileVNNI(a)
		} else {
			q5_0TileAVX2(a)
		}
	case Q4_1:
		if vnni {
			q4_1TileVNNI(a)
		} else {
			q4_1TileAVX2(a)
		}
	case Q5_1:
		if vnni {
			q5_1TileVNNI(a)
		} else {
			q5_1TileAVX2(a)
		}
	case Q4_K:
		if vnni {
			q4KVTileVNNI(a)
		} else {
			q4KVTileAVX2(a)
		}
	case Q5_K:
		if vnni {
			q5KTileVNNI(a)
		} else {
			q5KTileAVX2(a)
		}
	case Q6_K:
		if vnni {
			q6KTileVNNI(a)
		} else {
			q6KTileAVX2(a)
		}
	case Q2_K:
		if vnni {
			q2KTileVNNI(a)
		} else {
			q2KTileAVX2(a)
		}
	case Q3_K:
		if vnni {
			q3KTileVNNI(a)
		} else {
			q3KTileAVX2(a)
		}
	default:
		panic("tensor: no tile kernel for " + t.String())
	}
}

// block32Asm is the one-row kernel of a 32-element block format: the tile
// kernel on the whole groups of eight blocks, then the tail in Go.
func block32Asm(t Type, vnni bool) func(w []byte, a *qvec) float32 {
	size := t.TypeSize()
	return func(w []byte, a *qvec) float32 {
		var acc [8]float32
		if g := len(a.d) / 8; g > 0 {
			ta := tileArgs{w: &w[0], rows: 1, tokens: 1, qs: &a.qs[0], d: &a.d[0], s: &a.s[0], sum: &a.sum[0],
				blocks: g, accOut: &acc}
			runTile(t, vnni, &ta)
		}
		for b := len(a.d) &^ 7; b < len(a.d); b++ {
			acc[b&7] += blockTerm32(t, w[b*size:(b+1)*size], a, b)
		}
		return reduce8(&acc)
	}
}

// kquantAsm is the one-row kernel of a k-quant: its tile kernel on one
// row and token.
func kquantAsm(t Type, vnni bool) func(w []byte, a *qvec) float32 {
	return func(w []byte, a *qvec) float32 {
		var out float32
		if len(a.d) == 0 {
			return 0
		}
		ta := tileArgs{w: &w[0], rows: 1, tokens: 1, qs: &a.qs[0], d: &a.d[0], bsum: &a.bs16[0],
			dst: &out, blocks: len(a.d)}
		runTile(t, vnni, &ta)
		return out
	}
}

// tile32 is the tile entry of a 32-element block format: whole rows whose
// block count is a multiple of eight.
func tile32(t Type, vnni bool) func(a *tileArgs) { return func(a *tileArgs) { runTile(t, vnni, a) } }

// asmKernels returns the assembly kernel set (AVX2, with VNNI if vnni).
func asmKernels(vnni bool) map[Type]*kernel {
	ks := make(map[Type]*kernel, len(portableKernels))
	for t, k := range portableKernels {
		ks[t] = k
	}
	for _, t := range []Type{F32, F16, BF16} {
		ks[t] = &kernel{act: actF32, fdot: floatRowAVX2(t)}
	}
	for _, t := range []Type{Q8_0, Q4_0, Q5_0, Q4_1, Q5_1} {
		ks[t] = &kernel{act: portableKernels[t].act, qdot: block32Asm(t, vnni), tile: tile32(t, vnni), tileGroup: 8}
	}
	if vnni {
		ks[Q8_0].mtile = q8_0MTileVNNI
		ks[Q4_0].mtile = q4_0MTileVNNI
		ks[Q4_1].mtile = q4_1MTileVNNI
		// For one token the transposed Q4 kernels still win (the nibbles
		// are unpacked four blocks at a time); Q8_0's does not.
		ks[Q4_0].mtileOne = true
		ks[Q4_1].mtileOne = true
		// From eight tokens on, the packed eight-token kernels.
		ks[Q8_0].ptile, ks[Q8_0].ptileMin = q8_0PTileVNNI, 8
		ks[Q4_0].ptile, ks[Q4_0].ptileMin = q4_0PTileVNNI, 8
		ks[Q4_1].ptile, ks[Q4_1].ptileMin = q4_1PTileVNNI, 8
	}
	for _, t := range []Type{Q2_K, Q3_K, Q4_K, Q5_K, Q6_K} {
		ks[t] = &kernel{act: actQ8K, qdot: kquantAsm(t, vnni), tile: tile32(t, vnni), tileGroup: 1}
	}
	if vnni {
		ks[Q4_K].ptile, ks[Q4_K].ptileMin = q4KMTileVNNI, 2
	}
	return ks
}

// KernelSet names the kernels this machine runs: "amd64-vnni" (AVX2 with
// AVX512-VNNI dot products), "amd64-avx2" or "portable".
func KernelSet() string {
	switch {
	case hasVNNI:
		return "amd64-vnni"
	case hasAVX2:
		return "amd64-avx2"
	}
	return "portable"
}

func selectKernels() map[Type]*kernel {
	if !hasAVX2 {
		return portableKernels
	}
	return asmKernels(hasVNNI)
}

// kernelTiers lists every kernel set this machine can run, fastest last.
func kernelTiers() []kernelTier {
	tiers := []kernelTier{{"go", portableKernels}}
	if hasAVX2 {
		tiers = append(tiers, kernelTier{"avx2", asmKernels(false)})
	}
	if hasVNNI {
		tiers = append(tiers, kernelTier{"vnni", asmKernels(true)})
	}
	return tiers
}

//go:noescape
func dotRowsAVX2(dst, x, rows *float32, n, count, stride int)

//go:noescape
func addScaledAVX2(dst *float32, a float32, x *float32, n int)

// dotRowsFast runs DotF32Rows in assembly when len(x) is a whole number of
// 16-float groups (the canonical lanes need no tail).
func dotRowsFast(dst, x, rows []float32, stride int) bool {
	if !hasAVX2 || len(x) == 0 || len(x)%16 != 0 {
		return false
	}
	dotRowsAVX2(&dst[0], &x[0], &rows[0], len(x), len(dst), stride)
	return true
}

// addScaledFast does the whole groups of eight of AddScaledF32 and returns
// how many elements it did.
func addScaledFast(dst []float32, a float32, x []float32) int {
	n := len(dst) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	addScaledAVX2(&dst[0], a, &x[0], n)
	return n
}

//go:noescape
func addRowsAVX2(dst, w, rows *float32, n, count, stride int)

// addRowsFast does the whole groups of eight elements of AddScaledRows and
// returns how many elements it did.
func addRowsFast(dst, w, rows []float32, stride int) int {
	n := len(dst) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	addRowsAVX2(&dst[0], &w[0], &rows[0], n, len(w), stride)
	return n
}

//go:noescape
func quantQ8AVX2(x *float32, qs *int8, d, s *float32, sum *int32, nb int) int

// quantQ8Fast quantises the leading blocks of x (Q8_0/Q8_1) in assembly and
// returns how many it did; it stops at a block with a non-finite element.
func quantQ8Fast(v *qvec, x []float32) int {
	if !hasAVX2 || len(v.d) == 0 {
		return 0
	}
	return quantQ8AVX2(&x[0], &v.qs[0], &v.d[0], &v.s[0], &v.sum[0], len(v.d))
}

//go:noescape
func quantQ8KAVX2(x *float32, qs *int8, d *float32, bsum *int32, bs16 *int16, nb int) int

// quantQ8KFast quantises the leading super-blocks of x (Q8_K) in assembly
// and returns how many it did; it stops at a super-block it leaves to Go.
func quantQ8KFast(v *qvec, x []float32) int {
	if !hasAVX2 || len(v.d) == 0 {
		return 0
	}
	return quantQ8KAVX2(&x[0], &v.qs[0], &v.d[0], &v.bsum[0], &v.bs16[0], len(v.d))
}

//go:noescape
func swigluAVX2(gs, u *float32, n int) int

// swigluFast runs SwiGLU in assembly from the start of g and returns how
// many elements it did (whole groups of four, up to the first it leaves
// to Go).
func swigluFast(g, u []float32) int {
	if !hasAVX2 || len(g) < 4 {
		return 0
	}
	return swigluAVX2(&g[0], &u[0], len(g))
}

//go:noescape
func expAVX2(x *float64, n int) int

// expFast sets x[i] = Exp(x[i]) in assembly from the start of x and returns
// how many it did.
func expFast(x []float64) int {
	if !hasAVX2 || len(x) < 4 {
		return 0
	}
	return expAVX2(&x[0], len(x))
}
