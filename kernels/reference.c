/* Reference attention rows and gradients (see reference.h). */
#include "reference.h"

#include <math.h>
#include <stdlib.h>

static const float *row_of(const float *base, int H, int S, int D, int b, int h, int r)
{
    return base + (((int64_t)b * H + h) * S + r) * D;
}

/* Keys visible to query row r: [first, first + count). */
typedef struct {
    int first, count;
} KeyRange;

static const AttnFeatures no_features;

static KeyRange visible_keys(const AttnShape *s, const AttnFeatures *f, int r)
{
    if (!f)
        f = &no_features;
    int64_t diag = (int64_t)r + s->Sk - s->Sq, lo = 0, hi = s->Sk; /* [lo, hi) */
    if (f->local && f->window_left >= 0)
        lo = diag - f->window_left;
    if (s->causal)
        hi = diag + 1;
    else if (f->local && f->window_right >= 0)
        hi = diag + f->window_right + 1;
    lo = lo < 0 ? 0 : lo;
    hi = hi > s->Sk ? s->Sk : hi;
    KeyRange k = { (int)lo, hi > lo ? (int)(hi - lo) : 0 };
    return k;
}

int attention_visible_keys(const AttnShape *s, const AttnFeatures *f, int r, int *first)
{
    KeyRange k = visible_keys(s, f, r);
    if (first)
        *first = k.first;
    return k.count;
}

/* The score of row r, head h and key c from the scaled product q.k: soft-
 * capped, then less the ALiBi bias (kernels/attention_ext.tsr's order). */
static double score(const AttnShape *s, const AttnFeatures *f, int h, int r, int c, double qk)
{
    if (f->softcap > 0)
        qk = f->softcap * tanh(qk / f->softcap);
    if (f->alibi)
        qk -= (double)f->alibi[h] * fabs((double)r + s->Sk - s->Sq - c);
    return qk;
}

/* The same in f32, as a kernel computes it. */
static float score_f(const AttnShape *s, const AttnFeatures *f, int h, int r, int c, float qk)
{
    if (f->softcap > 0)
        qk = (float)f->softcap * tanhf(qk / (float)f->softcap);
    if (f->alibi)
        qk -= f->alibi[h] * fabsf((float)((int64_t)r + s->Sk - s->Sq - c));
    return qk;
}

void ref_attention_row(const AttnShape *s, const AttnInputs *in, int b, int h, int r, double *o_row, double *lse)
{
    ref_attention_row_ext(s, &no_features, in, b, h, r, o_row, lse);
}

void ref_attention_row_ext(const AttnShape *s, const AttnFeatures *f, const AttnInputs *in, int b, int h, int r,
                           double *o_row, double *lse)
{
    if (!f)
        f = &no_features;
    KeyRange kr = visible_keys(s, f, r);
    int hk = h / (s->Hq / s->Hkv), n = kr.count, D = s->D;
    for (int d = 0; d < D; d++)
        o_row[d] = 0.0;
    if (n == 0) {
        *lse = -INFINITY;
        return;
    }
    const float *q = row_of(in->q, s->Hq, s->Sq, D, b, h, r);
    double *sc = malloc(sizeof(double) * (size_t)n);
    double mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *k = row_of(in->k, s->Hkv, s->Sk, D, b, hk, kr.first + j);
        double acc = 0.0;
        for (int d = 0; d < D; d++)
            acc += (double)q[d] * (double)k[d];
        sc[j] = score(s, f, h, r, kr.first + j, acc * s->scale);
        mx = fmax(mx, sc[j]);
    }
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        sc[j] = exp(sc[j] - mx);
        sum += sc[j];
    }
    for (int j = 0; j < n; j++) {
        const float *v = row_of(in->v, s->Hkv, s->Sk, D, b, hk, kr.first + j);
        double p = sc[j] / sum;
        for (int d = 0; d < D; d++)
            o_row[d] += p * (double)v[d];
    }
    *lse = mx + log(sum);
    free(sc);
}

void ref_attention_row_lowp(const AttnShape *s, const AttnInputs *in, DType dt, int b, int h, int r, float *o_row)
{
    ref_attention_row_lowp_ext(s, &no_features, in, dt, b, h, r, o_row);
}

void ref_attention_row_lowp_ext(const AttnShape *s, const AttnFeatures *f, const AttnInputs *in, DType dt, int b,
                                int h, int r, float *o_row)
{
    if (!f)
        f = &no_features;
    KeyRange kr = visible_keys(s, f, r);
    int hk = h / (s->Hq / s->Hkv), n = kr.count, D = s->D;
    for (int d = 0; d < D; d++)
        o_row[d] = 0.0f;
    if (n == 0)
        return;
    const float *q = row_of(in->q, s->Hq, s->Sq, D, b, h, r);
    float *sc = malloc(sizeof(float) * (size_t)n);
    float *acc = calloc((size_t)D, sizeof(float));
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *k = row_of(in->k, s->Hkv, s->Sk, D, b, hk, kr.first + j);
        float a = 0.0f;
        for (int d = 0; d < D; d++)
            a += q[d] * k[d];
        sc[j] = score_f(s, f, h, r, kr.first + j, round_to_dtype(a, dt) * (float)s->scale);
        mx = fmaxf(mx, sc[j]);
    }
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        sc[j] = expf(sc[j] - mx);
        sum += sc[j];
    }
    for (int j = 0; j < n; j++) {
        const float *v = row_of(in->v, s->Hkv, s->Sk, D, b, hk, kr.first + j);
        float p = round_to_dtype(sc[j] / sum, dt);
        for (int d = 0; d < D; d++)
            acc[d] += p * v[d];
    }
    for (int d = 0; d < D; d++)
        o_row[d] = round_to_dtype(acc[d], dt);
    free(sc);
    free(acc);
}

void ref_attention_row_fp8(const AttnShape *s, const AttnInputs *in, DType out_dt, int b, int h, int r,
                           float *o_row)
{
    KeyRange kr = visible_keys(s, &no_features, r);
    int hk = h / (s->Hq / s->Hkv), n = kr.count, D = s->D;
    for (int d = 0; d < D; d++)
        o_row[d] = 0.0f;
    if (n == 0)
        return;
    const float *q = row_of(in->q, s->Hq, s->Sq, D, b, h, r);
    float *sc = malloc(sizeof(float) * (size_t)n);
    float *acc = calloc((size_t)D, sizeof(float));
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *k = row_of(in->k, s->Hkv, s->Sk, D, b, hk, kr.first + j);
        float a = 0.0f;
        for (int d = 0; d < D; d++)
            a += q[d] * k[d];
        sc[j] = a * (float)s->scale;
        mx = fmaxf(mx, sc[j]);
    }
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        sc[j] = expf(sc[j] - mx);
        sum += sc[j];
    }
    for (int j = 0; j < n; j++) {
        const float *v = row_of(in->v, s->Hkv, s->Sk, D, b, hk, kr.first + j);
        float p = round_to_dtype(sc[j], DT_E4M3);
        for (int d = 0; d < D; d++)
            acc[d] += p * v[d];
    }
    for (int d = 0; d < D; d++)
        o_row[d] = round_to_dtype(acc[d] / sum, out_dt);
    free(sc);
    free(acc);
}

/* Where the backward computation rounds: nowhere (the truth), or to dt at
 * each step a framework stores in dt. */
typedef struct {
    bool lowp;
    DType dt;
} Rounding;

static double rnd(const Rounding *rd, double x)
{
    return rd->lowp ? (double)round_to_dtype((float)x, rd->dt) : x;
}

static double dot_f(const float *a, const float *b, int n)
{
    double acc = 0.0;
    for (int i = 0; i < n; i++)
        acc += (double)a[i] * (double)b[i];
    return acc;
}

/* One query row's share of the gradients: its dq row, and its terms of dk
 * and dv (of key/value head hk). p and dp hold Sk doubles of scratch. */
static void backward_row(const AttnShape *s, const AttnInputs *in, const float *dout, const Rounding *rd, int b,
                         int h, int r, double *p, double *dp, double *dq, double *dk, double *dv)
{
    int hk = h / (s->Hq / s->Hkv), n = visible_keys(s, &no_features, r).count, D = s->D;
    if (n == 0)
        return; /* no key: zero gradients */
    const float *q = row_of(in->q, s->Hq, s->Sq, D, b, h, r), *g = row_of(dout, s->Hq, s->Sq, D, b, h, r);
    double mx = -INFINITY, sum = 0.0, delta = 0.0;
    for (int j = 0; j < n; j++) {
        p[j] = rnd(rd, dot_f(q, row_of(in->k, s->Hkv, s->Sk, D, b, hk, j), D)) * s->scale;
        mx = fmax(mx, p[j]);
    }
    for (int j = 0; j < n; j++) {
        p[j] = exp(p[j] - mx);
        sum += p[j];
    }
    for (int j = 0; j < n; j++) {
        p[j] = rnd(rd, p[j] / sum);
        dp[j] = rnd(rd, dot_f(g, row_of(in->v, s->Hkv, s->Sk, D, b, hk, j), D));
        delta += p[j] * dp[j]; /* = rowsum(dO * O) */
    }
    int64_t qrow = (((int64_t)b * s->Hq + h) * s->Sq + r) * D;
    for (int j = 0; j < n; j++) {
        double ds = rnd(rd, rnd(rd, p[j] * (dp[j] - delta)) * s->scale);
        const float *k = row_of(in->k, s->Hkv, s->Sk, D, b, hk, j);
        int64_t krow = (((int64_t)b * s->Hkv + hk) * s->Sk + j) * D;
        for (int d = 0; d < D; d++) {
            dq[qrow + d] += ds * (double)k[d];
            dk[krow + d] += ds * (double)q[d];
            dv[krow + d] += p[j] * (double)g[d];
        }
    }
}

static void backward(const AttnShape *s, const AttnInputs *in, const float *dout, const Rounding *rd, double *dq,
                     double *dk, double *dv)
{
    int64_t nq = (int64_t)s->B * s->Hq * s->Sq * s->D, nk = (int64_t)s->B * s->Hkv * s->Sk * s->D;
    for (int64_t i = 0; i < nq; i++)
        dq[i] = 0.0;
    for (int64_t i = 0; i < nk; i++)
        dk[i] = dv[i] = 0.0;
    double *p = malloc(sizeof(double) * (size_t)(s->Sk + 1)), *dp = malloc(sizeof(double) * (size_t)(s->Sk + 1));
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < s->Hq; h++)
            for (int r = 0; r < s->Sq; r++)
                backward_row(s, in, dout, rd, b, h, r, p, dp, dq, dk, dv);
    free(p);
    free(dp);
    if (rd->lowp) { /* the outputs are tensors of dt */
        for (int64_t i = 0; i < nq; i++)
            dq[i] = rnd(rd, dq[i]);
        for (int64_t i = 0; i < nk; i++) {
            dk[i] = rnd(rd, dk[i]);
            dv[i] = rnd(rd, dv[i]);
        }
    }
}

void ref_attention_backward(const AttnShape *s, const AttnInputs *in, const float *dout, double *dq, double *dk,
                            double *dv)
{
    Rounding exact = { false, DT_F32 };
    backward(s, in, dout, &exact, dq, dk, dv);
}

void ref_attention_backward_lowp(const AttnShape *s, const AttnInputs *in, const float *dout, DType dt, double *dq,
                                 double *dk, double *dv)
{
    Rounding low = { true, dt };
    backward(s, in, dout, &low, dq, dk, dv);
}

double attention_slack(DType dt)
{
    /* About one unit in the last place at the outputs' magnitude (< 1). */
    return dt == DT_BF16 ? 1.0 / 256.0 : 1.0 / 2048.0;
}
