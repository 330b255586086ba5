// Appends a batch to a layer's KV cache: the keys rotated, the values as
// they are, at rows pos … pos+n-1. One invocation per (pair, KV head) and
// token.

@group(0) @binding(0) var<storage, read> k: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read> cs: array<f32>;
@group(0) @binding(3) var<storage, read_write> kc: array<f32>;
@group(0) @binding(4) var<storage, read_write> vc: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
@group(0) @binding(6) var<uniform> st: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let pairs = p.head_dim / 2u;
    let h = gid.x / pairs;
    let j = gid.x % pairs;
    let t = gid.y;
    if (h >= p.heads || t >= st.n) {
        return;
    }
    let src = t * p.stride + h * p.head_dim;
    let dst = (st.pos + t) * p.out_stride + h * p.head_dim;
    vc[dst + 2u * j] = v[src + 2u * j];
    vc[dst + 2u * j + 1u] = v[src + 2u * j + 1u];
    if (2u * j >= p.dims) {
        kc[dst + 2u * j] = k[src + 2u * j];
        kc[dst + 2u * j + 1u] = k[src + 2u * j + 1u];
        return;
    }
    let ab = pair_index(j);
    let c = cs[t * p.dims + 2u * j];
    let s = cs[t * p.dims + 2u * j + 1u];
    let x0 = k[src + ab.x];
    let x1 = k[src + ab.y];
    kc[dst + ab.x] = x0 * c - x1 * s;
    kc[dst + ab.y] = x0 * s + x1 * c;
}
