// Q4_0 (18 bytes): d f16 | qs[16]    x = d·(q-8); element j<16 is the low
// nibble of qs[j], element j+16 the high one.
fn deq(row_off: u32, e: u32) -> f32 {
    let b = row_off + (e / 32u) * 18u;
    let j = e % 32u;
    let q = (w_u8(b + 2u + (j & 15u)) >> (4u * (j >> 4u))) & 15u;
    return f32(i32(q) - 8) * w_f16(b);
}

//--- dot

fn load_unit(row_off: u32, u: u32) -> Unit {
    var un: Unit;
    let b = row_off + u * 18u;
    un.d = w_f16(b);
    for (var k = 0u; k < 4u; k++) {
        let q = w_u32(b + 2u + 4u * k);
        un.q[k] = q & 0x0f0f0f0fu;
        un.q[k + 4u] = (q >> 4u) & 0x0f0f0f0fu;
    }
    return un;
}

fn unit_dot(un: Unit, t: u32, u: u32) -> f32 {
    return term0(dot8(un, t, u) - 8i * xsum(t, u), un.d, xd(t, u));
}
