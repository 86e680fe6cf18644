/* Reference attention rows (see reference.h). */
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

double attention_slack(DType dt)
{
    /* About one unit in the last place at the outputs' magnitude (< 1). */
    return dt == DT_BF16 ? 1.0 / 256.0 : 1.0 / 2048.0;
}
