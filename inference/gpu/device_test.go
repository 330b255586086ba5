package gpu

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

var shared struct {
	once sync.Once
	dev  *Device
	err  error
}

// testDevice returns the device the tests share (CPU adapters allowed). It
// skips the test when there is none, unless HEARTH_REQUIRE_GPU=1.
func testDevice(t testing.TB) *Device {
	t.Helper()
	shared.once.Do(func() { shared.dev, shared.err = Open(Options{AllowCPU: true}) })
	if shared.err != nil {
		if errors.Is(shared.err, ErrNoAdapter) && !RequireGPU() {
			t.Skipf("no WebGPU adapter (%v); install a Vulkan driver (e.g. mesa-vulkan-drivers) or set %s=1 to make this a failure", shared.err, EnvRequireGPU)
		}
		t.Fatalf("open GPU device: %v", shared.err)
	}
	return shared.dev
}

// openDevice opens a separate device with opts (CPU adapters allowed),
// closed at the end of the test.
func openDevice(t testing.TB, opts Options) *Device {
	t.Helper()
	testDevice(t) // skip or fail like the shared device
	opts.AllowCPU = true
	d, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestAdapters(t *testing.T) {
	d := testDevice(t)
	list, err := Adapters(Options{AllowCPU: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 {
		t.Fatal("a device opened but no adapter is listed")
	}
	for _, a := range list {
		t.Logf("%s usable=%v %s f16=%v binding=%d", a, a.Usable, a.Reason, a.ShaderF16, a.Limits.MaxStorageBufferBindingSize)
	}
	if !list[0].Usable {
		t.Errorf("best adapter %s is not usable", list[0])
	}
	info := d.Info()
	t.Logf("device: %s, shader-f16 %v, packed dot %v, binding %d", info, d.ShaderF16(), d.packedDot, d.MaxBinding())
	if !strings.HasPrefix(BackendName(d), "webgpu:") || BackendName(d) == "webgpu:" {
		t.Errorf("backend name %q", BackendName(d))
	}
	if info.Backend == "" || info.Type == "" {
		t.Errorf("adapter info lacks backend or type: %+v", info)
	}
}

func TestPickRules(t *testing.T) {
	cpu := AdapterInfo{Index: 0, Name: "llvmpipe", Type: "cpu", Backend: "vulkan", Usable: false, Reason: "CPU adapter"}
	glGPU := AdapterInfo{Index: 1, Name: "Radeon GL", Type: "discrete", Backend: "gl", Usable: true}
	vkGPU := AdapterInfo{Index: 2, Name: "Radeon", Type: "discrete", Backend: "vulkan", Usable: true}
	igpu := AdapterInfo{Index: 3, Name: "Intel UHD", Type: "integrated", Backend: "vulkan", Usable: true}
	cases := []struct {
		name string
		list []AdapterInfo
		opts Options
		want int // index, -1 for ErrNoAdapter
	}{
		{"discrete before integrated", []AdapterInfo{igpu, vkGPU}, Options{}, 2},
		{"native before GL", []AdapterInfo{glGPU, vkGPU}, Options{}, 2},
		{"integrated before CPU", []AdapterInfo{cpu, igpu}, Options{}, 3},
		{"CPU refused", []AdapterInfo{cpu}, Options{}, -1},
		{"none", nil, Options{}, -1},
		{"by index", []AdapterInfo{vkGPU, igpu}, Options{Adapter: "3"}, 3},
		{"by name", []AdapterInfo{vkGPU, igpu}, Options{Adapter: "uhd"}, 3},
		{"unknown name", []AdapterInfo{vkGPU}, Options{Adapter: "nvidia"}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := pick(slices.Clone(c.list), c.opts)
			if c.want < 0 {
				if !errors.Is(err, ErrNoAdapter) {
					t.Fatalf("got %v, %v; want ErrNoAdapter", got, err)
				}
				return
			}
			if err != nil || got.Index != c.want {
				t.Fatalf("got %v, %v; want #%d", got, err, c.want)
			}
		})
	}
}
