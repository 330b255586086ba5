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

// Q4_K with the integer folds and the float terms vectorised over eight
// super-blocks (the one-token kernel of decode). A super-block leaves its
// eight isum partials (Σ sc·Σq·y per lane) and eight msum partials
// (m_j·Σq of sub-block j) in the frame; after a group of eight, which are
// exactly the eight canonical lanes, two folds give the eight isum and msum
// in the lanes of two registers (exact integers, any order) and one vector
// computes the eight terms and adds them to Y13. Super-blocks past the last
// whole group take the path above (frame lanes, KACC). The scales are
// unpacked with byte shuffles.

// k4vlo/k4vhi gather q0-3 q8-11 q4-7 q8-11 and, for the high bits, 0 q0-3
// 0 q4-7 of the twelve scale bytes q; then scales (bytes 0-7) and mins
// (bytes 8-15) are lo&m1 | (lo>>4)&m2 | (hi>>6&3)<<4.
DATA k4vlo<>+0(SB)/8, $0x0b0a090803020100
DATA k4vlo<>+8(SB)/8, $0x0b0a090807060504
GLOBL k4vlo<>(SB), RODATA|NOPTR, $16
DATA k4vhi<>+0(SB)/8, $0x0302010080808080
DATA k4vhi<>+8(SB)/8, $0x0706050480808080
GLOBL k4vhi<>(SB), RODATA|NOPTR, $16
DATA k4vm1<>+0(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA k4vm1<>+8(SB)/8, $0x000000003f3f3f3f
GLOBL k4vm1<>(SB), RODATA|NOPTR, $16
DATA k4vm2<>+0(SB)/8, $0x0000000000000000
DATA k4vm2<>+8(SB)/8, $0x0f0f0f0f00000000
GLOBL k4vm2<>(SB), RODATA|NOPTR, $16
DATA k4v03<>+0(SB)/8, $0x0303030303030303
DATA k4v03<>+8(SB)/8, $0x0303030303030303
GLOBL k4v03<>(SB), RODATA|NOPTR, $16
// Each min twice: bytes 8, 8, 9, 9, … 15, 15.
DATA k4vmdup<>+0(SB)/8, $0x0b0b0a0a09090808
DATA k4vmdup<>+8(SB)/8, $0x0f0f0e0e0d0d0c0c
GLOBL k4vmdup<>(SB), RODATA|NOPTR, $16

// Low words of the dwords to the low eight bytes, high words to the high.
DATA k4vf16<>+0(SB)/8, $0x0d0c090805040100
DATA k4vf16<>+8(SB)/8, $0x0f0e0b0a07060302
DATA k4vf16<>+16(SB)/8, $0x0d0c090805040100
DATA k4vf16<>+24(SB)/8, $0x0f0e0b0a07060302
GLOBL k4vf16<>(SB), RODATA|NOPTR, $32

// K4VSCALES: the scales as words in both lanes of Y6; each min as two
// words (for the two Σq of its sub-block) in Y7.
#define K4VSCALES \
	VMOVDQU 4(SI), X4; \
	VPSHUFB k4vlo<>(SB), X4, X5; \
	VPSHUFB k4vhi<>(SB), X4, X6; \
	VPSRLW $6, X6, X6; \
	VPAND k4v03<>(SB), X6, X6; \
	VPSLLW $4, X6, X6; \
	VPSRLW $4, X5, X4; \
	VPAND k4vm2<>(SB), X4, X4; \
	VPAND k4vm1<>(SB), X5, X5; \
	VPOR X4, X5, X5; \
	VPOR X6, X5, X5; \
	VPMOVZXBW X5, X6; \
	VPSHUFB k4vmdup<>(SB), X5, X7; \
	VPMOVZXBW X7, Y7; \
	VINSERTI128 $1, X6, Y6, Y6

// K4VSB: one super-block; its partials go to frame row J.
#define K4VSB(J, DOT) \
	PF3; \
	K4VSCALES; \
	VPXOR Y8, Y8, Y8; \
	VPXOR Y9, Y9, Y9; \
	K4NIB(0, 16); K4DOT(0, DOT); \
	K4NIB(1, 16); K4DOT(1, DOT); \
	K4NIB(2, 16); K4DOT(2, DOT); \
	K4NIB(3, 16); K4DOT(3, DOT); \
	VPADDD Y9, Y8, Y8; \
	VMOVDQU Y8, ibuf-(304-32*J)(SP); \
	VPMADDWD (R9), Y7, Y7; \
	VMOVDQU Y7, mbuf-(560-32*J)(SP); \
	ADDQ $144, SI; \
	ADDQ $256, DI; \
	ADDQ $32, R9

// K4VFOLD folds the eight frame rows at -OFF(SP) into Y0: lane j = the sum of row j.
#define K4VFOLD(OFF) \
	VMOVDQU b-(OFF)(SP), Y0; \
	VMOVDQU b-(OFF-32)(SP), Y1; \
	VMOVDQU b-(OFF-64)(SP), Y2; \
	VMOVDQU b-(OFF-96)(SP), Y3; \
	VMOVDQU b-(OFF-128)(SP), Y4; \
	VMOVDQU b-(OFF-160)(SP), Y5; \
	VMOVDQU b-(OFF-192)(SP), Y6; \
	VMOVDQU b-(OFF-224)(SP), Y7; \
	VPHADDD Y1, Y0, Y0; \
	VPHADDD Y3, Y2, Y2; \
	VPHADDD Y2, Y0, Y0; \
	VPHADDD Y5, Y4, Y4; \
	VPHADDD Y7, Y6, Y6; \
	VPHADDD Y6, Y4, Y4; \
	VPERM2I128 $0x20, Y4, Y0, Y1; \
	VPERM2I128 $0x31, Y4, Y0, Y2; \
	VPADDD Y2, Y1, Y0

// K4VGROUP: eight super-blocks, then their eight terms
// float32(isum·float32(d·dx)) - float32(msum·float32(dmin·dx)) into Y13.
#define K4VGROUP(DOT) \
	MOVQ SI, R12; \
	K4VSB(0, DOT); \
	K4VSB(1, DOT); \
	K4VSB(2, DOT); \
	K4VSB(3, DOT); \
	K4VSB(4, DOT); \
	K4VSB(5, DOT); \
	K4VSB(6, DOT); \
	K4VSB(7, DOT); \
	K4VFOLD(304); \
	VCVTDQ2PS Y0, Y10; \
	K4VFOLD(560); \
	VCVTDQ2PS Y0, Y12; \
	VMOVD (R12), X4; \
	VPINSRD $1, 144(R12), X4, X4; \
	VPINSRD $2, 288(R12), X4, X4; \
	VPINSRD $3, 432(R12), X4, X4; \
	VMOVD 576(R12), X5; \
	VPINSRD $1, 720(R12), X5, X5; \
	VPINSRD $2, 864(R12), X5, X5; \
	VPINSRD $3, 1008(R12), X5, X5; \
	VINSERTI128 $1, X5, Y4, Y4; \
	VPSHUFB k4vf16<>(SB), Y4, Y4; \
	VPERMQ $0xd8, Y4, Y4; \
	VEXTRACTI128 $1, Y4, X5; \
	VCVTPH2PS X4, Y4; \
	VCVTPH2PS X5, Y5; \
	VMOVUPS (DX), Y1; \
	VMULPS Y1, Y4, Y4; \
	VMULPS Y1, Y5, Y5; \
	VMULPS Y4, Y10, Y10; \
	VMULPS Y5, Y12, Y12; \
	VSUBPS Y12, Y10, Y10; \
	VADDPS Y10, Y13, Y13; \
	ADDQ $32, DX

#define K4VTILE(DOT) \
	VMOVDQU k4bytes0f<>(SB), Y14; \
	TILE_START

// func q4KVTileAVX2(a *tileArgs)
TEXT ·q4KVTileAVX2(SB), NOSPLIT, $560-8
	K4VTILE(KDOT_AVX2)
pair:
	KSETUP
	VXORPS Y13, Y13, Y13
	CMPQ   CX, $8
	JLT    tail
group:
	K4VGROUP(KDOT_AVX2)
	ADDQ $8, R10
	SUBQ $8, CX
	CMPQ CX, $8
	JGE  group
tail:
	VMOVUPS Y13, acc-48(SP)
	TESTQ   CX, CX
	JZ      fin
tailsb:
	Q4KBODY(KDOT_AVX2)
	KACC(144)
	JNZ tailsb
fin:
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q4KVTileVNNI(a *tileArgs)
TEXT ·q4KVTileVNNI(SB), NOSPLIT, $560-8
	K4VTILE(KDOT_VNNI)
pair:
	KSETUP
	VXORPS Y13, Y13, Y13
	CMPQ   CX, $8
	JLT    tail
group:
	K4VGROUP(KDOT_VNNI)
	ADDQ $8, R10
	SUBQ $8, CX
	CMPQ CX, $8
	JGE  group
tail:
	VMOVUPS Y13, acc-48(SP)
	TESTQ   CX, CX
	JZ      fin
tailsb:
	Q4KBODY(KDOT_VNNI)
	KACC(144)
	JNZ tailsb
fin:
	KLOAD
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET
