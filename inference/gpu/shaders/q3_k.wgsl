// Q3_K (110 bytes per 256): hmask[32] | qs[64] | scales[12] | d f16
//   x = d·(s-32)·(q-4); q's two low bits as in Q2_K, its third bit is bit
//   e/32 of hmask[e%32]; 6-bit scales: low nibbles in bytes 0-7, high two
//   bits in bytes 8-11.

fn q3_scale(s: u32, j: u32) -> i32 {
    var lo: u32;
    if (j < 8u) {
        lo = w_u8(s + j) & 15u;
    } else {
        lo = w_u8(s + j - 8u) >> 4u;
    }
    let hi = (w_u8(s + 8u + j % 4u) >> (2u * (j / 4u))) & 3u;
    return i32(lo | (hi << 4u)) - 32;
}

fn deq(row_off: u32, e: u32) -> f32 {
    let b = row_off + (e / 256u) * 110u;
    let l = e % 256u;
    var q = i32((w_u8(b + 32u + 32u * (l / 128u) + l % 32u) >> (2u * ((l % 128u) / 32u))) & 3u);
    if (((w_u8(b + l % 32u) >> (l / 32u)) & 1u) == 0u) {
        q -= 4;
    }
    return w_f16(b + 108u) * f32(q3_scale(b + 96u, l / 16u)) * f32(q);
}

//--- dot

fn load_unit(row_off: u32, u: u32) -> Unit {
    var un: Unit;
    let sub = u & 7u;
    let b = row_off + (u >> 3u) * 110u;
    let qo = b + 32u + 32u * (sub >> 2u);
    let sh = 2u * (sub & 3u);
    for (var k = 0u; k < 8u; k++) {
        let hi = ((w_u32(b + 4u * k) >> sub) & 0x01010101u) << 2u;
        un.q[k] = ((w_u32(qo + 4u * k) >> sh) & 0x03030303u) | hi;
    }
    un.sc0 = q3_scale(b + 96u, 2u * sub);
    un.sc1 = q3_scale(b + 96u, 2u * sub + 1u);
    un.d = w_f16(b + 108u);
    return un;
}

fn unit_sums(un: Unit, t: u32, u: u32) -> vec2<i32> {
    let s0 = dot16(un, t, u, 0u) - 4i * xbs(t, 2u * u);
    let s1 = dot16(un, t, u, 1u) - 4i * xbs(t, 2u * u + 1u);
    return vec2<i32>(un.sc0 * s0 + un.sc1 * s1, 0i);
}
