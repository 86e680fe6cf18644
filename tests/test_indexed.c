/* Gathers, scatters, masked stores and atomics: the kernels of
 * tests/programs/indexed.tsr on the interpreter and on the emulator (sm_80
 * and sm_90a code), against the same accesses written in C, on odd sizes,
 * with poisoned outputs (an element a kernel must not write keeps the
 * poison, or its old value). */
#include "emu_run.h"
#include "testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char *const FILE_NAME = "tests/programs/indexed.tsr";

/* Element i of t is want, or (want_poison) still the poison. */
static void expect_elem(const HostTensor *t, int64_t i, bool want_poison, double want, const char *what, int place)
{
    bool ok = want_poison ? tensor_is_poison(t, i) : !tensor_is_poison(t, i) && tensor_get(t, i) == want;
    if (!ok)
        fail_msg("%s on %s: element %lld is %g%s, want %s%g", what, run_places[place], (long long)i, tensor_get(t, i),
                 tensor_is_poison(t, i) ? " (poison)" : "", want_poison ? "the poison, not " : "", want);
}

static void embed(void **state)
{
    (void)state;
    static const char *const types[] = { "f16", "f32" };
    for (int ty = 0; ty < 2; ty++) {
        Define defs[1] = { { "T", types[ty] } };
        TirModule *m = compile_file_or_fail(FILE_NAME, defs, 1);
        TirFunc *f = module_func(m, "embed");
        enum { V = 29, D = 64, N = 101 };
        DType dt = ty ? DT_F32 : DT_F16;
        int64_t es[2] = { V, D }, is[1] = { N }, ys[2] = { N, D };
        Rng rng;
        rng_seed(&rng, 7);
        HostTensor e = tensor_new(dt, 2, es), idx = tensor_new(DT_I32, 1, is);
        tensor_fill_normal(&e, &rng, 1.0);
        for (int64_t i = 0; i < N; i++) /* mostly in range, some negative or past V */
            tensor_set(&idx, i, (double)((int64_t)(rng_u64(&rng) % (V + 8)) - 4));
        for (int place = 0; place < RUN_PLACES; place++) {
            HostTensor y = tensor_new(dt, 2, ys);
            tensor_poison(&y);
            KernelArg args[3] = { arg_tensor(e), arg_tensor(idx), arg_tensor(y) };
            run_kernel_at_or_fail(f, args, 3, place);
            for (int64_t i = 0; i < N; i++) {
                int64_t r = (int64_t)tensor_get(&idx, i);
                for (int64_t c = 0; c < D; c++)
                    expect_elem(&y, i * D + c, false, r >= 0 && r < V ? tensor_get(&e, r * D + c) : 0.0, "embed",
                                place);
            }
            tensor_free(&y);
        }
        tensor_free(&e);
        tensor_free(&idx);
        tir_module_free(m);
    }
}

static void masked_copy(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "masked_copy");
    enum { M = 37, N = 75 };
    int64_t s[2] = { M, N };
    Rng rng;
    rng_seed(&rng, 11);
    HostTensor x = tensor_new(DT_F32, 2, s);
    tensor_fill_normal(&x, &rng, 1.0);
    const double t = 0.25;
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor y = tensor_new(DT_F32, 2, s);
        tensor_poison(&y);
        KernelArg args[3] = { arg_tensor(x), arg_tensor(y), arg_scalar(t) };
        run_kernel_at_or_fail(f, args, 3, place);
        for (int64_t i = 0; i < M * N; i++)
            expect_elem(&y, i, !(tensor_get(&x, i) > t), tensor_get(&x, i), "masked_copy", place);
        tensor_free(&y);
    }
    tensor_free(&x);
    tir_module_free(m);
}

static void scatter_odd(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "scatter_odd");
    enum { N = 203, M = 251 };
    int64_t ns[1] = { N }, ms[1] = { M };
    Rng rng;
    rng_seed(&rng, 5);
    HostTensor x = tensor_new(DT_F32, 1, ns), p = tensor_new(DT_I64, 1, ns);
    tensor_fill_normal(&x, &rng, 1.0);
    /* distinct targets: a shuffled 0 .. M+N-1 shifted, so some fall outside Y
     * (negative, past M, or past 2^32 where an i32 would wrap back inside) */
    int64_t *perm = malloc(sizeof(int64_t) * (M + N));
    for (int64_t i = 0; i < M + N; i++)
        perm[i] = i;
    for (int64_t i = M + N - 1; i > 0; i--) {
        int64_t j = (int64_t)(rng_u64(&rng) % (uint64_t)(i + 1)), tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (int64_t i = 0; i < N; i++)
        tensor_set(&p, i, (double)(perm[i] - 20 + (i % 17 == 0 ? ((int64_t)1 << 32) : 0)));
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor y = tensor_new(DT_F32, 1, ms);
        tensor_poison(&y);
        KernelArg args[3] = { arg_tensor(x), arg_tensor(p), arg_tensor(y) };
        run_kernel_at_or_fail(f, args, 3, place);
        for (int64_t k = 0; k < M; k++) {
            int64_t src = -1;
            for (int64_t i = 0; i < N; i++)
                if ((int64_t)tensor_get(&p, i) == k && (k & 1))
                    src = i;
            expect_elem(&y, k, src < 0, src < 0 ? 0 : 2.0 * tensor_get(&x, src), "scatter_odd", place);
        }
        tensor_free(&y);
    }
    free(perm);
    tensor_free(&x);
    tensor_free(&p);
    tir_module_free(m);
}

static void lookup(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "lookup");
    enum { V = 19, N = 77 };
    int64_t vs[1] = { V }, ns[1] = { N };
    Rng rng;
    rng_seed(&rng, 3);
    HostTensor u = tensor_new(DT_U8, 1, vs), w = tensor_new(DT_I64, 1, vs), k = tensor_new(DT_I32, 1, ns);
    for (int64_t i = 0; i < V; i++) {
        tensor_set(&u, i, (double)(1 + rng_u64(&rng) % 255));
        tensor_set(&w, i, (double)((int64_t)(rng_u64(&rng) >> 12) - ((int64_t)1 << 51)));
    }
    for (int64_t i = 0; i < N; i++)
        tensor_set(&k, i, (double)((int64_t)(rng_u64(&rng) % (V + 6)) - 3));
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor s = tensor_new(DT_U8, 1, ns), l = tensor_new(DT_I64, 1, ns);
        tensor_poison(&s);
        tensor_poison(&l);
        KernelArg args[5] = { arg_tensor(u), arg_tensor(w), arg_tensor(k), arg_tensor(s), arg_tensor(l) };
        run_kernel_at_or_fail(f, args, 5, place);
        for (int64_t i = 0; i < N; i++) {
            int64_t c = (int64_t)tensor_get(&k, i);
            bool in = c >= 0 && c < V;
            if (tensor_get(&s, i) != (in ? tensor_get(&u, c) : 0))
                fail_msg("lookup on %s: S[%lld] is %g", run_places[place], (long long)i, tensor_get(&s, i));
            int64_t want = in ? ((const int64_t *)w.data)[c] : 0, got = ((const int64_t *)l.data)[i];
            if (got != want)
                fail_msg("lookup on %s: L[%lld] is %lld, want %lld", run_places[place], (long long)i, (long long)got,
                         (long long)want);
        }
        tensor_free(&s);
        tensor_free(&l);
    }
    tensor_free(&u);
    tensor_free(&w);
    tensor_free(&k);
    tir_module_free(m);
}

static void even_programs(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "even_programs");
    int64_t s[1] = { 13 };
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor y = tensor_new(DT_I32, 1, s);
        tensor_poison(&y);
        KernelArg args[1] = { arg_tensor(y) };
        run_kernel_at_or_fail(f, args, 1, place);
        for (int64_t i = 0; i < s[0]; i++)
            expect_elem(&y, i, i % 2 == 1, (double)(3 * i), "even_programs", place);
        tensor_free(&y);
    }
    tir_module_free(m);
}

static void histogram(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "histogram");
    int64_t ns[1] = { 3001 }, hs[1] = { 256 };
    Rng rng;
    rng_seed(&rng, 9);
    HostTensor x = tensor_new(DT_U8, 1, ns);
    for (int64_t i = 0; i < ns[0]; i++) /* skewed: many zeros, which the masked tail must not count */
        tensor_set(&x, i, rng_uniform(&rng) < 0.3 ? 0 : (double)(rng_u64(&rng) % 256));
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor h = tensor_new(DT_I32, 1, hs);
        for (int64_t v = 0; v < 256; v++)
            tensor_set(&h, v, (double)v); /* the counts are added to what H holds */
        KernelArg args[2] = { arg_tensor(x), arg_tensor(h) };
        run_kernel_at_or_fail(f, args, 2, place);
        for (int64_t v = 0; v < 256; v++) {
            int64_t want = v;
            for (int64_t i = 0; i < ns[0]; i++)
                want += tensor_get(&x, i) == v;
            expect_elem(&h, v, false, (double)want, "histogram", place);
        }
        tensor_free(&h);
    }
    tensor_free(&x);
    tir_module_free(m);
}

/* Sums (in any order: within a tolerance), maxima and minima (exactly) over
 * partial results of several programs, added to the outputs' old values. */
static void partials(void **state)
{
    (void)state;
    static const char *const types[] = { "f32", "f16", "bf16" };
    static const DType dts[] = { DT_F32, DT_F16, DT_BF16 };
    static const double rel[] = { 1e-5, 4e-3, 3e-2 }; /* a rounding per partial sum: N / BN of them */
    enum { M = 37, N = 203 };
    int64_t xs[2] = { M, N }, ms[1] = { M }, ns[1] = { N };
    Rng rng;
    rng_seed(&rng, 13);
    HostTensor x = tensor_new(DT_F32, 2, xs);
    tensor_fill_normal(&x, &rng, 1.0);
    for (int ty = 0; ty < 3; ty++) {
        Define defs[1] = { { "T", types[ty] } };
        TirModule *m = compile_file_or_fail(FILE_NAME, defs, 1);
        TirFunc *f = module_func(m, "partials");
        for (int place = 0; place < RUN_PLACES; place++) {
            if (dts[ty] == DT_BF16 && !strcmp(run_places[place], "sm_80"))
                continue; /* bf16 atomics need sm_90: an error there (test_codegen, bf16_atomic_needs_sm90) */
            HostTensor sum = tensor_new(dts[ty], 1, ms), rmax = tensor_new(DT_F32, 1, ms),
                       cmin = tensor_new(DT_F32, 1, ns);
            for (int64_t r = 0; r < M; r++) {
                tensor_set(&sum, r, (double)r * 0.5);
                tensor_set(&rmax, r, r % 5 == 0 ? 10.0 : -INFINITY); /* 10 beats every element */
            }
            for (int64_t c = 0; c < N; c++)
                tensor_set(&cmin, c, c % 7 == 0 ? -10.0 : INFINITY);
            KernelArg args[4] = { arg_tensor(x), arg_tensor(sum), arg_tensor(rmax), arg_tensor(cmin) };
            run_kernel_at_or_fail(f, args, 4, place);
            for (int64_t r = 0; r < M; r++) {
                double s = r * 0.5, sabs = fabs(s), mx = r % 5 == 0 ? 10.0 : -INFINITY;
                for (int64_t c = 0; c < N; c++) {
                    double v = tensor_get(&x, r * N + c);
                    s += v;
                    sabs += fabs(v);
                    mx = v > mx ? v : mx;
                }
                double tol = rel[ty] * sabs;
                if (!(fabs(tensor_get(&sum, r) - s) <= tol))
                    fail_msg("partials %s on %s: S[%lld] is %g, want %g within %g", types[ty], run_places[place],
                             (long long)r, tensor_get(&sum, r), s, tol);
                expect_elem(&rmax, r, false, mx, "partials (row max)", place);
            }
            for (int64_t c = 0; c < N; c++) {
                double mn = c % 7 == 0 ? -10.0 : INFINITY;
                for (int64_t r = 0; r < M; r++)
                    mn = tensor_get(&x, r * N + c) < mn ? tensor_get(&x, r * N + c) : mn;
                expect_elem(&cmin, c, false, mn, "partials (column min)", place);
            }
            tensor_free(&sum);
            tensor_free(&rmax);
            tensor_free(&cmin);
        }
        tir_module_free(m);
    }
    tensor_free(&x);
}

/* i64 add, u32 max (as unsigned: values past 2^31 win) and i32 min at
 * coordinates with repeats and outside the outputs. */
static void int_atomics(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "int_atomics");
    enum { N = 301, V = 23 };
    int64_t ns[1] = { N }, vs[1] = { V };
    Rng rng;
    rng_seed(&rng, 17);
    HostTensor k = tensor_new(DT_I32, 1, ns), a = tensor_new(DT_I64, 1, ns), b = tensor_new(DT_U32, 1, ns);
    int64_t *av = a.data;
    uint32_t *bv = b.data;
    for (int64_t i = 0; i < N; i++) {
        tensor_set(&k, i, (double)((int64_t)(rng_u64(&rng) % (V + 4)) - 2));
        av[i] = (int64_t)rng_u64(&rng) >> 20; /* i64 values whose low half, as i32, has either sign */
        bv[i] = (uint32_t)rng_u64(&rng);
    }
    int64_t l0[V], want_l[V];
    uint32_t u0[V], want_u[V];
    int32_t i0[V], want_i[V];
    for (int v = 0; v < V; v++) {
        want_l[v] = l0[v] = (int64_t)rng_u64(&rng) >> 8;
        want_u[v] = u0[v] = (uint32_t)(rng_u64(&rng) >> 33);
        want_i[v] = i0[v] = (int32_t)(rng_u64(&rng) >> 34);
    }
    for (int64_t i = 0; i < N; i++) {
        int64_t c = (int64_t)tensor_get(&k, i);
        if (c < 0 || c >= V)
            continue;
        want_l[c] = (int64_t)((uint64_t)want_l[c] + (uint64_t)av[i]);
        want_u[c] = bv[i] > want_u[c] ? bv[i] : want_u[c];
        want_i[c] = (int32_t)(uint32_t)av[i] < want_i[c] ? (int32_t)(uint32_t)av[i] : want_i[c];
    }
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor l = tensor_new(DT_I64, 1, vs), u = tensor_new(DT_U32, 1, vs), it = tensor_new(DT_I32, 1, vs);
        memcpy(l.data, l0, sizeof l0);
        memcpy(u.data, u0, sizeof u0);
        memcpy(it.data, i0, sizeof i0);
        KernelArg args[6] = { arg_tensor(k), arg_tensor(a), arg_tensor(b), arg_tensor(l), arg_tensor(u), arg_tensor(it) };
        run_kernel_at_or_fail(f, args, 6, place);
        for (int v = 0; v < V; v++)
            if (((int64_t *)l.data)[v] != want_l[v] || ((uint32_t *)u.data)[v] != want_u[v] ||
                ((int32_t *)it.data)[v] != want_i[v])
                fail_msg("int_atomics on %s: element %d: L %lld U %u I %d, want %lld %u %d", run_places[place], v,
                         (long long)((int64_t *)l.data)[v], ((uint32_t *)u.data)[v], ((int32_t *)it.data)[v],
                         (long long)want_l[v], want_u[v], want_i[v]);
        tensor_free(&l);
        tensor_free(&u);
        tensor_free(&it);
    }
    tensor_free(&k);
    tensor_free(&a);
    tensor_free(&b);
    tir_module_free(m);
}

/* f16 and bf16 atomic adds of whole rows (paired where aligned): two
 * programs add X to Y, each add rounding to the dtype, so the result is
 * exactly round(round(Y + X) + X) whatever their order. */
static void half_adds(void **state)
{
    (void)state;
    static const DType dts[] = { DT_F16, DT_BF16 };
    enum { M = 37, N = 75 }; /* odd rows: pairs straddle 4-byte boundaries on every other row */
    int64_t s[2] = { M, N };
    Rng rng;
    rng_seed(&rng, 47);
    for (int ty = 0; ty < 2; ty++) {
        Define defs[1] = { { "T", dtype_name(dts[ty]) } };
        TirModule *m = compile_file_or_fail(FILE_NAME, defs, 1);
        TirFunc *f = module_func(m, "half_adds");
        HostTensor x = tensor_new(dts[ty], 2, s), y0 = tensor_new(dts[ty], 2, s), want = tensor_new(dts[ty], 2, s);
        tensor_fill_normal(&x, &rng, 1.0);
        tensor_fill_normal(&y0, &rng, 4.0);
        for (int64_t i = 0; i < M * N; i++) {
            tensor_set(&want, i, tensor_get(&y0, i) + tensor_get(&x, i));
            tensor_set(&want, i, tensor_get(&want, i) + tensor_get(&x, i));
        }
        for (int place = 0; place < RUN_PLACES; place++) {
            if (dts[ty] == DT_BF16 && !strcmp(run_places[place], "sm_80"))
                continue; /* bf16 atomics need sm_90: an error there (test_codegen, bf16_atomic_needs_sm90) */
            HostTensor y = tensor_new(dts[ty], 2, s);
            memcpy(y.data, y0.data, (size_t)(M * N) * 2);
            KernelArg args[2] = { arg_tensor(x), arg_tensor(y) };
            run_kernel_at_or_fail(f, args, 2, place);
            for (int64_t i = 0; i < M * N; i++)
                expect_elem(&y, i, false, tensor_get(&want, i), "half_adds", place);
            tensor_free(&y);
        }
        tensor_free(&x);
        tensor_free(&y0);
        tensor_free(&want);
        tir_module_free(m);
    }
}

/* dsl/examples/moe_route.tsr: token counts per expert (exact), the
 * weighted row sums of each expert (f32 sums in any order: within
 * N·u(f32)·sum|terms|), and each token's expert mean computed from them (one
 * f32 division). Experts outside 0 .. X-1 take no token and give zero rows. */
static void moe_route(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail("dsl/examples/moe_route.tsr", NULL, 0);
    TirFunc *count = module_func(m, "count_tokens"), *sums = module_func(m, "expert_sums"),
            *means = module_func(m, "expert_means");
    enum { N = 301, X = 7, D = 64 };
    int64_t hs[2] = { N, D }, ns[1] = { N }, xs[1] = { X }, ss[2] = { X, D };
    Rng rng;
    rng_seed(&rng, 23);
    HostTensor h = tensor_new(DT_F16, 2, hs), e = tensor_new(DT_I32, 1, ns), w = tensor_new(DT_F32, 1, ns);
    tensor_fill_normal(&h, &rng, 1.0);
    tensor_fill_normal(&w, &rng, 1.0);
    for (int64_t t = 0; t < N; t++)
        tensor_set(&e, t, (double)((int64_t)(rng_u64(&rng) % (X + 2)) - 1));
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor c = tensor_new(DT_I32, 1, xs), sm = tensor_new(DT_F32, 2, ss), y = tensor_new(DT_F32, 2, hs);
        memset(c.data, 0, sizeof(int32_t) * X);
        memset(sm.data, 0, sizeof(float) * X * D);
        tensor_poison(&y);
        KernelArg ca[2] = { arg_tensor(e), arg_tensor(c) };
        KernelArg sa[4] = { arg_tensor(h), arg_tensor(e), arg_tensor(w), arg_tensor(sm) };
        KernelArg ma[4] = { arg_tensor(sm), arg_tensor(c), arg_tensor(e), arg_tensor(y) };
        run_kernel_at_or_fail(count, ca, 2, place);
        run_kernel_at_or_fail(sums, sa, 4, place);
        run_kernel_at_or_fail(means, ma, 4, place);
        for (int64_t x = 0; x < X; x++) {
            int64_t want = 0;
            for (int64_t t = 0; t < N; t++)
                want += tensor_get(&e, t) == x;
            expect_elem(&c, x, false, (double)want, "moe_route count_tokens", place);
            for (int64_t d = 0; d < D; d++) {
                double ref = 0, mag = 0;
                for (int64_t t = 0; t < N; t++)
                    if (tensor_get(&e, t) == x) {
                        double term = (double)(float)(tensor_get(&w, t) * tensor_get(&h, t * D + d));
                        ref += term;
                        mag += fabs(term);
                    }
                if (!(fabs(tensor_get(&sm, x * D + d) - ref) <= N * 0x1p-24 * mag + 1e-30))
                    fail_msg("moe_route expert_sums on %s: S[%lld, %lld] is %.9g, want %.9g", run_places[place],
                             (long long)x, (long long)d, tensor_get(&sm, x * D + d), ref);
            }
        }
        for (int64_t t = 0; t < N; t++) {
            int64_t x = (int64_t)tensor_get(&e, t);
            for (int64_t d = 0; d < D; d++) {
                double ref = 0;
                if (x >= 0 && x < X) {
                    double cnt = tensor_get(&c, x) > 1 ? tensor_get(&c, x) : 1;
                    ref = (float)(tensor_get(&sm, x * D + d) / cnt);
                }
                if (!(fabs(tensor_get(&y, t * D + d) - ref) <= 0x1p-23 * fabs(ref)))
                    fail_msg("moe_route expert_means on %s: Y[%lld, %lld] is %.9g, want %.9g", run_places[place],
                             (long long)t, (long long)d, tensor_get(&y, t * D + d), ref);
            }
        }
        tensor_free(&c);
        tensor_free(&sm);
        tensor_free(&y);
    }
    tensor_free(&h);
    tensor_free(&e);
    tensor_free(&w);
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embed),       cmocka_unit_test(masked_copy), cmocka_unit_test(scatter_odd),
        cmocka_unit_test(lookup),      cmocka_unit_test(even_programs), cmocka_unit_test(histogram),
        cmocka_unit_test(partials),    cmocka_unit_test(int_atomics),   cmocka_unit_test(moe_route),
        cmocka_unit_test(half_adds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
