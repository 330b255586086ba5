// y[t][out_row0 + r] (+)= Σ_j W[r][j]·x[t][j] for the rows r of one weight
// buffer and T tokens per workgroup. A workgroup takes RPW rows with TPR
// threads a row, and those threads are exactly the lanes of the CPU's
// canonical reduction order (inference/tensor dot_f32.go, dot_q.go,
// dot_k.go): float formats have 16 lanes, lane i%16 summing element i in
// ascending order; block formats 8 lanes, lane b%8 summing the float terms
// of blocks (super-blocks for the k-quants) b in order. The lanes are then
// folded pairwise by halves, as reduce16/reduce8 do. With the same
// quantised activations the result is the CPU's, bit for bit, unless the
// driver fuses a multiply into an add.

struct Params {
    rows: u32,       // rows in this weight buffer
    cols: u32,       // elements per row
    row_bytes: u32,
    out_row0: u32,   // output row of this buffer's row 0
    out_stride: u32, // output elements per token
    out_off: u32,    // output element of token 0
    accumulate: u32, // 1: add into y (residual connections)
    n_fixed: u32,    // tokens when nonzero, else the step's n
    x_off: u32,      // f32 x: element of token 0; quantised: qs word of token 0
    x_stride: u32,   // f32 x: elements per token; quantised: qs words per token
    d_off: u32,
    d_stride: u32,
    s_off: u32,
    sum_off: u32,
    g_off: u32,
    g_stride: u32,
}

@group(0) @binding(0) var<storage, read> w: array<{{WTYPE}}>;
@group(0) @binding(1) var<storage, read> {{XDECL}};
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<uniform> st: Step;

const T: u32 = {{T}}u;
const RPW: u32 = {{RPW}}u;
const TPR: u32 = {{TPR}}u;
const WG: u32 = RPW * TPR;

var<workgroup> red: array<f32, {{WGT}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let lane = lid % TPR;
    let row = (wid.x + wid.y * nwg.x) * RPW + lid / TPR;
    let t0 = wid.z * T;
    var n = st.n;
    if (p.n_fixed != 0u) {
        n = p.n_fixed;
    }
    var acc: array<f32, T>;
    if (row < p.rows) {
        let row_off = row * p.row_bytes;
        {{BODY}}
    }
    for (var t = 0u; t < T; t++) {
        red[t * WG + lid] = acc[t];
    }
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            for (var t = 0u; t < T; t++) {
                red[t * WG + lid] += red[t * WG + lid + s];
            }
        }
        workgroupBarrier();
    }
    if (lane == 0u && row < p.rows) {
        for (var t = 0u; t < T; t++) {
            if (t0 + t < n) {
                let i = p.out_off + (t0 + t) * p.out_stride + p.out_row0 + row;
                var v = red[t * WG + lid];
                if (p.accumulate != 0u) {
                    v += y[i];
                }
                y[i] = v;
            }
        }
    }
}
