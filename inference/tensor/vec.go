package tensor

// Float vector helpers for attention. Each output element has the
// arithmetic of the plain loop it replaces (DotF32's canonical order;
// products rounded before they are added), so the assembly versions change
// only the speed.

// DotF32Rows sets dst[j] = DotF32(x, rows[j*stride : j*stride+len(x)]) for
// every j < len(dst): the dot products of x with len(dst) rows spaced
// stride floats apart (attention scores against cached keys). It panics if
// a row would pass the end of rows.
func DotF32Rows(dst, x, rows []float32, stride int) {
	if len(dst) == 0 {
		return
	}
	if stride < len(x) || (len(dst)-1)*stride+len(x) > len(rows) {
		panic("tensor: DotF32Rows rows out of range")
	}
	if dotRowsFast(dst, x, rows, stride) {
		return
	}
	for j := range dst {
		dst[j] = DotF32(x, rows[j*stride:j*stride+len(x)])
	}
}

// AddScaledF32 sets dst[i] += float32(a·x[i]) (the product rounded before
// the sum, no fused multiply-add). It panics if the lengths differ.
func AddScaledF32(dst []float32, a float32, x []float32) {
	if len(dst) != len(x) {
		panic("tensor: AddScaledF32 of vectors with different lengths")
	}
	n := addScaledFast(dst, a, x)
	for i := n; i < len(dst); i++ {
		dst[i] += float32(a * x[i])
	}
}

// AddScaledRows sets dst[i] += float32(w[j]·rows[j*stride+i]) for each row
// j in order (attention's weighted sum of cached values): per element the
// same sums as AddScaledF32 called row by row. It panics if a row would
// pass the end of rows.
func AddScaledRows(dst, w, rows []float32, stride int) {
	if len(w) == 0 {
		return
	}
	if stride < len(dst) || (len(w)-1)*stride+len(dst) > len(rows) {
		panic("tensor: AddScaledRows rows out of range")
	}
	n := addRowsFast(dst, w, rows, stride)
	if n == len(dst) {
		return
	}
	for j, a := range w {
		r := rows[j*stride+n : j*stride+len(dst)]
		for i := range r {
			dst[n+i] += float32(a * r[i])
		}
	}
}
