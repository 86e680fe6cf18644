/* The attention backward pass written in the DSL (kernels/attention_bwd.tsr),
 * run by the TIR interpreter: dQ, dK, dV against the double-precision
 * reference gradients with FlashAttention's tolerance rule, for every head
 * dim, dtype and mask on the shapes of issue 18 (B=2, Hq=6, Hkv=2), some run
 * twice to the same bits: the quick subset of attn_bwd_plan in `make test`,
 * the full matrix with TSR_ATTN_BWD_FULL=1 (`make test-attention-full`). */
#include "attn_bwd_check.h"
#include "tessera.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

static void check_variant(DType dt, int D, bool causal)
{
    AttnBwdKernels k = attn_bwd_compile(attn_interp_target(), dt, D, causal);
    for (int i = 0; i < ATTN_BWD_NPAIRS; i++) {
        AttnBwdPlan plan = attn_bwd_plan(dt, D, causal, i);
        if (!plan.run)
            continue;
        AttnShape s = { 2, 6, 2, attn_bwd_pairs[i][0], attn_bwd_pairs[i][1], D, causal, 1.0 / sqrt((double)D) };
        AttnBwdKernelRun r = { &k, attn_run_interp, NULL };
        uint64_t seed = 3000 + (uint64_t)i * 7 + (uint64_t)D;
        AttnBwdErrors e = attn_bwd_check_run(dt, s, seed, plan.repeat, attn_bwd_run_kernels, &r);
        attn_bwd_check_assert(&e, dt, &s, "interp");
    }
    attn_bwd_free(&k);
}

#define VARIANT(name, dt, D, causal)                                                                         \
    static void name(void **state)                                                                           \
    {                                                                                                        \
        (void)state;                                                                                         \
        check_variant(dt, D, causal);                                                                        \
    }
ATTN_BWD_VARIANTS(VARIANT)
#undef VARIANT
#define TEST(name, dt, D, causal) cmocka_unit_test(name),

int main(void)
{
    const struct CMUnitTest tests[] = {
        ATTN_BWD_VARIANTS(TEST)
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
