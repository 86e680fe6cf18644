/* kernels/attention_decode.tsr (decoding: a paged KV cache, split-KV and the
 * combine kernel, the query heads of a GQA group packed into one tile) on
 * the interpreter and on the emulator (sm_90a and sm_80 code) against the
 * double reference by FlashAttention's rule, on the edge cases: a
 * page size that does not divide the length, more splits than key blocks,
 * pages larger than the sequence, an empty cache, fewer keys than new
 * tokens; Sq from 1 to 16; windows (a window of 0, one wider than the
 * cache, one open on the left), soft-capping and ALiBi. The block table is shuffled, the outputs and the
 * split workspace poisoned. `make test` runs each case on one variant
 * (rotating over f16/bf16, D 64/128/256, causal or not); `make
 * test-attention-full` (TSR_ATTN_FEATURES_FULL=1) on all 12. */
#include "attn_decode_check.h"
#include "emu_run.h"
#include "target.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct {
    const char *name;
    int B, Hq, Hkv, Sq, page, splits;
    int seqk[4];
    bool local;
    int wl, wr;
    double softcap;
    bool alibi;
} Case;

static const Case cases[] = {
    { "Sq 1, GQA 4, page 16", 3, 8, 2, 1, 16, 1, { 1, 100, 37 }, false, 0, 0, 0, false },
    { "page 7 does not divide, 3 splits, an empty cache", 3, 4, 2, 4, 7, 3, { 50, 3, 0 }, false, 0, 0, 0, false },
    { "64 splits, more than key blocks, Sq 16", 2, 2, 2, 16, 32, 64, { 20, 70 }, false, 0, 0, 0, false },
    { "page 256 larger than the sequence, GQA 8 x Sq 16 = 128 rows", 2, 8, 1, 16, 256, 2, { 300, 16 }, false, 0, 0, 0,
      false },
    { "fewer keys than new tokens, page 1", 1, 2, 1, 8, 1, 5, { 5 }, false, 0, 0, 0, false },
    /* windows (pages before every token's window skipped), soft-capping, ALiBi */
    { "window 20,0 + softcap 3 + alibi, page 16, 3 splits", 3, 8, 2, 4, 16, 3, { 150, 9, 0 }, true, 20, 0, 3.0,
      true },
    { "window 0,0, page 7, more splits than pages", 2, 4, 2, 2, 7, 9, { 30, 1 }, true, 0, 0, 0, false },
    { "window wider than the cache + alibi, GQA 4 x Sq 16", 2, 8, 2, 16, 32, 2, { 70, 16 }, true, 1000, 1000, 0,
      true },
    { "window -1,3 (right only) + softcap 1, Sq 8, page 5", 2, 2, 1, 8, 5, 4, { 40, 6 }, true, -1, 3, 1.0, false },
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

typedef struct {
    DType dt;
    int D;
    bool causal;
} Variant;

static const Variant variants[] = {
    { DT_F16, 64, false },  { DT_F16, 64, true },  { DT_BF16, 64, false },  { DT_BF16, 64, true },
    { DT_F16, 128, false }, { DT_F16, 128, true }, { DT_BF16, 128, false }, { DT_BF16, 128, true },
    { DT_F16, 256, false }, { DT_F16, 256, true }, { DT_BF16, 256, false }, { DT_BF16, 256, true },
};
#define NVARIANTS ((int)(sizeof variants / sizeof variants[0]))

static void check_case(const Case *k, const Variant *v, uint64_t seed)
{
    AttnFeatures f = { k->local, k->wl, k->wr, k->softcap, NULL };
    AttnDecodeCase c = { k->B, k->Hq, k->Hkv, k->Sq, v->D, v->causal, k->page, k->splits, k->seqk, f, k->alibi };
    const char *targets[] = { attn_interp_target(), target_default()->name, "sm_80" };
    for (int t = 0; t < 3; t++) {
        AttnDecodeModules m = attn_decode_compile(targets[t], v->dt, &c);
        EmuRunOptions o = { 0 };
        o.target = targets[t];
        o.host_threads = 2;
        o.check_races = o.check_uninit = true;
        char what[96];
        snprintf(what, sizeof what, "%s [%s]", t ? targets[t] : "interp", k->name);
        AttnErrors e = attn_decode_check_run(&m, v->dt, &c, seed, t ? attn_run_emu_hopper : attn_run_interp, t ? &o : NULL);
        attn_decode_check_assert(&e, v->dt, &c, what);
        attn_decode_free(&m);
    }
}

static bool full_matrix(void)
{
    const char *env = getenv("TSR_ATTN_FEATURES_FULL");
    return env && *env && strcmp(env, "0");
}

static void check(int i)
{
    if (full_matrix()) {
        for (int v = 0; v < NVARIANTS; v++)
            check_case(&cases[i], &variants[v], 700 + (uint64_t)i * 13 + (uint64_t)v);
    } else {
        check_case(&cases[i], &variants[(i * 7 + 2) % NVARIANTS], 700 + (uint64_t)i * 13);
    }
}

#define CASE_TEST(i)                                                                                         \
    static void case_##i(void **state)                                                                       \
    {                                                                                                        \
        (void)state;                                                                                         \
        check(i);                                                                                            \
    }
CASE_TEST(0)
CASE_TEST(1)
CASE_TEST(2)
CASE_TEST(3)
CASE_TEST(4)
CASE_TEST(5)
CASE_TEST(6)
CASE_TEST(7)
CASE_TEST(8)

int main(void)
{
    _Static_assert(NCASES == 9, "one test per case");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_0), cmocka_unit_test(case_1), cmocka_unit_test(case_2),
        cmocka_unit_test(case_3), cmocka_unit_test(case_4), cmocka_unit_test(case_5),
        cmocka_unit_test(case_6), cmocka_unit_test(case_7), cmocka_unit_test(case_8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
