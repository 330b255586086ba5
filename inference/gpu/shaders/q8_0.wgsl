// Q8_0 (34 bytes): d f16 | qs int8[32]        x = d·q
fn deq(row_off: u32, e: u32) -> f32 {
    let b = row_off + (e / 32u) * 34u;
    return f32(sx8(w_u8(b + 2u + e % 32u), 0u)) * w_f16(b);
}

//--- dot

fn load_unit(row_off: u32, u: u32) -> Unit {
    var un: Unit;
    let b = row_off + u * 34u;
    un.d = w_f16(b);
    for (var k = 0u; k < 8u; k++) {
        un.q[k] = w_u32(b + 2u + 4u * k);
    }
    return un;
}

fn unit_dot(un: Unit, t: u32, u: u32) -> f32 {
    return term0(dot8(un, t, u), un.d, xd(t, u));
}
