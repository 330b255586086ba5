// Byte-level reads of raw GGUF blocks held in w (array<u32>). Blocks are
// not 4-byte aligned (Q4_0 blocks are 18 bytes), so reads shift across
// words. 16-bit fields always sit at even offsets.

fn w_u8(off: u32) -> u32 {
    return (w[off >> 2u] >> ((off & 3u) << 3u)) & 0xffu;
}

fn w_u16(off: u32) -> u32 {
    return (w[off >> 2u] >> ((off & 2u) << 3u)) & 0xffffu;
}

fn w_u32(off: u32) -> u32 {
    let i = off >> 2u;
    let s = (off & 3u) << 3u;
    if (s == 0u) {
        return w[i];
    }
    return (w[i] >> s) | (w[i + 1u] << (32u - s));
}

fn w_f16(off: u32) -> f32 {
    return unpack2x16float(w_u16(off)).x;
}

fn w_f32(off: u32) -> f32 {
    return bitcast<f32>(w_u32(off));
}

// sx8 sign-extends byte k of v.
fn sx8(v: u32, k: u32) -> i32 {
    return bitcast<i32>(v << (24u - 8u * k)) >> 24u;
}
