/* reshape: the kernels of tests/programs/reshape.tsr on the interpreter and
 * on the emulator (sm_80 and sm_90a code), against C, on odd sizes, with
 * poisoned outputs. */
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

static const char *const FILE_NAME = "tests/programs/reshape.tsr";

static void shapes(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "shapes");
    enum { M = 37, N = 32, BM = 16 };
    int64_t xs[2] = { M, N }, ms[1] = { M }, rs[2] = { N, M };
    Rng rng;
    rng_seed(&rng, 41);
    HostTensor x = tensor_new(DT_F32, 2, xs);
    tensor_fill_normal(&x, &rng, 1.0);
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor s = tensor_new(DT_F32, 1, ms), r = tensor_new(DT_F32, 2, rs), z = tensor_new(DT_F32, 2, xs);
        tensor_poison(&s);
        tensor_poison(&r);
        tensor_poison(&z);
        KernelArg args[4] = { arg_tensor(x), arg_tensor(s), arg_tensor(r), arg_tensor(z) };
        run_kernel_at_or_fail(f, args, 4, place);
        for (int64_t i = 0; i < M; i++) {
            double sum = 0, sabs = 0, mx = -INFINITY;
            for (int64_t j = 0; j < N; j++) {
                double v = tensor_get(&x, i * N + j);
                sum += v;
                sabs += fabs(v);
                mx = v > mx ? v : mx;
                if (tensor_get(&z, i * N + j) != 2 * v)
                    fail_msg("shapes on %s: Z[%lld, %lld] is %g, want %g", run_places[place], (long long)i,
                             (long long)j, tensor_get(&z, i * N + j), 2 * v);
            }
            if (!(fabs(tensor_get(&s, i) - sum) <= N * 0x1p-24 * sabs))
                fail_msg("shapes on %s: S[%lld] is %g, want %g", run_places[place], (long long)i, tensor_get(&s, i), sum);
            if (tensor_get(&r, i) != mx) /* row 0 of R */
                fail_msg("shapes on %s: R[0, %lld] is %g, want %g", run_places[place], (long long)i, tensor_get(&r, i), mx);
        }
        for (int64_t k = M; k < N * M; k++) /* R's other rows are not written */
            assert_true(tensor_is_poison(&r, k));
        tensor_free(&s);
        tensor_free(&r);
        tensor_free(&z);
    }
    tensor_free(&x);
    tir_module_free(m);
}

static void mask_rows(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "mask_rows");
    enum { N = 203 };
    int64_t ns[1] = { N };
    Rng rng;
    rng_seed(&rng, 43);
    HostTensor x = tensor_new(DT_F32, 1, ns);
    tensor_fill_normal(&x, &rng, 1.0);
    int rows = (N + 63) / 64 * 8;
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor c = tensor_new(DT_I32, 1, ns);
        tensor_poison(&c);
        KernelArg args[2] = { arg_tensor(x), arg_tensor(c) };
        run_kernel_at_or_fail(f, args, 2, place);
        for (int64_t k = 0; k < N; k++) {
            if (k >= rows) {
                assert_true(tensor_is_poison(&c, k));
                continue;
            }
            int want = 0;
            for (int64_t j = 8 * k; j < 8 * k + 8 && j < N; j++)
                want += tensor_get(&x, j) > 0;
            if (tensor_get(&c, k) != want)
                fail_msg("mask_rows on %s: C[%lld] is %g, want %d", run_places[place], (long long)k, tensor_get(&c, k), want);
        }
        tensor_free(&c);
    }
    tensor_free(&x);
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(shapes), cmocka_unit_test(mask_rows) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
