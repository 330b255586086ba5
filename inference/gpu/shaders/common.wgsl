// Shared by every kernel: the per-Forward step uniform and helpers.

struct Step {
    n: u32,   // tokens in this batch
    pos: u32, // position of the batch's first token
    _a: u32,
    _b: u32,
}

// flat_id maps a 2-D dispatch of 64-wide workgroups to one index, for
// element-wise kernels whose size can pass 65535 workgroups.
fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

// round_f16 rounds f to the nearest binary16 value (ties to even), as the
// CPU's F32ToF16 does, and returns it as f32. Finite inputs only.
fn round_f16(f: f32) -> f32 {
    let b = bitcast<u32>(f);
    let sign = b & 0x80000000u;
    let x = b & 0x7fffffffu;
    if (x >= 0x477ff000u) {
        return bitcast<f32>(sign | 0x7f800000u);
    }
    if (x >= 0x38800000u) {
        return bitcast<f32>(sign | ((x + 0xfffu + ((x >> 13u) & 1u)) & 0xffffe000u));
    }
    // binary16 subnormals are multiples of 2^-24.
    let q = round(bitcast<f32>(x) * 16777216.0);
    return bitcast<f32>(sign | bitcast<u32>(q * (1.0 / 16777216.0)));
}
