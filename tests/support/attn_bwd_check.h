/* The attention backward check shared by the tests of every device: run
 * the three kernels of kernels/attention_bwd.tsr (preprocessing, dK/dV, dQ)
 * on random inputs with poisoned outputs and measure their errors against
 * the double-precision reference gradients, beside the errors of the same
 * computation in the kernels' own precision (FlashAttention's rule). */
#ifndef TSR_ATTN_BWD_CHECK_H
#define TSR_ATTN_BWD_CHECK_H

#include "attn_check.h"

/* The variants of the backward tests: name, dtype, head dim, causal. */
#define ATTN_BWD_VARIANTS(X)                                                                                  \
    X(f16_d64, DT_F16, 64, false)                                                                             \
    X(f16_d64_causal, DT_F16, 64, true)                                                                       \
    X(bf16_d64, DT_BF16, 64, false)                                                                           \
    X(bf16_d64_causal, DT_BF16, 64, true)                                                                     \
    X(f16_d128, DT_F16, 128, false)                                                                           \
    X(f16_d128_causal, DT_F16, 128, true)                                                                     \
    X(bf16_d128, DT_BF16, 128, false)                                                                         \
    X(bf16_d128_causal, DT_BF16, 128, true)                                                                   \
    X(f16_d256, DT_F16, 256, false)                                                                           \
    X(f16_d256_causal, DT_F16, 256, true)                                                                     \
    X(bf16_d256, DT_BF16, 256, false)                                                                         \
    X(bf16_d256_causal, DT_BF16, 256, true)

/* The (Sq, Sk) pairs of issue 18, run with B=2, Hq=6, Hkv=2. */
enum { ATTN_BWD_NPAIRS = 5 };
extern const int attn_bwd_pairs[ATTN_BWD_NPAIRS][2];

/* What a test does with one pair of one variant. The full matrix
 * (TSR_ATTN_BWD_FULL=1, `make test-attention-full`): every pair, each run
 * twice to the same bits, the emulator's race and uninitialized-register
 * checks on pair 1. The quick subset of `make test` (the emulator and the
 * float64 references are slow): pair 0 (1 x 1) and pair 1 + v % 4 of the
 * variant numbered v (0 to 11, ATTN_BWD_VARIANTS' order), so that the
 * variants of each head dim cover every pair; repeats for v % 4 == 0 and
 * the emulator's checks for v % 4 == 1, on their second pair. */
typedef struct {
    bool run, repeat, check_races;
} AttnBwdPlan;
AttnBwdPlan attn_bwd_plan(DType dt, int D, bool causal, int pair);
/* Whether TSR_ATTN_BWD_FULL asks for the full matrix. */
bool attn_bwd_full_matrix(void);

enum { ATTN_DQ, ATTN_DK, ATTN_DV, ATTN_NGRAD };

typedef struct {
    double err[ATTN_NGRAD], err_lowp[ATTN_NGRAD], mag[ATTN_NGRAD]; /* max |error|, max |reference| */
    int64_t unwritten;
    bool repeat_differs; /* with repeat: a second run gave other bits */
} AttnBwdErrors;

/* The compiled kernels of one variant. */
typedef struct {
    TirModule *m, *m_dkdv, *m_dv; /* the dQ and preprocessing kernels', the dK/dV kernel's, the dV one's */
    TirFunc *pre, *dkdv, *dq;
    TirFunc *dv; /* where the config splits the dK/dV kernel: its dV launch (dkdv gives dK alone); else NULL */
} AttnBwdKernels;

/* Compiles kernels/attention_bwd.tsr for one variant: block sizes, warps
 * and the dK/dV kernel's split from attention_bwd_config() for target. */
AttnBwdKernels attn_bwd_compile(const char *target, DType dt, int D, bool causal);
void attn_bwd_free(AttnBwdKernels *k);

/* The tensors of one check, contiguous host tensors: inputs q, k, v, o,
 * dout (dtype dt) and lse (f32); outputs grad[ATTN_DQ/DK/DV], poisoned
 * before each run. */
typedef struct {
    HostTensor q, k, v, o, dout, lse, grad[ATTN_NGRAD];
} AttnBwdTensors;

/* Runs the backward pass on t; false with a message in err on failure. */
typedef bool (*AttnBwdRunner)(AttnBwdTensors *t, double scale, void *ctx, StrBuf *err);

/* attn_bwd_run_kernels' ctx: the three kernels launched one by one by run. */
typedef struct {
    const AttnBwdKernels *k;
    KernelRunner run;
    void *ctx;
} AttnBwdKernelRun;
bool attn_bwd_run_kernels(AttnBwdTensors *t, double scale, void *ctx, StrBuf *err);

/* O and LSE come from the double-precision forward reference (rounded to
 * the tensors' dtypes). With repeat, the backward runs a second time on
 * fresh poison and the outputs must be the same bits. Fails the test if a
 * run fails. */
AttnBwdErrors attn_bwd_check_run(DType dt, AttnShape s, uint64_t seed, bool repeat, AttnBwdRunner run, void *ctx);
/* FlashAttention's rule on each of dQ, dK, dV: error at most 2x the
 * low-precision reference's plus attention_slack(dt) times the gradient's
 * magnitude (at least 1); every element written; repeats identical. */
void attn_bwd_check_assert(const AttnBwdErrors *e, DType dt, const AttnShape *s, const char *what);

#endif
