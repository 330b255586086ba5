// Q5_0 (22 bytes): d f16 | qh u32 | qs[16]    x = d·(q-16); the fifth bit of
// element j is bit j of qh.
fn deq(row_off: u32, e: u32) -> f32 {
    let b = row_off + (e / 32u) * 22u;
    let j = e % 32u;
    let q = ((w_u8(b + 6u + (j & 15u)) >> (4u * (j >> 4u))) & 15u) | (((w_u32(b + 2u) >> j) & 1u) << 4u);
    return f32(i32(q) - 16) * w_f16(b);
}

//--- dot

// spread moves the low four bits of h to bit 4 of each byte.
fn spread(h: u32) -> u32 {
    return ((h & 1u) | ((h & 2u) << 7u) | ((h & 4u) << 14u) | ((h & 8u) << 21u)) << 4u;
}

fn load_unit(row_off: u32, u: u32) -> Unit {
    var un: Unit;
    let b = row_off + u * 22u;
    un.d = w_f16(b);
    let qh = w_u32(b + 2u);
    for (var k = 0u; k < 4u; k++) {
        let q = w_u32(b + 6u + 4u * k);
        un.q[k] = (q & 0x0f0f0f0fu) | spread(qh >> (4u * k));
        un.q[k + 4u] = ((q >> 4u) & 0x0f0f0f0fu) | spread(qh >> (16u + 4u * k));
    }
    return un;
}

fn unit_dot(un: Unit, t: u32, u: u32) -> f32 {
    return term0(dot8(un, t, u) - 16i * xsum(t, u), un.d, xd(t, u));
}
