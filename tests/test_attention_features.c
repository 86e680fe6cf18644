/* kernels/attention_ext.tsr (sliding windows, soft-capping, ALiBi, packed
 * variable-length batches) on the interpreter and on the emulator (sm_90a
 * and sm_80 code) against the double reference by FlashAttention's rule,
 * on the edge cases: windows wider than the sequence and of 0,
 * empty and length-1 sequences in a packed batch. Outputs are poisoned
 * before each run; with a left window on a dense batch, the key blocks
 * before every row's window are NaN, so that a kernel that loads them
 * rather than skipping them fails. `make test` runs every case on one variant each (the
 * variants rotate over dtype, head dim and mask) on every device; `make
 * test-attention-full` (TSR_ATTN_FEATURES_FULL=1) every case on every
 * variant: f16 and bf16, D 64/128/256, causal and not. */
#include "attn_ext_check.h"
#include "attention_config.h"
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

/* A packed batch: empty sequences (queries, keys, both), length 1, lengths
 * that are not multiples of a block, Sq < Sk and Sq > Sk. */
static const int varlen_q[] = { 0, 1, 77, 130, 5, 64, 0, 20 };
static const int varlen_k[] = { 0, 1, 90, 130, 0, 3, 9, 200 };
#define NVARLEN ((int)(sizeof varlen_q / sizeof varlen_q[0]))

/* The features of a case, set on a dense shape B=2, Hq=4, Hkv=2. */
typedef struct {
    const char *name;
    int sq, sk;
    bool local;
    int wl, wr;
    double softcap;
    bool alibi, varlen;
} Feature;

static const Feature features[] = {
    { "window 32,0 (Mistral)", 200, 200, true, 32, 0, 0, false, false },
    { "window 16,0, Sq << Sk: blocks before it skipped (NaN there)", 70, 600, true, 16, 0, 0, false, false },
    { "window 16,8, Sq < Sk", 113, 203, true, 16, 8, 0, false, false },
    { "window 8,-1 (left only), Sq > Sk", 150, 70, true, 8, -1, 0, false, false },
    { "window -1,4 (right only)", 100, 130, true, -1, 4, 0, false, false },
    { "window wider than the sequence", 77, 90, true, 1000, 5000, 0, false, false },
    { "window 0,0", 70, 70, true, 0, 0, 0, false, false },
    { "softcap 2", 113, 150, false, 0, 0, 2.0, false, false },
    { "alibi", 100, 120, false, 0, 0, 0, true, false },
    { "window 20,3 + softcap 5 + alibi", 129, 129, true, 20, 3, 5.0, true, false },
    { "varlen", 0, 0, false, 0, 0, 0, false, true },
    { "varlen + window 10,2 + softcap 3 + alibi", 0, 0, true, 10, 2, 3.0, true, true },
    { "varlen + window 0,0", 0, 0, true, 0, 0, 0, false, true },
};
#define NFEATURES ((int)(sizeof features / sizeof features[0]))

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

static AttnExtCase case_of(const Feature *f, const Variant *v)
{
    AttnExtCase c;
    memset(&c, 0, sizeof c);
    AttnShape s = { 2, 4, 2, f->sq, f->sk, v->D, v->causal, 1.0 / sqrt((double)v->D) };
    c.s = s;
    c.f.local = f->local;
    c.f.window_left = f->wl;
    c.f.window_right = f->wr;
    c.f.softcap = f->softcap;
    c.alibi = f->alibi;
    if (f->varlen) {
        c.s.B = NVARLEN;
        c.seq_q = varlen_q;
        c.seq_k = varlen_k;
    }
    return c;
}

/* One case on the interpreter, and on the emulator for sm_90a and sm_80. */
static void check_case(const Feature *f, const Variant *v, uint64_t seed)
{
    AttnExtCase c = case_of(f, v);
    const char *targets[] = { attn_interp_target(), target_default()->name, "sm_80" };
    for (int t = 0; t < 3; t++) {
        if (f->local && f->wl >= 0 && !f->varlen)
            c.nan_skipped_blocks = attention_ext_config(targets[t], v->dt, v->D, v->causal, false).bn;
        TirModule *m = attn_ext_compile(targets[t], v->dt, &c);
        TirFunc *fn = module_func(m, "attention_fwd_ext");
        EmuRunOptions o = { 0 };
        o.target = targets[t];
        o.host_threads = 2;
        o.check_races = o.check_uninit = true;
        char what[64];
        snprintf(what, sizeof what, "%s [%s]", t ? targets[t] : "interp", f->name);
        AttnErrors e = attn_ext_check_run(fn, v->dt, &c, seed, t ? attn_run_emu_hopper : attn_run_interp, t ? &o : NULL);
        attn_ext_check_assert(&e, v->dt, &c, what);
        tir_module_free(m);
    }
}

static bool full_matrix(void)
{
    const char *env = getenv("TSR_ATTN_FEATURES_FULL");
    return env && *env && strcmp(env, "0");
}

/* Each feature: on one variant (rotating), or on all of them. */
static void check_feature(int i)
{
    if (full_matrix()) {
        for (int v = 0; v < NVARIANTS; v++)
            check_case(&features[i], &variants[v], 500 + (uint64_t)i * 31 + (uint64_t)v);
    } else {
        check_case(&features[i], &variants[(i * 5) % NVARIANTS], 500 + (uint64_t)i * 31);
    }
}

#define FEATURE_TEST(i)                                                                                      \
    static void feature_##i(void **state)                                                                     \
    {                                                                                                         \
        (void)state;                                                                                          \
        check_feature(i);                                                                                     \
    }
FEATURE_TEST(0)
FEATURE_TEST(1)
FEATURE_TEST(2)
FEATURE_TEST(3)
FEATURE_TEST(4)
FEATURE_TEST(5)
FEATURE_TEST(6)
FEATURE_TEST(7)
FEATURE_TEST(8)
FEATURE_TEST(9)
FEATURE_TEST(10)
FEATURE_TEST(11)
FEATURE_TEST(12)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(feature_0), cmocka_unit_test(feature_1),  cmocka_unit_test(feature_2),
        cmocka_unit_test(feature_3), cmocka_unit_test(feature_4),  cmocka_unit_test(feature_5),
        cmocka_unit_test(feature_6), cmocka_unit_test(feature_7),  cmocka_unit_test(feature_8),
        cmocka_unit_test(feature_9), cmocka_unit_test(feature_10), cmocka_unit_test(feature_11),
        cmocka_unit_test(feature_12),
    };
    _Static_assert(NFEATURES == 13, "one test per feature case");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
