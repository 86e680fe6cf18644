/* The attention backward check (see attn_bwd_check.h). */
#include "attn_bwd_check.h"
#include "attention_config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

const int attn_bwd_pairs[ATTN_BWD_NPAIRS][2] = { { 1, 1 }, { 113, 203 }, { 128, 217 }, { 239, 1 }, { 256, 256 } };

bool attn_bwd_full_matrix(void)
{
    const char *env = getenv("TSR_ATTN_BWD_FULL");
    return env && *env && *env != '0';
}

AttnBwdPlan attn_bwd_plan(DType dt, int D, bool causal, int pair)
{
    AttnBwdPlan p = { true, true, pair == 1 };
    if (attn_bwd_full_matrix())
        return p;
    int v = (D == 64 ? 0 : D == 128 ? 1 : 2) * 4 + (dt == DT_BF16) * 2 + causal;
    int second = 1 + v % (ATTN_BWD_NPAIRS - 1);
    p.run = pair == 0 || pair == second;
    p.repeat = v % 4 == 0 && pair == second;
    p.check_races = v % 4 == 1 && pair == second;
    return p;
}

/* One of kernels/attention_bwd.tsr's compilations: the blocks b; want_dk
 * and want_dv for the dK/dV kernel. */
static TirModule *compile_bwd(DType dt, int D, bool causal, const AttnBlocks *b, bool want_dk, bool want_dv)
{
    char dbuf[16], bm[16], bn[16], w[16];
    snprintf(dbuf, sizeof dbuf, "%d", D);
    snprintf(bm, sizeof bm, "%d", b->bm);
    snprintf(bn, sizeof bn, "%d", b->bn);
    snprintf(w, sizeof w, "%d", b->warps);
    Define defs[8] = { { "T", dtype_name(dt) }, { "D", dbuf }, { "CAUSAL", causal ? "true" : "false" },
                       { "BM", bm }, { "BN", bn }, { "W", w }, { "WANT_DK", want_dk ? "true" : "false" },
                       { "WANT_DV", want_dv ? "true" : "false" } };
    return compile_file_or_fail("kernels/attention_bwd.tsr", defs, 8);
}

AttnBwdKernels attn_bwd_compile(const char *target, DType dt, int D, bool causal)
{
    AttnBwdConfig cfg = attention_bwd_config(target, dt, D, causal);
    /* The kernels take different blocks: compile the file once per set of
     * defines, and take each kernel from its own module. The preprocessing
     * kernel comes with the dQ one. */
    AttnBwdKernels k = { 0 };
    k.m = compile_bwd(dt, D, causal, &cfg.dq, true, true);
    k.dq = module_func(k.m, "attention_bwd_dq");
    k.pre = module_func(k.m, "attention_bwd_pre");
    k.m_dkdv = compile_bwd(dt, D, causal, &cfg.dkdv, true, !cfg.dkdv_split);
    k.dkdv = module_func(k.m_dkdv, "attention_bwd_dkdv");
    if (cfg.dkdv_split) {
        k.m_dv = compile_bwd(dt, D, causal, &cfg.dkdv, false, true);
        k.dv = module_func(k.m_dv, "attention_bwd_dkdv");
    }
    return k;
}

void attn_bwd_free(AttnBwdKernels *k)
{
    tir_module_free(k->m);
    tir_module_free(k->m_dkdv);
    if (k->m_dv)
        tir_module_free(k->m_dv);
    memset(k, 0, sizeof *k);
}

/* Inputs: random Q, K, V, dO in dt; O and LSE from the double reference. */
static AttnBwdTensors make_tensors(DType dt, const AttnShape *s, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    int64_t qshape[4] = { s->B, s->Hq, s->Sq, s->D }, kshape[4] = { s->B, s->Hkv, s->Sk, s->D };
    int64_t lshape[3] = { s->B, s->Hq, s->Sq };
    AttnBwdTensors t;
    t.q = tensor_new(dt, 4, qshape);
    t.k = tensor_new(dt, 4, kshape);
    t.v = tensor_new(dt, 4, kshape);
    t.dout = tensor_new(dt, 4, qshape);
    t.o = tensor_new(dt, 4, qshape);
    t.lse = tensor_new(DT_F32, 3, lshape);
    t.grad[ATTN_DQ] = tensor_new(dt, 4, qshape);
    t.grad[ATTN_DK] = tensor_new(dt, 4, kshape);
    t.grad[ATTN_DV] = tensor_new(dt, 4, kshape);
    tensor_fill_normal(&t.q, &rng, 1.0);
    tensor_fill_normal(&t.k, &rng, 1.0);
    tensor_fill_normal(&t.v, &rng, 1.0);
    tensor_fill_normal(&t.dout, &rng, 1.0);
    float *qf = tensor_to_float(&t.q), *kf = tensor_to_float(&t.k), *vf = tensor_to_float(&t.v);
    AttnInputs in = { qf, kf, vf };
    double *row = malloc(sizeof(double) * (size_t)s->D), lse;
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < s->Hq; h++)
            for (int r = 0; r < s->Sq; r++) {
                ref_attention_row(s, &in, b, h, r, row, &lse);
                int64_t at = ((int64_t)b * s->Hq + h) * s->Sq + r;
                for (int d = 0; d < s->D; d++)
                    tensor_set(&t.o, at * s->D + d, row[d]);
                tensor_set(&t.lse, at, lse);
            }
    free(row);
    free(qf);
    free(kf);
    free(vf);
    return t;
}

static void free_tensors(AttnBwdTensors *t)
{
    HostTensor *all[] = { &t->q, &t->k, &t->v, &t->o, &t->dout, &t->lse, &t->grad[0], &t->grad[1], &t->grad[2] };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tensor_free(all[i]);
}

bool attn_bwd_run_kernels(AttnBwdTensors *t, double scale, void *ctx, StrBuf *err)
{
    const AttnBwdKernelRun *r = ctx;
    HostTensor delta = tensor_new(DT_F32, 3, t->lse.shape);
    tensor_poison(&delta);
    KernelArg pre[3] = { arg_tensor(t->o), arg_tensor(t->dout), arg_tensor(delta) };
    KernelArg dkdv[9] = { arg_tensor(t->q),     arg_tensor(t->k),           arg_tensor(t->v),
                          arg_tensor(t->dout),  arg_tensor(t->lse),         arg_tensor(delta),
                          arg_tensor(t->grad[ATTN_DK]), arg_tensor(t->grad[ATTN_DV]), arg_scalar(scale) };
    KernelArg dq[8] = { arg_tensor(t->q),   arg_tensor(t->k),     arg_tensor(t->v),
                        arg_tensor(t->dout), arg_tensor(t->lse),  arg_tensor(delta),
                        arg_tensor(t->grad[ATTN_DQ]), arg_scalar(scale) };
    bool ok = r->run(r->k->pre, pre, 3, r->ctx, err) && r->run(r->k->dkdv, dkdv, 9, r->ctx, err) &&
              (!r->k->dv || r->run(r->k->dv, dkdv, 9, r->ctx, err)) && r->run(r->k->dq, dq, 8, r->ctx, err);
    tensor_free(&delta);
    return ok;
}

/* One run on poisoned outputs; fails the test if it fails. */
static void run_backward(AttnBwdTensors *t, double scale, AttnBwdRunner run, void *ctx)
{
    for (int g = 0; g < ATTN_NGRAD; g++)
        tensor_poison(&t->grad[g]);
    StrBuf err;
    sb_init(&err);
    if (!run(t, scale, ctx, &err))
        fail_msg("the backward pass failed: %s", err.data ? err.data : "");
    sb_free(&err);
}

static bool same_bits(const HostTensor *a, const HostTensor *b)
{
    return !memcmp(a->data, b->data, (size_t)(tensor_numel(a) * dtype_size(a->dt)));
}

AttnBwdErrors attn_bwd_check_run(DType dt, AttnShape s, uint64_t seed, bool repeat, AttnBwdRunner run, void *ctx)
{
    AttnBwdTensors t = make_tensors(dt, &s, seed);
    run_backward(&t, s.scale, run, ctx);
    AttnBwdErrors e = { 0 };
    if (repeat) {
        HostTensor first[ATTN_NGRAD];
        for (int g = 0; g < ATTN_NGRAD; g++) {
            first[g] = tensor_new(dt, 4, t.grad[g].shape);
            memcpy(first[g].data, t.grad[g].data, (size_t)(tensor_numel(&first[g]) * dtype_size(dt)));
        }
        run_backward(&t, s.scale, run, ctx);
        for (int g = 0; g < ATTN_NGRAD; g++) {
            e.repeat_differs |= !same_bits(&first[g], &t.grad[g]);
            tensor_free(&first[g]);
        }
    }

    float *qf = tensor_to_float(&t.q), *kf = tensor_to_float(&t.k), *vf = tensor_to_float(&t.v);
    float *gf = tensor_to_float(&t.dout);
    AttnInputs in = { qf, kf, vf };
    int64_t n[ATTN_NGRAD] = { tensor_numel(&t.grad[ATTN_DQ]), tensor_numel(&t.grad[ATTN_DK]),
                              tensor_numel(&t.grad[ATTN_DV]) };
    double *ref[ATTN_NGRAD], *low[ATTN_NGRAD];
    for (int g = 0; g < ATTN_NGRAD; g++) {
        ref[g] = malloc(sizeof(double) * (size_t)(n[g] + 1));
        low[g] = malloc(sizeof(double) * (size_t)(n[g] + 1));
    }
    ref_attention_backward(&s, &in, gf, ref[ATTN_DQ], ref[ATTN_DK], ref[ATTN_DV]);
    ref_attention_backward_lowp(&s, &in, gf, dt, low[ATTN_DQ], low[ATTN_DK], low[ATTN_DV]);
    for (int g = 0; g < ATTN_NGRAD; g++) {
        for (int64_t i = 0; i < n[g]; i++) {
            double got = tensor_get(&t.grad[g], i);
            if (isnan(got)) {
                e.unwritten++;
                continue;
            }
            e.err[g] = fmax(e.err[g], fabs(got - ref[g][i]));
            e.err_lowp[g] = fmax(e.err_lowp[g], fabs(low[g][i] - ref[g][i]));
            e.mag[g] = fmax(e.mag[g], fabs(ref[g][i]));
        }
        free(ref[g]);
        free(low[g]);
    }
    free(qf);
    free(kf);
    free(vf);
    free(gf);
    free_tensors(&t);
    return e;
}

void attn_bwd_check_assert(const AttnBwdErrors *e, DType dt, const AttnShape *s, const char *what)
{
    static const char *const names[ATTN_NGRAD] = { "dQ", "dK", "dV" };
    bool ok = !e->unwritten && !e->repeat_differs;
    char msg[512];
    int len = 0;
    for (int g = 0; g < ATTN_NGRAD; g++) {
        double bound = 2.0 * e->err_lowp[g] + attention_slack(dt) * fmax(1.0, e->mag[g]);
        ok &= e->err[g] <= bound;
        len += snprintf(msg + len, sizeof msg - (size_t)len, " %s err %.3g (bound %.3g, lowp %.3g, max %.3g);",
                        names[g], e->err[g], bound, e->err_lowp[g], e->mag[g]);
    }
    if (!ok)
        fail_msg("%s %s D=%d causal=%d B=%d Hq=%d Hkv=%d Sq=%d Sk=%d:%s %lld unwritten%s", what, dtype_name(dt), s->D,
                 s->causal, s->B, s->Hq, s->Hkv, s->Sq, s->Sk, msg, (long long)e->unwritten,
                 e->repeat_differs ? ", a repeated run gave other bits" : "");
}
