/* Elementwise semantics of TIR (see tir_eval.h). Integer arithmetic wraps;
 * integer division by zero gives -1 (remainder: the dividend), which is what
 * the GPU's div.s32 gives too; float min/max ignore a NaN operand. The math
 * functions are computed in double, rounded to f32 once, and flushed: a
 * result below 2^-126 in magnitude is a zero of its sign, the rule of every
 * device (dsl/README.md §10.1); exp, exp2, log, log2, sqrt and rsqrt keep
 * their f32 C library forms. */
#include "tir_eval.h"

#include <math.h>
#include <string.h>

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

/* Integer division and remainder on values of dtype dt (see int_wrap): a
 * zero divisor gives all bits set (-1, or the largest unsigned value) and
 * the dividend as remainder; the most negative value over -1 gives itself. */
static int64_t int_div(int64_t a, int64_t b, DType dt)
{
    if (b == 0)
        return int_wrap(-1, dt);
    if (!dtype_is_signed(dt))
        return (int64_t)((uint64_t)a / (uint64_t)b);
    if (b == -1)
        return int_wrap((int64_t)(0 - (uint64_t)a), dt);
    return a / b;
}

static int64_t int_rem(int64_t a, int64_t b, DType dt)
{
    if (b == 0)
        return a;
    if (!dtype_is_signed(dt))
        return (int64_t)((uint64_t)a % (uint64_t)b);
    if (b == -1)
        return 0;
    return a % b;
}

/* Shifts: the count is taken as an unsigned number of the dtype; a count of
 * the width or more shifts everything out (0, or -1 for a negative signed
 * value shifted right), as PTX's shl/shr do for large counts. */
static int64_t int_shift(bool left, int64_t a, int64_t b, DType dt)
{
    int bits = dtype_bits(dt);
    uint64_t count = bits >= 64 ? (uint64_t)b : (uint64_t)b & ((UINT64_C(1) << bits) - 1);
    if (count >= (uint64_t)bits)
        return !left && dtype_is_signed(dt) && a < 0 ? -1 : 0;
    if (left)
        return int_wrap((int64_t)((uint64_t)a << count), dt);
    if (dtype_is_signed(dt))
        return a >> count; /* arithmetic: gcc and clang define it */
    return (int64_t)((uint64_t)a >> count);
}

static int64_t wrap_u(uint64_t v, DType dt)
{
    int64_t r;
    memcpy(&r, &v, sizeof r);
    return int_wrap(r, dt);
}

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
        int64_t x = a[k].i, y = b[k].i;
        switch (op) {
        case TIR_ADD: out[k].i = wrap_u((uint64_t)x + (uint64_t)y, dt); break;
        case TIR_SUB: out[k].i = wrap_u((uint64_t)x - (uint64_t)y, dt); break;
        case TIR_MUL: out[k].i = wrap_u((uint64_t)x * (uint64_t)y, dt); break;
        case TIR_DIV: out[k].i = int_div(x, y, dt); break;
        case TIR_REM: out[k].i = int_rem(x, y, dt); break;
        case TIR_MIN: out[k].i = x < y ? x : y; break; /* values are normalized: */
        case TIR_MAX: out[k].i = x > y ? x : y; break; /* unsigned ones are >= 0 */
        case TIR_AND: out[k].i = x & y; break;
        case TIR_OR: out[k].i = x | y; break;
        case TIR_XOR: out[k].i = x ^ y; break;
        case TIR_SHL: out[k].i = int_shift(true, x, y, dt); break;
        case TIR_SHR: out[k].i = int_shift(false, x, y, dt); break;
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

/* Float to an integer dtype as cvt.rzi.sat does: truncate, saturate to the
 * dtype's range, NaN to 0. */
static int64_t float_to_int(float x, DType to)
{
    if (x != x)
        return 0;
    int bits = dtype_bits(to);
    double lo = dtype_is_signed(to) ? -ldexp(1.0, bits - 1) : 0.0;
    double hi = dtype_is_signed(to) ? ldexp(1.0, bits - 1) : ldexp(1.0, bits); /* exclusive */
    double t = trunc((double)x);
    if (t <= lo)
        return (int64_t)lo;
    if (t >= hi)
        return bits == 64 ? INT64_MAX : (int64_t)(hi - 1);
    return (int64_t)t;
}

static TirElem cast_elem(TirElem v, DType from, DType to)
{
    TirElem r;
    if (dtype_is_float(from)) {
        if (dtype_is_float(to))
            r.f = round_f(v.f, to);
        else if (to == DT_BOOL)
            r.i = v.f != 0;
        else
            r.i = float_to_int(v.f, to);
    } else if (dtype_is_float(to)) {
        r.f = round_f((float)v.i, to); /* int64 to float rounds once, to nearest */
    } else if (to == DT_BOOL) {
        r.i = v.i != 0;
    } else {
        r.i = int_wrap(v.i, to);
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
            int64_t x = a[k].i;
            switch (op) {
            case TIR_NEG: out[k].i = wrap_u(0 - (uint64_t)x, dt); break;
            case TIR_NOT: out[k].i = dt == DT_BOOL ? !x : int_wrap(~x, dt); break;
            case TIR_ABS: out[k].i = x < 0 ? wrap_u(0 - (uint64_t)x, dt) : x; break;
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
        e.i = in->ival;
    return e;
}
