/* The check of kernels/attention_decode.tsr (see attn_decode_check.h). */
#include "attn_decode_check.h"
#include "attention_config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static int pages_of(int keys, int page)
{
    return (keys + page - 1) / page;
}

AttnDecodeModules attn_decode_compile(const char *target, DType dt, const AttnDecodeCase *c)
{
    AttnBlocks s = attention_decode_config(target, dt, c->D, c->Hq / c->Hkv * c->Sq, c->page);
    AttnBlocks k = attention_decode_combine_config(target, dt, c->D);
    char d[16], bm[16], bn[16], w[16], cbm[16], cw[16];
    snprintf(d, sizeof d, "%d", c->D);
    snprintf(bm, sizeof bm, "%d", s.bm);
    snprintf(bn, sizeof bn, "%d", s.bn);
    snprintf(w, sizeof w, "%d", s.warps);
    snprintf(cbm, sizeof cbm, "%d", k.bm);
    snprintf(cw, sizeof cw, "%d", k.warps);
    /* One file, two kernels: each compile takes only its kernel's defines. */
    Define sdefs[9] = { { "T", dtype_name(dt) }, { "D", d }, { "BM", bm }, { "BN", bn },
                        { "CAUSAL", c->causal ? "true" : "false" }, { "W", w },
                        { "LOCAL", c->f.local ? "true" : "false" }, { "SOFTCAP", c->f.softcap > 0 ? "true" : "false" },
                        { "ALIBI", c->alibi ? "true" : "false" } };
    Define cdefs[4] = { { "T", dtype_name(dt) }, { "D", d }, { "BM", cbm }, { "W", cw } };
    AttnDecodeModules m;
    m.split = compile_file_or_fail("kernels/attention_decode.tsr", sdefs, 9);
    m.combine = compile_file_or_fail("kernels/attention_decode.tsr", cdefs, 4);
    return m;
}

void attn_decode_free(AttnDecodeModules *m)
{
    tir_module_free(m->split);
    tir_module_free(m->combine);
}

/* A [B, Hq, Sq, ...] tensor as the kernels' [B, Hkv, (Hq / Hkv) * Sq, ...]
 * view (the same memory: it is contiguous). */
static HostTensor grouped(HostTensor t, int Hkv)
{
    HostTensor v = t;
    int64_t g = t.shape[1] / Hkv;
    v.shape[1] = Hkv;
    v.shape[2] = g * t.shape[2];
    v.strides[1] = g * t.strides[1];
    return v;
}

/* Sequence b's keys (or values), gathered from the pages of its block
 * table, as a [1, Hkv, nk, D] array. */
static float *gather_keys(const float *cache, const int32_t *bt, int mp, int b, int nk, int page, int Hkv, int D)
{
    float *dst = malloc(sizeof(float) * ((size_t)Hkv * (size_t)nk * (size_t)D + 1));
    for (int j = 0; j < nk; j++) {
        int64_t pg = bt[(int64_t)b * mp + j / page], row = j % page;
        for (int h = 0; h < Hkv; h++)
            memcpy(dst + ((int64_t)h * nk + j) * D, cache + ((pg * page + row) * Hkv + h) * D,
                   sizeof(float) * (size_t)D);
    }
    return dst;
}

/* With a left window, the pages of each sequence that lie wholly before
 * its first token's window (windows move right with the tokens) are NaN in
 * both caches: a kernel that reads them, rather than skipping them, writes
 * NaN (0 * NaN is NaN). The reference sees no key outside a window. */
static void nan_skipped_pages(const AttnDecodeCase *c, const AttnFeatures *f, AttnDecodeTensors *t, int mp)
{
    if (!f->local || f->window_left < 0)
        return;
    const int32_t *btv = t->bt.data;
    int64_t per_page = (int64_t)c->page * c->Hkv * c->D;
    for (int b = 0; b < c->B; b++) {
        AttnShape s = { 1, c->Hq, c->Hkv, c->Sq, c->seqk[b], c->D, c->causal, t->scale };
        int first = 0;
        if (!attention_visible_keys(&s, f, 0, &first))
            continue;
        for (int j = 0; j < first / c->page; j++)
            for (int64_t i = 0; i < per_page; i++) {
                tensor_set(&t->kc, btv[(int64_t)b * mp + j] * per_page + i, NAN);
                tensor_set(&t->vc, btv[(int64_t)b * mp + j] * per_page + i, NAN);
            }
    }
}

/* The kernels of attn_decode_check_run and their runner. */
typedef struct {
    const AttnDecodeModules *m;
    KernelRunner run;
    void *ctx;
} KernelPair;

static bool run_kernels(const AttnDecodeCase *c, AttnDecodeTensors *t, void *arg, StrBuf *err)
{
    KernelPair *kp = arg;
    /* a window's extents as the runtime gives them: negative (open) as -1 */
    int wl = c->f.local && c->f.window_left >= 0 ? c->f.window_left : -1;
    int wr = c->f.local && c->f.window_right >= 0 ? c->f.window_right : -1;
    KernelArg sargs[13] = { arg_tensor(grouped(t->q, c->Hkv)), arg_tensor(t->kc), arg_tensor(t->vc),
                            arg_tensor(t->bt), arg_tensor(t->seqk), arg_tensor(t->slopes), arg_tensor(t->op),
                            arg_tensor(t->lp), arg_scalar(t->scale), arg_scalar(c->Sq), arg_scalar(wl),
                            arg_scalar(wr), arg_scalar(c->f.softcap) };
    KernelArg cargs[4] = { arg_tensor(t->op), arg_tensor(t->lp), arg_tensor(grouped(t->o, c->Hkv)),
                           arg_tensor(grouped(t->lse, c->Hkv)) };
    if (!kp->run(module_func(kp->m->split, TSR_ATTENTION_DECODE_SPLIT), sargs, 13, kp->ctx, err)) {
        sb_printf(err, " (the split kernel)");
        return false;
    }
    if (!kp->run(module_func(kp->m->combine, TSR_ATTENTION_DECODE_COMBINE), cargs, 4, kp->ctx, err)) {
        sb_printf(err, " (the combine kernel)");
        return false;
    }
    return true;
}

AttnErrors attn_decode_check_run(const AttnDecodeModules *m, DType dt, const AttnDecodeCase *c, uint64_t seed,
                                 KernelRunner run, void *ctx)
{
    KernelPair kp = { m, run, ctx };
    return attn_decode_check_with(dt, c, seed, run_kernels, &kp);
}

AttnErrors attn_decode_check_with(DType dt, const AttnDecodeCase *c, uint64_t seed, AttnDecodeRunner run, void *ctx)
{
    Rng rng;
    rng_seed(&rng, seed);
    int mp = 1, np = 1; /* pages: one more than needed, never referenced */
    for (int b = 0; b < c->B; b++) {
        int n = pages_of(c->seqk[b], c->page);
        mp = n > mp ? n : mp;
        np += n;
    }
    /* The block table: every page a sequence uses, in a shuffled order;
     * entries past a sequence's pages point nowhere (-1). */
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)np);
    for (int i = 0; i < np; i++)
        perm[i] = i;
    for (int i = np - 1; i > 0; i--) {
        int j = (int)(rng_u64(&rng) % (uint64_t)(i + 1));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    AttnDecodeTensors t;
    int64_t btshape[2] = { c->B, mp }, sshape[1] = { c->B };
    t.bt = tensor_new(DT_I32, 2, btshape);
    t.seqk = tensor_new(DT_I32, 1, sshape);
    int32_t *btv = t.bt.data;
    for (int b = 0, next = 0; b < c->B; b++) {
        int n = pages_of(c->seqk[b], c->page);
        for (int i = 0; i < mp; i++)
            btv[(int64_t)b * mp + i] = i < n ? perm[next++] : -1;
        ((int32_t *)t.seqk.data)[b] = c->seqk[b];
    }
    int M = c->Hq / c->Hkv * c->Sq;
    int64_t qshape[4] = { c->B, c->Hq, c->Sq, c->D }, cshape[4] = { np, c->page, c->Hkv, c->D },
            lshape[3] = { c->B, c->Hq, c->Sq }, oshape[4] = { c->splits, (int64_t)c->B * c->Hkv, M, c->D },
            lpshape[3] = { c->splits, (int64_t)c->B * c->Hkv, M };
    t.q = tensor_new(dt, 4, qshape);
    t.kc = tensor_new(dt, 4, cshape);
    t.vc = tensor_new(dt, 4, cshape);
    t.o = tensor_new(dt, 4, qshape);
    t.lse = tensor_new(DT_F32, 3, lshape);
    t.op = tensor_new(DT_F32, 4, oshape);
    t.lp = tensor_new(DT_F32, 3, lpshape);
    t.scale = 1.0 / sqrt((double)c->D);
    int64_t nslopes[1] = { c->alibi ? c->Hq : 0 };
    t.slopes = tensor_new(DT_F32, 1, nslopes);
    float *slopes = malloc(sizeof(float) * (size_t)c->Hq);
    for (int h = 0; h < c->Hq; h++) { /* the slopes of the ALiBi paper: 2^(-8 (h + 1) / H) */
        slopes[h] = (float)exp2(-8.0 * (h + 1) / c->Hq);
        if (c->alibi)
            tensor_set(&t.slopes, h, slopes[h]);
    }
    AttnFeatures feat = c->f;
    feat.alibi = c->alibi ? slopes : NULL;
    tensor_fill_normal(&t.q, &rng, 1.0);
    tensor_fill_normal(&t.kc, &rng, 1.0);
    tensor_fill_normal(&t.vc, &rng, 1.0);
    nan_skipped_pages(c, &feat, &t, mp);
    HostTensor *poisoned[] = { &t.o, &t.lse, &t.op, &t.lp };
    for (int i = 0; i < 4; i++)
        tensor_poison(poisoned[i]);

    StrBuf err;
    sb_init(&err);
    if (!run(c, &t, ctx, &err))
        fail_msg("decoding failed: %s", err.data);
    sb_free(&err);

    float *qf = tensor_to_float(&t.q), *kf = tensor_to_float(&t.kc), *vf = tensor_to_float(&t.vc);
    AttnRowScratch sc = attn_row_scratch(c->D);
    AttnErrors e = { 0 };
    for (int b = 0; b < c->B; b++) {
        int nk = c->seqk[b];
        AttnShape s = { 1, c->Hq, c->Hkv, c->Sq, nk, c->D, c->causal, t.scale };
        AttnInputs in = { qf + (int64_t)b * c->Hq * c->Sq * c->D, gather_keys(kf, btv, mp, b, nk, c->page, c->Hkv, c->D),
                          gather_keys(vf, btv, mp, b, nk, c->page, c->Hkv, c->D) };
        for (int h = 0; h < c->Hq; h++)
            for (int r = 0; r < c->Sq; r++) {
                int64_t row = ((int64_t)b * c->Hq + h) * c->Sq + r;
                attn_measure_row(&e, &s, &feat, &in, dt, 0, h, r, &t.o, row * c->D, &t.lse, row, &sc);
            }
        free((void *)in.k);
        free((void *)in.v);
    }
    attn_row_scratch_free(&sc);
    free(qf);
    free(kf);
    free(vf);
    free(perm);
    free(slopes);
    HostTensor *all[] = { &t.q, &t.kc, &t.vc, &t.o, &t.lse, &t.op, &t.lp, &t.bt, &t.seqk, &t.slopes };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tensor_free(all[i]);
    return e;
}

void attn_decode_check_assert(const AttnErrors *e, DType dt, const AttnDecodeCase *c, const char *what)
{
    char name[256];
    snprintf(name, sizeof name, "%s decode page=%d splits=%d seqk[0]=%d window=%d,%d softcap=%g alibi=%d", what,
             c->page, c->splits, c->seqk[0], c->f.local ? c->f.window_left : -1,
             c->f.local ? c->f.window_right : -1, c->f.softcap, c->alibi);
    AttnShape s = { c->B, c->Hq, c->Hkv, c->Sq, c->seqk[0], c->D, c->causal, 0 };
    attn_check_assert(e, dt, &s, name);
}
