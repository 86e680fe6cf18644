/* The JIT cache on disk (runtime/jitcache.c) through the public API: misses
 * then hits, keys that change with everything that changes the PTX,
 * damaged entries detected and rebuilt, the cache turned off, where the
 * directory comes from, unwritable directories, processes writing one entry
 * at once; and the cold and warm compile-and-load times of attention. */
#define _POSIX_C_SOURCE 200809L
#include "attention_config.h"
#include "rt_suite.h"
#include "target.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static const char src[] = "kernel copy<B: int = 64>(X: f32[N], Y: out f32[N]) grid (cdiv(N, B)) {\n"
                          "    let i = program_id(0) * B;\n"
                          "    Y[i : +B] = X[i : +B] + 1.0;\n"
                          "}\n";

static tsr_context *context_in(const char *dir, tsr_device_kind kind, tsr_cache_mode mode)
{
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = kind;
    o.cache = mode;
    o.cache_dir = dir;
    tsr_context *ctx;
    if (tsr_context_create(&o, &ctx) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    return ctx;
}

static tsr_cache_stats compile_stats(tsr_context *ctx, const char *text, const tsr_compile_options *co)
{
    tsr_module *m;
    if (tsr_module_compile(ctx, text, strlen(text), co, &m) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    tsr_module_destroy(m);
    tsr_cache_stats s;
    tsr_context_cache_stats(ctx, &s);
    return s;
}

/* The entries of a cache directory: how many, the path of the last, and
 * how many other files (temporaries) lie there. */
static int entries(const char *dir, char *path, size_t n, int *others)
{
    DIR *d = opendir(dir);
    int count = 0;
    *others = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (len == 64 + 7 && !strcmp(e->d_name + 64, ".tsrjit")) {
            count++;
            snprintf(path, n, "%s/%s", dir, e->d_name);
        } else {
            (*others)++;
        }
    }
    closedir(d);
    return count;
}

static void miss_then_hit(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tsr-cache");
    tsr_context *a = context_in(dir, TSR_DEVICE_EMU, TSR_CACHE_DEFAULT);
    assert_string_equal(tsr_context_cache_dir(a), dir);
    tsr_cache_stats s = compile_stats(a, src, NULL);
    assert_true(s.misses == 1 && s.hits == 0 && s.writes == 1 && s.corrupt == 0 && s.write_errors == 0);
    char path[4096];
    int others;
    assert_int_equal(entries(dir, path, sizeof path, &others), 1);
    assert_int_equal(others, 0);
    /* Another context (as another process would) reads it back. */
    tsr_context *b = context_in(dir, TSR_DEVICE_EMU, TSR_CACHE_DEFAULT);
    s = compile_stats(b, src, NULL);
    assert_true(s.misses == 0 && s.hits == 1 && s.writes == 0);
    tsr_module *ma, *mb;
    assert_int_equal(tsr_module_compile(a, src, strlen(src), NULL, &ma), TSR_OK);
    assert_int_equal(tsr_module_compile(b, src, strlen(src), NULL, &mb), TSR_OK);
    assert_string_equal(tsr_module_ir(ma, NULL, TSR_IR_PTX), tsr_module_ir(mb, NULL, TSR_IR_PTX));
    /* A kernel read from the cache runs like a generated one. */
    tsr_kernel *k;
    tsr_module_get_kernel(mb, NULL, &k);
    float x[100], y[100];
    for (int i = 0; i < 100; i++)
        x[i] = (float)i;
    int64_t n = 100;
    DLTensor tx = { x, { kDLCPU, 0 }, 1, { kDLFloat, 32, 1 }, &n, NULL, 0 }, ty = tx;
    ty.data = y;
    tsr_kernel_set_tensor(k, 0, &tx);
    tsr_kernel_set_tensor(k, 1, &ty);
    assert_int_equal(tsr_kernel_launch(k, NULL), TSR_OK);
    for (int i = 0; i < 100; i++)
        assert_true(y[i] == (float)i + 1);
    tsr_context_destroy(a);
    tsr_context_destroy(b);
    rm_rf(dir);
    free(dir);
}

/* The key covers the source, the defines, the target and the variant. */
static void key_changes(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tsr-cache");
    tsr_context *ctx = context_in(dir, TSR_DEVICE_EMU, TSR_CACHE_ON);
    tsr_cache_stats s = compile_stats(ctx, src, NULL);
    assert_int_equal(s.misses, 1);
    tsr_define d = { "B", "128" };
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = &d;
    co.ndefines = 1;
    s = compile_stats(ctx, src, &co);
    assert_int_equal(s.misses, 2);
    d.value = "64"; /* the default, given explicitly: the same specialization */
    s = compile_stats(ctx, src, &co);
    assert_true(s.misses == 2 && s.hits == 1);
    co.target = target_at(0) == target_default() ? target_at(1)->name : target_at(0)->name; /* another target */
    s = compile_stats(ctx, src, &co);
    assert_int_equal(s.misses, 3);
    co.target = NULL;
    char edited[sizeof src + 16];
    snprintf(edited, sizeof edited, "// edited\n%s", src);
    s = compile_stats(ctx, edited, &co);
    assert_int_equal(s.misses, 4);
    /* The source name is not part of it. */
    co.source_name = "elsewhere.tsr";
    s = compile_stats(ctx, src, &co);
    assert_true(s.misses == 4 && s.hits == 2);
    /* The interpreter needs no PTX: the cache is not touched. */
    tsr_context *interp = context_in(dir, TSR_DEVICE_INTERP, TSR_CACHE_ON);
    s = compile_stats(interp, src, NULL);
    assert_true(s.hits == 0 && s.misses == 0);
    tsr_context_destroy(interp);
    tsr_context_destroy(ctx);
    rm_rf(dir);
    free(dir);
}

static void damage(const char *path, int how)
{
    size_t len;
    char *data = tsr_read_file(path, &len);
    assert_non_null(data);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    switch (how) {
    case 0: fwrite(data, 1, len / 2, f); break; /* truncated */
    case 1:                                     /* one byte of the PTX changed */
        data[len - 10] ^= 0x20;
        fwrite(data, 1, len, f);
        break;
    case 2: fputs("garbage\n", f); break;
    case 3: break; /* empty */
    default: /* extra bytes */
        fwrite(data, 1, len, f);
        fputs("// more", f);
        break;
    }
    fclose(f);
    free(data);
}

static void corrupt_entries_rebuilt(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tsr-cache");
    tsr_context *ctx = context_in(dir, TSR_DEVICE_EMU, TSR_CACHE_ON);
    compile_stats(ctx, src, NULL);
    char path[4096];
    int others;
    assert_int_equal(entries(dir, path, sizeof path, &others), 1);
    for (int how = 0; how < 5; how++) {
        tsr_cache_stats before, s;
        tsr_context_cache_stats(ctx, &before);
        damage(path, how);
        s = compile_stats(ctx, src, NULL);
        if (s.corrupt != before.corrupt + 1 || s.misses != before.misses + 1 || s.writes != before.writes + 1)
            fail_msg("damage %d: corrupt %lu misses %lu writes %lu", how, (unsigned long)s.corrupt,
                     (unsigned long)s.misses, (unsigned long)s.writes);
        s = compile_stats(ctx, src, NULL); /* rebuilt: a hit again */
        assert_int_equal(s.hits, before.hits + 1);
    }
    assert_int_equal(entries(dir, path, sizeof path, &others), 1);
    assert_int_equal(others, 0);
    tsr_context_destroy(ctx);
    rm_rf(dir);
    free(dir);
}

static void cache_off(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tsr-cache");
    setenv("TESSERA_CACHE", "0", 1);
    tsr_context *ctx = context_in(dir, TSR_DEVICE_EMU, TSR_CACHE_DEFAULT);
    assert_null(tsr_context_cache_dir(ctx));
    tsr_cache_stats s = compile_stats(ctx, src, NULL);
    s = compile_stats(ctx, src, NULL);
    assert_true(s.misses == 2 && s.hits == 0 && s.writes == 0);
    tsr_context_destroy(ctx);
    char path[4096];
    int others;
    assert_int_equal(entries(dir, path, sizeof path, &others), 0);
    /* The option overrides the environment. */
    ctx = context_in(dir, TSR_DEVICE_EMU, TSR_CACHE_ON);
    assert_non_null(tsr_context_cache_dir(ctx));
    tsr_context_destroy(ctx);
    unsetenv("TESSERA_CACHE");
    ctx = context_in(dir, TSR_DEVICE_EMU, TSR_CACHE_OFF);
    assert_null(tsr_context_cache_dir(ctx));
    tsr_context_destroy(ctx);
    rm_rf(dir);
    free(dir);
}

static void directory_resolution(void **state)
{
    (void)state;
    char *saved = getenv("TESSERA_CACHE_DIR") ? strdup(getenv("TESSERA_CACHE_DIR")) : NULL;
    char *saved_xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("TESSERA_CACHE_DIR", "/tmp/tsr-a", 1);
    setenv("XDG_CACHE_HOME", "/tmp/tsr-xdg", 1);
    setenv("HOME", "/tmp/tsr-home", 1);
    tsr_context *ctx = context_in(NULL, TSR_DEVICE_INTERP, TSR_CACHE_ON);
    assert_string_equal(tsr_context_cache_dir(ctx), "/tmp/tsr-a");
    tsr_context_destroy(ctx);
    ctx = context_in("/tmp/tsr-option", TSR_DEVICE_INTERP, TSR_CACHE_ON);
    assert_string_equal(tsr_context_cache_dir(ctx), "/tmp/tsr-option");
    tsr_context_destroy(ctx);
    unsetenv("TESSERA_CACHE_DIR");
    ctx = context_in(NULL, TSR_DEVICE_INTERP, TSR_CACHE_ON);
    assert_string_equal(tsr_context_cache_dir(ctx), "/tmp/tsr-xdg/tessera");
    tsr_context_destroy(ctx);
    unsetenv("XDG_CACHE_HOME");
    ctx = context_in(NULL, TSR_DEVICE_INTERP, TSR_CACHE_ON);
    assert_string_equal(tsr_context_cache_dir(ctx), "/tmp/tsr-home/.cache/tessera");
    tsr_context_destroy(ctx);
    unsetenv("HOME");
    ctx = context_in(NULL, TSR_DEVICE_INTERP, TSR_CACHE_ON);
    assert_null(tsr_context_cache_dir(ctx)); /* nowhere to put it: off */
    tsr_context_destroy(ctx);
    if (saved)
        setenv("TESSERA_CACHE_DIR", saved, 1);
    if (saved_xdg)
        setenv("XDG_CACHE_HOME", saved_xdg, 1);
    if (saved_home)
        setenv("HOME", saved_home, 1);
    free(saved);
    free(saved_xdg);
    free(saved_home);
}

/* A directory that cannot be written is not an error: the PTX is made and
 * used, and the failure counted. */
static void unwritable_directory(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tsr-cache");
    char file[4200];
    snprintf(file, sizeof file, "%s/a-file", dir);
    FILE *f = fopen(file, "w");
    fclose(f);
    char below[4300];
    snprintf(below, sizeof below, "%s/sub", file); /* a "directory" inside a file */
    tsr_context *ctx = context_in(below, TSR_DEVICE_EMU, TSR_CACHE_ON);
    tsr_cache_stats s = compile_stats(ctx, src, NULL);
    assert_true(s.misses == 1 && s.writes == 0 && s.write_errors == 1);
    tsr_context_destroy(ctx);
    rm_rf(dir);
    free(dir);
}

/* Processes filling one empty cache at once: every one succeeds, one entry
 * remains, valid, with no temporary files left. */
static void concurrent_processes(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tsr-cache");
    enum { N = 6 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            tsr_context_options o;
            tsr_context_options_init(&o);
            o.device = TSR_DEVICE_EMU;
            o.cache = TSR_CACHE_ON;
            o.cache_dir = dir;
            tsr_context *ctx;
            tsr_module *m;
            int ok = 1;
            for (int round = 0; round < 3 && ok; round++) {
                ok = tsr_context_create(&o, &ctx) == TSR_OK &&
                     tsr_module_compile(ctx, src, strlen(src), NULL, &m) == TSR_OK;
                tsr_context_destroy(ctx);
            }
            _exit(ok ? 0 : 1);
        }
    }
    for (int i = 0; i < N; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    char path[4096];
    int others;
    assert_int_equal(entries(dir, path, sizeof path, &others), 1);
    assert_int_equal(others, 0);
    tsr_context *ctx = context_in(dir, TSR_DEVICE_EMU, TSR_CACHE_ON);
    tsr_cache_stats s = compile_stats(ctx, src, NULL);
    assert_true(s.hits == 1 && s.corrupt == 0);
    tsr_context_destroy(ctx);
    rm_rf(dir);
    free(dir);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Cold (empty cache) and warm compile-and-load of attention, D = 128, f16,
 * for the figures in runtime/README.md. */
static void attention_cold_and_warm(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tsr-cache");
    tsr_define defs[] = { { "T", "f16" }, { "D", "128" }, { "BM", "64" }, { "BN", "64" }, { "CAUSAL", "false" } };
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = defs;
    co.ndefines = 5;
    double t[2];
    for (int i = 0; i < 2; i++) {
        tsr_context *ctx = context_in(dir, TSR_DEVICE_EMU, TSR_CACHE_ON);
        tsr_module *m;
        double t0 = now();
        if (tsr_module_compile(ctx, tsr_attention_source, strlen(tsr_attention_source), &co, &m) != TSR_OK)
            fail_msg("%s", tsr_context_error(ctx));
        t[i] = now() - t0;
        tsr_cache_stats s;
        tsr_context_cache_stats(ctx, &s);
        assert_int_equal(i ? s.hits : s.misses, 1);
        tsr_context_destroy(ctx);
    }
    printf("attention f16 D=128 compile and load on emu: cold %.1f ms, warm %.1f ms\n", 1e3 * t[0], 1e3 * t[1]);
    assert_true(t[1] < t[0]);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(miss_then_hit),
        cmocka_unit_test(key_changes),
        cmocka_unit_test(corrupt_entries_rebuilt),
        cmocka_unit_test(cache_off),
        cmocka_unit_test(directory_resolution),
        cmocka_unit_test(unwritable_directory),
        cmocka_unit_test(concurrent_processes),
        cmocka_unit_test(attention_cold_and_warm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
