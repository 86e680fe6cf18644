/* Which specialization of kernels/attention.tsr runs a given problem: the
 * block sizes for a target, dtype, head dim and mask, from a small table
 * (attention_config.c) that code generation tunes. */
#ifndef TSR_ATTENTION_CONFIG_H
#define TSR_ATTENTION_CONFIG_H

#include "dtype.h"

#include <stdbool.h>

typedef struct {
    int bm, bn; /* rows of Q and of K/V per block (the kernel's BM and BN) */
    int warps;  /* the kernel's W; 0: its default (4) */
    int stages; /* kernels/attention.tsr's STAGES (its pipeline's depth); 0: its default (2) */
} AttnConfig;

/* The configuration for one specialization; never fails (unlisted cases get
 * a safe default). target: "sm_80", "sm_90" or "sm_90a". */
AttnConfig attention_config(const char *target, DType dt, int head_dim, bool causal);

/* A row of attention_config's table: the first row whose keys match wins;
 * 0 in a key column matches anything. */
typedef struct {
    const char *target; /* NULL: any */
    int dtype;          /* DType + 1, 0: any */
    int head_dim;       /* 0: any */
    int causal;         /* 1 no, 2 yes, 0: any */
    AttnConfig cfg;
} AttnRow;

/* The first row of rows[0 .. n) that matches, or NULL. */
const AttnRow *attention_row_lookup(const AttnRow *rows, int n, const char *target, DType dt, int head_dim,
                                    bool causal);

/* The rows `tessera-bench tune` writes (kernels/attention_tuned.inc),
 * which come first in the table; and the configuration the table gives
 * without them (its generic rows, then the default). */
int attention_tuned_rows(const AttnRow **rows);
AttnConfig attention_untuned_config(DType dt, int head_dim, bool causal);

/* The same for kernels/attention_ext.tsr (the forward pass with windows,
 * soft-capping, ALiBi and packed batches): 128-row blocks on 8 warps on
 * sm_90a, 64 x 64 blocks on 4 warps elsewhere (64 x 32 above D=128). */
AttnConfig attention_ext_config(const char *target, DType dt, int head_dim, bool causal, bool varlen);

/* The fp8 forward (kernels/attention_fp8.tsr, 4 warps, 255 registers). With
 * fp8 tensor cores for mma.sync (sm_89) its key and value blocks are B
 * operands held whole by every warp, and on sm_90a both products run on
 * fp8 wgmma (V written K-major into shared memory for P V): 64 x 64
 * blocks, 64 x 32 above D=128 (sm_90a: 162-168, 231-232 and 245-251
 * registers for D = 64, 128, 256, no spills). Widened to f16 (sm_90:
 * *widen set) the key blocks narrow as D grows: 64 x 32
 * (D=64; 64 x 64 spills 70-80 bytes with LLVM 22), 64 x 16 (D=128), 64 x 8
 * (D=256, which still spills some 400-540 bytes with LLVM 19, 900 with
 * LLVM 22; ptxas -v). */
AttnConfig attention_fp8_config(const char *target, int head_dim, bool causal, bool *widen);

/* The backward pass (kernels/attention_bwd.tsr): block sizes and warps of
 * its dK/dV kernel (bm query rows walked, bn key rows owned) and of its dQ
 * kernel (bm query rows owned, bn key rows walked). */
typedef struct {
    int bm, bn, warps;
} AttnBlocks;

typedef struct {
    AttnBlocks dkdv, dq;
    /* The dK/dV kernel runs twice, once for dK alone (WANT_DV false) and
     * once for dV alone (WANT_DK false): where the two accumulators do not
     * fit in registers together. */
    bool dkdv_split;
} AttnBwdConfig;

AttnBwdConfig attention_bwd_config(const char *target, DType dt, int head_dim, bool causal);

/* Decoding (kernels/attention_decode.tsr): the split kernel's blocks for
 * `rows` packed query rows (query heads per key/value head times Sq) and
 * pages of `page` keys (bn: a power of two from 16 to 64, at most the page
 * unless the page is smaller than 16; bm 64, wgmma's, on sm_90a), and the
 * combine kernel's (bn 0). */
AttnBlocks attention_decode_config(const char *target, DType dt, int head_dim, int rows, int page);
AttnBlocks attention_decode_combine_config(const char *target, DType dt, int head_dim);

/* The source of kernels/attention.tsr, embedded in the library at build time
 * (see the Makefile), and its kernel's name. */
extern const char tsr_attention_source[];
#define TSR_ATTENTION_KERNEL "attention_fwd"
/* The same for kernels/attention_ext.tsr. */
extern const char tsr_attention_ext_source[];
#define TSR_ATTENTION_EXT_KERNEL "attention_fwd_ext"
/* The same for kernels/attention_fp8.tsr. */
extern const char tsr_attention_fp8_source[];
#define TSR_ATTENTION_FP8_KERNEL "attention_fp8_fwd"
/* The same for kernels/attention_bwd.tsr and its three kernels. */
extern const char tsr_attention_bwd_source[];
#define TSR_ATTENTION_BWD_PRE "attention_bwd_pre"
#define TSR_ATTENTION_BWD_DKDV "attention_bwd_dkdv"
#define TSR_ATTENTION_BWD_DQ "attention_bwd_dq"
/* The same for kernels/attention_decode.tsr and its two kernels. */
extern const char tsr_attention_decode_source[];
#define TSR_ATTENTION_DECODE_SPLIT "attention_decode_split"
#define TSR_ATTENTION_DECODE_COMBINE "attention_decode_combine"

#endif
