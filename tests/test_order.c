/* Several statements of one instance writing the same elements of a tensor
 * (tests/programs/order.tsr): stores, scatters and atomic updates take
 * effect in program order on the interpreter and on the emulator (sm_80 and
 * sm_90a code), although the threads that write an element differ from one
 * statement to the next (backend/codegen_order.c puts block barriers between
 * them). Outputs start poisoned; every element is checked. */
#include "emu_run.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

static const char *const FILE_NAME = "tests/programs/order.tsr";

static void expect_all(const HostTensor *t, const double *want, int64_t n, const char *what, int place)
{
    for (int64_t i = 0; i < n; i++)
        if (tensor_is_poison(t, i) || tensor_get(t, i) != want[i])
            fail_msg("%s on %s: element %lld is %g%s, want %g", what, run_places[place], (long long)i,
                     tensor_get(t, i), tensor_is_poison(t, i) ? " (poison)" : "", want[i]);
}

static void store_then_atomic(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "store_then_atomic");
    enum { N = 700, B = 256 };
    int64_t s[1] = { N };
    double want_o[N], want_a[N];
    for (int64_t i = 0; i < N; i++) {
        want_o[i] = 1 + 2; /* every element is added to, by the lane that mirrors it within its block */
        want_a[i] = i % 8 < 5 ? (double)(i % 8) : 5;
    }
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor o = tensor_new(DT_I32, 1, s), a = tensor_new(DT_I32, 1, s);
        tensor_poison(&o);
        for (int64_t i = 0; i < N; i++)
            tensor_set(&a, i, 0);
        KernelArg args[2] = { arg_tensor(o), arg_tensor(a) };
        run_kernel_at_or_fail(f, args, 2, place);
        expect_all(&o, want_o, N, "store, then atomic_add", place);
        expect_all(&a, want_a, N, "atomic_add, then atomic_min", place);
        tensor_free(&o);
        tensor_free(&a);
    }
    tir_module_free(m);
}

static void store_then_scatter(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "store_then_scatter");
    enum { N = 700, B = 256 };
    int64_t s[1] = { N }, ps[2] = { 64, 64 };
    double want_o[N], want_p[64 * 64];
    for (int64_t i = 0; i < N; i++) {
        int64_t i0 = i / B * B, lane = i0 + B - 1 - i; /* the scatter's element that lands on i */
        want_o[i] = (double)((i0 + lane) * 3);
    }
    for (int64_t r = 0; r < 64; r++)
        for (int64_t c = 0; c < 64; c++)
            want_p[r * 64 + c] = 2.0 + (double)c;
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor o = tensor_new(DT_I32, 1, s), p = tensor_new(DT_F32, 2, ps);
        tensor_poison(&o);
        tensor_poison(&p);
        KernelArg args[2] = { arg_tensor(o), arg_tensor(p) };
        run_kernel_at_or_fail(f, args, 2, place);
        expect_all(&o, want_o, N, "store, then scatter", place);
        expect_all(&p, want_p, 64 * 64, "store, then store of a transposed value", place);
        tensor_free(&o);
        tensor_free(&p);
    }
    tir_module_free(m);
}

static void sliding(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "sliding");
    enum { N = 270, B = 256 };
    int64_t s[1] = { N };
    double want[N];
    for (int64_t j = 0; j < N; j++) {
        want[j] = -1;
        for (int64_t k = 0; k < 4; k++) { /* the slice store, then the masked scatter at even lanes */
            if (j >= k && j < k + B)
                want[j] = (double)k;
            if (j >= k && j < k + B && (j - k) % 2 == 0)
                want[j] = (double)(k * 10);
        }
    }
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor y = tensor_new(DT_I32, 1, s);
        tensor_poison(&y);
        KernelArg args[1] = { arg_tensor(y) };
        run_kernel_at_or_fail(f, args, 1, place);
        for (int64_t j = 0; j < N; j++) /* past the last slice: never written */
            if (want[j] < 0 && !tensor_is_poison(&y, j))
                fail_msg("sliding on %s: element %lld written", run_places[place], (long long)j);
        for (int64_t j = 0; j < N; j++)
            if (want[j] >= 0 && (tensor_is_poison(&y, j) || tensor_get(&y, j) != want[j]))
                fail_msg("sliding on %s: element %lld is %g, want %g", run_places[place], (long long)j,
                         tensor_get(&y, j), want[j]);
        tensor_free(&y);
    }
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_then_atomic),
        cmocka_unit_test(store_then_scatter),
        cmocka_unit_test(sliding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
