/* The attention backward pass (kernels/attention_bwd.tsr) compiled to PTX
 * for sm_90a and sm_80 and run on the emulator: dQ, dK, dV against the double-precision reference
 * gradients with FlashAttention's tolerance rule, with bit-identical repeats,
 * and the emulator's race and uninitialized-register checks on one shape of
 * each variant.
 *
 * `make test` runs the quick subset of attn_bwd_plan (every variant on two
 * pairs); TSR_ATTN_BWD_FULL=1 (`make test-attention-full`) the full matrix
 * of issue 18. */
#include "attn_bwd_check.h"
#include "emu_run.h"
#include "target.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

/* Each variant compiled for the default target (sm_90a: every dot on
 * wgmma, D=256's dK/dV kernel in two launches) and for sm_80 (mma.sync),
 * each with its own blocks. In the quick subset sm_80 leaves out the (1, 1) pair. */
static void check_variant(DType dt, int D, bool causal)
{
    const char *targets[] = { target_default()->name, "sm_80" };
    for (int t = 0; t < 2; t++) {
        AttnBwdKernels k = attn_bwd_compile(targets[t], dt, D, causal);
        for (int i = 0; i < ATTN_BWD_NPAIRS; i++) {
            AttnBwdPlan plan = attn_bwd_plan(dt, D, causal, i);
            if (!plan.run || (t == 1 && i == 0 && !attn_bwd_full_matrix()))
                continue;
            AttnShape s = { 2, 6, 2, attn_bwd_pairs[i][0], attn_bwd_pairs[i][1], D, causal, 1.0 / sqrt((double)D) };
            EmuRunOptions o = { 0 };
            o.target = targets[t];
            o.host_threads = 2;
            o.check_races = o.check_uninit = plan.check_races;
            AttnBwdKernelRun r = { &k, attn_run_emu_hopper, &o };
            uint64_t seed = 4000 + (uint64_t)i * 7 + (uint64_t)D + (uint64_t)t;
            AttnBwdErrors e = attn_bwd_check_run(dt, s, seed, plan.repeat, attn_bwd_run_kernels, &r);
            char what[32];
            snprintf(what, sizeof what, "emu (%s)", targets[t]);
            attn_bwd_check_assert(&e, dt, &s, what);
        }
        attn_bwd_free(&k);
    }
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
