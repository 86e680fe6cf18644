/* Attention compiled to PTX and run on the emulator: against the double
 * reference (FlashAttention's tolerance rule) and against the interpreter,
 * for every head dim, dtype and mask, on odd shapes with grouped-query
 * attention, with the emulator's race and uninitialized-register checks on
 * for one shape of each variant; compiled for sm_90a (wgmma) and sm_80. */
#include "attn_check.h"
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
    int sq, sk;
} SeqPair;

static const SeqPair pairs[] = { { 1, 1 }, { 113, 203 }, { 128, 217 }, { 239, 1 }, { 256, 256 } };

/* The emulator and the interpreter on the same inputs: the outputs may
 * differ by rounding only. */
static void compare_with_interp(TirFunc *f, DType dt, AttnShape s, const char *target)
{
    Rng rng;
    rng_seed(&rng, 77);
    int64_t qshape[4] = { s.B, s.Hq, s.Sq, s.D }, kshape[4] = { s.B, s.Hkv, s.Sk, s.D }, lshape[3] = { s.B, s.Hq, s.Sq };
    HostTensor q = tensor_new(dt, 4, qshape), k = tensor_new(dt, 4, kshape), v = tensor_new(dt, 4, kshape);
    HostTensor o[2] = { tensor_new(dt, 4, qshape), tensor_new(dt, 4, qshape) };
    HostTensor lse[2] = { tensor_new(DT_F32, 3, lshape), tensor_new(DT_F32, 3, lshape) };
    tensor_fill_normal(&q, &rng, 1.0);
    tensor_fill_normal(&k, &rng, 1.0);
    tensor_fill_normal(&v, &rng, 1.0);
    for (int i = 0; i < 2; i++) {
        tensor_poison(&o[i]);
        tensor_poison(&lse[i]);
        KernelArg args[6] = { arg_tensor(q), arg_tensor(k), arg_tensor(v), arg_tensor(o[i]), arg_tensor(lse[i]),
                              arg_scalar(s.scale) };
        StrBuf err;
        sb_init(&err);
        EmuRunOptions eo = { 0 };
        eo.target = target;
        if (!(i ? attn_run_emu(f, args, 6, &eo, &err) : attn_run_interp(f, args, 6, NULL, &err)))
            fail_msg("%s: %s", i ? "emu" : "interp", err.data);
        sb_free(&err);
    }
    double diff = 0, ldiff = 0;
    for (int64_t j = 0; j < tensor_numel(&o[0]); j++)
        diff = fmax(diff, fabs(tensor_get(&o[0], j) - tensor_get(&o[1], j)));
    for (int64_t j = 0; j < tensor_numel(&lse[0]); j++) {
        double a = tensor_get(&lse[0], j), b = tensor_get(&lse[1], j);
        if (!(a == b))
            ldiff = fmax(ldiff, fabs(a - b) / (1.0 + fabs(a)));
    }
    double tol = 4.0 * attention_slack(dt);
    if (!(diff <= tol) || !(ldiff <= 1e-4))
        fail_msg("emu (%s) vs interp %s D=%d: max diff %.3g (tol %.3g), LSE diff %.3g", target, dtype_name(dt), s.D,
                 diff, tol, ldiff);
    tensor_free(&q);
    tensor_free(&k);
    tensor_free(&v);
    for (int i = 0; i < 2; i++) {
        tensor_free(&o[i]);
        tensor_free(&lse[i]);
    }
}

/* Each variant as compiled for the default target (sm_90a: wgmma, with a
 * producer warpgroup and deferred wgmma waits; on two shapes without the
 * producer, on one with every wait at once) and for sm_80 (mma.sync), each
 * with its own block sizes. */
static void check_variant(DType dt, int D, bool causal, int bm, int bn)
{
    const char *targets[] = { target_default()->name, target_default()->name, "sm_80", target_default()->name };
    for (int t = 0; t < 4; t++) {
        TirModule *m = attn_compile(targets[t], dt, D, causal, bm, bn);
        TirFunc *f = module_func(m, "attention_fwd");
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            if ((t == 1 && i != 1 && i != 3) || (t == 3 && i != 1))
                continue;
            AttnShape s = { 2, 6, 2, pairs[i].sq, pairs[i].sk, D, causal, 1.0 / sqrt((double)D) };
            EmuRunOptions o = { 0 };
            o.target = targets[t];
            o.no_warp_specialize = t == 1;
            o.no_overlap = t == 3;
            o.host_threads = 2;
            o.check_races = o.check_uninit = i == 1;
            char *ptx = NULL;
            o.ptx = &ptx;
            AttnErrors e = attn_check_run(f, dt, s, 2000 + i * 7 + (uint64_t)D, attn_run_emu, &o);
            attn_check_assert(&e, dt, &s, targets[t]);
            /* what ran: on sm_90a with 64-row blocks, TMA copies and wgmma
             * dots, and a producer warpgroup unless it was turned off */
            bool hopper = t != 2 && (bm == 0 || bm >= 64);
            if (hopper && (!ptx || !strstr(ptx, "cp.async.bulk.tensor") || !strstr(ptx, "wgmma.mma_async")))
                fail_msg("%s D=%d: the sm_90a PTX run lacks TMA copies or wgmma", dtype_name(dt), D);
            if (hopper && (!strstr(ptx, "setmaxnreg.dec") != (t == 1)))
                fail_msg("%s D=%d: warp specialization %s, but the PTX %s a producer", dtype_name(dt), D,
                         t == 1 ? "off" : "on", t == 1 ? "has" : "lacks");
            if (t == 2 && (!ptx || !strstr(ptx, "mma.sync") || strstr(ptx, "wgmma")))
                fail_msg("%s D=%d: the sm_80 PTX run is not mma.sync code", dtype_name(dt), D);
            free(ptx);
        }
        AttnShape s = { 1, 2, 1, 77, 150, D, causal, 0.3 };
        if (t == 0 || t == 2) /* (compiles with the producer and the overlap) */
            compare_with_interp(f, dt, s, targets[t]);
        tir_module_free(m);
    }
}

/* The emulator with K's data one element off 16-byte alignment: the
 * runtime's rule sends K to the variant that copies it element by element
 * (generic stores, fenced for the tensor cores), while Q and V still come
 * by TMA. */
static bool run_emu_misaligned_k(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err)
{
    const HostTensor *k = &args[1].tensor;
    size_t bytes = (size_t)tensor_numel(k) * (size_t)dtype_size(k->dt);
    unsigned char *buf = malloc(bytes + 16);
    memcpy(buf + 2, k->data, bytes);
    KernelArg shifted[8];
    for (int i = 0; i < nargs && i < 8; i++)
        shifted[i] = args[i];
    shifted[1].tensor.data = buf + 2;
    bool ok = attn_run_emu(f, shifted, nargs, ctx, err);
    free(buf);
    return ok;
}

static void hopper_misaligned_k(void **state)
{
    (void)state;
    for (int c = 0; c < 2; c++) {
        DType dt = c ? DT_BF16 : DT_F16;
        int D = c ? 128 : 64;
        TirModule *m = attn_compile(target_default()->name, dt, D, c == 1, 0, 0);
        AttnShape s = { 2, 6, 2, 113, 203, D, c == 1, 1.0 / sqrt((double)D) };
        EmuRunOptions o = { 0 };
        o.host_threads = 2;
        o.check_races = o.check_uninit = true;
        char *ptx = NULL;
        o.ptx = &ptx;
        AttnErrors e = attn_check_run(module_func(m, "attention_fwd"), dt, s, 77, run_emu_misaligned_k, &o);
        attn_check_assert(&e, dt, &s, "emu, K misaligned");
        if (!ptx || !strstr(ptx, "cp.async.bulk.tensor") || !strstr(ptx, "fence.proxy.async") ||
            !strstr(ptx, "wgmma.mma_async"))
            fail_msg("the misaligned-K PTX lacks TMA for Q and V, the proxy fence for K, or wgmma");
        free(ptx);
        tir_module_free(m);
    }
}

/* The long sequences of the issue, at D=64. */
static void long_sequences(void **state)
{
    (void)state;
    for (int causal = 0; causal < 2; causal++) {
        TirModule *m = attn_compile(target_default()->name, DT_F16, 64, causal, 0, 0);
        AttnShape s = { 1, 2, 1, 1023, 1024, 64, causal, 0.125 };
        EmuRunOptions o = { 0 };
        o.host_threads = 2;
        AttnErrors e = attn_check_run(module_func(m, "attention_fwd"), DT_F16, s, 31, attn_run_emu, &o);
        attn_check_assert(&e, DT_F16, &s, "emu");
        tir_module_free(m);
    }
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
        cmocka_unit_test(long_sequences),
        cmocka_unit_test(hopper_misaligned_k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
