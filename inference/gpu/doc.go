// Package gpu runs layer ranges of llama-family models on a GPU through
// WebGPU (WGSL compute shaders on wgpu-native, which reaches Vulkan, Metal,
// D3D12 and GL), so a stage of a model.Chain can live in VRAM while the rest
// runs on the CPU engine.
//
// A Device is one opened adapter (Open prefers discrete GPUs, then
// integrated ones; CPU adapters such as Mesa's lavapipe only when allowed,
// for tests). NewStage uploads a layer range's weights once, as their raw
// GGUF blocks; a Stage's Sessions hold a KV cache on the device and satisfy
// model.Forwarder: the first stage embeds token ids, the last applies the
// output norm and LM head, and each batch runs the whole range in one
// submission with no host round trip between the input upload and the
// output readback.
//
// Numerics. The kernels mirror the CPU engine's arithmetic: activations are
// quantised to Q8_0/Q8_1/Q8_K exactly as inference/tensor does (same
// scales, same round-to-even), block dot products are exact integer sums
// combined with the CPU's canonical float terms, RMSNorm, SwiGLU and the
// residual adds are element for element the same, and the rotary table is
// computed on the host by the CPU's code. What differs is float summation
// order (a tree instead of the CPU's lanes), a running instead of a
// two-pass softmax, the GPU's exp and division, and possible fused
// multiply-adds. GPU results are therefore not bit-identical to the CPU's,
// nor between adapters: BackendName labels them ("webgpu:<adapter>") so
// the swarm compares like with like. Measured on lavapipe (see the tests):
// matrix kernels within 1e-5 relative of the CPU reference dot (quantised
// formats) and 1e-6 (float formats), dequantisation exact, and end-to-end
// logits within 1e-3 absolute of the CPU engine on the shared test models
// with identical greedy ids.
//
// Tests need an adapter. Without one they skip; with HEARTH_REQUIRE_GPU=1
// (CI, on lavapipe: apt-get install mesa-vulkan-drivers libvulkan1, and
// XDG_RUNTIME_DIR set) a missing adapter fails them. HEARTH_GPU_ALLOW_CPU=1
// lets Open use a CPU adapter.
package gpu
