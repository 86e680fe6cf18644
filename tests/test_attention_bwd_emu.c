/* The attention backward pass (kernels/attention_bwd.tsr) compiled to PTX
 * and run on the emulator: dQ, dK, dV against the double-precision reference
 * gradients with FlashAttention's tolerance rule, with bit-identical repeats,
 * and the emulator's race and uninitialized-register checks on one shape of
 * each variant.
 *
 * The emulator is slow: `make test` runs every variant (D 64/128/256 x
 * f16/bf16 x causal) on (1,1) and one other pair each, so that every pair of
 * the issue is covered by some variant; TSR_ATTN_BWD_FULL=1 (`make
 * test-attention-full`) runs every variant on every pair. */
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

typedef struct {
    int sq, sk;
} SeqPair;

static const SeqPair pairs[] = { { 1, 1 }, { 113, 203 }, { 128, 217 }, { 239, 1 }, { 256, 256 } };
enum { NPAIRS = sizeof pairs / sizeof pairs[0] };

static bool run_emu(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err)
{
    return emu_run_kernel(f, args, nargs, ctx, err);
}

static bool full_matrix(void)
{
    const char *e = getenv("TSR_ATTN_BWD_FULL");
    return e && *e && *e != '0';
}

static void check_variant(DType dt, int D, bool causal)
{
    int index = (D == 64 ? 0 : D == 128 ? 1 : 2) * 4 + (dt == DT_BF16) * 2 + causal;
    AttnBwdKernels k = attn_bwd_compile(target_default()->name, dt, D, causal);
    for (int i = 0; i < NPAIRS; i++) {
        /* The quick subset: (1,1), and pair 1 + index % 4. */
        if (!full_matrix() && i != 0 && i != 1 + index % (NPAIRS - 1))
            continue;
        AttnShape s = { 2, 6, 2, pairs[i].sq, pairs[i].sk, D, causal, 1.0 / sqrt((double)D) };
        EmuRunOptions o = { 0 };
        o.host_threads = 2;
        o.check_races = o.check_uninit = i != 0;
        AttnBwdKernelRun r = { &k, run_emu, &o };
        uint64_t seed = 4000 + (uint64_t)i * 7 + (uint64_t)D;
        AttnBwdErrors e = attn_bwd_check_run(dt, s, seed, true, attn_bwd_run_kernels, &r);
        attn_bwd_check_assert(&e, dt, &s, "emu");
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
