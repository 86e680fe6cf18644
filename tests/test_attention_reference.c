/* The double-precision reference gradients of attention
 * (kernels/reference.c) checked by central finite differences of the
 * reference forward pass: for a random upstream gradient G, the loss
 * L = sum(O * G) has dL/dQ = dQ, dL/dK = dK, dL/dV = dV. Every element of
 * small shapes with grouped-query attention, causal masks with Sq < Sk,
 * Sq > Sk (rows that see no key) and Sq = Sk. Inputs are bf16 values, so that
 * x +- h (h = 2^-10) is exact in float. The low-precision yardstick must lie
 * near the truth, but not on it. */
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

static int64_t q_elems(const AttnShape *s) { return (int64_t)s->B * s->Hq * s->Sq * s->D; }
static int64_t kv_elems(const AttnShape *s) { return (int64_t)s->B * s->Hkv * s->Sk * s->D; }

static float *random_bf16_values(Rng *rng, int64_t n)
{
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        x[i] = round_to_dtype((float)rng_normal(rng), DT_BF16);
    return x;
}

/* L = sum(O * G) by the double-precision forward reference. */
static double loss(const AttnShape *s, const AttnInputs *in, const float *g)
{
    double *o = malloc(sizeof(double) * (size_t)s->D), lse, l = 0.0;
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < s->Hq; h++)
            for (int r = 0; r < s->Sq; r++) {
                ref_attention_row(s, in, b, h, r, o, &lse);
                const float *gr = g + (((int64_t)b * s->Hq + h) * s->Sq + r) * s->D;
                for (int d = 0; d < s->D; d++)
                    l += o[d] * (double)gr[d];
            }
    free(o);
    return l;
}

/* Every element of one input (x, n elements, one of in's arrays) against
 * its gradient grad; returns how many gradients are nonzero. */
static int check_input(const AttnShape *s, const AttnInputs *in, const float *g, float *x, int64_t n,
                       const double *grad, const char *name)
{
    const float h = 1.0f / 1024.0f;
    int nonzero = 0;
    for (int64_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + h;
        double up = loss(s, in, g);
        x[i] = x0 - h;
        double down = loss(s, in, g);
        x[i] = x0;
        double fd = (up - down) / (2.0 * h);
        if (!(fabs(fd - grad[i]) <= 2e-5 + 1e-4 * fabs(grad[i])))
            fail_msg("d%s[%lld]: reference %.9g, finite difference %.9g (Sq=%d Sk=%d causal=%d)", name, (long long)i,
                     grad[i], fd, s->Sq, s->Sk, s->causal);
        nonzero += grad[i] != 0.0;
    }
    return nonzero;
}

static void check_shape(AttnShape s, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    int64_t nq = q_elems(&s), nk = kv_elems(&s);
    float *q = random_bf16_values(&rng, nq), *k = random_bf16_values(&rng, nk), *v = random_bf16_values(&rng, nk);
    float *g = random_bf16_values(&rng, nq);
    double *dq = malloc(sizeof(double) * (size_t)nq), *dk = malloc(sizeof(double) * (size_t)nk),
           *dv = malloc(sizeof(double) * (size_t)nk);
    AttnInputs in = { q, k, v };
    ref_attention_backward(&s, &in, g, dq, dk, dv);
    int nz = check_input(&s, &in, g, q, nq, dq, "Q");
    nz += check_input(&s, &in, g, k, nk, dk, "K");
    nz += check_input(&s, &in, g, v, nk, dv, "V");
    assert_true(nz > (nq + 2 * nk) / 2); /* a test that could not fail on zeros */

    /* Rows that see no key: a zero dq row, exactly. */
    for (int64_t row = 0; row < (int64_t)s.B * s.Hq * s.Sq; row++)
        if (s.causal && row % s.Sq + s.Sk - s.Sq < 0)
            for (int d = 0; d < s.D; d++)
                assert_true(dq[row * s.D + d] == 0.0);

    /* The yardstick in bf16 is near the truth and not equal to it. */
    double *lq = malloc(sizeof(double) * (size_t)nq), *lk = malloc(sizeof(double) * (size_t)nk),
           *lv = malloc(sizeof(double) * (size_t)nk);
    ref_attention_backward_lowp(&s, &in, g, DT_BF16, lq, lk, lv);
    double err = 0.0, mag = 0.0;
    for (int64_t i = 0; i < nq; i++) {
        err = fmax(err, fabs(lq[i] - dq[i]));
        mag = fmax(mag, fabs(dq[i]));
    }
    for (int64_t i = 0; i < nk; i++) {
        err = fmax(err, fmax(fabs(lk[i] - dk[i]), fabs(lv[i] - dv[i])));
        mag = fmax(mag, fmax(fabs(dk[i]), fabs(dv[i])));
    }
    assert_true(err > 0.0);
    assert_true(err < 0.05 * mag);
    free(lq);
    free(lk);
    free(lv);
    free(q);
    free(k);
    free(v);
    free(g);
    free(dq);
    free(dk);
    free(dv);
}

static void gqa_full(void **state)
{
    (void)state;
    check_shape((AttnShape){ 2, 4, 2, 5, 7, 8, false, 0.35 }, 1);
}

static void gqa_causal_fewer_queries(void **state)
{
    (void)state;
    check_shape((AttnShape){ 1, 4, 1, 3, 6, 8, true, 0.35 }, 2);
}

/* Sq > Sk: the first Sq - Sk rows see no key. */
static void causal_more_queries(void **state)
{
    (void)state;
    check_shape((AttnShape){ 1, 3, 3, 7, 4, 16, true, 0.25 }, 3);
}

static void causal_square(void **state)
{
    (void)state;
    check_shape((AttnShape){ 2, 2, 1, 6, 6, 8, true, 0.5 }, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gqa_full),
        cmocka_unit_test(gqa_causal_fewer_queries),
        cmocka_unit_test(causal_more_queries),
        cmocka_unit_test(causal_square),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
