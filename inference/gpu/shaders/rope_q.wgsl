// Rotates the queries in place: one invocation per (pair, head) and token.

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read> cs: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<uniform> st: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let half = p.dims / 2u;
    let h = gid.x / half;
    let j = gid.x % half;
    let t = gid.y;
    if (h >= p.heads || t >= st.n) {
        return;
    }
    let ab = pair_index(j);
    let base = t * p.stride + h * p.head_dim;
    let c = cs[t * p.dims + 2u * j];
    let s = cs[t * p.dims + 2u * j + 1u];
    let x0 = q[base + ab.x];
    let x1 = q[base + ab.y];
    q[base + ab.x] = x0 * c - x1 * s;
    q[base + ab.y] = x0 * s + x1 * c;
}
