package gpu

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/oliverbestmann/webgpu/wgpu"
)

// ErrNoAdapter reports that no usable WebGPU adapter exists (no GPU driver,
// or only CPU adapters while they are not allowed). Callers fall back to the
// CPU engine.
var ErrNoAdapter = errors.New("no usable GPU adapter")

// ErrDeviceLost reports a device that the driver has taken away (reset,
// removal, out of memory). Stages and sessions on it are unusable.
var ErrDeviceLost = errors.New("gpu device lost")

// Environment variables the package reads.
const (
	// EnvAllowCPU set to 1 lets Open pick a CPU adapter (lavapipe,
	// llvmpipe, WARP) when no GPU is present: correct but slow, for tests.
	EnvAllowCPU = "HEARTH_GPU_ALLOW_CPU"
	// EnvAdapter picks an adapter by index or name substring, like
	// Options.Adapter.
	EnvAdapter = "HEARTH_GPU_ADAPTER"
	// EnvLog sets wgpu-native's log level: off, error (default), warn,
	// info, debug, trace.
	EnvLog = "HEARTH_GPU_LOG"
	// EnvRequireGPU set to 1 (CI) makes tests that need an adapter fail
	// instead of skipping when there is none; so does the project-wide
	// HEARTH_REQUIRE_TOOLS=1 that .ci/test sets.
	EnvRequireGPU = "HEARTH_REQUIRE_GPU"
)

// RequireGPU reports whether tests must fail, not skip, without an adapter
// (HEARTH_REQUIRE_GPU=1 or HEARTH_REQUIRE_TOOLS=1).
func RequireGPU() bool {
	return os.Getenv(EnvRequireGPU) == "1" || os.Getenv("HEARTH_REQUIRE_TOOLS") == "1"
}

// Options choose and configure a device.
type Options struct {
	// AllowCPU lets a CPU adapter be chosen when no GPU is present (also
	// set by HEARTH_GPU_ALLOW_CPU=1).
	AllowCPU bool
	// Adapter picks an adapter by its index in Adapters or a
	// case-insensitive substring of its name; "" picks the best one
	// (discrete, then integrated, then other GPUs; native backends before
	// GL). HEARTH_GPU_ADAPTER is used when empty.
	Adapter string
	// NoF16 disables the shader-f16 paths even where the adapter has them.
	NoF16 bool
	// MaxBinding caps the bytes of one storage binding, below the device's
	// limit; bigger tensors are split across buffers. 0 keeps the limit
	// (tests set a small value to exercise the splitting).
	MaxBinding uint64
	// NoPackedDot uses plain integer arithmetic instead of WGSL's
	// dot4I8Packed even where it compiles (the results are identical).
	NoPackedDot bool
	// NoF64 avoids shader-f64 (the f32 fallbacks carry error terms).
	NoF64 bool
}

// featureShaderF64 is wgpu-native's SHADER_F64 (WGPUNativeFeature_ShaderF64).
const featureShaderF64 = wgpu.FeatureName(0x0003001D)

func (o Options) withEnv() Options {
	if os.Getenv(EnvAllowCPU) == "1" {
		o.AllowCPU = true
	}
	if o.Adapter == "" {
		o.Adapter = os.Getenv(EnvAdapter)
	}
	return o
}

// Limits are the adapter limits that matter for compute.
type Limits struct {
	MaxStorageBufferBindingSize uint64 `json:"max_storage_buffer_binding_size"`
	MaxBufferSize               uint64 `json:"max_buffer_size"`
	MaxStorageBuffersPerStage   uint32 `json:"max_storage_buffers_per_stage"`
	MaxWorkgroupStorageSize     uint32 `json:"max_workgroup_storage_size"`
	MaxInvocationsPerWorkgroup  uint32 `json:"max_invocations_per_workgroup"`
	MaxWorkgroupsPerDimension   uint32 `json:"max_workgroups_per_dimension"`
	MinUniformOffsetAlignment   uint32 `json:"min_uniform_offset_alignment"`
}

// AdapterInfo describes one WebGPU adapter.
type AdapterInfo struct {
	Index        int    `json:"index"`
	Name         string `json:"name"`
	Vendor       string `json:"vendor,omitempty"`
	VendorID     uint32 `json:"vendor_id"`
	DeviceID     uint32 `json:"device_id"`
	Driver       string `json:"driver,omitempty"`
	Architecture string `json:"architecture,omitempty"`
	// Backend is the native API: vulkan, metal, d3d12, gl, …
	Backend string `json:"backend"`
	// Type is discrete, integrated, cpu or unknown.
	Type      string `json:"type"`
	ShaderF16 bool   `json:"shader_f16"`
	Limits    Limits `json:"limits"`
	// Usable is false for adapters Open will not pick by default; Reason
	// says why.
	Usable bool   `json:"usable"`
	Reason string `json:"reason,omitempty"`
}

func (a AdapterInfo) String() string {
	return fmt.Sprintf("#%d %s (%s, %s)", a.Index, a.Name, a.Type, a.Backend)
}

// logOnce sets wgpu-native's log level once per process.
var logOnce sync.Once

func setLogLevel() {
	logOnce.Do(func() {
		levels := map[string]wgpu.LogLevel{"off": wgpu.LogLevelOff, "error": wgpu.LogLevelError,
			"warn": wgpu.LogLevelWarn, "info": wgpu.LogLevelInfo, "debug": wgpu.LogLevelDebug, "trace": wgpu.LogLevelTrace}
		lvl, ok := levels[strings.ToLower(os.Getenv(EnvLog))]
		if !ok {
			lvl = wgpu.LogLevelError
		}
		wgpu.SetLogLevel(lvl)
	})
}

func backendName(b wgpu.BackendType) string {
	switch b {
	case wgpu.BackendTypeOpenGL, wgpu.BackendTypeOpenGLES:
		return "gl"
	case wgpu.BackendTypeWebGPU:
		return "webgpu"
	}
	return b.String()
}

func typeName(t wgpu.AdapterType) string {
	switch t {
	case wgpu.AdapterTypeDiscreteGPU:
		return "discrete"
	case wgpu.AdapterTypeIntegratedGPU:
		return "integrated"
	case wgpu.AdapterTypeCPU:
		return "cpu"
	}
	return "unknown"
}

func describe(i int, a *wgpu.Adapter, allowCPU bool) AdapterInfo {
	in := a.GetInfo()
	l := a.GetLimits()
	info := AdapterInfo{
		Index: i, Name: in.Device, Vendor: in.Vendor, VendorID: in.VendorId, DeviceID: in.DeviceId,
		Driver: in.Description, Architecture: in.Architecture,
		Backend: backendName(in.BackendType), Type: typeName(in.AdapterType),
		ShaderF16: a.HasFeature(wgpu.FeatureNameShaderF16),
		Limits: Limits{
			MaxStorageBufferBindingSize: l.MaxStorageBufferBindingSize,
			MaxBufferSize:               l.MaxBufferSize,
			MaxStorageBuffersPerStage:   l.MaxStorageBuffersPerShaderStage,
			MaxWorkgroupStorageSize:     l.MaxComputeWorkgroupStorageSize,
			MaxInvocationsPerWorkgroup:  l.MaxComputeInvocationsPerWorkgroup,
			MaxWorkgroupsPerDimension:   l.MaxComputeWorkgroupsPerDimension,
			MinUniformOffsetAlignment:   l.MinUniformBufferOffsetAlignment,
		},
		Usable: true,
	}
	if info.Name == "" {
		info.Name = in.Vendor
	}
	switch {
	case l.MaxStorageBuffersPerShaderStage < maxStorageBindings || l.MaxComputeInvocationsPerWorkgroup < 256 ||
		l.MaxComputeWorkgroupStorageSize < 8192 || l.MaxStorageBufferBindingSize < 1<<20:
		info.Usable, info.Reason = false, "limits below what the kernels need"
	case info.Type == "cpu" && !allowCPU:
		info.Usable, info.Reason = false, "CPU adapter (set "+EnvAllowCPU+"=1 to use it)"
	}
	return info
}

// rank orders adapters: usable first, then discrete, integrated, unknown,
// CPU; native backends before GL.
func rank(a AdapterInfo) int {
	r := map[string]int{"discrete": 0, "integrated": 1, "unknown": 2, "cpu": 3}[a.Type] * 10
	if a.Backend == "gl" {
		r += 5
	}
	if !a.Usable {
		r += 1000
	}
	return r
}

// Adapters lists the WebGPU adapters of this machine, best first, marking
// those Open would refuse without options.
func Adapters(opts Options) ([]AdapterInfo, error) {
	setLogLevel()
	opts = opts.withEnv()
	inst := wgpu.CreateInstance(nil)
	defer inst.Release()
	var infos []AdapterInfo
	for i, a := range inst.EnumerateAdapters(nil) {
		infos = append(infos, describe(i, a, opts.AllowCPU))
		a.Release()
	}
	sort.SliceStable(infos, func(i, j int) bool { return rank(infos[i]) < rank(infos[j]) })
	return infos, nil
}

// pick returns the index (into the enumeration) of the adapter to use.
func pick(infos []AdapterInfo, opts Options) (AdapterInfo, error) {
	if opts.Adapter != "" {
		if idx, err := strconv.Atoi(opts.Adapter); err == nil {
			for _, a := range infos {
				if a.Index == idx {
					return a, nil
				}
			}
			return AdapterInfo{}, fmt.Errorf("%w: no adapter #%d", ErrNoAdapter, idx)
		}
		for _, a := range infos {
			if strings.Contains(strings.ToLower(a.Name), strings.ToLower(opts.Adapter)) {
				return a, nil
			}
		}
		return AdapterInfo{}, fmt.Errorf("%w: no adapter named like %q", ErrNoAdapter, opts.Adapter)
	}
	best := -1
	for i, a := range infos {
		if a.Usable && (best < 0 || rank(a) < rank(infos[best])) {
			best = i
		}
	}
	if best < 0 {
		var why []string
		for _, a := range infos {
			why = append(why, a.String()+": "+a.Reason)
		}
		if len(why) == 0 {
			return AdapterInfo{}, fmt.Errorf("%w: no WebGPU adapter found (no Vulkan, Metal, D3D12 or GL driver)", ErrNoAdapter)
		}
		return AdapterInfo{}, fmt.Errorf("%w: %s", ErrNoAdapter, strings.Join(why, "; "))
	}
	return infos[best], nil
}

// Device is an opened GPU: one WebGPU device and its queue, with the
// compiled kernels. It is safe for concurrent use; submissions are
// serialised.
type Device struct {
	info       AdapterInfo
	inst       *wgpu.Instance
	adapter    *wgpu.Adapter
	dev        *wgpu.Device
	queue      *wgpu.Queue
	f16        bool
	f64        bool   // shader-f64: exact float64 sums where the CPU has them
	packedDot  bool   // WGSL dot4I8Packed compiles
	maxBinding uint64 // bytes one storage binding may hold
	maxBuffer  uint64 // bytes one buffer may hold
	maxGroups  uint32 // workgroups per dispatch dimension

	mu    sync.Mutex // guards queue submission, polling and buffer mapping
	lost  atomic.Pointer[string]
	pipes pipelineCache
}

// maxStorageBindings is the most storage buffers one kernel binds (the
// WebGPU default limit is 8).
const maxStorageBindings = 8

// maxPart bounds a weight buffer so that byte offsets fit in a u32 with room.
const maxPart = 1 << 30

// Open picks an adapter (see Options) and opens a device on it. With no
// usable adapter it returns an error wrapping ErrNoAdapter.
func Open(opts Options) (*Device, error) {
	setLogLevel()
	opts = opts.withEnv()
	inst := wgpu.CreateInstance(nil)
	adapters := inst.EnumerateAdapters(nil)
	infos := make([]AdapterInfo, len(adapters))
	for i, a := range adapters {
		infos[i] = describe(i, a, opts.AllowCPU)
	}
	chosen, err := pick(infos, opts)
	if err != nil {
		for _, a := range adapters {
			a.Release()
		}
		inst.Release()
		return nil, err
	}
	adapter := adapters[chosen.Index]
	for i, a := range adapters {
		if i != chosen.Index {
			a.Release()
		}
	}
	d := &Device{info: chosen, inst: inst, adapter: adapter}
	if err := d.open(opts); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Device) open(opts Options) error {
	al := d.adapter.GetLimits()
	limits := wgpu.DefaultLimits()
	limits.MaxNonSamplerBindings = wgpu.LimitU32Undefined
	// Raise only the buffer sizes (asking for every adapter limit fails on
	// some drivers).
	limits.MaxStorageBufferBindingSize = al.MaxStorageBufferBindingSize
	limits.MaxBufferSize = al.MaxBufferSize
	var features []wgpu.FeatureName
	if d.info.ShaderF16 && !opts.NoF16 {
		features = append(features, wgpu.FeatureNameShaderF16)
		d.f16 = true
	}
	if d.adapter.HasFeature(featureShaderF64) && !opts.NoF64 {
		features = append(features, featureShaderF64)
		d.f64 = true
	}
	dev, err := d.adapter.RequestDevice(&wgpu.DeviceDescriptor{
		Label:            "hearth",
		RequiredFeatures: features,
		RequiredLimits:   &limits,
		// No DeviceLostCallback: the binding passes it in Go memory, which
		// cgo's pointer checks reject. A lost device shows as a failed
		// readback instead (see read).
	})
	if err != nil {
		return fmt.Errorf("gpu: open %s: %w", d.info, err)
	}
	d.dev = dev
	d.queue = dev.GetQueue()
	d.maxBinding = min(al.MaxStorageBufferBindingSize, maxPart)
	if opts.MaxBinding > 0 {
		d.maxBinding = min(d.maxBinding, max(opts.MaxBinding, 256))
	}
	d.maxBinding &^= 255
	d.maxBuffer = al.MaxBufferSize
	d.maxGroups = 65535 // the WebGPU default we asked for
	d.pipes.m = map[string]*kernel{}
	d.packedDot = !opts.NoPackedDot && d.probePackedDot()
	return nil
}

// Info describes the device's adapter.
func (d *Device) Info() AdapterInfo { return d.info }

// ShaderF16 reports whether the f16 shader paths are in use.
func (d *Device) ShaderF16() bool { return d.f16 }

// MaxBinding is the most bytes one storage binding holds on this device.
func (d *Device) MaxBinding() uint64 { return d.maxBinding }

// BackendName names the engine for shard announcements and result
// comparisons: "webgpu:<adapter>" (GPU results are not bit-identical to the
// CPU engine's, nor across adapters, so the swarm compares like with like).
func BackendName(d *Device) string {
	return "webgpu:" + d.info.Name
}

// Err returns ErrDeviceLost (with what failed) once the device has stopped
// answering, else nil.
func (d *Device) Err() error {
	if s := d.lost.Load(); s != nil {
		return fmt.Errorf("%w: %s", ErrDeviceLost, *s)
	}
	return nil
}

// Close releases the device. Stages and sessions on it must be closed first.
func (d *Device) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pipes.release()
	if d.queue != nil {
		d.queue.Release()
		d.queue = nil
	}
	if d.dev != nil {
		d.dev.Release()
		d.dev = nil
	}
	if d.adapter != nil {
		d.adapter.Release()
		d.adapter = nil
	}
	if d.inst != nil {
		d.inst.Release()
		d.inst = nil
	}
}
