package gpu

import (
	"embed"
	"fmt"
	"strings"

	"github.com/oliverbestmann/webgpu/wgpu"

	"github.com/hearth-p2p/hearth/inference/tensor"
)

//go:embed shaders/*.wgsl
var shaderFS embed.FS

func shader(name string) string {
	b, err := shaderFS.ReadFile("shaders/" + name + ".wgsl")
	if err != nil {
		panic("gpu: missing shader " + name) // the set is fixed at build time
	}
	return string(b)
}

// actKind is the form of the activations a weight format's kernel reads,
// as in the CPU engine (inference/tensor act.go).
type actKind uint8

const (
	actF32 actKind = iota // raw float32: F32, F16, BF16 weights
	actQ8                 // Q8_0 (with Q8_1's s): the 32-element block formats
	actQ8K                // Q8_K: the k-quants
)

// formats lists the weight types the GPU runs, with their shader file and
// activation form.
var formats = map[tensor.Type]struct {
	file string
	act  actKind
}{
	tensor.F32: {"f32", actF32}, tensor.F16: {"f16", actF32}, tensor.BF16: {"bf16", actF32},
	tensor.Q8_0: {"q8_0", actQ8}, tensor.Q4_0: {"q4_0", actQ8}, tensor.Q4_1: {"q4_1", actQ8},
	tensor.Q5_0: {"q5_0", actQ8}, tensor.Q5_1: {"q5_1", actQ8},
	tensor.Q2_K: {"q2_k", actQ8K}, tensor.Q3_K: {"q3_k", actQ8K}, tensor.Q4_K: {"q4_k", actQ8K},
	tensor.Q5_K: {"q5_k", actQ8K}, tensor.Q6_K: {"q6_k", actQ8K},
}

// Supported reports whether the GPU backend has kernels for weights of type t.
func Supported(t tensor.Type) bool { _, ok := formats[t]; return ok }

// formatSource returns the dequantiser part of a format's shader and its
// quantised dot part (empty for float formats).
func formatSource(t tensor.Type) (deq, dot string) {
	src := shader(formats[t].file)
	deq, dot, _ = strings.Cut(src, "//--- dot")
	return deq, dot
}

// Tokens per workgroup of the matrix kernels: decode (one token) and
// prefill batches.
const (
	tokensDecode  = 1
	tokensPrefill = 8
)

// matmulSource builds the matrix kernel for weights of type t processing
// tokens tokens per workgroup.
func (d *Device) matmulSource(t tensor.Type, tokens int) string {
	deq, dot := formatSource(t)
	wtype, xdecl, body := "u32", "x: array<f32>", shader("matmul_f_body")
	enable, funcs := "", shader("wload")+deq
	switch {
	case formats[t].act == actQ8:
		xdecl, body = "xq: array<u32>", shader("matmul_q_body")
		funcs += d.dot4Source() + shader("act") + dot
	case formats[t].act == actQ8K:
		xdecl, body = "xq: array<u32>", shader("matmul_k_body")
		funcs += d.dot4Source() + shader("act") + dot
	case t == tensor.F16 && d.f16:
		wtype, enable, funcs = "f16", "enable f16;\n", shader("f16h")
	}
	rows, lanes := d.matmulShape(t)
	r := strings.NewReplacer("{{WTYPE}}", wtype, "{{XDECL}}", xdecl, "{{BODY}}", body,
		"{{T}}", fmt.Sprint(tokens), "{{WGT}}", fmt.Sprint(rows*lanes*tokens),
		"{{RPW}}", fmt.Sprint(rows), "{{TPR}}", fmt.Sprint(lanes), "{{WG}}", fmt.Sprint(rows*lanes))
	return enable + shader("common") + r.Replace(shader("matmul")) + funcs
}

// matmulShape returns the rows one matrix workgroup takes and the threads
// per row: the CPU's reduction lanes (16 for float rows, 8 for blocks), and
// as many rows as make a 64-thread workgroup on GPUs, 256 on CPU adapters
// (fewer, wider workgroups suit their per-workgroup overhead).
func (d *Device) matmulShape(t tensor.Type) (rows, lanes int) {
	lanes = 8
	if formats[t].act == actF32 {
		lanes = 16
	}
	threads := 64
	if d.info.Type == "cpu" {
		threads = 256
	}
	return threads / lanes, lanes
}

func (d *Device) dot4Source() string {
	if d.packedDot {
		return shader("dot_packed")
	}
	return shader("dot_plain")
}

// kernelSource returns the WGSL of a named kernel.
func (d *Device) kernelSource(name string) (string, error) {
	kind, arg, _ := strings.Cut(name, ":")
	switch kind {
	case "matmul":
		tname, tok, _ := strings.Cut(arg, "/")
		t, err := tensor.ParseType(tname)
		if err != nil || !Supported(t) {
			return "", fmt.Errorf("gpu: no kernel for %s weights", tname)
		}
		n := tokensDecode
		if tok == fmt.Sprint(tokensPrefill) {
			n = tokensPrefill
		}
		return d.matmulSource(t, n), nil
	case "get_rows":
		t, err := tensor.ParseType(arg)
		if err != nil || !Supported(t) {
			return "", fmt.Errorf("gpu: no kernel for %s rows", arg)
		}
		deq, _ := formatSource(t)
		return shader("common") + shader("get_rows") + shader("wload") + deq, nil
	case "rope_q", "kv_store":
		return shader("common") + shader("rope") + shader(kind), nil
	case "rmsnorm":
		sum := "rms_f32"
		if d.f64 {
			sum = "rms_f64"
		}
		return shader("common") + shader("rmsnorm") + shader(sum), nil
	case "quant_q8", "quant_q8k", "attention", "swiglu", "add_bias":
		return shader("common") + shader(kind), nil
	}
	return "", fmt.Errorf("gpu: unknown kernel %q", name)
}

// kernel is a compiled compute pipeline.
type kernel struct {
	name   string
	pipe   *wgpu.ComputePipeline
	layout *wgpu.BindGroupLayout
}

// pipelineCache holds a device's compiled kernels by name; Device.mu
// guards it.
type pipelineCache struct {
	m map[string]*kernel
}

func (c *pipelineCache) release() {
	for _, k := range c.m {
		k.layout.Release()
		k.pipe.Release()
	}
	c.m = nil
}

// kernel compiles (once) and returns the named kernel. The caller holds
// d.mu.
func (d *Device) kernel(name string) (*kernel, error) {
	if k, ok := d.pipes.m[name]; ok {
		return k, nil
	}
	src, err := d.kernelSource(name)
	if err != nil {
		return nil, err
	}
	k, err := d.compile(name, src)
	if err != nil {
		return nil, err
	}
	d.pipes.m[name] = k
	return k, nil
}

func (d *Device) compile(name, src string) (*kernel, error) {
	mod, err := d.dev.TryCreateShaderModule(&wgpu.ShaderModuleDescriptor{
		Label: name, WGSLSource: &wgpu.ShaderSourceWGSL{Code: src},
	})
	if err != nil {
		return nil, fmt.Errorf("gpu: compile %s: %w", name, err)
	}
	defer mod.Release()
	pipe, err := d.dev.TryCreateComputePipeline(&wgpu.ComputePipelineDescriptor{
		Label: name, Compute: wgpu.ProgrammableStageDescriptor{Module: mod, EntryPoint: "main"},
	})
	if err != nil {
		return nil, fmt.Errorf("gpu: pipeline %s: %w", name, err)
	}
	return &kernel{name: name, pipe: pipe, layout: pipe.GetBindGroupLayout(0)}, nil
}

// probePackedDot reports whether the device compiles WGSL's dot4I8Packed
// (the packed_4x8_integer_dot_product language extension).
func (d *Device) probePackedDot() bool {
	src := `@group(0) @binding(0) var<storage, read_write> o: array<i32>;
@compute @workgroup_size(1) fn main() { o[0] = dot4I8Packed(0x01020304u, 0xff010203u); }`
	k, err := d.compile("probe_dot4", src)
	if err != nil {
		return false
	}
	k.layout.Release()
	k.pipe.Release()
	return true
}
