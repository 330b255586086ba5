// Quantise f32 activations to Q8_K (inference/tensor act.go): per 256
// elements, with maxv the element of largest magnitude (first on ties),
// iscale = -127/maxv, q = min(127, round_even(iscale·x)), d = 1/iscale, and
// Σq per 16 elements. One 16-wide workgroup per super-block, a group of 16
// elements per thread.

struct Params {
    blocks: u32,    // super-blocks per token
    in_off: u32,
    in_stride: u32,
    x_stride: u32,  // qs words per token
    d_off: u32,
    d_stride: u32,
    g_off: u32,
    g_stride: u32,
    n_fixed: u32,
    _a: u32,
    _b: u32,
    _c: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> xq: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> st: Step;

var<workgroup> am: array<f32, 16>;
var<workgroup> mv: array<f32, 16>;

@compute @workgroup_size(16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) g: u32) {
    let b = wid.x;
    let t = wid.y;
    var n = st.n;
    if (p.n_fixed != 0u) {
        n = p.n_fixed;
    }
    let live = b < p.blocks && t < n;
    let xi = p.in_off + t * p.in_stride + 256u * b + 16u * g;
    var amax = 0.0;
    var maxv = 0.0;
    if (live) {
        for (var j = 0u; j < 16u; j++) {
            let v = x[xi + j];
            if (abs(v) > amax) {
                amax = abs(v);
                maxv = v;
            }
        }
    }
    am[g] = amax;
    mv[g] = maxv;
    workgroupBarrier();
    if (!live) {
        return;
    }
    amax = 0.0;
    maxv = 0.0;
    for (var k = 0u; k < 16u; k++) {
        if (am[k] > amax) {
            amax = am[k];
            maxv = mv[k];
        }
    }
    let qo = t * p.x_stride + 64u * b + 4u * g;
    if (amax == 0.0) {
        for (var k = 0u; k < 4u; k++) {
            xq[qo + k] = 0u;
        }
        xq[p.g_off + t * p.g_stride + 16u * b + g] = 0u;
        if (g == 0u) {
            xq[p.d_off + t * p.d_stride + b] = 0u;
        }
        return;
    }
    let iscale = -127.0 / maxv;
    var sum = 0i;
    for (var k = 0u; k < 4u; k++) {
        var word = 0u;
        for (var j = 0u; j < 4u; j++) {
            let q = min(127i, i32(round(iscale * x[xi + 4u * k + j])));
            sum += q;
            word |= (bitcast<u32>(q) & 0xffu) << (8u * j);
        }
        xq[qo + k] = word;
    }
    xq[p.g_off + t * p.g_stride + 16u * b + g] = bitcast<u32>(sum);
    if (g == 0u) {
        xq[p.d_off + t * p.d_stride + b] = bitcast<u32>(1.0 / iscale);
    }
}
