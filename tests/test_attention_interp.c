/* Attention written in the DSL (kernels/attention.tsr), run by the TIR
 * interpreter, against the double-precision reference with FlashAttention's
 * tolerance rule, for every head dim, dtype and mask, on odd shapes and with
 * grouped-query attention. Outputs are poisoned before each run. */
#include "attn_check.h"
#include "tessera.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

typedef struct {
    int sq, sk;
} SeqPair;

static const SeqPair pairs[] = { { 1, 1 }, { 113, 203 }, { 128, 217 }, { 239, 1 }, { 256, 256 }, { 1023, 1024 } };

static bool run_interp(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err)
{
    (void)ctx;
    return interp_launch(f, args, nargs, 0, err);
}

/* The target whose block sizes the runtime's interp device uses. */
static const char *interp_target(void)
{
    static char target[16];
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_INTERP;
    tsr_context *ctx;
    if (tsr_context_create(&o, &ctx) != TSR_OK)
        fail_msg("no interp context: %s", tsr_context_error(ctx));
    snprintf(target, sizeof target, "%s", tsr_context_default_target(ctx));
    tsr_context_destroy(ctx);
    return target;
}

static void check_variant(DType dt, int D, bool causal, int bm, int bn)
{
    TirModule *m = attn_compile(interp_target(), dt, D, causal, bm, bn);
    TirFunc *f = module_func(m, "attention_fwd");
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        AttnShape s = { 2, 6, 2, pairs[i].sq, pairs[i].sk, D, causal, 1.0 / sqrt((double)D) };
        if (pairs[i].sq >= 1000) { /* the long pair with fewer heads: keep CI quick */
            s.B = 1;
            s.Hq = 2;
            s.Hkv = 1;
        }
        AttnErrors e = attn_check_run(f, dt, s, 1000 + i * 7 + (uint64_t)D, run_interp, NULL);
        attn_check_assert(&e, dt, &s, "interp");
    }
    tir_module_free(m);
}

#define VARIANT(name, dt, D, causal, bm, bn)                                                                 \
    static void name(void **state)                                                                           \
    {                                                                                                        \
        (void)state;                                                                                         \
        check_variant(dt, D, causal, bm, bn);                                                                \
    }
ATTN_VARIANTS(VARIANT)
#undef VARIANT
#define TEST(name, dt, D, causal, bm, bn) cmocka_unit_test(name),

int main(void)
{
    const struct CMUnitTest tests[] = {
        ATTN_VARIANTS(TEST)
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
