/* while, break, continue, return and run-time loop steps: the kernels of
 * tests/programs/control.tsr on the interpreter and on the emulator, against
 * the same loops written in C, on odd sizes. */
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

static const char *const FILE_NAME = "tests/programs/control.tsr";

static void launch(TirFunc *f, KernelArg *args, int nargs, bool on_emu)
{
    StrBuf err;
    sb_init(&err);
    EmuRunOptions o = { 0 };
    o.check_uninit = o.check_races = true;
    o.host_threads = 2;
    if (!(on_emu ? emu_run_kernel(f, args, nargs, &o, &err) : interp_launch(f, args, nargs, 2, &err)))
        fail_msg("%s on %s: %s", f->name, on_emu ? "emu" : "interp", err.data);
    sb_free(&err);
}

static int collatz_steps(int64_t v)
{
    int n = 0;
    for (; v > 1; n++)
        v = v % 2 ? 3 * v + 1 : v / 2;
    return n;
}

static void collatz(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "collatz");
    int64_t shape[1] = { 1001 };
    Rng rng;
    rng_seed(&rng, 21);
    HostTensor x = tensor_new(DT_I32, 1, shape);
    for (int64_t i = 0; i < shape[0]; i++)
        tensor_set(&x, i, 1 + (double)(rng_u64(&rng) % 3000));
    for (int d = 0; d < 2; d++) {
        HostTensor c = tensor_new(DT_I32, 1, shape);
        tensor_poison(&c);
        KernelArg args[2] = { arg_tensor(x), arg_tensor(c) };
        launch(f, args, 2, d == 1);
        for (int64_t i = 0; i < shape[0]; i++)
            if (tensor_get(&c, i) != collatz_steps((int64_t)tensor_get(&x, i)))
                fail_msg("collatz on %s: element %lld of %lld: %g steps, want %d", d ? "emu" : "interp", (long long)i,
                         (long long)tensor_get(&x, i), tensor_get(&c, i), collatz_steps((int64_t)tensor_get(&x, i)));
        tensor_free(&c);
    }
    tensor_free(&x);
    tir_module_free(m);
}

static void jumps(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "jumps");
    enum { R = 37, K = 203 };
    int64_t shape[2] = { R, K }, rs[1] = { R };
    Rng rng;
    rng_seed(&rng, 4);
    HostTensor x = tensor_new(DT_F32, 2, shape);
    for (int64_t i = 0; i < R * K; i++)
        tensor_set(&x, i, rng_uniform(&rng) < 0.02 ? 150.0 : rng_normal(&rng) * 10.0);
    static const int steps[] = { 1, 3, 0, -2 };
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        float limit = 120.0f;
        for (int d = 0; d < 2; d++) {
            HostTensor sum = tensor_new(DT_F32, 1, rs), taken = tensor_new(DT_I32, 1, rs);
            tensor_poison(&sum);
            tensor_poison(&taken);
            KernelArg args[5] = { arg_tensor(x), arg_tensor(sum), arg_tensor(taken), arg_scalar(steps[k]),
                                  arg_scalar(limit) };
            launch(f, args, 5, d == 1);
            for (int r = 0; r < R; r++) {
                if (r % 2) { /* returned early: nothing stored */
                    assert_true(tensor_is_poison(&sum, r) && tensor_is_poison(&taken, r));
                    continue;
                }
                float s = 0;
                int t = 0;
                for (int j = 0; steps[k] > 0 && j < K; j += steps[k]) {
                    float v = (float)tensor_get(&x, (int64_t)r * K + j);
                    if (v < 0)
                        continue;
                    if (v > 100)
                        break;
                    s += v;
                    t++;
                    if (s >= limit)
                        break;
                }
                if (tensor_get(&sum, r) != s || tensor_get(&taken, r) != t)
                    fail_msg("jumps on %s, step %d, row %d: sum %g taken %g, want %g and %d", d ? "emu" : "interp",
                             steps[k], r, tensor_get(&sum, r), tensor_get(&taken, r), s, t);
            }
            tensor_free(&sum);
            tensor_free(&taken);
        }
    }
    tensor_free(&x);
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(collatz), cmocka_unit_test(jumps) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
