/* Bit-exact floating-point rounding for the emulator. Every conversion and
 * every operation whose rounding differs from the host's (f16, bf16, fp8,
 * tf32, directed rounding modes, .satfinite) goes through emu_fp_round: the exact
 * value as an integer times a power of two, rounded once to the target format.
 * Operations are computed in double with the sign of the rounding error kept
 * (emu_fp_exact_op), which makes single rounding to the narrower format exact. */
#include <math.h>
#include <string.h>

#include "emu_internal.h"

typedef struct {
    int ebits, mbits, bias;
    bool has_inf;   /* IEEE-like: the top exponent holds inf and NaN */
    int width;      /* bits in the encoding (tf32 is encoded as f32) */
    uint64_t nan;   /* canonical NaN */
} FmtDesc;

static const FmtDesc fmts[FMT_COUNT] = {
    [FMT_F16] = {5, 10, 15, true, 16, 0x7fff},
    [FMT_BF16] = {8, 7, 127, true, 16, 0x7fff},
    [FMT_TF32] = {8, 10, 127, true, 32, 0x7fffffff},
    [FMT_F32] = {8, 23, 127, true, 32, 0x7fffffff},
    [FMT_F64] = {11, 52, 1023, true, 64, 0x7fffffffffffffffull},
    [FMT_E4M3] = {4, 3, 7, false, 8, 0x7f},
    [FMT_E5M2] = {5, 2, 15, true, 8, 0x7f},
};

int emu_fp_bits(int fmt) { return fmts[fmt].width; }
uint64_t emu_fp_canonical_nan(int fmt) { return fmts[fmt].nan; }

/* Encodes sign, biased exponent field and mantissa. tf32 uses f32's layout. */
static uint64_t encode(int fmt, int sign, uint64_t field, uint64_t mant)
{
    const FmtDesc *f = &fmts[fmt];
    if (fmt == FMT_TF32)
        return (uint64_t)sign << 31 | field << 23 | mant << 13;
    return (uint64_t)sign << (f->width - 1) | field << f->mbits | mant;
}

static uint64_t max_finite(int fmt, int sign)
{
    const FmtDesc *f = &fmts[fmt];
    if (!f->has_inf) /* e4m3: S.1111.110 */
        return encode(fmt, sign, (1u << f->ebits) - 1, (1u << f->mbits) - 2);
    return encode(fmt, sign, (1u << f->ebits) - 2, (1ull << f->mbits) - 1);
}

static uint64_t infinity(int fmt, int sign, bool satfinite)
{
    const FmtDesc *f = &fmts[fmt];
    if (satfinite)
        return max_finite(fmt, sign);
    if (!f->has_inf)
        return encode(fmt, sign, (1u << f->ebits) - 1, (1u << f->mbits) - 1); /* NaN */
    return encode(fmt, sign, (1u << f->ebits) - 1, 0);
}

static uint64_t overflow(int fmt, int sign, int rnd, bool satfinite)
{
    bool to_inf;
    switch (rnd) {
    case RND_RZ: to_inf = false; break;
    case RND_RM: to_inf = sign; break;
    case RND_RP: to_inf = !sign; break;
    default: to_inf = true; break;
    }
    return to_inf ? infinity(fmt, sign, satfinite) : max_finite(fmt, sign);
}

uint64_t emu_fp_round(int fmt, int sign, uint64_t mag, int exp2, int rnd, bool satfinite)
{
    const FmtDesc *f = &fmts[fmt];
    if (mag == 0)
        return encode(fmt, sign, 0, 0);
    int p = 63 - __builtin_clzll(mag);
    int e = p + exp2;                 /* value in [2^e, 2^(e+1)) */
    int emin = 1 - f->bias;
    int maxfield = f->has_inf ? (1 << f->ebits) - 2 : (1 << f->ebits) - 1;
    int emax = maxfield - f->bias;
    if (e > emax)
        return overflow(fmt, sign, rnd, satfinite);
    int lsb = (e < emin ? emin : e) - f->mbits; /* exponent of the result's last bit */
    int shift = lsb - exp2;
    uint64_t q;
    if (shift <= 0) {
        q = mag << -shift;
    } else {
        uint64_t rem = shift >= 64 ? mag : mag & ((1ull << shift) - 1);
        q = shift >= 64 ? 0 : mag >> shift;
        bool gt_half = false, eq_half = false;
        if (shift <= 64) {
            uint64_t half = 1ull << (shift - 1);
            gt_half = rem > half;
            eq_half = rem == half;
        }
        bool up;
        switch (rnd) {
        case RND_RZ: up = false; break;
        case RND_RM: up = sign && rem; break;
        case RND_RP: up = !sign && rem; break;
        case RND_RNA: up = gt_half || eq_half; break;
        default: up = gt_half || (eq_half && (q & 1)); break;
        }
        q += up;
        if (q >> (f->mbits + 1)) {
            q >>= 1;
            lsb++;
        }
    }
    uint64_t field = 0, mant = q;
    if (q >> f->mbits) {
        int fe = lsb + f->mbits + f->bias;
        if (fe > maxfield)
            return overflow(fmt, sign, rnd, satfinite);
        field = (uint64_t)fe;
        mant = q & ((1ull << f->mbits) - 1);
        if (!f->has_inf && fe == maxfield && mant == (1ull << f->mbits) - 1)
            return overflow(fmt, sign, rnd, satfinite);
    }
    return encode(fmt, sign, field, mant);
}

uint64_t emu_fp_from_double(int fmt, double s, int resid, int rnd, bool satfinite)
{
    return emu_fp_from_double_scaled(fmt, s, resid, 0, rnd, satfinite);
}

uint64_t emu_fp_from_double_scaled(int fmt, double s, int resid, int scale, int rnd, bool satfinite)
{
    uint64_t b = f64_bits(s);
    int sign = (int)(b >> 63);
    if (isnan(s))
        return fmts[fmt].nan;
    if (isinf(s))
        return fmt == FMT_F64 ? b : infinity(fmt, sign, satfinite);
    uint64_t e = (b >> 52) & 0x7ff, m = b & ((1ull << 52) - 1);
    if (e == 0 && m == 0) {
        if (!resid)
            return encode(fmt, sign, 0, 0);
        /* an exact result smaller than anything representable, of resid's sign */
        return emu_fp_round(fmt, resid < 0, 1, -1200 + scale, rnd, satfinite);
    }
    uint64_t mag = e ? m | 1ull << 52 : m;
    int exp2 = (e ? (int)e - 1075 : -1074) + scale;
    if (resid) {
        int dir = (resid > 0) == !sign ? 1 : -1; /* does the residual grow the magnitude? */
        mag = (mag << 2) + (uint64_t)(int64_t)dir;
        exp2 -= 2;
    }
    return emu_fp_round(fmt, sign, mag, exp2, rnd, satfinite);
}

double emu_fp_to_double(int fmt, uint64_t bits)
{
    const FmtDesc *f = &fmts[fmt];
    if (fmt == FMT_F64)
        return f64_of(bits);
    if (fmt == FMT_F32 || fmt == FMT_TF32)
        return (double)f32_of(bits);
    if (fmt == FMT_F16)
        return emu_f16_to_f32((uint16_t)bits);
    if (fmt == FMT_BF16)
        return emu_bf16_to_f32((uint16_t)bits);
    int sign = (int)(bits >> (f->width - 1)) & 1;
    uint64_t field = (bits >> f->mbits) & ((1u << f->ebits) - 1);
    uint64_t mant = bits & ((1ull << f->mbits) - 1);
    int topfield = (1 << f->ebits) - 1;
    double v;
    if (f->has_inf && (int)field == topfield)
        v = mant ? NAN : INFINITY;
    else if (!f->has_inf && (int)field == topfield && mant == (1ull << f->mbits) - 1)
        v = NAN;
    else if (field == 0)
        v = ldexp((double)mant, 1 - f->bias - f->mbits);
    else
        v = ldexp((double)(mant | 1ull << f->mbits), (int)field - f->bias - f->mbits);
    return sign ? -v : v;
}

bool emu_fp_is_nan(int fmt, uint64_t bits) { return isnan(emu_fp_to_double(fmt, bits)); }

bool emu_fp_is_subnormal(int fmt, uint64_t bits)
{
    const FmtDesc *f = &fmts[fmt];
    if (fmt == FMT_TF32)
        fmt = FMT_F32, f = &fmts[FMT_F32];
    uint64_t field = (bits >> f->mbits) & ((1u << f->ebits) - 1);
    uint64_t mant = bits & ((1ull << f->mbits) - 1);
    return field == 0 && mant != 0;
}

uint64_t emu_fp_flush(int fmt, uint64_t bits)
{
    if (!emu_fp_is_subnormal(fmt, bits))
        return bits;
    int w = fmt == FMT_TF32 ? 32 : fmts[fmt].width;
    return bits & (1ull << (w - 1));
}

uint16_t emu_f32_to_f16_rn(uint32_t x)
{
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)
        return 0x7fff;
    if (ax >= 0x477ff000u) /* 65520 and above: past the largest f16 plus half an ulp */
        return (uint16_t)(sign | 0x7c00);
    if (ax >= 0x38800000u) /* normal: round the 13 dropped bits to nearest even */
        return (uint16_t)(sign | (ax + 0xfffu + ((ax >> 13) & 1) - 0x38000000u) >> 13);
    /* subnormal: the value in units of 2^-24, rounded to nearest even */
    return (uint16_t)(sign | (uint32_t)nearbyintf(f32_of(ax) * 0x1p24f));
}

uint16_t emu_f32_to_bf16_rn(uint32_t x)
{
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return 0x7fff;
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

static int sign_of(double v) { return v > 0 ? 1 : v < 0 ? -1 : 0; }

bool emu_fp_exact_op(int op, double x, double y, double z, double *s, int *resid)
{
    double r = 0;
    *resid = 0;
    switch (op) {
    case FOP_SUB:
        y = -y;
        /* fall through */
    case FOP_ADD: {
        double t = x + y, bb = t - x;
        r = (x - (t - bb)) + (y - bb);
        *s = t;
        break;
    }
    case FOP_MUL:
        *s = x * y;
        r = fma(x, y, -*s);
        break;
    case FOP_FMA: {
        /* exact only when x*y is exact in double: callers use it for formats of
           at most 26 significant bits */
        double p = x * y;
        if (isfinite(p) && fma(x, y, -p) != 0)
            return false;
        double t = p + z, bb = t - p;
        r = (p - (t - bb)) + (z - bb);
        *s = t;
        break;
    }
    case FOP_DIV:
        *s = x / y;
        if (isfinite(*s) && isfinite(y) && y != 0)
            r = fma(-*s, y, x) * (y < 0 ? -1 : 1);
        break;
    case FOP_SQRT:
        *s = sqrt(x);
        if (isfinite(*s))
            r = fma(-*s, *s, x);
        break;
    default: tsr_unreachable();
    }
    if (isfinite(*s) && !isnan(r))
        *resid = sign_of(r);
    return true;
}
