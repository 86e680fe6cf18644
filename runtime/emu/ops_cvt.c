/* cvt: conversions between integer and floating-point types of every size,
 * with the rounding modes, .ftz, .sat, .relu and .satfinite the PTX ISA
 * defines, the packed forms (.f16x2/.bf16x2 from two f32, fp8 pairs) and
 * tf32. Narrowing float conversions round once, exactly (fp.c). Float to
 * integer conversions saturate, and NaN becomes 0, as the ISA specifies. */
#include <math.h>
#include <string.h>

#include "emu_internal.h"

enum { CV_II, CV_IF, CV_FI, CV_FF, CV_PACK2, CV_UNPACK_F8 };

static int fmt_of_type(int ty)
{
    switch (ty) {
    case TY_F16:
    case TY_F16X2: return FMT_F16;
    case TY_BF16:
    case TY_BF16X2: return FMT_BF16;
    case TY_TF32: return FMT_TF32;
    case TY_F64: return FMT_F64;
    case TY_E4M3:
    case TY_E4M3X2: return FMT_E4M3;
    case TY_E5M2:
    case TY_E5M2X2: return FMT_E5M2;
    default: return FMT_F32;
    }
}

/* A value of the destination integer type, extended to 64 bits. */
static uint64_t int_out(const Insn *in, uint64_t v)
{
    int bits = ty_bits(in->ty);
    return ty_signed(in->ty) ? (uint64_t)sext(v, bits) : v & width_mask(bits);
}

static uint64_t cvt_int_int(const Insn *in, uint64_t a)
{
    int sbits = ty_bits(in->ty2), dbits = ty_bits(in->ty);
    bool ssgn = ty_signed(in->ty2), dsgn = ty_signed(in->ty);
    __int128 v = ssgn ? (__int128)sext(a, sbits) : (__int128)(a & width_mask(sbits));
    if (in->sat) {
        __int128 hi = dsgn ? ((__int128)1 << (dbits - 1)) - 1 : ((__int128)1 << dbits) - 1;
        __int128 lo = dsgn ? -((__int128)1 << (dbits - 1)) : 0;
        v = v > hi ? hi : v < lo ? lo : v;
    }
    return int_out(in, (uint64_t)v);
}

static double round_int(int rnd, double x)
{
    switch (rnd) {
    case RND_RZI: return trunc(x);
    case RND_RMI: return floor(x);
    case RND_RPI: return ceil(x);
    default: return nearbyint(x);
    }
}

/* float -> integer: rounds, saturates to the destination's range, NaN -> 0. */
static uint64_t cvt_int_float(const Insn *in, uint64_t a)
{
    int afmt = in->mode, dbits = ty_bits(in->ty);
    if (in->ftz)
        a = emu_fp_flush(afmt, a);
    double x = emu_fp_to_double(afmt, a);
    if (isnan(x))
        return 0;
    x = round_int(in->rnd, x);
    if (ty_signed(in->ty)) {
        double hi = ldexp(1.0, dbits - 1);
        if (x >= hi)
            return int_out(in, (uint64_t)(((__int128)1 << (dbits - 1)) - 1));
        if (x < -hi)
            return int_out(in, (uint64_t)(-((__int128)1 << (dbits - 1))));
        return int_out(in, (uint64_t)(int64_t)x);
    }
    double hi = ldexp(1.0, dbits);
    if (x >= hi)
        return width_mask(dbits);
    if (x <= 0)
        return 0;
    return (uint64_t)x;
}

static int default_rnd(int rnd) { return rnd == RND_NONE ? RND_RN : rnd; }

static uint64_t float_post(const Insn *in, int fmt, uint64_t r)
{
    uint64_t sbit = 1ull << (emu_fp_bits(fmt) - 1);
    if (emu_fp_is_nan(fmt, r))
        r = emu_fp_canonical_nan(fmt);
    else if ((in->flags & MF_RELU) && (r & sbit))
        r = 0;
    if (in->sat) {
        double x = emu_fp_to_double(fmt, r);
        if (x != x || x <= 0)
            r = 0;
        else if (x >= 1)
            r = emu_fp_from_double(fmt, 1.0, 0, RND_RN, false);
    }
    if (in->ftz && fmt == FMT_F32)
        r = emu_fp_flush(fmt, r);
    return r;
}

static uint64_t cvt_float_int(const Insn *in, uint64_t a)
{
    int sbits = ty_bits(in->ty2);
    if ((in->rnd == RND_RN || in->rnd == RND_NONE) && !in->sat && sbits == 32 &&
        (in->fmt == FMT_F32 || in->fmt == FMT_F64)) { /* the host converts these exactly so */
        double v = ty_signed(in->ty2) ? (double)(int32_t)a : (double)(uint32_t)a;
        return in->fmt == FMT_F64 ? f64_bits(v) : f32_bits((float)v);
    }
    uint64_t mag;
    int sign = 0;
    if (ty_signed(in->ty2)) {
        int64_t v = sext(a, sbits);
        sign = v < 0;
        mag = sign ? 0 - (uint64_t)v : (uint64_t)v;
    } else {
        mag = a & width_mask(sbits);
    }
    uint64_t r = emu_fp_round(in->fmt, sign, mag, 0, default_rnd(in->rnd), in->flags & MF_SATFINITE);
    return float_post(in, in->fmt, r);
}

/* One float element from format sfmt to the destination format. */
static uint64_t convert_float(const Insn *in, int sfmt, uint64_t a)
{
    bool plain = !in->ftz && !in->sat && !(in->flags & (MF_RELU | MF_SATFINITE));
    if (plain && sfmt == FMT_F32 && (in->rnd == RND_RN || in->rnd == RND_NONE)) {
        if (in->fmt == FMT_F16)
            return emu_f32_to_f16_rn((uint32_t)a);
        if (in->fmt == FMT_BF16)
            return emu_f32_to_bf16_rn((uint32_t)a);
    }
    if (plain && in->fmt == FMT_F32 && in->rnd == RND_NONE && (sfmt == FMT_F16 || sfmt == FMT_BF16)) {
        float f = sfmt == FMT_F16 ? emu_f16_to_f32((uint16_t)a) : emu_bf16_to_f32((uint16_t)a);
        return f != f ? 0x7fffffffu : f32_bits(f);
    }
    if (in->ftz && sfmt == FMT_F32)
        a = emu_fp_flush(sfmt, a);
    double x = emu_fp_to_double(sfmt, a);
    uint64_t r;
    if (in->rnd >= RND_RNI) /* same format, rounded to an integral value */
        r = emu_fp_from_double(in->fmt, round_int(in->rnd, x), 0, RND_RN, false);
    else
        r = emu_fp_from_double(in->fmt, x, 0, default_rnd(in->rnd), in->flags & MF_SATFINITE);
    return float_post(in, in->fmt, r);
}

static uint64_t alu_cvt(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    switch (in->sub) {
    case CV_II: return cvt_int_int(in, a);
    case CV_IF: return cvt_int_float(in, a);
    case CV_FI: return cvt_float_int(in, a);
    case CV_FF: return convert_float(in, in->mode, a);
    case CV_PACK2: {
        /* d.hi = cvt(a), d.lo = cvt(b); each element emu_fp_bits(fmt) wide */
        int ew = emu_fp_bits(in->fmt);
        if (in->ty2 == TY_F16X2) /* fp8 pair from an f16 pair */
            return convert_float(in, FMT_F16, a >> 16) << ew | convert_float(in, FMT_F16, a & 0xffff);
        return convert_float(in, FMT_F32, a) << ew | convert_float(in, FMT_F32, b);
    }
    case CV_UNPACK_F8: {
        int sfmt = in->mode;
        return convert_float(in, sfmt, (a >> 8) & 0xff) << 16 | convert_float(in, sfmt, a & 0xff);
    }
    default: tsr_unreachable();
    }
}

static bool is_irnd(int r) { return r >= RND_RNI && r <= RND_RPI; }
static bool is_frnd(int r) { return r >= RND_RN && r <= RND_RNA; }

static int decode_cvt(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_RND), MF_FTZ | MF_SAT | MF_RELU | MF_SATFINITE))
        return -1;
    if (m->ntype != 2)
        return emu_dec_error(d, s, "cvt needs a destination and a source type");
    int dty = m->type[0], aty = m->type[1];
    bool dint = ty_int(dty) && ty_bits(dty) <= 64, aint = ty_int(aty) && ty_bits(aty) <= 64;
    bool dfl = ty_float(dty), afl = ty_float(aty);
    if (!(dint || dfl) || !(aint || afl) || dty == TY_B128 || aty == TY_B128)
        return emu_dec_error(d, s, "conversion .%s.%s is not supported", emu_types[dty].name,
                         emu_types[aty].name);
    int rnd = m->rnd;
    int sub;
    int nsrc = 1, sty = aty;
    if (dint && aint) {
        sub = CV_II;
        if (rnd)
            return emu_dec_error(d, s, "rounding modifier on an integer conversion");
    } else if (dint) {
        sub = CV_IF;
        if (!is_irnd(rnd))
            return emu_dec_error(d, s, "float-to-integer conversion needs .rni, .rzi, .rmi or .rpi");
        if (aty == TY_F16X2 || aty == TY_BF16X2 || aty == TY_TF32 || fmt_of_type(aty) >= FMT_E4M3)
            return emu_dec_error(d, s, "conversion .%s.%s is not supported", emu_types[dty].name,
                             emu_types[aty].name);
    } else if (aint) {
        sub = CV_FI;
        if (rnd && !is_frnd(rnd))
            return emu_dec_error(d, s, "integer-to-float conversion needs .rn, .rz, .rm or .rp");
        if (dty == TY_F16X2 || dty == TY_BF16X2 || dty == TY_TF32 || fmt_of_type(dty) >= FMT_E4M3)
            return emu_dec_error(d, s, "conversion .%s.%s is not supported", emu_types[dty].name,
                             emu_types[aty].name);
    } else if (dty == TY_F16X2 && (aty == TY_E4M3X2 || aty == TY_E5M2X2)) {
        sub = CV_UNPACK_F8;
    } else if (dty == TY_F16X2 || dty == TY_BF16X2 || dty == TY_E4M3X2 || dty == TY_E5M2X2) {
        sub = CV_PACK2;
        if (aty != TY_F32 && !(aty == TY_F16X2 && (dty == TY_E4M3X2 || dty == TY_E5M2X2)))
            return emu_dec_error(d, s, "conversion .%s.%s is not supported", emu_types[dty].name,
                             emu_types[aty].name);
        nsrc = aty == TY_F32 ? 2 : 1;
        if (!is_frnd(rnd) || rnd == RND_RNA)
            return emu_dec_error(d, s, "packed conversion needs .rn or .rz");
    } else {
        sub = CV_FF;
        if (aty == TY_F16X2 || aty == TY_BF16X2 || aty == TY_E4M3X2 || aty == TY_E5M2X2 ||
            dty == TY_E4M3 || dty == TY_E5M2 || aty == TY_E4M3 || aty == TY_E5M2)
            return emu_dec_error(d, s, "conversion .%s.%s is not supported", emu_types[dty].name,
                             emu_types[aty].name);
        int dfmt = fmt_of_type(dty), afmt = fmt_of_type(aty);
        bool narrowing = dfmt != afmt && (emu_fp_bits(dfmt) < emu_fp_bits(afmt) || dfmt == FMT_TF32 ||
                                          (dfmt == FMT_BF16 && afmt == FMT_F16) ||
                                          (dfmt == FMT_F16 && afmt == FMT_BF16));
        if (dfmt == afmt && rnd && !is_irnd(rnd))
            return emu_dec_error(d, s, "same-type conversion takes .rni, .rzi, .rmi or .rpi");
        if (dfmt != afmt && is_irnd(rnd))
            return emu_dec_error(d, s, "integer rounding on a conversion between float types");
        if (narrowing && !rnd)
            return emu_dec_error(d, s, "narrowing conversion needs a rounding modifier");
        if (!narrowing && dfmt != afmt && rnd)
            return emu_dec_error(d, s, "rounding modifier on an exact conversion");
        if (rnd == RND_RNA && dfmt != FMT_TF32)
            return emu_dec_error(d, s, ".rna is only allowed for .tf32");
    }
    if (sub == CV_PACK2 || sub == CV_UNPACK_F8)
        sty = aty == TY_F32 ? TY_F32 : aty == TY_F16X2 ? TY_B32 : TY_B16;
    int dreg = dty == TY_TF32 ? TY_B32 : dty;
    int t2 = nsrc == 2 ? sty : TY_NONE;
    if (emu_dec_nops(d, s, nsrc + 1, nsrc + 1) || emu_dec_dst_wide(d, s, &s->ops[0], dreg, &in->op[0]))
        return -1;
    if (emu_dec_src_wide(d, s, &s->ops[1], sty == TY_TF32 ? TY_B32 : sty, &in->op[1]) ||
        (t2 && emu_dec_src(d, s, &s->ops[2], t2, &in->op[2])))
        return -1;
    in->nops = (uint8_t)(nsrc + 1);
    in->exec = emu_exec_alu;
    in->alu = alu_cvt;
    in->sub = (uint8_t)sub;
    in->ty = (uint8_t)dty;
    in->ty2 = (uint8_t)aty;
    in->bits = (uint8_t)ty_bits(dty);
    in->rnd = (uint8_t)rnd;
    in->fmt = (uint8_t)fmt_of_type(dty);
    in->mode = (uint8_t)fmt_of_type(aty);
    in->ftz = (m->flags & MF_FTZ) != 0;
    in->sat = (m->flags & MF_SAT) != 0;
    in->flags = m->flags & (MF_RELU | MF_SATFINITE);
    return 0;
}

const OpDesc emu_ops_cvt[] = {
    {"cvt", decode_cvt, 0},
    {NULL, NULL, 0},
};
