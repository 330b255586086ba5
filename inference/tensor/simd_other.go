//go:build !amd64

package tensor

// Other architectures run the portable kernels.

func f32Body(acc *[16]float32, a, b []float32) { dotF32Body(acc, a, b) }

// KernelSet names the kernels this machine runs: "portable" (plain Go).
func KernelSet() string { return "portable" }

func selectKernels() map[Type]*kernel { return portableKernels }

func kernelTiers() []kernelTier { return []kernelTier{{"go", portableKernels}} }

func dotRowsFast(dst, x, rows []float32, stride int) bool { return false }

func addScaledFast(dst []float32, a float32, x []float32) int { return 0 }

func addRowsFast(dst, w, rows []float32, stride int) int { return 0 }

func quantQ8Fast(v *qvec, x []float32) int { return 0 }

func quantQ8KFast(v *qvec, x []float32) int { return 0 }

func swigluFast(g, u []float32) int { return 0 }

func expFast(x []float64) int { return 0 }
