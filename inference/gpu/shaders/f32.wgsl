fn deq(row_off: u32, e: u32) -> f32 {
    return w_f32(row_off + 4u * e);
}
