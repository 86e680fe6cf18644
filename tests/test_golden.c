/* Golden tests of the frontend.
 *
 * tests/golden/diag/NAME.tsr are invalid programs; NAME.err holds exactly what
 * the compiler must report for each (file:line:col: error: message, the source
 * line and a caret). tests/golden/emit/NAME.tsr are valid programs; NAME.tokens,
 * NAME.ast, NAME.tir and NAME.passes hold their dumps (`--emit tokens|ast|tir`
 * and `--dump-passes`). Options for a program come from lines at its top:
 *     //! -D NAME=VALUE --kernel NAME
 * The library entry points produce what is compared; the diagnostics are also
 * checked through the CLI (exit status 1, same stderr) when it is built.
 *
 * TSR_GOLDEN_UPDATE=1 (or `make golden-update`) rewrites the expected files
 * from the compiler's current output: review the diff before committing. */
#define _POSIX_C_SOURCE 200809L
#include "ast.h"
#include "testutil.h"

#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define DIAG_DIR "tests/golden/diag"
#define EMIT_DIR "tests/golden/emit"

enum { MAX_DEFS = 16 };

typedef struct {
    Define defs[MAX_DEFS];
    int ndefs;
    const char *kernel;
    char *storage; /* owns the strings above */
} Options;

static bool update_mode(void)
{
    const char *u = getenv("TSR_GOLDEN_UPDATE");
    return u && *u && strcmp(u, "0") != 0;
}

/* Reads the `//!` option lines at the top of a program. */
static void read_options(const char *text, Options *o)
{
    memset(o, 0, sizeof *o);
    StrBuf words;
    sb_init(&words);
    for (const char *line = text; strncmp(line, "//!", 3) == 0;) {
        const char *end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        sb_putn(&words, line + 3, (size_t)(end - line - 3));
        sb_putc(&words, ' ');
        line = *end ? end + 1 : end;
    }
    o->storage = sb_take(&words);
    char *save = NULL;
    for (char *w = strtok_r(o->storage, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (!strcmp(w, "-D")) {
            char *def = strtok_r(NULL, " ", &save);
            char *eq = def ? strchr(def, '=') : NULL;
            if (!eq || o->ndefs == MAX_DEFS)
                fail_msg("bad //! -D option");
            *eq = 0;
            o->defs[o->ndefs].name = def;
            o->defs[o->ndefs].value = eq + 1;
            o->ndefs++;
        } else if (!strcmp(w, "--kernel")) {
            o->kernel = strtok_r(NULL, " ", &save);
        } else {
            fail_msg("unknown //! option '%s'", w);
        }
    }
}

/* The names NAME of DIR/NAME.tsr, sorted. */
static int list_programs(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    char **names = NULL;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".tsr")) {
            names = tsr_xrealloc(names, sizeof(char *) * (size_t)(n + 1));
            names[n++] = strndup(e->d_name, len - 4);
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a few dozen names */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    *out = names;
    return n;
}

static char *read_or_empty(const char *path)
{
    char *text = tsr_read_file(path, NULL);
    return text ? text : tsr_xstrdup("");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s", path);
}

/* Compares actual output with the expected file (or rewrites it). Returns
 * false, after printing where they differ, on a mismatch. */
static bool check_golden(const char *path, const char *actual)
{
    if (update_mode()) {
        char *old = read_or_empty(path);
        if (strcmp(old, actual) != 0) {
            write_file(path, actual);
            printf("updated %s\n", path);
        }
        free(old);
        return true;
    }
    char *expected = tsr_read_file(path, NULL);
    if (!expected) {
        printf("missing %s (run `make golden-update`)\n", path);
        return false;
    }
    bool same = strcmp(expected, actual) == 0;
    if (!same) {
        int line = 1;
        const char *e = expected, *a = actual;
        while (*e && *e == *a) {
            if (*e == '\n')
                line++;
            e++;
            a++;
        }
        const char *el = e, *al = a;
        while (el > expected && el[-1] != '\n')
            el--;
        while (al > actual && al[-1] != '\n')
            al--;
        printf("%s differs at line %d:\n  expected: %.*s\n  actual:   %.*s\n", path, line, (int)strcspn(el, "\n"),
               el, (int)strcspn(al, "\n"), al);
    }
    free(expected);
    return same;
}

/* ------------------------------------------------------------ diagnostics */

/* The diagnostics of one invalid program, from the library. */
static char *diagnose(const char *name, const char *text, size_t len, const Options *o, bool *compiled)
{
    Source src = { name, text, len };
    Diag diag;
    diag_init(&diag, &src);
    TirModule *m = compile_tir(&src, o->defs, o->ndefs, o->kernel, &diag, NULL);
    *compiled = m != NULL;
    tir_module_free(m);
    char *out = sb_take(&diag.out);
    diag_free(&diag);
    return out;
}

static const char *self_path; /* argv[0]: BUILD/tests/test_golden */

/* The same through the CLI, run in the program's directory so that the
 * file name matches. The CLI is $BUILD/tessera, else the one next to this
 * test's directory. Returns NULL when it is not built. */
static char *diagnose_cli(const char *file, const Options *o, int *status)
{
    const char *build = getenv("BUILD");
    char exe[512];
    if (build && *build) {
        snprintf(exe, sizeof exe, "%s/tessera", build);
    } else {
        const char *tests = strstr(self_path, "/tests/test_golden");
        snprintf(exe, sizeof exe, "%.*s/tessera", tests ? (int)(tests - self_path) : 5, tests ? self_path : "build");
    }
    FILE *probe = fopen(exe, "rb");
    if (!probe)
        return NULL;
    fclose(probe);
    StrBuf cmd;
    sb_init(&cmd);
    sb_printf(&cmd, "cd %s && %s%s compile %s", DIAG_DIR, exe[0] == '/' ? "" : "../../../", exe, file);
    for (int i = 0; i < o->ndefs; i++)
        sb_printf(&cmd, " -D '%s=%s'", o->defs[i].name, o->defs[i].value);
    if (o->kernel)
        sb_printf(&cmd, " --kernel '%s'", o->kernel);
    sb_puts(&cmd, " 2>&1 >/dev/null");
    FILE *p = popen(cmd.data, "r");
    if (!p)
        fail_msg("cannot run %s", cmd.data);
    StrBuf out;
    sb_init(&out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        sb_putn(&out, buf, n);
    int rc = pclose(p);
    *status = rc >= 0 && (rc & 0x7f) == 0 ? (rc >> 8) & 0xff : -1;
    sb_free(&cmd);
    return sb_take(&out);
}

static void diagnostics_match(void **state)
{
    (void)state;
    char **names;
    int n = list_programs(DIAG_DIR, &names), failures = 0;
    if (n < 40)
        fail_msg("only %d programs in %s", n, DIAG_DIR);
    for (int i = 0; i < n; i++) {
        char path[512], file[256];
        snprintf(file, sizeof file, "%s.tsr", names[i]);
        snprintf(path, sizeof path, "%s/%s", DIAG_DIR, file);
        size_t len;
        char *text = tsr_read_file(path, &len);
        if (!text)
            fail_msg("cannot read %s", path);
        Options o;
        read_options(text, &o);
        bool compiled;
        char *actual = diagnose(file, text, len, &o, &compiled);
        snprintf(path, sizeof path, "%s/%s.err", DIAG_DIR, names[i]);
        if (compiled) {
            printf("%s/%s compiled without errors\n", DIAG_DIR, file);
            failures++;
        } else if (!check_golden(path, actual)) {
            failures++;
        } else if (!update_mode()) {
            int status;
            char *cli = diagnose_cli(file, &o, &status);
            if (cli && (status != 1 || strcmp(cli, actual) != 0)) {
                printf("%s: the CLI (exit status %d) reports:\n%s", file, status, cli);
                failures++;
            }
            free(cli);
        }
        free(actual);
        free(o.storage);
        free(text);
        free(names[i]);
    }
    free(names);
    if (failures)
        fail_msg("%d of %d diagnostic goldens differ", failures, n);
}

/* ------------------------------------------------------------------ dumps */

static void dumps_match(void **state)
{
    (void)state;
    char **names;
    int n = list_programs(EMIT_DIR, &names), failures = 0;
    if (n < 2)
        fail_msg("only %d programs in %s", n, EMIT_DIR);
    for (int i = 0; i < n; i++) {
        char path[512], file[256];
        snprintf(file, sizeof file, "%s.tsr", names[i]);
        snprintf(path, sizeof path, "%s/%s", EMIT_DIR, file);
        size_t len;
        char *text = tsr_read_file(path, &len);
        if (!text)
            fail_msg("cannot read %s", path);
        Options o;
        read_options(text, &o);
        Source src = { file, text, len };
        StrBuf tokens, ast, tir, passes;
        sb_init(&tokens);
        sb_init(&ast);
        sb_init(&tir);
        sb_init(&passes);
        tokens_print(&tokens, &src);
        Diag diag;
        diag_init(&diag, &src);
        Arena arena;
        arena_init(&arena);
        AstProgram *prog = parse_program(&arena, &src, &diag);
        if (diag.nerrors == 0)
            ast_print(&ast, prog);
        arena_free(&arena);
        TirModule *m = diag.nerrors ? NULL : compile_tir(&src, o.defs, o.ndefs, o.kernel, &diag, &passes);
        if (!m) {
            printf("%s does not compile:\n%s", path, diag.out.data ? diag.out.data : "");
            failures++;
        } else {
            tir_module_print(&tir, m);
            tir_module_free(m);
            const char *ext[4] = { "tokens", "ast", "tir", "passes" };
            const StrBuf *got[4] = { &tokens, &ast, &tir, &passes };
            for (int k = 0; k < 4; k++) {
                snprintf(path, sizeof path, "%s/%s.%s", EMIT_DIR, names[i], ext[k]);
                failures += !check_golden(path, got[k]->data ? got[k]->data : "");
            }
        }
        diag_free(&diag);
        sb_free(&tokens);
        sb_free(&ast);
        sb_free(&tir);
        sb_free(&passes);
        free(o.storage);
        free(text);
        free(names[i]);
    }
    free(names);
    if (failures)
        fail_msg("%d dump goldens differ", failures);
}

int main(int argc, char **argv)
{
    self_path = argc > 0 ? argv[0] : "build/tests/test_golden";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(diagnostics_match),
        cmocka_unit_test(dumps_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
