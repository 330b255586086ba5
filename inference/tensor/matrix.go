package tensor

import (
	"errors"
	"fmt"
	"math"
)

// ErrShape reports matrix dimensions that are not positive or that overflow.
var ErrShape = errors.New("bad matrix shape")

// Matrix is a 2-D weight in GGUF layout: Rows rows of Cols elements
// (Cols = GGUF ne0), each row RowSize(Cols) bytes, rows back to back.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte
}

// NewMatrix wraps data as a rows×cols matrix of type t. It checks that t has
// a dot kernel, that cols is a whole number of t's blocks and that data
// holds exactly rows such rows.
func NewMatrix(t Type, rows, cols int, data []byte) (Matrix, error) {
	if _, ok := kernels[t]; !ok {
		return Matrix{}, fmt.Errorf("new matrix: %w", unsupported(t))
	}
	if rows <= 0 || cols <= 0 {
		return Matrix{}, fmt.Errorf("new matrix %d×%d: %w", rows, cols, ErrShape)
	}
	rs, err := t.RowSize(int64(cols))
	if err != nil {
		return Matrix{}, fmt.Errorf("new matrix: %w", err)
	}
	if int64(rows) > math.MaxInt/rs {
		return Matrix{}, fmt.Errorf("new matrix %d×%d: %w", rows, cols, ErrShape)
	}
	if want := int64(rows) * rs; int64(len(data)) != want {
		return Matrix{}, fmt.Errorf("new %s matrix %d×%d: %d bytes, want %d: %w", t, rows, cols, len(data), want, ErrLength)
	}
	return Matrix{Type: t, Rows: rows, Cols: cols, Data: data[:len(data):len(data)]}, nil
}

// RowBytes is the size of one row in bytes.
func (m Matrix) RowBytes() int { return m.Cols / m.Type.BlockSize() * m.Type.TypeSize() }

// Row returns the bytes of row i (aliasing Data). It panics if i is out of
// range.
func (m Matrix) Row(i int) []byte {
	rb := m.RowBytes()
	return m.Data[i*rb : (i+1)*rb : (i+1)*rb]
}

// kernel is the dot product of one weight row with one token's activation.
type kernel struct {
	act  actFormat
	fdot func(w []byte, x []float32) float32 // act == actF32
	qdot func(w []byte, a *qvec) float32     // quantised activations
	swar bool                                // qdot reads the SWAR words qvec.yw
	// tile, if set, runs many rows × tokens in one call (simd_amd64.go)
	// on rows whose block count is a multiple of tileGroup.
	tile      func(a *tileArgs)
	tileGroup int
	// mtile, if set, is a tile kernel for two or more tokens (for one too
	// if mtileOne) that reads the activations transposed (tileArgs.qt).
	mtile    func(a *tileArgs)
	mtileOne bool
	// ptile, if set, is a tile kernel for ptileMin or more tokens that
	// reads the activations packed by blocks of eight tokens
	// (tileArgs.qpack or kpack; a partial block is padded).
	ptile    func(a *tileArgs)
	ptileMin int
}

// usesPTile reports whether a call with n tokens runs k's ptile.
func (k *kernel) usesPTile(n int) bool { return k.ptile != nil && n >= k.ptileMin }

// usesMTile reports whether a call with n tokens runs k's mtile.
func (k *kernel) usesMTile(n int) bool {
	return k.mtile != nil && (n > 1 || k.mtileOne) && !k.usesPTile(n)
}

// kernelTier is a complete kernel set: the portable Go kernels, or an
// assembly tier for a CPU feature level (simd_amd64.go).
type kernelTier struct {
	name    string
	kernels map[Type]*kernel
}

// dot computes one output element. a.f is x for float kernels.
func (k *kernel) dot(w []byte, a *qvec) float32 {
	if k.act == actF32 {
		return k.fdot(w, a.f)
	}
	return k.qdot(w, a)
}

// portableKernels are the plain-Go fast kernels of every type a Matrix may
// have (dot_f32.go, dot_swar.go): the kernels of every platform.
var portableKernels = map[Type]*kernel{
	F32:  {act: actF32, fdot: dotF32Row},
	F16:  {act: actF32, fdot: dotF16},
	BF16: {act: actF32, fdot: dotBF16},
	Q4_0: {act: actQ8_0, qdot: dotQ4_0, swar: true},
	Q5_0: {act: actQ8_0, qdot: dotQ5_0, swar: true},
	Q8_0: {act: actQ8_0, qdot: dotQ8_0, swar: true},
	Q4_1: {act: actQ8_1, qdot: dotQ4_1, swar: true},
	Q5_1: {act: actQ8_1, qdot: dotQ5_1, swar: true},
	Q2_K: {act: actQ8K, qdot: dotQ2K, swar: true},
	Q3_K: {act: actQ8K, qdot: dotQ3K, swar: true},
	Q4_K: {act: actQ8K, qdot: dotQ4K, swar: true},
	Q5_K: {act: actQ8K, qdot: dotQ5K, swar: true},
	Q6_K: {act: actQ8K, qdot: dotQ6K, swar: true},
	Q8_K: {act: actQ8K, qdot: dotQ8K},
}

// kernels holds the kernel each type runs on this machine: the fastest
// tier its CPU supports.
var kernels = selectKernels()

// refDot is the reference kernel of type t (see dot_f32.go, dot_q.go,
// dot_k.go); the fast kernels must match it bit for bit.
func refDot(t Type, w []byte, a *qvec) float32 {
	switch kernels[t].act {
	case actF32:
		return dotFloatRef(t, w, a.f)
	case actQ8K:
		return dotKRef(t, w, a)
	}
	return dot32Ref(t, w, a)
}

// quantizeAct returns x in the activation form t's kernel reads, in fresh
// memory.
func quantizeAct(t Type, x []float32) (qvec, error) {
	k, ok := kernels[t]
	if !ok {
		return qvec{}, unsupported(t)
	}
	if k.act == actF32 {
		return qvec{f: x}, nil
	}
	if len(x)%k.act.blockLen() != 0 {
		return qvec{}, fmt.Errorf("%s activation of %d elements: %w", t, len(x), ErrShape)
	}
	var b qbuf
	b.reset(k.act, 1, len(x))
	v := b.token(0)
	v.quantize(k.act, x, true)
	return v, nil
}

// DotRow returns the dot product of one weight row of type t with x, exactly
// as MatVec computes each output element (x is quantised to t's vec dot
// type first). It allocates; use a Pool for matrices.
func DotRow(t Type, row []byte, x []float32) (float32, error) {
	if _, ok := kernels[t]; !ok {
		return 0, fmt.Errorf("dot row: %w", unsupported(t))
	}
	if err := checkRow(t, len(x), len(row)); err != nil {
		return 0, fmt.Errorf("dot row: %w", err)
	}
	a, err := quantizeAct(t, x)
	if err != nil {
		return 0, fmt.Errorf("dot row: %w", err)
	}
	return kernels[t].dot(row, &a), nil
}
