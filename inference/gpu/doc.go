// Package gpu runs layer ranges of llama-family models on a GPU through
// WebGPU (WGSL compute shaders on wgpu-native, which reaches Vulkan, Metal,
// D3D12 and GL), so a stage of a model.Chain can live in VRAM while the rest
// runs on the CPU engine.
//
// A Device is one opened adapter: Open prefers discrete GPUs, then
// integrated ones, native backends before GL; CPU adapters (Mesa's lavapipe
// and llvmpipe, WARP) only when allowed (Options.AllowCPU or
// HEARTH_GPU_ALLOW_CPU=1, for tests). With none it returns ErrNoAdapter and
// callers stay on the CPU. NewStage uploads a layer range's weights once, as
// their raw GGUF blocks (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K,
// Q3_K, Q4_K, Q5_K, Q6_K; a tensor larger than one storage binding is split
// by rows across buffers). A Stage's Sessions keep their KV cache on the
// device and satisfy model.Forwarder with model.Session's contract: the
// first stage embeds token ids, the last applies the output norm and LM
// head, and each batch of up to MaxBatch positions runs the whole range in
// one submission, with no host round trip between the input upload and the
// output readback. PlanLayers resolves --gpu-layers (A:B, all, auto);
// SelfTest checks a device against the CPU engine.
//
// # Numerics
//
// The kernels mirror the CPU engine's arithmetic rather than merely its
// mathematics. Activations are quantised to Q8_0/Q8_1/Q8_K exactly as
// inference/tensor does (same scales, same round-to-even); block dot
// products are exact integer sums combined with the CPU's float terms; each
// matrix row is reduced in the CPU's canonical lanes (16 for float rows, 8
// block or super-block lanes) folded by the same pairwise tree; RMSNorm sums
// squares in float64 where the device has shader-f64 (else an f32 two-sum);
// the rotary table is computed on the host by the CPU's code. What differs
// is attention (the GPU's exp and a running softmax over 64-key tiles
// instead of the CPU's two passes), SwiGLU's exp, and any multiply-add the
// driver fuses. GPU results are therefore close to the CPU's but not
// bit-identical, nor identical across adapters and drivers: BackendName
// labels them ("webgpu:<adapter>") so the swarm compares like with like.
//
// Measured on lavapipe (Mesa 22.3, the CI device), against the CPU engine:
//
//   - matrix products: bit-identical for every format but Q4_1/Q5_1
//     (≤ 3.3e-8 of Σ|w·x|, a fused multiply-add in the min term);
//     dequantisation and activation quantisation bit-identical;
//   - RMSNorm bit-identical (f64), ≤ 2.5e-7 relative (two-sum fallback);
//     attention ≤ 6.7e-7, SwiGLU ≤ 1e-6 relative;
//   - whole models: TinyStories-656K-Q8_0 bit-identical logits over 40
//     greedy steps; stories260K (F32) max |Δlogit| 8e-6 (logits ≈ 17); the
//     synthetic presets (F16, Q8_0, Q4_0, Q4_K, Q6_K, qwen2) ≤ 4e-5 over 16
//     steps; greedy ids identical everywhere, llama.cpp's for the two real
//     models. The tests bound |Δlogit| by 1e-3.
//
// A quantised activation that sits on a rounding boundary can round the
// other way after an ulp of difference upstream; one such flip moves
// logits by 0.1–0.4 on the 656K model, which is why RMSNorm (whose output
// is structured by quantised embeddings) must be exact.
//
// # Environment
//
// HEARTH_GPU_ALLOW_CPU=1 allows CPU adapters; HEARTH_GPU_ADAPTER picks one
// by index or name; HEARTH_GPU_MEMORY sets the memory budget "auto" fills;
// HEARTH_GPU_LOG sets wgpu-native's log level. Tests need an adapter:
// without one they skip, and with HEARTH_REQUIRE_GPU=1 (CI) they fail. On
// Linux CI: apt-get install mesa-vulkan-drivers libvulkan1 (vulkan-tools
// for vulkaninfo), XDG_RUNTIME_DIR set to a private directory.
package gpu
