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

/* Fails the test if the runner fails. */
AttnErrors attn_check_run(TirFunc *f, DType dt, AttnShape s, uint64_t seed, KernelRunner run, void *ctx);
/* FlashAttention's rule, and LSE within 1e-4 relative; names the case in
 * the failure message. */
void attn_check_assert(const AttnErrors *e, DType dt, const AttnShape *s, const char *what);
/* Compiles kernels/attention.tsr for one variant. */
TirModule *attn_compile(DType dt, int D, bool causal, const char *bm, const char *bn);

#endif
