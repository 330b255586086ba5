// Rotary position embedding with a host-computed (cos, sin) table per
// position: cs[t·dims + i0], cs[t·dims + i0 + 1] for pair i0 = 0, 2, ….
// Pairs are adjacent (x[i0], x[i0+1]) or NeoX halves (x[i0/2],
// x[i0/2 + dims/2]); dimensions past dims are left alone.

struct Params {
    heads: u32,
    head_dim: u32,
    dims: u32,
    neox: u32,
    stride: u32,  // elements per token in the input
    out_stride: u32,
    _a: u32,
    _b: u32,
}

// pair_index returns the two rotated elements of pair j (< dims/2).
fn pair_index(j: u32) -> vec2<u32> {
    if (p.neox != 0u) {
        return vec2<u32>(j, j + p.dims / 2u);
    }
    return vec2<u32>(2u * j, 2u * j + 1u);
}
