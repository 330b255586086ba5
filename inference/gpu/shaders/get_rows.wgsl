// x[t][e] = dequantised row ids[t] of W, for the ids that fall in this
// weight buffer (rows row0 … row0+rows-1). Embedding lookup.

struct Params {
    rows: u32,
    cols: u32,
    row_bytes: u32,
    row0: u32,
    out_stride: u32,
    _a: u32,
    _b: u32,
    _c: u32,
}

@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> st: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = gid.x;
    let t = gid.y;
    if (e >= p.cols || t >= st.n) {
        return;
    }
    let id = ids[t];
    if (id < p.row0 || id >= p.row0 + p.rows) {
        return;
    }
    x[t * p.out_stride + e] = deq((id - p.row0) * p.row_bytes, e);
}
