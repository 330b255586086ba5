// Causal grouped-query attention over the KV cache: one 64-wide workgroup
// per (head, token). Keys are scored 64 at a time (one per thread) and
// folded into a running softmax (max, sum, weighted values), so any context
// length needs only fixed workgroup memory. Each thread owns output
// dimensions lid, lid+64, … (head_dim ≤ 256).

struct Params {
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    q_stride: u32,  // query elements per token
    kv_stride: u32, // cache elements per position
    out_stride: u32,
    scale: f32,     // 1/sqrt(head_dim)
    _a: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kc: array<f32>;
@group(0) @binding(2) var<storage, read> vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
@group(0) @binding(5) var<uniform> st: Step;

const WG: u32 = 64u;
const NEG: f32 = -3.0e38;

var<workgroup> qv: array<f32, 256>;
var<workgroup> sc: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let h = wid.x;
    let t = wid.y;
    let hd = p.head_dim;
    let kv = (h / (p.heads / p.kv_heads)) * hd;
    let ctx = st.pos + t + 1u;
    for (var d = lid; d < hd; d += WG) {
        qv[d] = q[t * p.q_stride + h * hd + d];
    }
    workgroupBarrier();
    var m = NEG;
    var l = 0.0;
    var acc: array<f32, 4>;
    for (var j0 = 0u; j0 < ctx; j0 += WG) {
        let j = j0 + lid;
        let cnt = min(WG, ctx - j0);
        var sv = NEG;
        if (j < ctx) {
            var dot = 0.0;
            let kr = j * p.kv_stride + kv;
            for (var d = 0u; d < hd; d++) {
                dot += qv[d] * kc[kr + d];
            }
            sv = dot * p.scale;
        }
        sc[lid] = sv;
        workgroupBarrier();
        var mt = NEG;
        for (var i = 0u; i < cnt; i++) {
            mt = max(mt, sc[i]);
        }
        let mn = max(m, mt);
        let corr = exp(m - mn);
        workgroupBarrier();
        sc[lid] = select(0.0, exp(sv - mn), j < ctx);
        workgroupBarrier();
        var ps = 0.0;
        for (var i = 0u; i < cnt; i++) {
            ps += sc[i];
        }
        l = l * corr + ps;
        for (var r = 0u; r < 4u; r++) {
            let d = lid + r * WG;
            if (d < hd) {
                var a = acc[r] * corr;
                for (var i = 0u; i < cnt; i++) {
                    a += sc[i] * vc[(j0 + i) * p.kv_stride + kv + d];
                }
                acc[r] = a;
            }
        }
        m = mn;
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r++) {
        let d = lid + r * WG;
        if (d < hd) {
            o[t * p.out_stride + h * hd + d] = acc[r] / l;
        }
    }
}
