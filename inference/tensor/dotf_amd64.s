#include "textflag.h"
#include "prefetch_amd64.h"

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
	PREFETCHT0 (PF_DIST)(SI)
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
	PREFETCHT0 (PF_DIST)(SI)
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
	PREFETCHT0 (PF_DIST)(SI)
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

// func dotRowsAVX2(dst, x, rows *float32, n, count, stride int)
// dst[j] = DotF32(x[:n], rows[j*stride:]) for j < count; n%16 == 0.
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), DX
	MOVQ n+24(FP), R8
	MOVQ count+32(FP), R9
	MOVQ stride+40(FP), R10
	SHLQ $2, R10
	SHRQ $4, R8

rowsloop:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	MOVQ   SI, AX
	MOVQ   DX, BX
	MOVQ   R8, CX

rowsinner:
	VMOVUPS (AX), Y2
	VMOVUPS 32(AX), Y3
	VMULPS  (BX), Y2, Y2
	VMULPS  32(BX), Y3, Y3
	VADDPS  Y2, Y0, Y0
	VADDPS  Y3, Y1, Y1
	ADDQ    $64, AX
	ADDQ    $64, BX
	DECQ    CX
	JNZ     rowsinner

	// reduce16: j+8, j+4, j+2, j+1.
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	VMOVSS       X0, (DI)
	ADDQ         $4, DI
	ADDQ         R10, DX
	DECQ         R9
	JNZ          rowsloop
	VZEROUPPER
	RET

// func addScaledAVX2(dst *float32, a float32, x *float32, n int)
// dst[i] += float32(a·x[i]) for i < n; n%8 == 0.
TEXT ·addScaledAVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	VBROADCASTSS a+8(FP), Y0
	MOVQ         x+16(FP), SI
	MOVQ         n+24(FP), CX
	SHRQ         $3, CX

axpyloop:
	VMULPS  (SI), Y0, Y1
	VADDPS  (DI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     axpyloop
	VZEROUPPER
	RET

// func addRowsAVX2(dst, w, rows *float32, n, count, stride int)
// dst[i] += float32(w[j]·rows[j*stride+i]) for j < count, in order, for
// i < n (n%8 == 0): columns of 32 floats (then of 8) stay in registers
// while the rows stream by.
TEXT ·addRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ rows+16(FP), DX
	MOVQ n+24(FP), R8
	MOVQ count+32(FP), R9
	MOVQ stride+40(FP), R10
	SHLQ $2, R10

cols32:
	CMPQ    R8, $32
	JLT     cols8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	MOVQ    SI, AX
	MOVQ    DX, BX
	MOVQ    R9, CX

rows32:
	VBROADCASTSS (AX), Y4
	VMULPS       (BX), Y4, Y5
	VMULPS       32(BX), Y4, Y6
	VMULPS       64(BX), Y4, Y7
	VMULPS       96(BX), Y4, Y8
	VADDPS       Y5, Y0, Y0
	VADDPS       Y6, Y1, Y1
	VADDPS       Y7, Y2, Y2
	VADDPS       Y8, Y3, Y3
	ADDQ         $4, AX
	ADDQ         R10, BX
	DECQ         CX
	JNZ          rows32
	VMOVUPS      Y0, (DI)
	VMOVUPS      Y1, 32(DI)
	VMOVUPS      Y2, 64(DI)
	VMOVUPS      Y3, 96(DI)
	ADDQ         $128, DI
	ADDQ         $128, DX
	SUBQ         $32, R8
	JMP          cols32

cols8:
	CMPQ    R8, $8
	JLT     rowsdone
	VMOVUPS (DI), Y0
	MOVQ    SI, AX
	MOVQ    DX, BX
	MOVQ    R9, CX

rows8:
	VBROADCASTSS (AX), Y4
	VMULPS       (BX), Y4, Y5
	VADDPS       Y5, Y0, Y0
	ADDQ         $4, AX
	ADDQ         R10, BX
	DECQ         CX
	JNZ          rows8
	VMOVUPS      Y0, (DI)
	ADDQ         $32, DI
	ADDQ         $32, DX
	SUBQ         $8, R8
	JMP          cols8

rowsdone:
	VZEROUPPER
	RET
