#include "textflag.h"
#include "go_asm.h"
#include "tile_amd64.h"

// Q6_K, Q2_K and Q3_K tile kernels (see tile_amd64.h and dot_k.go). These
// formats have a scale per 16 elements. A half c (128 elements) splits into
// four runs k of 32 elements, the first 16 in group 8c+2k and the rest in
// group 8c+2k+1; the sixteen scales as int16 words are permuted so that one
// register holds the pair's scales in its two lanes.

#define BYTES(name, v) \
	DATA name<>+0(SB)/8, $v; \
	DATA name<>+8(SB)/8, $v; \
	DATA name<>+16(SB)/8, $v; \
	DATA name<>+24(SB)/8, $v; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

BYTES(k6b0f, 0x0f0f0f0f0f0f0f0f)
BYTES(k6b30, 0x3030303030303030)
BYTES(k6b03, 0x0303030303030303)
BYTES(k6b04, 0x0404040404040404)
BYTES(k6w32, 0x0020002000200020)

// k6shuf<>+32k: low lane all word 2k, high lane all word 2k+1.
#define SHUF2(k, lo, hi) \
	DATA k6shuf<>+(32*k)(SB)/8, $lo; \
	DATA k6shuf<>+(32*k+8)(SB)/8, $lo; \
	DATA k6shuf<>+(32*k+16)(SB)/8, $hi; \
	DATA k6shuf<>+(32*k+24)(SB)/8, $hi
SHUF2(0, 0x0100010001000100, 0x0302030203020302)
SHUF2(1, 0x0504050405040504, 0x0706070607060706)
SHUF2(2, 0x0908090809080908, 0x0b0a0b0a0b0a0b0a)
SHUF2(3, 0x0d0c0d0c0d0c0d0c, 0x0f0e0f0e0f0e0f0e)
GLOBL k6shuf<>(SB), RODATA|NOPTR, $128

// HALF c: the scales of half c (words 8c..8c+7) in both lanes of Y5.
#define HALF0 VPERMQ $0x44, Y6, Y5
#define HALF1 VPERMQ $0xee, Y6, Y5

// RUN adds run k of half c, levels in Y2, to ACC: Σ sc·Σ q·y.
#define RUN(c, k, ACC, DOT) \
	VPMADDUBSW (128*c+32*k)(DI), Y2, Y2; \
	VPSHUFB k6shuf<>+(32*k)(SB), Y5, Y4; \
	DOT(Y4, Y2, ACC)

// Q6_K: level = low nibble of ql (high nibble for k ≥ 2) | two bits of qh
// moved to bits 4-5 (a word shift keeps each byte's bits in the byte
// before the mask); value level-32, corrected by 32·Σ sc·Σq per group.
#define Q6LO(QL) VPAND Y14, QL, Y2
#define Q6HI(QL) VPSRLW $4, QL, Y2; VPAND Y14, Y2, Y2
#define Q6QH(SHIFT, n) \
	SHIFT $n, Y3, Y4; \
	VPAND Y15, Y4, Y4; \
	VPOR Y4, Y2, Y2

#define Q6HALF(c, PERM, DOT) \
	VMOVDQU (64*c)(SI), Y0; \
	VMOVDQU (64*c+32)(SI), Y1; \
	VMOVDQU (128+32*c)(SI), Y3; \
	PERM; \
	Q6LO(Y0); Q6QH(VPSLLW, 4); RUN(c, 0, Y8, DOT); \
	Q6LO(Y1); Q6QH(VPSLLW, 2); RUN(c, 1, Y9, DOT); \
	Q6HI(Y0); Q6QH(VPSRLW, 0); RUN(c, 2, Y8, DOT); \
	Q6HI(Y1); Q6QH(VPSRLW, 2); RUN(c, 3, Y9, DOT)

#define Q6BODY(DOT) \
	VPMOVSXBW 192(SI), Y6; \
	VPXOR Y8, Y8, Y8; \
	VPXOR Y9, Y9, Y9; \
	Q6HALF(0, HALF0, DOT); \
	Q6HALF(1, HALF1, DOT); \
	VPMADDWD (R9), Y6, Y4; \
	VPSLLD $5, Y4, Y4; \
	VPADDD Y9, Y8, Y8; \
	VPSUBD Y4, Y8, Y8; \
	HSUM8; \
	KTERM0(208)

// Q2_K: level = two bits 2k of qs; scales and mins are the nibbles of the
// sixteen scale bytes; msum = Σ m·Σq.
#define Q2RUN(c, k, ACC, DOT) \
	VPSRLW $(2*k), Y0, Y2; \
	VPAND Y15, Y2, Y2; \
	RUN(c, k, ACC, DOT)

#define Q2HALF(c, PERM, DOT) \
	VMOVDQU (16+32*c)(SI), Y0; \
	PERM; \
	Q2RUN(c, 0, Y8, DOT); \
	Q2RUN(c, 1, Y9, DOT); \
	Q2RUN(c, 2, Y8, DOT); \
	Q2RUN(c, 3, Y9, DOT)

#define Q2BODY(DOT) \
	VMOVDQU (SI), X4; \
	VPAND X14, X4, X5; \
	VPMOVZXBW X5, Y6; \
	VPSRLW $4, X4, X5; \
	VPAND X14, X5, X5; \
	VPMOVZXBW X5, Y7; \
	VPMADDWD (R9), Y7, Y11; \
	VPXOR Y8, Y8, Y8; \
	VPXOR Y9, Y9, Y9; \
	Q2HALF(0, HALF0, DOT); \
	Q2HALF(1, HALF1, DOT); \
	VPADDD Y9, Y8, Y8; \
	VEXTRACTI128 $1, Y8, X0; \
	VPADDD X0, X8, X8; \
	VEXTRACTI128 $1, Y11, X0; \
	VPADDD X0, X11, X11; \
	VPHADDD X11, X8, X0; \
	VPHADDD X0, X0, X0; \
	KTERM_MIN(80)

// Q3_K: level = two bits 2k of qs | bit 4c+k of hmask (Y10) moved to bit
// 2; value level-4, corrected by 4·Σ sc·Σq; scales 6-bit minus 32,
// unpacked as llama.cpp does.
#define Q3RUN(c, k, SHIFT, n, ACC, DOT) \
	VPSRLW $(2*k), Y0, Y2; \
	VPAND Y14, Y2, Y2; \
	SHIFT $n, Y10, Y4; \
	VPAND Y15, Y4, Y4; \
	VPOR Y4, Y2, Y2; \
	RUN(c, k, ACC, DOT)

#define Q3SCALES \
	MOVL 96(SI), AX; \
	MOVL 100(SI), R8; \
	MOVL 104(SI), R11; \
	MOVL AX, R12; \
	SHRL $4, R12; \
	ANDL $0x0f0f0f0f, R12; \
	MOVL R11, R13; \
	SHRL $4, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, R12; \
	ANDL $0x0f0f0f0f, AX; \
	MOVL R11, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, AX; \
	MOVL R8, R13; \
	ANDL $0x0f0f0f0f, R13; \
	MOVL R11, BX; \
	SHRL $2, BX; \
	ANDL $0x03030303, BX; \
	SHLL $4, BX; \
	ORL BX, R13; \
	SHLQ $32, R13; \
	ORQ R13, AX; \
	SHRL $4, R8; \
	ANDL $0x0f0f0f0f, R8; \
	SHRL $6, R11; \
	ANDL $0x03030303, R11; \
	SHLL $4, R11; \
	ORL R11, R8; \
	SHLQ $32, R8; \
	ORQ R12, R8; \
	VMOVQ AX, X6; \
	VPINSRQ $1, R8, X6, X6; \
	VPMOVZXBW X6, Y6; \
	VPSUBW Y11, Y6, Y6

#define Q3BODY(DOT) \
	Q3SCALES; \
	VMOVDQU (SI), Y10; \
	VPXOR Y8, Y8, Y8; \
	VPXOR Y9, Y9, Y9; \
	VMOVDQU 32(SI), Y0; \
	HALF0; \
	Q3RUN(0, 0, VPSLLW, 2, Y8, DOT); \
	Q3RUN(0, 1, VPSLLW, 1, Y9, DOT); \
	Q3RUN(0, 2, VPSRLW, 0, Y8, DOT); \
	Q3RUN(0, 3, VPSRLW, 1, Y9, DOT); \
	VMOVDQU 64(SI), Y0; \
	HALF1; \
	Q3RUN(1, 0, VPSRLW, 2, Y8, DOT); \
	Q3RUN(1, 1, VPSRLW, 3, Y9, DOT); \
	Q3RUN(1, 2, VPSRLW, 4, Y8, DOT); \
	Q3RUN(1, 3, VPSRLW, 5, Y9, DOT); \
	VPMADDWD (R9), Y6, Y4; \
	VPSLLD $2, Y4, Y4; \
	VPADDD Y9, Y8, Y8; \
	VPSUBD Y4, Y8, Y8; \
	HSUM8; \
	KTERM0(108)

// func q6KTileAVX2(a *tileArgs)
TEXT ·q6KTileAVX2(SB), NOSPLIT, $48-8
	VMOVDQU k6b0f<>(SB), Y14
	VMOVDQU k6b30<>(SB), Y15
	TILE_START
pair:
	KSETUP
sb:
	Q6BODY(KDOT_AVX2)
	KACC(210)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q6KTileVNNI(a *tileArgs)
TEXT ·q6KTileVNNI(SB), NOSPLIT, $48-8
	VMOVDQU k6b0f<>(SB), Y14
	VMOVDQU k6b30<>(SB), Y15
	TILE_START
pair:
	KSETUP
sb:
	Q6BODY(KDOT_VNNI)
	KACC(210)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q2KTileAVX2(a *tileArgs)
TEXT ·q2KTileAVX2(SB), NOSPLIT, $48-8
	VMOVDQU k6b0f<>(SB), Y14
	VMOVDQU k6b03<>(SB), Y15
	TILE_START
pair:
	KSETUP
sb:
	Q2BODY(KDOT_AVX2)
	KACC(84)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q2KTileVNNI(a *tileArgs)
TEXT ·q2KTileVNNI(SB), NOSPLIT, $48-8
	VMOVDQU k6b0f<>(SB), Y14
	VMOVDQU k6b03<>(SB), Y15
	TILE_START
pair:
	KSETUP
sb:
	Q2BODY(KDOT_VNNI)
	KACC(84)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q3KTileAVX2(a *tileArgs)
TEXT ·q3KTileAVX2(SB), NOSPLIT, $48-8
	VMOVDQU k6b03<>(SB), Y14
	VMOVDQU k6b04<>(SB), Y15
	VMOVDQU k6w32<>(SB), Y11
	TILE_START
pair:
	KSETUP
sb:
	Q3BODY(KDOT_AVX2)
	KACC(110)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q3KTileVNNI(a *tileArgs)
TEXT ·q3KTileVNNI(SB), NOSPLIT, $48-8
	VMOVDQU k6b03<>(SB), Y14
	VMOVDQU k6b04<>(SB), Y15
	VMOVDQU k6w32<>(SB), Y11
	TILE_START
pair:
	KSETUP
sb:
	Q3BODY(KDOT_VNNI)
	KACC(110)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET
