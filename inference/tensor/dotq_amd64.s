#include "textflag.h"
#include "go_asm.h"
#include "tile_amd64.h"

// Block kernels for the 32-element formats against Q8_0/Q8_1 activations
// (AVX2 + F16C; the VNNI versions use vpdpbusd on 256-bit registers).
//
// A tile kernel (tile_amd64.h) runs each (row, token) pair over the row's
// groups of eight blocks (tileArgs.blocks groups). Block i of a group gives
// its exact integer sum Σ w·q in lane i: the block's eight int32 partial
// sums are folded by VPHADDD (integer adds, exact in any order) into one
// vector of eight block sums. Then, as in dot_q.go, lane i adds
//
//	float32(float32(sumi)·float32(dw·dx)) [+ float32(mw·sx)]
//
// to acc[i]; eight consecutive blocks are exactly the eight lanes b%8 of
// the canonical order, so the caller finishes with the tail and reduce8.
//
// func xxxTile(a *tileArgs)
//
// Registers: SI weights, DI activation quants, DX activation scales, R8
// activation s (Q8_1), R9 activation Σq, CX groups left.
// Y0-Y3 block sums, Y4-Y6 scratch, Y7-Y9 Q5 bit constants, Y10/Y11 f16
// extraction masks, Y12 gather offsets, Y13 acc, Y14 0x0f bytes, Y15 int16 ones.

DATA iota8<>+0(SB)/4, $0
DATA iota8<>+4(SB)/4, $1
DATA iota8<>+8(SB)/4, $2
DATA iota8<>+12(SB)/4, $3
DATA iota8<>+16(SB)/4, $4
DATA iota8<>+20(SB)/4, $5
DATA iota8<>+24(SB)/4, $6
DATA iota8<>+28(SB)/4, $7
GLOBL iota8<>(SB), RODATA|NOPTR, $32

// Low word of each dword to the low eight bytes of each lane.
DATA f16lo<>+0(SB)/8, $0x0d0c090805040100
DATA f16lo<>+8(SB)/8, $0x8080808080808080
DATA f16lo<>+16(SB)/8, $0x0d0c090805040100
DATA f16lo<>+24(SB)/8, $0x8080808080808080
GLOBL f16lo<>(SB), RODATA|NOPTR, $32

// Low words to the low eight bytes, high words to the high eight, per lane.
DATA f16lohi<>+0(SB)/8, $0x0d0c090805040100
DATA f16lohi<>+8(SB)/8, $0x0f0e0b0a07060302
DATA f16lohi<>+16(SB)/8, $0x0d0c090805040100
DATA f16lohi<>+24(SB)/8, $0x0f0e0b0a07060302
GLOBL f16lohi<>(SB), RODATA|NOPTR, $32

DATA bytes0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA bytes0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA bytes0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA bytes0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL bytes0f<>(SB), RODATA|NOPTR, $32

DATA words1<>+0(SB)/8, $0x0001000100010001
DATA words1<>+8(SB)/8, $0x0001000100010001
DATA words1<>+16(SB)/8, $0x0001000100010001
DATA words1<>+24(SB)/8, $0x0001000100010001
GLOBL words1<>(SB), RODATA|NOPTR, $32

// Q5: byte j of the 32 fifth bits (qh broadcast) takes qh byte j/8 ...
DATA qhspread<>+0(SB)/8, $0x0000000000000000
DATA qhspread<>+8(SB)/8, $0x0101010101010101
DATA qhspread<>+16(SB)/8, $0x0202020202020202
DATA qhspread<>+24(SB)/8, $0x0303030303030303
GLOBL qhspread<>(SB), RODATA|NOPTR, $32

// ... and keeps bit j%8.
DATA bitsel<>+0(SB)/8, $0x8040201008040201
DATA bitsel<>+8(SB)/8, $0x8040201008040201
DATA bitsel<>+16(SB)/8, $0x8040201008040201
DATA bitsel<>+24(SB)/8, $0x8040201008040201
GLOBL bitsel<>(SB), RODATA|NOPTR, $32

DATA bytes10<>+0(SB)/8, $0x1010101010101010
DATA bytes10<>+8(SB)/8, $0x1010101010101010
DATA bytes10<>+16(SB)/8, $0x1010101010101010
DATA bytes10<>+24(SB)/8, $0x1010101010101010
GLOBL bytes10<>(SB), RODATA|NOPTR, $32

DATA bytes80<>+0(SB)/8, $0x8080808080808080
DATA bytes80<>+8(SB)/8, $0x8080808080808080
DATA bytes80<>+16(SB)/8, $0x8080808080808080
DATA bytes80<>+24(SB)/8, $0x8080808080808080
GLOBL bytes80<>(SB), RODATA|NOPTR, $32

// CONSTS loads the constants; BS is the block size.
#define CONSTS(BS) \
	VMOVDQU iota8<>(SB), Y12; \
	MOVL $BS, AX; \
	VMOVD AX, X0; \
	VPBROADCASTD X0, Y0; \
	VPMULLD Y0, Y12, Y12; \
	VMOVDQU f16lo<>(SB), Y11; \
	VMOVDQU f16lohi<>(SB), Y10; \
	VMOVDQU qhspread<>(SB), Y9; \
	VMOVDQU bitsel<>(SB), Y8; \
	VMOVDQU bytes10<>(SB), Y7; \
	VMOVDQU bytes0f<>(SB), Y14; \
	VMOVDQU words1<>(SB), Y15

// SETUP points the registers at row r and token t (TILE_PTRS), zeroes the
// lanes and loads the group count.
#define SETUP \
	TILE_PTRS; \
	MOVQ tileArgs_d(BX), DX; \
	ADDQ AX, DX; \
	MOVQ tileArgs_s(BX), R8; \
	ADDQ AX, R8; \
	MOVQ tileArgs_sum(BX), R9; \
	ADDQ AX, R9; \
	MOVQ tileArgs_blocks(BX), CX; \
	VXORPS Y13, Y13, Y13

// SUM8 runs BLK(i, P) for the eight blocks of a group and leaves their
// exact sums in Y0 (lane i: block i).
#define SUM8(BLK) \
	BLK(0, Y0); \
	BLK(1, Y1); \
	VPHADDD Y1, Y0, Y0; \
	BLK(2, Y1); \
	BLK(3, Y2); \
	VPHADDD Y2, Y1, Y1; \
	VPHADDD Y1, Y0, Y0; \
	BLK(4, Y1); \
	BLK(5, Y2); \
	VPHADDD Y2, Y1, Y1; \
	BLK(6, Y2); \
	BLK(7, Y3); \
	VPHADDD Y3, Y2, Y2; \
	VPHADDD Y2, Y1, Y1; \
	VPERM2I128 $0x20, Y1, Y0, Y2; \
	VPERM2I128 $0x31, Y1, Y0, Y3; \
	VPADDD Y3, Y2, Y0

// CORRECT subtracts 2^SH·Σq per block (levels stored with an offset).
#define CORRECT(SH) \
	VMOVDQU (R9), Y4; \
	VPSLLD $SH, Y4, Y4; \
	VPSUBD Y4, Y0, Y0

// SCALES8 loads the eight blocks' f16 words at offset OFF into X4.
#define SCALES8(BS, OFF) \
	MOVWLZX OFF(SI), AX; \
	VMOVD AX, X4; \
	VPINSRW $1, (BS+OFF)(SI), X4, X4; \
	VPINSRW $2, (2*BS+OFF)(SI), X4, X4; \
	VPINSRW $3, (3*BS+OFF)(SI), X4, X4; \
	VPINSRW $4, (4*BS+OFF)(SI), X4, X4; \
	VPINSRW $5, (5*BS+OFF)(SI), X4, X4; \
	VPINSRW $6, (6*BS+OFF)(SI), X4, X4; \
	VPINSRW $7, (7*BS+OFF)(SI), X4, X4

// TERM0 adds float32(float32(sumi)·float32(dw·dx)) to the lanes.
#define TERM0(BS) \
	SCALES8(BS, 0); \
	VCVTPH2PS X4, Y4; \
	VMULPS (DX), Y4, Y4; \
	VCVTDQ2PS Y0, Y0; \
	VMULPS Y4, Y0, Y0; \
	VADDPS Y0, Y13, Y13

// TERM1 adds float32(float32(sumi)·float32(dw·dx)) + float32(mw·sx).
#define TERM1 \
	VPCMPEQD Y5, Y5, Y5; \
	VPGATHERDD Y5, (SI)(Y12*1), Y4; \
	VPSHUFB Y10, Y4, Y4; \
	VPERMQ $0xd8, Y4, Y4; \
	VEXTRACTI128 $1, Y4, X5; \
	VCVTPH2PS X4, Y4; \
	VCVTPH2PS X5, Y5; \
	VMULPS (DX), Y4, Y4; \
	VCVTDQ2PS Y0, Y0; \
	VMULPS Y4, Y0, Y0; \
	VMULPS (R8), Y5, Y5; \
	VADDPS Y5, Y0, Y0; \
	VADDPS Y0, Y13, Y13

#define NEXT(BS) \
	PF5; \
	ADDQ $(8*BS), SI; \
	ADDQ $256, DI; \
	ADDQ $32, DX; \
	ADDQ $32, R8; \
	ADDQ $32, R9; \
	DECQ CX

// Integer dot of unsigned levels Y4 with quants Y5 into P.
#define UDOT_AVX2(P) \
	VPMADDUBSW Y5, Y4, Y5; \
	VPMADDWD Y15, Y5, P
#define UDOT_VNNI(P) \
	VPXOR P, P, P; \
	VPDPBUSD Y5, Y4, P

// Block loaders: unsigned levels in Y4, the block's quants in Y5.
#define NIB16(off) \
	VMOVDQU off(SI), X4; \
	VPSRLW $4, X4, X5; \
	VINSERTI128 $1, X5, Y4, Y4; \
	VPAND Y14, Y4, Y4
#define FIFTH(off) \
	VPBROADCASTD off(SI), Y6; \
	VPSHUFB Y9, Y6, Y6; \
	VPAND Y8, Y6, Y6; \
	VPCMPEQB Y8, Y6, Y6; \
	VPAND Y7, Y6, Y6; \
	VPOR Y6, Y4, Y4

// Q8_0, AVX2: sign trick (|w| unsigned, y·sign(w)); |w| ≤ 128 and |y| ≤
// 127 keep vpmaddubsw's pair sums below 2^15.
#define Q8_0_AVX2(i, P) \
	VMOVDQU (34*i+2)(SI), Y4; \
	VMOVDQU (32*i)(DI), Y5; \
	VPSIGNB Y4, Y5, Y5; \
	VPABSB Y4, Y4; \
	UDOT_AVX2(P)
// Q8_0, VNNI: w+128 unsigned (corrected by 128·Σq after the group).
#define Q8_0_VNNI(i, P) \
	VMOVDQU (34*i+2)(SI), Y4; \
	VPXOR Y6, Y4, Y4; \
	VMOVDQU (32*i)(DI), Y5; \
	UDOT_VNNI(P)

#define Q4_0_AVX2(i, P) NIB16(18*i+2); VMOVDQU (32*i)(DI), Y5; UDOT_AVX2(P)
#define Q4_0_VNNI(i, P) NIB16(18*i+2); VMOVDQU (32*i)(DI), Y5; UDOT_VNNI(P)
#define Q4_1_AVX2(i, P) NIB16(20*i+4); VMOVDQU (32*i)(DI), Y5; UDOT_AVX2(P)
#define Q4_1_VNNI(i, P) NIB16(20*i+4); VMOVDQU (32*i)(DI), Y5; UDOT_VNNI(P)
#define Q5_0_AVX2(i, P) NIB16(22*i+6); FIFTH(22*i+2); VMOVDQU (32*i)(DI), Y5; UDOT_AVX2(P)
#define Q5_0_VNNI(i, P) NIB16(22*i+6); FIFTH(22*i+2); VMOVDQU (32*i)(DI), Y5; UDOT_VNNI(P)
#define Q5_1_AVX2(i, P) NIB16(24*i+8); FIFTH(24*i+4); VMOVDQU (32*i)(DI), Y5; UDOT_AVX2(P)
#define Q5_1_VNNI(i, P) NIB16(24*i+8); FIFTH(24*i+4); VMOVDQU (32*i)(DI), Y5; UDOT_VNNI(P)

// func q8_0TileAVX2(a *tileArgs)
TEXT ·q8_0TileAVX2(SB), NOSPLIT, $16-8
	CONSTS(34)
	TILE_START
pair:
	SETUP
group:
	SUM8(Q8_0_AVX2)
	TERM0(34)
	NEXT(34)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q8_0TileVNNI(a *tileArgs)
TEXT ·q8_0TileVNNI(SB), NOSPLIT, $16-8
	CONSTS(34)
	VMOVDQU bytes80<>(SB), Y6
	TILE_START
pair:
	SETUP
group:
	SUM8(Q8_0_VNNI)
	CORRECT(7)
	TERM0(34)
	NEXT(34)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q4_0TileAVX2(a *tileArgs)
TEXT ·q4_0TileAVX2(SB), NOSPLIT, $16-8
	CONSTS(18)
	TILE_START
pair:
	SETUP
group:
	SUM8(Q4_0_AVX2)
	CORRECT(3)
	TERM0(18)
	NEXT(18)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q4_0TileVNNI(a *tileArgs)
TEXT ·q4_0TileVNNI(SB), NOSPLIT, $16-8
	CONSTS(18)
	TILE_START
pair:
	SETUP
group:
	SUM8(Q4_0_VNNI)
	CORRECT(3)
	TERM0(18)
	NEXT(18)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q5_0TileAVX2(a *tileArgs)
TEXT ·q5_0TileAVX2(SB), NOSPLIT, $16-8
	CONSTS(22)
	TILE_START
pair:
	SETUP
group:
	SUM8(Q5_0_AVX2)
	CORRECT(4)
	TERM0(22)
	NEXT(22)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q5_0TileVNNI(a *tileArgs)
TEXT ·q5_0TileVNNI(SB), NOSPLIT, $16-8
	CONSTS(22)
	TILE_START
pair:
	SETUP
group:
	SUM8(Q5_0_VNNI)
	CORRECT(4)
	TERM0(22)
	NEXT(22)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q4_1TileAVX2(a *tileArgs)
TEXT ·q4_1TileAVX2(SB), NOSPLIT, $16-8
	CONSTS(20)
	TILE_START
pair:
	SETUP
group:
	SUM8(Q4_1_AVX2)
	TERM1
	NEXT(20)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q4_1TileVNNI(a *tileArgs)
TEXT ·q4_1TileVNNI(SB), NOSPLIT, $16-8
	CONSTS(20)
	TILE_START
pair:
	SETUP
group:
	SUM8(Q4_1_VNNI)
	TERM1
	NEXT(20)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q5_1TileAVX2(a *tileArgs)
TEXT ·q5_1TileAVX2(SB), NOSPLIT, $16-8
	CONSTS(24)
	TILE_START
pair:
	SETUP
group:
	SUM8(Q5_1_AVX2)
	TERM1
	NEXT(24)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET

// func q5_1TileVNNI(a *tileArgs)
TEXT ·q5_1TileVNNI(SB), NOSPLIT, $16-8
	CONSTS(24)
	TILE_START
pair:
	SETUP
group:
	SUM8(Q5_1_VNNI)
	TERM1
	NEXT(24)
	JNZ group
	TILE_STORE(pair)
tiledone:
	VZEROUPPER
	RET
