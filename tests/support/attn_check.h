/* The attention check shared by the tests of every device: run the kernel
 * of kernels/attention.tsr on random inputs with poisoned outputs and
 * measure its errors against the double-precision reference, and the
 * errors of the same computation in the kernel's own precision. */
#ifndef TSR_ATTN_CHECK_H
#define TSR_ATTN_CHECK_H

#include "reference.h"
#include "testutil.h"

typedef bool (*KernelRunner)(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err);

typedef struct {
    double err, err_lowp, lse_err;
    int64_t unwritten;
} AttnErrors;

/* Runners for attn_check_run and the backward check: the interpreter (ctx
 * unused) and the emulator (ctx: the EmuRunOptions, emu_run.h). */
bool attn_run_interp(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err);
bool attn_run_emu(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err);
/* attn_run_emu, and on sm_90a the PTX that ran must have its dots on wgmma
 * (no mma.sync) and TMA copies, when it has dots. */
bool attn_run_emu_hopper(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err);
/* The target whose block sizes the runtime's interp device uses. */
const char *attn_interp_target(void);

/* One row's errors: the kernel's output row (D elements of o from o_at)
 * and LSE (element lse_at of lse) against the references of row (b, h, r)
 * of s (features f, NULL: none) and in, folded into e; a poisoned (unwritten) element counts in
 * e->unwritten. The scratch holds a row of each reference. */
typedef struct {
    double *ref;
    float *low;
} AttnRowScratch;
AttnRowScratch attn_row_scratch(int D);
void attn_row_scratch_free(AttnRowScratch *sc);
void attn_measure_row(AttnErrors *e, const AttnShape *s, const AttnFeatures *f, const AttnInputs *in, DType dt, int b, int h, int r,
                      const HostTensor *o, int64_t o_at, const HostTensor *lse, int64_t lse_at, AttnRowScratch *sc);

/* Fails the test if the runner fails. */
AttnErrors attn_check_run(TirFunc *f, DType dt, AttnShape s, uint64_t seed, KernelRunner run, void *ctx);
/* FlashAttention's rule, and LSE within 1e-4 relative; names the case in
 * the failure message. */
void attn_check_assert(const AttnErrors *e, DType dt, const AttnShape *s, const char *what);
/* The variants every device is tested on: name, dtype, head dim, causal,
 * BM, BN. Each head dim with the block sizes of kernels/attention_config.c
 * (BM and BN 0: from that table, so a retuned table is what gets tested),
 * plus two odd shapes of blocks that must give the same answers. */
#define ATTN_VARIANTS(X)                                                                                      \
    X(f16_d64, DT_F16, 64, false, 0, 0)                                                                       \
    X(f16_d64_causal, DT_F16, 64, true, 0, 0)                                                                 \
    X(bf16_d64, DT_BF16, 64, false, 0, 0)                                                                     \
    X(bf16_d64_causal, DT_BF16, 64, true, 0, 0)                                                               \
    X(f16_d128, DT_F16, 128, false, 0, 0)                                                                     \
    X(f16_d128_causal, DT_F16, 128, true, 0, 0)                                                               \
    X(bf16_d128, DT_BF16, 128, false, 0, 0)                                                                   \
    X(bf16_d128_causal, DT_BF16, 128, true, 0, 0)                                                             \
    X(f16_d256, DT_F16, 256, false, 0, 0)                                                                     \
    X(f16_d256_causal, DT_F16, 256, true, 0, 0)                                                               \
    X(bf16_d256, DT_BF16, 256, false, 0, 0)                                                                   \
    X(bf16_d256_causal, DT_BF16, 256, true, 0, 0)                                                             \
    X(f16_d64_bm128_bn16, DT_F16, 64, true, 128, 16)                                                          \
    X(bf16_d128_bm16_bn128, DT_BF16, 128, false, 16, 128)

/* Compiles kernels/attention.tsr for one variant: block sizes bm and bn, or
 * when they are 0 those attention_config() gives for target. */
TirModule *attn_compile(const char *target, DType dt, int D, bool causal, int bm, int bn);

#endif
