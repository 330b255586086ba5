// Q4_K (144 bytes per 256): d f16 | dmin f16 | scales[12] | qs[128]
//   x = d·sc·q - dmin·m, one 6-bit (sc, m) pair per 32 elements.
//   Element e's nibble: qs[32·(e/64) + e%32], high nibble when e%64 ≥ 32.

fn scale_min_k4(s: u32, j: u32) -> vec2<i32> {
    if (j < 4u) {
        return vec2<i32>(i32(w_u8(s + j) & 63u), i32(w_u8(s + j + 4u) & 63u));
    }
    let a = w_u8(s + j + 4u);
    return vec2<i32>(i32((a & 15u) | ((w_u8(s + j - 4u) >> 6u) << 4u)), i32((a >> 4u) | ((w_u8(s + j) >> 6u) << 4u)));
}

fn deq(row_off: u32, e: u32) -> f32 {
    let b = row_off + (e / 256u) * 144u;
    let l = e % 256u;
    let sm = scale_min_k4(b + 4u, l / 32u);
    let q = (w_u8(b + 16u + 32u * (l / 64u) + l % 32u) >> (4u * ((l % 64u) / 32u))) & 15u;
    return w_f16(b) * f32(sm.x) * f32(q) - w_f16(b + 2u) * f32(sm.y);
}

//--- dot

fn load_unit(row_off: u32, u: u32) -> Unit {
    var un: Unit;
    let sub = u & 7u;
    let b = row_off + (u >> 3u) * 144u;
    un.d = w_f16(b);
    un.m = w_f16(b + 2u);
    let sm = scale_min_k4(b + 4u, sub);
    un.sc0 = sm.x;
    un.m0 = sm.y;
    let qo = b + 16u + 32u * (sub >> 1u);
    let sh = 4u * (sub & 1u);
    for (var k = 0u; k < 8u; k++) {
        un.q[k] = (w_u32(qo + 4u * k) >> sh) & 0x0f0f0f0fu;
    }
    return un;
}

// unit_sums returns sub-block u's share of its super-block's integer sums
// (isum, msum).
fn unit_sums(un: Unit, t: u32, u: u32) -> vec2<i32> {
    return vec2<i32>(un.sc0 * dot8(un, t, u), un.m0 * (xbs(t, 2u * u) + xbs(t, 2u * u + 1u)));
}
