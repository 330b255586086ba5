#include "textflag.h"

// Activation quantisation to Q8_0/Q8_1 (act.go's quantQ8Block, bit for
// bit): per block of 32, amax, d = amax/127, id = 127/amax (0 if amax is
// 0), q = round-half-even(x·id) (cvtps2dq in the default rounding mode),
// d and s = d·Σq rounded through f16 (vcvtps2ph, round to nearest even).
// A block with a NaN or infinity, or whose id overflows, is left to the Go
// code: the function returns the number of blocks it did.

DATA qaabs<>+0(SB)/8, $0x7fffffff7fffffff
DATA qaabs<>+8(SB)/8, $0x7fffffff7fffffff
DATA qaabs<>+16(SB)/8, $0x7fffffff7fffffff
DATA qaabs<>+24(SB)/8, $0x7fffffff7fffffff
GLOBL qaabs<>(SB), RODATA|NOPTR, $32

// Dword order after the two packs: a, c, e, g | b, d, f, h → a…h.
DATA qaperm<>+0(SB)/4, $0
DATA qaperm<>+4(SB)/4, $4
DATA qaperm<>+8(SB)/4, $1
DATA qaperm<>+12(SB)/4, $5
DATA qaperm<>+16(SB)/4, $2
DATA qaperm<>+20(SB)/4, $6
DATA qaperm<>+24(SB)/4, $3
DATA qaperm<>+28(SB)/4, $7
GLOBL qaperm<>(SB), RODATA|NOPTR, $32

// func quantQ8AVX2(x *float32, qs *int8, d, s *float32, sum *int32, nb int) int
TEXT ·quantQ8AVX2(SB), NOSPLIT, $0-56
	MOVQ    x+0(FP), SI
	MOVQ    qs+8(FP), DI
	MOVQ    d+16(FP), DX
	MOVQ    s+24(FP), R8
	MOVQ    sum+32(FP), R9
	MOVQ    nb+40(FP), CX
	XORQ    R10, R10
	VMOVDQU qaabs<>(SB), Y15
	VMOVDQU qaperm<>(SB), Y14
	MOVL    $0x42fe0000, AX // 127.0
	VMOVD   AX, X13

block:
	CMPQ    R10, CX
	JGE     done
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3

	// amax: the largest |x| bits (non-negative floats order as integers).
	VPAND        Y15, Y0, Y4
	VPAND        Y15, Y1, Y5
	VPAND        Y15, Y2, Y6
	VPAND        Y15, Y3, Y7
	VPMAXUD      Y5, Y4, Y4
	VPMAXUD      Y7, Y6, Y6
	VPMAXUD      Y6, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPMAXUD      X5, X4, X4
	VPSHUFD      $0x4e, X4, X5
	VPMAXUD      X5, X4, X4
	VPSHUFD      $0xb1, X4, X5
	VPMAXUD      X5, X4, X4
	VMOVD        X4, AX
	CMPL         AX, $0x7f800000
	JAE          done            // NaN or infinity

	// d = amax/127; id = 127/amax, or 0.
	VDIVSS  X13, X4, X8
	VXORPS  X9, X9, X9
	TESTL   AX, AX
	JZ      scaled
	VDIVSS  X4, X13, X9
	VMOVD   X9, AX
	CMPL    AX, $0x7f800000
	JE      done                  // id overflows

scaled:
	VBROADCASTSS X9, Y9
	VMULPS       Y9, Y0, Y0
	VMULPS       Y9, Y1, Y1
	VMULPS       Y9, Y2, Y2
	VMULPS       Y9, Y3, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3

	// Σq
	VPADDD       Y1, Y0, Y4
	VPADDD       Y3, Y2, Y5
	VPADDD       Y5, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0x4e, X4, X5
	VPADDD       X5, X4, X4
	VPSHUFD      $0xb1, X4, X5
	VPADDD       X5, X4, X4
	VMOVD        X4, (R9)

	// q as bytes, in order.
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD    Y0, Y14, Y0
	VMOVDQU   Y0, (DI)

	// d and s through f16.
	VCVTPS2PH $0, X8, X10
	VCVTPH2PS X10, X10
	VMOVSS    X10, (DX)
	VCVTDQ2PS X4, X4
	VMULSS    X8, X4, X4
	VCVTPS2PH $0, X4, X4
	VCVTPH2PS X4, X4
	VMOVSS    X4, (R8)

	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, DX
	ADDQ $4, R8
	ADDQ $4, R9
	INCQ R10
	JMP  block

done:
	MOVQ R10, ret+48(FP)
	VZEROUPPER
	RET

// Activation quantisation to Q8_K (act.go's quantQ8KBlock, bit for bit):
// per 256 elements, maxv = the first element of largest magnitude, iscale
// = -127/maxv, q = round-half-even(iscale·x) (|q| ≤ 127, so the min with
// 127 changes nothing), Σq per 16 (int32 and int16), d = 1/iscale. Blocks
// with a NaN or infinity, all zero, or whose iscale overflows are left to
// the Go code: the function returns the number of blocks it did.

// KPAIR quantises the next 32 elements (two groups of 16): their quants to
// DI, the groups' lane sums to G0 and G1.
#define KPAIR(G0, G1) \
	VMULPS (SI), Y12, Y8; \
	VMULPS 32(SI), Y12, Y9; \
	VMULPS 64(SI), Y12, Y10; \
	VMULPS 96(SI), Y12, Y11; \
	VCVTPS2DQ Y8, Y8; \
	VCVTPS2DQ Y9, Y9; \
	VCVTPS2DQ Y10, Y10; \
	VCVTPS2DQ Y11, Y11; \
	VPADDD Y9, Y8, G0; \
	VPADDD Y11, Y10, G1; \
	VPACKSSDW Y9, Y8, Y8; \
	VPACKSSDW Y11, Y10, Y10; \
	VPACKSSWB Y10, Y8, Y8; \
	VPERMD Y8, Y13, Y8; \
	VMOVDQU Y8, (DI); \
	ADDQ $128, SI; \
	ADDQ $32, DI

// KFOLD8 folds Y0…Y7 into Y0: lane g = the sum of the lanes of Y_g.
#define KFOLD8 \
	VPHADDD Y1, Y0, Y0; \
	VPHADDD Y3, Y2, Y2; \
	VPHADDD Y2, Y0, Y0; \
	VPHADDD Y5, Y4, Y4; \
	VPHADDD Y7, Y6, Y6; \
	VPHADDD Y6, Y4, Y4; \
	VPERM2I128 $0x20, Y4, Y0, Y1; \
	VPERM2I128 $0x31, Y4, Y0, Y2; \
	VPADDD Y2, Y1, Y0

// func quantQ8KAVX2(x *float32, qs *int8, d *float32, bsum *int32, bs16 *int16, nb int) int
TEXT ·quantQ8KAVX2(SB), NOSPLIT, $0-56
	MOVQ    x+0(FP), SI
	MOVQ    qs+8(FP), DI
	MOVQ    d+16(FP), DX
	MOVQ    bsum+24(FP), R8
	MOVQ    bs16+32(FP), R9
	MOVQ    nb+40(FP), CX
	XORQ    R10, R10
	VMOVDQU qaabs<>(SB), Y15
	VMOVDQU qaperm<>(SB), Y13

kblock:
	CMPQ R10, CX
	JGE  kdone

	// amax: the largest |x| bits over 32 registers, four chains.
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	XORQ  R11, R11

kmax:
	VPAND   (SI)(R11*1), Y15, Y4
	VPAND   32(SI)(R11*1), Y15, Y5
	VPAND   64(SI)(R11*1), Y15, Y6
	VPAND   96(SI)(R11*1), Y15, Y7
	VPMAXUD Y4, Y0, Y0
	VPMAXUD Y5, Y1, Y1
	VPMAXUD Y6, Y2, Y2
	VPMAXUD Y7, Y3, Y3
	ADDQ    $128, R11
	CMPQ    R11, $1024
	JLT     kmax
	VPMAXUD      Y1, Y0, Y0
	VPMAXUD      Y3, Y2, Y2
	VPMAXUD      Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUD      X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPMAXUD      X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPMAXUD      X1, X0, X0
	VMOVD        X0, AX
	TESTL        AX, AX
	JZ           kdone            // all zero
	CMPL         AX, $0x7f800000
	JAE          kdone            // NaN or infinity

	// maxv: the first element whose |x| is amax.
	VPBROADCASTD X0, Y14
	XORQ         R11, R11

kfind:
	VPAND     (SI)(R11*4), Y15, Y4
	VPCMPEQD  Y14, Y4, Y4
	VMOVMSKPS Y4, AX
	TESTL     AX, AX
	JNZ       kfound
	ADDQ      $8, R11
	JMP       kfind

kfound:
	BSFL   AX, AX
	ADDQ   AX, R11
	MOVL   $0xc2fe0000, AX // -127.0
	VMOVD  AX, X0
	VDIVSS (SI)(R11*4), X0, X12 // iscale = -127/maxv
	VMOVD  X12, AX
	ANDL   $0x7fffffff, AX
	CMPL   AX, $0x7f800000
	JAE    kdone                  // iscale overflows
	MOVL   $0x3f800000, AX        // 1.0
	VMOVD  AX, X0
	VDIVSS X12, X0, X0
	VMOVSS X0, (DX)               // d = 1/iscale
	VBROADCASTSS X12, Y12

	// Two halves of 128: q for eight groups of 16, their sums folded.
	KPAIR(Y0, Y1)
	KPAIR(Y2, Y3)
	KPAIR(Y4, Y5)
	KPAIR(Y6, Y7)
	KFOLD8
	VMOVDQU Y0, (R8)
	VMOVDQA Y0, Y14
	KPAIR(Y0, Y1)
	KPAIR(Y2, Y3)
	KPAIR(Y4, Y5)
	KPAIR(Y6, Y7)
	KFOLD8
	VMOVDQU   Y0, 32(R8)
	VPACKSSDW Y0, Y14, Y0
	VPERMQ    $0xd8, Y0, Y0
	VMOVDQU   Y0, (R9)

	ADDQ $4, DX
	ADDQ $64, R8
	ADDQ $32, R9
	INCQ R10
	JMP  kblock

kdone:
	MOVQ R10, ret+48(FP)
	VZEROUPPER
	RET
