/* Differential testing with random programs (tests/diffgen/, issue 20), the
 * part CI runs: the regression programs of tests/programs/diffgen/ (each a
 * reduced finding, or a hand-written program in the same format), the
 * known bugs of tests/programs/diffgen/known/ (which must still fail as
 * their `//?` line says, so a fix is noticed and the program moves up to
 * the regressions), a fixed
 * seed of generated programs on every configuration (at most
 * TSR_DIFFGEN_SECONDS, default 50, and TSR_DIFFGEN_COUNT programs), and the
 * reducer on a stand-in failure. Longer campaigns: scripts/fuzz-diff.sh. */
#include "check.h"
#include "codegen.h"
#include "gen.h"
#include "reduce.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#define REGRESSION_DIR "tests/programs/diffgen"
#define KNOWN_DIR REGRESSION_DIR "/known"
#define CI_SEED 20261205

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The .tsr files of a directory, sorted; returns how many. */
static int list_programs(const char *dir, char **names, int max)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".tsr"))
            names[n++] = tsr_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    return n;
}

/* Runs one program file; text receives its contents. */
static CheckResult check_file(const char *dir, const char *name, char **text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    *text = tsr_read_file(path, &len);
    if (!*text)
        fail_msg("cannot read %s", path);
    return check_program(path, *text, 1);
}

static void regressions(void **state)
{
    (void)state;
    char *names[256];
    int n = list_programs(REGRESSION_DIR, names, 256);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        char *text;
        CheckResult r = check_file(REGRESSION_DIR, names[i], &text);
        print_message("%s: %s\n", names[i], verdict_names[r.v]);
        if (r.v != V_OK)
            fail_msg("%s/%s: %s: %s", REGRESSION_DIR, names[i], verdict_names[r.v], r.msg);
        free(text);
        free(names[i]);
    }
}

/* The verdict a known bug's `//? VERDICT llvm=A,B` line expects with the
 * LLVM linked: VERDICT where A or B is its major version, else ok. */
static Verdict expected_verdict(const char *text, const char *file)
{
    const char *line = strstr(text, "//? ");
    if (!line)
        fail_msg("%s: no //? line", file);
    char key[16], versions[64] = "";
    if (sscanf(line + 4, "%15s llvm=%63s", key, versions) < 1)
        fail_msg("%s: bad //? line", file);
    char llvm[32];
    codegen_llvm_version(llvm, sizeof llvm);
    int major = atoi(llvm);
    bool listed = !versions[0];
    for (char *v = versions; *v; v += strcspn(v, ",") + (v[strcspn(v, ",")] == ',')) 
        listed |= atoi(v) == major;
    for (int i = 0; i < V_COUNT; i++)
        if (!strcmp(key, verdict_keys[i]))
            return listed ? (Verdict)i : V_OK;
    fail_msg("%s: unknown verdict %s", file, key);
    return V_OK;
}

static void known_bugs(void **state)
{
    (void)state;
    char *names[256];
    int n = list_programs(KNOWN_DIR, names, 256);
    for (int i = 0; i < n; i++) {
        char *text;
        CheckResult r = check_file(KNOWN_DIR, names[i], &text);
        Verdict want = expected_verdict(text, names[i]);
        if (r.v != want)
            fail_msg("%s/%s: expected %s here, got %s%s%s%s", KNOWN_DIR, names[i], verdict_keys[want],
                     verdict_keys[r.v], r.msg[0] ? ": " : "", r.msg,
                     r.v == V_OK ? " (fixed? move it to " REGRESSION_DIR " and drop its //? line)" : "");
        if (want == V_OK)
            print_message("%s: ok here (the bug shows with other LLVM versions only)\n", names[i]);
        else
            print_message("KNOWN BUG %s: still %s: %.200s\n", names[i], verdict_keys[r.v], r.msg);
        free(text);
        free(names[i]);
    }
}

/* Generated programs from a fixed seed: each must agree everywhere (or hit
 * the documented limit on dots on the CUDA cores). */
static void fixed_seed(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    long count = test_env_long("TSR_DIFFGEN_COUNT", 12); /* ASan makes each run ~10 times slower */
#else
    long count = test_env_long("TSR_DIFFGEN_COUNT", 150);
#endif
    double end = test_seconds() + (double)test_env_long("TSR_DIFFGEN_SECONDS", 50);
    Rng seeds;
    rng_seed(&seeds, CI_SEED);
    long n = 0, rejected = 0;
    for (; n < count && test_seconds() < end; n++) {
        uint64_t seed = rng_u64(&seeds) >> 16;
        Program *p = gen_program(seed, NULL);
        char *text = prog_print(p);
        CheckResult r = check_program("generated.tsr", text, seed);
        rejected += r.v == V_REJECTED;
        if (r.v != V_OK && r.v != V_REJECTED)
            fail_msg("program %ld (seed %llu): %s: %s\n%s", n, (unsigned long long)seed, verdict_names[r.v], r.msg,
                     text);
        free(text);
        prog_free(p);
    }
    print_message("%ld generated programs agreed on every configuration (%ld rejected by documented limits)%s\n", n,
                  rejected, n < count ? "; stopped by TSR_DIFFGEN_SECONDS" : "");
    assert_true(n > 0);
}

/* Programs of seeds on which campaigns found a bug of the generator itself
 * (a bound its device_assert states wrongly): generated afresh, each must
 * agree everywhere. */
static void generator_findings(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed;
        const char *what;
    } finds[] = {
        { 254308975975081, "a difference of u32 values wraps below 0 (campaign run 12)" },
        { 109455802080366, "the same, converted to f16 (campaign run 12)" },
    };
    for (size_t i = 0; i < sizeof finds / sizeof finds[0]; i++) {
        Program *p = gen_program(finds[i].seed, NULL);
        char *text = prog_print(p);
        CheckResult r = check_program("generated.tsr", text, finds[i].seed);
        if (r.v != V_OK)
            fail_msg("seed %llu (%s): %s: %s\n%s", (unsigned long long)finds[i].seed, finds[i].what,
                     verdict_names[r.v], r.msg, text);
        free(text);
        prog_free(p);
    }
}

/* Generated fp8 GEMMs of a shape sm_90a's wgmma takes (dot_fp8_wgmma)
 * really get `wgmma ... m64nNk32.f32.<e4m3|e5m2>.<e4m3|e5m2>` in their
 * sm_90a PTX, not the f32 FMAs of other shapes: 8 warps and B N-major
 * (staged K-major), B K-major and A M-major (from registers) among them.
 * (The GEMM's sum is always stored; a dot in an expression may be dead.) */
static void fp8_dots_on_wgmma(void **state)
{
    (void)state;
    Rng seeds;
    rng_seed(&seeds, CI_SEED + 1);
    int found = 0, seen = 0;
    for (int n = 0; n < 20000 && (found < 6 || seen != 15); n++) {
        uint64_t seed = rng_u64(&seeds) >> 16, cov[FEAT_COUNT] = { 0 };
        Program *p = gen_program(seed, cov);
        char *text = prog_print(p);
        if (cov[FEAT_dot_fp8_wgmma] && (strstr(text, "XA: e4m3") || strstr(text, "XA: e5m2"))) {
            char *ptx = check_ptx(text, "sm_90a");
            const char *wg = ptx ? strstr(ptx, "wgmma.mma_async.sync.aligned.m64n") : NULL;
            const char *k32 = wg ? strstr(wg, "k32.f32.e") : NULL;
            if (!k32 || (strncmp(k32 + 8, "e4m3.e", 6) && strncmp(k32 + 8, "e5m2.e", 6)))
                fail_msg("seed %llu: no fp8 wgmma in the sm_90a PTX%s\n%s", (unsigned long long)seed,
                         ptx ? "" : " (does not compile)", text);
            free(ptx);
            seen |= (p->warps == 8) | !p->gemm_bt << 1 | p->gemm_bt << 2 | p->gemm_at << 3;
            found++;
        }
        free(text);
        prog_free(p);
    }
    print_message("%d fp8 GEMMs on wgmma\n", found);
    assert_true(found >= 6);
    assert_int_equal(seen, 15);
}

/* The reducer on a stand-in failure: "fails" while the program has a dot.
 * The result must still have one and be much smaller. */
static Verdict has_dot(const Program *p, void *ctx)
{
    (void)ctx;
    char *text = prog_print(p);
    bool dot = strstr(text, "dot(") != NULL;
    free(text);
    return dot ? V_MISMATCH : V_OK;
}

static void reducer_shrinks(void **state)
{
    (void)state;
    for (uint64_t seed = 1;; seed++) {
        Program *p = gen_program(seed, NULL);
        if (has_dot(p, NULL) != V_MISMATCH) {
            prog_free(p);
            continue;
        }
        char *before = prog_print(p);
        reduce_program(p, V_MISMATCH, has_dot, NULL, 30);
        char *after = prog_print(p);
        assert_int_equal(has_dot(p, NULL), V_MISMATCH);
        /* At most the two lets of m0 and n0 and one statement holding a
         * dot of zeros or loads. */
        int lines = 0;
        for (const char *s = strstr(after, "{\n"); s && *s; s++)
            lines += *s == '\n';
        if (lines > 8 || strlen(after) * 2 > strlen(before))
            fail_msg("reduced from\n%s\nonly to\n%s", before, after);
        free(before);
        free(after);
        prog_free(p);
        return;
    }
}

/* Every feature of the generator's list comes up within 3000 programs. */
static void every_feature_reached(void **state)
{
    (void)state;
    uint64_t programs[FEAT_COUNT] = { 0 };
    for (uint64_t seed = 1; seed <= 3000; seed++) {
        uint64_t cov[FEAT_COUNT] = { 0 };
        prog_free(gen_program(seed, cov));
        for (int i = 0; i < FEAT_COUNT; i++)
            programs[i] += cov[i] > 0;
    }
    for (int i = 0; i < FEAT_COUNT; i++)
        if (!programs[i])
            fail_msg("no program of seeds 1 ... 3000 has %s (%s)", gen_feature_names[i], gen_feature_what[i]);
}

static bool is_feature(const char *name)
{
    for (int i = 0; i < FEAT_COUNT; i++)
        if (!strcmp(gen_feature_names[i], name))
            return true;
    return false;
}

/* Whether some feature is named PREFIX + name (+ anything). */
static bool has_feature_for(const char *prefix, const char *name, size_t len)
{
    char want[64];
    snprintf(want, sizeof want, "%s%.*s", prefix, (int)len, name);
    for (int i = 0; i < FEAT_COUNT; i++)
        if (!strncmp(gen_feature_names[i], want, strlen(want)))
            return true;
    return false;
}

/* The text of the manual's section from the line starting with `from` to
 * the next line starting with `to` (malloc'd). */
static char *manual_section(const char *from, const char *to)
{
    size_t len;
    char *text = tsr_read_file("dsl/README.md", &len);
    if (!text)
        fail_msg("cannot read dsl/README.md");
    char *a = strstr(text, from), *b = a ? strstr(a + 1, to) : NULL;
    if (!a || !b)
        fail_msg("dsl/README.md: no section %s ... %s", from, to);
    *b = 0;
    char *s = tsr_xstrdup(a);
    free(text);
    return s;
}

/* Every built-in of the manual's table (section 9: `name(` or `name<` in a
 * row's first cell), statement keyword (section 6) and dtype (4.1) has a
 * feature the generator counts (fn_ or st_ or cast_ NAME..., st_ KEYWORD,
 * dt_ DTYPE): a built-in added to the manual without the generator fails
 * here. */
static void manual_names_generated(void **state)
{
    (void)state;
    struct {
        const char *from, *to, *prefixes[3];
    } parts[] = {
        { "## 9 Built-in functions", "### 9.1", { "fn_", "st_", "cast_" } },
        { "## 6 Statements", "An expression alone", { "st_", NULL, NULL } },
        { "### 4.1 Dtypes", "### 4.2", { "dt_", NULL, NULL } },
    };
    int names = 0;
    for (size_t p = 0; p < TSR_ARRAY_LEN(parts); p++) {
        char *sec = manual_section(parts[p].from, parts[p].to);
        for (char *line = strstr(sec, "\n| `"); line; line = strstr(line + 1, "\n| `")) {
            size_t cell = strcspn(line + 3, "|");
            for (char *c = line + 3; c < line + 3 + cell; c++) {
                if (c[-1] != '`' && c[-1] != ' ' && c[-1] != '(')
                    continue;
                size_t n = 0;
                while ((c[n] >= 'a' && c[n] <= 'z') || (c[n] >= '0' && c[n] <= '9') || c[n] == '_')
                    n++;
                bool word = n && (p == 0 ? (c[n] == '(' || c[n] == '<') : p == 1 ? c == line + 4 : c[n] == '`');
                if (!word || (p == 1 && !strchr("lvfwbcri", c[0])))
                    continue;
                bool found = false;
                for (int k = 0; k < 3 && parts[p].prefixes[k]; k++)
                    found |= has_feature_for(parts[p].prefixes[k], c, n);
                if (!found)
                    fail_msg("dsl/README.md names `%.*s` (%s), which the generator never writes", (int)n, c,
                             parts[p].from);
                names++;
                c += n;
            }
        }
        free(sec);
    }
    /* masked stores: a row of the statements' table without a keyword */
    assert_true(is_feature("st_store_masked"));
    print_message("%d names of the manual, each generated\n", names);
    assert_true(names > 60);
}

/* The coverage table of tests/README.md names the generator's features,
 * all and in order (`fuzz-diff --coverage-table` prints it). */
static void coverage_table_current(void **state)
{
    (void)state;
    size_t len;
    char *text = tsr_read_file("tests/README.md", &len);
    assert_non_null(text);
    const char *line = strstr(text, "| feature (gen.h name) |");
    if (!line)
        fail_msg("tests/README.md: no coverage table");
    int i = 0;
    for (; line && line[0] == '|'; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, "| `", 3))
            continue; /* the header, a section's title */
        size_t n = strcspn(line + 3, "`");
        if (i == FEAT_COUNT || strncmp(line + 3, gen_feature_names[i], n) || gen_feature_names[i][n])
            fail_msg("tests/README.md's coverage table, feature row %d: `%.*s`, the generator's list has %s "
                     "(regenerate it: build/fuzz-diff 100 1 --count 10000 --coverage-table)",
                     i + 1, (int)n, line + 3, i < FEAT_COUNT ? gen_feature_names[i] : "no more");
        i++;
    }
    if (i != FEAT_COUNT)
        fail_msg("tests/README.md's coverage table has %d feature rows, the generator %d features", i, FEAT_COUNT);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_feature_reached),
        cmocka_unit_test(manual_names_generated),
        cmocka_unit_test(coverage_table_current),
        cmocka_unit_test(regressions),
        cmocka_unit_test(known_bugs),
        cmocka_unit_test(reducer_shrinks),
        cmocka_unit_test(fixed_seed),
        cmocka_unit_test(generator_findings),
        cmocka_unit_test(fp8_dots_on_wgmma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
