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

static void check_variant(DType dt, int D, bool causal, int bm, int bn)
{
    TirModule *m = attn_compile(attn_interp_target(), dt, D, causal, bm, bn);
    TirFunc *f = module_func(m, "attention_fwd");
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        AttnShape s = { 2, 6, 2, pairs[i].sq, pairs[i].sk, D, causal, 1.0 / sqrt((double)D) };
        if (pairs[i].sq >= 1000) { /* the long pair with fewer heads: keep CI quick */
            s.B = 1;
            s.Hq = 2;
            s.Hkv = 1;
        }
        AttnErrors e = attn_check_run(f, dt, s, 1000 + i * 7 + (uint64_t)D, attn_run_interp, NULL);
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
