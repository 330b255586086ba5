package tensor

// CPU features the assembly kernels use, read once with CPUID/XGETBV (the
// OS must save the vector registers, not just the CPU have them).
//
// hasAVX2 gates every amd64 kernel (AVX2 + F16C for the f16 scales); hasVNNI
// adds AVX512-VNNI's vpdpbusd/vpdpwssd on 256-bit registers (EVEX encoding,
// so it needs AVX512F+VL+BW and the OS saving the AVX-512 state).
var hasAVX2, hasVNNI = detectCPU()

func cpuid(eaxIn, ecxIn uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

func detectCPU() (avx2, vnni bool) {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx, f16c = 1 << 27, 1 << 28, 1 << 29
	if ecx1&osxsave == 0 || ecx1&avx == 0 || ecx1&f16c == 0 {
		return false, false
	}
	xcr0, _ := xgetbv()
	if xcr0&6 != 6 { // SSE and AVX state
		return false, false
	}
	_, ebx7, ecx7, _ := cpuid(7, 0)
	avx2 = ebx7&(1<<5) != 0
	const avx512f, avx512bw, avx512vl, avx512vnni = 1 << 16, 1 << 30, 1 << 31, 1 << 11
	vnni = avx2 && ebx7&avx512f != 0 && ebx7&avx512bw != 0 && ebx7&avx512vl != 0 &&
		ecx7&avx512vnni != 0 && xcr0&0xe6 == 0xe6 // opmask, ZMM upper halves, ZMM16-31
	return avx2, vnni
}
