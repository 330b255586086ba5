#include "textflag.h"
#include "go_asm.h"
#include "tile_amd64.h"

// Q4_K and Q5_K tile kernels (see tile_amd64.h and dot_k.go). A chunk c of
// 64 elements holds sub-block 2c in the low nibbles of 32 bytes and 2c+1 in
// the high ones (Q5_K: fifth bits j of qh for sub-block j); each sub-block
// has a 6-bit scale and min (get_scale_min_k4, unpacked as llama.cpp does).

DATA k4bytes0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA k4bytes0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA k4bytes0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA k4bytes0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL k4bytes0f<>(SB), RODATA|NOPTR, $32

DATA k4bytes10<>+0(SB)/8, $0x1010101010101010
DATA k4bytes10<>+8(SB)/8, $0x1010101010101010
DATA k4bytes10<>+16(SB)/8, $0x1010101010101010
DATA k4bytes10<>+24(SB)/8, $0x1010101010101010
GLOBL k4bytes10<>(SB), RODATA|NOPTR, $32

// k4shuf<>+32j broadcasts int16 word j of a register to all its words.
#define SHUFW(j, lo) \
	DATA k4shuf<>+(32*j)(SB)/8, $lo; \
	DATA k4shuf<>+(32*j+8)(SB)/8, $lo; \
	DATA k4shuf<>+(32*j+16)(SB)/8, $lo; \
	DATA k4shuf<>+(32*j+24)(SB)/8, $lo
SHUFW(0, 0x0100010001000100)
SHUFW(1, 0x0302030203020302)
SHUFW(2, 0x0504050405040504)
SHUFW(3, 0x0706070607060706)
SHUFW(4, 0x0908090809080908)
SHUFW(5, 0x0b0a0b0a0b0a0b0a)
SHUFW(6, 0x0d0c0d0c0d0c0d0c)
SHUFW(7, 0x0f0e0f0e0f0e0f0e)
GLOBL k4shuf<>(SB), RODATA|NOPTR, $256

// K4SCALES unpacks the twelve scale bytes at 4(SI) into the eight scales
// as int16 words in both lanes of Y6 and the eight mins as words in X7.
#define K4SCALES \
	MOVL 4(SI), AX; \
	MOVL 8(SI), R8; \
	MOVL 12(SI), R11; \
	MOVL R11, R12; \
	SHRL $4, R12; \
	ANDL $0x0f0f0f0f, R12; \
	MOVL R8, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, R12; \
	ANDL $0x3f3f3f3f, R8; \
	ANDL $0x0f0f0f0f, R11; \
	MOVL AX, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, R11; \
	ANDL $0x3f3f3f3f, AX; \
	SHLQ $32, R11; \
	ORQ R11, AX; \
	SHLQ $32, R12; \
	ORQ R12, R8; \
	VMOVQ AX, X6; \
	VPMOVZXBW X6, X6; \
	VINSERTI128 $1, X6, Y6, Y6; \
	VMOVQ R8, X7; \
	VPMOVZXBW X7, X7

// K4NIB loads chunk c's levels: sub-block 2c in Y0, 2c+1 in Y1.
#define K4NIB(c, QSOFF) \
	VMOVDQU (QSOFF+32*c)(SI), Y0; \
	VPSRLW $4, Y0, Y1; \
	VPAND Y14, Y0, Y0; \
	VPAND Y14, Y1, Y1

// K4DOT adds chunk c's Σ sc·Σq·y to Y8 (sub-block 2c) and Y9 (2c+1).
#define K4DOT(c, DOT) \
	VPMADDUBSW (64*c)(DI), Y0, Y0; \
	VPMADDUBSW (64*c+32)(DI), Y1, Y1; \
	VPSHUFB k4shuf<>+(64*c)(SB), Y6, Y2; \
	VPSHUFB k4shuf<>+(64*c+32)(SB), Y6, Y3; \
	DOT(Y2, Y0, Y8); \
	DOT(Y3, Y1, Y9)

// Fifth bit j of the qh bytes (Y10) moved to bit 4 of each byte: a word
// shift by 4-j (left) or j-4 (right) keeps every byte's own bit j there.
#define HB(SHIFT, n, Y) \
	SHIFT $n, Y10, Y4; \
	VPAND Y15, Y4, Y4; \
	VPOR Y4, Y, Y
#define QH5_0 HB(VPSLLW, 4, Y0); HB(VPSLLW, 3, Y1)
#define QH5_1 HB(VPSLLW, 2, Y0); HB(VPSLLW, 1, Y1)
#define QH5_2 HB(VPSRLW, 0, Y0); HB(VPSRLW, 1, Y1)
#define QH5_3 HB(VPSRLW, 2, Y0); HB(VPSRLW, 3, Y1)

// K4MSUM leaves [isum, msum] in X0: isum from Y8+Y9, msum from the mins
// X7 and the pair sums of the sixteen Σq words at (R9).
#define K4MSUM \
	VPADDD Y9, Y8, Y8; \
	VEXTRACTI128 $1, Y8, X0; \
	VPADDD X0, X8, X8; \
	VMOVDQU (R9), Y4; \
	VEXTRACTI128 $1, Y4, X5; \
	VPHADDW X5, X4, X4; \
	VPMADDWD X7, X4, X4; \
	VPHADDD X4, X8, X0; \
	VPHADDD X0, X0, X0

#define K4START \
	K4SCALES; \
	VPXOR Y8, Y8, Y8; \
	VPXOR Y9, Y9, Y9

#define Q4KBODY(DOT) \
	K4START; \
	K4NIB(0, 16); K4DOT(0, DOT); \
	K4NIB(1, 16); K4DOT(1, DOT); \
	K4NIB(2, 16); K4DOT(2, DOT); \
	K4NIB(3, 16); K4DOT(3, DOT); \
	K4MSUM; \
	KTERM_MIN(0)

#define Q5KBODY(DOT) \
	VMOVDQU 16(SI), Y10; \
	K4START; \
	K4NIB(0, 48); QH5_0; K4DOT(0, DOT); \
	K4NIB(1, 48); QH5_1; K4DOT(1, DOT); \
	K4NIB(2, 48); QH5_2; K4DOT(2, DOT); \
	K4NIB(3, 48); QH5_3; K4DOT(3, DOT); \
	K4MSUM; \
	KTERM_MIN(0)

#define K4CONSTS \
	VMOVDQU k4bytes0f<>(SB), Y14; \
	VMOVDQU k4bytes10<>(SB), Y15

// func q4KTileAVX2(a *tileArgs)
TEXT ·q4KTileAVX2(SB), NOSPLIT, $48-8
	K4CONSTS
	TILE_START
pair:
	KSETUP
sb:
	Q4KBODY(KDOT_AVX2)
	KACC(144)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q4KTileVNNI(a *tileArgs)
TEXT ·q4KTileVNNI(SB), NOSPLIT, $48-8
	K4CONSTS
	TILE_START
pair:
	KSETUP
sb:
	Q4KBODY(KDOT_VNNI)
	KACC(144)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q5KTileAVX2(a *tileArgs)
TEXT ·q5KTileAVX2(SB), NOSPLIT, $48-8
	K4CONSTS
	TILE_START
pair:
	KSETUP
sb:
	Q5KBODY(KDOT_AVX2)
	KACC(176)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q5KTileVNNI(a *tileArgs)
TEXT ·q5KTileVNNI(SB), NOSPLIT, $48-8
	K4CONSTS
	TILE_START
pair:
	KSETUP
sb:
	Q5KBODY(KDOT_VNNI)
	KACC(176)
	JNZ sb
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET
