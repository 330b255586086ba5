fn deq(row_off: u32, e: u32) -> f32 {
    return w_f16(row_off + 2u * e);
}
