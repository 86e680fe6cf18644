/* The check of kernels/attention_ext.tsr (see attn_ext_check.h). */
#include "attn_ext_check.h"
#include "attention_config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

TirModule *attn_ext_compile(const char *target, DType dt, const AttnExtCase *c)
{
    AttnConfig cfg = attention_ext_config(target, dt, c->s.D, c->s.causal, c->seq_q != NULL);
    char dbuf[16], bmbuf[16], bnbuf[16], wbuf[16];
    snprintf(dbuf, sizeof dbuf, "%d", c->s.D);
    snprintf(bmbuf, sizeof bmbuf, "%d", cfg.bm);
    snprintf(bnbuf, sizeof bnbuf, "%d", cfg.bn);
    snprintf(wbuf, sizeof wbuf, "%d", cfg.warps);
    Define defs[10] = { { "T", dtype_name(dt) },
                        { "D", dbuf },
                        { "BM", bmbuf },
                        { "BN", bnbuf },
                        { "W", wbuf },
                        { "CAUSAL", c->s.causal ? "true" : "false" },
                        { "LOCAL", c->f.local ? "true" : "false" },
                        { "SOFTCAP", c->f.softcap > 0 ? "true" : "false" },
                        { "ALIBI", c->alibi ? "true" : "false" },
                        { "VARLEN", c->seq_q ? "true" : "false" } };
    return compile_file_or_fail("kernels/attention_ext.tsr", defs, 10);
}

/* Where the rows of the batch lie: sequence b's query rows start at row
 * q0[b] and its keys at k0[b] of the packed tensors (the last entry is the
 * total), or the batch is dense. */
typedef struct {
    bool packed;
    int nseq, *q0, *k0;
} Batch;

static Batch batch_of(const AttnExtCase *c)
{
    Batch bt = { c->seq_q != NULL, c->s.B, calloc((size_t)c->s.B + 1, sizeof(int)),
                 calloc((size_t)c->s.B + 1, sizeof(int)) };
    for (int b = 0; b < bt.nseq; b++) {
        bt.q0[b + 1] = bt.q0[b] + (bt.packed ? c->seq_q[b] : c->s.Sq);
        bt.k0[b + 1] = bt.k0[b] + (bt.packed ? c->seq_k[b] : c->s.Sk);
    }
    return bt;
}

/* Sequence b's rows of src (H heads; len rows, from row `first` of a
 * packed batch) as a contiguous [1, H, len, D] array, the reference's
 * layout. A dense batch is [B, H, S = len, D]; a packed one [total, H, D]. */
static float *sequence_rows(const float *src, const Batch *bt, int H, int D, int b, int first, int len)
{
    float *dst = malloc(sizeof(float) * ((size_t)H * len * D + 1));
    for (int h = 0; h < H; h++)
        for (int r = 0; r < len; r++) {
            int64_t at = bt->packed ? ((int64_t)(first + r) * H + h) * D : (((int64_t)b * H + h) * len + r) * D;
            memcpy(dst + ((int64_t)h * len + r) * D, src + at, sizeof(float) * (size_t)D);
        }
    return dst;
}

/* A packed [total, H, D] tensor as the kernel's [1, H, total, D] view
 * (same memory); a dense one as it is. */
static HostTensor kernel_view(HostTensor t, bool packed)
{
    if (!packed)
        return t;
    HostTensor v = t;
    int64_t total = t.shape[0], H = t.shape[1], D = t.shape[2];
    v.rank = 4;
    int64_t shape[4] = { 1, H, total, D }, strides[4] = { total * H * D, D, H * D, 1 };
    memcpy(v.shape, shape, sizeof shape);
    memcpy(v.strides, strides, sizeof strides);
    return v;
}

static HostTensor i32_vector(const int *vals, int n)
{
    int64_t shape[1] = { n };
    HostTensor t = tensor_new(DT_I32, 1, shape);
    for (int i = 0; i < n; i++)
        tensor_set(&t, i, vals[i]);
    return t;
}

AttnErrors attn_ext_check_run(TirFunc *f, DType dt, const AttnExtCase *c, uint64_t seed, KernelRunner run, void *ctx)
{
    AttnShape s = c->s;
    Batch bt = batch_of(c);
    int tq = bt.q0[bt.nseq], tk = bt.k0[bt.nseq], max_sq = 0;
    for (int b = 0; b < bt.nseq; b++)
        max_sq = bt.q0[b + 1] - bt.q0[b] > max_sq ? bt.q0[b + 1] - bt.q0[b] : max_sq;
    float *slopes = malloc(sizeof(float) * (size_t)s.Hq);
    for (int h = 0; h < s.Hq; h++) /* the slopes of the ALiBi paper: 2^(-8 (h + 1) / H) */
        slopes[h] = (float)exp2(-8.0 * (h + 1) / s.Hq);
    AttnFeatures feat = c->f;
    feat.alibi = c->alibi ? slopes : NULL;

    Rng rng;
    rng_seed(&rng, seed);
    int64_t qshape[4] = { s.B, s.Hq, s.Sq, s.D }, kshape[4] = { s.B, s.Hkv, s.Sk, s.D }, lshape[3] = { s.B, s.Hq, s.Sq };
    int64_t pq[3] = { tq, s.Hq, s.D }, pk[3] = { tk, s.Hkv, s.D }, pl[3] = { 1, s.Hq, tq };
    HostTensor q = bt.packed ? tensor_new(dt, 3, pq) : tensor_new(dt, 4, qshape);
    HostTensor k = bt.packed ? tensor_new(dt, 3, pk) : tensor_new(dt, 4, kshape);
    HostTensor v = bt.packed ? tensor_new(dt, 3, pk) : tensor_new(dt, 4, kshape);
    HostTensor o = bt.packed ? tensor_new(dt, 3, pq) : tensor_new(dt, 4, qshape);
    HostTensor lse = bt.packed ? tensor_new(DT_F32, 3, pl) : tensor_new(DT_F32, 3, lshape);
    tensor_fill_normal(&q, &rng, 1.0);
    tensor_fill_normal(&k, &rng, 1.0);
    tensor_fill_normal(&v, &rng, 1.0);
    if (c->nan_skipped_blocks && !bt.packed) {
        /* Row 0 sees the leftmost keys of all (windows move right with the rows). */
        int first = 0, seen = attention_visible_keys(&s, &feat, 0, &first);
        int64_t skipped = seen ? first / c->nan_skipped_blocks * c->nan_skipped_blocks : 0;
        for (int b = 0; b < s.B; b++)
            for (int h = 0; h < s.Hkv; h++)
                for (int64_t j = 0; j < skipped; j++)
                    for (int d = 0; d < s.D; d++) {
                        int64_t at = (((int64_t)b * s.Hkv + h) * s.Sk + j) * s.D + d;
                        tensor_set(&k, at, NAN);
                        tensor_set(&v, at, NAN);
                    }
    }
    tensor_poison(&o);
    tensor_poison(&lse);
    HostTensor cuq = i32_vector(bt.q0, bt.packed ? bt.nseq + 1 : 0), cuk = i32_vector(bt.k0, bt.packed ? bt.nseq + 1 : 0);
    int64_t nslopes[1] = { c->alibi ? s.Hq : 0 };
    HostTensor sl = tensor_new(DT_F32, 1, nslopes);
    for (int h = 0; h < nslopes[0]; h++)
        tensor_set(&sl, h, slopes[h]);
    KernelArg args[13] = { arg_tensor(kernel_view(q, bt.packed)),
                           arg_tensor(kernel_view(k, bt.packed)),
                           arg_tensor(kernel_view(v, bt.packed)),
                           arg_tensor(kernel_view(o, bt.packed)),
                           arg_tensor(lse),
                           arg_tensor(cuq),
                           arg_tensor(cuk),
                           arg_tensor(sl),
                           arg_scalar(s.scale),
                           arg_scalar(feat.local ? feat.window_left : -1),
                           arg_scalar(feat.local ? feat.window_right : -1),
                           arg_scalar(feat.softcap),
                           arg_scalar(bt.packed ? max_sq : s.Sq) };
    StrBuf err;
    sb_init(&err);
    if (!run(f, args, 13, ctx, &err))
        fail_msg("launch failed: %s", err.data);
    sb_free(&err);

    float *qf = tensor_to_float(&q), *kf = tensor_to_float(&k), *vf = tensor_to_float(&v);
    AttnRowScratch sc = attn_row_scratch(s.D);
    AttnErrors e = { 0 };
    for (int b = 0; b < bt.nseq; b++) {
        AttnShape sb = s;
        sb.B = 1;
        sb.Sq = bt.q0[b + 1] - bt.q0[b];
        sb.Sk = bt.k0[b + 1] - bt.k0[b];
        AttnInputs in = { sequence_rows(qf, &bt, s.Hq, s.D, b, bt.q0[b], sb.Sq),
                          sequence_rows(kf, &bt, s.Hkv, s.D, b, bt.k0[b], sb.Sk),
                          sequence_rows(vf, &bt, s.Hkv, s.D, b, bt.k0[b], sb.Sk) };
        for (int h = 0; h < s.Hq; h++)
            for (int r = 0; r < sb.Sq; r++) {
                int64_t row = bt.q0[b] + r, o_at, l_at;
                if (bt.packed) {
                    o_at = (row * s.Hq + h) * s.D;
                    l_at = (int64_t)h * tq + row;
                } else {
                    l_at = ((int64_t)b * s.Hq + h) * s.Sq + r;
                    o_at = l_at * s.D;
                }
                attn_measure_row(&e, &sb, &feat, &in, dt, 0, h, r, &o, o_at, &lse, l_at, &sc);
            }
        free((void *)in.q);
        free((void *)in.k);
        free((void *)in.v);
    }
    attn_row_scratch_free(&sc);
    free(qf);
    free(kf);
    free(vf);
    free(slopes);
    free(bt.q0);
    free(bt.k0);
    HostTensor *all[] = { &q, &k, &v, &o, &lse, &cuq, &cuk, &sl };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tensor_free(all[i]);
    return e;
}

void attn_ext_check_assert(const AttnErrors *e, DType dt, const AttnExtCase *c, const char *what)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s window=%d,%d softcap=%g alibi=%d", what, c->seq_q ? " varlen" : "",
             c->f.local ? c->f.window_left : -1, c->f.local ? c->f.window_right : -1, c->f.softcap, c->alibi);
    attn_check_assert(e, dt, &c->s, name);
}
