#include "textflag.h"
#include "go_asm.h"

// Eight-token kernels for Q8_0, Q4_0 and Q4_1 (AVX512-VNNI, 256-bit
// registers): prefill with the canonical block terms of dot_q.go.
//
// As in dotqt_amd64.s, a group of eight blocks of a row is transposed once
// into W_0…W_7 (Y0-Y7; lane i = block i) and eight vpdpbusd give a token's
// eight exact block sums in the eight lanes. Here the eight tokens of a
// block come packed (packQ): per group, their transposed quants (256 bytes
// each), their scales (8 floats each) and their -Σq (Q8_0 activations,
// int32) or s (Q8_1, float32). So every address is a constant offset, the
// offset correction is the sums' starting value (-Σq·2^SH), and each
// token's eight lanes stay in a register (Y16-Y23) for the whole row.
//
// Frame: r-8 row, tb-16 token block. Loop: token blocks, rows, groups.
// Registers: SI weights, R8 packed activations, CX groups left, Y8 dw, Y15
// mw (Q4_1), Y9-Y11 scratch.

// QP_SCALES8 loads the eight blocks' f16 words at OFF into X and converts
// them to float32 in Y.
#define QP_SCALES8(BS, OFF, X, Y) \
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

// Q8P_PREP: the eight 32-byte level vectors transposed (8×8 dwords) into
// Y0-Y7, plus 128 (xor 0x80); dw in Y8.
#define Q8P_PREP \
	VMOVDQU32 2(SI), Y24; \
	VMOVDQU32 36(SI), Y25; \
	VMOVDQU32 70(SI), Y26; \
	VMOVDQU32 104(SI), Y27; \
	VMOVDQU32 138(SI), Y28; \
	VMOVDQU32 172(SI), Y29; \
	VMOVDQU32 206(SI), Y30; \
	VMOVDQU32 240(SI), Y31; \
	VPUNPCKLDQ Y25, Y24, Y9; \
	VPUNPCKHDQ Y25, Y24, Y10; \
	VPUNPCKLDQ Y27, Y26, Y24; \
	VPUNPCKHDQ Y27, Y26, Y25; \
	VPUNPCKLDQ Y29, Y28, Y26; \
	VPUNPCKHDQ Y29, Y28, Y27; \
	VPUNPCKLDQ Y31, Y30, Y28; \
	VPUNPCKHDQ Y31, Y30, Y29; \
	VPUNPCKLQDQ Y24, Y9, Y30; \
	VPUNPCKHQDQ Y24, Y9, Y31; \
	VPUNPCKLQDQ Y25, Y10, Y9; \
	VPUNPCKHQDQ Y25, Y10, Y24; \
	VPUNPCKLQDQ Y28, Y26, Y10; \
	VPUNPCKHQDQ Y28, Y26, Y25; \
	VPUNPCKLQDQ Y29, Y27, Y26; \
	VPUNPCKHQDQ Y29, Y27, Y28; \
	VSHUFI64X2 $0, Y10, Y30, Y0; \
	VSHUFI64X2 $3, Y10, Y30, Y4; \
	VSHUFI64X2 $0, Y25, Y31, Y1; \
	VSHUFI64X2 $3, Y25, Y31, Y5; \
	VSHUFI64X2 $0, Y26, Y9, Y2; \
	VSHUFI64X2 $3, Y26, Y9, Y6; \
	VSHUFI64X2 $0, Y28, Y24, Y3; \
	VSHUFI64X2 $3, Y28, Y24, Y7; \
	VPXORD qpb80<>(SB), Y0, Y0; \
	VPXORD qpb80<>(SB), Y1, Y1; \
	VPXORD qpb80<>(SB), Y2, Y2; \
	VPXORD qpb80<>(SB), Y3, Y3; \
	VPXORD qpb80<>(SB), Y4, Y4; \
	VPXORD qpb80<>(SB), Y5, Y5; \
	VPXORD qpb80<>(SB), Y6, Y6; \
	VPXORD qpb80<>(SB), Y7, Y7; \
	QP_SCALES8(34, 0, X8, Y8)

// Q4P_PREP: quants of block i (low lane) and i+4 (high lane), a 4×4 dword
// transpose per lane, then low nibbles in Y0-Y3 and high ones in Y4-Y7.
#define Q4P_PREP(BS, QS) \
	VMOVDQU32 (QS)(SI), X24; \
	VINSERTI32X4 $1, (4*BS+QS)(SI), Y24, Y24; \
	VMOVDQU32 (BS+QS)(SI), X25; \
	VINSERTI32X4 $1, (5*BS+QS)(SI), Y25, Y25; \
	VMOVDQU32 (2*BS+QS)(SI), X26; \
	VINSERTI32X4 $1, (6*BS+QS)(SI), Y26, Y26; \
	VMOVDQU32 (3*BS+QS)(SI), X27; \
	VINSERTI32X4 $1, (7*BS+QS)(SI), Y27, Y27; \
	VPUNPCKLDQ Y25, Y24, Y28; \
	VPUNPCKHDQ Y25, Y24, Y29; \
	VPUNPCKLDQ Y27, Y26, Y30; \
	VPUNPCKHDQ Y27, Y26, Y31; \
	VPUNPCKLQDQ Y30, Y28, Y24; \
	VPUNPCKHQDQ Y30, Y28, Y25; \
	VPUNPCKLQDQ Y31, Y29, Y26; \
	VPUNPCKHQDQ Y31, Y29, Y27; \
	VPANDD qpb0f<>(SB), Y24, Y0; \
	VPANDD qpb0f<>(SB), Y25, Y1; \
	VPANDD qpb0f<>(SB), Y26, Y2; \
	VPANDD qpb0f<>(SB), Y27, Y3; \
	VPSRLW $4, Y24, Y24; \
	VPSRLW $4, Y25, Y25; \
	VPSRLW $4, Y26, Y26; \
	VPSRLW $4, Y27, Y27; \
	VPANDD qpb0f<>(SB), Y24, Y4; \
	VPANDD qpb0f<>(SB), Y25, Y5; \
	VPANDD qpb0f<>(SB), Y26, Y6; \
	VPANDD qpb0f<>(SB), Y27, Y7; \
	QP_SCALES8(BS, 0, X8, Y8)

// QP_DOT8 leaves token t's eight block sums in Y9, starting from START.
#define QP_DOT8(t) \
	VPDPBUSD (256*t)(R8), Y0, Y9; \
	VPDPBUSD (256*t+32)(R8), Y1, Y9; \
	VPDPBUSD (256*t+64)(R8), Y2, Y9; \
	VPDPBUSD (256*t+96)(R8), Y3, Y9; \
	VPDPBUSD (256*t+128)(R8), Y4, Y9; \
	VPDPBUSD (256*t+160)(R8), Y5, Y9; \
	VPDPBUSD (256*t+192)(R8), Y6, Y9; \
	VPDPBUSD (256*t+224)(R8), Y7, Y9

// QP_TOKEN0: lanes of token t (ACC) += float32(sumi·float32(dw·dx)), the
// sums starting at -Σq·2^SH.
#define QP_TOKEN0(t, SH, ACC) \
	VPSLLD $SH, (2304+32*t)(R8), Y9; \
	QP_DOT8(t); \
	VCVTDQ2PS Y9, Y9; \
	VMULPS (2048+32*t)(R8), Y8, Y10; \
	VMULPS Y10, Y9, Y9; \
	VADDPS Y9, ACC, ACC

// QP_TOKEN1: … += float32(sumi·float32(dw·dx)) + float32(mw·sx).
#define QP_TOKEN1(t, ACC) \
	VPXOR Y9, Y9, Y9; \
	QP_DOT8(t); \
	VCVTDQ2PS Y9, Y9; \
	VMULPS (2048+32*t)(R8), Y8, Y10; \
	VMULPS Y10, Y9, Y9; \
	VMULPS (2304+32*t)(R8), Y15, Y11; \
	VADDPS Y11, Y9, Y9; \
	VADDPS Y9, ACC, ACC

#define QP_TOKENS0(SH) \
	QP_TOKEN0(0, SH, Y16); \
	QP_TOKEN0(1, SH, Y17); \
	QP_TOKEN0(2, SH, Y18); \
	QP_TOKEN0(3, SH, Y19); \
	QP_TOKEN0(4, SH, Y20); \
	QP_TOKEN0(5, SH, Y21); \
	QP_TOKEN0(6, SH, Y22); \
	QP_TOKEN0(7, SH, Y23)

#define QP_TOKENS1 \
	QP_TOKEN1(0, Y16); \
	QP_TOKEN1(1, Y17); \
	QP_TOKEN1(2, Y18); \
	QP_TOKEN1(3, Y19); \
	QP_TOKEN1(4, Y20); \
	QP_TOKEN1(5, Y21); \
	QP_TOKEN1(6, Y22); \
	QP_TOKEN1(7, Y23)

// QP_ROW clears the lanes and points SI at row r, R8 at the token block's
// packed groups; CX = groups.
#define QP_ROW \
	VPXORD Y16, Y16, Y16; \
	VPXORD Y17, Y17, Y17; \
	VPXORD Y18, Y18, Y18; \
	VPXORD Y19, Y19, Y19; \
	VPXORD Y20, Y20, Y20; \
	VPXORD Y21, Y21, Y21; \
	VPXORD Y22, Y22, Y22; \
	VPXORD Y23, Y23, Y23; \
	MOVQ a+0(FP), BX; \
	MOVQ r-8(SP), SI; \
	IMULQ tileArgs_rowBytes(BX), SI; \
	ADDQ tileArgs_w(BX), SI; \
	MOVQ tileArgs_blocks(BX), CX; \
	MOVQ tb-16(SP), R8; \
	IMULQ CX, R8; \
	IMULQ $const_qpackBytes, R8; \
	ADDQ tileArgs_qpack(BX), R8

// QP_STORE(t, ACC) folds token t's lanes (reduce8) into dst at AX and
// steps AX to the next token, or jumps to DONE past the real tokens (DX).
#define QP_STORE(t, ACC, XACC, DONE) \
	CMPQ DX, $t; \
	JLE DONE; \
	VEXTRACTF32X4 $1, ACC, X0; \
	VADDPS X0, XACC, X0; \
	VMOVHLPS X0, X0, X1; \
	VADDPS X1, X0, X0; \
	VMOVSHDUP X0, X1; \
	VADDSS X1, X0, X0; \
	VMOVSS X0, (AX); \
	ADDQ R12, AX

// QP_END stores the row's results for the block's real tokens and moves to
// the next row, then to the next token block.
#define QP_END(DONE) \
	MOVQ a+0(FP), BX; \
	MOVQ tb-16(SP), AX; \
	SHLQ $3, AX; \
	MOVQ tileArgs_tokens(BX), DX; \
	SUBQ AX, DX; \
	MOVQ tileArgs_dstStride(BX), R12; \
	IMULQ R12, AX; \
	ADDQ tileArgs_dst(BX), AX; \
	MOVQ r-8(SP), R11; \
	LEAQ (AX)(R11*4), AX; \
	QP_STORE(0, Y16, X16, DONE); \
	QP_STORE(1, Y17, X17, DONE); \
	QP_STORE(2, Y18, X18, DONE); \
	QP_STORE(3, Y19, X19, DONE); \
	QP_STORE(4, Y20, X20, DONE); \
	QP_STORE(5, Y21, X21, DONE); \
	QP_STORE(6, Y22, X22, DONE); \
	QP_STORE(7, Y23, X23, DONE)

#define QP_NEXT(ROW) \
	MOVQ a+0(FP), BX; \
	MOVQ r-8(SP), R11; \
	INCQ R11; \
	MOVQ R11, r-8(SP); \
	CMPQ R11, tileArgs_rows(BX); \
	JLT ROW; \
	MOVQ $0, r-8(SP); \
	MOVQ tb-16(SP), AX; \
	INCQ AX; \
	MOVQ AX, tb-16(SP); \
	SHLQ $3, AX; \
	CMPQ AX, tileArgs_tokens(BX); \
	JLT ROW

DATA qpb80<>+0(SB)/8, $0x8080808080808080
DATA qpb80<>+8(SB)/8, $0x8080808080808080
DATA qpb80<>+16(SB)/8, $0x8080808080808080
DATA qpb80<>+24(SB)/8, $0x8080808080808080
GLOBL qpb80<>(SB), RODATA|NOPTR, $32

DATA qpb0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA qpb0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA qpb0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA qpb0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL qpb0f<>(SB), RODATA|NOPTR, $32

// func q8_0PTileVNNI(a *tileArgs)
TEXT ·q8_0PTileVNNI(SB), NOSPLIT, $16-8
	MOVQ $0, tb-16(SP)
	MOVQ $0, r-8(SP)
row:
	QP_ROW
group:
	Q8P_PREP
	QP_TOKENS0(7)
	ADDQ $(8*34), SI
	ADDQ $const_qpackBytes, R8
	DECQ CX
	JNZ  group
	QP_END(stored)
stored:
	QP_NEXT(row)
	VZEROUPPER
	RET

// func q4_0PTileVNNI(a *tileArgs)
TEXT ·q4_0PTileVNNI(SB), NOSPLIT, $16-8
	MOVQ $0, tb-16(SP)
	MOVQ $0, r-8(SP)
row:
	QP_ROW
group:
	Q4P_PREP(18, 2)
	QP_TOKENS0(3)
	ADDQ $(8*18), SI
	ADDQ $const_qpackBytes, R8
	DECQ CX
	JNZ  group
	QP_END(stored)
stored:
	QP_NEXT(row)
	VZEROUPPER
	RET

// func q4_1PTileVNNI(a *tileArgs)
TEXT ·q4_1PTileVNNI(SB), NOSPLIT, $16-8
	MOVQ $0, tb-16(SP)
	MOVQ $0, r-8(SP)
row:
	QP_ROW
group:
	Q4P_PREP(20, 4)
	QP_SCALES8(20, 2, X15, Y15)
	QP_TOKENS1
	ADDQ $(8*20), SI
	ADDQ $const_qpackBytes, R8
	DECQ CX
	JNZ  group
	QP_END(stored)
stored:
	QP_NEXT(row)
	VZEROUPPER
	RET
