// Quantise f32 activations to Q8_0/Q8_1 (inference/tensor act.go): per 32
// elements d = amax/127, q = round_even(x·(127/amax)); d is stored rounded
// through f16, with Σq and (Q8_1) s = f16(Σq·d). One invocation per block.

struct Params {
    blocks: u32,    // blocks per token
    in_off: u32,
    in_stride: u32,
    x_stride: u32,  // qs words per token
    d_off: u32,
    d_stride: u32,
    s_off: u32,
    sum_off: u32,
    n_fixed: u32,
    _a: u32,
    _b: u32,
    _c: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> xq: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> st: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    let t = gid.y;
    var n = st.n;
    if (p.n_fixed != 0u) {
        n = p.n_fixed;
    }
    if (b >= p.blocks || t >= n) {
        return;
    }
    let xi = p.in_off + t * p.in_stride + 32u * b;
    var amax = 0.0;
    for (var j = 0u; j < 32u; j++) {
        amax = max(amax, abs(x[xi + j]));
    }
    let d = amax / 127.0;
    var id = 0.0;
    if (amax != 0.0) {
        id = 127.0 / amax;
    }
    var sum = 0i;
    for (var k = 0u; k < 8u; k++) {
        var word = 0u;
        for (var j = 0u; j < 4u; j++) {
            let q = i32(round(x[xi + 4u * k + j] * id));
            sum += q;
            word |= (bitcast<u32>(q) & 0xffu) << (8u * j);
        }
        xq[t * p.x_stride + 8u * b + k] = word;
    }
    let o = t * p.d_stride + b;
    xq[p.d_off + o] = bitcast<u32>(round_f16(d));
    xq[p.s_off + o] = bitcast<u32>(round_f16(f32(sum) * d));
    xq[p.sum_off + o] = bitcast<u32>(sum);
}
