/* Contexts in different threads never interfere: threads compile (through
 * one shared, initially empty JIT cache directory), launch and check
 * results at the same time, on emu and interp, each with its own context,
 * and compile errors stay with the context that made them. Run under
 * ThreadSanitizer too (runtime/README.md). */
#define _POSIX_C_SOURCE 200809L
#include "rt_suite.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char src[] = "kernel saxpy<B: int = 128>(X: f32[N], Y: f32[N], Z: out f32[N], a: f32)\n"
                          "  grid (cdiv(N, B))\n"
                          "{\n"
                          "    let i = program_id(0) * B;\n"
                          "    Z[i : +B] = X[i : +B] * a + Y[i : +B];\n"
                          "}\n";

static const char bad_src[] = "kernel broken(X: f32[N]) grid (1) {\n    let y = X[0 : +16] * missing;\n}\n";

typedef struct {
    int id;
    const char *cache_dir;
    int failures;
    char why[512];
} Worker;

static void fail_worker(Worker *w, const char *what, const char *msg)
{
    if (!w->failures++)
        snprintf(w->why, sizeof w->why, "thread %d: %s: %s", w->id, what, msg);
}

static void *work(void *arg)
{
    Worker *w = arg;
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = w->id % 2 ? TSR_DEVICE_INTERP : TSR_DEVICE_EMU;
    o.cache = TSR_CACHE_ON;
    o.cache_dir = w->cache_dir;
    o.host_threads = 2;
    tsr_context *ctx;
    if (tsr_context_create(&o, &ctx) != TSR_OK) {
        fail_worker(w, "create", tsr_context_error(ctx));
        tsr_context_destroy(ctx);
        return NULL;
    }
    /* Half the threads share one specialization, the others have their own. */
    char block[16];
    snprintf(block, sizeof block, "%d", w->id < 4 ? 128 : 32 << (w->id % 3));
    tsr_define d = { "B", block };
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = &d;
    co.ndefines = 1;
    for (int round = 0; round < 3; round++) {
        tsr_module *m, *bad;
        if (tsr_module_compile(ctx, bad_src, strlen(bad_src), NULL, &bad) != TSR_ERR_COMPILE ||
            !strstr(tsr_context_error(ctx), "<string>:2:26: error:"))
            fail_worker(w, "diagnostics", tsr_context_error(ctx));
        if (tsr_module_compile(ctx, src, strlen(src), &co, &m) != TSR_OK) {
            fail_worker(w, "compile", tsr_context_error(ctx));
            break;
        }
        tsr_kernel *k;
        tsr_module_get_kernel(m, NULL, &k);
        int64_t n = 1000 + 37 * w->id + round;
        float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n),
              *z = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            x[i] = (float)((i * 7 + w->id) % 101) - 50.0f;
            y[i] = (float)(i % 13);
            z[i] = NAN;
        }
        DLTensor t = { x, { kDLCPU, 0 }, 1, { kDLFloat, 32, 1 }, &n, NULL, 0 };
        tsr_kernel_set_tensor(k, 0, &t);
        t.data = y;
        tsr_kernel_set_tensor(k, 1, &t);
        t.data = z;
        tsr_kernel_set_tensor(k, 2, &t);
        float a = 0.5f + (float)w->id;
        tsr_kernel_set_scalar(k, 3, a);
        if (tsr_kernel_launch(k, NULL) != TSR_OK)
            fail_worker(w, "launch", tsr_kernel_error(k));
        for (int64_t i = 0; i < n; i++)
            if (!(fabsf(z[i] - (x[i] * a + y[i])) <= 1e-4f * (1 + fabsf(z[i])))) {
                fail_worker(w, "result", "wrong element");
                break;
            }
        free(x);
        free(y);
        free(z);
        tsr_module_destroy(m);
    }
    tsr_context_destroy(ctx);
    return NULL;
}

static void threads_compile_and_launch(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tsr-threads");
    enum { N = 8 };
    pthread_t tids[N];
    Worker w[N];
    for (int i = 0; i < N; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].cache_dir = dir;
        assert_int_equal(pthread_create(&tids[i], NULL, work, &w[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(tids[i], NULL);
        if (w[i].failures)
            fprintf(stderr, "%s\n", w[i].why);
        failures += w[i].failures;
    }
    rm_rf(dir);
    free(dir);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_compile_and_launch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
