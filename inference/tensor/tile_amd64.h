#include "prefetch_amd64.h"

// Shared macros of the tile kernels (dotq_amd64.s, dotk_amd64.s).
//
// A tile kernel computes dst[t][r] = row r · token t for rows × tokens
// (tileArgs, simd_amd64.go), looping rows outside and tokens inside, so a
// weight row is read from memory once and then from L1 for every token.
// With accOut set (one row, one token) it stores the eight lanes instead,
// for a caller that adds a tail of blocks.
//
// Frame locals: r-8(SP) and t-16(SP), the current row and token.

#define TILE_START \
	MOVQ $0, r-8(SP); \
	MOVQ $0, t-16(SP)

// TILE_PTRS points SI at row r, DI at token t's quants, AX at the byte
// offset of token t's per-block arrays; BX holds the tileArgs.
#define TILE_PTRS \
	MOVQ a+0(FP), BX; \
	MOVQ r-8(SP), R11; \
	MOVQ t-16(SP), R12; \
	MOVQ tileArgs_rowBytes(BX), SI; \
	IMULQ R11, SI; \
	ADDQ tileArgs_w(BX), SI; \
	MOVQ tileArgs_qsStride(BX), DI; \
	IMULQ R12, DI; \
	ADDQ tileArgs_qs(BX), DI; \
	MOVQ tileArgs_bStride(BX), AX; \
	IMULQ R12, AX

// REDUCE8 folds the eight lanes of Y13 into X0 like reduce8: j+4, j+2, j+1.
#define REDUCE8 \
	VEXTRACTF128 $1, Y13, X0; \
	VADDPS X0, X13, X0; \
	VMOVHLPS X0, X0, X1; \
	VADDPS X1, X0, X0; \
	VMOVSHDUP X0, X1; \
	VADDSS X1, X0, X0

// TILE_STORE stores the result of (r, t) from Y13 and moves to the next
// pair, jumping to NEXT while pairs remain; with accOut it stores the lanes.
#define TILE_STORE(NEXT) \
	MOVQ a+0(FP), BX; \
	MOVQ tileArgs_accOut(BX), AX; \
	TESTQ AX, AX; \
	JZ 3(PC); \
	VMOVUPS Y13, (AX); \
	JMP tiledone; \
	REDUCE8; \
	MOVQ r-8(SP), R11; \
	MOVQ t-16(SP), R12; \
	MOVQ tileArgs_dstStride(BX), AX; \
	IMULQ R12, AX; \
	ADDQ tileArgs_dst(BX), AX; \
	VMOVSS X0, (AX)(R11*4); \
	INCQ R12; \
	MOVQ R12, t-16(SP); \
	CMPQ R12, tileArgs_tokens(BX); \
	JLT NEXT; \
	MOVQ $0, t-16(SP); \
	INCQ R11; \
	MOVQ R11, r-8(SP); \
	CMPQ R11, tileArgs_rows(BX); \
	JLT NEXT

// K-quant tiles (dotk_amd64.s, dotk236_amd64.s). Per super-block b the
// kernel forms isum and msum exactly in int32 (dot_k.go), then the float
// term in lane acc[b%8], kept in the frame at acc-48(SP) (frame $48).
// Registers: SI weights, DI quants, DX activation scales, R9 Σq per 16
// (int16), R10 super-block index, CX super-blocks left; Y8/Y9 isum lanes.

// KSETUP points the registers at row r and token t and clears the lanes.
#define KSETUP \
	TILE_PTRS; \
	MOVQ tileArgs_d(BX), DX; \
	ADDQ AX, DX; \
	MOVQ tileArgs_bsStride(BX), R9; \
	IMULQ R12, R9; \
	ADDQ tileArgs_bsum(BX), R9; \
	MOVQ tileArgs_blocks(BX), CX; \
	XORQ R10, R10; \
	VXORPS Y0, Y0, Y0; \
	VMOVUPS Y0, acc-48(SP)

// KLOAD moves the frame lanes to Y13 for TILE_STORE.
#define KLOAD VMOVUPS acc-48(SP), Y13

// KDOT adds the int16 pairs of T times the scales S to the int32 lanes
// ACC (AVX2: vpmaddwd + vpaddd; VNNI: vpdpwssd).
#define KDOT_AVX2(S, T, ACC) VPMADDWD S, T, T; VPADDD T, ACC, ACC
#define KDOT_VNNI(S, T, ACC) VPDPWSSD S, T, ACC

// HSUM8 sums the eight int32 lanes of Y8 into X0 lane 0.
#define HSUM8 \
	VEXTRACTI128 $1, Y8, X0; \
	VPADDD X8, X0, X0; \
	VPSHUFD $0x4e, X0, X1; \
	VPADDD X1, X0, X0; \
	VPSHUFD $0xb1, X0, X1; \
	VPADDD X1, X0, X0

// KTERM_MIN turns X0 = [isum, msum] into the term with d, dmin at OFF(SI):
// float32(isum·float32(d·dx)) - float32(msum·float32(dmin·dx)).
#define KTERM_MIN(OFF) \
	VCVTDQ2PS X0, X0; \
	VMOVD OFF(SI), X1; \
	VCVTPH2PS X1, X1; \
	VBROADCASTSS (DX), X2; \
	VMULPS X2, X1, X1; \
	VMULPS X1, X0, X0; \
	VMOVSHDUP X0, X1; \
	VSUBSS X1, X0, X0

// KTERM0 turns X0 = [isum] into float32(isum·float32(d·dx)), d at OFF(SI).
#define KTERM0(OFF) \
	VCVTDQ2PS X0, X0; \
	MOVWLZX OFF(SI), AX; \
	VMOVD AX, X1; \
	VCVTPH2PS X1, X1; \
	VMULSS (DX), X1, X1; \
	VMULSS X1, X0, X0

// KACC adds the term X0 to lane b%8 and moves to the next super-block.
#define KACC(BS) \
	PF4; \
	MOVQ R10, AX; \
	ANDQ $7, AX; \
	LEAQ acc-48(SP), BX; \
	VADDSS (BX)(AX*4), X0, X0; \
	VMOVSS X0, (BX)(AX*4); \
	INCQ R10; \
	ADDQ $BS, SI; \
	ADDQ $256, DI; \
	ADDQ $4, DX; \
	ADDQ $32, R9; \
	DECQ CX
