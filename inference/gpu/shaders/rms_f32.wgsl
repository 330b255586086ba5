var<workgroup> red: array<vec2<f32>, 256>;

// two_sum returns s = a + b rounded and the exact error of that rounding.
fn two_sum(a: f32, b: f32) -> vec2<f32> {
    let s = a + b;
    let bb = s - a;
    return vec2<f32>(s, (a - (s - bb)) + (b - bb));
}

// add2 adds two (sum, error) pairs.
fn add2(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let s = two_sum(a.x, b.x);
    return two_sum(s.x, s.y + a.y + b.y);
}

fn rms_scale(xi: u32, lid: u32) -> f32 {
    var s = vec2<f32>(0.0, 0.0);
    for (var j = lid; j < p.dim; j += WG) {
        let v = x[xi + j];
        s = add2(s, vec2<f32>(v * v, 0.0));
    }
    red[lid] = s;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red[lid] = add2(red[lid], red[lid + k]);
        }
        workgroupBarrier();
    }
    // mean = (hi + lo)/dim rounded once: divide hi, then correct with the
    // remainder (exact for power-of-two dims, within an ulp otherwise).
    let d = f32(p.dim);
    let q = red[0].x / d;
    let rem = (red[0].x - q * d) + red[0].y;
    let mean = q + rem / d;
    return 1.0 / sqrt(mean + p.eps);
}
