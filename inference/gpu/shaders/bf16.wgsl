fn deq(row_off: u32, e: u32) -> f32 {
    return bitcast<f32>(w_u16(row_off + 2u * e) << 16u);
}
