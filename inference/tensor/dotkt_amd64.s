#include "textflag.h"
#include "go_asm.h"

// Multi-token Q4_K kernel (AVX512-VNNI on 256-bit registers) for prefill:
// the canonical super-block terms of dot_k.go for eight tokens at once.
//
// Per super-block the 128 quant bytes are unpacked and transposed once: W_k
// (Y16-Y23) holds, in lane j, the four levels k of sub-block j. The eight
// tokens' quants come packed (kpack, see packK): token t's super-block,
// transposed the same way, at 256·t, then each token's eight Σq per
// sub-block (int32), then the eight tokens' scales. So for token t eight
// vpdpbusd give S_j, the exact sub-block sums, in lane j; times the scales
// (vpmulld) and folded across lanes by VPHADDD, the eight tokens' isum land
// in the eight lanes of one register, as do their msum. The float term is
// then one vector over the tokens, added to lane acc[b%8] of each token,
// which waits in the frame as eight registers A_0…A_7 with a lane per token;
// reduce8 is then vertical adds.
//
// Frame: r-8 row, tb-16 token block, acc-288(SP) A_0…A_7, out-320(SP) the
// eight results. Registers in the super-block loop: SI weights, R8 packed
// activations, R10 super-block index, CX super-blocks left.

DATA ktb0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ktb0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ktb0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ktb0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL ktb0f<>(SB), RODATA|NOPTR, $32

// Odd sub-blocks are the high nibbles.
DATA ktshift<>+0(SB)/8, $0x0000000400000000
DATA ktshift<>+8(SB)/8, $0x0000000400000000
DATA ktshift<>+16(SB)/8, $0x0000000400000000
DATA ktshift<>+24(SB)/8, $0x0000000400000000
GLOBL ktshift<>(SB), RODATA|NOPTR, $32

// Lanes 2c and 2c+1 both take chunk c's word k (k < 4, then k ≥ 4).
DATA ktpermlo<>+0(SB)/8, $0x0000000000000000
DATA ktpermlo<>+8(SB)/8, $0x0000000100000001
DATA ktpermlo<>+16(SB)/8, $0x0000000200000002
DATA ktpermlo<>+24(SB)/8, $0x0000000300000003
GLOBL ktpermlo<>(SB), RODATA|NOPTR, $32

DATA ktpermhi<>+0(SB)/8, $0x0000000400000004
DATA ktpermhi<>+8(SB)/8, $0x0000000500000005
DATA ktpermhi<>+16(SB)/8, $0x0000000600000006
DATA ktpermhi<>+24(SB)/8, $0x0000000700000007
GLOBL ktpermhi<>(SB), RODATA|NOPTR, $32

// KT_SCALES unpacks the Q4_K scales at 4(SI) (get_scale_min_k4, as
// llama.cpp does) into the eight scales as int32 lanes in Y8 and the eight
// mins in Y11, and d, dmin broadcast into Y9, Y10.
#define KT_SCALES \
	MOVL 4(SI), AX; \
	MOVL 8(SI), BX; \
	MOVL 12(SI), R11; \
	MOVL R11, R12; \
	SHRL $4, R12; \
	ANDL $0x0f0f0f0f, R12; \
	MOVL BX, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	ORL R13, R12; \
	ANDL $0x3f3f3f3f, BX; \
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
	ORQ R12, BX; \
	VMOVQ AX, X8; \
	VPMOVZXBD X8, Y8; \
	VMOVQ BX, X11; \
	VPMOVZXBD X11, Y11; \
	VMOVD (SI), X9; \
	VCVTPH2PS X9, X9; \
	VMOVSHDUP X9, X10; \
	VBROADCASTSS X9, Y9; \
	VBROADCASTSS X10, Y10

// KT_LEVELS unpacks and transposes the 128 quant bytes at 16(SI) into
// W_0…W_7 (Y16-Y23): lane j of W_k = levels 4k…4k+3 of sub-block j.
#define KT_LEVELS \
	VMOVDQU32 16(SI), Y24; \
	VMOVDQU32 48(SI), Y25; \
	VMOVDQU32 80(SI), Y26; \
	VMOVDQU32 112(SI), Y27; \
	VPUNPCKLDQ Y25, Y24, Y28; \
	VPUNPCKHDQ Y25, Y24, Y29; \
	VPUNPCKLDQ Y27, Y26, Y30; \
	VPUNPCKHDQ Y27, Y26, Y31; \
	VPUNPCKLQDQ Y30, Y28, Y24; \
	VPUNPCKHQDQ Y30, Y28, Y25; \
	VPUNPCKLQDQ Y31, Y29, Y26; \
	VPUNPCKHQDQ Y31, Y29, Y27; \
	VPERMD Y24, Y14, Y16; \
	VPERMD Y25, Y14, Y17; \
	VPERMD Y26, Y14, Y18; \
	VPERMD Y27, Y14, Y19; \
	VPERMD Y24, Y15, Y20; \
	VPERMD Y25, Y15, Y21; \
	VPERMD Y26, Y15, Y22; \
	VPERMD Y27, Y15, Y23; \
	VPSRLVD Y13, Y16, Y16; \
	VPSRLVD Y13, Y17, Y17; \
	VPSRLVD Y13, Y18, Y18; \
	VPSRLVD Y13, Y19, Y19; \
	VPSRLVD Y13, Y20, Y20; \
	VPSRLVD Y13, Y21, Y21; \
	VPSRLVD Y13, Y22, Y22; \
	VPSRLVD Y13, Y23, Y23; \
	VPANDD Y12, Y16, Y16; \
	VPANDD Y12, Y17, Y17; \
	VPANDD Y12, Y18, Y18; \
	VPANDD Y12, Y19, Y19; \
	VPANDD Y12, Y20, Y20; \
	VPANDD Y12, Y21, Y21; \
	VPANDD Y12, Y22, Y22; \
	VPANDD Y12, Y23, Y23

// KT_TOKEN: P (lane j) = sc_j·S_j for token t.
#define KT_TOKEN(t, P, R) \
	VPXOR P, P, P; \
	VPDPBUSD (256*t)(R), Y16, P; \
	VPDPBUSD (256*t+32)(R), Y17, P; \
	VPDPBUSD (256*t+64)(R), Y18, P; \
	VPDPBUSD (256*t+96)(R), Y19, P; \
	VPDPBUSD (256*t+128)(R), Y20, P; \
	VPDPBUSD (256*t+160)(R), Y21, P; \
	VPDPBUSD (256*t+192)(R), Y22, P; \
	VPDPBUSD (256*t+224)(R), Y23, P; \
	VPMULLD Y8, P, P

// KT_FOLD8 folds Y0…Y7 into Y0: lane t = the sum of the lanes of Y_t.
#define KT_FOLD8 \
	VPHADDD Y1, Y0, Y0; \
	VPHADDD Y3, Y2, Y2; \
	VPHADDD Y2, Y0, Y0; \
	VPHADDD Y5, Y4, Y4; \
	VPHADDD Y7, Y6, Y6; \
	VPHADDD Y6, Y4, Y4; \
	VPERM2I128 $0x20, Y4, Y0, Y1; \
	VPERM2I128 $0x31, Y4, Y0, Y2; \
	VPADDD Y2, Y1, Y0

// KT_MINS: Y_t (lane j) = m_j·Σq of sub-block j for token t.
#define KT_MINS(R) \
	VPMULLD 2048(R), Y11, Y0; \
	VPMULLD 2080(R), Y11, Y1; \
	VPMULLD 2112(R), Y11, Y2; \
	VPMULLD 2144(R), Y11, Y3; \
	VPMULLD 2176(R), Y11, Y4; \
	VPMULLD 2208(R), Y11, Y5; \
	VPMULLD 2240(R), Y11, Y6; \
	VPMULLD 2272(R), Y11, Y7

// KT_BLOCK adds the super-block's terms for the eight tokens of the token
// block whose packed activations R points at to its lanes at (ACC):
// term = float32(isum·float32(d·dx)) - float32(msum·float32(dmin·dx)).
#define KT_BLOCK(R, ACC) \
	KT_TOKEN(0, Y0, R); \
	KT_TOKEN(1, Y1, R); \
	KT_TOKEN(2, Y2, R); \
	KT_TOKEN(3, Y3, R); \
	KT_TOKEN(4, Y4, R); \
	KT_TOKEN(5, Y5, R); \
	KT_TOKEN(6, Y6, R); \
	KT_TOKEN(7, Y7, R); \
	KT_FOLD8; \
	VMOVDQA32 Y0, Y24; \
	KT_MINS(R); \
	KT_FOLD8; \
	VCVTDQ2PS Y24, Y24; \
	VCVTDQ2PS Y0, Y0; \
	VMOVUPS 2304(R), Y25; \
	VMULPS Y25, Y9, Y26; \
	VMULPS Y25, Y10, Y27; \
	VMULPS Y26, Y24, Y24; \
	VMULPS Y27, Y0, Y0; \
	VSUBPS Y0, Y24, Y24; \
	MOVQ R10, AX; \
	ANDQ $7, AX; \
	SHLQ $5, AX; \
	VADDPS (ACC)(AX*1), Y24, Y24; \
	VMOVUPS Y24, (ACC)(AX*1)

// func q4KMTileVNNI(a *tileArgs)
//
// The token blocks of a tile (up to eight: 64 tokens) share each
// super-block's scales and levels, unpacked once per row and super-block
// instead of once per token block. Frame (hardware SP): out 0(SP), the
// eight results being stored; the lanes A_0…A_7 of token block i at
// 32+256·i(SP); r-8 row, tb-16 first token block, np-24 token blocks in
// the group, st-32 the block being stored. Registers in the super-block
// loop: SI weights, R8 token block 0's packed activations, DI the stride
// between token blocks' packs, R10 super-block index, CX super-blocks
// left; in the token-block loop R9 activations, R12 lanes, R11 blocks left.
TEXT ·q4KMTileVNNI(SB), 0, $2112-8
	VMOVDQU ktb0f<>(SB), Y12
	VMOVDQU ktshift<>(SB), Y13
	VMOVDQU ktpermlo<>(SB), Y14
	VMOVDQU ktpermhi<>(SB), Y15
	MOVQ    $0, tb-16(SP)

tokblock:
	// np = min(8, token blocks left)
	MOVQ a+0(FP), BX
	MOVQ tileArgs_tokens(BX), AX
	ADDQ $7, AX
	SHRQ $3, AX
	SUBQ tb-16(SP), AX
	MOVQ $8, DX
	CMPQ AX, DX
	CMOVQGT DX, AX
	MOVQ AX, np-24(SP)
	MOVQ $0, r-8(SP)

row:
	// Clear the lanes of the group's token blocks.
	VPXOR Y0, Y0, Y0
	LEAQ  32(SP), R12
	MOVQ  np-24(SP), R11
	SHLQ  $3, R11
zero:
	VMOVUPS Y0, (R12)
	ADDQ    $32, R12
	DECQ    R11
	JNZ     zero
	MOVQ  a+0(FP), BX
	MOVQ  r-8(SP), SI
	IMULQ tileArgs_rowBytes(BX), SI
	ADDQ  tileArgs_w(BX), SI
	MOVQ  tileArgs_blocks(BX), CX
	MOVQ  CX, DI
	IMULQ $const_kpackBytes, DI
	MOVQ  tb-16(SP), R8
	IMULQ DI, R8
	ADDQ  tileArgs_kpack(BX), R8
	XORQ  R10, R10

sb:
	KT_SCALES
	KT_LEVELS
	MOVQ R8, R9
	LEAQ 32(SP), R12
	MOVQ np-24(SP), R11
tblk:
	KT_BLOCK(R9, R12)
	ADDQ DI, R9
	ADDQ $256, R12
	DECQ R11
	JNZ  tblk
	ADDQ $144, SI
	ADDQ $const_kpackBytes, R8
	INCQ R10
	DECQ CX
	JNZ  sb

	// reduce8 of each token block (one lane per token: j+4, j+2, j+1),
	// stored to dst[(8·(tb+i)+t)·dstStride + 4r] for its real tokens.
	MOVQ $0, st-32(SP)
storeblk:
	MOVQ    st-32(SP), AX
	SHLQ    $8, AX
	LEAQ    32(SP)(AX*1), R12
	VMOVUPS (R12), Y0
	VMOVUPS 32(R12), Y1
	VMOVUPS 64(R12), Y2
	VMOVUPS 96(R12), Y3
	VADDPS  128(R12), Y0, Y0
	VADDPS  160(R12), Y1, Y1
	VADDPS  192(R12), Y2, Y2
	VADDPS  224(R12), Y3, Y3
	VADDPS  Y2, Y0, Y0
	VADDPS  Y3, Y1, Y1
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, 0(SP)
	MOVQ    a+0(FP), BX
	MOVQ    tb-16(SP), AX
	ADDQ    st-32(SP), AX
	SHLQ    $3, AX
	MOVQ    tileArgs_tokens(BX), CX
	SUBQ    AX, CX
	MOVQ    $8, DX
	CMPQ    CX, DX
	CMOVQGT DX, CX
	MOVQ    tileArgs_dstStride(BX), DX
	IMULQ   DX, AX
	ADDQ    tileArgs_dst(BX), AX
	MOVQ    r-8(SP), R11
	LEAQ    (AX)(R11*4), AX
	LEAQ    0(SP), R12

store:
	MOVL (R12), R13
	MOVL R13, (AX)
	ADDQ $4, R12
	ADDQ DX, AX
	DECQ CX
	JNZ  store

	MOVQ st-32(SP), AX
	INCQ AX
	MOVQ AX, st-32(SP)
	CMPQ AX, np-24(SP)
	JLT  storeblk

	MOVQ a+0(FP), BX
	MOVQ r-8(SP), R11
	INCQ R11
	MOVQ R11, r-8(SP)
	CMPQ R11, tileArgs_rows(BX)
	JLT  row
	MOVQ tb-16(SP), AX
	ADDQ np-24(SP), AX
	MOVQ AX, tb-16(SP)
	SHLQ $3, AX
	CMPQ AX, tileArgs_tokens(BX)
	JLT  tokblock
	VZEROUPPER
	RET
