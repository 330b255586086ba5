// F16 weights read as f16 (shader-f16): row_off is in bytes, w in halves.
fn deq(row_off: u32, e: u32) -> f32 {
    return f32(w[row_off / 2u + e]);
}
