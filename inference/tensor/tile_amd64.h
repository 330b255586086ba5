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
