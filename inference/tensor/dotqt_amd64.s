#include "textflag.h"
#include "go_asm.h"
#include "prefetch_amd64.h"

// Multi-token kernels for Q8_0, Q4_0 and Q4_1 (AVX512-VNNI on 256-bit
// registers), for prefill. They give exactly the canonical block terms of
// dot_q.go, computed another way round.
//
// A group of eight blocks is transposed once per row: register k (Y0-Y7)
// holds, in lane i, four weight levels of block i (dword k of its 32-byte
// level vector). The activations were transposed the same way when they
// were quantised (qbuf.qt), so eight vpdpbusd give the exact integer sums of
// the eight blocks in the eight lanes, with no horizontal adds. The scales
// and the float terms then follow dot_q.go lane by lane, and the eight
// lanes are the canonical acc[b%8]. The transposition is shared by up to
// eight tokens, whose lanes wait in the frame (acc-320(SP), eight rows of 32 bytes).
//
// Loops: token blocks of eight (outside), rows, groups, tokens (inside).
// Registers in the token loop: Y0-Y7 weights, Y8 dw, Y15 mw (Q4_1), Y9/Y10
// scratch, R11 quants, R12 scales, R13 Σq or s, BX lanes, R10 tokens left.
// Frame: r-8 row, t0-16 first token, tt-24 tokens in the block, qs-32 and
// bs-40 the token strides.

#define MT_START \
	MOVQ a+0(FP), BX; \
	MOVQ tileArgs_qsStride(BX), AX; \
	MOVQ AX, qs-32(SP); \
	MOVQ tileArgs_bStride(BX), AX; \
	MOVQ AX, bs-40(SP); \
	MOVQ $0, t0-16(SP)

// MT_TOKBLOCK sets tt = min(8, tokens - t0) and starts at row 0.
#define MT_TOKBLOCK \
	MOVQ a+0(FP), BX; \
	MOVQ tileArgs_tokens(BX), AX; \
	SUBQ t0-16(SP), AX; \
	MOVQ $8, CX; \
	CMPQ AX, CX; \
	CMOVQGT CX, AX; \
	MOVQ AX, tt-24(SP); \
	MOVQ $0, r-8(SP)

// MT_ROW clears the lanes and points SI at row r, R8 at token t0's
// transposed quants, DX at its scales, R9 at its Σq (or s); CX = groups.
// SUMS names the per-block array R9 walks (tileArgs_sum or tileArgs_s).
#define MT_ROW(SUMS) \
	VPXOR Y0, Y0, Y0; \
	VMOVUPS Y0, acc-320(SP); \
	VMOVUPS Y0, acc-288(SP); \
	VMOVUPS Y0, acc-256(SP); \
	VMOVUPS Y0, acc-224(SP); \
	VMOVUPS Y0, acc-192(SP); \
	VMOVUPS Y0, acc-160(SP); \
	VMOVUPS Y0, acc-128(SP); \
	VMOVUPS Y0, acc-96(SP); \
	MOVQ a+0(FP), BX; \
	MOVQ r-8(SP), SI; \
	IMULQ tileArgs_rowBytes(BX), SI; \
	ADDQ tileArgs_w(BX), SI; \
	MOVQ t0-16(SP), AX; \
	MOVQ AX, R10; \
	IMULQ qs-32(SP), AX; \
	ADDQ tileArgs_qt(BX), AX; \
	MOVQ AX, R8; \
	IMULQ bs-40(SP), R10; \
	MOVQ tileArgs_d(BX), DX; \
	ADDQ R10, DX; \
	MOVQ SUMS(BX), R9; \
	ADDQ R10, R9; \
	MOVQ tileArgs_blocks(BX), CX

// MT_TOKENS_BEGIN points the token loop at group g of token t0.
#define MT_TOKENS_BEGIN \
	MOVQ R8, R11; \
	MOVQ DX, R12; \
	MOVQ R9, R13; \
	LEAQ acc-320(SP), BX; \
	MOVQ tt-24(SP), R10

// MT_DOT8 sums the eight blocks of one token: Y9 lane i = Σ w·q of block i.
// Four accumulators (Y9, Y20-Y22) keep the chain of dependent vpdpbusd
// short: one token has no other work to hide its latency behind, and
// integer sums are exact in any order.
#define MT_DOT8 \
	VPXORD Y9, Y9, Y9; \
	VPXORD Y20, Y20, Y20; \
	VPXORD Y21, Y21, Y21; \
	VPXORD Y22, Y22, Y22; \
	VPDPBUSD (R11), Y0, Y9; \
	VPDPBUSD 32(R11), Y1, Y20; \
	VPDPBUSD 64(R11), Y2, Y21; \
	VPDPBUSD 96(R11), Y3, Y22; \
	VPDPBUSD 128(R11), Y4, Y9; \
	VPDPBUSD 160(R11), Y5, Y20; \
	VPDPBUSD 192(R11), Y6, Y21; \
	VPDPBUSD 224(R11), Y7, Y22; \
	VPADDD Y20, Y9, Y9; \
	VPADDD Y22, Y21, Y21; \
	VPADDD Y21, Y9, Y9

// MT_CORRECT subtracts 2^SH·Σq (levels stored with an offset).
#define MT_CORRECT(SH) \
	VMOVDQU (R13), Y10; \
	VPSLLD $SH, Y10, Y10; \
	VPSUBD Y10, Y9, Y9

// MT_TERM0 adds float32(float32(sumi)·float32(dw·dx)) to the token's lanes.
#define MT_TERM0 \
	VCVTDQ2PS Y9, Y9; \
	VMULPS (R12), Y8, Y10; \
	VMULPS Y10, Y9, Y9; \
	VADDPS (BX), Y9, Y9; \
	VMOVUPS Y9, (BX)

// MT_TERM1 adds float32(float32(sumi)·float32(dw·dx)) + float32(mw·sx).
#define MT_TERM1 \
	VCVTDQ2PS Y9, Y9; \
	VMULPS (R12), Y8, Y10; \
	VMULPS Y10, Y9, Y9; \
	VMULPS (R13), Y15, Y10; \
	VADDPS Y10, Y9, Y9; \
	VADDPS (BX), Y9, Y9; \
	VMOVUPS Y9, (BX)

#define MT_TOKENS_NEXT \
	ADDQ qs-32(SP), R11; \
	ADDQ bs-40(SP), R12; \
	ADDQ bs-40(SP), R13; \
	ADDQ $32, BX; \
	DECQ R10

// MT_GROUP_NEXT moves to the next group of eight blocks of BS bytes.
#define MT_GROUP_NEXT(BS) \
	ADDQ $(8*BS), SI; \
	ADDQ $256, R8; \
	ADDQ $32, DX; \
	ADDQ $32, R9; \
	DECQ CX

// MT_STORE reduces the lanes of the block's tokens (reduce8) into dst
// and moves to the next row, then to the next token block.
#define MT_STORE(ROW, TOKBLOCK) \
	MOVQ a+0(FP), BX; \
	LEAQ acc-320(SP), R11; \
	MOVQ tileArgs_dstStride(BX), R12; \
	MOVQ t0-16(SP), AX; \
	IMULQ R12, AX; \
	ADDQ tileArgs_dst(BX), AX; \
	MOVQ r-8(SP), R13; \
	LEAQ (AX)(R13*4), AX; \
	MOVQ tt-24(SP), R10; \
	VMOVUPS (R11), Y13; \
	VEXTRACTF128 $1, Y13, X0; \
	VADDPS X0, X13, X0; \
	VMOVHLPS X0, X0, X1; \
	VADDPS X1, X0, X0; \
	VMOVSHDUP X0, X1; \
	VADDSS X1, X0, X0; \
	VMOVSS X0, (AX); \
	ADDQ $32, R11; \
	ADDQ R12, AX; \
	DECQ R10; \
	JNZ -11(PC); \
	INCQ R13; \
	MOVQ R13, r-8(SP); \
	CMPQ R13, tileArgs_rows(BX); \
	JLT ROW; \
	MOVQ t0-16(SP), AX; \
	ADDQ $8, AX; \
	MOVQ AX, t0-16(SP); \
	CMPQ AX, tileArgs_tokens(BX); \
	JLT TOKBLOCK

// SCALES8 loads the eight blocks' f16 words at OFF into X and converts
// them to float32 in Y.
#define SCALES8(BS, OFF, X, Y) \
	MOVWLZX OFF(SI), AX; \
	VMOVD AX, X; \
	VPINSRW $1, (BS+OFF)(SI), X, X; \
	VPINSRW $2, (2*BS+OFF)(SI), X, X; \
	VPINSRW $3, (3*BS+OFF)(SI), X, X; \
	VPINSRW $4, (4*BS+OFF)(SI), X, X; \
	VPINSRW $5, (5*BS+OFF)(SI), X, X; \
	VPINSRW $6, (6*BS+OFF)(SI), X, X; \
	VPINSRW $7, (7*BS+OFF)(SI), X, X; \
	VCVTPH2PS X, Y

// Q8_0 weights: transpose the eight 32-byte level vectors (8×8 dwords:
// dword unpacks, qword unpacks, 128-bit shuffles), then add 128 (xor 0x80)
// so vpdpbusd sees unsigned levels; MT_CORRECT(7) takes 128·Σq off.
#define Q8T_PREP \
	PF5; \
	VMOVDQU32 2(SI), Y16; \
	VMOVDQU32 36(SI), Y17; \
	VMOVDQU32 70(SI), Y18; \
	VMOVDQU32 104(SI), Y19; \
	VMOVDQU32 138(SI), Y20; \
	VMOVDQU32 172(SI), Y21; \
	VMOVDQU32 206(SI), Y22; \
	VMOVDQU32 240(SI), Y23; \
	VPUNPCKLDQ Y17, Y16, Y24; \
	VPUNPCKHDQ Y17, Y16, Y25; \
	VPUNPCKLDQ Y19, Y18, Y26; \
	VPUNPCKHDQ Y19, Y18, Y27; \
	VPUNPCKLDQ Y21, Y20, Y28; \
	VPUNPCKHDQ Y21, Y20, Y29; \
	VPUNPCKLDQ Y23, Y22, Y30; \
	VPUNPCKHDQ Y23, Y22, Y31; \
	VPUNPCKLQDQ Y26, Y24, Y16; \
	VPUNPCKHQDQ Y26, Y24, Y17; \
	VPUNPCKLQDQ Y27, Y25, Y18; \
	VPUNPCKHQDQ Y27, Y25, Y19; \
	VPUNPCKLQDQ Y30, Y28, Y20; \
	VPUNPCKHQDQ Y30, Y28, Y21; \
	VPUNPCKLQDQ Y31, Y29, Y22; \
	VPUNPCKHQDQ Y31, Y29, Y23; \
	VSHUFI64X2 $0, Y20, Y16, Y0; \
	VSHUFI64X2 $0, Y21, Y17, Y1; \
	VSHUFI64X2 $0, Y22, Y18, Y2; \
	VSHUFI64X2 $0, Y23, Y19, Y3; \
	VSHUFI64X2 $3, Y20, Y16, Y4; \
	VSHUFI64X2 $3, Y21, Y17, Y5; \
	VSHUFI64X2 $3, Y22, Y18, Y6; \
	VSHUFI64X2 $3, Y23, Y19, Y7; \
	VPXOR Y14, Y0, Y0; \
	VPXOR Y14, Y1, Y1; \
	VPXOR Y14, Y2, Y2; \
	VPXOR Y14, Y3, Y3; \
	VPXOR Y14, Y4, Y4; \
	VPXOR Y14, Y5, Y5; \
	VPXOR Y14, Y6, Y6; \
	VPXOR Y14, Y7, Y7; \
	SCALES8(34, 0, X8, Y8)

// Q4_0/Q4_1 weights: the 16 quant bytes of block i in the low lane and of
// block i+4 in the high lane, a 4×4 dword transpose in each lane, then
// the low nibbles are elements 4k… (registers 0-3) and the high nibbles
// elements 16+4k… (registers 4-7).
#define Q4T_PREP(BS, QS) \
	PF3; \
	VMOVDQU32 (QS)(SI), X16; \
	VINSERTI32X4 $1, (4*BS+QS)(SI), Y16, Y16; \
	VMOVDQU32 (BS+QS)(SI), X17; \
	VINSERTI32X4 $1, (5*BS+QS)(SI), Y17, Y17; \
	VMOVDQU32 (2*BS+QS)(SI), X18; \
	VINSERTI32X4 $1, (6*BS+QS)(SI), Y18, Y18; \
	VMOVDQU32 (3*BS+QS)(SI), X19; \
	VINSERTI32X4 $1, (7*BS+QS)(SI), Y19, Y19; \
	VPUNPCKLDQ Y17, Y16, Y24; \
	VPUNPCKHDQ Y17, Y16, Y25; \
	VPUNPCKLDQ Y19, Y18, Y26; \
	VPUNPCKHDQ Y19, Y18, Y27; \
	VPUNPCKLQDQ Y26, Y24, Y16; \
	VPUNPCKHQDQ Y26, Y24, Y17; \
	VPUNPCKLQDQ Y27, Y25, Y18; \
	VPUNPCKHQDQ Y27, Y25, Y19; \
	VPANDD Y14, Y16, Y0; \
	VPANDD Y14, Y17, Y1; \
	VPANDD Y14, Y18, Y2; \
	VPANDD Y14, Y19, Y3; \
	VPSRLW $4, Y16, Y16; \
	VPSRLW $4, Y17, Y17; \
	VPSRLW $4, Y18, Y18; \
	VPSRLW $4, Y19, Y19; \
	VPANDD Y14, Y16, Y4; \
	VPANDD Y14, Y17, Y5; \
	VPANDD Y14, Y18, Y6; \
	VPANDD Y14, Y19, Y7; \
	SCALES8(BS, 0, X8, Y8)

DATA mtb80<>+0(SB)/8, $0x8080808080808080
DATA mtb80<>+8(SB)/8, $0x8080808080808080
DATA mtb80<>+16(SB)/8, $0x8080808080808080
DATA mtb80<>+24(SB)/8, $0x8080808080808080
GLOBL mtb80<>(SB), RODATA|NOPTR, $32

DATA mtb0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA mtb0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA mtb0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA mtb0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL mtb0f<>(SB), RODATA|NOPTR, $32

// func q8_0MTileVNNI(a *tileArgs)
TEXT ·q8_0MTileVNNI(SB), NOSPLIT, $320-8
	VMOVDQU mtb80<>(SB), Y14
	MT_START
tokblock:
	MT_TOKBLOCK
row:
	MT_ROW(tileArgs_sum)
group:
	Q8T_PREP
	MT_TOKENS_BEGIN
tok:
	MT_DOT8
	MT_CORRECT(7)
	MT_TERM0
	MT_TOKENS_NEXT
	JNZ tok
	MT_GROUP_NEXT(34)
	JNZ group
	MT_STORE(row, tokblock)
	VZEROUPPER
	RET

// func q4_0MTileVNNI(a *tileArgs)
TEXT ·q4_0MTileVNNI(SB), NOSPLIT, $320-8
	VMOVDQU mtb0f<>(SB), Y14
	MT_START
tokblock:
	MT_TOKBLOCK
row:
	MT_ROW(tileArgs_sum)
group:
	Q4T_PREP(18, 2)
	MT_TOKENS_BEGIN
tok:
	MT_DOT8
	MT_CORRECT(3)
	MT_TERM0
	MT_TOKENS_NEXT
	JNZ tok
	MT_GROUP_NEXT(18)
	JNZ group
	MT_STORE(row, tokblock)
	VZEROUPPER
	RET

// func q4_1MTileVNNI(a *tileArgs)
TEXT ·q4_1MTileVNNI(SB), NOSPLIT, $320-8
	VMOVDQU mtb0f<>(SB), Y14
	MT_START
tokblock:
	MT_TOKBLOCK
row:
	MT_ROW(tileArgs_s)
group:
	Q4T_PREP(20, 4)
	SCALES8(20, 2, X15, Y15)
	MT_TOKENS_BEGIN
tok:
	MT_DOT8
	MT_TERM1
	MT_TOKENS_NEXT
	JNZ tok
	MT_GROUP_NEXT(20)
	JNZ group
	MT_STORE(row, tokblock)
	VZEROUPPER
	RET
