/* Running out of memory while compiling (issue 17): tsr_module_compile with
 * the n-th allocation failing, for every n, returns TSR_ERR_OUT_OF_MEMORY
 * with a message, leaks nothing, and the context compiles and runs the same
 * kernel afterwards (a small kernel and flash attention); likewise every
 * allocation of the interpreter's working memory during a launch. On interp that covers the frontend and the TIR passes,
 * on emu code generation too (layouts, the emitter, PTX text; LLVM's own
 * allocations are not Tessera's and are not covered: support/oom.h).
 *
 * The failures are injected under the library: this program is linked with
 * --wrap for malloc, calloc, realloc and free (Makefile), so the library's
 * calls come here; every block they return is tracked until it is freed,
 * which is how leaks are counted (also under ASan, where __real_malloc is
 * ASan's). */
#define _POSIX_C_SOURCE 200809L
#include "tessera.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

/* ---- the tracked allocator ---------------------------------------------------- */

enum { SLOTS = 1 << 20 };
#define TOMBSTONE ((void *)1)

static void **live;    /* open addressing: NULL empty, TOMBSTONE deleted */
static long nlive;     /* blocks from the wrappers not freed yet */
static long count;     /* allocations while armed */
static long fail_at;   /* fail allocation number fail_at while armed (0: none) */
static int armed;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the interpreter's threads allocate too */

static size_t slot_of(void *p) { return ((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> 44; }

static void track(void *p)
{
    if (!p || !live)
        return;
    size_t i = slot_of(p) & (SLOTS - 1);
    while (live[i] && live[i] != TOMBSTONE)
        i = (i + 1) & (SLOTS - 1);
    live[i] = p;
    nlive++;
}

/* Whether p was tracked (and is no longer). */
static int untrack(void *p)
{
    if (!p || !live)
        return 0;
    for (size_t i = slot_of(p) & (SLOTS - 1); live[i]; i = (i + 1) & (SLOTS - 1))
        if (live[i] == p) {
            live[i] = TOMBSTONE;
            nlive--;
            return 1;
        }
    return 0;
}

static int should_fail(void)
{
    if (!armed)
        return 0;
    count++;
    return fail_at && count == fail_at;
}

void *__wrap_malloc(size_t n)
{
    pthread_mutex_lock(&lock);
    void *p = should_fail() ? NULL : __real_malloc(n);
    track(p);
    pthread_mutex_unlock(&lock);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    pthread_mutex_lock(&lock);
    void *p = should_fail() ? NULL : __real_calloc(n, size);
    track(p);
    pthread_mutex_unlock(&lock);
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    pthread_mutex_lock(&lock);
    void *q = NULL; /* when it fails, p stays its owner's */
    if (!should_fail()) {
        int was = untrack(p);
        q = __real_realloc(p, n);
        if (q)
            track(q);
        else if (was)
            track(p);
    }
    pthread_mutex_unlock(&lock);
    return q;
}

void __wrap_free(void *p)
{
    pthread_mutex_lock(&lock);
    untrack(p);
    __real_free(p);
    pthread_mutex_unlock(&lock);
}

/* ---- the test ------------------------------------------------------------------- */

static const char src[] = "kernel rowscale<T: type = f32, BN: int = 32>(X: T[M, N], S: f32[M], Y: out T[M, N])\n"
                          "  grid (M, cdiv(N, BN)) warps 1\n"
                          "{\n"
                          "    let m = program_id(0);\n"
                          "    let n0 = program_id(1) * BN;\n"
                          "    var acc = zeros<f32>[1, BN];\n"
                          "    for k in 0 .. 2 {\n"
                          "        acc = acc + f32(X[m : +1, n0 : +BN]) * S[m];\n"
                          "    }\n"
                          "    let mx = rowmax(acc);\n"
                          "    Y[m : +1, n0 : +BN] = T(where(acc > 0.0, acc, acc - mx[:, None]));\n"
                          "}\n";

static tsr_context *new_context(tsr_device_kind kind)
{
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = kind;
    o.cache = TSR_CACHE_OFF;
    o.host_threads = 1;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    return ctx;
}

/* The program compiled: src, or a file with defines. */
static const char *file;
static tsr_define file_defs[8];
static int nfile_defs;

/* Compiles the program once with allocation `fail` failing (0: none);
 * returns the status and, in *used, how many allocations the compile made. */
static tsr_status compile_failing(tsr_context *ctx, long fail, long *used, tsr_module **m)
{
    count = 0;
    fail_at = fail;
    armed = 1;
    tsr_compile_options o;
    tsr_compile_options_init(&o);
    o.defines = file_defs;
    o.ndefines = nfile_defs;
    tsr_status s = file ? tsr_module_compile_file(ctx, file, &o, m) : tsr_module_compile(ctx, src, strlen(src), NULL, m);
    armed = 0;
    *used = count;
    return s;
}

/* Runs the compiled kernel on a 3 x 40 input and checks one element. */
static void runs(tsr_context *ctx, tsr_module *m)
{
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m, NULL, &k), TSR_OK);
    float x[3][40], s[3] = { 1, 2, 3 }, y[3][40];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 40; j++)
            x[i][j] = (float)(i + j);
    int64_t xs[2] = { 3, 40 }, ss[1] = { 3 };
    DLTensor tx = { x, { kDLCPU, 0 }, 2, { kDLFloat, 32, 1 }, xs, NULL, 0 }, ts = tx, ty = tx;
    ts.data = s;
    ts.ndim = 1;
    ts.shape = ss;
    ty.data = y;
    tsr_arg args[3] = { { &tx, 0 }, { &ts, 0 }, { &ty, 0 } };
    assert_int_equal(tsr_kernel_launch_args(k, args, 3, NULL), TSR_OK);
    assert_true(y[2][5] == 2.0f * 7.0f * 3.0f);
}

static void every_allocation_fails_once(tsr_device_kind kind, long max_tries)
{
    tsr_context *ctx = new_context(kind);
    tsr_module *m;
    long used;
    assert_int_equal(compile_failing(ctx, 0, &used, &m), TSR_OK);
    if (!file)
        runs(ctx, m);
    tsr_module_destroy(m);
    print_message("%s: a compile makes %ld allocations\n", tsr_context_device_name(ctx), used);
    assert_true(used > 10);
    /* Every allocation when there are few, else an even spread of them. */
    long step = used <= max_tries ? 1 : (used + max_tries - 1) / max_tries;
    long tried = 0;
    for (long n = 1; n <= used; n += step, tried++) {
        long before = nlive, made;
        tsr_status s = compile_failing(ctx, n, &made, &m);
        if (s != TSR_ERR_OUT_OF_MEMORY || m)
            fail_msg("allocation %ld of %ld failing: %s (%s)", n, used, tsr_status_name(s), tsr_context_error(ctx));
        assert_non_null(strstr(tsr_context_error(ctx), "memory"));
        if (nlive != before)
            fail_msg("allocation %ld of %ld failing: %ld blocks leaked", n, used, nlive - before);
    }
    print_message("%ld failing allocations tried\n", tried);
    assert_int_equal(compile_failing(ctx, 0, &used, &m), TSR_OK);
    if (!file)
        runs(ctx, m);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

static void frontend_and_passes(void **state)
{
    (void)state;
    every_allocation_fails_once(TSR_DEVICE_INTERP, 100000);
}

/* A launch on interp with allocation n of the interpreter's working memory
 * failing, for every n (two host threads, so a failure in one stops the
 * other): TSR_ERR_OUT_OF_MEMORY with a message, nothing leaked, and the next
 * launch gives the right result. */
static void interpreter_launch(void **state)
{
    (void)state;
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_INTERP;
    o.host_threads = 2;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    tsr_module *m;
    long used;
    assert_int_equal(compile_failing(ctx, 0, &used, &m), TSR_OK);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m, NULL, &k), TSR_OK);
    float x[3][40], sc[3] = { 1, 2, 3 }, y[3][40];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 40; j++)
            x[i][j] = (float)(i + j);
    int64_t xs[2] = { 3, 40 }, ss[1] = { 3 };
    DLTensor tx = { x, { kDLCPU, 0 }, 2, { kDLFloat, 32, 1 }, xs, NULL, 0 }, ts = tx, ty = tx;
    ts.data = sc;
    ts.ndim = 1;
    ts.shape = ss;
    ty.data = y;
    tsr_arg args[3] = { { &tx, 0 }, { &ts, 0 }, { &ty, 0 } };
    count = 0;
    fail_at = 0;
    armed = 1;
    assert_int_equal(tsr_kernel_launch_args(k, args, 3, NULL), TSR_OK);
    armed = 0;
    long n_allocs = count;
    print_message("a launch on interp makes %ld allocations\n", n_allocs);
    assert_true(n_allocs > 5);
    for (long n = 1; n <= n_allocs; n++) {
        long before = nlive;
        count = 0;
        fail_at = n;
        armed = 1;
        tsr_status s = tsr_kernel_launch_args(k, args, 3, NULL);
        armed = 0;
        /* With two threads the allocations interleave: the n-th may come
         * after the last one a failed launch makes. */
        if (count >= n && (s != TSR_ERR_OUT_OF_MEMORY || !strstr(tsr_context_error(ctx), "memory")))
            fail_msg("allocation %ld of %ld failing: %s (%s)", n, n_allocs, tsr_status_name(s), tsr_context_error(ctx));
        if (nlive != before)
            fail_msg("allocation %ld of %ld failing: %ld blocks leaked", n, n_allocs, nlive - before);
    }
    memset(y, 0, sizeof y);
    assert_int_equal(tsr_kernel_launch_args(k, args, 3, NULL), TSR_OK);
    assert_true(y[2][5] == 2.0f * 7.0f * 3.0f);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

/* The flash-attention kernel: a big program, so many more arena chunks. */
static void attention(void **state)
{
    (void)state;
    file = "kernels/attention.tsr";
    file_defs[0] = (tsr_define){ "T", "f16" };
    file_defs[1] = (tsr_define){ "D", "64" };
    nfile_defs = 2;
    every_allocation_fails_once(TSR_DEVICE_INTERP, 100000);
    every_allocation_fails_once(TSR_DEVICE_EMU, 100000);
    file = NULL;
    nfile_defs = 0;
}

static void code_generation(void **state)
{
    (void)state;
    every_allocation_fails_once(TSR_DEVICE_EMU, 400);
}

int main(void)
{
    live = __real_calloc(SLOTS, sizeof *live);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frontend_and_passes),
        cmocka_unit_test(code_generation),
        cmocka_unit_test(attention),
        cmocka_unit_test(interpreter_launch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
