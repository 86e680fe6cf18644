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

static void launch(TirFunc *f, KernelArg *args, int nargs, int place)
{
    StrBuf err;
    sb_init(&err);
    if (!run_kernel_at(f, args, nargs, place, &err))
        fail_msg("%s on %s: %s", f->name, run_places[place], err.data);
    sb_free(&err);
}

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
            launch(f, args, 3, place);
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
        launch(f, args, 3, place);
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
        launch(f, args, 3, place);
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
        launch(f, args, 5, place);
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
        launch(f, args, 1, place);
        for (int64_t i = 0; i < s[0]; i++)
            expect_elem(&y, i, i % 2 == 1, (double)(3 * i), "even_programs", place);
        tensor_free(&y);
    }
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embed),       cmocka_unit_test(masked_copy), cmocka_unit_test(scatter_odd),
        cmocka_unit_test(lookup),      cmocka_unit_test(even_programs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
