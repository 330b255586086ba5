//go:build linux && cgo

package hardware

import (
	"fmt"
	"os"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NewNVMLSource returns the GPU source backed by the system's NVML library
// (libnvidia-ml.so.1). Nothing is loaded until the first GPUs call.
func NewNVMLSource() *NVMLSource {
	return newNVMLSource(realNVML{}, os.Getpid(), processName)
}

// realNVML adapts go-nvml to nvmlLib. NVMLSource calls nothing but Init before Init
// has succeeded.
type realNVML struct{}

func (realNVML) Init() error {
	switch r := nvml.Init(); r {
	case nvml.SUCCESS:
		return nil
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return ErrNoDriver
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return ErrDriverNotLoaded
	case nvml.ERROR_NO_PERMISSION:
		return ErrNoPermission
	default:
		// Not r.Error(): with the library half-loaded its string function may be absent.
		return fmt.Errorf("nvml init: return code %d", int(r))
	}
}

func (realNVML) Shutdown() error { return retErr(nvml.Shutdown()) }

func (realNVML) DeviceCount() (int, error) {
	n, r := nvml.DeviceGetCount()
	return n, retErr(r)
}

func (realNVML) Device(index int) (GPU, error) {
	d, r := nvml.DeviceGetHandleByIndex(index)
	if err := retErr(r); err != nil {
		return GPU{}, fmt.Errorf("get handle: %w", err)
	}
	var g GPU
	if name, r := d.GetName(); r == nvml.SUCCESS {
		g.Name = name
	}
	if uuid, r := d.GetUUID(); r == nvml.SUCCESS {
		g.UUID = uuid
	}
	mem, r := d.GetMemoryInfo()
	if r == nvml.ERROR_GPU_IS_LOST {
		return GPU{}, fmt.Errorf("memory info: %w", retErr(r))
	}
	if r == nvml.SUCCESS {
		g.VRAMTotal, g.VRAMUsed = mem.Total, mem.Used
	}
	if u, r := d.GetUtilizationRates(); r == nvml.SUCCESS {
		g.UtilPct = float64(u.Gpu)
	}
	if t, r := d.GetTemperature(nvml.TEMPERATURE_GPU); r == nvml.SUCCESS {
		g.TempC = float64(t)
	}
	if mw, r := d.GetPowerUsage(); r == nvml.SUCCESS {
		g.PowerW = float64(mw) / 1000
	}
	if mw, r := d.GetEnforcedPowerLimit(); r == nvml.SUCCESS {
		g.PowerLimitW = float64(mw) / 1000
	}
	if c, r := d.GetClockInfo(nvml.CLOCK_SM); r == nvml.SUCCESS {
		g.SMClockMHz = int(c)
	}
	if c, r := d.GetClockInfo(nvml.CLOCK_MEM); r == nvml.SUCCESS {
		g.MemClockMHz = int(c)
	}
	compute, _ := d.GetComputeRunningProcesses()   // unsupported on some boards: none listed
	graphics, _ := d.GetGraphicsRunningProcesses() // likewise
	for _, p := range append(compute, graphics...) {
		g.Processes = append(g.Processes, GPUProc{
			PID:     int(p.Pid),
			Name:    nvmlProcessName(p.Pid),
			UsedMem: usedMem(p.UsedGpuMemory),
		})
	}
	return g, nil
}

func nvmlProcessName(pid uint32) string {
	name, r := nvml.SystemGetProcessName(int(pid))
	if r != nvml.SUCCESS {
		return ""
	}
	return name
}

// usedMem maps NVML's "not available" (all ones, e.g. under Windows WDDM) to 0.
func usedMem(v uint64) uint64 {
	if v == ^uint64(0) {
		return 0
	}
	return v
}

func retErr(r nvml.Return) error {
	if r == nvml.SUCCESS {
		return nil
	}
	return nvmlError(r)
}

// nvmlError is an NVML return code as an error. Only created after Init succeeded, so
// its Error may ask the library for the text.
type nvmlError nvml.Return

func (e nvmlError) Error() string { return nvml.Return(e).Error() }
