/* Element types and IEEE half / bfloat16 / fp8 conversions. */
#include "dtype.h"

#include <math.h>
#include <string.h>

static const char *const names[DT_COUNT] = { "bool", "i32", "f16", "bf16", "f32", "i8",
                                              "u8",   "u32", "i64", "e4m3", "e5m2" };
static const int sizes[DT_COUNT] = { 1, 4, 2, 2, 4, 1, 1, 4, 8, 1, 1 };

const char *dtype_name(DType t) { return (unsigned)t < DT_COUNT ? names[t] : "?"; }
int dtype_size(DType t) { return (unsigned)t < DT_COUNT ? sizes[t] : 0; }
bool dtype_is_float(DType t) { return t == DT_F16 || t == DT_BF16 || t == DT_F32 || dtype_is_fp8(t); }
bool dtype_is_fp8(DType t) { return t == DT_E4M3 || t == DT_E5M2; }
bool dtype_is_int(DType t) { return t == DT_I32 || t == DT_I8 || t == DT_U8 || t == DT_U32 || t == DT_I64; }
bool dtype_is_signed(DType t) { return t == DT_I32 || t == DT_I8 || t == DT_I64; }
int dtype_bits(DType t) { return t == DT_BOOL ? 1 : 8 * dtype_size(t); }

int64_t int_wrap(int64_t v, DType t)
{
    int bits = dtype_bits(t);
    if (bits >= 64)
        return v;
    uint64_t mask = (UINT64_C(1) << bits) - 1, u = (uint64_t)v & mask;
    if (dtype_is_signed(t) && (u >> (bits - 1)))
        u |= ~mask; /* two's complement: the same bits as the negative value */
    int64_t r;
    memcpy(&r, &u, sizeof r);
    return r;
}

bool int_fits(int64_t v, DType t) { return int_wrap(v, t) == v; }

bool dtype_parse(const char *s, DType *out)
{
    for (int i = 0; i < DT_COUNT; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (DType)i;
            return true;
        }
    return false;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16_bits(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t man = x & 0x7fffffu;
    if (exp == 0xff) /* inf or NaN (keep NaN quiet and non-zero) */
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        /* subnormal half (or zero): shift the full significand into place */
        if (e < -10)
            return (uint16_t)sign;
        uint32_t m = man | 0x800000u;
        int shift = 14 - e; /* 1 - e + 13 */
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
        half++; /* may carry into the exponent, up to inf: correct */
    return (uint16_t)(sign | half);
}

float f16_bits_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        if (man == 0)
            return bits_f32(sign);
        return (sign ? -1.0f : 1.0f) * ldexpf((float)man, -24);
    }
    if (exp == 31)
        return bits_f32(sign | 0x7f800000u | (man << 13));
    return bits_f32(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

uint16_t f32_to_bf16_bits(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN */
        return (uint16_t)((x >> 16) | 0x40u);
    uint32_t lsb = (x >> 16) & 1u;
    x += 0x7fffu + lsb;
    return (uint16_t)(x >> 16);
}

float bf16_bits_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

/* The fp8 formats' exponent bias and mantissa bits. */
static int fp8_bias(DType t) { return t == DT_E4M3 ? 7 : 15; }
static int fp8_mbits(DType t) { return t == DT_E4M3 ? 3 : 2; }

float fp8_max(DType t) { return t == DT_E4M3 ? 448.0f : 57344.0f; }

float fp8_bits_to_f32(uint8_t v, DType t)
{
    int mb = fp8_mbits(t), eb = 7 - mb, bias = fp8_bias(t);
    int field = (v >> mb) & ((1 << eb) - 1), mant = v & ((1 << mb) - 1);
    float sign = (v & 0x80) ? -1.0f : 1.0f;
    if (t == DT_E4M3 && field == 15 && mant == 7)
        return NAN;
    if (t == DT_E5M2 && field == 31)
        return mant ? NAN : sign * INFINITY;
    if (field == 0) /* subnormal: mant * 2^(1 - bias - mb) */
        return sign * ldexpf((float)mant, 1 - bias - mb);
    return sign * ldexpf((float)((1 << mb) | mant), field - bias - mb);
}

uint8_t f32_to_fp8_bits(float f, DType t)
{
    if (isnan(f))
        return 0x7f;
    int mb = fp8_mbits(t), bias = fp8_bias(t);
    uint8_t sign = signbit(f) ? 0x80 : 0;
    double a = fabs((double)f);
    if (a >= fp8_max(t)) /* saturated, infinities too */
        return (uint8_t)(sign | (t == DT_E4M3 ? 0x7e : 0x7b));
    if (a == 0)
        return sign;
    /* The quantum of the result: 2^(e - mb) for a in [2^e, 2^(e+1)),
     * subnormals sharing the smallest normal binade's. a / q has at most 24
     * significant bits, so it and its rounding are exact in double. */
    int e;
    frexp(a, &e);
    e -= 1;
    if (e < 1 - bias)
        e = 1 - bias;
    double n = ldexp(a, mb - e), r = floor(n), frac = n - r;
    if (frac > 0.5 || (frac == 0.5 && fmod(r, 2.0) == 1.0))
        r += 1;
    double v = ldexp(r, e - mb);
    if (v > fp8_max(t))
        return (uint8_t)(sign | (t == DT_E4M3 ? 0x7e : 0x7b));
    if (v < ldexp(1.0, 1 - bias)) /* subnormal (or zero): the field is 0 */
        return (uint8_t)(sign | (uint8_t)r);
    int ve;
    double m = frexp(v, &ve); /* v = m * 2^ve, m in [0.5, 1) */
    int field = ve - 1 + bias, mant = (int)ldexp(m, mb + 1) - (1 << mb);
    return (uint8_t)(sign | field << mb | mant);
}

float round_to_dtype(float f, DType t)
{
    switch (t) {
    case DT_E4M3:
    case DT_E5M2: return fp8_bits_to_f32(f32_to_fp8_bits(f, t), t);
    case DT_F16: return f16_bits_to_f32(f32_to_f16_bits(f));
    case DT_BF16: return bf16_bits_to_f32(f32_to_bf16_bits(f));
    default: return f;
    }
}
