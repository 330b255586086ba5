// o[t] = x[t] / sqrt(mean(x[t]²) + eps) · nw, one workgroup per token. With
// last_only, only the batch's last token is normalised, into row 0.
//
// The scale must match the CPU's bit for bit: activations are quantised
// right after, and a scale one ulp off moves values that sit on a rounding
// boundary (common after a quantised embedding). The CPU sums the squares
// in float64; so does this kernel where the device has f64 ({{SUM}} = f64),
// else it carries an f32 error term (two-sum) to the same effect.

struct Params {
    dim: u32,
    in_off: u32,
    in_stride: u32,
    out_off: u32,
    out_stride: u32,
    last_only: u32,
    eps: f32,
    _a: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> nw: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> st: Step;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    var t = wid.x;
    var r = wid.x;
    if (p.last_only != 0u) {
        t = st.n - 1u;
        r = 0u;
    }
    let xi = p.in_off + t * p.in_stride;
    let scale = rms_scale(xi, lid);
    let oi = p.out_off + r * p.out_stride;
    for (var j = lid; j < p.dim; j += WG) {
        o[oi + j] = (x[xi + j] * scale) * nw[j];
    }
}
