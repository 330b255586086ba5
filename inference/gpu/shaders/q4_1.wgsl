// Q4_1 (20 bytes): d f16 | m f16 | qs[16]    x = d·q + m
fn deq(row_off: u32, e: u32) -> f32 {
    let b = row_off + (e / 32u) * 20u;
    let j = e % 32u;
    let q = (w_u8(b + 4u + (j & 15u)) >> (4u * (j >> 4u))) & 15u;
    return f32(q) * w_f16(b) + w_f16(b + 2u);
}

//--- dot

fn load_unit(row_off: u32, u: u32) -> Unit {
    var un: Unit;
    let b = row_off + u * 20u;
    un.d = w_f16(b);
    un.m = w_f16(b + 2u);
    for (var k = 0u; k < 4u; k++) {
        let q = w_u32(b + 4u + 4u * k);
        un.q[k] = q & 0x0f0f0f0fu;
        un.q[k + 4u] = (q >> 4u) & 0x0f0f0f0fu;
    }
    return un;
}

fn unit_dot(un: Unit, t: u32, u: u32) -> f32 {
    return term1(dot8(un, t, u), un.d, xd(t, u), un.m, xs(t, u));
}
