// Q5_K (176 bytes per 256): d f16 | dmin f16 | scales[12] | qh[32] | qs[128]
//   as Q4_K, plus a fifth bit: bit e/32 of qh[e%32].

fn scale_min_k4(s: u32, j: u32) -> vec2<i32> {
    if (j < 4u) {
        return vec2<i32>(i32(w_u8(s + j) & 63u), i32(w_u8(s + j + 4u) & 63u));
    }
    let a = w_u8(s + j + 4u);
    return vec2<i32>(i32((a & 15u) | ((w_u8(s + j - 4u) >> 6u) << 4u)), i32((a >> 4u) | ((w_u8(s + j) >> 6u) << 4u)));
}

fn deq(row_off: u32, e: u32) -> f32 {
    let b = row_off + (e / 256u) * 176u;
    let l = e % 256u;
    let sm = scale_min_k4(b + 4u, l / 32u);
    let lo = (w_u8(b + 48u + 32u * (l / 64u) + l % 32u) >> (4u * ((l % 64u) / 32u))) & 15u;
    let q = lo | (((w_u8(b + 16u + l % 32u) >> (l / 32u)) & 1u) << 4u);
    return w_f16(b) * f32(sm.x) * f32(q) - w_f16(b + 2u) * f32(sm.y);
}

//--- dot

fn load_unit(row_off: u32, u: u32) -> Unit {
    var un: Unit;
    let sub = u & 7u;
    let b = row_off + (u >> 3u) * 176u;
    un.d = w_f16(b);
    un.m = w_f16(b + 2u);
    let sm = scale_min_k4(b + 4u, sub);
    un.sc0 = sm.x;
    un.m0 = sm.y;
    let qo = b + 48u + 32u * (sub >> 1u);
    let sh = 4u * (sub & 1u);
    for (var k = 0u; k < 8u; k++) {
        let hi = ((w_u32(b + 16u + 4u * k) >> sub) & 0x01010101u) << 4u;
        un.q[k] = ((w_u32(qo + 4u * k) >> sh) & 0x0f0f0f0fu) | hi;
    }
    return un;
}

fn unit_sums(un: Unit, t: u32, u: u32) -> vec2<i32> {
    return vec2<i32>(un.sc0 * dot8(un, t, u), un.m0 * (xbs(t, 2u * u) + xbs(t, 2u * u + 1u)));
}
