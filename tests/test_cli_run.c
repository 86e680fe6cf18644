/* `tessera run` end to end, through the built command ($BUILD/tessera):
 * examples run on emu and compared with interp (every kernel of every
 * example and of kernels/, one command each), outputs saved as .npy and
 * checked here against double-precision math, seeds, .npy inputs, --dim,
 * elements never written, a reference kernel (right and wrong), timing,
 * and every kind of bad input with its message and exit status (unknown
 * dtype, dtype and shape mismatches, missing and unknown arguments, bad
 * files, compile errors, usage errors). */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"
#include "testutil.h"
#include "util.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char tmp_dir[64];

/* Runs `tessera run ARGS` with stdout and stderr together in *out; returns
 * the exit status (124 when it ran for more than 10 minutes: a hang). */
static int run_cli(char **out, const char *fmt, ...) TSR_PRINTF(2, 3);
static int run_cli(char **out, const char *fmt, ...)
{
    const char *build = getenv("BUILD");
    StrBuf cmd;
    sb_init(&cmd);
    sb_printf(&cmd, "TESSERA_CACHE_DIR=%s/cache timeout 600 %s/tessera run ", tmp_dir, build && *build ? build : "build");
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&cmd, fmt, ap);
    va_end(ap);
    sb_puts(&cmd, " 2>&1");
    FILE *p = popen(cmd.data, "r");
    assert_non_null(p);
    StrBuf text;
    sb_init(&text);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        sb_putn(&text, buf, n);
    int rc = pclose(p);
    sb_free(&cmd);
    *out = sb_take(&text);
    return rc >= 0 && (rc & 0x7f) == 0 ? (rc >> 8) & 0xff : -1;
}

/* Expects exit status want and text containing each of the strings. */
#define EXPECT(rc, want, out, ...)                                                                                     \
    do {                                                                                                               \
        const char *subs_[] = { __VA_ARGS__ };                                                                         \
        if ((rc) != (want))                                                                                            \
            fail_msg("exit status %d, expected %d; output:\n%s", rc, want, out);                                       \
        for (size_t s_ = 0; s_ < TSR_ARRAY_LEN(subs_); s_++)                                                           \
            if (!strstr(out, subs_[s_]))                                                                               \
                fail_msg("output lacks '%s':\n%s", subs_[s_], out);                                                    \
    } while (0)

static NpyArray load(const char *name)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    NpyArray a;
    if (!npy_read_file(path, &a, err, sizeof err))
        fail_msg("%s", err);
    return a;
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* softmax on emu, compared with interp, saved and checked in double. */
static void softmax_emu_vs_interp(void **state)
{
    (void)state;
    char *out;
    int rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f32 --arg X=randn[37,300] --device emu --compare interp "
                           "--save %s/sm", tmp_dir);
    EXPECT(rc, 0, out, "softmax on emu", "written 11100 of 11100", "compare interp with emu", "0 of 11100 elements differ",
           "never written: 0 on emu, 0 on interp", "match", "saved");
    free(out);
    NpyArray x = load("sm/X.npy"), y = load("sm/Y.npy"), yi = load("sm/Y.interp.npy");
    assert_int_equal(x.ndim, 2);
    assert_int_equal(x.shape[0], 37);
    assert_int_equal(x.shape[1], 300);
    assert_int_equal(y.dtype.bits, 32);
    double worst = 0, mean = 0;
    for (int r = 0; r < 37; r++) {
        const float *xr = (const float *)x.data + r * 300, *yr = (const float *)y.data + r * 300;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < 300; c++)
            mx = fmax(mx, xr[c]);
        for (int c = 0; c < 300; c++)
            sum += exp(xr[c] - mx);
        for (int c = 0; c < 300; c++) {
            worst = fmax(worst, fabs(yr[c] - exp(xr[c] - mx) / sum));
            mean += xr[c];
        }
    }
    assert_true(worst < 1e-6);
    assert_true(fabs(mean / 11100) < 0.05); /* randn: mean 0 */
    npy_free(&x);
    npy_free(&y);
    npy_free(&yi);
}

/* The same seed gives the same inputs; another seed other inputs; a .npy
 * file of another dtype is converted with a note. */
static void seeds_and_npy_inputs(void **state)
{
    (void)state;
    char *out;
    for (int i = 0; i < 3; i++) {
        int rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f16 --arg X=rand[8,64] --device interp --seed %d "
                               "--save %s/seed%d -q", i == 2 ? 8 : 7, tmp_dir, i);
        EXPECT(rc, 0, out, "written 512 of 512");
        free(out);
    }
    NpyArray a = load("seed0/X.npy"), b = load("seed1/X.npy"), c = load("seed2/X.npy");
    assert_memory_equal(a.data, b.data, a.nbytes);
    assert_memory_not_equal(a.data, c.data, a.nbytes);
    for (int i = 0; i < 512; i++) {
        double v = npy_get(a.dtype, a.data, i);
        assert_true(v >= 0 && v <= 1);
    }
    npy_free(&a);
    npy_free(&b);
    npy_free(&c);
    /* float64 input for an f32 kernel: arange 0..11 as a 3x4 matrix. */
    double v[12];
    for (int i = 0; i < 12; i++)
        v[i] = i;
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/in.npy", tmp_dir);
    int64_t shape[2] = { 3, 4 };
    assert_true(npy_write_file(path, (DLDataType){ kDLFloat, 64, 1 }, 2, shape, v, err, sizeof err));
    int rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f32 --arg X=%s --device emu --save %s/npyin", path, tmp_dir);
    EXPECT(rc, 0, out, "note: ", "holds float64; converted to f32 for X", "X        in   f32[3, 4]");
    free(out);
    NpyArray y = load("npyin/Y.npy");
    double want = 1 / (1 + exp(-1.0) + exp(-2.0) + exp(-3.0)); /* the largest of row 0 */
    assert_true(fabs(npy_get(y.dtype, y.data, 3) - want) < 1e-6);
    npy_free(&y);
}

/* An emulator fault names the DSL line: on emu the PTX carries .loc lines
 * (TSR_COMPILE_LINE_INFO). The fault is a real one: a loop that runs far
 * longer than --emu-max-insns allows (line 5 is all of the loop). */
static const char spin_src[] = "kernel spin(X: f32[N], Y: out f32[N]) grid (1) warps 1\n"
                               "{\n"
                               "    var s = X[0 : +32];\n"
                               "    var i = 0;\n"
                               "    while i < 1000000000 { s = s * 0.5 + 1.0; i = i + 1; }\n"
                               "    Y[0 : +32] = s;\n"
                               "}\n";

static void fault_names_source_line(void **state)
{
    (void)state;
    char *out;
    write_file("spin.tsr", spin_src);
    int rc = run_cli(&out, "%s/spin.tsr --arg X=randn --dim N=32 --device emu --emu-max-insns 200000", tmp_dir);
    EXPECT(rc, 1, out, "more than 200000 warp instructions executed (the launch's limit): an infinite loop?",
           "source line 5:", "spin.tsr:5: the source line of the faulting instruction:",
           "    while i < 1000000000 { s = s * 0.5 + 1.0; i = i + 1; }", "PTX around line");
    free(out);
    rc = run_cli(&out, "%s/spin.tsr --arg X=randn --dim N=32 --device emu --emu-max-insns 0", tmp_dir);
    EXPECT(rc, 2, out, "--emu-max-insns takes an integer in 1..");
    free(out);
}

/* The PTX line a fault report names ("line N (OP)") is marked ">" in the
 * listing that follows it, and that line holds OP: the listing is of the
 * variant that ran. */
static void expect_listing_marks_fault(const char *out)
{
    const char *at = strstr(out, ", line ");
    assert_non_null(at);
    int line = atoi(at + 7);
    const char *op = strchr(at + 7, '(');
    assert_non_null(op);
    char want[64], mark[32];
    snprintf(want, sizeof want, "%.*s", (int)strcspn(op + 1, ")"), op + 1);
    snprintf(mark, sizeof mark, "\n>%6d  ", line);
    const char *marked = strstr(out, mark);
    if (!marked)
        fail_msg("no listing marks line %d:\n%s", line, out);
    if (!strstr(marked + strlen(mark), want) || strstr(marked + strlen(mark), want) > strchr(marked + 1, '\n'))
        fail_msg("line %d of the listing is not '%s':\n%s", line, want, out);
}

/* A launch whose symbolic last dim is a multiple of 8 runs a variant of its
 * own (vectors along it): the fault's listing is of that variant's PTX (it
 * showed the other variant's lines), also when the instruction is a
 * multi-line call.uni (device_assert's __assertfail). */
static void fault_listing_is_the_variant_that_ran(void **state)
{
    (void)state;
    static const int dims[] = { 96, 100 };
    for (int i = 0; i < 2; i++) {
        char *out;
        int rc = run_cli(&out, "tests/programs/debug.tsr --kernel checked --arg X=randn --arg limit=10 --dim N=%d "
                               "--device emu", dims[i]);
        EXPECT(rc, 1, out, "(call.uni), source line 22: assertion failed: x out of range", "PTX around line");
        expect_listing_marks_fault(out);
        free(out);
    }
    char *out;
    write_file("spin.tsr", spin_src);
    int rc = run_cli(&out, "%s/spin.tsr --arg X=randn --dim N=32 --device emu --emu-max-insns 200000", tmp_dir);
    EXPECT(rc, 1, out, "an infinite loop?");
    expect_listing_marks_fault(out);
    free(out);
}

/* Every kernel of every example and of kernels/ runs on emu with random
 * inputs, agrees with the interpreter and has its outputs saved, by one
 * command each (issue 16: "any example or kernel file"). */
static void every_kernel_file(void **state)
{
    (void)state;
    static const struct {
        const char *args, *output; /* an output the run must save */
    } runs[] = {
        { "dsl/examples/dropout.tsr --kernel dropout --arg X=randn[5000] --arg seed=7 --arg p=0.25", "Y" },
        { "dsl/examples/dropout.tsr --kernel philox --dim N=4000 --arg seed=7", "R" },
        { "dsl/examples/layernorm.tsr -D T=f16 --arg X=randn[33,700] --arg W=randn --arg Bias=randn", "Rstd" },
        { "dsl/examples/matmul.tsr -D T=f16 --arg A=randn[100,64] --arg B=randn[64,72]", "C" },
        { "dsl/examples/matmul_big.tsr --arg A=randn[256,128] --arg B=randn[128,256]", "C" },
        { "dsl/examples/moe_route.tsr --kernel count_tokens --arg E=arange[300] --dim X=300", "C" },
        { "dsl/examples/moe_route.tsr --kernel expert_sums --arg H=randn[100,64] --arg E=zeros[100] --arg W=rand "
          "--dim X=4", "S" },
        { "dsl/examples/moe_route.tsr --kernel expert_means --arg S=randn[4,64] --arg C=ones[4] --arg E=zeros[100]",
          "Y" },
        { "dsl/examples/reduce.tsr --kernel partial_sums -D T=f16 --arg X=randn[10000] --dim G=3", "P" },
        { "dsl/examples/reduce.tsr --kernel sum_partials --arg P=randn[3]", "S" },
        { "dsl/examples/scale_shift.tsr -D T=bf16 --arg X=randn[20,130] --arg Scale=rand --arg Shift=zeros "
          "--arg slope=0.1", "Y" },
        { "dsl/examples/softmax.tsr -D T=f16 --arg X=randn[9,300]", "Y" },
        { "kernels/attention.tsr -D T=f16 -D D=64 --arg Q=randn[1,2,100,64] --arg K=randn[1,2,130,64] --arg V=randn "
          "--arg scale=0.125", "LSE" },
        { "kernels/attention_ext.tsr -D T=f16 -D D=64 -D LOCAL=true --arg Q=randn[1,2,100,64] "
          "--arg K=randn[1,2,130,64] --arg V=randn --arg CuQ=zeros[1] --arg CuK=zeros[1] --arg Slopes=zeros[1] "
          "--arg scale=0.125 --arg wl=20 --arg wr=5 --arg cap=0 --arg max_sq=100", "O" },
        { "kernels/attention_bwd.tsr --kernel attention_bwd_pre -D T=f16 -D D=64 --arg O=randn[1,2,100,64] "
          "--arg dO=randn", "Delta" },
        { "kernels/attention_bwd.tsr --kernel attention_bwd_dkdv -D T=f16 -D D=64 -D CAUSAL=true "
          "--arg Q=randn[1,2,64,64] --arg K=randn[1,1,80,64] --arg V=randn --arg dO=randn[1,2,64,64] --arg LSE=randn "
          "--arg Delta=randn --arg scale=0.125", "dV" },
        { "kernels/attention_bwd.tsr --kernel attention_bwd_dq -D T=bf16 -D D=64 --arg Q=randn[1,2,64,64] "
          "--arg K=randn[1,1,80,64] --arg V=randn --arg dO=randn[1,2,64,64] --arg LSE=randn --arg Delta=randn "
          "--arg scale=0.125", "dQ" },
        { "kernels/attention_decode.tsr --kernel attention_decode_split -D T=f16 -D D=64 --arg Q=randn[1,2,16,64] "
          "--arg KC=randn[4,16,2,64] --arg VC=randn --arg BT=arange[1,4] --arg SeqK=ones[1] --dim NS=2 --dim BH=2 "
          "--arg scale=0.125 --arg sq=1", "LP" },
        { "kernels/attention_decode.tsr --kernel attention_decode_combine -D T=f16 -D D=64 --arg OP=randn[3,2,16,64] "
          "--arg LP=randn --dim B=1 --dim Hkv=2", "O" },
        { "kernels/attention_naive.tsr --kernel attn_scores -D T=f16 -D D=64 --arg Q=randn[1,2,64,64] "
          "--arg K=randn[1,2,64,64] --arg scale=0.125", "S" },
        { "kernels/attention_naive.tsr --kernel attn_softmax -D T=f16 --arg S=randn[1,2,64,96]", "P" },
        { "kernels/attention_naive.tsr --kernel attn_pv -D T=f16 -D D=64 --arg P=rand[1,2,64,96] "
          "--arg V=randn[1,2,96,64]", "O" },
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(runs); i++) {
        char *out;
        int rc = run_cli(&out, "%s --device emu --compare interp --save %s/every%zu -q", runs[i].args, tmp_dir, i);
        if (rc != 0 || !strstr(out, "match"))
            fail_msg("%s: exit status %d:\n%s", runs[i].args, rc, out);
        free(out);
        char saved[256];
        snprintf(saved, sizeof saved, "every%zu/%s.npy", i, runs[i].output);
        NpyArray a = load(saved);
        npy_free(&a);
        snprintf(saved, sizeof saved, "every%zu/%s.interp.npy", i, runs[i].output);
        a = load(saved);
        npy_free(&a);
    }
}

/* reduce's P has one element per program: with --dim G=3 for 2 programs,
 * one element is never written, on both devices alike. */
static void dims_and_unwritten(void **state)
{
    (void)state;
    char *out;
    int rc = run_cli(&out, "dsl/examples/reduce.tsr --kernel partial_sums -D T=f32 --arg X=arange[5000] --dim G=3 "
                           "--device emu --compare interp");
    EXPECT(rc, 0, out, "P        out  f32[3]", "written 2 of 3", "never written: 1 on emu, 1 on interp", "match");
    free(out);
    rc = run_cli(&out, "dsl/examples/reduce.tsr --kernel partial_sums -D T=f32 --arg X=arange[5000] --device interp");
    EXPECT(rc, 2, out, "the size of P is unknown", "--dim G=SIZE");
    free(out);
    /* A scalar, symbolic shapes from --dim, f16 on both devices. */
    rc = run_cli(&out, "dsl/examples/scale_shift.tsr -D T=f16 --arg X=randn[M,N] --arg Scale=randn --arg Shift=ones "
                       "--arg slope=0.1 --dim M=20 --dim N=130 --device emu --compare interp");
    EXPECT(rc, 0, out, "Scale    in   f16[130]", "slope    f32 = 0.1", "0 of 2600 elements differ", "match");
    free(out);
}

static const char ref_good[] =
    "kernel softmax_ref<T: type>(X: T[M, N], Y: out T[M, N]) grid (M) warps 4 {\n"
    "    let r = program_id(0);\n"
    "    let x = where(arange<512>(0) < N, f32(X[r, 0 : +512]), -inf);\n"
    "    let e = exp(x - reduce_max(x));\n"
    "    Y[r, 0 : +512] = T(e / reduce_sum(e));\n"
    "}\n";

/* A reference kernel: the same math agrees; a wrong one is a mismatch. */
static void reference_kernels(void **state)
{
    (void)state;
    write_file("ref.tsr", ref_good);
    StrBuf bad;
    sb_init(&bad);
    sb_puts(&bad, ref_good);
    char *p = strstr(bad.data, "e / reduce_sum(e)");
    memcpy(p, "e / reduce_max(e)", 17);
    write_file("ref_bad.tsr", bad.data);
    sb_free(&bad);
    char *out;
    int rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f32 --arg X=randn[16,500] --device emu --reference "
                           "%s/ref.tsr:softmax_ref --reps 2 --save %s/ref", tmp_dir, tmp_dir);
    EXPECT(rc, 0, out, "compare reference with emu", "0 of 8000 elements differ", "match", "time of softmax on emu",
           "time of softmax_ref on reference", "over 2 runs", "CPU time", "saved");
    free(out);
    NpyArray y = load("ref/Y.reference.npy");
    npy_free(&y);
    rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f32 --arg X=randn[16,500] --device interp --reference %s/ref_bad.tsr",
                 tmp_dir);
    EXPECT(rc, 1, out, "MISMATCH", "first at flat index");
    free(out);
    rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f32 --arg X=randn[4,8] --device interp --reference "
                       "dsl/examples/reduce.tsr");
    EXPECT(rc, 2, out, "choose one with --reference FILE.tsr:KERNEL: partial_sums sum_partials");
    free(out);
}

/* Bad specs and bad usage: exit status 2 and a message that says what. */
static void bad_specs(void **state)
{
    (void)state;
    static const struct {
        const char *args, *want;
    } cases[] = {
        { "--arg X=randn:f33[4,4]", "unknown dtype 'f33'" },
        { "--arg X=randn:f16[4,4]", "dtype mismatch: --arg X=randn:f16[4,4] says f16; the kernel declares X: f32[M, N]" },
        { "--arg X=randn[4,4,4]", "shape mismatch: --arg X has 3 dims; the kernel declares X: f32[M, N]" },
        { "--arg X=randn[4,5] --arg Y=zeros[4,6]", "shape mismatch: N is 5 from --arg X but 6 from --arg Y" },
        { "--arg X=randn[4,4] --dim M=5", "M is 5 from --dim M but 4 from --arg X" },
        { "", "missing argument: give --arg X=SPEC for X: f32[M, N]" },
        { "--arg X=randx", "unknown spec 'randx'; expected randn, rand, zeros, ones or arange" },
        { "--arg X=3", "X is a tensor (f32[M, N])" },
        { "--arg X=randn", "the size of X is unknown: dim 0 is M" },
        { "--arg X=randn[4,4] --arg Q=randn", "kernel 'softmax' has no parameter Q; its parameters: X Y" },
        { "--arg X=randn[4,4] --arg X=ones", "--arg X given twice" },
        { "--arg X=randn[4,x-]", "expected ',' or a final ']' in shape '[4,x-]'" },
        { "--arg X=randn[4,4", "expected ',' or a final ']'" },
        { "--arg X=randn[4,99999999999]", "too large" },
        { "--arg X=nofile.npy", "cannot read 'nofile.npy'" },
        { "--arg X=tests/test_npy.c", "not a .npy file" },
        { "--arg X=randn[4,4] --dim M=-1", "--dim M=-1: not a size" },
        { "--arg X", "--arg needs NAME=VALUE" },
        { "--arg X=randn[4,4] --reps many", "--reps takes an integer" },
        { "--arg X=randn[4,4] --device gpu", "--device takes auto, cuda, emu or interp, found 'gpu'" },
        { "--arg X=randn[4,4] --frobnicate", "unknown option '--frobnicate'" },
        { "--arg X=randn[4,4] --save", "--save needs a value" },
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        char *out;
        int rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f32 --device interp %s", cases[i].args);
        if (rc != 2 || !strstr(out, cases[i].want))
            fail_msg("'%s': exit status %d, output:\n%s\n(expected 2 and '%s')", cases[i].args, rc, out, cases[i].want);
        free(out);
    }
    /* Files that are not regular files are refused at once (a FIFO or
     * /dev/zero hung here), as is a source that is a FIFO. */
    char fifo[128], zero[128], dir[128];
    snprintf(fifo, sizeof fifo, "%s/fifo.npy", tmp_dir);
    snprintf(zero, sizeof zero, "%s/zero.npy", tmp_dir);
    snprintf(dir, sizeof dir, "%s/dir.npy", tmp_dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(symlink("/dev/zero", zero), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    const char *const odd[][2] = { { fifo, "is not a regular file" }, { zero, "is not a regular file" },
                                   { dir, "is a directory" } };
    for (size_t i = 0; i < TSR_ARRAY_LEN(odd); i++) {
        char *out;
        int rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f32 --device interp --arg X=%s", odd[i][0]);
        EXPECT(rc, 2, out, "cannot read", odd[i][1]);
        free(out);
    }
    char *out;
    StrBuf cmd;
    sb_init(&cmd);
    const char *build = getenv("BUILD");
    sb_printf(&cmd, "timeout 60 %s/tessera compile %s 2>&1", build && *build ? build : "build", fifo);
    FILE *p = popen(cmd.data, "r");
    assert_non_null(p);
    char line[512] = "";
    if (!fgets(line, sizeof line, p))
        line[0] = 0;
    int status = pclose(p);
    if (!strstr(line, "is not a regular file") || status == 0)
        fail_msg("tessera compile FIFO: status %d: %s", status, line);
    sb_free(&cmd);
    int rc = run_cli(&out, "dsl/examples/scale_shift.tsr -D T=f32 --device interp --arg X=randn[2,2] --arg Scale=ones "
                           "--arg Shift=ones --arg slope=randn");
    EXPECT(rc, 2, out, "slope is a scalar (f32); give a number");
    free(out);
    rc = run_cli(&out, "dsl/examples/reduce.tsr -D T=f32 --device interp --arg X=ones[4]");
    EXPECT(rc, 2, out, "has 2 kernels; choose one with --kernel: partial_sums sum_partials");
    free(out);
    rc = run_cli(&out, "--device interp");
    EXPECT(rc, 2, out, "no input file", "usage: tessera run");
    free(out);
    rc = run_cli(&out, "--help");
    EXPECT(rc, 0, out, "SPEC: randn|rand|zeros|ones|arange");
    free(out);
}

/* Program errors exit with 1 and the compiler's diagnostics. */
static void compile_errors(void **state)
{
    (void)state;
    write_file("broken.tsr", "kernel k(X: f32[N]) grid (1) warps 4 {\n    X[0] = 1.0 +;\n}\n");
    char *out;
    int rc = run_cli(&out, "%s/broken.tsr --arg X=zeros[4] --device interp", tmp_dir);
    EXPECT(rc, 1, out, "broken.tsr:2:", "error:");
    free(out);
    rc = run_cli(&out, "%s/missing.tsr --arg X=zeros[4] --device interp", tmp_dir);
    EXPECT(rc, 2, out, "missing.tsr");
    free(out);
    rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f32 --arg X=zeros[4,4] --device interp --kernel nope");
    EXPECT(rc, 1, out, "no kernel named 'nope'");
    free(out);
    rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f64 --arg X=zeros[4,4] --device interp");
    EXPECT(rc, 1, out, "error:");
    free(out);
    /* Compile-time values come from -D here, and the messages say so (they
     * spoke of the C API's tsr_define). */
    rc = run_cli(&out, "kernels/attention_naive.tsr --kernel attn_scores --device interp");
    EXPECT(rc, 1, out, "compile-time parameter 'T' of kernel 'attn_scores' needs a value (give -D T=...)");
    if (strstr(out, "tsr_define"))
        fail_msg("%s", out);
    free(out);
    rc = run_cli(&out, "dsl/examples/softmax.tsr -D T=f32 -D BLOK=3 --arg X=zeros[4,4] --device interp");
    EXPECT(rc, 1, out, "-D BLOK: no kernel being compiled has a compile-time parameter named 'BLOK'");
    free(out);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/tsr_cli_run_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(softmax_emu_vs_interp), cmocka_unit_test(seeds_and_npy_inputs),
        cmocka_unit_test(dims_and_unwritten),
        cmocka_unit_test(fault_names_source_line), cmocka_unit_test(fault_listing_is_the_variant_that_ran),
        cmocka_unit_test(reference_kernels),     cmocka_unit_test(every_kernel_file),
        cmocka_unit_test(bad_specs),             cmocka_unit_test(compile_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
