/* Running out of memory while compiling (issue 17): tsr_module_compile with
 * the n-th allocation failing, for every n, returns TSR_ERR_OUT_OF_MEMORY
 * with a message, leaks nothing, and the context compiles and runs the same
 * kernel afterwards (a small kernel and flash attention); likewise every
 * allocation of the interpreter's working memory during a launch, of a
 * launch refused by validation (its message), and of compiles through the
 * JIT cache (reading and writing entries). On interp that covers the frontend and the TIR passes,
 * on emu code generation too (layouts, the emitter, PTX text; LLVM's own
 * allocations are not Tessera's and are not covered: support/oom.h).
 *
 * The failures are injected under the library by tests/oom/track.c (the
 * test is linked with --wrap for the allocation functions), which also
 * counts the blocks not freed. */
#define _POSIX_C_SOURCE 200809L
#include "tessera.h"
#include "oom/track.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

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
    oom_track_arm(fail);
    tsr_compile_options o;
    tsr_compile_options_init(&o);
    o.defines = file_defs;
    o.ndefines = nfile_defs;
    tsr_status s = file ? tsr_module_compile_file(ctx, file, &o, m) : tsr_module_compile(ctx, src, strlen(src), NULL, m);
    *used = oom_track_disarm();
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
        long before = oom_track_live(), made;
        tsr_status s = compile_failing(ctx, n, &made, &m);
        if (s != TSR_ERR_OUT_OF_MEMORY || m)
            fail_msg("allocation %ld of %ld failing: %s (%s)", n, used, tsr_status_name(s), tsr_context_error(ctx));
        assert_non_null(strstr(tsr_context_error(ctx), "memory"));
        if (oom_track_live() != before)
            fail_msg("allocation %ld of %ld failing: %ld blocks leaked", n, used, oom_track_live() - before);
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

/* A launch refused by validation (S has the wrong length: its message
 * names the parameter and the dim) with allocation n failing, for every n,
 * on interp and emu: the refusal or TSR_ERR_OUT_OF_MEMORY, never an abort
 * (the messages were built in strings that ended the process when they
 * could not grow), nothing leaked. */
static void refused_launch(void **state)
{
    (void)state;
    static const tsr_device_kind kinds[] = { TSR_DEVICE_INTERP, TSR_DEVICE_EMU };
    for (int d = 0; d < 2; d++) {
        tsr_context *ctx = new_context(kinds[d]);
        tsr_module *m;
        long used;
        assert_int_equal(compile_failing(ctx, 0, &used, &m), TSR_OK);
        tsr_kernel *k;
        assert_int_equal(tsr_module_get_kernel(m, NULL, &k), TSR_OK);
        float x[3][40] = { { 0 } }, s[4] = { 0 }, y[3][40];
        int64_t xs[2] = { 3, 40 }, ss[1] = { 4 };
        DLTensor tx = { x, { kDLCPU, 0 }, 2, { kDLFloat, 32, 1 }, xs, NULL, 0 }, ts = tx, ty = tx;
        ts.data = s;
        ts.ndim = 1;
        ts.shape = ss;
        ty.data = y;
        tsr_arg args[3] = { { &tx, 0 }, { &ts, 0 }, { &ty, 0 } };
        oom_track_arm(0);
        assert_int_equal(tsr_kernel_launch_args(k, args, 3, NULL), TSR_ERR_LAUNCH);
        long n_allocs = oom_track_disarm();
        assert_non_null(strstr(tsr_context_error(ctx), "'S'"));
        for (long n = 1; n <= n_allocs; n++) {
            long before = oom_track_live();
            oom_track_arm(n);
            tsr_status st = tsr_kernel_launch_args(k, args, 3, NULL);
            oom_track_disarm();
            if (st != TSR_ERR_LAUNCH && st != TSR_ERR_OUT_OF_MEMORY)
                fail_msg("allocation %ld of %ld failing: %s (%s)", n, n_allocs, tsr_status_name(st),
                         tsr_context_error(ctx));
            if (oom_track_live() != before)
                fail_msg("allocation %ld of %ld failing: %ld blocks leaked", n, n_allocs, oom_track_live() - before);
        }
        print_message("%s: a refused launch makes %ld allocations\n", tsr_context_device_name(ctx), n_allocs);
        tsr_module_destroy(m);
        tsr_context_destroy(ctx);
    }
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
    oom_track_arm(0);
    assert_int_equal(tsr_kernel_launch_args(k, args, 3, NULL), TSR_OK);
    long n_allocs = oom_track_disarm();
    print_message("a launch on interp makes %ld allocations\n", n_allocs);
    assert_true(n_allocs > 5);
    for (long n = 1; n <= n_allocs; n++) {
        long before = oom_track_live();
        oom_track_arm(n);
        tsr_status s = tsr_kernel_launch_args(k, args, 3, NULL);
        long count = oom_track_disarm();
        /* With two threads the allocations interleave: the n-th may come
         * after the last one a failed launch makes. */
        if (count >= n && (s != TSR_ERR_OUT_OF_MEMORY || !strstr(tsr_context_error(ctx), "memory")))
            fail_msg("allocation %ld of %ld failing: %s (%s)", n, n_allocs, tsr_status_name(s), tsr_context_error(ctx));
        if (oom_track_live() != before)
            fail_msg("allocation %ld of %ld failing: %ld blocks leaked", n, n_allocs, oom_track_live() - before);
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

/* A program with errors compiled with allocation n failing, for every n:
 * its diagnostics (TSR_ERR_COMPILE) or TSR_ERR_OUT_OF_MEMORY, never an
 * abort, nothing leaked. */
static void compile_errors(void **state)
{
    (void)state;
    static const char bad[] = "kernel k(X: f32[N], Y: out f32[N]) grid (cdiv(N, 32)) {\n"
                              "    let i = program_id(0) * 32;\n"
                              "    Y[i : +32] = X[i : +32] * undefined_name + 1.0 +;\n"
                              "}\n";
    tsr_context *ctx = new_context(TSR_DEVICE_EMU);
    tsr_module *m;
    oom_track_arm(0);
    assert_int_equal(tsr_module_compile(ctx, bad, strlen(bad), NULL, &m), TSR_ERR_COMPILE);
    long used = oom_track_disarm();
    assert_non_null(strstr(tsr_context_error(ctx), "<string>:3:"));
    for (long n = 1; n <= used; n++) {
        long before = oom_track_live();
        oom_track_arm(n);
        tsr_status s = tsr_module_compile(ctx, bad, strlen(bad), NULL, &m);
        oom_track_disarm();
        if ((s != TSR_ERR_COMPILE && s != TSR_ERR_OUT_OF_MEMORY) || m)
            fail_msg("allocation %ld of %ld failing: %s (%s)", n, used, tsr_status_name(s), tsr_context_error(ctx));
        if (oom_track_live() != before)
            fail_msg("allocation %ld of %ld failing: %ld blocks leaked", n, used, oom_track_live() - before);
    }
    print_message("a compile with errors makes %ld allocations\n", used);
    tsr_context_destroy(ctx);
}

/* Compiles on emu through the JIT cache with allocation n failing: writing
 * an entry (an empty cache, a spread of n) and reading one (a warm cache,
 * every n). Each gives the module (a cache that cannot be read or written is
 * not an error) or TSR_ERR_OUT_OF_MEMORY, never an abort, and leaks
 * nothing. */
static void jit_cache(void **state)
{
    (void)state;
    char dir[] = "/tmp/tsr_oom_cache_XXXXXX", cmd[128];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "rm -f %s/*.tsrjit", dir);
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_EMU;
    o.cache = TSR_CACHE_ON;
    o.cache_dir = dir;
    o.host_threads = 1;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    for (int warm = 0; warm < 2; warm++) {
        tsr_module *m;
        long used;
        assert_int_equal(system(cmd), 0);
        assert_int_equal(compile_failing(ctx, 0, &used, &m), TSR_OK); /* writes the entry */
        tsr_module_destroy(m);
        if (!warm)
            assert_int_equal(system(cmd), 0);
        assert_int_equal(compile_failing(ctx, 0, &used, &m), TSR_OK);
        tsr_module_destroy(m);
        long step = warm || used <= 300 ? 1 : used / 300;
        for (long n = 1; n <= used; n += step) {
            if (!warm)
                assert_int_equal(system(cmd), 0);
            long before = oom_track_live(), made;
            tsr_status s = compile_failing(ctx, n, &made, &m);
            if (s != TSR_OK && s != TSR_ERR_OUT_OF_MEMORY)
                fail_msg("%s cache, allocation %ld of %ld failing: %s (%s)", warm ? "warm" : "cold", n, used,
                         tsr_status_name(s), tsr_context_error(ctx));
            if (s == TSR_OK)
                runs(ctx, m);
            tsr_module_destroy(m);
            if (oom_track_live() != before)
                fail_msg("%s cache, allocation %ld of %ld failing: %ld blocks leaked", warm ? "warm" : "cold", n, used,
                         oom_track_live() - before);
        }
        print_message("%s cache: a compile makes %ld allocations\n", warm ? "warm" : "cold", used);
    }
    tsr_context_destroy(ctx);
    assert_int_equal(system(cmd), 0);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frontend_and_passes),
        cmocka_unit_test(code_generation),
        cmocka_unit_test(attention),
        cmocka_unit_test(interpreter_launch),
        cmocka_unit_test(refused_launch),
        cmocka_unit_test(jit_cache),
        cmocka_unit_test(compile_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
