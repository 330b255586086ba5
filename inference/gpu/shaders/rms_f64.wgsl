var<workgroup> red: array<f64, 256>;

fn rms_scale(xi: u32, lid: u32) -> f32 {
    var s = f64(0.0);
    for (var j = lid; j < p.dim; j += WG) {
        let v = x[xi + j];
        s += f64(v * v);
    }
    red[lid] = s;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red[lid] += red[lid + k];
        }
        workgroupBarrier();
    }
    let mean = f32(red[0] / f64(p.dim));
    return 1.0 / f32(sqrt(f64(mean + p.eps)));
}
