// Q6_K (210 bytes per 256): ql[128] | qh[64] | scales int8[16] | d f16
//   x = d·sc·(q-32); element e = 128c + 32k + l has its low nibble in
//   ql[64c + l + 32(k&1)] (high nibble when k ≥ 2) and its top two bits at
//   bit 2k of qh[32c + l]; scale scales[e/16].

fn deq(row_off: u32, e: u32) -> f32 {
    let b = row_off + (e / 256u) * 210u;
    let l = e % 256u;
    let c = l / 128u;
    let k = (l % 128u) / 32u;
    let ll = l % 32u;
    let lo = (w_u8(b + 64u * c + ll + 32u * (k & 1u)) >> (4u * (k >> 1u))) & 15u;
    let hi = (w_u8(b + 128u + 32u * c + ll) >> (2u * k)) & 3u;
    let dl = w_f16(b + 208u) * f32(sx8(w_u8(b + 192u + l / 16u), 0u));
    return dl * f32(i32(lo | (hi << 4u)) - 32);
}

//--- dot

fn load_unit(row_off: u32, u: u32) -> Unit {
    var un: Unit;
    let sub = u & 7u;
    let b = row_off + (u >> 3u) * 210u;
    let c = sub >> 2u;
    let k2 = sub & 3u;
    let lo = b + 64u * c + 32u * (k2 & 1u);
    let ho = b + 128u + 32u * c;
    let sh = 4u * (k2 >> 1u);
    for (var k = 0u; k < 8u; k++) {
        let hi = ((w_u32(ho + 4u * k) >> (2u * k2)) & 0x03030303u) << 4u;
        un.q[k] = ((w_u32(lo + 4u * k) >> sh) & 0x0f0f0f0fu) | hi;
    }
    un.sc0 = sx8(w_u8(b + 192u + 2u * sub), 0u);
    un.sc1 = sx8(w_u8(b + 193u + 2u * sub), 0u);
    un.d = w_f16(b + 208u);
    return un;
}

fn unit_sums(un: Unit, t: u32, u: u32) -> vec2<i32> {
    let s0 = dot16(un, t, u, 0u) - 32i * xbs(t, 2u * u);
    let s1 = dot16(un, t, u, 1u) - 32i * xbs(t, 2u * u + 1u);
    return vec2<i32>(un.sc0 * s0 + un.sc1 * s1, 0i);
}
