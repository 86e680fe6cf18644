/* device_print and device_assert: the kernels of tests/programs/debug.tsr on
 * the interpreter and on the emulator (sm_80 and sm_90a code). The printed
 * lines (captured from stdout, in any order) must be those C's printf gives
 * for the same values; a failed assertion must fail the launch with its
 * message and source line, on every device, and a passing one must change
 * nothing. */
#include "emu_run.h"
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static const char *const FILE_NAME = "tests/programs/debug.tsr";

/* Runs f at place with stdout captured into *out (malloc'd); returns
 * whether the launch succeeded, its error in err. */
static bool run_captured(TirFunc *f, KernelArg *args, int nargs, int place, char **out, StrBuf *err)
{
    char path[] = "/tmp/tsr_debug_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    assert_true(saved >= 0 && dup2(fd, 1) == 1);
    bool ok = run_kernel_at(f, args, nargs, place, err);
    fflush(stdout);
    assert_true(dup2(saved, 1) == 1);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    *out = calloc((size_t)n + 1, 1);
    assert_true(pread(fd, *out, (size_t)n, 0) == n);
    close(fd);
    unlink(path);
    return ok;
}

static int cmp_lines(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The lines of text, sorted, joined again. */
static char *sorted_lines(const char *text)
{
    char *copy = strdup(text), **lines = NULL;
    size_t n = 0, cap = 0;
    for (char *save, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            lines = realloc(lines, sizeof *lines * (cap = cap ? 2 * cap : 64));
        lines[n++] = l;
    }
    qsort(lines, n, sizeof *lines, cmp_lines);
    StrBuf out;
    sb_init(&out);
    for (size_t i = 0; i < n; i++)
        sb_printf(&out, "%s\n", lines[i]);
    free(lines);
    free(copy);
    return out.data ? sb_take(&out) : strdup("");
}

static void show(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "show");
    enum { M = 7, N = 8, BM = 4 };
    int64_t xs[2] = { M, N }, ms[1] = { M };
    Rng rng;
    rng_seed(&rng, 31);
    HostTensor x = tensor_new(DT_F16, 2, xs), l = tensor_new(DT_I64, 1, ms), u = tensor_new(DT_U8, 1, ms);
    tensor_fill_normal(&x, &rng, 3.0);
    for (int64_t r = 0; r < M; r++) {
        ((int64_t *)l.data)[r] = (int64_t)(rng_u64(&rng) >> 1) * (r % 2 ? -1 : 1);
        ((uint8_t *)u.data)[r] = (uint8_t)(200 + r);
    }
    /* the reference: C's printf of the same values, rows past M loaded as 0 */
    StrBuf want;
    sb_init(&want);
    for (int p = 0; p < (M + BM - 1) / BM; p++) {
        for (int i = 0; i < BM; i++)
            for (int j = 0; j < N; j++) {
                int r = p * BM + i;
                double v = r < M ? tensor_get(&x, (int64_t)r * N + j) : 0.0;
                long long lv = r < M ? (long long)((int64_t *)l.data)[r] : 0;
                unsigned uv = r < M ? ((uint8_t *)u.data)[r] : 0;
                sb_printf(&want, "pid (%d, 0, 0) idx (%d, %d) row %% %g %lld %u %d %d\n", p, i, j, v, lv, uv, v > 0,
                          p * BM);
            }
        sb_printf(&want, "pid (%d, 0, 0) block %d\n", p, p * BM * 10);
    }
    char *want_sorted = sorted_lines(want.data);
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor y = tensor_new(DT_F16, 2, xs);
        tensor_poison(&y);
        KernelArg args[4] = { arg_tensor(x), arg_tensor(l), arg_tensor(u), arg_tensor(y) };
        char *out;
        StrBuf err;
        sb_init(&err);
        if (!run_captured(f, args, 4, place, &out, &err))
            fail_msg("show on %s: %s", run_places[place], err.data);
        char *got = sorted_lines(out);
        if (strcmp(got, want_sorted) != 0)
            fail_msg("show on %s printed:\n%s\nwant:\n%s", run_places[place], got, want_sorted);
        for (int64_t i = 0; i < M * N; i++)
            assert_true(tensor_get(&y, i) == tensor_get(&x, i));
        free(got);
        free(out);
        sb_free(&err);
        tensor_free(&y);
    }
    free(want_sorted);
    sb_free(&want);
    tensor_free(&x);
    tensor_free(&l);
    tensor_free(&u);
    tir_module_free(m);
}

static void checked(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, "checked");
    int64_t s[1] = { 301 };
    Rng rng;
    rng_seed(&rng, 37);
    HostTensor x = tensor_new(DT_F32, 1, s);
    tensor_fill_uniform(&x, &rng, 0.0, 50.0);
    for (int place = 0; place < RUN_PLACES; place++)
        for (int bad = 0; bad < 2; bad++) {
            /* bad: one element past the limit, in the last (partial) program */
            tensor_set(&x, 290, bad ? 75.0 : 25.0);
            HostTensor y = tensor_new(DT_F32, 1, s);
            tensor_poison(&y);
            KernelArg args[3] = { arg_tensor(x), arg_tensor(y), arg_scalar(60.0) };
            char *out;
            StrBuf err;
            sb_init(&err);
            bool ok = run_captured(f, args, 3, place, &out, &err);
            if (bad) {
                if (ok || !strstr(err.data, "assertion failed: x out of range (debug.tsr:22)"))
                    fail_msg("checked on %s with a bad element: %s", run_places[place],
                             ok ? "the launch succeeded" : err.data);
            } else {
                if (!ok)
                    fail_msg("checked on %s: %s", run_places[place], err.data);
                for (int64_t i = 0; i < s[0]; i++)
                    assert_true(fabs(tensor_get(&y, i) - sqrt(tensor_get(&x, i))) <= 1e-6 * sqrt(tensor_get(&x, i)));
            }
            assert_string_equal(out, ""); /* an assertion prints nothing itself */
            free(out);
            sb_free(&err);
            tensor_free(&y);
        }
    tensor_free(&x);
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(show), cmocka_unit_test(checked) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
