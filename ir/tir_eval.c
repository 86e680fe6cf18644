/* Elementwise semantics of TIR (see tir_eval.h). Integer arithmetic wraps;
 * integer division by zero gives -1 (remainder: the dividend), which is what
 * the GPU's div.s32 gives too; float min/max ignore a NaN operand. The math
 * functions are computed in double, rounded to f32 once, and flushed: a
 * result below 2^-126 in magnitude is a zero of its sign, the rule of every
 * device (dsl/README.md §10.1); exp, exp2, log, log2, sqrt and rsqrt keep
 * their f32 C library forms. */
#include "tir_eval.h"

#include <math.h>

static float round_f(float v, DType dt) { return dt == DT_F32 ? v : round_to_dtype(v, dt); }

/* A subnormal f32 result becomes a zero of its sign. */
static float flush_subnormal(float r) { return fabsf(r) < 0x1p-126f ? copysignf(0.0f, r) : r; }

/* max and min as max.f32/min.f32 do them (and the manual says): a NaN
 * operand, quiet or signalling, gives the other one; -0 is below +0. */
static float max_f(float x, float y)
{
    if (x != x || y != y)
        return x != x ? y : x;
    if (x == y)
        return signbit(x) ? y : x;
    return x > y ? x : y;
}

static float min_f(float x, float y)
{
    if (x != x || y != y)
        return x != x ? y : x;
    if (x == y)
        return signbit(x) ? x : y;
    return x < y ? x : y;
}

/* pow as C's pow (pow(x, 0) = 1 and pow(1, y) = 1 even for NaN; a negative
 * base needs an integer exponent, else NaN). */
static float pow_f(float x, float y) { return flush_subnormal((float)pow((double)x, (double)y)); }

static int32_t int_div(int32_t a, int32_t b)
{
    if (b == 0)
        return -1;
    if (a == INT32_MIN && b == -1)
        return INT32_MIN;
    return a / b;
}

static int32_t int_rem(int32_t a, int32_t b)
{
    if (b == 0)
        return a;
    if (b == -1)
        return 0;
    return a % b;
}

static int32_t wrap(uint32_t v) { return (int32_t)v; }

void tir_eval_binary(TirOp op, DType dt, int64_t n, const TirElem *a, const TirElem *b, TirElem *out)
{
    if (dtype_is_float(dt)) {
        for (int64_t k = 0; k < n; k++) {
            float x = a[k].f, y = b[k].f;
            switch (op) {
            case TIR_ADD: out[k].f = round_f(x + y, dt); break;
            case TIR_SUB: out[k].f = round_f(x - y, dt); break;
            case TIR_MUL: out[k].f = round_f(x * y, dt); break;
            case TIR_DIV: out[k].f = round_f(x / y, dt); break;
            case TIR_MIN: out[k].f = min_f(x, y); break;
            case TIR_MAX: out[k].f = max_f(x, y); break;
            case TIR_POW: out[k].f = round_f(pow_f(x, y), dt); break;
            case TIR_EQ: out[k].i = x == y; break;
            case TIR_NE: out[k].i = x != y; break;
            case TIR_LT: out[k].i = x < y; break;
            case TIR_LE: out[k].i = x <= y; break;
            case TIR_GT: out[k].i = x > y; break;
            case TIR_GE: out[k].i = x >= y; break;
            default: tsr_die("binary op %s on %s", tir_op_name(op), dtype_name(dt));
            }
        }
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        int32_t x = a[k].i, y = b[k].i;
        switch (op) {
        case TIR_ADD: out[k].i = wrap((uint32_t)x + (uint32_t)y); break;
        case TIR_SUB: out[k].i = wrap((uint32_t)x - (uint32_t)y); break;
        case TIR_MUL: out[k].i = wrap((uint32_t)x * (uint32_t)y); break;
        case TIR_DIV: out[k].i = int_div(x, y); break;
        case TIR_REM: out[k].i = int_rem(x, y); break;
        case TIR_MIN: out[k].i = x < y ? x : y; break;
        case TIR_MAX: out[k].i = x > y ? x : y; break;
        case TIR_AND: out[k].i = x && y; break;
        case TIR_OR: out[k].i = x || y; break;
        case TIR_EQ: out[k].i = x == y; break;
        case TIR_NE: out[k].i = x != y; break;
        case TIR_LT: out[k].i = x < y; break;
        case TIR_LE: out[k].i = x <= y; break;
        case TIR_GT: out[k].i = x > y; break;
        case TIR_GE: out[k].i = x >= y; break;
        default: tsr_die("binary op %s on %s", tir_op_name(op), dtype_name(dt));
        }
    }
}

/* Float to i32 as cvt.rzi.s32.f32: truncate, saturate, NaN to 0. */
static int32_t float_to_i32(float x)
{
    if (x != x)
        return 0;
    if (x >= 2147483648.0f)
        return INT32_MAX;
    if (x <= -2147483648.0f)
        return INT32_MIN;
    return (int32_t)x;
}

static TirElem cast_elem(TirElem v, DType from, DType to)
{
    TirElem r;
    if (dtype_is_float(from)) {
        if (dtype_is_float(to))
            r.f = round_f(v.f, to);
        else if (to == DT_I32)
            r.i = float_to_i32(v.f);
        else
            r.i = v.f != 0;
    } else if (dtype_is_float(to)) {
        r.f = round_f((float)v.i, to);
    } else if (to == DT_BOOL) {
        r.i = v.i != 0;
    } else {
        r.i = v.i;
    }
    return r;
}

void tir_eval_unary(TirOp op, DType dt, DType to, int64_t n, const TirElem *a, TirElem *out)
{
    if (op == TIR_CAST) {
        for (int64_t k = 0; k < n; k++)
            out[k] = cast_elem(a[k], dt, to);
        return;
    }
    if (!dtype_is_float(dt)) {
        for (int64_t k = 0; k < n; k++) {
            int32_t x = a[k].i;
            switch (op) {
            case TIR_NEG: out[k].i = wrap(0u - (uint32_t)x); break;
            case TIR_NOT: out[k].i = !x; break;
            case TIR_ABS: out[k].i = x < 0 ? wrap(0u - (uint32_t)x) : x; break;
            default: tsr_die("unary op %s on %s", tir_op_name(op), dtype_name(dt));
            }
        }
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        float x = a[k].f;
        double d = x;
        float r;
        switch (op) {
        case TIR_NEG: r = -x; break;
        case TIR_ABS: r = fabsf(x); break;
        case TIR_EXP: r = expf(x); break;
        case TIR_EXP2: r = exp2f(x); break;
        case TIR_LOG: r = logf(x); break;
        case TIR_LOG2: r = log2f(x); break;
        case TIR_SQRT: r = sqrtf(x); break;
        case TIR_RSQRT: r = 1.0f / sqrtf(x); break;
        case TIR_TANH: r = (float)tanh(d); break;
        case TIR_SIGMOID: r = (float)(1.0 / (1.0 + exp(-d))); break;
        case TIR_ERF: r = (float)erf(d); break;
        case TIR_SIN: r = (float)sin(d); break;
        case TIR_COS: r = (float)cos(d); break;
        case TIR_FLOOR: r = floorf(x); break;
        case TIR_CEIL: r = ceilf(x); break;
        case TIR_ROUND: r = nearbyintf(x); break; /* ties to even: the default rounding mode */
        case TIR_LOG1P: r = (float)log1p(d); break;
        case TIR_EXPM1: r = (float)expm1(d); break;
        default: tsr_die("unary op %s on %s", tir_op_name(op), dtype_name(dt));
        }
        if (tir_op_is_math(op))
            r = flush_subnormal(r);
        out[k].f = round_f(r, dt);
    }
}

TirElem tir_const_elem(const TirInst *in, DType dt)
{
    TirElem e;
    if (dtype_is_float(dt))
        e.f = (float)in->fval;
    else
        e.i = (int32_t)in->ival;
    return e;
}
