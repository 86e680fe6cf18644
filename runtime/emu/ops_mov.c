/* Moves, comparisons and selection: mov (registers, constants, special
 * registers, variable addresses, packing {a, b} and unpacking), setp, set,
 * selp, slct. Moves do not count as uses for the uninitialised-register check:
 * they carry "never written" along, so that packing a half that is never used
 * is not reported. */
#include <math.h>
#include <string.h>

#include "emu_internal.h"

/* ---- mov ------------------------------------------------------------------ */

/* "Never written" is tracked per byte through moves: rdef has the lanes in
 * which a register is written whole; rbytes, where rdef's bit is clear, the
 * bytes that are (a packed value with a never-written element, which
 * LLVM makes and takes apart again). */

/* The bytes of the operand written in the lane: all of a non-register, and
 * those past a register's width (which hold zeros). */
static unsigned bytes_written(const Warp *w, const Operand *o, unsigned lane)
{
    if (o->kind != OK_REG || (w->rdef[o->idx] >> lane & 1))
        return 0xff;
    unsigned beyond = o->bits >= 64 ? 0 : 0xffu << (o->bits / 8) & 0xff;
    return w->rbytes[(size_t)o->idx * WARP_SIZE + lane] | beyond;
}

/* The destination register written in the lane with these bytes written. */
static void set_bytes(Warp *w, const Operand *o, unsigned lane, unsigned bytes)
{
    if (o->kind != OK_REG)
        return;
    unsigned all = o->bits >= 64 ? 0xff : (1u << (o->bits / 8)) - 1;
    size_t at = (size_t)o->idx * WARP_SIZE + lane;
    wg_written(w, o);
    if ((bytes & all) == all) {
        w->rdef[o->idx] |= 1u << lane;
        w->rbytes[at] = 0;
    } else {
        w->rdef[o->idx] &= ~(1u << lane);
        w->rbytes[at] = (uint8_t)(bytes & all);
    }
}

/* A move of a register that a wgmma in flight uses is reported, not carried
 * along (ops_wgmma.c). */
static int check_not_busy(Warp *w, const Insn *in, const Operand *o, uint32_t mask)
{
    if (w->cta->wg && o->kind == OK_REG && emu_wg_busy(w, o->idx))
        return emu_wg_report_busy(w, in, o, mask);
    return 0;
}

static int exec_mov(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_not_busy(w, in, &in->op[1], mask))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[1]);
    uint64_t *d = opd(w, &in->op[0]);
    uint64_t dm = width_mask(in->op[0].bits) & width_mask(in->bits);
    if (mask == FULL_MASK) {
        for (unsigned l = 0; l < WARP_SIZE; l++)
            d[l] = a[l] & dm;
    } else {
        FOR_LANES(l, mask)
        d[l] = a[l] & dm;
    }
    if (w->rdef) {
        unsigned keep = dm == UINT64_MAX ? 0xff : (1u << (__builtin_popcountll(dm) / 8)) - 1;
        FOR_LANES(l, mask)
        set_bytes(w, &in->op[0], l, (bytes_written(w, &in->op[1], l) & keep) | (~keep & 0xff));
    }
    return 0;
}

static int exec_mov_pred(Warp *w, const Insn *in, uint32_t mask)
{
    if (w->pdef && emu_check_pdef(w, in, &in->op[1], mask))
        return -1;
    pred_set(w, in->op[0].idx, mask, pred_val(w, &in->op[1]));
    return 0;
}

/* mov.bN d, {e0, e1, ...}: element i in bits [i*w, (i+1)*w). */
static int exec_pack(Warp *w, const Insn *in, uint32_t mask)
{
    const Operand *e = &w->cta->k->vec[in->op[1].idx];
    int n = in->op[1].nelem, ew = in->bits / n;
    uint64_t *d = opd(w, &in->op[0]);
    uint64_t em = width_mask(ew);
    for (int i = 0; i < n; i++)
        if (check_not_busy(w, in, &e[i], mask))
            return -1;
    FOR_LANES(l, mask) {
        uint64_t v = 0;
        for (int i = 0; i < n; i++)
            v |= (opv(w, in, &e[i])[l] & em) << (i * ew);
        d[l] = v;
    }
    if (w->rdef) {
        unsigned eb = (unsigned)ew / 8, part = (1u << eb) - 1; /* elements are 8 to 32 bits */
        FOR_LANES(l, mask) {
            unsigned bytes = 0;
            for (int i = 0; i < n; i++)
                bytes |= (bytes_written(w, &e[i], l) & part) << (i * eb);
            set_bytes(w, &in->op[0], l, bytes | (0xffu << (n * eb) & 0xff));
        }
    }
    return 0;
}

/* mov.bN {e0, e1, ...}, a */
static int exec_unpack(Warp *w, const Insn *in, uint32_t mask)
{
    const Operand *e = &w->cta->k->vec[in->op[0].idx];
    int n = in->op[0].nelem, ew = in->bits / n;
    const uint64_t *a = opv(w, in, &in->op[1]);
    uint64_t src[WARP_SIZE];
    memcpy(src, a, sizeof src); /* a destination may be the source */
    if (check_not_busy(w, in, &in->op[1], mask))
        return -1;
    unsigned sb[WARP_SIZE];
    if (w->rdef)
        FOR_LANES(l, mask)
        sb[l] = bytes_written(w, &in->op[1], l);
    unsigned eb = (unsigned)ew / 8, part = (1u << eb) - 1;
    for (int i = 0; i < n; i++) {
        if (e[i].kind == OK_SINK)
            continue;
        uint64_t *d = opd(w, &e[i]);
        uint64_t m = width_mask(ew) & width_mask(e[i].bits);
        FOR_LANES(l, mask)
        d[l] = (src[l] >> (i * ew)) & m;
        if (w->rdef) /* bytes past the element are zeros: written */
            FOR_LANES(l, mask)
            set_bytes(w, &e[i], l, (sb[l] >> (i * eb) & part) | (~part & 0xff));
    }
    return 0;
}

static int decode_mov(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE), 0) ||
        emu_dec_type(d, s, m,
                 TYS_INT | TYS_BITS | TYB(TY_F32) | TYB(TY_F64) | TYB(TY_F16) | TYB(TY_BF16) |
                     TYB(TY_PRED) | TYB(TY_F16X2) | TYB(TY_BF16X2),
                 &ty) ||
        emu_dec_nops(d, s, 2, 2))
        return -1;
    in->nops = 2;
    in->ty = (uint8_t)ty;
    in->bits = (uint8_t)ty_bits(ty);
    if (ty == TY_PRED) {
        in->exec = exec_mov_pred;
        return emu_dec_pred_dst(d, s, &s->ops[0], &in->op[0]) ||
               emu_dec_pred(d, s, &s->ops[1], true, &in->op[1]);
    }
    if (s->ops[1].kind == RO_VEC) {
        int n = s->ops[1].nelems;
        if (n < 2 || ty_bits(ty) % n || ty_bits(ty) / n < 8)
            return emu_dec_error(d, s, "cannot pack %d elements into .%s", n, emu_types[ty].name);
        int ety = ty_bits(ty) / n == 8 ? TY_B8 : ty_bits(ty) / n == 16 ? TY_B16 : TY_B32;
        in->exec = exec_pack;
        return emu_dec_dst(d, s, &s->ops[0], ty, &in->op[0]) ||
               emu_dec_vec(d, s, &s->ops[1], n, ety, false, ety == TY_B8, &in->op[1]);
    }
    if (s->ops[0].kind == RO_VEC) {
        int n = s->ops[0].nelems;
        if (n < 2 || ty_bits(ty) % n || ty_bits(ty) / n < 8)
            return emu_dec_error(d, s, "cannot unpack .%s into %d elements", emu_types[ty].name, n);
        int ety = ty_bits(ty) / n == 8 ? TY_B8 : ty_bits(ty) / n == 16 ? TY_B16 : TY_B32;
        in->exec = exec_unpack;
        return emu_dec_vec(d, s, &s->ops[0], n, ety, true, ety == TY_B8, &in->op[0]) ||
               emu_dec_src(d, s, &s->ops[1], ty, &in->op[1]);
    }
    in->exec = exec_mov;
    return emu_dec_dst(d, s, &s->ops[0], ty, &in->op[0]) || emu_dec_src(d, s, &s->ops[1], ty, &in->op[1]);
}

/* ---- comparisons ---------------------------------------------------------- */

enum { CK_UINT, CK_SINT, CK_FLOAT };

static uint32_t boolop(int op, uint32_t t, uint32_t c)
{
    switch (op) {
    case LOGIC_AND: return t & c;
    case LOGIC_OR: return t | c;
    case LOGIC_XOR: return t ^ c;
    default: return t;
    }
}

/* The result of comparison cmp from the lanes' "equal", "less" and
 * "unordered" masks (for integers un is 0; lo/ls/hi/hs are lt/le/gt/ge on
 * unsigned values). */
static uint32_t combine(int cmp, uint32_t eq, uint32_t lt, uint32_t un)
{
    switch (cmp) {
    case CMP_EQ: return eq;
    case CMP_NE: return ~eq & ~un;
    case CMP_LT:
    case CMP_LO: return lt;
    case CMP_LE:
    case CMP_LS: return lt | eq;
    case CMP_GT:
    case CMP_HI: return ~(lt | eq | un);
    case CMP_GE:
    case CMP_HS: return ~lt & ~un;
    case CMP_EQU: return eq | un;
    case CMP_NEU: return ~eq;
    case CMP_LTU: return lt | un;
    case CMP_LEU: return lt | eq | un;
    case CMP_GTU: return ~(lt | eq);
    case CMP_GEU: return ~lt;
    case CMP_NUM: return ~un;
    default: return un; /* nan */
    }
}

/* Compares a and b in the lanes of mask: element `half` of packed halves
 * (shift 0 or 16), else the whole values. */
static uint32_t compare_masks(const Insn *in, const uint64_t *a, const uint64_t *b, uint32_t mask,
                              int shift)
{
    uint32_t eq = 0, lt = 0, un = 0;
    int bits = in->vec == 2 ? 16 : in->bits;
    /* Inactive lanes are compared too (their registers hold some value, and
       the comparisons have no side effects): the loops then unroll. */
    if (in->mode == CK_FLOAT && in->fmt == FMT_F32) {
        uint32_t sub = in->ftz ? 0x80000000u : 0xffffffffu; /* .ftz: subnormals compare as 0 */
        for (unsigned l = 0; l < WARP_SIZE; l++) {
            uint32_t ua = (uint32_t)a[l], ub = (uint32_t)b[l];
            if (!(ua & 0x7f800000u))
                ua &= sub;
            if (!(ub & 0x7f800000u))
                ub &= sub;
            float x = f32_of(ua), y = f32_of(ub);
            eq |= (uint32_t)(x == y) << l;
            lt |= (uint32_t)(x < y) << l;
            un |= (uint32_t)(x != x || y != y) << l;
        }
    } else if (in->mode == CK_FLOAT) {
        FOR_LANES(l, mask) {
            uint64_t va = a[l] >> shift, vb = b[l] >> shift;
            if (in->ftz) {
                va = emu_fp_flush(in->fmt, va & width_mask(bits));
                vb = emu_fp_flush(in->fmt, vb & width_mask(bits));
            }
            double x = emu_fp_to_double(in->fmt, va & width_mask(bits));
            double y = emu_fp_to_double(in->fmt, vb & width_mask(bits));
            eq |= (uint32_t)(x == y) << l;
            lt |= (uint32_t)(x < y) << l;
            un |= (uint32_t)(x != x || y != y) << l;
        }
    } else if (in->mode == CK_SINT) {
        for (unsigned l = 0; l < WARP_SIZE; l++) {
            int64_t x = sext(a[l], bits), y = sext(b[l], bits);
            eq |= (uint32_t)(x == y) << l;
            lt |= (uint32_t)(x < y) << l;
        }
    } else {
        uint64_t wm = width_mask(bits);
        for (unsigned l = 0; l < WARP_SIZE; l++) {
            uint64_t x = a[l] & wm, y = b[l] & wm;
            eq |= (uint32_t)(x == y) << l;
            lt |= (uint32_t)(x < y) << l;
        }
    }
    return combine(in->sub, eq, lt, un) & mask;
}

/* The comparison results of the lanes in mask; for packed halves, the low
 * halves in *t and the high halves in *t_hi. */
static int compare_lanes(Warp *w, const Insn *in, uint32_t mask, int a_op, uint32_t *t, uint32_t *t_hi)
{
    if (check_src(w, in, &in->op[a_op], mask) || check_src(w, in, &in->op[a_op + 1], mask))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[a_op]), *b = opv(w, in, &in->op[a_op + 1]);
    *t = compare_masks(in, a, b, mask, 0);
    *t_hi = in->vec == 2 ? compare_masks(in, a, b, mask, 16) : 0;
    return 0;
}

/* setp.cmp[.bool].type p|q, a, b[, c] (op: p q a b c) */
static int exec_setp(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t t, th;
    if (compare_lanes(w, in, mask, 2, &t, &th))
        return -1;
    uint32_t c = 0;
    if (in->op[4].kind != OK_NONE) {
        if (w->pdef && emu_check_pdef(w, in, &in->op[4], mask))
            return -1;
        c = pred_val(w, &in->op[4]);
    }
    if (in->vec == 2) { /* f16x2: p from the low halves, q from the high ones */
        pred_set(w, in->op[0].idx, mask, boolop(in->flags, t, c));
        pred_set(w, in->op[1].idx, mask, boolop(in->flags, th, c));
    } else {
        pred_set(w, in->op[0].idx, mask, boolop(in->flags, t, c));
        pred_set(w, in->op[1].idx, mask, boolop(in->flags, ~t, c));
    }
    return 0;
}

/* set.cmp[.bool].dtype.stype d, a, b[, c] (op: d a b c) */
static int exec_set(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t t, th;
    if (compare_lanes(w, in, mask, 1, &t, &th))
        return -1;
    uint32_t c = 0;
    if (in->op[3].kind != OK_NONE) {
        if (w->pdef && emu_check_pdef(w, in, &in->op[3], mask))
            return -1;
        c = pred_val(w, &in->op[3]);
    }
    uint32_t r = boolop(in->flags, t, c);
    uint64_t one = in->ty2 == TY_F32 ? 0x3f800000u : 0xffffffffu;
    uint64_t *d = opd(w, &in->op[0]);
    FOR_LANES(l, mask)
    d[l] = ((r >> l) & 1) ? one : 0;
    mark_def(w, &in->op[0], mask);
    return 0;
}

static int cmp_kind(int ty)
{
    return ty_float(ty) ? CK_FLOAT : ty_signed(ty) ? CK_SINT : CK_UINT;
}

static int fmt_of_cmp(int ty)
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

/* Decodes the comparison part shared by setp and set. */
static int setup_compare(Decoder *d, const RawStmt *s, const Mods *m, Insn *in, int ty)
{
    if (m->cmp == CMP_NONE || !(m->cats & MCB(MC_CMP)))
        return emu_dec_error(d, s, "missing comparison operator");
    int kind = cmp_kind(ty);
    bool float_cmp = m->cmp >= CMP_EQU || m->cmp <= CMP_GE;
    bool uint_cmp = m->cmp <= CMP_HS;
    if ((kind == CK_FLOAT && !float_cmp) || (kind != CK_FLOAT && !uint_cmp) ||
        (kind == CK_SINT && m->cmp >= CMP_LO))
        return emu_dec_error(d, s, "comparison '.%s' does not apply to .%s", m->text[MC_CMP],
                         emu_types[ty].name);
    if ((m->flags & MF_FTZ) && kind != CK_FLOAT)
        return emu_dec_error(d, s, ".ftz on an integer comparison");
    in->sub = m->cmp;
    in->mode = (uint8_t)kind;
    in->fmt = (uint8_t)fmt_of_cmp(ty);
    in->ty = (uint8_t)ty;
    in->bits = (uint8_t)ty_bits(ty);
    in->vec = (ty == TY_F16X2 || ty == TY_BF16X2) ? 2 : 1;
    in->ftz = (m->flags & MF_FTZ) != 0;
    in->flags = m->logic;
    if (m->logic == LOGIC_POPC)
        return emu_dec_error(d, s, "'.popc' is not a boolean operator");
    return 0;
}

#define TYS_CMP (TYS_INT | TYS_BITS | TYB(TY_F32) | TYB(TY_F64) | TYB(TY_F16) | TYB(TY_BF16) | \
                 TYB(TY_F16X2) | TYB(TY_BF16X2))

static int decode_setp(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_CMP) | MCB(MC_LOGIC), MF_FTZ) ||
        emu_dec_type(d, s, m, TYS_CMP, &ty) || setup_compare(d, s, m, in, ty))
        return -1;
    int n = m->logic ? 4 : 3;
    if (emu_dec_nops(d, s, n, n))
        return -1;
    const RawOp *p = &s->ops[0];
    RawOp pp = *p, qq = {.kind = RO_SINK};
    if (p->kind == RO_NAME && p->name2) {
        pp.name2 = NULL;
        qq = (RawOp){.kind = RO_NAME, .name = p->name2};
    }
    if (in->vec == 2 && qq.kind == RO_SINK && p->kind != RO_SINK)
        return emu_dec_error(d, s, "setp on .%s needs two destination predicates p|q",
                         emu_types[ty].name);
    if (emu_dec_pred_dst(d, s, &pp, &in->op[0]) || emu_dec_pred_dst(d, s, &qq, &in->op[1]) ||
        emu_dec_src(d, s, &s->ops[1], ty, &in->op[2]) || emu_dec_src(d, s, &s->ops[2], ty, &in->op[3]))
        return -1;
    if (n == 4 && emu_dec_pred(d, s, &s->ops[3], true, &in->op[4]))
        return -1;
    in->nops = 5;
    in->exec = exec_setp;
    return 0;
}

static int decode_set(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_CMP) | MCB(MC_LOGIC), MF_FTZ))
        return -1;
    if (m->ntype != 2)
        return emu_dec_error(d, s, "set needs a destination and a source type");
    int dty = m->type[0], ty = m->type[1];
    if (dty != TY_U32 && dty != TY_S32 && dty != TY_F32)
        return emu_dec_error(d, s, "set destination type must be .u32, .s32 or .f32");
    if (!(TYB(ty) & TYS_CMP) || ty == TY_F16X2 || ty == TY_BF16X2)
        return emu_dec_error(d, s, "type .%s is not supported here", emu_types[ty].name);
    if (setup_compare(d, s, m, in, ty))
        return -1;
    int n = m->logic ? 4 : 3;
    if (emu_dec_nops(d, s, n, n) || emu_dec_dst(d, s, &s->ops[0], dty, &in->op[0]) ||
        emu_dec_src(d, s, &s->ops[1], ty, &in->op[1]) || emu_dec_src(d, s, &s->ops[2], ty, &in->op[2]))
        return -1;
    if (n == 4 && emu_dec_pred(d, s, &s->ops[3], true, &in->op[3]))
        return -1;
    in->ty2 = (uint8_t)dty;
    in->nops = 4;
    in->exec = exec_set;
    return 0;
}

/* ---- selection ------------------------------------------------------------ */

static int exec_selp(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_src(w, in, &in->op[1], mask) || check_src(w, in, &in->op[2], mask) ||
        (w->pdef && emu_check_pdef(w, in, &in->op[3], mask)))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[1]), *b = opv(w, in, &in->op[2]);
    uint32_t c = pred_val(w, &in->op[3]);
    uint64_t *d = opd(w, &in->op[0]);
    FOR_LANES(l, mask)
    d[l] = ((c >> l) & 1) ? a[l] : b[l];
    mark_def(w, &in->op[0], mask);
    return 0;
}

static uint64_t alu_slct(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    bool ge;
    if (in->ty2 == TY_F32) {
        float f = f32_of(in->ftz ? emu_fp_flush(FMT_F32, c) : c);
        ge = f >= 0.0f;
    } else {
        ge = (int32_t)c >= 0;
    }
    return ge ? a : b;
}

#define TYS_SEL (TYS_INT | TYS_BITS | TYB(TY_F32) | TYB(TY_F64) | TYB(TY_F16) | TYB(TY_BF16) | \
                 TYB(TY_F16X2) | TYB(TY_BF16X2))

static int decode_selp(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE), 0) || emu_dec_type(d, s, m, TYS_SEL, &ty) ||
        emu_dec_nops(d, s, 4, 4) || emu_dec_dst(d, s, &s->ops[0], ty, &in->op[0]) ||
        emu_dec_src(d, s, &s->ops[1], ty, &in->op[1]) || emu_dec_src(d, s, &s->ops[2], ty, &in->op[2]) ||
        emu_dec_pred(d, s, &s->ops[3], true, &in->op[3]))
        return -1;
    in->nops = 4;
    in->ty = (uint8_t)ty;
    in->bits = (uint8_t)ty_bits(ty);
    in->exec = exec_selp;
    return 0;
}

static int decode_slct(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE), MF_FTZ))
        return -1;
    if (m->ntype != 2 || (m->type[1] != TY_S32 && m->type[1] != TY_F32) ||
        !(TYB(m->type[0]) & TYS_SEL))
        return emu_dec_error(d, s, "slct needs .dtype.s32 or .dtype.f32");
    int ty = m->type[0];
    if (emu_dec_alu(d, s, in, alu_slct, ty, ty, ty, ty, m->type[1]))
        return -1;
    in->ty2 = m->type[1];
    in->ftz = (m->flags & MF_FTZ) != 0;
    return 0;
}

const OpDesc emu_ops_mov[] = {
    {"mov", decode_mov, 0},   {"setp", decode_setp, 0}, {"set", decode_set, 0},
    {"selp", decode_selp, 0}, {"slct", decode_slct, 0}, {NULL, NULL, 0},
};
