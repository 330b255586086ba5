#include "textflag.h"

// Float-row kernels (AVX2 + F16C): the canonical 16-lane order of
// dot_f32.go with lanes 0-7 in Y0 and 8-15 in Y1. Each call adds n/16
// groups of 16 products to acc; the caller adds the tail and folds the
// lanes. Products are rounded (VMULPS) before they are added (VADDPS): no FMA.

// func dotF32AVX2(acc *[16]float32, a, b *float32, n int)
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	SHRQ $4, CX
	JZ   f32done

f32loop:
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VMULPS  (DX), Y2, Y2
	VMULPS  32(DX), Y3, Y3
	VADDPS  Y2, Y0, Y0
	VADDPS  Y3, Y1, Y1
	ADDQ    $64, SI
	ADDQ    $64, DX
	DECQ    CX
	JNZ     f32loop

f32done:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VZEROUPPER
	RET

// func dotF16AVX2(acc *[16]float32, w *byte, x *float32, n int)
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	SHRQ $4, CX
	JZ   f16done

f16loop:
	VCVTPH2PS (SI), Y2
	VCVTPH2PS 16(SI), Y3
	VMULPS    (DX), Y2, Y2
	VMULPS    32(DX), Y3, Y3
	VADDPS    Y2, Y0, Y0
	VADDPS    Y3, Y1, Y1
	ADDQ      $32, SI
	ADDQ      $64, DX
	DECQ      CX
	JNZ       f16loop

f16done:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VZEROUPPER
	RET

// func dotBF16AVX2(acc *[16]float32, w *byte, x *float32, n int)
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	SHRQ $4, CX
	JZ   bf16done

bf16loop:
	VPMOVZXWD (SI), Y2
	VPMOVZXWD 16(SI), Y3
	VPSLLD    $16, Y2, Y2
	VPSLLD    $16, Y3, Y3
	VMULPS    (DX), Y2, Y2
	VMULPS    32(DX), Y3, Y3
	VADDPS    Y2, Y0, Y0
	VADDPS    Y3, Y1, Y1
	ADDQ      $32, SI
	ADDQ      $64, DX
	DECQ      CX
	JNZ       bf16loop

bf16done:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VZEROUPPER
	RET
