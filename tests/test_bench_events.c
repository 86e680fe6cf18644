/* Events (tsr_event_*, which tessera-bench times with): on interp and emu
 * they read the host's clock, so the time between two records spans what
 * ran between them; errors are reported on the context; events still live
 * are destroyed with their context (ASan would see a leak). On cuda, with a
 * GPU, the time of a launch. */
#define _POSIX_C_SOURCE 200809L
#include "rt_suite.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void host_clock(tsr_device_kind kind)
{
    tsr_context *ctx = suite_context(kind);
    tsr_event *a, *b;
    assert_int_equal(tsr_event_create(ctx, &a), TSR_OK);
    assert_int_equal(tsr_event_create(ctx, &b), TSR_OK);
    float ms = -1;
    /* Never recorded. */
    assert_int_equal(tsr_event_elapsed_ms(a, b, &ms), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "the start event was never recorded"));
    assert_int_equal(tsr_event_synchronize(a), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "never recorded"));

    assert_int_equal(tsr_event_record(a, NULL), TSR_OK);
    assert_int_equal(tsr_event_elapsed_ms(a, b, &ms), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "the end event was never recorded"));
    sleep_ms(20);
    assert_int_equal(tsr_event_record(b, NULL), TSR_OK);
    assert_int_equal(tsr_event_synchronize(b), TSR_OK);
    assert_int_equal(tsr_event_elapsed_ms(a, b, &ms), TSR_OK);
    assert_true(ms >= 19.0f && ms < 2000.0f);
    /* Backwards is negative, as with CUDA events. */
    assert_int_equal(tsr_event_elapsed_ms(b, a, &ms), TSR_OK);
    assert_true(ms <= -19.0f);
    /* Recording again moves the event. */
    assert_int_equal(tsr_event_record(a, NULL), TSR_OK);
    assert_int_equal(tsr_event_record(b, NULL), TSR_OK);
    assert_int_equal(tsr_event_elapsed_ms(a, b, &ms), TSR_OK);
    assert_true(ms >= 0.0f && ms < 19.0f);

    /* A launch between two records. */
    static const char src[] = "kernel fill(X: out f32[N], v: f32) grid (cdiv(N, 256)) { X[program_id(0) * 256 : +256] = v; }";
    tsr_module *mod = suite_compile(ctx, src, NULL, 0);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(mod, "fill", &k), TSR_OK);
    void *mem;
    assert_int_equal(tsr_malloc(ctx, 4096 * 4, &mem), TSR_OK);
    int64_t shape[1] = { 4096 };
    DLTensor t = { mem, tsr_context_dl_device(ctx), 1, { kDLFloat, 32, 1 }, shape, NULL, 0 };
    assert_int_equal(tsr_kernel_set_tensor(k, 0, &t), TSR_OK);
    assert_int_equal(tsr_kernel_set_scalar(k, 1, 3.0), TSR_OK);
    assert_int_equal(tsr_event_record(a, NULL), TSR_OK);
    assert_int_equal(tsr_kernel_launch(k, NULL), TSR_OK);
    assert_int_equal(tsr_event_record(b, NULL), TSR_OK);
    assert_int_equal(tsr_event_elapsed_ms(a, b, &ms), TSR_OK);
    assert_true(ms > 0.0f);
    assert_true(((float *)mem)[4095] == 3.0f);

    /* Bad calls. */
    assert_int_equal(tsr_event_create(ctx, NULL), TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_event_create(NULL, &a), TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_event_record(NULL, NULL), TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_event_synchronize(NULL), TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_event_elapsed_ms(a, NULL, &ms), TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_event_elapsed_ms(a, b, NULL), TSR_ERR_INVALID_ARGUMENT);
    tsr_context *other = suite_context(kind);
    tsr_event *c;
    assert_int_equal(tsr_event_create(other, &c), TSR_OK);
    assert_int_equal(tsr_event_record(c, NULL), TSR_OK);
    assert_int_equal(tsr_event_elapsed_ms(a, c, &ms), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "different contexts"));
    tsr_event_destroy(NULL);

    /* a before its context; b, c and the module after theirs. */
    tsr_event_destroy(a);
    tsr_context_destroy(other);
    tsr_context_destroy(ctx);
    tsr_event_destroy(b);
    tsr_event_destroy(c);
    tsr_module_destroy(mod);
}

static void interp_events(void **state)
{
    (void)state;
    host_clock(TSR_DEVICE_INTERP);
}

static void emu_events(void **state)
{
    (void)state;
    host_clock(TSR_DEVICE_EMU);
}

/* A context that could not be created makes no events. */
static void unusable_context(void **state)
{
    (void)state;
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = (tsr_device_kind)42;
    tsr_context *ctx;
    assert_int_not_equal(tsr_context_create(&o, &ctx), TSR_OK);
    tsr_event *e = (tsr_event *)&o;
    assert_int_not_equal(tsr_event_create(ctx, &e), TSR_OK);
    tsr_context_destroy(ctx);
}

static void cuda_events(void **state)
{
    (void)state;
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_CUDA;
    tsr_context *ctx;
    if (tsr_context_create(&o, &ctx) != TSR_OK) {
        print_message("SKIP: no GPU: %s\n", tsr_context_error(ctx));
        tsr_context_destroy(ctx);
        skip();
    }
    tsr_event *a, *b;
    if (tsr_event_create(ctx, &a) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    assert_int_equal(tsr_event_create(ctx, &b), TSR_OK);
    static const char src[] = "kernel fill(X: out f32[N], v: f32) grid (cdiv(N, 1024)) { X[program_id(0) * 1024 : +1024] = v; }";
    tsr_module *mod = suite_compile(ctx, src, NULL, 0);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(mod, "fill", &k), TSR_OK);
    size_t n = 64 << 20;
    void *mem;
    assert_int_equal(tsr_malloc(ctx, n * 4, &mem), TSR_OK);
    int64_t shape[1] = { (int64_t)n };
    DLTensor t = { mem, tsr_context_dl_device(ctx), 1, { kDLFloat, 32, 1 }, shape, NULL, 0 };
    assert_int_equal(tsr_kernel_set_tensor(k, 0, &t), TSR_OK);
    assert_int_equal(tsr_kernel_set_scalar(k, 1, 1.0), TSR_OK);
    float ms = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tsr_event_record(a, NULL), TSR_OK);
        assert_int_equal(tsr_kernel_launch(k, NULL), TSR_OK);
        assert_int_equal(tsr_event_record(b, NULL), TSR_OK);
        if (tsr_event_elapsed_ms(a, b, &ms) != TSR_OK)
            fail_msg("%s", tsr_context_error(ctx));
    }
    /* 256 MiB written: well over a microsecond, well under a second. */
    print_message("256 MiB fill: %.3f ms (%.0f GB/s)\n", ms, n * 4 / (ms * 1e-3) / 1e9);
    assert_true(ms > 0.001f && ms < 1000.0f);
    assert_int_equal(tsr_event_synchronize(b), TSR_OK);
    tsr_context_destroy(ctx); /* frees the buffer and what the events and the module hold */
    tsr_event_destroy(a);
    tsr_event_destroy(b);
    tsr_module_destroy(mod);
}

int main(void)
{
    suite_default_cache_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interp_events),
        cmocka_unit_test(emu_events),
        cmocka_unit_test(unusable_context),
        cmocka_unit_test(cuda_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
