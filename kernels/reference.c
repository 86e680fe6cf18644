/* Reference attention rows and gradients (see reference.h). */
#include "reference.h"

#include <math.h>
#include <stdlib.h>

static const float *row_of(const float *base, int H, int S, int D, int b, int h, int r)
{
    return base + (((int64_t)b * H + h) * S + r) * D;
}

/* Keys visible to query row r: [0, limit). */
static int visible_keys(const AttnShape *s, int r)
{
    if (!s->causal)
        return s->Sk;
    int64_t lim = (int64_t)r + s->Sk - s->Sq + 1;
    return lim < 0 ? 0 : lim > s->Sk ? s->Sk : (int)lim;
}

void ref_attention_row(const AttnShape *s, const AttnInputs *in, int b, int h, int r, double *o_row, double *lse)
{
    int hk = h / (s->Hq / s->Hkv), n = visible_keys(s, r), D = s->D;
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
        const float *k = row_of(in->k, s->Hkv, s->Sk, D, b, hk, j);
        double acc = 0.0;
        for (int d = 0; d < D; d++)
            acc += (double)q[d] * (double)k[d];
        sc[j] = acc * s->scale;
        mx = fmax(mx, sc[j]);
    }
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        sc[j] = exp(sc[j] - mx);
        sum += sc[j];
    }
    for (int j = 0; j < n; j++) {
        const float *v = row_of(in->v, s->Hkv, s->Sk, D, b, hk, j);
        double p = sc[j] / sum;
        for (int d = 0; d < D; d++)
            o_row[d] += p * (double)v[d];
    }
    *lse = mx + log(sum);
    free(sc);
}

void ref_attention_row_lowp(const AttnShape *s, const AttnInputs *in, DType dt, int b, int h, int r, float *o_row)
{
    int hk = h / (s->Hq / s->Hkv), n = visible_keys(s, r), D = s->D;
    for (int d = 0; d < D; d++)
        o_row[d] = 0.0f;
    if (n == 0)
        return;
    const float *q = row_of(in->q, s->Hq, s->Sq, D, b, h, r);
    float *sc = malloc(sizeof(float) * (size_t)n);
    float *acc = calloc((size_t)D, sizeof(float));
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        const float *k = row_of(in->k, s->Hkv, s->Sk, D, b, hk, j);
        float a = 0.0f;
        for (int d = 0; d < D; d++)
            a += q[d] * k[d];
        sc[j] = round_to_dtype(a, dt) * (float)s->scale;
        mx = fmaxf(mx, sc[j]);
    }
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        sc[j] = expf(sc[j] - mx);
        sum += sc[j];
    }
    for (int j = 0; j < n; j++) {
        const float *v = row_of(in->v, s->Hkv, s->Sk, D, b, hk, j);
        float p = round_to_dtype(sc[j] / sum, dt);
        for (int d = 0; d < D; d++)
            acc[d] += p * v[d];
    }
    for (int d = 0; d < D; d++)
        o_row[d] = round_to_dtype(acc[d], dt);
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
    int hk = h / (s->Hq / s->Hkv), n = visible_keys(s, r), D = s->D;
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
