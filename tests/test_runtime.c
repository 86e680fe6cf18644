/* The public C API (include/tessera.h): contexts, their options and
 * allocator hooks, statuses; then the API suite (tests/support/rt_suite.c)
 * on interp and emu, and on cuda when this machine has a GPU (skipped with
 * the reason otherwise). */
#define _POSIX_C_SOURCE 200809L
#include "rt_suite.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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
    /* Values the library does not know are refused, not dropped. */
    struct {
        tsr_device_kind device;
        int ordinal, threads;
        tsr_cache_mode cache;
        unsigned flags;
        const char *msg;
    } bad[] = {
        { TSR_DEVICE_EMU, 1, 0, TSR_CACHE_DEFAULT, 0, "device ordinal 1: the emu device has only device 0" },
        { TSR_DEVICE_INTERP, 2, 0, TSR_CACHE_DEFAULT, 0, "device ordinal 2: the interp device has only device 0" },
        { TSR_DEVICE_EMU, 0, -1, TSR_CACHE_DEFAULT, 0, "host_threads is -1" },
        { TSR_DEVICE_EMU, 0, 0, (tsr_cache_mode)7, 0, "unknown cache mode 7" },
        { TSR_DEVICE_INTERP, 0, 0, TSR_CACHE_DEFAULT, 1u << 9, "flags has unknown bits 0x200" },
        { TSR_DEVICE_AUTO, 0, 0, TSR_CACHE_DEFAULT, 0x80000000u, "flags has unknown bits 0x80000000" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tsr_context_options_init(&o);
        o.device = bad[i].device;
        o.device_ordinal = bad[i].ordinal;
        o.host_threads = bad[i].threads;
        o.cache = bad[i].cache;
        o.flags = bad[i].flags;
        assert_int_equal(tsr_context_create(&o, &ctx), TSR_ERR_INVALID_ARGUMENT);
        if (!strstr(tsr_context_error(ctx), bad[i].msg))
            fail_msg("case %zu: %s", i, tsr_context_error(ctx));
        tsr_context_destroy(ctx);
    }
    /* AUTO with a GPU ordinal: no emulator fallback for GPU 3 (AUTO as such:
     * gpu-check.sh's dry run steers AUTO to emu with TESSERA_DEVICE). */
    char steer[32] = "";
    if (getenv("TESSERA_DEVICE"))
        snprintf(steer, sizeof steer, "%s", getenv("TESSERA_DEVICE"));
    unsetenv("TESSERA_DEVICE");
    tsr_context_options_init(&o);
    o.device_ordinal = 3;
    setenv("TESSERA_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_ERR_NO_DEVICE);
    tsr_context_destroy(ctx);
    unsetenv("TESSERA_LIBCUDA");
    if (*steer)
        setenv("TESSERA_DEVICE", steer, 1);
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_EMU;
    tsr_context_destroy(NULL);

    /* TESSERA_DEVICE steers TSR_DEVICE_AUTO only. */
    setenv("TESSERA_DEVICE", "interp", 1);
    assert_int_equal(tsr_context_create(NULL, &ctx), TSR_OK);
    assert_int_equal(tsr_context_device_kind(ctx), TSR_DEVICE_INTERP);
    tsr_context_destroy(ctx);
    o.device_ordinal = 0;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    assert_int_equal(tsr_context_device_kind(ctx), TSR_DEVICE_EMU);
    assert_string_equal(tsr_context_default_target(ctx), "sm_90a");
    tsr_context_destroy(ctx);
    /* A context for the code of another target; an unknown one is refused. */
    o.target = "sm_80";
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    assert_string_equal(tsr_context_default_target(ctx), "sm_80");
    tsr_context_destroy(ctx);
    o.target = "sm_75";
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "unknown target 'sm_75'"));
    tsr_context_destroy(ctx);
    o.target = NULL;
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

/* Running out of memory during a launch (the launch's own arrays come from
 * the context's allocator): every failure is TSR_ERR_OUT_OF_MEMORY with a
 * message, nothing leaks, and the next launch works. */
static void launch_out_of_memory(void **state)
{
    (void)state;
    static const tsr_device_kind kinds[] = { TSR_DEVICE_EMU, TSR_DEVICE_INTERP };
    const char *src = "kernel k(X: f32[N], Y: out f32[N], a: f32) grid (cdiv(N, 32)) {\n"
                      "    Y[program_id(0) * 32 : +32] = X[program_id(0) * 32 : +32] * a;\n"
                      "}\n";
    for (int d = 0; d < 2; d++) {
        Counter c = { 0 };
        tsr_allocator a = { count_alloc, count_free, &c };
        tsr_context_options o;
        tsr_context_options_init(&o);
        o.device = kinds[d];
        o.allocator = &a;
        o.host_threads = 1;
        tsr_context *ctx;
        assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
        tsr_module *m = suite_compile(ctx, src, NULL, 0);
        tsr_kernel *k;
        assert_int_equal(tsr_module_get_kernel(m, NULL, &k), TSR_OK);
        float x[100], y[100];
        for (int i = 0; i < 100; i++)
            x[i] = (float)i;
        int64_t n = 100;
        DLTensor tx = { x, { kDLCPU, 0 }, 1, { kDLFloat, 32, 1 }, &n, NULL, 0 }, ty = tx;
        ty.data = y;
        tsr_arg args[3] = { { &tx, 0 }, { &ty, 0 }, { NULL, 3 } };
        long before = c.allocs;
        assert_int_equal(tsr_kernel_launch_args(k, args, 3, NULL), TSR_OK);
        long used = c.allocs - before;
        assert_true(used >= 2); /* the arguments, the launch's arrays */
        for (long f = 1; f <= used; f++) {
            long live = c.allocs - c.frees;
            c.fail_after = c.allocs + f;
            tsr_status s = tsr_kernel_launch_args(k, args, 3, NULL);
            if (s != TSR_ERR_OUT_OF_MEMORY || !strstr(tsr_context_error(ctx), "memory"))
                fail_msg("%s, allocation %ld of the launch failing: %s: %s", tsr_context_device_name(ctx), f,
                         tsr_status_name(s), tsr_context_error(ctx));
            c.fail_after = 0;
            /* Nothing leaked but the message kept for the failure. */
            assert_true(c.allocs - c.frees <= live + 1);
        }
        for (int i = 0; i < 100; i++)
            y[i] = -1;
        assert_int_equal(tsr_kernel_launch_args(k, args, 3, NULL), TSR_OK);
        for (int i = 0; i < 100; i++)
            assert_true(y[i] == 3.0f * (float)i);
        tsr_module_destroy(m);
        tsr_context_destroy(ctx);
        assert_int_equal(c.allocs, c.frees);
    }
}

/* Destroying a context frees what its modules and events hold; their
 * handles may be destroyed after it (a natural defer order), harmlessly,
 * and only those handles are left until then. */
static void destroy_order(void **state)
{
    (void)state;
    Counter c = { 0 };
    tsr_allocator a = { count_alloc, count_free, &c };
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_EMU;
    o.allocator = &a;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    const char *src = "kernel k(X: f32[N], Y: out f32[N]) grid (cdiv(N, 32)) {\n"
                      "    Y[program_id(0) * 32 : +32] = X[program_id(0) * 32 : +32];\n"
                      "}\n";
    tsr_module *m[3];
    for (int i = 0; i < 3; i++)
        m[i] = suite_compile(ctx, src, NULL, 0);
    tsr_module_destroy(m[1]); /* before the context, as ever */
    tsr_event *ev;
    assert_int_equal(tsr_event_create(ctx, &ev), TSR_OK);
    assert_int_equal(tsr_event_record(ev, NULL), TSR_OK);
    void *buf;
    assert_int_equal(tsr_malloc(ctx, 1024, &buf), TSR_OK);
    tsr_context_destroy(ctx);
    /* Two module handles and an event handle are what is left. */
    assert_int_equal(c.allocs - c.frees, 3);
    assert_int_equal(tsr_module_kernel_count(m[0]), 0);
    assert_non_null(strstr(tsr_module_error(m[0]), "context was destroyed"));
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m[0], NULL, &k), TSR_ERR_INVALID_ARGUMENT);
    assert_null(tsr_module_ir(m[0], NULL, TSR_IR_PTX));
    assert_int_equal(tsr_event_record(ev, NULL), TSR_ERR_INVALID_ARGUMENT);
    tsr_module_destroy(m[2]);
    tsr_event_destroy(ev);
    tsr_module_destroy(m[0]);
    assert_int_equal(c.allocs, c.frees);
    assert_int_equal(c.live_bytes, 0);
}

/* tsr_module_compile_file reads regular files only: a directory says so,
 * a FIFO with no writer and /dev/zero are refused at once (alarm() turns a
 * hang into a failure). */
static void source_files_that_are_not_files(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(TSR_DEVICE_INTERP);
    char *dir = make_temp_dir("tsr-files");
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/k.tsr", dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    alarm(60);
    tsr_module *m;
    assert_int_equal(tsr_module_compile_file(ctx, dir, NULL, &m), TSR_ERR_IO);
    assert_null(m);
    if (!strstr(tsr_context_error(ctx), "is a directory"))
        fail_msg("%s", tsr_context_error(ctx));
    assert_int_equal(tsr_module_compile_file(ctx, fifo, NULL, &m), TSR_ERR_IO);
    assert_non_null(strstr(tsr_context_error(ctx), "not a regular file"));
    assert_int_equal(tsr_module_compile_file(ctx, "/dev/zero", NULL, &m), TSR_ERR_IO);
    assert_non_null(strstr(tsr_context_error(ctx), "not a regular file"));
    assert_int_equal(tsr_module_compile_file(ctx, "/nonexistent/k.tsr", NULL, &m), TSR_ERR_IO);
    assert_non_null(strstr(tsr_context_error(ctx), "cannot read '/nonexistent/k.tsr': No such file"));
    alarm(0);
    tsr_context_destroy(ctx);
    rm_rf(dir);
    free(dir);
}

/* Shapes and strides whose offsets overflow 64 bits are refused before
 * anything runs (they were accepted with a signed overflow; UBSan checks). */
static void overflowing_shapes(void **state)
{
    (void)state;
    static const char src[] = "kernel k(X: f32[A, B, C, D], Y: out f32[D]) grid (1) {\n"
                              "    Y[0 : +16] = X[0, 0, 0, 0 : +16];\n"
                              "}\n";
    static const tsr_device_kind kinds[] = { TSR_DEVICE_INTERP, TSR_DEVICE_EMU };
    for (int i = 0; i < 2; i++) {
        tsr_context *ctx = suite_context(kinds[i]);
        tsr_module *m = suite_compile(ctx, src, NULL, 0);
        tsr_kernel *k;
        tsr_module_get_kernel(m, NULL, &k);
        static float x[64], y[64];
        int64_t big = INT32_MAX, shape[4] = { big, big, big, 16 }, yshape[1] = { 16 };
        DLTensor tx = { x, { kDLCPU, 0 }, 4, { kDLFloat, 32, 1 }, shape, NULL, 0 };
        DLTensor ty = { y, { kDLCPU, 0 }, 1, { kDLFloat, 32, 1 }, yshape, NULL, 0 };
        tsr_kernel_set_tensor(k, 1, &ty);
        /* Contiguous: 2^93 elements. */
        tsr_kernel_set_tensor(k, 0, &tx);
        assert_int_equal(tsr_kernel_launch(k, NULL), TSR_ERR_LAUNCH);
        if (!strstr(tsr_kernel_error(k), "tensor 'X'") || !strstr(tsr_kernel_error(k), "overflow"))
            fail_msg("%s", tsr_kernel_error(k));
        /* Small dims, strides whose spans add up past 2^63 bytes. */
        int64_t small[4] = { 2, 2, 2, 16 }, strides[4] = { INT64_MAX / 8, INT64_MAX / 8, -(INT64_MAX / 8), 1 };
        tx.shape = small;
        tx.strides = strides;
        tsr_kernel_set_tensor(k, 0, &tx);
        assert_int_equal(tsr_kernel_launch(k, NULL), TSR_ERR_LAUNCH);
        assert_non_null(strstr(tsr_kernel_error(k), "overflow"));
        /* A stride times its dim past 2^63 on its own. */
        strides[0] = INT64_MAX / 2;
        strides[1] = strides[2] = 16;
        tsr_kernel_set_tensor(k, 0, &tx);
        assert_int_equal(tsr_kernel_launch(k, NULL), TSR_ERR_LAUNCH);
        /* A negative span reaching below address 0. */
        strides[0] = -((int64_t)1 << 60);
        tsr_kernel_set_tensor(k, 0, &tx);
        assert_int_equal(tsr_kernel_launch(k, NULL), TSR_ERR_LAUNCH);
        assert_non_null(strstr(tsr_kernel_error(k), "wrap"));
        tsr_module_destroy(m);
        tsr_context_destroy(ctx);
    }
}

/* Tensors with a dimension of 0 and NULL data (as frameworks hand them
 * out) are valid: nothing of them is read or written. */
static void empty_tensors(void **state)
{
    (void)state;
    static const char src[] = "kernel rows(X: f32[M, N], Y: out f32[M, N]) grid (M) {\n"
                              "    let r = program_id(0);\n"
                              "    Y[r, 0 : +16] = X[r, 0 : +16] * 2.0;\n"
                              "}\n";
    static const tsr_device_kind kinds[] = { TSR_DEVICE_INTERP, TSR_DEVICE_EMU };
    for (int i = 0; i < 2; i++) {
        tsr_context *ctx = suite_context(kinds[i]);
        tsr_module *m = suite_compile(ctx, src, NULL, 0);
        tsr_kernel *k;
        tsr_module_get_kernel(m, NULL, &k);
        /* No rows: an empty grid. Rows of no columns: blocks that touch nothing. */
        int64_t shapes[2][2] = { { 0, 16 }, { 5, 0 } };
        for (int j = 0; j < 2; j++) {
            DLTensor t = { NULL, { kDLCPU, 0 }, 2, { kDLFloat, 32, 1 }, shapes[j], NULL, 0 };
            tsr_kernel_set_tensor(k, 0, &t);
            tsr_kernel_set_tensor(k, 1, &t);
            if (tsr_kernel_launch(k, NULL) != TSR_OK)
                fail_msg("%s, shape [%lld, %lld]: %s", tsr_context_device_name(ctx), (long long)shapes[j][0],
                         (long long)shapes[j][1], tsr_kernel_error(k));
            int64_t grid[3];
            assert_int_equal(tsr_kernel_grid(k, grid), TSR_OK);
            assert_int_equal(grid[0], shapes[j][0]);
        }
        /* NULL data with elements is still an error. */
        int64_t some[2] = { 1, 16 };
        DLTensor t = { NULL, { kDLCPU, 0 }, 2, { kDLFloat, 32, 1 }, some, NULL, 0 };
        tsr_kernel_set_tensor(k, 0, &t);
        tsr_kernel_set_tensor(k, 1, &t);
        assert_int_equal(tsr_kernel_launch(k, NULL), TSR_ERR_LAUNCH);
        assert_non_null(strstr(tsr_kernel_error(k), "null data pointer"));
        tsr_module_destroy(m);
        tsr_context_destroy(ctx);
    }
}

/* In a second thread: the first thread's message is not seen; this one's
 * failure is. Returns m when all held. */
static void *fail_in_thread(void *arg)
{
    tsr_module *m = arg;
    bool clean = strcmp(tsr_module_error(m), "") == 0;
    tsr_kernel *k;
    tsr_status s = tsr_module_get_kernel(m, "from_the_other_thread", &k);
    return clean && s == TSR_ERR_NOT_FOUND && strstr(tsr_module_error(m), "from_the_other_thread") ? m : NULL;
}

/* One error model: every call's outcome lands on the context, for the
 * calling thread; a success clears it; a message stays readable through the
 * next call, so f(call(), tsr_context_error(ctx)) is safe in either order. */
static void error_model(void **state)
{
    (void)state;
    for (int s = TSR_OK; s <= TSR_ERR_UNSUPPORTED; s++) {
        assert_true(strlen(tsr_status_string((tsr_status)s)) > 0);
        for (int t = TSR_OK; t < s; t++)
            assert_string_not_equal(tsr_status_string((tsr_status)s), tsr_status_string((tsr_status)t));
    }
    assert_string_equal(tsr_status_string(TSR_OK), "success");
    assert_string_equal(tsr_status_string((tsr_status)99), "unknown status");

    tsr_context *ctx = suite_context(TSR_DEVICE_INTERP);
    static const char src[] = "kernel copy<B: int = 16>(X: f32[N], Y: out f32[N]) grid (cdiv(N, B)) {\n"
                              "    Y[program_id(0) * B : +B] = X[program_id(0) * B : +B];\n"
                              "}\n";
    tsr_module *m = suite_compile(ctx, src, NULL, 0);
    tsr_kernel *k;
    /* A module's failure is the context's message too; a success clears it. */
    assert_int_equal(tsr_module_get_kernel(m, "nope", &k), TSR_ERR_NOT_FOUND);
    assert_non_null(strstr(tsr_context_error(ctx), "no kernel named 'nope'"));
    assert_string_equal(tsr_module_error(m), tsr_context_error(ctx));
    assert_int_equal(tsr_module_get_kernel(m, "copy", &k), TSR_OK);
    assert_string_equal(tsr_context_error(ctx), "");
    assert_string_equal(tsr_module_error(m), "");
    /* A kernel's failure likewise. */
    assert_int_equal(tsr_kernel_launch(k, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "argument 0 ('X') of kernel 'copy' is not set"));
    assert_string_equal(tsr_kernel_error(k), tsr_context_error(ctx));
    assert_int_equal(tsr_kernel_set_scalar(k, 5, 1.0), TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_kernel_param_count(k), 2); /* getters do not touch the message */
    assert_non_null(strstr(tsr_kernel_error(k), "argument 5 is out of range"));
    int64_t n = 16;
    float x[16] = { 0 };
    DLTensor t = { x, { kDLCPU, 0 }, 1, { kDLFloat, 32, 1 }, &n, NULL, 0 };
    assert_int_equal(tsr_kernel_set_tensor(k, 0, &t), TSR_OK);
    assert_string_equal(tsr_kernel_error(k), "");
    /* The string read before a call is still readable after it (ASan
     * checks), whichever order f(call(), tsr_context_error(ctx)) takes. */
    assert_int_equal(tsr_module_get_kernel(m, "first", &k), TSR_ERR_NOT_FOUND);
    const char *before = tsr_context_error(ctx);
    assert_int_equal(tsr_module_get_kernel(m, "second", &k), TSR_ERR_NOT_FOUND);
    assert_non_null(strstr(before, "'first'"));
    assert_non_null(strstr(tsr_context_error(ctx), "'second'"));
    assert_int_equal(tsr_module_get_kernel(m, NULL, &k), TSR_OK);
    assert_string_equal(tsr_context_error(ctx), "");
    /* Messages are per thread: another thread's failure is not this one's. */
    assert_int_equal(tsr_module_get_kernel(m, "mine", &k), TSR_ERR_NOT_FOUND);
    pthread_t th;
    void *ok = NULL;
    assert_int_equal(pthread_create(&th, NULL, fail_in_thread, m), 0);
    pthread_join(th, &ok);
    assert_ptr_equal(ok, m);
    assert_non_null(strstr(tsr_context_error(ctx), "'mine'"));
    /* Defines given through the API are not spoken of as -D options. */
    tsr_define d = { "BLOK", "3" };
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = &d;
    co.ndefines = 1;
    tsr_module *bad;
    assert_int_equal(tsr_module_compile(ctx, src, strlen(src), &co, &bad), TSR_ERR_COMPILE);
    if (!strstr(tsr_context_error(ctx), "define BLOK: no kernel being compiled has a compile-time parameter named "
                                        "'BLOK'") ||
        strstr(tsr_context_error(ctx), "-D"))
        fail_msg("%s", tsr_context_error(ctx));
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

/* The options structs carry their size, so they can grow: a program built
 * against a newer header (a bigger struct) works when the fields this
 * library does not know are zero, and is refused otherwise; a zeroed
 * struct (struct_size 0) is the first version's. */
static void options_can_grow(void **state)
{
    (void)state;
    struct {
        tsr_context_options o;
        unsigned char newer[24];
    } big;
    memset(&big, 0, sizeof big);
    tsr_context_options_init(&big.o);
    assert_int_equal(big.o.struct_size, sizeof(tsr_context_options));
    big.o.struct_size = sizeof big;
    big.o.device = TSR_DEVICE_INTERP;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&big.o, &ctx), TSR_OK);
    assert_int_equal(tsr_context_device_kind(ctx), TSR_DEVICE_INTERP);
    tsr_context_destroy(ctx);
    big.newer[20] = 1;
    assert_int_equal(tsr_context_create(&big.o, &ctx), TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "fields that this (older) Tessera does not know"));
    tsr_context_destroy(ctx);
    tsr_context_options zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    zeroed.device = TSR_DEVICE_EMU;
    assert_int_equal(tsr_context_create(&zeroed, &ctx), TSR_OK);
    assert_int_equal(tsr_context_device_kind(ctx), TSR_DEVICE_EMU);
    tsr_context_destroy(ctx);
    zeroed.struct_size = 4;
    assert_int_equal(tsr_context_create(&zeroed, &ctx), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "struct_size is smaller"));
    tsr_context_destroy(ctx);

    ctx = suite_context(TSR_DEVICE_INTERP);
    static const char src[] = "kernel k<B: int = 16>(X: f32[N], Y: out f32[N]) grid (1) {\n"
                              "    Y[0 : +B] = X[0 : +B];\n"
                              "}\n";
    struct {
        tsr_compile_options o;
        unsigned char newer[16];
    } cbig;
    memset(&cbig, 0, sizeof cbig);
    tsr_compile_options_init(&cbig.o);
    assert_int_equal(cbig.o.struct_size, sizeof(tsr_compile_options));
    cbig.o.struct_size = sizeof cbig;
    cbig.o.source_name = "grown.tsr";
    tsr_module *m;
    assert_int_equal(tsr_module_compile(ctx, src, strlen(src), &cbig.o, &m), TSR_OK);
    tsr_module_destroy(m);
    cbig.newer[0] = 7;
    assert_int_equal(tsr_module_compile(ctx, src, strlen(src), &cbig.o, &m), TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "tsr_compile_options: the options set fields"));
    tsr_compile_options plain = { .source_name = "plain.tsr" }; /* struct_size 0 */
    assert_int_equal(tsr_module_compile(ctx, "kernel", 6, &plain, &m), TSR_ERR_COMPILE);
    assert_non_null(strstr(tsr_context_error(ctx), "plain.tsr:1:"));
    tsr_context_destroy(ctx);
}

/* Legal programs that need more than a GPU has (registers per thread,
 * kernel parameters) are compile errors at their source position, not
 * aborts of the host process. */
static void resource_limits_are_diagnostics(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(TSR_DEVICE_EMU);
    static const char rowsum[] = "kernel rs(X: f32[M, N], Y: out f32[M]) grid (1) warps 1 {\n"
                                 "    Y[0 : +1024] = rowsum(X[0 : +1024, 0 : +1024]);\n"
                                 "}\n";
    static const char longdot[] = "kernel dk(A: f16[M, K], B: f16[K, N], C: out f32[M, N]) grid (1) {\n"
                                  "    C[0 : +16, 0 : +16] = dot(A[0 : +16, 0 : +65536], B[0 : +65536, 0 : +16]);\n"
                                  "}\n";
    static const char transposed[] = "kernel tr(X: f32[M, N], Y: out f32[N, M]) grid (1) warps 1 {\n"
                                     "    Y[0 : +1024, 0 : +1024] = transpose(X[0 : +1024, 0 : +1024]);\n"
                                     "}\n";
    static const char big1[] = "kernel big(X: f32[N], Y: out f32[N]) grid (1) warps 1 {\n"
                               "    Y[0 : +1048576] = X[0 : +1048576] * 2.0;\n"
                               "}\n";
    /* a dim that is no power of two: 11 repetitions of 2^11 registers */
    static const char odd[] = "kernel odd(X: f32[M, N], Y: out f32[M, N]) grid (1) warps 1 {\n"
                              "    Y[0 : +176, 0 : +4096] = X[0 : +176, 0 : +4096] * 2.0;\n"
                              "}\n";
    struct {
        const char *src, *want;
    } cases[] = {
        { odd, "<string>:2:30: error: this tile [176, 4096] needs more than 2^14 registers per thread" },
        { rowsum, "<string>:2:27: error: this tile [1024, 1024] needs more than 2^14 registers per thread" },
        { transposed, "<string>:2:41: error: this tile [1024, 1024] needs more than 2^14 registers per thread" },
        { big1, "<string>:2:23: error: this tile [1048576] needs more than 2^14 registers per thread" },
        { longdot, "<string>:2:31: error: this tile [16, 65536] needs more than 2^14 registers per thread" },
    };
    tsr_module *m;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(tsr_module_compile(ctx, cases[i].src, strlen(cases[i].src), NULL, &m), TSR_ERR_COMPILE);
        if (!strstr(tsr_context_error(ctx), cases[i].want))
            fail_msg("case %zu: %s", i, tsr_context_error(ctx));
    }
    StrBuf many;
    sb_init(&many);
    sb_puts(&many, "kernel many(Y: out f32[N]");
    for (int i = 0; i < 300; i++)
        sb_printf(&many, ", a%d: f32", i);
    sb_puts(&many, ") grid (1) {\n    Y[0 : +16] = f32(arange<16>(0)) * a0;\n}\n");
    assert_int_equal(tsr_module_compile(ctx, many.data, many.len, NULL, &m), TSR_ERR_COMPILE);
    if (!strstr(tsr_context_error(ctx), "<string>:1:8: error: kernel 'many' takes 303 parameter values") ||
        !strstr(tsr_context_error(ctx), "at most 256"))
        fail_msg("%s", tsr_context_error(ctx));
    sb_free(&many);
    /* A 2^20-element tile on 4 warps fits (8192 registers per thread). */
    static const char big[] = "kernel big(X: f32[N], Y: out f32[N]) grid (1) {\n"
                              "    Y[0 : +1048576] = X[0 : +1048576] * 2.0;\n"
                              "}\n";
    tsr_compile_options co;
    tsr_compile_options_init(&co);
    co.keep_ir = TSR_IR_PTX;
    tsr_context *interp = suite_context(TSR_DEVICE_INTERP);
    if (tsr_module_compile(interp, big, strlen(big), &co, &m) != TSR_OK)
        fail_msg("%s", tsr_context_error(interp));
    tsr_module_destroy(m);
    tsr_context_destroy(interp);
    tsr_context_destroy(ctx);
}

/* TSR_COMPILE_LINE_INFO puts the DSL lines into the PTX (and into the JIT
 * key: the same source without it gets its own entry); unknown flag bits are
 * refused. */
static void compile_flags(void **state)
{
    (void)state;
    static const char src[] = "kernel k(X: f32[N], Y: out f32[N]) grid (cdiv(N, 32)) {\n"
                              "    let i = program_id(0) * 32;\n"
                              "    Y[i : +32] = X[i : +32] * 2.0;\n"
                              "}\n";
    tsr_context *ctx = suite_context(TSR_DEVICE_EMU);
    tsr_compile_options co;
    tsr_compile_options_init(&co);
    co.keep_ir = TSR_IR_PTX;
    for (int on = 0; on < 2; on++) {
        co.flags = on ? TSR_COMPILE_LINE_INFO : 0;
        tsr_module *m;
        if (tsr_module_compile(ctx, src, strlen(src), &co, &m) != TSR_OK)
            fail_msg("%s", tsr_context_error(ctx));
        const char *ptx = tsr_module_ir(m, "k", TSR_IR_PTX);
        assert_non_null(ptx);
        if (on)
            assert_non_null(strstr(ptx, ".loc\t1 3 0")); /* the store */
        else
            assert_null(strstr(ptx, ".loc"));
        tsr_module_destroy(m);
    }
    co.flags = 1u << 5;
    tsr_module *m;
    assert_int_equal(tsr_module_compile(ctx, src, strlen(src), &co, &m), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "flags has unknown bits 0x20"));
    tsr_context_destroy(ctx);
}

/* tsr_context_options.compile_flags reach every module of the context:
 * TSR_COMPILE_NO_WARP_SPECIALIZE leaves a pipelined sm_90a matmul without
 * its producer warpgroup; unknown bits are refused at creation. */
static void context_compile_flags(void **state)
{
    (void)state;
    static const char src[] = "kernel mm(A: f16[M, K], B: f16[K, N], C: out f32[M, N]) grid (cdiv(M, 64)) {\n"
                              "    var acc = zeros<f32>[64, 64];\n"
                              "    for k in 0 .. K step 32 pipeline(2) {\n"
                              "        acc = acc + dot(A[program_id(0) * 64 : +64, k : +32], B[k : +32, 0 : +64]);\n"
                              "    }\n"
                              "    C[program_id(0) * 64 : +64, 0 : +64] = acc;\n"
                              "}\n";
    for (int off = 0; off < 2; off++) {
        tsr_context_options o;
        tsr_context_options_init(&o);
        o.device = TSR_DEVICE_EMU;
        o.cache = TSR_CACHE_OFF;
        o.target = "sm_90a";
        o.compile_flags = off ? TSR_COMPILE_NO_WARP_SPECIALIZE : 0;
        tsr_context *ctx;
        if (tsr_context_create(&o, &ctx) != TSR_OK)
            fail_msg("%s", tsr_context_error(ctx));
        tsr_compile_options co;
        tsr_compile_options_init(&co);
        co.keep_ir = TSR_IR_PTX;
        tsr_module *m;
        if (tsr_module_compile(ctx, src, strlen(src), &co, &m) != TSR_OK)
            fail_msg("%s", tsr_context_error(ctx));
        const char *ptx = tsr_module_ir(m, "mm", TSR_IR_PTX);
        assert_non_null(ptx);
        assert_non_null(strstr(ptx, off ? "128 threads per block" : "256 threads per block"));
        assert_true((strstr(ptx, "setmaxnreg") == NULL) == (off == 1));
        tsr_module_destroy(m);
        tsr_context_destroy(ctx);
    }
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_INTERP;
    o.compile_flags = 1u << 6;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "compile_flags has unknown bits 0x40"));
    tsr_context_destroy(ctx);
}

/* TSR_COMPILE_PERSISTENT: on emu (4 multiprocessors, 16 blocks of 128
 * threads each) a grid of more instances than 64 runs on 64 blocks, one of
 * fewer on one block per instance, with the results of the program; interp
 * runs the program's grid. */
static void persistent_launch(void **state)
{
    (void)state;
    static const char src[] = "kernel k(X: f32[N], Y: out f32[N]) grid (cdiv(N, 32)) {\n"
                              "    Y[program_id(0) * 32 : +32] = X[program_id(0) * 32 : +32] * 2.0 + f32(num_programs(0));\n"
                              "}\n";
    static const tsr_device_kind kinds[] = { TSR_DEVICE_EMU, TSR_DEVICE_INTERP };
    for (int d = 0; d < 2; d++) {
        tsr_context_options o;
        tsr_context_options_init(&o);
        o.device = kinds[d];
        o.cache = TSR_CACHE_OFF;
        o.host_threads = 2;
        tsr_context *ctx;
        if (tsr_context_create(&o, &ctx) != TSR_OK)
            fail_msg("%s", tsr_context_error(ctx));
        tsr_compile_options co;
        tsr_compile_options_init(&co);
        co.flags = TSR_COMPILE_PERSISTENT;
        tsr_module *m;
        if (tsr_module_compile(ctx, src, strlen(src), &co, &m) != TSR_OK)
            fail_msg("%s", tsr_context_error(ctx));
        tsr_kernel *k;
        assert_int_equal(tsr_module_get_kernel(m, NULL, &k), TSR_OK);
        static const int64_t sizes[] = { 300 * 32 - 5, 10 * 32 };
        for (int s = 0; s < 2; s++) {
            int64_t n = sizes[s], instances = (n + 31) / 32;
            float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
            for (int64_t i = 0; i < n; i++) {
                x[i] = (float)i;
                y[i] = -1.0f;
            }
            DLTensor tx = { x, { kDLCPU, 0 }, 1, { kDLFloat, 32, 1 }, &n, NULL, 0 }, ty = tx;
            ty.data = y;
            assert_int_equal(tsr_kernel_set_tensor(k, 0, &tx), TSR_OK);
            assert_int_equal(tsr_kernel_set_tensor(k, 1, &ty), TSR_OK);
            int64_t grid[3], launched[3];
            assert_int_equal(tsr_kernel_grid(k, grid), TSR_OK);
            if (tsr_kernel_launch_grid(k, launched) != TSR_OK)
                fail_msg("%s", tsr_context_error(ctx));
            assert_int_equal(grid[0], instances);
            int64_t want = kinds[d] == TSR_DEVICE_EMU && instances > 64 ? 64 : instances;
            assert_int_equal(launched[0], want);
            assert_int_equal(launched[1] * launched[2], 1);
            if (tsr_kernel_launch(k, NULL) != TSR_OK)
                fail_msg("%s", tsr_context_error(ctx));
            assert_int_equal(tsr_context_synchronize(ctx), TSR_OK);
            for (int64_t i = 0; i < n; i++)
                if (y[i] != 2.0f * (float)i + (float)instances)
                    fail_msg("%s: Y[%lld] = %g", tsr_context_device_name(ctx), (long long)i, (double)y[i]);
            free(x);
            free(y);
        }
        tsr_module_destroy(m);
        tsr_context_destroy(ctx);
    }
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
        cmocka_unit_test(destroy_order),
        cmocka_unit_test(launch_out_of_memory),
        cmocka_unit_test(source_files_that_are_not_files),
        cmocka_unit_test(overflowing_shapes),
        cmocka_unit_test(empty_tensors),
        cmocka_unit_test(error_model),
        cmocka_unit_test(options_can_grow),
        cmocka_unit_test(resource_limits_are_diagnostics),
        cmocka_unit_test(compile_flags),
        cmocka_unit_test(context_compile_flags),
        cmocka_unit_test(persistent_launch),
    };
    int failed = cmocka_run_group_tests_name("context", tests, NULL, NULL);
    failed += rt_suite_run(TSR_DEVICE_INTERP, "api_interp");
    failed += rt_suite_run(TSR_DEVICE_EMU, "api_emu");
    failed += cuda_group();
    return failed != 0;
}
