// Q2_K (84 bytes per 256): scales[16] | qs[64] | d f16 | dmin f16
//   x = d·(sc&15)·q - dmin·(sc>>4); element e = 128c + 32j + l has its two
//   bits at bit 2j of qs[32c + l]; scale byte scales[e/16].

fn deq(row_off: u32, e: u32) -> f32 {
    let b = row_off + (e / 256u) * 84u;
    let l = e % 256u;
    let sc = w_u8(b + l / 16u);
    let q = (w_u8(b + 16u + 32u * (l / 128u) + l % 32u) >> (2u * ((l % 128u) / 32u))) & 3u;
    return w_f16(b + 80u) * f32(sc & 15u) * f32(q) - w_f16(b + 82u) * f32(sc >> 4u);
}

//--- dot

fn load_unit(row_off: u32, u: u32) -> Unit {
    var un: Unit;
    let sub = u & 7u;
    let b = row_off + (u >> 3u) * 84u;
    let qo = b + 16u + 32u * (sub >> 2u);
    let sh = 2u * (sub & 3u);
    for (var k = 0u; k < 8u; k++) {
        un.q[k] = (w_u32(qo + 4u * k) >> sh) & 0x03030303u;
    }
    let s0 = w_u8(b + 2u * sub);
    let s1 = w_u8(b + 2u * sub + 1u);
    un.sc0 = i32(s0 & 15u);
    un.sc1 = i32(s1 & 15u);
    un.m0 = i32(s0 >> 4u);
    un.m1 = i32(s1 >> 4u);
    un.d = w_f16(b + 80u);
    un.m = w_f16(b + 82u);
    return un;
}

fn unit_sums(un: Unit, t: u32, u: u32) -> vec2<i32> {
    let isum = un.sc0 * dot16(un, t, u, 0u) + un.sc1 * dot16(un, t, u, 1u);
    return vec2<i32>(isum, un.m0 * xbs(t, 2u * u) + un.m1 * xbs(t, 2u * u + 1u));
}
