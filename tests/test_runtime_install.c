/* Packaging: scripts/install.sh (make install) puts the header, the static
 * and shared libraries, the CLI, tessera.pc and tessera-static.pc under a
 * prefix; the example C program examples/embed.c builds against that
 * installation with `pkg-config --cflags --libs tessera` alone, and runs: it
 * compiles a DSL string, runs it on the best device there is and checks the
 * result. Built with tessera-static, or with `pkg-config --static` of
 * tessera, it links libtessera.a (no libtessera.so needed), even beside a
 * program that defines sha256_init and diag_init of its own: the archive
 * exports only tsr_* symbols. The .pc files name the folder of
 * dlpack/dlpack.h. */
#define _POSIX_C_SOURCE 200809L
#include "rt_suite.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* A sanitized build's library needs a sanitized program. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZE_FLAGS "-fsanitize=address,undefined"
#else
#define SANITIZE_FLAGS ""
#endif

static char *prefix;

static const char *build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

/* Runs a shell command; its output goes to `log`, shown on failure. */
static void run(const char *cmd, const char *log)
{
    char full[16384];
    snprintf(full, sizeof full, "(%s) > '%s' 2>&1", cmd, log);
    int rc = system(full);
    if (rc != 0) {
        size_t n;
        char *out = tsr_read_file(log, &n);
        fail_msg("command failed (%d): %s\n%s", rc, cmd, out ? out : "");
    }
}

static char *read_all(const char *path)
{
    size_t n;
    char *s = tsr_read_file(path, &n);
    if (!s)
        fail_msg("cannot read %s", path);
    return s;
}

static void installs_files(void **state)
{
    (void)state;
    char cmd[8192], log[4200];
    snprintf(log, sizeof log, "%s/install.log", prefix);
    snprintf(cmd, sizeof cmd, "sh scripts/install.sh '%s' '%s'", prefix, build_dir());
    run(cmd, log);
    static const char *const files[] = { "include/tessera.h",
                                         "lib/libtessera.a",
                                         "lib/libtessera.so",
                                         "lib/libtessera.so." TESSERA_VERSION_STRING,
                                         "bin/tessera",
                                         "lib/pkgconfig/tessera.pc",
                                         "lib/pkgconfig/tessera-shared.pc",
                                         "lib/pkgconfig/tessera-static.pc" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", prefix, files[i]);
        if (access(path, R_OK) != 0)
            fail_msg("%s was not installed", path);
    }
    /* libtessera.so -> its SONAME (major.minor) -> the real file, and the
     * library names that SONAME, so programs record it, not the dev link. */
    char link[4300], target[256];
    snprintf(link, sizeof link, "%s/lib/libtessera.so", prefix);
    ssize_t n = readlink(link, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = 0;
    char soname[64];
    snprintf(soname, sizeof soname, "libtessera.so.%d.%d", TESSERA_VERSION_MAJOR, TESSERA_VERSION_MINOR);
    assert_string_equal(target, soname);
    snprintf(link, sizeof link, "%s/lib/%s", prefix, soname);
    n = readlink(link, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = 0;
    assert_string_equal(target, "libtessera.so." TESSERA_VERSION_STRING);
    size_t lib_len;
    char *lib = tsr_read_file(link, &lib_len);
    assert_non_null(lib);
    assert_non_null(memmem(lib, lib_len, soname, strlen(soname) + 1)); /* in .dynstr, NUL-terminated */
    free(lib);
    char pc[4300];
    snprintf(pc, sizeof pc, "%s/lib/pkgconfig/tessera.pc", prefix);
    char *text = read_all(pc);
    char want[4300];
    snprintf(want, sizeof want, "prefix=%s\n", prefix);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "Version: " TESSERA_VERSION_STRING "\n"));
    free(text);
    /* The installed CLI runs. */
    char out[4300];
    snprintf(out, sizeof out, "%s/version.out", prefix);
    snprintf(cmd, sizeof cmd, "'%s/bin/tessera' --version", prefix);
    run(cmd, out);
    text = read_all(out);
    assert_string_equal(text, "tessera " TESSERA_VERSION_STRING "\n");
    free(text);
    /* DESTDIR stages the files without changing the paths they name. */
    snprintf(cmd, sizeof cmd, "DESTDIR='%s/stage' sh scripts/install.sh /opt/tsr '%s'", prefix, build_dir());
    run(cmd, log);
    snprintf(pc, sizeof pc, "%s/stage/opt/tsr/lib/pkgconfig/tessera.pc", prefix);
    text = read_all(pc);
    assert_non_null(strstr(text, "prefix=/opt/tsr\n"));
    free(text);
}

static void example_builds_with_pkg_config(void **state)
{
    (void)state;
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    char env[4300], cmd[16384], log[4300];
    snprintf(env, sizeof env, "PKG_CONFIG_PATH='%s/lib/pkgconfig'", prefix);
    snprintf(log, sizeof log, "%s/pkg-config.out", prefix);
    snprintf(cmd, sizeof cmd, "%s pkg-config --cflags --libs tessera", env);
    run(cmd, log);
    char *flags = read_all(log), want[4300];
    snprintf(want, sizeof want, "-I%s/include", prefix);
    assert_non_null(strstr(flags, want));
    assert_non_null(strstr(flags, "-ltessera"));
    free(flags);
    snprintf(log, sizeof log, "%s/cc.log", prefix);
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -Wall -Wextra -Werror %s examples/embed.c $(%s pkg-config --cflags --libs tessera) -lm -o "
             "'%s/embed'",
             cc, SANITIZE_FLAGS, env, prefix);
    run(cmd, log);
    snprintf(log, sizeof log, "%s/embed.out", prefix);
    snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH='%s/lib' TESSERA_CACHE_DIR='%s/cache' '%s/embed'", prefix, prefix, prefix);
    run(cmd, log);
    char *out = read_all(log);
    if (!strstr(out, "device: ") || !strstr(out, "\nok\n"))
        fail_msg("embed printed:\n%s", out);
    printf("%s", out);
    free(out);
}

/* How many global symbols `nm ARGS FILE` lists, and how many of them do not
 * start with tsr_ (the linker's own _edata, _end and __bss_start aside). */
static void count_exports(const char *args, const char *file, int *symbols, int *foreign)
{
    char cmd[8192], log[4300];
    snprintf(log, sizeof log, "%s/nm.out", prefix);
    snprintf(cmd, sizeof cmd, "nm %s -P '%s/lib/%s'", args, prefix, file);
    run(cmd, log);
    char *out = read_all(log);
    *symbols = *foreign = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (strchr(line, ':') || !*line) /* "libtessera.a[member.o]:" */
            continue;
        if (!strncmp(line, "_edata ", 7) || !strncmp(line, "_end ", 5) || !strncmp(line, "__bss_start ", 12))
            continue;
        ++*symbols;
        if (strncmp(line, "tsr_", 4) != 0 && ++*foreign <= 5)
            printf("%s exports without the tsr_ prefix: %s\n", file, line);
    }
    free(out);
    printf("%s exports %d symbols\n", file, *symbols);
}

/* The installed archive's global symbols are the public API: as many as
 * the shared library exports, all tsr_ (internal tsr_ helpers such as
 * tsr_xmalloc were exported too). */
static void archive_exports_only_tsr(void **state)
{
    (void)state;
    int symbols, foreign;
    count_exports("-g --defined-only", "libtessera.a", &symbols, &foreign);
    assert_true(symbols > 20);
    assert_int_equal(foreign, 0);
    int shared;
    count_exports("-D --defined-only", "libtessera.so", &shared, &foreign);
    assert_int_equal(shared, symbols);
    assert_int_equal(foreign, 0);
}

/* examples/embed.c linked statically through tessera-static.pc, together
 * with functions named like Tessera's internal ones. */
static void static_link_with_clashing_names(void **state)
{
    (void)state;
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    char env[4300], cmd[16384], log[4300], clash[4300];
    snprintf(env, sizeof env, "PKG_CONFIG_PATH='%s/lib/pkgconfig'", prefix);
    snprintf(clash, sizeof clash, "%s/clash.c", prefix);
    FILE *f = fopen(clash, "w");
    assert_non_null(f);
    fputs("/* An application's own functions, named like Tessera's internal ones. */\n"
          "int sha256_init(int x) { return x + 1; }\n"
          "int diag_init(int x) { return x + 2; }\n"
          "int sb_printf(int x) { return x + 3; }\n"
          "int tsr_xmalloc(int x) { return x + 4; } /* tsr_, but not the public API */\n",
          f);
    fclose(f);
    snprintf(log, sizeof log, "%s/pc.out", prefix);
    snprintf(cmd, sizeof cmd, "%s pkg-config --cflags --keep-system-cflags tessera tessera-static", env);
    run(cmd, log);
    char *flags = read_all(log);
    if (!strstr(flags, "-I/usr/include")) /* where Debian's libdlpack-dev puts dlpack/dlpack.h */
        fail_msg("no dlpack folder in: %s", flags);
    free(flags);
    snprintf(log, sizeof log, "%s/cc-static.log", prefix);
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -Wall -Wextra -Werror %s examples/embed.c '%s' $(%s pkg-config --cflags --libs "
             "tessera-static) -lm -o '%s/embed-static'",
             cc, SANITIZE_FLAGS, clash, env, prefix);
    run(cmd, log);
    snprintf(log, sizeof log, "%s/readelf.out", prefix);
    snprintf(cmd, sizeof cmd, "readelf -d '%s/embed-static'", prefix);
    run(cmd, log);
    char *dyn = read_all(log);
    if (strstr(dyn, "libtessera.so"))
        fail_msg("the static build needs libtessera.so:\n%s", dyn);
    free(dyn);
    snprintf(log, sizeof log, "%s/embed-static.out", prefix);
    snprintf(cmd, sizeof cmd, "TESSERA_CACHE_DIR='%s/cache' '%s/embed-static'", prefix, prefix);
    run(cmd, log);
    char *out = read_all(log);
    if (!strstr(out, "\nok\n"))
        fail_msg("embed-static printed:\n%s", out);
    free(out);
}

/* `pkg-config --static --libs tessera` links the archive: the program
 * records no libtessera.so (and runs without it), while the plain
 * `pkg-config --libs tessera` links the shared library. */
static void tessera_pc_static_and_shared(void **state)
{
    (void)state;
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    char env[4300], cmd[16384], log[4300];
    snprintf(env, sizeof env, "PKG_CONFIG_PATH='%s/lib/pkgconfig'", prefix);
    static const char *const modes[] = { "--static", "" };
    for (int i = 0; i < 2; i++) {
        snprintf(log, sizeof log, "%s/cc-pc%d.log", prefix, i);
        snprintf(cmd, sizeof cmd,
                 "%s -std=c11 -Wall -Wextra -Werror %s examples/embed.c $(%s pkg-config %s --cflags --libs tessera) "
                 "-lm -o '%s/embed-pc%d'",
                 cc, SANITIZE_FLAGS, env, modes[i], prefix, i);
        run(cmd, log);
        snprintf(log, sizeof log, "%s/readelf-pc%d.out", prefix, i);
        snprintf(cmd, sizeof cmd, "readelf -d '%s/embed-pc%d'", prefix, i);
        run(cmd, log);
        char *dyn = read_all(log);
        bool shared = strstr(dyn, "libtessera.so") != NULL;
        if (shared != (i == 1))
            fail_msg("pkg-config %s --libs tessera: the program %s libtessera.so:\n%s", modes[i],
                     shared ? "needs" : "does not need", dyn);
        free(dyn);
    }
    /* The static one runs with no libtessera.so to be found. */
    snprintf(log, sizeof log, "%s/embed-pc0.out", prefix);
    snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH=/nonexistent TESSERA_CACHE_DIR='%s/cache' '%s/embed-pc0'", prefix,
             prefix);
    run(cmd, log);
    char *out = read_all(log);
    if (!strstr(out, "\nok\n"))
        fail_msg("embed (pkg-config --static) printed:\n%s", out);
    free(out);
}

int main(void)
{
    suite_default_cache_dir();
    prefix = make_temp_dir("tsr-install");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(installs_files),
        cmocka_unit_test(example_builds_with_pkg_config),
        cmocka_unit_test(archive_exports_only_tsr),
        cmocka_unit_test(static_link_with_clashing_names),
        cmocka_unit_test(tessera_pc_static_and_shared),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_rf(prefix);
    free(prefix);
    return rc;
}
