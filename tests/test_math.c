/* The math built-ins (tanh, sigmoid, erf, sin, cos, floor, ceil, round, log1p,
 * expm1, pow) against double precision, on the interpreter and on the
 * emulator running the generated PTX: every element within the bound that
 * dsl/README.md §10.1 documents, special values (zeros, infinities, NaN,
 * subnormals) exactly as documented, and no subnormal result anywhere (the
 * one subnormal rule of every device). Sizes are odd, so the tail of the last
 * tile is masked. */
#include "emu_run.h"
#include "testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A bound: |got - want| <= (ulps + per_t * growth(x, y)) * ulp(want) + abs
 * (ulp of the result dtype, at least that of its smallest normal; growth is
 * the case's: exp's and pow's errors grow with the exponent they compute). */
typedef struct {
    double ulps, abs, per_t;
} Bound;

typedef struct {
    const char *name;
    double (*ref)(double x, double y);
    double lo, hi;    /* the range sampled densely */
    double exact_below; /* for |x| beyond it, only a result in [-1, 1] (sin, cos); 0: everywhere */
    Bound interp, emu; /* f32 results */
    bool binary;
    double (*growth)(double x, double y);
} MathCase;

static double r_tanh(double x, double y) { return tanh(x); }
static double r_sigmoid(double x, double y) { return 1.0 / (1.0 + exp(-x)); }
static double r_erf(double x, double y) { return erf(x); }
static double r_sin(double x, double y) { return sin(x); }
static double r_cos(double x, double y) { return cos(x); }
static double r_floor(double x, double y) { return floor(x); }
static double r_ceil(double x, double y) { return ceil(x); }
static double r_round(double x, double y) { return nearbyint(x); }
static double r_log1p(double x, double y) { return log1p(x); }
static double r_expm1(double x, double y) { return expm1(x); }
static double r_pow(double x, double y) { return pow(x, y); }
static double r_exp(double x, double y) { return exp(x); }
static double r_exp2(double x, double y) { return exp2(x); }
static double r_log(double x, double y) { return log(x); }
static double r_log2(double x, double y) { return log2(x); }
static double r_sqrt(double x, double y) { return sqrt(x); }
static double r_rsqrt(double x, double y) { return 1.0 / sqrt(x); }

/* |y log2|x||, the exponent pow computes, and |x|, exp's (0 where it is not
 * finite: those results are exact). */
static double pow_exponent(double x, double y)
{
    double t = fabs(y * log2(fabs(x)));
    return t < INFINITY ? t : 0;
}

static double exp_exponent(double x, double y) { return fabs(x) < INFINITY ? fabs(x) : 0; }

/* The emulator's bounds are those the generated sequences reach when every
 * .approx instruction is exact (the emulator's rule); dsl/README.md adds the
 * hardware's error of those instructions. */
static const MathCase cases[] = {
    { "tanh", r_tanh, -12, 12, 0, { 0.5, 0, 0 }, { 3, 0, 0 }, false, NULL },
    { "sigmoid", r_sigmoid, -100, 100, 0, { 0.5, 0, 0 }, { 3, 0, 0 }, false, NULL },
    { "erf", r_erf, -5, 5, 0, { 0.5, 0, 0 }, { 3, 0, 0 }, false, NULL },
    { "sin", r_sin, -1e5, 1e5, 1e5, { 0.5, 0, 0 }, { 1, 0x1p-22, 0 }, false, NULL },
    { "cos", r_cos, -1e5, 1e5, 1e5, { 0.5, 0, 0 }, { 1, 0x1p-22, 0 }, false, NULL },
    { "floor", r_floor, -1000, 1000, 0, { 0, 0, 0 }, { 0, 0, 0 }, false, NULL },
    { "ceil", r_ceil, -1000, 1000, 0, { 0, 0, 0 }, { 0, 0, 0 }, false, NULL },
    { "round", r_round, -1000, 1000, 0, { 0, 0, 0 }, { 0, 0, 0 }, false, NULL },
    { "log1p", r_log1p, -1, 20, 0, { 0.5, 0, 0 }, { 3, 0, 0 }, false, NULL },
    { "expm1", r_expm1, -20, 89, 0, { 0.5, 0, 0 }, { 3, 0, 0 }, false, NULL },
    { "pow", r_pow, 0, 8, 0, { 0.5, 0, 0 }, { 3, 0, 0.7 }, true, pow_exponent },
    { "exp", r_exp, -100, 89, 0, { 1, 0, 0 }, { 0.5, 0, 1.5 }, false, exp_exponent },
    { "exp2", r_exp2, -130, 128, 0, { 1, 0, 0 }, { 0.5, 0, 0 }, false, NULL },
    { "log", r_log, 0, 100, 0, { 1, 0, 0 }, { 1.5, 0, 0 }, false, NULL },
    { "log2", r_log2, 0, 100, 0, { 1, 0, 0 }, { 0.5, 0, 0 }, false, NULL },
    { "sqrt", r_sqrt, 0, 100, 0, { 0.5, 0, 0 }, { 0.5, 0, 0 }, false, NULL },
    { "rsqrt", r_rsqrt, 0, 100, 0, { 1.5, 0, 0 }, { 0.5, 0, 0 }, false, NULL },
};

enum { N = 4099 };

static double ulp_of(double v, DType dt)
{
    int mant = dt == DT_F32 ? 23 : dt == DT_F16 ? 10 : 7, emin = dt == DT_F16 ? -14 : -126;
    int e = v == 0 || !isfinite(v) ? emin : ilogb(v);
    return ldexp(1.0, (e < emin ? emin : e) - mant);
}

/* Inputs: special values first, then a dense sweep of [lo, hi], then halves
 * and integers (ties of round), then values near 0 and tiny ones. */
static void fill_inputs(const MathCase *c, HostTensor *x, HostTensor *y, Rng *rng)
{
    static const double special[] = { 0.0, -0.0, INFINITY, -INFINITY, NAN, 0x1p-149, -0x1p-149, 0x1p-127,
                                      -0x1p-130, 0x1p-126, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 1e-3, -1e-3,
                                      3.4e38, -3.4e38, 88.5, -87.5, 0.49999997, -0.49999997 };
    int64_t ns = (int64_t)(sizeof special / sizeof special[0]);
    for (int64_t i = 0; i < N; i++) {
        double v;
        if (i < ns)
            v = special[i];
        else if (i < 2600)
            v = c->lo + (c->hi - c->lo) * (double)(i - ns) / (2600 - ns);
        else if (i < 3000)
            v = (double)(i - 2800) * 0.5;
        else if (i < 3500)
            v = (rng_uniform(rng) - 0.5) * ldexp(1.0, -(int)(i % 40));
        else
            v = c->lo + (c->hi - c->lo) * rng_uniform(rng);
        tensor_set(x, i, v);
        if (y) {
            /* pow: exponents in [-10, 10], integers for negative bases */
            double e = (rng_uniform(rng) - 0.5) * 20;
            if (i % 3 == 0) {
                tensor_set(x, i, -tensor_get(x, i));
                e = floor(e);
            }
            tensor_set(y, i, i < ns ? special[(i * 7) % ns] : e);
        }
    }
}

/* Checks one result element; returns false (after printing why) on a miss. */
static bool check_elem(const char *dev, const MathCase *c, DType dt, Bound b, double x, double y, double got)
{
    double want = c->ref(x, y);
    if (dt != DT_F32)
        want = (double)round_to_dtype((float)want, dt);
    else if (fabs(want) < 0x1p-126)
        want = copysign(0.0, want); /* the subnormal rule */
    else if (isinf((float)want))
        want = (float)want; /* overflows f32 */
    bool ok;
    if (got != 0 && fabs(got) < 0x1p-126)
        ok = false; /* a subnormal result: never */
    else if (isnan(want) || isinf(want))
        ok = isnan(want) ? isnan(got) : got == want;
    else if (c->exact_below && fabs(x) > c->exact_below)
        ok = fabs(got) <= 1;
    else
        ok = fabs(got - want) <= (b.ulps + (c->growth ? b.per_t * c->growth(x, y) : 0)) * ulp_of(want, dt) + b.abs ||
             (fabs(want) < 0x1.01p-126 && got == 0); /* flushed just below the normals */
    if (!ok)
        print_error("%s %s(%s): x = %a, y = %a: got %a, want %a (%.3g ulp)\n", dev, c->name, dtype_name(dt), x,
                    c->binary ? y : 0.0, got, want, fabs(got - want) / ulp_of(want, dt));
    return ok;
}

/* Runs F on the interpreter and the emulator; returns the number of misses. */
static int run_case(const MathCase *c, DType dt, Bound interp_b, Bound emu_b)
{
    char src[512];
    snprintf(src, sizeof src,
             "kernel k(X: %s[N], %s Y: out %s[N]) grid (cdiv(N, 256)) {\n"
             "    let i = program_id(0) * 256;\n"
             "    Y[i : +256] = %s(X[i : +256]%s);\n"
             "}\n",
             dtype_name(dt), c->binary ? (dt == DT_F32 ? "E: f32[N]," : dt == DT_F16 ? "E: f16[N]," : "E: bf16[N],") : "",
             dtype_name(dt), c->name, c->binary ? ", E[i : +256]" : "");
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("math.tsr", src, NULL, 0, &diags);
    if (!m)
        fail_msg("%s does not compile:\n%s", src, diags.data ? diags.data : "");
    sb_free(&diags);
    TirFunc *f = m->funcs.data[0];
    int64_t shape[1] = { N };
    Rng rng;
    rng_seed(&rng, 7);
    HostTensor x = tensor_new(dt, 1, shape), e = tensor_new(dt, 1, shape);
    fill_inputs(c, &x, c->binary ? &e : NULL, &rng);
    HostTensor out[2] = { tensor_new(dt, 1, shape), tensor_new(dt, 1, shape) };
    int misses = 0;
    for (int d = 0; d < 2; d++) {
        tensor_poison(&out[d]);
        KernelArg args[3];
        int nargs = 0;
        args[nargs++] = arg_tensor(x);
        if (c->binary)
            args[nargs++] = arg_tensor(e);
        args[nargs++] = arg_tensor(out[d]);
        StrBuf err;
        sb_init(&err);
        bool ok;
        if (d == 0) {
            ok = interp_launch(f, args, nargs, 2, &err);
        } else {
            EmuRunOptions o = { 0 };
            o.check_uninit = true;
            o.host_threads = 2;
            ok = emu_run_kernel(f, args, nargs, &o, &err);
        }
        if (!ok)
            fail_msg("%s on %s: %s", c->name, d ? "emu" : "interp", err.data);
        sb_free(&err);
        double worst = 0, worst_abs = 0;
        for (int64_t i = 0; i < N; i++) {
            double xv = tensor_get(&x, i), yv = c->binary ? tensor_get(&e, i) : 0, got = tensor_get(&out[d], i);
            if (tensor_is_poison(&out[d], i))
                fail_msg("%s: element %lld not written", c->name, (long long)i);
            if (!check_elem(d ? "emu" : "interp", c, dt, d ? emu_b : interp_b, xv, yv, got) && ++misses > 20)
                fail_msg("too many misses");
            double want = c->ref(xv, yv);
            if (isfinite((float)want) && isfinite(got) && fabs(want) >= 0x1p-126 &&
                !(c->exact_below && fabs(xv) > c->exact_below))
            {
                worst = fmax(worst, fabs(got - want) / ulp_of(want, dt));
                worst_abs = fmax(worst_abs, fabs(got - want));
            }
        }
        print_message("%-8s %-5s %-6s max error %.3g ulp, %.3g absolute\n", c->name, dtype_name(dt),
                      d ? "emu" : "interp", worst, worst_abs);
    }
    tensor_free(&x);
    tensor_free(&e);
    tensor_free(&out[0]);
    tensor_free(&out[1]);
    tir_module_free(m);
    return misses;
}

static void math_f32(void **state)
{
    (void)state;
    int misses = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        misses += run_case(&cases[i], DT_F32, cases[i].interp, cases[i].emu);
    assert_int_equal(misses, 0);
}

/* f16 and bf16 operands: computed in f32 and rounded once (tanh takes
 * tanh.approx.f32 there), so every result is within one unit of the dtype. */
static void math_half(void **state)
{
    (void)state;
    int misses = 0;
    Bound one = { 1, 0, 0 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!strcmp(cases[i].name, "pow") || !strcmp(cases[i].name, "sin") || !strcmp(cases[i].name, "cos"))
            continue; /* their f32 errors are absolute or grow with the exponent: covered by math_f32 */
        misses += run_case(&cases[i], DT_F16, one, one);
        misses += run_case(&cases[i], DT_BF16, one, one);
    }
    assert_int_equal(misses, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(math_f32), cmocka_unit_test(math_half) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
