/* The block sizes of the attention kernels (see attention_config.h). The
 * first matching row wins; 0 in a key column matches anything. The
 * runtime and the benchmark pick their specializations from these tables.
 * The forward kernel's rows for the tuned targets come from
 * attention_tuned.inc, which `tessera-bench tune` writes (bench/README.md). */
#include "attention_config.h"
#include "target.h"

#include <string.h>

/* The tuned rows, as first chosen by hand:
 * sm_90a: two consumer warpgroups of 64 rows each beside the producer
 * warpgroup the compiler adds (backend/README.md, warp specialization):
 * FlashAttention-3's shape, 168 registers at entry growing to 240, 0
 * spills (ptxas 13.0); the largest key blocks whose two stages fit the 227
 * KB of shared memory.
 * sm_80, D=64: 128 keys a block halve the per-iteration costs that do not
 * grow with the block (the accumulator's rescaling, Q's ldmatrix, the row
 * reductions' shuffles, the loop and copy control): 1,238 instructions per
 * 64x64x64 tile instead of 1,420, 254 registers, no spills (tessera-bench
 * ptxas, bench/results/main-loop.md). */
static const AttnRow tuned[] = {
#include "attention_tuned.inc"
};

/* Everywhere else: 64-row blocks on 4 warps, the key blocks smaller as D
 * grows. */
static const AttnRow generic[] = {
    /* target  dtype head_dim causal   BM  BN  W  STAGES */
    { NULL,    0,    64,      0,     { 64, 64, 0, 0 } },
    { NULL,    0,    128,     0,     { 64, 64, 0, 0 } },
    { NULL,    0,    256,     0,     { 64, 32, 0, 0 } },
};

const AttnRow *attention_row_lookup(const AttnRow *rows, int n, const char *target, DType dt, int head_dim,
                                    bool causal)
{
    for (int i = 0; i < n; i++) {
        const AttnRow *r = &rows[i];
        if ((!r->target || (target && !strcmp(r->target, target))) && (!r->dtype || r->dtype == (int)dt + 1) &&
            (!r->head_dim || r->head_dim == head_dim) && (!r->causal || r->causal == (causal ? 2 : 1)))
            return r;
    }
    return NULL;
}

int attention_tuned_rows(const AttnRow **rows)
{
    *rows = tuned;
    return (int)(sizeof tuned / sizeof tuned[0]);
}

AttnConfig attention_untuned_config(DType dt, int head_dim, bool causal)
{
    const AttnRow *r = attention_row_lookup(generic, (int)(sizeof generic / sizeof generic[0]), NULL, dt, head_dim,
                                            causal);
    if (r)
        return r->cfg;
    /* Unlisted head dims: keep the K/V tile small as D grows. */
    AttnConfig dflt = { 64, head_dim > 128 ? 32 : 64, 0, 0 };
    return dflt;
}

AttnConfig attention_config(const char *target, DType dt, int head_dim, bool causal)
{
    const AttnRow *r = attention_row_lookup(tuned, (int)(sizeof tuned / sizeof tuned[0]), target, dt, head_dim, causal);
    return r ? r->cfg : attention_untuned_config(dt, head_dim, causal);
}

AttnConfig attention_ext_config(const char *target, DType dt, int head_dim, bool causal, bool varlen)
{
    (void)dt;
    (void)causal;
    (void)varlen;
    /* sm_90a: 128-row blocks on two consumer warpgroups, every dot on
     * wgmma, the copies by TMA from a producer warpgroup (but in packed
     * batches, whose key offsets come from memory): 128 keys a block at
     * D=64, 64 at D=128 (128 spill 8 bytes with a window), 32 at D=256 (64
     * spill 8-68 bytes within the consumers' 240 registers with a window);
     * 0 spills with any features, ptxas 13.0, LLVM 19 and 22. */
    if (target && !strcmp(target, "sm_90a")) {
        AttnConfig h = { 128, head_dim <= 64 ? 128 : head_dim <= 128 ? 64 : 32, 8, 0 };
        return h;
    }
    /* elsewhere 64 x 64 on 4 warps (64 x 32 above D=128), 168 to 246
     * registers */
    AttnConfig cfg = { 64, head_dim > 128 ? 32 : 64, 4, 0 };
    return cfg;
}

AttnConfig attention_fp8_config(const char *target, int head_dim, bool causal, bool *widen)
{
    (void)causal;
    const Target *t = target_lookup(target);
    *widen = !t || (!target_has_fp8_mma(t) && !target_has_fp8_wgmma(t));
    AttnConfig native = { 64, head_dim > 128 ? 32 : 64, 0, 0 };
    AttnConfig widened = { 64, head_dim > 128 ? 8 : head_dim > 64 ? 16 : 32, 0, 0 };
    return *widen ? widened : native;
}

/* The backward kernels hold two f32 accumulators of [BN, D] (dK/dV) or one
 * of [BM, D] plus the operands (dQ): the blocks shrink and the warps grow
 * with D so that neither spills. Chosen by ptxas -v over BM, BN and warps
 * for sm_80 and sm_90a, causal or not, with LLVM 19 and 22 (test_codegen
 * checks it): for sm_80 at D=128, 32 x 64 on 8 warps spilled 16 bytes once the causal loop
 * was split into masked and mask-free parts (passes/pass_loopsplit.c):
 * 16 x 64 keeps the key block at 209 registers; for sm_80 at D=256, 32 x 16
 * on 4 warps (255 registers) spilled 132 bytes in the causal kernel once
 * copies in loops advanced carried pointers (backend/codegen_loop.c): 16 x
 * 16 takes 240; at D=64, 64 x 64 on 8 warps spills 16 bytes in the causal
 * kernel with LLVM 22: 32 x 64. */
typedef struct {
    const char *target;
    int head_dim; /* 0: any */
    int causal;   /* 1 no, 2 yes, 0: any */
    AttnBwdConfig cfg;
} AttnBwdRow;

static const AttnBwdRow bwd_table[] = {
    /* target  head_dim causal  dK/dV: BM  BN  warps   dQ: BM  BN  warps   split */
    /* sm_90a: every dot on wgmma, whose warps form whole warpgroups along
     * M, 64 rows each: the dK/dV kernel's key blocks are 64 rows a
     * warpgroup. D=128: 128 keys on 8 warps (two warpgroups, as
     * FlashAttention-3), 224-246 registers; 64 keys on 4 warps would get
     * 168 (the compiler promises 3 blocks a multiprocessor when shared
     * memory lets them run, backend/codegen.c min_blocks_per_sm) and spill.
     * D=256: dK's and dV's accumulators, 128 registers a thread each on a
     * 64-row warpgroup, do not fit together: two launches of one
     * accumulator each (the scores computed twice), 184-255 registers
     * (ptxas 13.0). Once copies in loops advanced carried pointers, 32
     * query rows a step spilled 240 bytes in the causal dV launch and 16
     * spill 40 in the non-causal one: 16 rows when causal, 32 when not. */
    { "sm_90a", 64,  0,     { { 32, 64, 4 },       { 64, 64, 4 },     false } },
    { "sm_90a", 128, 0,     { { 32, 128, 8 },      { 64, 64, 4 },     false } },
    { "sm_90a", 256, 2,     { { 16, 64, 4 },       { 64, 32, 4 },     true } },
    { "sm_90a", 256, 0,     { { 32, 64, 4 },       { 64, 32, 4 },     true } },
    { NULL,    64,   0,     { { 32, 64, 8 },       { 64, 64, 8 },     false } },
    { NULL,    128,  0,     { { 16, 64, 8 },       { 64, 64, 8 },     false } },
    { NULL,    256,  0,     { { 16, 16, 4 },       { 32, 32, 8 },     false } },
};

AttnBwdConfig attention_bwd_config(const char *target, DType dt, int head_dim, bool causal)
{
    (void)dt;
    for (size_t i = 0; i < sizeof bwd_table / sizeof bwd_table[0]; i++) {
        const AttnBwdRow *r = &bwd_table[i];
        if ((!r->target || (target && !strcmp(r->target, target))) && (!r->head_dim || r->head_dim == head_dim) &&
            (!r->causal || r->causal == (causal ? 2 : 1)))
            return r->cfg;
    }
    AttnBwdConfig dflt = { { 32, 16, 4 }, { 32, 32, 8 }, false };
    return dflt;
}

/* Chosen by ptxas -v over BM 16/64, BN 16/32/64 and 1 or 4 warps for sm_80
 * and sm_90a (test_codegen checks the choices): 16-row blocks spill nowhere
 * on 4 warps; 64-row blocks spill at D=256, and at D=128 with BN=64 on
 * sm_80. A decoding step has few rows: 16 unless the group packs more. On
 * sm_90a 64 rows always, one warpgroup's wgmma (the rows past the packed
 * ones cost compute, not memory traffic, which bounds decoding), with 64
 * keys a block (32 at D=256: 64 spill 16 bytes with every feature on). */
AttnBlocks attention_decode_config(const char *target, DType dt, int head_dim, int rows, int page)
{
    (void)dt;
    bool hopper = target && !strcmp(target, "sm_90a");
    AttnBlocks b = { hopper ? 64 : rows <= 16 || head_dim > 128 ? 16 : 64, 64, 4 };
    /* 32 keys: sm_80's 64-row blocks (64 x 64 spills 4 bytes at D=64 with
     * every feature on, LLVM 22), sm_90a at D=256 */
    if ((!hopper && b.bm == 64) || (hopper && head_dim > 128))
        b.bn = 32;
    while (b.bn > 16 && b.bn > page)
        b.bn /= 2;
    return b;
}

/* Its accumulator and one split's partial output, [BM, D] f32 each, spill
 * with 64 rows at D=256: 16 rows on 4 warps everywhere. */
AttnBlocks attention_decode_combine_config(const char *target, DType dt, int head_dim)
{
    (void)target;
    (void)dt;
    (void)head_dim;
    AttnBlocks b = { 16, 0, 4 };
    return b;
}
