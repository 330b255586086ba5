package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hearth-p2p/hearth/inference/gpu"
	"github.com/hearth-p2p/hearth/inference/model"
	"github.com/hearth-p2p/hearth/node/hardware"
)

// GPUChain is a model's pipeline with a layer range on a GPU: CPU stages
// for [0, From) and [To, N), a GPU stage for [From, To).
type GPUChain struct {
	Chain   model.Chain
	Plan    gpu.Plan
	Adapter gpu.AdapterInfo
	// Backend names the GPU engine for announcements ("webgpu:<adapter>").
	Backend string

	closers []func()
}

// Close releases the sessions, the GPU stage and the device.
func (c *GPUChain) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// Describe is a one-line summary for people.
func (c *GPUChain) Describe() string {
	return fmt.Sprintf("%s on %s (%s)", c.Plan, c.Adapter.Name, c.Adapter.Backend)
}

// OpenGPUChain places the layers spec names ("A:B", "all" or "auto") of lm
// on the best GPU and the rest on the CPU, with sessions of maxCtx positions
// (0: the model's training context). HEARTH_GPU_ALLOW_CPU=1 lets a CPU
// adapter (lavapipe) stand in for a GPU. With no usable adapter the error
// wraps gpu.ErrNoAdapter, and with no room for "auto" gpu.ErrNoRoom: callers
// fall back to the CPU and say why.
func OpenGPUChain(lm *LocalModel, spec string, maxCtx int) (*GPUChain, error) {
	m := lm.Model
	if maxCtx <= 0 {
		maxCtx = m.ContextLen
	}
	if _, _, _, err := gpu.ParseLayers(spec, m.NumLayers); err != nil {
		return nil, err
	}
	dev, err := gpu.Open(gpu.Options{})
	if err != nil {
		return nil, err
	}
	c := &GPUChain{Adapter: dev.Info(), Backend: gpu.BackendName(dev), closers: []func(){dev.Close}}
	plan, err := gpu.PlanLayers(m, dev, spec, maxCtx, gpuBudget(dev))
	if err != nil {
		c.Close()
		return nil, err
	}
	c.Plan = plan
	if !plan.Fits() {
		c.Close()
		return nil, fmt.Errorf("%w: %s; set %s to override", gpu.ErrNoRoom, plan, gpu.EnvMemory)
	}
	addCPU := func(from, to int) error {
		st, err := m.NewStage(from, to, lm.Pool)
		if err != nil {
			return err
		}
		s, err := st.NewSession(maxCtx)
		if err != nil {
			return err
		}
		c.closers = append(c.closers, s.Close)
		c.Chain = append(c.Chain, s)
		return nil
	}
	if plan.From > 0 {
		if err := addCPU(0, plan.From); err != nil {
			c.Close()
			return nil, err
		}
	}
	st, err := gpu.NewStage(m, plan.From, plan.To, dev)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.closers = append(c.closers, st.Close)
	s, err := st.NewSession(maxCtx)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.closers = append(c.closers, s.Close)
	c.Chain = append(c.Chain, s)
	if plan.To < m.NumLayers {
		if err := addCPU(plan.To, m.NumLayers); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// BuildGPUChain is OpenGPUChain for callers that need only the chain and a
// function that releases it.
func BuildGPUChain(lm *LocalModel, spec string, maxCtx int) (model.Chain, func(), error) {
	c, err := OpenGPUChain(lm, spec, maxCtx)
	if err != nil {
		return nil, nil, err
	}
	return c.Chain, c.Close, nil
}

// IsGPUUnavailable reports whether err means "run on the CPU instead" (no
// adapter, or no room for automatic placement) rather than a failure.
func IsGPUUnavailable(err error) bool {
	return errors.Is(err, gpu.ErrNoAdapter) || errors.Is(err, gpu.ErrNoRoom)
}

// nvidiaVendor is NVIDIA's PCI vendor id.
const nvidiaVendor = 0x10de

// gpuBudget asks NVML for an NVIDIA adapter's free memory; for other
// adapters (or when NVML cannot tell) the zero budget lets inference/gpu
// use its own sources (HEARTH_GPU_MEMORY, sysfs, system RAM).
func gpuBudget(dev *gpu.Device) gpu.MemoryBudget {
	info := dev.Info()
	if info.VendorID != nvidiaVendor {
		return gpu.MemoryBudget{}
	}
	if b := dev.MemoryBudget(); b.Source == "env" {
		return b // the user's figure wins
	}
	src := hardware.NewNVMLSource()
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gpus, _ := src.GPUs(ctx)
	for _, g := range gpus {
		if len(gpus) == 1 || strings.EqualFold(g.Name, info.Name) {
			if g.VRAMTotal > g.VRAMUsed {
				return gpu.MemoryBudget{Bytes: int64(g.VRAMTotal - g.VRAMUsed), Source: "nvml"}
			}
		}
	}
	return gpu.MemoryBudget{}
}
