#include "textflag.h"

// SwiGLU, four elements at a time (AVX2): g = v/float32(1+Exp(-v))·u with
// Exp (exp.go) computed on four float64 lanes in exactly its order of
// operations, each product and sum rounded on its own (no FMA), so every
// element gets the bits the Go code gives. A group of four with an
// argument near zero, beyond ±700 or NaN stops the loop: the function
// returns how many elements it did and Go does that group.

DATA swc<>+0(SB)/8, $1.44269504088896338700e+00  // log2e
DATA swc<>+8(SB)/8, $6.93147180369123816490e-01  // ln2Hi
DATA swc<>+16(SB)/8, $1.90821492927058770002e-10 // ln2Lo
DATA swc<>+24(SB)/8, $4.13813679705723846039e-08 // p5
DATA swc<>+32(SB)/8, $-1.65339022054652515390e-06 // p4
DATA swc<>+40(SB)/8, $6.61375632143793436117e-05 // p3
DATA swc<>+48(SB)/8, $-2.77777777770155933842e-03 // p2
DATA swc<>+56(SB)/8, $1.66666666666666657415e-01 // p1
DATA swc<>+64(SB)/8, $0.5
DATA swc<>+72(SB)/8, $1.0
DATA swc<>+80(SB)/8, $2.0
DATA swc<>+88(SB)/8, $700.0
DATA swc<>+96(SB)/8, $3.7252902984619140625e-09 // 2^-28
DATA swc<>+104(SB)/8, $0x8000000000000000      // sign
DATA swc<>+112(SB)/8, $0x7fffffffffffffff      // abs
DATA swc<>+120(SB)/8, $1023
GLOBL swc<>(SB), RODATA|NOPTR, $128

#define C(i) swc<>+(8*i)(SB)

// EXPCHECK jumps to DONE if a lane of x (Y1) is one of Exp's special
// cases: NaN, |x| > 700 or |x| < 2^-28. Y15 = the sign bit.
#define EXPCHECK(DONE) \
	VBROADCASTSD C(13), Y15; \
	VBROADCASTSD C(14), Y2; \
	VANDPD    Y2, Y1, Y2; \
	VBROADCASTSD C(11), Y3; \
	VCMPPD    $0x1e, Y3, Y2, Y4; \
	VBROADCASTSD C(12), Y3; \
	VCMPPD    $0x11, Y3, Y2, Y5; \
	VORPD     Y5, Y4, Y4; \
	VCMPPD    $0x03, Y1, Y1, Y5; \
	VORPD     Y5, Y4, Y4; \
	VMOVMSKPD Y4, AX; \
	TESTL     AX, AX; \
	JNZ DONE

// EXP4 sets Y13 = Exp(Y1) lane by lane, in Exp's order of operations; Y14
// is left holding 1.0.
#define EXP4 \
	VBROADCASTSD C(0), Y3; \
	VMULPD       Y3, Y1, Y3; \
	VANDPD       Y15, Y1, Y4; \
	VBROADCASTSD C(8), Y5; \
	VORPD        Y5, Y4, Y4; \
	VADDPD       Y4, Y3, Y3; \
	VCVTTPD2DQY  Y3, X5; \
	VCVTDQ2PD    X5, Y6; \
	VBROADCASTSD C(1), Y7; \
	VMULPD       Y7, Y6, Y7; \
	VSUBPD       Y7, Y1, Y7; \
	VBROADCASTSD C(2), Y8; \
	VMULPD       Y8, Y6, Y8; \
	VSUBPD       Y8, Y7, Y9; \
	VMULPD       Y9, Y9, Y10; \
	VBROADCASTSD C(3), Y11; \
	VMULPD       Y11, Y10, Y11; \
	VBROADCASTSD C(4), Y12; \
	VADDPD       Y11, Y12, Y11; \
	VMULPD       Y11, Y10, Y11; \
	VBROADCASTSD C(5), Y12; \
	VADDPD       Y11, Y12, Y11; \
	VMULPD       Y11, Y10, Y11; \
	VBROADCASTSD C(6), Y12; \
	VADDPD       Y11, Y12, Y11; \
	VMULPD       Y11, Y10, Y11; \
	VBROADCASTSD C(7), Y12; \
	VADDPD       Y11, Y12, Y11; \
	VMULPD       Y11, Y10, Y11; \
	VSUBPD       Y11, Y9, Y12; \
	VMULPD       Y12, Y9, Y13; \
	VBROADCASTSD C(10), Y14; \
	VSUBPD       Y12, Y14, Y14; \
	VDIVPD       Y14, Y13, Y13; \
	VSUBPD       Y13, Y8, Y13; \
	VSUBPD       Y7, Y13, Y13; \
	VBROADCASTSD C(9), Y14; \
	VSUBPD       Y13, Y14, Y13; \
	VPMOVSXDQ    X5, Y5; \
	VPBROADCASTQ C(15), Y6; \
	VPADDQ       Y6, Y5, Y5; \
	VPSLLQ       $52, Y5, Y5; \
	VMULPD       Y5, Y13, Y13

// func swigluAVX2(gs, u *float32, n int) int
TEXT ·swigluAVX2(SB), NOSPLIT, $0-32
	MOVQ gs+0(FP), SI
	MOVQ u+8(FP), DI
	MOVQ n+16(FP), CX
	XORQ R10, R10

swloop:
	LEAQ      4(R10), AX
	CMPQ      AX, CX
	JGT       swdone
	VMOVUPS   (SI)(R10*4), X0 // v
	VCVTPS2PD X0, Y1
	VBROADCASTSD C(13), Y15
	VXORPD    Y15, Y1, Y1     // x = -v
	EXPCHECK(swdone)
	EXP4
	VADDPD    Y14, Y13, Y13   // 1 + e
	VCVTPD2PSY Y13, X13
	VDIVPS    X13, X0, X0     // silu = v / float32(1+e)
	VMULPS    (DI)(R10*4), X0, X0
	VMOVUPS   X0, (SI)(R10*4)
	ADDQ      $4, R10
	JMP       swloop

swdone:
	MOVQ R10, ret+24(FP)
	VZEROUPPER
	RET

// func expAVX2(x *float64, n int) int
// x[i] = Exp(x[i]), four at a time, up to the first group with a special
// case; returns how many it did.
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	XORQ R10, R10

exloop:
	LEAQ    4(R10), AX
	CMPQ    AX, CX
	JGT     exdone
	VMOVUPD (SI)(R10*8), Y1
	EXPCHECK(exdone)
	EXP4
	VMOVUPD Y13, (SI)(R10*8)
	ADDQ    $4, R10
	JMP     exloop

exdone:
	MOVQ R10, ret+16(FP)
	VZEROUPPER
	RET
