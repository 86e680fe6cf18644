/* Contexts in different threads never interfere: threads compile (through
 * one shared, initially empty JIT cache directory), launch and check
 * results at the same time, on emu and interp, each with its own context,
 * and compile errors stay with the context that made them. And one context
 * shared by threads: one kernel launched from all of them at once with
 * tsr_kernel_launch_args (sizes that make each thread need its own variant,
 * compiled on first need), with compiles, buffers and attention alongside;
 * each thread sees only its own errors. Run under ThreadSanitizer too
 * (runtime/README.md). */
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

typedef struct {
    int id;
    tsr_context *ctx;
    tsr_kernel *k;
    tsr_module *m;
    int failures;
    char why[512];
} Sharer;

static void fail_sharer(Sharer *w, const char *what, const char *msg)
{
    if (!w->failures++)
        snprintf(w->why, sizeof w->why, "thread %d: %s: %s", w->id, what, msg);
}

/* One thread on a shared context: launches of the shared kernel with its
 * own arguments (odd sizes and offsets: variants of its own), a bad launch
 * whose message must be its own, a compile and a buffer of its own. */
static void *share(void *arg)
{
    Sharer *w = arg;
    tsr_context *ctx = w->ctx;
    for (int round = 0; round < 4; round++) {
        int64_t n = 200 + 61 * w->id + 8 * round;
        int skew = (w->id + round) % 3; /* 0: aligned; else a misaligned start */
        float *x = malloc(sizeof(float) * (size_t)(n + 3)), *y = malloc(sizeof(float) * (size_t)(n + 3)),
              *z = malloc(sizeof(float) * (size_t)(n + 3));
        for (int64_t i = 0; i < n; i++) {
            x[skew + i] = (float)(i % 17) - 8.0f;
            y[skew + i] = (float)w->id;
            z[skew + i] = NAN;
        }
        DLTensor tx = { x + skew, { kDLCPU, 0 }, 1, { kDLFloat, 32, 1 }, &n, NULL, 0 }, ty = tx, tz = tx;
        ty.data = y + skew;
        tz.data = z + skew;
        float a = 1.5f + (float)round;
        tsr_arg args[4] = { { &tx, 0 }, { &ty, 0 }, { &tz, 0 }, { NULL, a } };
        if (tsr_kernel_launch_args(w->k, args, 4, NULL) != TSR_OK)
            fail_sharer(w, "launch", tsr_context_error(ctx));
        else if (strcmp(tsr_context_error(ctx), "") != 0)
            fail_sharer(w, "message after a success", tsr_context_error(ctx));
        for (int64_t i = 0; i < n; i++)
            if (!(fabsf(z[skew + i] - (x[skew + i] * a + y[skew + i])) <= 1e-4f * (1 + fabsf(z[skew + i])))) {
                fail_sharer(w, "result", "wrong element");
                break;
            }
        /* A bad call: this thread's message names this thread's mistake. */
        char name[32];
        snprintf(name, sizeof name, "nothing_%d_%d", w->id, round);
        tsr_kernel *none;
        if (tsr_module_get_kernel(w->m, name, &none) != TSR_ERR_NOT_FOUND || !strstr(tsr_context_error(ctx), name))
            fail_sharer(w, "own message", tsr_context_error(ctx));
        tsr_arg wrong[4] = { { &tx, 0 }, { &ty, 0 }, { NULL, 1 }, { NULL, a } };
        if (tsr_kernel_launch_args(w->k, wrong, 4, NULL) != TSR_ERR_INVALID_ARGUMENT ||
            !strstr(tsr_context_error(ctx), "argument 2 of kernel 'saxpy' ('Z') is a tensor"))
            fail_sharer(w, "wrong kind", tsr_context_error(ctx));
        void *buf;
        if (tsr_malloc(ctx, 4096, &buf) != TSR_OK || tsr_free(ctx, buf) != TSR_OK)
            fail_sharer(w, "buffer", tsr_context_error(ctx));
        free(x);
        free(y);
        free(z);
    }
    tsr_module *m;
    if (tsr_module_compile(ctx, src, strlen(src), NULL, &m) != TSR_OK)
        fail_sharer(w, "compile", tsr_context_error(ctx));
    else
        tsr_module_destroy(m);
    return NULL;
}

static void one_context_many_threads(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tsr-threads");
    static const tsr_device_kind kinds[] = { TSR_DEVICE_EMU, TSR_DEVICE_INTERP };
    for (int d = 0; d < 2; d++) {
        tsr_context_options o;
        tsr_context_options_init(&o);
        o.device = kinds[d];
        o.cache = TSR_CACHE_ON;
        o.cache_dir = dir;
        o.host_threads = 1;
        tsr_context *ctx;
        assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
        tsr_module *m;
        if (tsr_module_compile(ctx, src, strlen(src), NULL, &m) != TSR_OK)
            fail_msg("%s", tsr_context_error(ctx));
        tsr_kernel *k;
        assert_int_equal(tsr_module_get_kernel(m, NULL, &k), TSR_OK);
        enum { N = 6 };
        pthread_t tids[N];
        Sharer w[N];
        for (int i = 0; i < N; i++) {
            memset(&w[i], 0, sizeof w[i]);
            w[i].id = i;
            w[i].ctx = ctx;
            w[i].k = k;
            w[i].m = m;
            assert_int_equal(pthread_create(&tids[i], NULL, share, &w[i]), 0);
        }
        int failures = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(tids[i], NULL);
            if (w[i].failures)
                fprintf(stderr, "%s: %s\n", tsr_context_device_name(ctx), w[i].why);
            failures += w[i].failures;
        }
        assert_int_equal(failures, 0);
        tsr_module_destroy(m);
        tsr_context_destroy(ctx);
    }
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_compile_and_launch),
        cmocka_unit_test(one_context_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
