/* The attention check (see attn_check.h). */
#include "attn_check.h"
#include "attention_config.h"
#include "emu_run.h"
#include "target.h"
#include "tessera.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

bool attn_run_interp(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err)
{
    (void)ctx;
    return interp_launch(f, args, nargs, 0, err);
}

bool attn_run_emu(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err)
{
    return emu_run_kernel(f, args, nargs, ctx, err);
}

bool attn_run_emu_hopper(TirFunc *f, KernelArg *args, int nargs, void *ctx, StrBuf *err)
{
    EmuRunOptions *o = ctx;
    char *ptx = NULL, **given = o->ptx;
    o->ptx = &ptx;
    bool ok = emu_run_kernel(f, args, nargs, o, err);
    o->ptx = given;
    bool hopper = !strcmp(o->target ? o->target : target_default()->name, "sm_90a");
    if (ok && hopper && ptx && strstr(ptx, "mma") &&
        (strstr(ptx, "mma.sync") || !strstr(ptx, "wgmma.mma_async") || !strstr(ptx, "cp.async.bulk.tensor"))) {
        sb_printf(err, "%s: the sm_90a PTX run has mma.sync, or lacks wgmma or TMA copies", f->name);
        ok = false;
    }
    free(ptx);
    return ok;
}

const char *attn_interp_target(void)
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

AttnRowScratch attn_row_scratch(int D)
{
    AttnRowScratch sc = { malloc(sizeof(double) * (size_t)D), malloc(sizeof(float) * (size_t)D) };
    return sc;
}

void attn_row_scratch_free(AttnRowScratch *sc)
{
    free(sc->ref);
    free(sc->low);
}

void attn_measure_row(AttnErrors *e, const AttnShape *s, const AttnFeatures *f, const AttnInputs *in, DType dt, int b, int h, int r,
                      const HostTensor *o, int64_t o_at, const HostTensor *lse, int64_t lse_at, AttnRowScratch *sc)
{
    double ref_lse;
    ref_attention_row_ext(s, f, in, b, h, r, sc->ref, &ref_lse);
    ref_attention_row_lowp_ext(s, f, in, dt, b, h, r, sc->low);
    for (int d = 0; d < s->D; d++) {
        double got = tensor_get(o, o_at + d);
        if (isnan(got)) {
            e->unwritten++;
            continue;
        }
        e->err = fmax(e->err, fabs(got - sc->ref[d]));
        e->err_lowp = fmax(e->err_lowp, fabs((double)sc->low[d] - sc->ref[d]));
    }
    double got_lse = tensor_get(lse, lse_at);
    if (isnan(got_lse))
        e->unwritten++;
    else if (isinf(ref_lse))
        e->lse_err = fmax(e->lse_err, got_lse == ref_lse ? 0.0 : INFINITY);
    else
        e->lse_err = fmax(e->lse_err, fabs(got_lse - ref_lse) / (1.0 + fabs(ref_lse)));
}

AttnErrors attn_check_run(TirFunc *f, DType dt, AttnShape s, uint64_t seed, KernelRunner run, void *ctx)
{
    Rng rng;
    rng_seed(&rng, seed);
    int64_t qshape[4] = { s.B, s.Hq, s.Sq, s.D }, kshape[4] = { s.B, s.Hkv, s.Sk, s.D }, lshape[3] = { s.B, s.Hq, s.Sq };
    HostTensor q = tensor_new(dt, 4, qshape), k = tensor_new(dt, 4, kshape), v = tensor_new(dt, 4, kshape);
    HostTensor o = tensor_new(dt, 4, qshape), lse = tensor_new(DT_F32, 3, lshape);
    tensor_fill_normal(&q, &rng, 1.0);
    tensor_fill_normal(&k, &rng, 1.0);
    tensor_fill_normal(&v, &rng, 1.0);
    tensor_poison(&o);
    tensor_poison(&lse);
    KernelArg args[6] = { arg_tensor(q), arg_tensor(k), arg_tensor(v), arg_tensor(o), arg_tensor(lse),
                          arg_scalar(s.scale) };
    StrBuf err;
    sb_init(&err);
    if (!run(f, args, 6, ctx, &err))
        fail_msg("launch failed: %s", err.data);
    sb_free(&err);

    float *qf = tensor_to_float(&q), *kf = tensor_to_float(&k), *vf = tensor_to_float(&v);
    AttnInputs in = { qf, kf, vf };
    AttnRowScratch sc = attn_row_scratch(s.D);
    AttnErrors e = { 0 };
    for (int b = 0; b < s.B; b++)
        for (int h = 0; h < s.Hq; h++)
            for (int r = 0; r < s.Sq; r++) {
                int64_t row = (((int64_t)b * s.Hq + h) * s.Sq + r);
                attn_measure_row(&e, &s, NULL, &in, dt, b, h, r, &o, row * s.D, &lse, row, &sc);
            }
    attn_row_scratch_free(&sc);
    free(qf);
    free(kf);
    free(vf);
    tensor_free(&q);
    tensor_free(&k);
    tensor_free(&v);
    tensor_free(&o);
    tensor_free(&lse);
    return e;
}

void attn_check_assert(const AttnErrors *e, DType dt, const AttnShape *s, const char *what)
{
    double bound = 2.0 * e->err_lowp + attention_slack(dt);
    if (e->unwritten || !(e->err <= bound) || !(e->lse_err <= 1e-4))
        fail_msg("%s %s D=%d causal=%d B=%d Hq=%d Hkv=%d Sq=%d Sk=%d: max err %.3g (bound %.3g, lowp %.3g), "
                 "LSE err %.3g, %lld unwritten",
                 what, dtype_name(dt), s->D, s->causal, s->B, s->Hq, s->Hkv, s->Sq, s->Sk, e->err, bound,
                 e->err_lowp, e->lse_err, (long long)e->unwritten);
}

TirModule *attn_compile(const char *target, DType dt, int D, bool causal, int bm, int bn)
{
    int warps = 4, stages = 2;
    if (bm == 0 || bn == 0) {
        AttnConfig cfg = attention_config(target, dt, D, causal);
        bm = cfg.bm;
        bn = cfg.bn;
        warps = cfg.warps ? cfg.warps : warps;
        stages = cfg.stages ? cfg.stages : stages;
    }
    char dbuf[16], bmbuf[16], bnbuf[16], wbuf[16], sbuf[16];
    snprintf(dbuf, sizeof dbuf, "%d", D);
    snprintf(bmbuf, sizeof bmbuf, "%d", bm);
    snprintf(bnbuf, sizeof bnbuf, "%d", bn);
    snprintf(wbuf, sizeof wbuf, "%d", warps);
    snprintf(sbuf, sizeof sbuf, "%d", stages);
    Define defs[7] = { { "T", dtype_name(dt) }, { "D", dbuf }, { "CAUSAL", causal ? "true" : "false" },
                       { "BM", bmbuf }, { "BN", bnbuf }, { "W", wbuf }, { "STAGES", sbuf } };
    return compile_file_or_fail("kernels/attention.tsr", defs, 7);
}
