//go:build !linux || !cgo

package hardware

import "os"

// NewNVMLSource returns a GPU source that reports ErrNVMLUnsupported: NVML is read through
// cgo on Linux only.
func NewNVMLSource() *NVMLSource {
	return newNVMLSource(unsupportedNVML{}, os.Getpid(), processName)
}

type unsupportedNVML struct{}

func (unsupportedNVML) Init() error               { return ErrNVMLUnsupported }
func (unsupportedNVML) Shutdown() error           { return ErrNVMLUnsupported }
func (unsupportedNVML) DeviceCount() (int, error) { return 0, ErrNVMLUnsupported }
func (unsupportedNVML) Device(int) (GPU, error)   { return GPU{}, ErrNVMLUnsupported }
