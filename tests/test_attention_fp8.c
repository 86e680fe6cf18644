/* fp8 attention forward (kernels/attention_fp8.tsr) through
 * tsr_attention_forward_ex on interp and on emu (sm_89's code, its products
 * on the fp8 tensor cores; sm_90a's, Q K^T on fp8 wgmma and P V widened to
 * f16):
 * e4m3 Q, K, V with descale factors, bf16 (and f16) output, head dims 64,
 * 128 and 256, causal and not, the shapes (Sq, Sk) = (1, 1), (113, 203)
 * and (239, 1) with grouped-query heads, outputs poisoned first.
 *
 * The rule (FlashAttention's, as for the 16-bit kernels): the truth is
 * attention in double on the fp8 values times their descales
 * (ref_attention_row); the kernel's largest error on O may be at most twice
 * that of the same math done in FlashAttention-3's fp8 precision
 * (ref_attention_row_fp8: f32 scores, P rounded to e4m3 for the product
 * with V, output rounded to its dtype) plus one unit in the last place of
 * the output dtype at magnitude 1 (attention_slack). The LSE is within
 * 1e-5 relative of the truth's (it comes from the f32 P, not the rounded
 * one); rows that see no key give O = 0 and LSE = -inf. */
#include "attn_check.h"
#include "reference.h"
#include "rt_suite.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct {
    int B, Hq, Hkv, Sq, Sk;
} Shape;

static const Shape shapes[] = { { 1, 2, 1, 1, 1 }, { 1, 4, 2, 113, 203 }, { 2, 1, 1, 239, 1 } };

static const double descales[3] = { 0.5, 0.125, 2.0 }; /* q, k, v */

/* Host values of a tensor of codes, times its descale. */
static float *values(const HostTensor *t, double descale)
{
    float *f = tensor_to_float(t);
    for (int64_t i = 0, n = tensor_numel(t); i < n; i++)
        f[i] = (float)(f[i] * descale);
    return f;
}

static tsr_context *context(tsr_device_kind kind, const char *target)
{
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = kind;
    o.target = target;
    o.flags = kind == TSR_DEVICE_EMU ? TSR_EMU_CHECK_RACES | TSR_EMU_CHECK_UNINIT : 0;
    suite_default_cache_dir();
    tsr_context *ctx;
    if (tsr_context_create(&o, &ctx) != TSR_OK)
        fail_msg("context: %s", tsr_context_error(ctx));
    return ctx;
}

/* One case: returns the number of failures printed. */
static int run_case(tsr_context *ctx, const char *where, int D, bool causal, DType odt, const Shape *sh, uint64_t seed)
{
    int64_t qs[4] = { sh->B, sh->Hq, sh->Sq, D }, ks[4] = { sh->B, sh->Hkv, sh->Sk, D }, ls[3] = { sh->B, sh->Hq, sh->Sq };
    HostTensor q = tensor_new(DT_E4M3, 4, qs), k = tensor_new(DT_E4M3, 4, ks), v = tensor_new(DT_E4M3, 4, ks);
    HostTensor o = tensor_new(odt, 4, qs), lse = tensor_new(DT_F32, 3, ls);
    Rng r;
    rng_seed(&r, seed);
    tensor_fill_normal(&q, &r, 8.0); /* codes over much of e4m3's range, 448 saturating */
    tensor_fill_normal(&k, &r, 4.0);
    tensor_fill_normal(&v, &r, 1.0);
    tensor_poison(&o);
    tensor_poison(&lse);
    DevTensor d[5];
    HostTensor *h[5] = { &q, &k, &v, &o, &lse };
    for (int i = 0; i < 5; i++)
        dev_upload(ctx, h[i], &d[i]);
    tsr_attention_options op;
    tsr_attention_options_init(&op);
    op.causal = causal;
    op.descale_q = (float)descales[0];
    op.descale_k = (float)descales[1];
    op.descale_v = (float)descales[2];
    tsr_status s = tsr_attention_forward_ex(ctx, &d[0].t, &d[1].t, &d[2].t, &d[3].t, &d[4].t, &op, NULL);
    if (s == TSR_OK)
        s = tsr_stream_synchronize(ctx, NULL);
    if (s != TSR_OK)
        fail_msg("%s D=%d: %s: %s", where, D, tsr_status_name(s), tsr_context_error(ctx));
    dev_download(ctx, &d[3], &o);
    dev_download(ctx, &d[4], &lse);
    for (int i = 0; i < 5; i++)
        dev_free(ctx, &d[i]);

    AttnShape as = { sh->B, sh->Hq, sh->Hkv, sh->Sq, sh->Sk, D, causal, 1.0 / sqrt((double)D) };
    float *fq = values(&q, descales[0]), *fk = values(&k, descales[1]), *fv = values(&v, descales[2]);
    AttnInputs in = { fq, fk, fv };
    double *truth = malloc(sizeof(double) * (size_t)D), tl;
    float *lowp = malloc(sizeof(float) * (size_t)D);
    double err = 0, err_lowp = 0;
    int bad = 0;
    for (int b = 0; b < sh->B; b++)
        for (int hh = 0; hh < sh->Hq; hh++)
            for (int row = 0; row < sh->Sq; row++) {
                ref_attention_row(&as, &in, b, hh, row, truth, &tl);
                ref_attention_row_fp8(&as, &in, odt, b, hh, row, lowp);
                int64_t base = (((int64_t)b * sh->Hq + hh) * sh->Sq + row) * D, li = base / D;
                for (int dd = 0; dd < D; dd++) {
                    if (tensor_is_poison(&o, base + dd) && ++bad <= 5)
                        print_error("%s: O[%lld] never written\n", where, (long long)(base + dd));
                    err = fmax(err, fabs(tensor_get(&o, base + dd) - truth[dd]));
                    err_lowp = fmax(err_lowp, fabs(lowp[dd] - truth[dd]));
                }
                double gl = tensor_get(&lse, li);
                bool ok = isinf(tl) ? isinf(gl) && gl < 0 : fabs(gl - tl) <= 1e-5 * fmax(1.0, fabs(tl));
                if ((!ok || tensor_is_poison(&lse, li)) && ++bad <= 5)
                    print_error("%s: LSE[%lld] = %.9g, want %.9g\n", where, (long long)li, gl, tl);
            }
    double bound = 2 * err_lowp + attention_slack(odt);
    if (err > bound && ++bad <= 5)
        print_error("%s D=%d causal=%d Sq=%d Sk=%d: max |O - truth| = %.3g > 2 * %.3g + slack = %.3g\n", where, D,
                    causal, sh->Sq, sh->Sk, err, err_lowp, bound);
    free(truth);
    free(lowp);
    free(fq);
    free(fk);
    free(fv);
    HostTensor *all[5] = { &q, &k, &v, &o, &lse };
    for (int i = 0; i < 5; i++)
        tensor_free(all[i]);
    return bad;
}

static int run_all(tsr_device_kind kind, const char *target, const int *dims, int ndims, DType odt)
{
    tsr_context *ctx = context(kind, target);
    char where[64];
    snprintf(where, sizeof where, "%s%s%s", kind == TSR_DEVICE_EMU ? "emu" : "interp", target ? " " : "",
             target ? target : "");
    int bad = 0;
    for (int i = 0; i < ndims; i++)
        for (int c = 0; c < 2; c++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                bad += run_case(ctx, where, dims[i], c, odt, &shapes[s], 800 + 10 * (uint64_t)i + s);
    tsr_context_destroy(ctx);
    return bad;
}

static const int all_dims[3] = { 64, 128, 256 };

static void interp_all(void **state)
{
    (void)state;
    assert_int_equal(run_all(TSR_DEVICE_INTERP, NULL, all_dims, 3, DT_BF16), 0);
    assert_int_equal(run_all(TSR_DEVICE_INTERP, NULL, all_dims, 1, DT_F16), 0);
}

static void emu_sm89(void **state)
{
    (void)state;
    assert_int_equal(run_all(TSR_DEVICE_EMU, "sm_89", all_dims, 3, DT_BF16), 0);
}

/* sm_90a: Q K^T on fp8 wgmma (m64nNk32, Q and K K-major in shared memory,
 * copied by TMA), P V widened to f16 on mma.sync (V is N-major, which 8-bit
 * wgmma does not take): every head dim with bf16 output, D=64 with f16. */
static void emu_sm90a(void **state)
{
    (void)state;
    assert_int_equal(run_all(TSR_DEVICE_EMU, "sm_90a", all_dims, 3, DT_BF16), 0);
    assert_int_equal(run_all(TSR_DEVICE_EMU, "sm_90a", all_dims, 1, DT_F16), 0);
}

/* The errors: features fp8 does not take, an output of another dtype,
 * mixed dtypes, non-finite descales, fp8 for the backward pass, and a
 * target without fp8 conversions (a compile error naming sm_89). */
static void errors(void **state)
{
    (void)state;
    tsr_context *ctx = context(TSR_DEVICE_INTERP, NULL);
    int64_t qs[4] = { 1, 1, 16, 64 }, ls[3] = { 1, 1, 16 };
    HostTensor q = tensor_new(DT_E4M3, 4, qs), o = tensor_new(DT_BF16, 4, qs), l = tensor_new(DT_F32, 3, ls);
    HostTensor of8 = tensor_new(DT_E4M3, 4, qs), k16 = tensor_new(DT_F16, 4, qs);
    memset(q.data, 0, 16 * 64);
    DevTensor dq, dk, dv, dout, dl, dof8, dk16;
    dev_upload(ctx, &q, &dq);
    dev_upload(ctx, &q, &dk);
    dev_upload(ctx, &q, &dv);
    dev_upload(ctx, &o, &dout);
    dev_upload(ctx, &l, &dl);
    dev_upload(ctx, &of8, &dof8);
    dev_upload(ctx, &k16, &dk16);
    tsr_attention_options op;
    tsr_attention_options_init(&op);
    op.local = 1;
    assert_int_equal(tsr_attention_forward_ex(ctx, &dq.t, &dk.t, &dv.t, &dout.t, &dl.t, &op, NULL), TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "fp8 attention takes no window"));
    tsr_attention_options_init(&op);
    assert_int_equal(tsr_attention_forward_ex(ctx, &dq.t, &dk.t, &dv.t, &dof8.t, &dl.t, &op, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "bfloat16 or float16, not float8_e4m3fn"));
    assert_int_not_equal(tsr_attention_forward_ex(ctx, &dq.t, &dk16.t, &dv.t, &dout.t, &dl.t, &op, NULL), TSR_OK);
    op.descale_v = INFINITY;
    assert_int_equal(tsr_attention_forward_ex(ctx, &dq.t, &dk.t, &dv.t, &dout.t, &dl.t, &op, NULL),
                     TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_attention_backward(ctx, &dq.t, &dk.t, &dv.t, &dout.t, &dl.t, &dout.t, &dout.t, &dout.t,
                                            &dout.t, 0.125f, 0, NULL),
                     TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "q is float8_e4m3fn"));
    DevTensor *all[7] = { &dq, &dk, &dv, &dout, &dl, &dof8, &dk16 };
    for (int i = 0; i < 7; i++)
        dev_free(ctx, all[i]);
    tsr_context_destroy(ctx);

    /* sm_80 has no fp8 conversions: the kernel does not compile */
    ctx = context(TSR_DEVICE_EMU, "sm_80");
    dev_upload(ctx, &q, &dq);
    dev_upload(ctx, &q, &dk);
    dev_upload(ctx, &q, &dv);
    dev_upload(ctx, &o, &dout);
    dev_upload(ctx, &l, &dl);
    tsr_attention_options_init(&op);
    assert_int_equal(tsr_attention_forward_ex(ctx, &dq.t, &dk.t, &dv.t, &dout.t, &dl.t, &op, NULL), TSR_ERR_COMPILE);
    assert_non_null(strstr(tsr_context_error(ctx), "needs sm_89 or later"));
    for (int i = 0; i < 5; i++)
        dev_free(ctx, all[i]);
    tsr_context_destroy(ctx);
    HostTensor *hs[5] = { &q, &o, &l, &of8, &k16 };
    for (int i = 0; i < 5; i++)
        tensor_free(hs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(interp_all), cmocka_unit_test(emu_sm89),
                                        cmocka_unit_test(emu_sm90a), cmocka_unit_test(errors) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
