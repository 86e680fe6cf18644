/* The math built-ins on the GPU: tanh, sigmoid, erf, sin, cos, floor, ceil,
 * round, log1p, expm1 and pow, computed in f32 (f16 and bf16 operands are
 * widened first and the result rounded back by the caller). Fast PTX forms
 * are used where their error bound in the PTX ISA is good enough for the
 * dtype (tanh.approx.f32 for f16/bf16, sin/cos.approx.ftz after an exact
 * range reduction, ex2/lg2.approx inside longer sequences); elsewhere a short
 * sequence with a known bound. dsl/README.md §10.1 lists each bound, and
 * tests/test_math.c checks them on the emulator against double precision.
 *
 * The rule for subnormal results, the same on every device: a result below
 * 2^-126 in magnitude is a zero of its sign (flush()). The interpreter does
 * the same (ir/tir_eval.c). */
#include "codegen_internal.h"

#include <string.h>

/* f32 constants, each exactly representable (hex floats keep them exact). */
static const double LOG2E_HI = 0x1.715476p+0, LOG2E_LO = 0x1.4ae0cp-26; /* log2(e) = HI + LO */
static const double LN2 = 0x1.62e43p-1;
static const double INV_2PI = 0x1.45f306p-3;
/* 2*pi = C1 + C2 + C3 to about 2^-72: C1 has the 24 leading bits, so that
 * k * C1 is exact in an fma for the integers k of the reduction. */
static const double TWO_PI_1 = 0x1.921fb6p+2, TWO_PI_2 = -0x1.777a5cp-23, TWO_PI_3 = -0x1.ee59dap-48;

static LLVMValueRef fc(Emitter *em, double v) { return LLVMConstReal(em->t_f32, v); }

static LLVMValueRef call1(Emitter *em, const char *name, LLVMValueRef x)
{
    const char *const names[] = { name, NULL };
    return em_call_intrinsic(em, names, &em->t_f32, 1, &x, 1);
}

static LLVMValueRef fma3(Emitter *em, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    static const char *const names[] = { "llvm.fma", NULL };
    LLVMValueRef args[3] = { a, b, c };
    return em_call_intrinsic(em, names, &em->t_f32, 1, args, 3);
}

static LLVMValueRef fabs1(Emitter *em, LLVMValueRef x) { return call1(em, "llvm.fabs", x); }

static LLVMValueRef copysign2(Emitter *em, LLVMValueRef mag, LLVMValueRef sign)
{
    static const char *const names[] = { "llvm.copysign", NULL };
    LLVMValueRef args[2] = { mag, sign };
    return em_call_intrinsic(em, names, &em->t_f32, 1, args, 2);
}

static LLVMValueRef fcmp(Emitter *em, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(em->b, p, a, b, "");
}

static LLVMValueRef sel(Emitter *em, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(em->b, c, a, b, "");
}

static LLVMValueRef fmul(Emitter *em, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(em->b, a, b, ""); }
static LLVMValueRef fadd(Emitter *em, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(em->b, a, b, ""); }

/* The names LLVM 19 and LLVM 22 give the intrinsics. */
LLVMValueRef em_ex2_ftz(Emitter *em, LLVMValueRef x)
{
    static const char *const names[] = { "llvm.nvvm.ex2.approx.ftz.f", "llvm.nvvm.ex2.approx.ftz.f32", NULL };
    return em_call_intrinsic(em, names, NULL, 0, &x, 1);
}

LLVMValueRef em_lg2(Emitter *em, LLVMValueRef x)
{
    static const char *const names[] = { "llvm.nvvm.lg2.approx.f", "llvm.nvvm.lg2.approx.f32", NULL };
    return em_call_intrinsic(em, names, NULL, 0, &x, 1);
}

/* A result below 2^-126 in magnitude becomes a zero of its sign. */
static LLVMValueRef flush(Emitter *em, LLVMValueRef r)
{
    LLVMValueRef tiny = fcmp(em, LLVMRealOLT, fabs1(em, r), fc(em, 0x1p-126));
    return sel(em, tiny, copysign2(em, fc(em, 0.0), r), r);
}

/* Horner's rule with fmas: c[0] + u * (c[1] + u * (... c[n-1])). */
static LLVMValueRef horner(Emitter *em, LLVMValueRef u, const double *c, int n)
{
    LLVMValueRef p = fc(em, c[n - 1]);
    for (int i = n - 2; i >= 0; i--)
        p = fma3(em, p, u, fc(em, c[i]));
    return p;
}

/* 2^(a * (b_hi + b_lo)) with the product's rounding error put back: the
 * error c of t = a * b_hi (an fma gives it exactly), plus a * b_lo, scales
 * ex2(t) by 1 + c ln 2. Without it the rounding of t alone would cost up to
 * |t| * 2^-24 of relative error (5e-6 at exp(88)). When t is infinite the
 * correction is NaN and is dropped. b_lo may be NULL. */
static LLVMValueRef ex2_of_product(Emitter *em, LLVMValueRef a, LLVMValueRef b_hi, LLVMValueRef b_lo)
{
    LLVMValueRef t = fmul(em, a, b_hi);
    LLVMValueRef c = fma3(em, a, b_hi, LLVMBuildFNeg(em->b, t, ""));
    if (b_lo)
        c = fma3(em, a, b_lo, c);
    c = sel(em, fcmp(em, LLVMRealOLT, fabs1(em, t), fc(em, 0x1p+128)), c, fc(em, 0.0));
    LLVMValueRef scale = fma3(em, c, fc(em, LN2), fc(em, 1.0));
    return fmul(em, em_ex2_ftz(em, t), scale);
}

static LLVMValueRef exp_accurate(Emitter *em, LLVMValueRef x)
{
    return ex2_of_product(em, x, fc(em, LOG2E_HI), fc(em, LOG2E_LO));
}

/* expm1: the Taylor series to x^9 for |x| < 0.5 (truncation below 2^-31
 * relative), else exp(x) - 1, where the subtraction loses at most 1.6 bits. */
static LLVMValueRef expm1_f32(Emitter *em, LLVMValueRef x)
{
    double c[9];
    double fact = 1;
    for (int k = 1; k <= 9; k++) {
        fact *= k;
        c[k - 1] = (double)(float)(1.0 / fact);
    }
    LLVMValueRef series = fmul(em, x, horner(em, x, c, 9));
    LLVMValueRef big = LLVMBuildFSub(em->b, exp_accurate(em, x), fc(em, 1.0), "");
    return sel(em, fcmp(em, LLVMRealOLT, fabs1(em, x), fc(em, 0.5)), series, big);
}

/* tanh|x| = -t / (t + 2) with t = expm1(-2|x|): no cancellation anywhere. */
static LLVMValueRef tanh_accurate(Emitter *em, LLVMValueRef x)
{
    LLVMValueRef t = expm1_f32(em, fmul(em, fabs1(em, x), fc(em, -2.0)));
    LLVMValueRef r = LLVMBuildFDiv(em->b, LLVMBuildFNeg(em->b, t, ""), fadd(em, t, fc(em, 2.0)), "");
    return copysign2(em, r, x);
}

/* tanh.approx.f32 (sm_75+): relative error at most 2^-11 by the PTX ISA,
 * which is f16's precision: used for f16 and bf16 results. */
static LLVMValueRef tanh_approx(Emitter *em, LLVMValueRef x)
{
    InlinePtx a;
    ptx_begin(&a, em, 0);
    int d = ptx_out(&a, em->t_f32), s = ptx_in(&a, x);
    ptx_text(&a, "tanh.approx.f32 $%d, $%d;", d, s);
    return ptx_call(&a);
}

static LLVMValueRef sigmoid_f32(Emitter *em, LLVMValueRef x)
{
    LLVMValueRef e = exp_accurate(em, LLVMBuildFNeg(em->b, x, ""));
    return LLVMBuildFDiv(em->b, fc(em, 1.0), fadd(em, e, fc(em, 1.0)), "");
}

/* erf on |x|: below 1 its Taylor series x * P(x^2) to x^21 (truncation below
 * 2^-32); from 1 to 4, 1 - 2^g(|x|) with g a degree-9 Chebyshev interpolant
 * of log2(erfc) in u = (2|x| - 5) / 3 (scripts/fit-erf.py makes it); from 4
 * on erf is 1 in f32. NaN goes through the second path unchanged. */
static LLVMValueRef erf_f32(Emitter *em, LLVMValueRef x)
{
    static const double g[] = { -0x1.68694cp+3, -0x1.72ab74p+3, -0x1.882f28p+1, -0x1.b11abcp-5, 0x1.03172cp-6,
                                -0x1.2e1e7p-8,  0x1.4d6014p-10, -0x1.4e17c6p-12, 0x1.f51946p-15, -0x1.1a3a2p-18 };
    double p[11];
    double fact = 1;
    for (int n = 0; n <= 10; n++) {
        if (n)
            fact *= n;
        double t = 1.1283791670955126 / (fact * (2 * n + 1)); /* 2/sqrt(pi) (-1)^n / (n! (2n+1)) */
        p[n] = (double)(float)(n % 2 ? -t : t);
    }
    LLVMValueRef a = fabs1(em, x);
    LLVMValueRef small = fmul(em, a, horner(em, fmul(em, a, a), p, 11));
    LLVMValueRef ac = sel(em, fcmp(em, LLVMRealOGT, a, fc(em, 4.0)), fc(em, 4.0), a);
    LLVMValueRef u = fma3(em, ac, fc(em, (float)(2.0 / 3.0)), fc(em, (float)(-5.0 / 3.0)));
    LLVMValueRef large = LLVMBuildFSub(em->b, fc(em, 1.0), em_ex2_ftz(em, horner(em, u, g, 10)), "");
    LLVMValueRef r = sel(em, fcmp(em, LLVMRealOLT, a, fc(em, 1.0)), small, large);
    return copysign2(em, r, x);
}

/* sin and cos: x - k 2pi with k = rint(x / 2pi), in three fmas with 2pi split
 * in three parts (the first exact), lands in [-pi, pi], where sin.approx and
 * cos.approx have an absolute error of at most 2^-20.5 (PTX ISA). */
static LLVMValueRef sincos_f32(Emitter *em, bool is_sin, LLVMValueRef x)
{
    LLVMValueRef k = call1(em, "llvm.rint", fmul(em, x, fc(em, INV_2PI)));
    LLVMValueRef nk = LLVMBuildFNeg(em->b, k, "");
    LLVMValueRef r = fma3(em, nk, fc(em, TWO_PI_1), x);
    r = fma3(em, nk, fc(em, TWO_PI_2), r);
    r = fma3(em, nk, fc(em, TWO_PI_3), r);
    static const char *const sin_names[] = { "llvm.nvvm.sin.approx.ftz.f", NULL };
    static const char *const cos_names[] = { "llvm.nvvm.cos.approx.ftz.f", NULL };
    return em_call_intrinsic(em, is_sin ? sin_names : cos_names, NULL, 0, &r, 1);
}

/* log1p: for |x| < 0.5, 2 atanh(s) with s = x / (2 + x) (|s| <= 1/3), as the
 * odd series 2s (1 + s^2/3 + s^4/5 + ... + s^14/15); else log(1 + x), where
 * the rounding of 1 + x costs at most 2^-24 absolute on a log of at least 0.4. */
static LLVMValueRef log1p_f32(Emitter *em, LLVMValueRef x)
{
    double c[8];
    for (int n = 0; n < 8; n++)
        c[n] = (double)(float)(1.0 / (2 * n + 1));
    LLVMValueRef s = LLVMBuildFDiv(em->b, x, fadd(em, x, fc(em, 2.0)), "");
    LLVMValueRef series = fmul(em, fmul(em, s, fc(em, 2.0)), horner(em, fmul(em, s, s), c, 8));
    LLVMValueRef big = fmul(em, em_lg2(em, fadd(em, x, fc(em, 1.0))), fc(em, LN2));
    return sel(em, fcmp(em, LLVMRealOLT, fabs1(em, x), fc(em, 0.5)), series, big);
}

/* pow(x, y) = 2^(y log2|x|), with C's special cases: a negative base with an
 * odd integer exponent negates, with a non-integer one gives NaN (unless the
 * base is -inf); pow(x, 0), pow(1, y) and pow(-1, +-inf) are 1. */
static LLVMValueRef pow_f32(Emitter *em, LLVMValueRef x, LLVMValueRef y)
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef ax = fabs1(em, x);
    LLVMValueRef r = ex2_of_product(em, y, em_lg2(em, ax), NULL);
    LLVMValueRef y_int = fcmp(em, LLVMRealOEQ, call1(em, "llvm.rint", y), y);
    LLVMValueRef half = fmul(em, y, fc(em, 0.5));
    LLVMValueRef y_odd = LLVMBuildAnd(b, y_int, fcmp(em, LLVMRealONE, call1(em, "llvm.rint", half), half), "");
    LLVMValueRef x_neg = LLVMBuildICmp(b, LLVMIntSLT, LLVMBuildBitCast(b, x, em->t_i32, ""), em_i32(em, 0), "");
    r = sel(em, LLVMBuildAnd(b, x_neg, y_odd, ""), LLVMBuildFNeg(b, r, ""), r);
    LLVMValueRef finite_neg = LLVMBuildAnd(b, fcmp(em, LLVMRealOLT, x, fc(em, 0.0)),
                                           fcmp(em, LLVMRealOGT, x, fc(em, -0x1p+128)), "");
    LLVMValueRef nan = LLVMBuildAnd(b, finite_neg, LLVMBuildNot(b, y_int, ""), "");
    r = sel(em, nan, fc(em, __builtin_nan("")), r);
    LLVMValueRef one = LLVMBuildOr(b, fcmp(em, LLVMRealOEQ, y, fc(em, 0.0)), fcmp(em, LLVMRealOEQ, x, fc(em, 1.0)), "");
    LLVMValueRef unit_inf = LLVMBuildAnd(b, fcmp(em, LLVMRealOEQ, ax, fc(em, 1.0)),
                                         fcmp(em, LLVMRealOEQ, fabs1(em, y), fc(em, 0x1p+128)), "");
    return sel(em, LLVMBuildOr(b, one, unit_inf, ""), fc(em, 1.0), r);
}

LLVMValueRef em_math_f32(Emitter *em, TirOp op, LLVMValueRef x, LLVMValueRef y, DType dt)
{
    switch (op) {
    case TIR_TANH:
        if (dt == DT_F16)
            return tanh_approx(em, x); /* f16 has no subnormals below 2^-126 */
        return flush(em, dt == DT_BF16 ? tanh_approx(em, x) : tanh_accurate(em, x));
    case TIR_SIGMOID: return flush(em, sigmoid_f32(em, x));
    case TIR_ERF: return flush(em, erf_f32(em, x));
    case TIR_SIN: return sincos_f32(em, true, x);
    case TIR_COS: return sincos_f32(em, false, x);
    case TIR_FLOOR: return call1(em, "llvm.floor", x);
    case TIR_CEIL: return call1(em, "llvm.ceil", x);
    case TIR_ROUND: return call1(em, "llvm.rint", x);
    case TIR_LOG1P: return flush(em, log1p_f32(em, x));
    case TIR_EXPM1: return flush(em, expm1_f32(em, x));
    case TIR_POW: return pow_f32(em, x, y);
    default: tsr_die("codegen: math %s", tir_op_name(op));
    }
}
