//go:build !amd64

package tensor

// Other architectures run the portable kernels.

func f32Body(acc *[16]float32, a, b []float32) { dotF32Body(acc, a, b) }

func selectKernels() map[Type]*kernel { return portableKernels }

func kernelTiers() []kernelTier { return []kernelTier{{"go", portableKernels}} }
