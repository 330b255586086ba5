// dot4 is the exact integer dot product of two words of four signed bytes.
fn dot4(a: u32, b: u32) -> i32 {
    return sx8(a, 0u) * sx8(b, 0u) + sx8(a, 1u) * sx8(b, 1u) + sx8(a, 2u) * sx8(b, 2u) + sx8(a, 3u) * sx8(b, 3u);
}
