/* Integer and logic instructions: add sub mul mad (lo/hi/wide, carry forms),
 * mul24 mad24 sad div rem abs neg min max, bit operations (popc clz bfind brev
 * bfe bfi prmt lop3 shf shl shr and or xor not cnot), and the same logic on
 * predicates. Operands arrive as raw bits; in->bits and in->sgn say how wide
 * and how signed the instruction type is. */
#include <string.h>

#include "emu_internal.h"

/* The operand extended to 64 bits according to the instruction type. */
static inline uint64_t xv(const Insn *in, uint64_t v)
{
    return in->sgn ? (uint64_t)sext(v, in->bits) : v & width_mask(in->bits);
}

static uint64_t saturate_s(const Insn *in, __int128 v)
{
    __int128 hi = ((__int128)1 << (in->bits - 1)) - 1, lo = -hi - 1;
    return (uint64_t)(int64_t)(v > hi ? hi : v < lo ? lo : v);
}

static uint64_t alu_add(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    if (in->sat)
        return saturate_s(in, (__int128)(int64_t)xv(in, a) + (int64_t)xv(in, b));
    return a + b;
}

static uint64_t alu_sub(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    if (in->sat)
        return saturate_s(in, (__int128)(int64_t)xv(in, a) - (int64_t)xv(in, b));
    return a - b;
}

static uint64_t alu_mul_lo(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return a * b; }

static uint64_t mul_hi(const Insn *in, uint64_t a, uint64_t b)
{
    if (in->bits == 64) {
        if (in->sgn)
            return (uint64_t)(((__int128)(int64_t)a * (int64_t)b) >> 64);
        return (uint64_t)(((unsigned __int128)a * b) >> 64);
    }
    if (in->sgn)
        return (uint64_t)((int64_t)xv(in, a) * (int64_t)xv(in, b) >> in->bits);
    return xv(in, a) * xv(in, b) >> in->bits;
}

static uint64_t alu_mul_hi(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return mul_hi(in, a, b);
}

/* 16x16->32 and 32x32->64: the extended operands multiplied in 64 bits. */
static uint64_t alu_mul_wide(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return xv(in, a) * xv(in, b);
}

static uint64_t alu_mad_lo(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return a * b + c; }

static uint64_t alu_mad_hi(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    if (in->sat)
        return saturate_s(in, (__int128)(int64_t)sext(mul_hi(in, a, b), in->bits) +
                                  (int64_t)xv(in, c));
    return mul_hi(in, a, b) + c;
}

static uint64_t alu_mad_wide(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return xv(in, a) * xv(in, b) + c;
}

/* mul24/mad24: the low 24 bits of each operand, a 48-bit product. */
static uint64_t mul24(const Insn *in, uint64_t a, uint64_t b)
{
    int64_t x = in->sgn ? sext(a, 24) : (int64_t)(a & 0xffffff);
    int64_t y = in->sgn ? sext(b, 24) : (int64_t)(b & 0xffffff);
    uint64_t p = (uint64_t)(x * y);
    return in->mode ? p >> 16 : p; /* mode 1: .hi */
}

static uint64_t alu_mul24(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return mul24(in, a, b); }
static uint64_t alu_mad24(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return mul24(in, a, b) + c;
}

static uint64_t alu_sad(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    if (in->sgn) {
        int64_t x = (int64_t)xv(in, a), y = (int64_t)xv(in, b);
        return c + (x > y ? (uint64_t)x - (uint64_t)y : (uint64_t)y - (uint64_t)x);
    }
    uint64_t x = xv(in, a), y = xv(in, b);
    return c + (x > y ? x - y : y - x);
}

/* Division by zero gives all ones (quotient) and the dividend (remainder);
 * the most negative value divided by -1 wraps. */
static uint64_t alu_div(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = xv(in, a), y = xv(in, b);
    if (!y)
        return ~0ull;
    if (!in->sgn)
        return x / y;
    if ((int64_t)y == -1)
        return 0 - x;
    return (uint64_t)((int64_t)x / (int64_t)y);
}

static uint64_t alu_rem(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = xv(in, a), y = xv(in, b);
    if (!y)
        return x;
    if (!in->sgn)
        return x % y;
    if ((int64_t)y == -1)
        return 0;
    return (uint64_t)((int64_t)x % (int64_t)y);
}

static uint64_t alu_abs(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    int64_t x = sext(a, in->bits);
    return x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
}

static uint64_t alu_neg(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return 0 - a; }

static uint64_t minmax(const Insn *in, uint64_t a, uint64_t b, bool max)
{
    uint64_t x = xv(in, a), y = xv(in, b), r;
    bool lt = in->sgn ? (int64_t)x < (int64_t)y : x < y;
    r = (lt != max) ? x : y;
    if (in->mode && (int64_t)r < 0) /* .relu */
        r = 0;
    return r;
}

static uint64_t alu_min(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return minmax(in, a, b, false); }
static uint64_t alu_max(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return minmax(in, a, b, true); }

static uint64_t alu_popc(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)popc64(a & width_mask(in->bits));
}

static uint64_t alu_clz(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    a &= width_mask(in->bits);
    return a ? (uint64_t)(__builtin_clzll(a) - (64 - in->bits)) : (uint64_t)in->bits;
}

static uint64_t alu_bfind(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    a &= width_mask(in->bits);
    if (in->sgn && ((a >> (in->bits - 1)) & 1))
        a = ~a & width_mask(in->bits);
    if (!a)
        return 0xffffffffu;
    uint64_t i = (uint64_t)(63 - __builtin_clzll(a));
    return in->mode ? (uint64_t)(in->bits - 1) - i : i; /* mode 1: .shiftamt */
}

static uint64_t alu_brev(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t r = 0;
    for (int i = 0; i < in->bits; i++)
        r |= ((a >> i) & 1) << (in->bits - 1 - i);
    return r;
}

static uint64_t alu_bfe(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    unsigned msb = in->bits - 1u, pos = b & 0xff, len = c & 0xff;
    bool sbit = false;
    if (in->sgn && len)
        sbit = (a >> (pos + len - 1 < msb ? pos + len - 1 : msb)) & 1;
    unsigned n = pos > msb ? 0 : (len < msb + 1 - pos ? len : msb + 1 - pos);
    uint64_t r = n ? (a >> pos) & width_mask((int)n) : 0;
    if (sbit)
        r |= ~width_mask((int)n);
    return r;
}

static uint64_t alu_prmt(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    /* result bytes 0..3 for each selector value of the special modes */
    static const uint8_t modes[7][4][4] = {
        [PRMT_F4E] = {{0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 6}},
        [PRMT_B4E] = {{0, 7, 6, 5}, {1, 0, 7, 6}, {2, 1, 0, 7}, {3, 2, 1, 0}},
        [PRMT_RC8] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}},
        [PRMT_ECL] = {{0, 1, 2, 3}, {1, 1, 2, 3}, {2, 2, 2, 3}, {3, 3, 3, 3}},
        [PRMT_ECR] = {{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 1, 2, 2}, {0, 1, 2, 3}},
        [PRMT_RC16] = {{0, 1, 0, 1}, {2, 3, 2, 3}, {0, 1, 0, 1}, {2, 3, 2, 3}},
    };
    uint64_t src = (b & 0xffffffffu) << 32 | (a & 0xffffffffu);
    uint64_t r = 0;
    for (int i = 0; i < 4; i++) {
        unsigned sel, byte;
        if (in->mode) {
            byte = modes[in->mode][c & 3][i];
            sel = byte;
        } else {
            sel = (c >> (4 * i)) & 0xf;
            byte = sel & 7;
        }
        uint64_t v = (src >> (8 * byte)) & 0xff;
        if (!in->mode && (sel & 8))
            v = (v & 0x80) ? 0xff : 0;
        r |= v << (8 * i);
    }
    return r;
}

static uint64_t alu_and(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return a & b; }
static uint64_t alu_or(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return a | b; }
static uint64_t alu_xor(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return a ^ b; }
static uint64_t alu_not(const Insn *in, uint64_t a, uint64_t b, uint64_t c) { return ~a; }
static uint64_t alu_cnot(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    return (a & width_mask(in->bits)) == 0;
}

static uint64_t alu_lop3(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++)
        if ((in->flags >> i) & 1)
            r |= ((i & 4) ? a : ~a) & ((i & 2) ? b : ~b) & ((i & 1) ? c : ~c);
    return r;
}

/* Shift amounts past the width give 0 (shl, shr.u) or the sign (shr.s). */
static uint64_t alu_shl(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    b &= 0xffffffffu;
    return b >= in->bits ? 0 : a << b;
}

static uint64_t alu_shr(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    b &= 0xffffffffu;
    if (in->sgn) {
        int64_t x = sext(a, in->bits);
        return (uint64_t)(x >> (b >= in->bits ? (uint64_t)in->bits - 1 : b));
    }
    a &= width_mask(in->bits);
    return b >= in->bits ? 0 : a >> b;
}

/* shf.{l,r}.{wrap,clamp}.b32 d, a, b, c: funnel shift of {b, a} by c. */
static uint64_t alu_shf(const Insn *in, uint64_t a, uint64_t b, uint64_t c)
{
    uint32_t n = (uint32_t)c;
    n = in->mode & 2 ? (n > 32 ? 32 : n) : n & 31; /* mode bit 1: .clamp */
    uint64_t v = (b & 0xffffffffu) << 32 | (a & 0xffffffffu);
    if (in->mode & 1) /* .l */
        return (v << n) >> 32;
    return v >> n;
}

/* Loops of their own for the operations compiled kernels use most. */
EMU_ALU_EXEC(alu_add)
EMU_ALU_EXEC(alu_sub)
EMU_ALU_EXEC(alu_mul_lo)
EMU_ALU_EXEC(alu_mul_wide)
EMU_ALU_EXEC(alu_mad_lo)
EMU_ALU_EXEC(alu_mad_wide)
EMU_ALU_EXEC(alu_min)
EMU_ALU_EXEC(alu_max)
EMU_ALU_EXEC(alu_and)
EMU_ALU_EXEC(alu_or)
EMU_ALU_EXEC(alu_xor)
EMU_ALU_EXEC(alu_shl)
EMU_ALU_EXEC(alu_shr)

static void specialize(Insn *in)
{
    static const struct {
        AluFn fn;
        ExecFn exec;
    } fast[] = {
        {alu_add, exec_alu_add}, {alu_sub, exec_alu_sub}, {alu_mul_lo, exec_alu_mul_lo},
        {alu_mul_wide, exec_alu_mul_wide}, {alu_mad_lo, exec_alu_mad_lo},
        {alu_mad_wide, exec_alu_mad_wide}, {alu_min, exec_alu_min}, {alu_max, exec_alu_max},
        {alu_and, exec_alu_and}, {alu_or, exec_alu_or}, {alu_xor, exec_alu_xor},
        {alu_shl, exec_alu_shl}, {alu_shr, exec_alu_shr},
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(fast); i++)
        if (in->exec == emu_exec_alu && in->alu == fast[i].fn)
            in->exec = fast[i].exec;
}

/* ---- bfi (four sources) ------------------------------------------------------ */

static int exec_bfi(Warp *w, const Insn *in, uint32_t mask)
{
    for (int i = 1; i <= 4; i++)
        if (check_src(w, in, &in->op[i], mask))
            return -1;
    const uint64_t *a = opv(w, in, &in->op[1]), *b = opv(w, in, &in->op[2]);
    const uint64_t *pos = opv(w, in, &in->op[3]), *len = opv(w, in, &in->op[4]);
    uint64_t *d = opd(w, &in->op[0]);
    unsigned msb = in->bits - 1u;
    FOR_LANES(l, mask) {
        unsigned p = pos[l] & 0xff, n = len[l] & 0xff;
        n = p > msb ? 0 : (n < msb + 1 - p ? n : msb + 1 - p);
        uint64_t m = n ? width_mask((int)n) << p : 0;
        d[l] = ((b[l] & ~m) | (n ? (a[l] << p) & m : 0)) & width_mask(in->bits);
    }
    mark_def(w, &in->op[0], mask);
    return 0;
}

/* ---- carry chains --------------------------------------------------------- */

enum { CARRY_ADD, CARRY_SUB, CARRY_MAD_LO, CARRY_MAD_HI };

/* add.cc addc sub.cc subc mad.cc madc: in->sub the operation, in->mode bit 0
 * "uses the carry in", bit 1 "writes the carry out". */
static int exec_carry(Warp *w, const Insn *in, uint32_t mask)
{
    for (int i = 1; i <= 3; i++)
        if (check_src(w, in, &in->op[i], mask))
            return -1;
    const uint64_t *a = opv(w, in, &in->op[1]), *b = opv(w, in, &in->op[2]);
    const uint64_t *c = opv(w, in, &in->op[3]);
    uint64_t *d = opd(w, &in->op[0]);
    uint64_t *cf = w->r + SR_CARRY * WARP_SIZE;
    uint64_t wm = width_mask(in->bits);
    FOR_LANES(l, mask) {
        unsigned __int128 cin = (in->mode & 1) ? cf[l] & 1 : 0;
        unsigned __int128 x = a[l] & wm, y = b[l] & wm, r;
        switch (in->sub) {
        case CARRY_ADD: r = x + y + cin; break;
        case CARRY_SUB: r = x - y - cin; break;
        case CARRY_MAD_LO: r = ((x * y) & wm) + (c[l] & wm) + cin; break;
        default: r = (((x * y) >> in->bits) & wm) + (c[l] & wm) + cin; break;
        }
        d[l] = (uint64_t)r & wm;
        if (in->mode & 2)
            cf[l] = (uint64_t)(r >> in->bits) & 1;
    }
    mark_def(w, &in->op[0], mask);
    return 0;
}

/* ---- predicate logic -------------------------------------------------------- */

static int exec_pred_logic(Warp *w, const Insn *in, uint32_t mask)
{
    if (w->pdef) {
        for (int i = 1; i < in->nops; i++)
            if (emu_check_pdef(w, in, &in->op[i], mask))
                return -1;
    }
    uint32_t a = pred_val(w, &in->op[1]);
    uint32_t b = in->nops > 2 ? pred_val(w, &in->op[2]) : 0;
    uint32_t r;
    switch (in->sub) {
    case LOGIC_AND: r = a & b; break;
    case LOGIC_OR: r = a | b; break;
    case LOGIC_XOR: r = a ^ b; break;
    default: r = ~a; break; /* not */
    }
    pred_set(w, in->op[0].idx, mask, r);
    return 0;
}

/* ---- decoders --------------------------------------------------------------- */

enum { I_ADD, I_SUB, I_MUL, I_MAD, I_MUL24, I_MAD24, I_SAD, I_DIV, I_REM, I_ABS, I_NEG, I_MIN,
       I_MAX, I_POPC, I_CLZ, I_BFIND, I_BREV, I_BFE, I_BFI, I_PRMT, I_AND, I_OR, I_XOR, I_NOT,
       I_CNOT, I_LOP3, I_SHL, I_SHR, I_SHF, I_ADDC, I_SUBC, I_MADC };

static int dec_pred_logic(Decoder *d, const RawStmt *s, Insn *in, int op)
{
    int n = op == LOGIC_NONE ? 2 : 3;
    if (emu_dec_nops(d, s, n, n) || emu_dec_pred_dst(d, s, &s->ops[0], &in->op[0]) ||
        emu_dec_pred(d, s, &s->ops[1], true, &in->op[1]))
        return -1;
    if (n == 3 && emu_dec_pred(d, s, &s->ops[2], true, &in->op[2]))
        return -1;
    in->nops = (uint8_t)n;
    in->sub = (uint8_t)op;
    in->exec = exec_pred_logic;
    return 0;
}

static int dec_carry(Decoder *d, const RawStmt *s, const Mods *m, Insn *in, int op, bool cin)
{
    int ty;
    bool mad = op == I_MADC || (op == I_MAD);
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_CMP), MF_CC) ||
        emu_dec_type(d, s, m, TYB(TY_U32) | TYB(TY_S32) | TYB(TY_U64) | TYB(TY_S64), &ty))
        return -1;
    int n = mad ? 4 : 3;
    if (emu_dec_nops(d, s, n, n) || emu_dec_dst(d, s, &s->ops[0], ty, &in->op[0]))
        return -1;
    for (int i = 1; i < n; i++)
        if (emu_dec_src(d, s, &s->ops[i], ty, &in->op[i]))
            return -1;
    if (mad && m->cmp != CMP_LO && m->cmp != CMP_HI)
        return emu_dec_error(d, s, "mad with carry needs .lo or .hi");
    in->nops = (uint8_t)n;
    in->ty = (uint8_t)ty;
    in->bits = (uint8_t)ty_bits(ty);
    in->sub = (uint8_t)(op == I_ADD || op == I_ADDC ? CARRY_ADD
                        : op == I_SUB || op == I_SUBC ? CARRY_SUB
                        : m->cmp == CMP_LO ? CARRY_MAD_LO : CARRY_MAD_HI);
    in->mode = (uint8_t)((cin ? 1 : 0) | ((m->flags & MF_CC) ? 2 : 0));
    in->exec = exec_carry;
    return 0;
}

/* mul/mad: .lo .hi .wide */
static int dec_mul(Decoder *d, const RawStmt *s, const Mods *m, Insn *in, bool mad)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_CMP), MF_WIDE | MF_SAT) ||
        emu_dec_type(d, s, m, TYS_INT, &ty))
        return -1;
    if (m->flags & MF_WIDE) {
        if (ty_bits(ty) == 64)
            return emu_dec_error(d, s, ".wide needs a 16- or 32-bit type");
        int wty = ty == TY_U16 ? TY_U32 : ty == TY_S16 ? TY_S32 : ty == TY_U32 ? TY_U64 : TY_S64;
        return emu_dec_alu(d, s, in, mad ? alu_mad_wide : alu_mul_wide, ty, wty, ty, ty,
                       mad ? wty : TY_NONE);
    }
    bool hi = m->cmp == CMP_HI;
    if (m->cmp != CMP_LO && m->cmp != CMP_HI)
        return emu_dec_error(d, s, "mul/mad of integers needs .lo, .hi or .wide");
    if ((m->flags & MF_SAT) && !(mad && hi && ty == TY_S32))
        return emu_dec_error(d, s, ".sat is only supported on mad.hi.s32");
    in->sat = (m->flags & MF_SAT) != 0;
    if (mad)
        return emu_dec_alu(d, s, in, hi ? alu_mad_hi : alu_mad_lo, ty, ty, ty, ty, ty);
    return emu_dec_alu(d, s, in, hi ? alu_mul_hi : alu_mul_lo, ty, ty, ty, ty, TY_NONE);
}

static int decode_int_op(Decoder *d, const RawStmt *s, const Mods *m, Insn *in);

static int decode_int(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int rc = decode_int_op(d, s, m, in);
    if (rc == 0)
        specialize(in);
    return rc;
}

static int decode_int_op(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int op = d->op_arg, ty;
    uint32_t cats = MCB(MC_TYPE);
    if (m->ntype >= 1 && ty_float(m->type[0]))
        return emu_decode_float(d, s, m, in);
    /* predicate forms of the logic instructions */
    if (m->ntype == 1 && m->type[0] == TY_PRED &&
        (op == I_AND || op == I_OR || op == I_XOR || op == I_NOT)) {
        if (emu_dec_allow(d, s, m, cats, 0))
            return -1;
        return dec_pred_logic(d, s, in, op == I_AND ? LOGIC_AND : op == I_OR ? LOGIC_OR
                                       : op == I_XOR ? LOGIC_XOR : LOGIC_NONE);
    }
    switch (op) {
    case I_ADD:
    case I_SUB:
        if (m->flags & MF_CC)
            return dec_carry(d, s, m, in, op, false);
        if (emu_dec_allow(d, s, m, cats, MF_SAT) || emu_dec_type(d, s, m, TYS_INT, &ty))
            return -1;
        if ((m->flags & MF_SAT) && ty != TY_S32)
            return emu_dec_error(d, s, ".sat needs .s32");
        in->sat = (m->flags & MF_SAT) != 0;
        return emu_dec_alu(d, s, in, op == I_ADD ? alu_add : alu_sub, ty, ty, ty, ty, TY_NONE);
    case I_ADDC:
    case I_SUBC: return dec_carry(d, s, m, in, op, true);
    case I_MADC: return dec_carry(d, s, m, in, op, true);
    case I_MUL: return dec_mul(d, s, m, in, false);
    case I_MAD:
        if (m->flags & MF_CC)
            return dec_carry(d, s, m, in, op, false);
        return dec_mul(d, s, m, in, true);
    case I_MUL24:
    case I_MAD24:
        if (emu_dec_allow(d, s, m, cats | MCB(MC_CMP), 0) ||
            emu_dec_type(d, s, m, TYB(TY_U32) | TYB(TY_S32), &ty))
            return -1;
        if (m->cmp != CMP_LO && m->cmp != CMP_HI)
            return emu_dec_error(d, s, "needs .lo or .hi");
        in->mode = m->cmp == CMP_HI;
        return emu_dec_alu(d, s, in, op == I_MUL24 ? alu_mul24 : alu_mad24, ty, ty, ty, ty,
                       op == I_MAD24 ? ty : TY_NONE);
    case I_SAD:
        if (emu_dec_allow(d, s, m, cats, 0) || emu_dec_type(d, s, m, TYS_INT, &ty))
            return -1;
        return emu_dec_alu(d, s, in, alu_sad, ty, ty, ty, ty, ty);
    case I_DIV:
    case I_REM:
        if (emu_dec_allow(d, s, m, cats, 0) || emu_dec_type(d, s, m, TYS_INT, &ty))
            return -1;
        return emu_dec_alu(d, s, in, op == I_DIV ? alu_div : alu_rem, ty, ty, ty, ty, TY_NONE);
    case I_ABS:
    case I_NEG:
        if (emu_dec_allow(d, s, m, cats, 0) || emu_dec_type(d, s, m, TYS_SINT, &ty))
            return -1;
        return emu_dec_alu(d, s, in, op == I_ABS ? alu_abs : alu_neg, ty, ty, ty, TY_NONE, TY_NONE);
    case I_MIN:
    case I_MAX:
        if (emu_dec_allow(d, s, m, cats, MF_RELU) || emu_dec_type(d, s, m, TYS_INT, &ty))
            return -1;
        if ((m->flags & MF_RELU) && ty != TY_S32)
            return emu_dec_error(d, s, ".relu needs .s32");
        in->mode = (m->flags & MF_RELU) != 0;
        return emu_dec_alu(d, s, in, op == I_MIN ? alu_min : alu_max, ty, ty, ty, ty, TY_NONE);
    case I_POPC:
    case I_CLZ:
    case I_BREV:
        if (emu_dec_allow(d, s, m, cats, 0) ||
            emu_dec_type(d, s, m, TYB(TY_B32) | TYB(TY_B64), &ty))
            return -1;
        return emu_dec_alu(d, s, in, op == I_POPC ? alu_popc : op == I_CLZ ? alu_clz : alu_brev, ty,
                       op == I_BREV ? ty : TY_U32, ty, TY_NONE, TY_NONE);
    case I_BFIND:
        if (emu_dec_allow(d, s, m, cats, MF_SHIFTAMT) ||
            emu_dec_type(d, s, m, TYB(TY_U32) | TYB(TY_S32) | TYB(TY_U64) | TYB(TY_S64), &ty))
            return -1;
        in->mode = (m->flags & MF_SHIFTAMT) != 0;
        return emu_dec_alu(d, s, in, alu_bfind, ty, TY_U32, ty, TY_NONE, TY_NONE);
    case I_BFE:
        if (emu_dec_allow(d, s, m, cats, 0) ||
            emu_dec_type(d, s, m, TYB(TY_U32) | TYB(TY_S32) | TYB(TY_U64) | TYB(TY_S64), &ty))
            return -1;
        return emu_dec_alu(d, s, in, alu_bfe, ty, ty, ty, TY_U32, TY_U32);
    case I_BFI:
        if (emu_dec_allow(d, s, m, cats, 0) || emu_dec_type(d, s, m, TYB(TY_B32) | TYB(TY_B64), &ty) ||
            emu_dec_nops(d, s, 5, 5) || emu_dec_dst(d, s, &s->ops[0], ty, &in->op[0]) ||
            emu_dec_src(d, s, &s->ops[1], ty, &in->op[1]) || emu_dec_src(d, s, &s->ops[2], ty, &in->op[2]) ||
            emu_dec_src(d, s, &s->ops[3], TY_U32, &in->op[3]) ||
            emu_dec_src(d, s, &s->ops[4], TY_U32, &in->op[4]))
            return -1;
        in->nops = 5;
        in->ty = (uint8_t)ty;
        in->bits = (uint8_t)ty_bits(ty);
        in->exec = exec_bfi;
        return 0;
    case I_PRMT:
        if (emu_dec_allow(d, s, m, cats | MCB(MC_PRMT), 0) || emu_dec_type(d, s, m, TYB(TY_B32), &ty))
            return -1;
        in->mode = m->prmt;
        return emu_dec_alu(d, s, in, alu_prmt, ty, ty, ty, ty, ty);
    case I_AND:
    case I_OR:
    case I_XOR:
        if (emu_dec_allow(d, s, m, cats, 0) || emu_dec_type(d, s, m, TYS_BITS, &ty))
            return -1;
        return emu_dec_alu(d, s, in, op == I_AND ? alu_and : op == I_OR ? alu_or : alu_xor, ty, ty, ty,
                       ty, TY_NONE);
    case I_NOT:
    case I_CNOT:
        if (emu_dec_allow(d, s, m, cats, 0) || emu_dec_type(d, s, m, TYS_BITS, &ty))
            return -1;
        return emu_dec_alu(d, s, in, op == I_NOT ? alu_not : alu_cnot, ty, ty, ty, TY_NONE, TY_NONE);
    case I_LOP3: {
        if (emu_dec_allow(d, s, m, cats, 0) || emu_dec_type(d, s, m, TYB(TY_B32), &ty) ||
            emu_dec_nops(d, s, 5, 5))
            return -1;
        if (s->ops[4].kind != RO_INT || s->ops[4].ival < 0 || s->ops[4].ival > 255)
            return emu_dec_error(d, s, "the lookup table must be a constant 0..255");
        RawStmt s4 = *s;
        s4.nops = 4;
        if (emu_dec_alu(d, &s4, in, alu_lop3, ty, ty, ty, ty, ty))
            return -1;
        in->flags = (uint32_t)s->ops[4].ival;
        return 0;
    }
    case I_SHL:
    case I_SHR:
        if (emu_dec_allow(d, s, m, cats, 0) || emu_dec_type(d, s, m, TYS_BITS | TYS_INT, &ty))
            return -1;
        if (op == I_SHL && ty_signed(ty))
            return emu_dec_error(d, s, "shl needs a .b type");
        return emu_dec_alu(d, s, in, op == I_SHL ? alu_shl : alu_shr, ty, ty, ty, TY_U32, TY_NONE);
    case I_SHF:
        if (emu_dec_allow(d, s, m, cats | MCB(MC_SHFDIR), MF_WRAP | MF_CLAMP) ||
            emu_dec_type(d, s, m, TYB(TY_B32), &ty))
            return -1;
        if (!m->shfdir || !(m->flags & (MF_WRAP | MF_CLAMP)))
            return emu_dec_error(d, s, "shf needs .l or .r and .wrap or .clamp");
        in->mode = (uint8_t)((m->shfdir == 1 ? 1 : 0) | ((m->flags & MF_CLAMP) ? 2 : 0));
        return emu_dec_alu(d, s, in, alu_shf, ty, ty, ty, ty, TY_U32);
    default: tsr_unreachable();
    }
}

const OpDesc emu_ops_int[] = {
    {"add", decode_int, I_ADD},     {"sub", decode_int, I_SUB},     {"mul", decode_int, I_MUL},
    {"mad", decode_int, I_MAD},     {"mul24", decode_int, I_MUL24}, {"mad24", decode_int, I_MAD24},
    {"sad", decode_int, I_SAD},     {"div", decode_int, I_DIV},     {"rem", decode_int, I_REM},
    {"abs", decode_int, I_ABS},     {"neg", decode_int, I_NEG},     {"min", decode_int, I_MIN},
    {"max", decode_int, I_MAX},     {"popc", decode_int, I_POPC},   {"clz", decode_int, I_CLZ},
    {"bfind", decode_int, I_BFIND}, {"brev", decode_int, I_BREV},   {"bfe", decode_int, I_BFE},
    {"bfi", decode_int, I_BFI},     {"prmt", decode_int, I_PRMT},   {"and", decode_int, I_AND},
    {"or", decode_int, I_OR},       {"xor", decode_int, I_XOR},     {"not", decode_int, I_NOT},
    {"cnot", decode_int, I_CNOT},   {"lop3", decode_int, I_LOP3},   {"shl", decode_int, I_SHL},
    {"shr", decode_int, I_SHR},     {"shf", decode_int, I_SHF},     {"addc", decode_int, I_ADDC},
    {"subc", decode_int, I_SUBC},   {"madc", decode_int, I_MADC},   {NULL, NULL, 0},
};
