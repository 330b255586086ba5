// Quantised activations in xq, laid out per token t (strides in words):
//   qs:   packed int8, four per word, unit u's words at x_off + t*x_stride + 8u
//   d:    per block scale (f32 bits) at d_off + t*d_stride + block
//         (block = 32-element unit for Q8_0/Q8_1, 256-element super-block for Q8_K)
//   s:    Q8_1 f16(d*Σq) at s_off + t*d_stride + unit
//   sum:  Q8_0 Σq (i32) at sum_off + t*d_stride + unit
//   bsum: Q8_K Σq per 16 elements at g_off + t*g_stride + group

// Unit is 32 consecutive weights of a row, decoded to unsigned levels
// packed as bytes (q), with the scales they need.
struct Unit {
    q: array<u32, 8>,
    d: f32,
    m: f32,
    sc0: i32,
    sc1: i32,
    m0: i32,
    m1: i32,
}

fn xw(t: u32, u: u32, k: u32) -> u32 {
    return xq[p.x_off + t * p.x_stride + u * 8u + k];
}

fn xd(t: u32, b: u32) -> f32 {
    return bitcast<f32>(xq[p.d_off + t * p.d_stride + b]);
}

fn xs(t: u32, u: u32) -> f32 {
    return bitcast<f32>(xq[p.s_off + t * p.d_stride + u]);
}

fn xsum(t: u32, u: u32) -> i32 {
    return bitcast<i32>(xq[p.sum_off + t * p.d_stride + u]);
}

fn xbs(t: u32, g: u32) -> i32 {
    return bitcast<i32>(xq[p.g_off + t * p.g_stride + g]);
}

// dot8 is Σ over the unit's 32 elements of level × activation quant.
fn dot8(un: Unit, t: u32, u: u32) -> i32 {
    var s = 0i;
    for (var k = 0u; k < 8u; k++) {
        s += dot4(un.q[k], xw(t, u, k));
    }
    return s;
}

// dot4x4 is the same over the unit's first (h = 0) or second 16 elements.
fn dot16(un: Unit, t: u32, u: u32, h: u32) -> i32 {
    var s = 0i;
    for (var k = 4u * h; k < 4u * h + 4u; k++) {
        s += dot4(un.q[k], xw(t, u, k));
    }
    return s;
}

// The canonical block terms of the CPU kernels (inference/tensor dot_q.go,
// dot_k.go): integer sums are exact, float products rounded as there. For
// the k-quants without mins (Q3_K, Q6_K) msum and dmin are 0, and termk
// equals the CPU's term0 exactly.
fn term0(s: i32, dw: f32, dx: f32) -> f32 {
    return f32(s) * (dw * dx);
}

fn term1(s: i32, dw: f32, dx: f32, mw: f32, sx: f32) -> f32 {
    return f32(s) * (dw * dx) + mw * sx;
}

fn termk(isum: i32, msum: i32, d: f32, dmin: f32, dx: f32) -> f32 {
    return f32(isum) * (d * dx) - f32(msum) * (dmin * dx);
}
