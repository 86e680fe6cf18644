/* The public C API (include/tessera.h): contexts, their options and
 * allocator hooks, statuses; then the API suite (tests/support/rt_suite.c)
 * on interp and emu, and on cuda when this machine has a GPU (skipped with
 * the reason otherwise). */
#define _POSIX_C_SOURCE 200809L
#include "rt_suite.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void version_and_statuses(void **state)
{
    (void)state;
    assert_string_equal(tsr_version(), TESSERA_VERSION_STRING);
    assert_int_equal(TESSERA_VERSION_NUMBER, TESSERA_VERSION_MAJOR * 10000 + TESSERA_VERSION_MINOR * 100 +
                                                  TESSERA_VERSION_PATCH);
    assert_int_equal(TSR_OK, 0);
    const tsr_status all[] = { TSR_OK,          TSR_ERR_INVALID_ARGUMENT, TSR_ERR_COMPILE,
                               TSR_ERR_NO_DEVICE, TSR_ERR_DEVICE,         TSR_ERR_LAUNCH,
                               TSR_ERR_OUT_OF_MEMORY, TSR_ERR_NOT_FOUND, TSR_ERR_IO,
                               TSR_ERR_UNSUPPORTED };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        for (size_t j = 0; j < i; j++) {
            assert_true(all[i] != all[j]);
            assert_string_not_equal(tsr_status_name(all[i]), tsr_status_name(all[j]));
        }
    assert_string_equal(tsr_status_name(TSR_ERR_LAUNCH), "TSR_ERR_LAUNCH");
    assert_string_equal(tsr_status_name((tsr_status)1234), "unknown status");
}

static void context_options(void **state)
{
    (void)state;
    tsr_context *ctx;
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = (tsr_device_kind)42;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(ctx); /* holds the message, like sqlite3_open */
    assert_non_null(strstr(tsr_context_error(ctx), "unknown device kind 42"));
    /* A context that failed to be created refuses everything else. */
    void *p;
    assert_int_equal(tsr_malloc(ctx, 16, &p), TSR_ERR_INVALID_ARGUMENT);
    tsr_module *m;
    assert_int_equal(tsr_module_compile(ctx, "x", 1, NULL, &m), TSR_ERR_INVALID_ARGUMENT);
    assert_string_equal(tsr_context_device_name(ctx), "none");
    tsr_context_destroy(ctx);

    o.device = TSR_DEVICE_EMU;
    o.device_ordinal = -1;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "ordinal -1"));
    tsr_context_destroy(ctx);
    assert_int_equal(tsr_context_create(&o, NULL), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(NULL), "NULL"));
    tsr_context_destroy(NULL);

    /* TESSERA_DEVICE steers TSR_DEVICE_AUTO only. */
    setenv("TESSERA_DEVICE", "interp", 1);
    assert_int_equal(tsr_context_create(NULL, &ctx), TSR_OK);
    assert_int_equal(tsr_context_device_kind(ctx), TSR_DEVICE_INTERP);
    tsr_context_destroy(ctx);
    o.device_ordinal = 0;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    assert_int_equal(tsr_context_device_kind(ctx), TSR_DEVICE_EMU);
    tsr_context_destroy(ctx);
    setenv("TESSERA_DEVICE", "gpu", 1);
    assert_int_equal(tsr_context_create(NULL, &ctx), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "TESSERA_DEVICE is 'gpu'"));
    tsr_context_destroy(ctx);
    unsetenv("TESSERA_DEVICE");
    /* AUTO: cuda with a GPU, else emu. */
    assert_int_equal(tsr_context_create(NULL, &ctx), TSR_OK);
    tsr_device_kind k = tsr_context_device_kind(ctx);
    assert_true(k == TSR_DEVICE_CUDA || k == TSR_DEVICE_EMU);
    assert_string_equal(tsr_context_error(ctx), "");
    tsr_context_destroy(ctx);
}

/* An allocator that counts, and one that can be made to fail. */
typedef struct {
    long allocs, frees;
    size_t live_bytes;
    long fail_after; /* fail allocation number fail_after (1-based), 0: never */
} Counter;

static void *count_alloc(void *user, size_t size, size_t align)
{
    Counter *c = user;
    if (c->fail_after && c->allocs + 1 >= c->fail_after)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1))
        return NULL;
    c->allocs++;
    c->live_bytes += size;
    return p;
}

static void count_free(void *user, void *ptr, size_t size)
{
    Counter *c = user;
    c->frees++;
    c->live_bytes -= size;
    free(ptr);
}

static void allocator_hooks(void **state)
{
    (void)state;
    Counter c = { 0 };
    tsr_allocator a = { count_alloc, count_free, &c };
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_INTERP;
    o.allocator = &a;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    const char *src = "kernel copy(X: f32[N], Y: out f32[N]) grid (cdiv(N, 64)) {\n"
                      "    let i = program_id(0) * 64;\n"
                      "    Y[i : +64] = X[i : +64];\n"
                      "}\n";
    tsr_module *m = suite_compile(ctx, src, NULL, 0);
    void *buf;
    assert_int_equal(tsr_malloc(ctx, 4096, &buf), TSR_OK);
    long after_malloc = c.allocs;
    assert_true(after_malloc >= 5); /* context, module, kernel, ..., the buffer */
    tsr_module_destroy(m);
    tsr_context_destroy(ctx); /* frees buf */
    assert_int_equal(c.allocs, c.frees);
    assert_int_equal(c.live_bytes, 0);

    /* Running out: at creation there is no context to hold a message. */
    Counter none = { 0 };
    none.fail_after = 1;
    tsr_allocator fails = { count_alloc, count_free, &none };
    o.allocator = &fails;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_ERR_OUT_OF_MEMORY);
    assert_null(ctx);
    /* Running out later: each failure is reported, nothing leaks. */
    for (long n = 2; n < after_malloc + 1; n++) {
        Counter some = { 0 };
        some.fail_after = n;
        tsr_allocator a2 = { count_alloc, count_free, &some };
        o.allocator = &a2;
        if (tsr_context_create(&o, &ctx) != TSR_OK)
            fail_msg("create with allocation %ld failing", n);
        tsr_status s = tsr_module_compile(ctx, src, strlen(src), NULL, &m);
        if (s == TSR_OK) {
            s = tsr_malloc(ctx, 4096, &buf);
            tsr_module_destroy(m);
        }
        assert_int_equal(s, TSR_ERR_OUT_OF_MEMORY);
        assert_non_null(strstr(tsr_context_error(ctx), "memory"));
        tsr_context_destroy(ctx);
        assert_int_equal(some.allocs, some.frees);
    }
    tsr_allocator bad = { NULL, count_free, NULL };
    o.allocator = &bad;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_ERR_INVALID_ARGUMENT);
}

/* Destroying a context destroys the modules still alive. */
static void context_owns_modules(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(TSR_DEVICE_EMU);
    const char *src = "kernel k(X: f32[N], Y: out f32[N]) grid (cdiv(N, 32)) {\n"
                      "    Y[program_id(0) * 32 : +32] = X[program_id(0) * 32 : +32];\n"
                      "}\n";
    for (int i = 0; i < 3; i++)
        suite_compile(ctx, src, NULL, 0);
    tsr_module_destroy(suite_compile(ctx, src, NULL, 0));
    tsr_context_destroy(ctx); /* ASan reports a leak if not */
}

static int cuda_group(void)
{
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_CUDA;
    tsr_context *ctx;
    tsr_status s = tsr_context_create(&o, &ctx);
    if (s != TSR_OK) {
        char why[1024];
        snprintf(why, sizeof why, "the API suite on cuda: %s: %s", tsr_status_name(s), tsr_context_error(ctx));
        tsr_context_destroy(ctx);
        return rt_suite_skip("api_cuda", why);
    }
    tsr_context_destroy(ctx);
    return rt_suite_run(TSR_DEVICE_CUDA, "api_cuda");
}

int main(void)
{
    suite_default_cache_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_and_statuses),
        cmocka_unit_test(context_options),
        cmocka_unit_test(allocator_hooks),
        cmocka_unit_test(context_owns_modules),
    };
    int failed = cmocka_run_group_tests_name("context", tests, NULL, NULL);
    failed += rt_suite_run(TSR_DEVICE_INTERP, "api_interp");
    failed += rt_suite_run(TSR_DEVICE_EMU, "api_emu");
    failed += cuda_group();
    return failed != 0;
}
