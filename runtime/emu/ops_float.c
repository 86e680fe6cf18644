/* Floating-point instructions on f32, f64, f16, bf16 and their packed x2
 * forms: add sub mul fma mad div rcp sqrt rsqrt sin cos lg2 ex2 tanh abs neg
 * min max copysign testp. Correctly rounded operations use the host's IEEE
 * arithmetic where it matches (f32/f64 round-to-nearest) and fp.c elsewhere
 * (narrow formats, directed rounding, .ftz, .sat). Approximate instructions
 * use the host's libm, which is within the error the PTX ISA allows. f32
 * results that are NaN are the canonical NaN 0x7fffffff, as on the GPU. */
#include <math.h>
#include <string.h>

#include "emu_internal.h"

enum { FL_X2 = 1u << 30 };

enum { F_ADD, F_SUB, F_MUL, F_FMA, F_DIV, F_ABS, F_NEG, F_MIN, F_MAX, F_RCP, F_SQRT, F_RSQRT,
       F_SIN, F_COS, F_LG2, F_EX2, F_TANH, F_COPYSIGN, F_MAD };

static inline uint64_t canon32(float f) { return f != f ? 0x7fffffffu : f32_bits(f); }

/* ---- f32 and f64 in round-to-nearest: the host's arithmetic ---------------- */

static uint64_t f32_add(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return canon32(f32_of(a) + f32_of(b));
}
static uint64_t f32_sub(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return canon32(f32_of(a) - f32_of(b));
}
static uint64_t f32_mul(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return canon32(f32_of(a) * f32_of(b));
}
static uint64_t f32_fma(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return canon32(fmaf(f32_of(a), f32_of(b), f32_of(c)));
}
static uint64_t f64_add(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return f64_bits(f64_of(a) + f64_of(b));
}
static uint64_t f64_sub(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return f64_bits(f64_of(a) - f64_of(b));
}
static uint64_t f64_mul(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return f64_bits(f64_of(a) * f64_of(b));
}
static uint64_t f64_fma(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return f64_bits(fma(f64_of(a), f64_of(b), f64_of(c)));
}
static uint64_t f64_div(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return f64_bits(f64_of(a) / f64_of(b));
}

/* max/min .f32 without modifiers: the non-NaN operand, -0 below +0 */
static uint64_t f32_max(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    float x = f32_of(a), y = f32_of(b);
    if (x != x || y != y)
        return x != x && y != y ? 0x7fffffffu : (uint32_t)(x != x ? b : a);
    if (x == y)
        return (uint32_t)(signbit(x) ? b : a);
    return (uint32_t)(x > y ? a : b);
}
static uint64_t f32_min(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    float x = f32_of(a), y = f32_of(b);
    if (x != x || y != y)
        return x != x && y != y ? 0x7fffffffu : (uint32_t)(x != x ? b : a);
    if (x == y)
        return (uint32_t)(signbit(x) ? a : b);
    return (uint32_t)(x < y ? a : b);
}
/* ex2.approx[.ftz].f32: exp2 of the (flushed) input, rounded once */
static uint64_t f32_ex2(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    if (in->ftz && !(a & 0x7f800000u))
        a &= 0x80000000u;
    float r = (float)exp2((double)f32_of(a));
    uint32_t v = r != r ? 0x7fffffffu : f32_bits(r);
    return in->ftz && !(v & 0x7f800000u) ? v & 0x80000000u : v;
}

/* The same with .ftz: subnormal inputs and results become signed zeros. */
static inline uint32_t ftz32(uint64_t v) { return (v & 0x7f800000u) ? (uint32_t)v : (uint32_t)v & 0x80000000u; }
static uint64_t f32_add_ftz(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return ftz32(canon32(f32_of(ftz32(a)) + f32_of(ftz32(b))));
}
static uint64_t f32_sub_ftz(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return ftz32(canon32(f32_of(ftz32(a)) - f32_of(ftz32(b))));
}
static uint64_t f32_mul_ftz(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return ftz32(canon32(f32_of(ftz32(a)) * f32_of(ftz32(b))));
}
static uint64_t f32_fma_ftz(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return ftz32(canon32(fmaf(f32_of(ftz32(a)), f32_of(ftz32(b)), f32_of(ftz32(c)))));
}
static uint64_t f32_max_ftz(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return f32_max(in, ftz32(a), ftz32(b), c);
}
static uint64_t f32_min_ftz(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return f32_min(in, ftz32(a), ftz32(b), c);
}

EMU_ALU_EXEC(f32_add)
EMU_ALU_EXEC(f32_add_ftz)
EMU_ALU_EXEC(f32_sub_ftz)
EMU_ALU_EXEC(f32_mul_ftz)
EMU_ALU_EXEC(f32_fma_ftz)
EMU_ALU_EXEC(f32_max_ftz)
EMU_ALU_EXEC(f32_min_ftz)
EMU_ALU_EXEC(f32_sub)
EMU_ALU_EXEC(f32_mul)
EMU_ALU_EXEC(f32_fma)
EMU_ALU_EXEC(f32_max)
EMU_ALU_EXEC(f32_min)
EMU_ALU_EXEC(f32_ex2)

/* ---- the general path: one element of format fmt ------------------------------- */

static uint64_t elem_mask(int fmt) { return width_mask(emu_fp_bits(fmt)); }

static uint64_t sat01(int fmt, uint64_t v)
{
    double x = emu_fp_to_double(fmt, v);
    if (x != x || x <= 0)
        return 0;
    if (x >= 1)
        return emu_fp_from_double(fmt, 1.0, 0, RND_RN, false);
    return v;
}

static uint64_t post(const Insn *in, int fmt, uint64_t r)
{
    if (in->ftz)
        r = emu_fp_flush(fmt, r);
    if (in->sat)
        r = sat01(fmt, r);
    if ((in->flags & MF_RELU) && !emu_fp_is_nan(fmt, r) && (r >> (emu_fp_bits(fmt) - 1)) & 1)
        r = 0;
    return r;
}

static double in_val(const Insn *in, int fmt, uint64_t v)
{
    v &= elem_mask(fmt);
    return emu_fp_to_double(fmt, in->ftz ? emu_fp_flush(fmt, v) : v);
}

/* The sign of an exact zero sum in round-toward-minus-infinity: -0 unless
 * both addends are +0. */
static double rm_zero(double x, double y)
{
    return (x == 0 && y == 0 && !signbit(x) && !signbit(y)) ? 0.0 : -0.0;
}

static uint64_t arith1(const Insn *in, int fmt, uint64_t a, uint64_t b, uint64_t c)
{
    static const int fops[] = {[F_ADD] = FOP_ADD, [F_SUB] = FOP_SUB, [F_MUL] = FOP_MUL,
                               [F_FMA] = FOP_FMA, [F_DIV] = FOP_DIV, [F_SQRT] = FOP_SQRT,
                               [F_RCP] = FOP_DIV};
    double x = in_val(in, fmt, a), y = in_val(in, fmt, b), z = in_val(in, fmt, c);
    if (in->sub == F_RCP) {
        y = x;
        x = 1.0;
    }
    double s;
    int r, scale = 0;
    if (!emu_fp_exact_op(fops[in->sub], x, y, z, &s, &r))
        tsr_die("inexact operation reached arith1");
    if (fmt == FMT_F64 && (in->sub == F_MUL || in->sub == F_DIV || in->sub == F_RCP) &&
        isfinite(x) && isfinite(y) && x != 0 && y != 0) {
        /* Products and quotients of doubles can under- or overflow, and then
           their residual is not exact: compute them on the significands and
           apply the exponents when rounding. */
        int ex = ilogb(x), ey = ilogb(y);
        x = ldexp(x, -ex);
        y = ldexp(y, -ey);
        scale = in->sub == F_MUL ? ex + ey : ex - ey;
        emu_fp_exact_op(fops[in->sub], x, y, z, &s, &r);
    } else if (fmt == FMT_F64 && in->sub == F_SQRT && isfinite(x) && x > 0) {
        int ex = ilogb(x);
        ex -= ex & 1; /* even, so that the root's exponent is exact */
        x = ldexp(x, -ex);
        scale = ex / 2;
        emu_fp_exact_op(FOP_SQRT, x, y, z, &s, &r);
    }
    int rnd = in->rnd == RND_NONE ? RND_RN : in->rnd;
    bool by_zero = (in->sub == F_DIV || in->sub == F_RCP) && y == 0;
    if (isinf(s) && isfinite(x) && isfinite(y) && isfinite(z) && !by_zero) {
        /* the double computation overflowed: round the huge exact value */
        return post(in, fmt, emu_fp_round(fmt, signbit(s) != 0, 1, 4096, rnd, false));
    }
    if (s == 0 && r == 0 && rnd == RND_RM) {
        if (in->sub == F_ADD)
            s = rm_zero(x, y);
        else if (in->sub == F_SUB)
            s = rm_zero(x, -y);
        else if (in->sub == F_FMA)
            s = rm_zero(x * y, z);
    }
    return post(in, fmt, emu_fp_from_double_scaled(fmt, s, r, scale, rnd, false));
}

/* min/max with .NaN and .xorsign.abs; -0 orders below +0. */
static uint64_t minmax1(const Insn *in, int fmt, uint64_t a, uint64_t b)
{
    if (fmt == FMT_F32 && !in->ftz && !(in->flags & (MF_NAN | MF_XORSIGN))) {
        float x = f32_of(a), y = f32_of(b);
        if (x != x || y != y)
            return x != x && y != y ? 0x7fffffffu : (uint32_t)(x != x ? b : a);
        bool pick_a = x == y ? (in->sub == F_MAX) != (signbit(x) != 0) : (in->sub == F_MAX) == (x > y);
        return (uint32_t)(pick_a ? a : b);
    }
    a &= elem_mask(fmt);
    b &= elem_mask(fmt);
    if (in->ftz) {
        a = emu_fp_flush(fmt, a);
        b = emu_fp_flush(fmt, b);
    }
    uint64_t sbit = 1ull << (emu_fp_bits(fmt) - 1);
    uint64_t xsign = 0;
    if (in->flags & MF_XORSIGN) {
        xsign = (a ^ b) & sbit;
        a &= ~sbit;
        b &= ~sbit;
    }
    double x = emu_fp_to_double(fmt, a), y = emu_fp_to_double(fmt, b);
    bool nx = x != x, ny = y != y;
    if (nx || ny) {
        if ((nx && ny) || (in->flags & MF_NAN))
            return emu_fp_canonical_nan(fmt);
        return (nx ? b : a) | xsign;
    }
    bool max = in->sub == F_MAX;
    bool pick_a;
    if (x == y)
        pick_a = max ? !signbit(x) : signbit(x);
    else
        pick_a = max ? x > y : x < y;
    return post(in, fmt, (pick_a ? a : b) | xsign);
}

static uint64_t unary1(const Insn *in, int fmt, uint64_t a)
{
    uint64_t sbit = 1ull << (emu_fp_bits(fmt) - 1);
    a &= elem_mask(fmt);
    if (in->ftz)
        a = emu_fp_flush(fmt, a);
    switch (in->sub) {
    case F_ABS: return a & ~sbit;
    case F_NEG: return a ^ sbit;
    default: break;
    }
    double x = emu_fp_to_double(fmt, a), v;
    switch (in->sub) {
    case F_RSQRT: v = 1.0 / sqrt(x); break;
    case F_SIN: v = sin(x); break;
    case F_COS: v = cos(x); break;
    case F_LG2: v = log2(x); break;
    case F_EX2: v = exp2(x); break;
    case F_TANH: v = tanh(x); break;
    case F_SQRT: v = sqrt(x); break; /* .approx */
    case F_RCP: v = 1.0 / x; break;  /* .approx */
    default: tsr_unreachable();
    }
    if (fmt == FMT_F32) {
        float f = (float)v;
        return post(in, fmt, f != f ? 0x7fffffffu : f32_bits(f));
    }
    return post(in, fmt, emu_fp_from_double(fmt, v, 0, RND_RN, false));
}

static uint64_t div_approx1(const Insn *in, int fmt, uint64_t a, uint64_t b)
{
    double x = in_val(in, fmt, a), y = in_val(in, fmt, b);
    return post(in, fmt, emu_fp_from_double(fmt, x / y, 0, RND_RN, false));
}

/* One element of the operation in->sub. */
static uint64_t float1(const Insn *in, int fmt, uint64_t a, uint64_t b, uint64_t c)
{
    switch (in->sub) {
    case F_MIN:
    case F_MAX: return minmax1(in, fmt, a, b);
    case F_ADD:
    case F_SUB:
    case F_MUL:
    case F_FMA: return arith1(in, fmt, a, b, c);
    case F_DIV:
        return (in->mode == 1) ? div_approx1(in, fmt, a, b) : arith1(in, fmt, a, b, c);
    case F_SQRT:
    case F_RCP: return in->mode == 1 ? unary1(in, fmt, a) : arith1(in, fmt, a, b, c);
    default: return unary1(in, fmt, a);
    }
}

static uint64_t alu_float(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    int fmt = in->fmt;
    if (!(in->flags & FL_X2))
        return float1(in, fmt, a, b, c);
    uint64_t lo = float1(in, fmt, a & 0xffff, b & 0xffff, c & 0xffff);
    uint64_t hi = float1(in, fmt, (a >> 16) & 0xffff, (b >> 16) & 0xffff, (c >> 16) & 0xffff);
    return hi << 16 | lo;
}

static uint64_t alu_copysign(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t sbit = 1ull << (in->bits - 1);
    return (b & ~sbit) | (a & sbit);
}

/* testp.op.type p, a */
static int exec_testp(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_src(w, in, &in->op[1], mask))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[1]);
    uint32_t r = 0;
    FOR_LANES(l, mask) {
        double x = emu_fp_to_double(in->fmt, a[l]);
        bool v;
        switch (in->mode) {
        case TESTP_FINITE: v = isfinite(x); break;
        case TESTP_INFINITE: v = isinf(x); break;
        case TESTP_NUMBER: v = !isnan(x); break;
        case TESTP_NOTANUMBER: v = isnan(x); break;
        case TESTP_NORMAL: v = isfinite(x) && x != 0 && !emu_fp_is_subnormal(in->fmt, a[l]); break;
        default: v = emu_fp_is_subnormal(in->fmt, a[l]); break;
        }
        r |= (uint32_t)v << l;
    }
    pred_set(w, in->op[0].idx, mask, r);
    return 0;
}

/* ---- decoding ---------------------------------------------------------------- */

static int fmt_of(int ty)
{
    switch (ty) {
    case TY_F16:
    case TY_F16X2: return FMT_F16;
    case TY_BF16:
    case TY_BF16X2: return FMT_BF16;
    case TY_F64: return FMT_F64;
    default: return FMT_F32;
    }
}

/* The float operation named n, or -1 for an integer instruction given a float type (and.f32). */
static int op_of_name(const char *n)
{
    static const struct { const char *n; int op; } tab[] = {
        {"add", F_ADD}, {"sub", F_SUB}, {"mul", F_MUL}, {"fma", F_FMA}, {"mad", F_MAD},
        {"div", F_DIV}, {"abs", F_ABS}, {"neg", F_NEG}, {"min", F_MIN}, {"max", F_MAX},
        {"rcp", F_RCP}, {"sqrt", F_SQRT}, {"rsqrt", F_RSQRT}, {"sin", F_SIN}, {"cos", F_COS},
        {"lg2", F_LG2}, {"ex2", F_EX2}, {"tanh", F_TANH}, {"copysign", F_COPYSIGN},
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(tab); i++)
        if (strcmp(tab[i].n, n) == 0)
            return tab[i].op;
    return -1;
}

#define TYS_F32_64 (TYB(TY_F32) | TYB(TY_F64))
#define TYS_HALF (TYB(TY_F16) | TYB(TY_F16X2) | TYB(TY_BF16) | TYB(TY_BF16X2))

/* A specialised operation and its loop for the common cases, or NULL. */
static AluFn fast_fn(const Insn *in, ExecFn *exec)
{
    bool rn = in->rnd == RND_NONE || in->rnd == RND_RN;
    *exec = emu_exec_alu;
    if (in->ty == TY_F32 && in->sub == F_EX2 && !in->sat) {
        *exec = exec_f32_ex2;
        return f32_ex2;
    }
    if (in->ty == TY_F32 && (in->sub == F_MAX || in->sub == F_MIN) &&
        !(in->flags & (MF_NAN | MF_XORSIGN))) {
        bool mx = in->sub == F_MAX;
        if (in->ftz) {
            *exec = mx ? exec_f32_max_ftz : exec_f32_min_ftz;
            return mx ? f32_max_ftz : f32_min_ftz;
        }
        *exec = mx ? exec_f32_max : exec_f32_min;
        return mx ? f32_max : f32_min;
    }
    if (!rn || in->sat || (in->flags & MF_RELU))
        return NULL;
    if (in->ty == TY_F32 && in->ftz) {
        switch (in->sub) {
        case F_ADD: *exec = exec_f32_add_ftz; return f32_add_ftz;
        case F_SUB: *exec = exec_f32_sub_ftz; return f32_sub_ftz;
        case F_MUL: *exec = exec_f32_mul_ftz; return f32_mul_ftz;
        case F_FMA: *exec = exec_f32_fma_ftz; return f32_fma_ftz;
        default: return NULL;
        }
    }
    if (in->ftz)
        return NULL;
    if (in->ty == TY_F32) {
        switch (in->sub) {
        case F_ADD: *exec = exec_f32_add; return f32_add;
        case F_SUB: *exec = exec_f32_sub; return f32_sub;
        case F_MUL: *exec = exec_f32_mul; return f32_mul;
        case F_FMA: *exec = exec_f32_fma; return f32_fma;
        default: return NULL;
        }
    }
    if (in->ty == TY_F64) {
        switch (in->sub) {
        case F_ADD: return f64_add;
        case F_SUB: return f64_sub;
        case F_MUL: return f64_mul;
        case F_FMA: return f64_fma;
        case F_DIV: return in->mode == 1 ? NULL : f64_div;
        default: return NULL;
        }
    }
    return NULL;
}

int emu_decode_float(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int op = op_of_name(d->opname), ty;
    uint64_t types;
    uint32_t flags = 0;
    int nsrc = 1;
    bool rnd_ok = false;
    if (op < 0)
        return emu_dec_error(d, s, "'%s' does not take a floating-point type", d->opname);
    switch (op) {
    case F_ADD:
    case F_SUB:
    case F_MUL:
        types = TYS_F32_64 | TYS_HALF;
        flags = MF_FTZ | MF_SAT;
        nsrc = 2;
        rnd_ok = true;
        break;
    case F_MAD:
    case F_FMA:
        types = TYS_F32_64 | TYS_HALF;
        flags = MF_FTZ | MF_SAT | MF_RELU;
        nsrc = 3;
        rnd_ok = true;
        op = F_FMA;
        break;
    case F_DIV:
        types = TYS_F32_64;
        flags = MF_FTZ | MF_APPROX | MF_FULL;
        nsrc = 2;
        rnd_ok = true;
        break;
    case F_ABS:
    case F_NEG:
        types = TYS_F32_64 | TYS_HALF;
        flags = MF_FTZ;
        break;
    case F_MIN:
    case F_MAX:
        types = TYS_F32_64 | TYS_HALF;
        flags = MF_FTZ | MF_NAN | MF_XORSIGN | MF_ABS;
        nsrc = 2;
        break;
    case F_RCP:
    case F_SQRT:
        types = TYS_F32_64;
        flags = MF_FTZ | MF_APPROX;
        rnd_ok = true;
        break;
    case F_RSQRT:
    case F_SIN:
    case F_COS:
    case F_LG2:
        types = op == F_RSQRT ? TYS_F32_64 : TYB(TY_F32);
        flags = MF_FTZ | MF_APPROX;
        break;
    case F_EX2:
    case F_TANH:
        types = TYB(TY_F32) | TYS_HALF;
        flags = MF_FTZ | MF_APPROX;
        break;
    case F_COPYSIGN:
        types = TYS_F32_64;
        nsrc = 2;
        break;
    default: tsr_unreachable();
    }
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | (rnd_ok ? MCB(MC_RND) : 0), flags) ||
        emu_dec_type(d, s, m, types, &ty))
        return -1;
    int rnd = m->rnd;
    if (rnd && rnd != RND_RN && rnd != RND_RZ && rnd != RND_RM && rnd != RND_RP)
        return emu_dec_error(d, s, "rounding modifier '.%s' is not allowed here", m->text[MC_RND]);
    bool half = (TYB(ty) & TYS_HALF) != 0;
    if (half && rnd && rnd != RND_RN)
        return emu_dec_error(d, s, "only .rn rounding is supported on .%s", emu_types[ty].name);
    if ((m->flags & MF_XORSIGN) && !(m->flags & MF_ABS))
        return emu_dec_error(d, s, ".xorsign needs .abs");
    if (ty == TY_F64 && (m->flags & (MF_FTZ | MF_SAT)) &&
        !((op == F_RCP || op == F_RSQRT) && (m->flags & MF_APPROX)))
        return emu_dec_error(d, s, ".ftz and .sat are not allowed on .f64");
    if (op == F_FMA && ty == TY_F64 && rnd && rnd != RND_RN)
        return emu_dec_error(d, s, "fma.f64 with directed rounding is not supported by the emulator");
    if ((op == F_FMA && s->opcode[0] == 'f') && !rnd)
        return emu_dec_error(d, s, "fma needs a rounding modifier");
    if ((op == F_DIV || op == F_RCP || op == F_SQRT) && !(m->flags & (MF_APPROX | MF_FULL)) && !rnd)
        return emu_dec_error(d, s, "needs .approx, .full or a rounding modifier");
    if ((m->flags & (MF_APPROX | MF_FULL)) && rnd)
        return emu_dec_error(d, s, "rounding modifier with .approx/.full");
    if ((op == F_EX2 || op == F_TANH || op == F_RSQRT || op == F_SIN || op == F_COS || op == F_LG2) &&
        !(m->flags & MF_APPROX))
        return emu_dec_error(d, s, "needs .approx");
    if ((m->flags & MF_FTZ) && (ty == TY_BF16 || ty == TY_BF16X2) && op != F_EX2)
        return emu_dec_error(d, s, ".ftz is not allowed on .%s", emu_types[ty].name);
    int types3[3] = {ty, nsrc >= 2 ? ty : TY_NONE, nsrc >= 3 ? ty : TY_NONE};
    if (emu_dec_alu(d, s, in, alu_float, ty, ty, types3[0], types3[1], types3[2]))
        return -1;
    in->sub = (uint8_t)op;
    in->rnd = (uint8_t)rnd;
    in->fmt = (uint8_t)fmt_of(ty);
    in->ftz = (m->flags & MF_FTZ) != 0;
    in->sat = (m->flags & MF_SAT) != 0;
    in->flags = (m->flags & (MF_RELU | MF_NAN | MF_XORSIGN)) |
                ((ty == TY_F16X2 || ty == TY_BF16X2) ? FL_X2 : 0);
    in->mode = (uint8_t)((m->flags & (MF_APPROX | MF_FULL)) ? 1 : 0);
    ExecFn exec;
    AluFn fast = fast_fn(in, &exec);
    if (op == F_COPYSIGN) {
        in->alu = alu_copysign;
    } else if (fast) {
        in->alu = fast;
        in->exec = exec;
    }
    return 0;
}

static int decode_testp(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_TESTP), 0) ||
        emu_dec_type(d, s, m, TYS_F32_64, &ty) || emu_dec_nops(d, s, 2, 2) ||
        emu_dec_pred_dst(d, s, &s->ops[0], &in->op[0]) || emu_dec_src(d, s, &s->ops[1], ty, &in->op[1]))
        return -1;
    if (!m->testp)
        return emu_dec_error(d, s, "testp needs an operation");
    in->nops = 2;
    in->ty = (uint8_t)ty;
    in->fmt = (uint8_t)fmt_of(ty);
    in->mode = m->testp;
    in->exec = exec_testp;
    return 0;
}

static int decode_float_only(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    return emu_decode_float(d, s, m, in);
}

const OpDesc emu_ops_float[] = {
    {"fma", decode_float_only, 0},   {"rcp", decode_float_only, 0},
    {"sqrt", decode_float_only, 0},  {"rsqrt", decode_float_only, 0},
    {"sin", decode_float_only, 0},   {"cos", decode_float_only, 0},
    {"lg2", decode_float_only, 0},   {"ex2", decode_float_only, 0},
    {"tanh", decode_float_only, 0},  {"copysign", decode_float_only, 0},
    {"testp", decode_testp, 0},      {NULL, NULL, 0},
};
