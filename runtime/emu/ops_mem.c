/* Memory instructions: ld, ldu, st (scalar and vector, every state space),
 * atom and red, cp.async with its groups, cvta, isspacep and prefetch.
 * Addresses are resolved and checked by memory.c. Global atomics are real
 * host atomics, since CTAs may run on several host threads. cp.async copies
 * are queued and performed when their group is waited for, so a kernel that
 * reads the destination too early sees the old contents, as a GPU may. */
#include <math.h>
#include <string.h>

#include "emu_internal.h"

/* The element operands of a load destination or store source: a vector's
 * elements, or the scalar operand itself. */
static const Operand *elems(Warp *w, const Operand *o, int *n)
{
    if (o->kind == OK_VEC) {
        *n = o->nelem;
        return &w->cta->k->vec[o->idx];
    }
    *n = 1;
    return o;
}

static uint64_t load_elem(const uint8_t *p, int size, bool sgn)
{
    uint64_t v = 0;
    memcpy(&v, p, (size_t)size);
    return sgn ? (uint64_t)sext(v, size * 8) : v;
}

/* ld.space.type d, [a] (op: d addr) */
static int exec_ld(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_src(w, in, &in->op[1], mask))
        return -1;
    int n, esz = in->bits / 8;
    const Operand *e = elems(w, &in->op[0], &n);
    unsigned total = (unsigned)(esz * n);
    Cta *c = w->cta;
    FOR_LANES(l, mask) {
        int space;
        uint8_t *p = emu_resolve_fast(w, in, (int)l, in->space, addr_of(w, &in->op[1], l), total, false,
                                 &space);
        if (!p)
            return -1;
        if (space == SP_SHARED && c->race &&
            emu_race_access(w, in, (int)l, (uint32_t)(p - c->smem), total, NULL, w->icount))
            return -1;
        if (space == SP_SHARED && emu_smem_read(w, in, (int)l, (uint32_t)(p - c->smem), total))
            return -1;
        for (int i = 0; i < n; i++) {
            if (e[i].kind == OK_SINK)
                continue;
            uint64_t v = load_elem(p + i * esz, esz, in->sgn);
            w->r[(size_t)e[i].idx * WARP_SIZE + l] = v & width_mask(e[i].bits);
        }
    }
    for (int i = 0; i < n; i++)
        mark_def(w, &e[i], mask);
    return 0;
}

/* st.space.type [a], b (op: addr b) */
static int exec_st(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_src(w, in, &in->op[0], mask) || check_src(w, in, &in->op[1], mask))
        return -1;
    int n, esz = in->bits / 8;
    const Operand *e = elems(w, &in->op[1], &n);
    unsigned total = (unsigned)(esz * n);
    Cta *c = w->cta;
    FOR_LANES(l, mask) {
        uint8_t buf[64];
        for (int i = 0; i < n; i++) {
            uint64_t v = opv(w, in, &e[i])[l];
            memcpy(buf + i * esz, &v, (size_t)esz);
        }
        int space;
        uint8_t *p = emu_resolve_fast(w, in, (int)l, in->space, addr_of(w, &in->op[0], l), total, true,
                                 &space);
        if (!p)
            return -1;
        if (space == SP_SHARED && c->race &&
            emu_race_access(w, in, (int)l, (uint32_t)(p - c->smem), total, buf, w->icount))
            return -1;
        if (space == SP_SHARED)
            emu_smem_written(c, (uint32_t)(p - c->smem), total);
        memcpy(p, buf, total);
    }
    return 0;
}

static int decode_ldst(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    bool st = d->op_arg == 1;
    int ty;
    uint32_t flags = MF_CACHE_HINT | MF_PREFETCH | (st ? 0 : MF_NC);
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_SPACE) | MCB(MC_VEC) | MC_MEMHINTS, flags) ||
        emu_dec_type(d, s, m, TYS_INT | TYS_BITS | TYB(TY_U8) | TYB(TY_S8) | TYB(TY_B8) | TYB(TY_F16) |
                              TYB(TY_BF16) | TYB(TY_F16X2) | TYB(TY_BF16X2) | TYB(TY_F32) |
                              TYB(TY_F64),
                 &ty))
        return -1;
    if (m->nspace > 1)
        return emu_dec_error(d, s, "too many state spaces");
    int space = m->nspace ? m->space[0] : SP_GENERIC;
    if ((m->flags & MF_NC) && space != SP_GLOBAL)
        return emu_dec_error(d, s, ".nc needs .global");
    int vec = m->vec ? m->vec : 1;
    if (vec * ty_size(ty) > 32)
        return emu_dec_error(d, s, "vector of %d x .%s is too wide", vec, emu_types[ty].name);
    int nops = 2 + ((m->flags & MF_CACHE_HINT) ? 1 : 0);
    if (emu_dec_nops(d, s, nops, nops))
        return -1;
    const RawOp *val = &s->ops[st ? 1 : 0], *adr = &s->ops[st ? 0 : 1];
    Operand *vo = &in->op[st ? 1 : 0], *ao = &in->op[st ? 0 : 1];
    int rc;
    if (vec > 1)
        rc = emu_dec_vec(d, s, val, vec, ty, !st, true, vo);
    else if (st)
        rc = emu_dec_src_wide(d, s, val, ty, vo);
    else
        rc = emu_dec_dst_wide(d, s, val, ty, vo);
    if (rc || emu_dec_addr(d, s, adr, &space, ao))
        return -1;
    if (st && (space == SP_PARAM || space == SP_CONST)) /* (a function's .param is local) */
        return emu_dec_error(d, s, "st to .%s is not allowed", emu_space_names[space]);
    if (m->flags & MF_CACHE_HINT) {
        Operand pol;
        if (emu_dec_src(d, s, &s->ops[2], TY_B64, &pol))
            return -1;
    }
    in->nops = 2;
    in->ty = (uint8_t)ty;
    in->bits = (uint8_t)ty_bits(ty);
    in->sgn = ty_signed(ty);
    in->space = (uint8_t)space;
    in->vec = (uint8_t)vec;
    in->exec = st ? exec_st : exec_ld;
    return 0;
}

/* ---- atomics --------------------------------------------------------------- */

/* The new value an atomic operation stores, given the old one. */
static uint64_t atom_apply(const Insn *in, uint64_t old, uint64_t b, uint64_t c)
{
    return emu_atom_apply(in->sub, in->bits, in->fmt, in->sgn, old, b, c);
}

/* min/max of f16 or bf16 values as PTX's min/max: a NaN gives the other
 * operand, -0 is below +0. */
static uint64_t half_minmax(int fmt, bool min, uint64_t old, uint64_t b)
{
    double x = emu_fp_to_double(fmt, old & 0xffff), y = emu_fp_to_double(fmt, b & 0xffff);
    if (isnan(y))
        return old;
    if (isnan(x))
        return b;
    bool lt = y < x || (y == x && signbit(y) && !signbit(x));
    bool gt = y > x || (y == x && !signbit(y) && signbit(x));
    return (min ? lt : gt) ? b : old;
}

uint64_t emu_atom_apply(int op, int bits, int fmt, bool sgn, uint64_t old, uint64_t b, uint64_t c)
{
    uint64_t wm = width_mask(bits);
    switch (op) {
    case ATOM_ADD:
        if (fmt == FMT_F32) {
            float x = f32_of(emu_fp_flush(FMT_F32, old)), y = f32_of(emu_fp_flush(FMT_F32, b));
            return emu_fp_flush(FMT_F32, f32_bits(x + y));
        }
        if (fmt == FMT_F64)
            return f64_bits(f64_of(old) + f64_of(b));
        if (fmt == FMT_F16 || fmt == FMT_BF16) {
            uint64_t r = 0;
            for (int h = 0; h < bits; h += 16) {
                double x = emu_fp_to_double(fmt, (old >> h) & 0xffff);
                double y = emu_fp_to_double(fmt, (b >> h) & 0xffff);
                double sum;
                int rs;
                emu_fp_exact_op(FOP_ADD, x, y, 0, &sum, &rs);
                r |= emu_fp_from_double(fmt, sum, rs, RND_RN, false) << h;
            }
            return r;
        }
        return (old + b) & wm;
    case ATOM_INC: return (old & wm) >= (b & wm) ? 0 : old + 1;
    case ATOM_DEC: return ((old & wm) == 0 || (old & wm) > (b & wm)) ? b : old - 1;
    case ATOM_MIN:
    case ATOM_MAX: {
        if (fmt == FMT_F16 || fmt == FMT_BF16)
            return half_minmax(fmt, op == ATOM_MIN, old, b);
        bool lt = sgn ? sext(b, bits) < sext(old, bits) : (b & wm) < (old & wm);
        if (fmt == FMT_F32)
            lt = f32_of(b) < f32_of(old);
        return (lt == (op == ATOM_MIN)) ? b : old;
    }
    case ATOM_EXCH: return b;
    case ATOM_CAS: return (old & wm) == (b & wm) ? c : old;
    case ATOM_AND: return old & b;
    case ATOM_OR: return old | b;
    case ATOM_XOR: return old ^ b;
    default: tsr_unreachable();
    }
}

/* Performs the operation atomically on host memory; returns the old value. */
static uint64_t atom_host(const Insn *in, uint8_t *p, uint64_t b, uint64_t c)
{
    switch (in->bits) {
    case 16: {
        uint16_t old = __atomic_load_n((uint16_t *)p, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n((uint16_t *)p, &old,
                                            (uint16_t)atom_apply(in, old, b, c), false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        }
        return old;
    }
    case 32: {
        uint32_t old = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n((uint32_t *)p, &old,
                                            (uint32_t)atom_apply(in, old, b, c), false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        }
        return old;
    }
    default: {
        uint64_t old = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n((uint64_t *)p, &old, atom_apply(in, old, b, c), false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        }
        return old;
    }
    }
}

/* atom: op d addr b [c]; red: op - addr b */
static int exec_atom(Warp *w, const Insn *in, uint32_t mask)
{
    for (int i = 1; i < 4; i++)
        if (check_src(w, in, &in->op[i], mask))
            return -1;
    const uint64_t *b = opv(w, in, &in->op[2]), *c = opv(w, in, &in->op[3]);
    bool has_d = in->op[0].kind == OK_REG;
    uint64_t *d = has_d ? opd(w, &in->op[0]) : NULL;
    FOR_LANES(l, mask) {
        int space;
        uint8_t *p = emu_resolve_fast(w, in, (int)l, in->space, addr_of(w, &in->op[1], l),
                                 (unsigned)in->bits / 8, true, &space);
        if (!p)
            return -1;
        if (space == SP_LOCAL || space == SP_PARAM)
            return emu_fault(w, in, (int)l, "atomic on .%s memory", emu_space_names[space]);
        if (space == SP_SHARED)
            emu_smem_written(w->cta, (uint32_t)(p - w->cta->smem), (size_t)in->bits / 8);
        uint64_t old = atom_host(in, p, b[l], c[l]);
        if (d)
            d[l] = old & width_mask(in->op[0].bits);
    }
    if (has_d)
        mark_def(w, &in->op[0], mask);
    return 0;
}

static int decode_atom(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    bool red = d->op_arg == 1;
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_SPACE) | MCB(MC_ATOM) | MCB(MC_LOGIC) | MC_MEMHINTS,
                  MF_CACHE_HINT | MF_NOFTZ) ||
        emu_dec_type(d, s, m,
                 TYB(TY_B16) | TYB(TY_B32) | TYB(TY_B64) | TYB(TY_U32) | TYB(TY_U64) |
                     TYB(TY_S32) | TYB(TY_S64) | TYB(TY_F32) | TYB(TY_F64) | TYB(TY_F16) |
                     TYB(TY_F16X2) | TYB(TY_BF16) | TYB(TY_BF16X2),
                 &ty))
        return -1;
    int op = m->atom;
    if (m->logic == LOGIC_AND)
        op = ATOM_AND;
    else if (m->logic == LOGIC_OR)
        op = ATOM_OR;
    else if (m->logic == LOGIC_XOR)
        op = ATOM_XOR;
    if (!op || (m->atom && m->logic))
        return emu_dec_error(d, s, "needs one operation (.add, .min, .max, .inc, .dec, .exch, .cas, "
                         ".and, .or, .xor)");
    if (red && op == ATOM_CAS)
        return emu_dec_error(d, s, "red has no .cas");
    bool fl = ty_float(ty);
    if (fl && op != ATOM_ADD && !(ty == TY_F32 && (op == ATOM_EXCH || op == ATOM_MIN || op == ATOM_MAX)))
        return emu_dec_error(d, s, ".%s is not supported on .%s", m->text[MC_ATOM] ? m->text[MC_ATOM]
                         : m->text[MC_LOGIC], emu_types[ty].name);
    if ((ty == TY_F16 || ty == TY_F16X2 || ty == TY_BF16 || ty == TY_BF16X2) && !(m->flags & MF_NOFTZ))
        return emu_dec_error(d, s, "half-precision atomic add needs .noftz");
    if ((op == ATOM_INC || op == ATOM_DEC) && ty != TY_U32)
        return emu_dec_error(d, s, ".inc and .dec need .u32");
    if (ty == TY_B16 && op != ATOM_CAS)
        return emu_dec_error(d, s, ".b16 is only supported with .cas");
    if (m->nspace > 1)
        return emu_dec_error(d, s, "too many state spaces");
    int space = m->nspace ? m->space[0] : SP_GENERIC;
    if (space != SP_GENERIC && space != SP_GLOBAL && space != SP_SHARED)
        return emu_dec_error(d, s, "atomics on .%s are not allowed", emu_space_names[space]);
    int nsrc = op == ATOM_CAS ? 2 : 1;
    int first = red ? 0 : 1;
    int nops = first + 1 + nsrc + ((m->flags & MF_CACHE_HINT) ? 1 : 0);
    if (emu_dec_nops(d, s, nops, nops))
        return -1;
    if (!red && emu_dec_dst(d, s, &s->ops[0], ty, &in->op[0]))
        return -1;
    if (emu_dec_addr(d, s, &s->ops[first], &space, &in->op[1]) ||
        emu_dec_src(d, s, &s->ops[first + 1], ty, &in->op[2]) ||
        (nsrc == 2 && emu_dec_src(d, s, &s->ops[first + 2], ty, &in->op[3])))
        return -1;
    in->nops = 4;
    in->ty = (uint8_t)ty;
    in->bits = (uint8_t)ty_bits(ty);
    in->sgn = ty_signed(ty);
    in->sub = (uint8_t)op;
    in->space = (uint8_t)space;
    in->fmt = ty == TY_F32 ? FMT_F32 : ty == TY_F64 ? FMT_F64
              : (ty == TY_F16 || ty == TY_F16X2) ? FMT_F16
              : (ty == TY_BF16 || ty == TY_BF16X2) ? FMT_BF16 : FMT_COUNT;
    in->exec = exec_atom;
    return 0;
}

/* ---- cp.async --------------------------------------------------------------- */

/* cp.async.{ca,cg}.shared.global [dst], [src], size[, src_size | ignore_src]
 * (op: dst src size src_size/pred) */
static int exec_cp_async(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_src(w, in, &in->op[0], mask) || check_src(w, in, &in->op[1], mask) ||
        check_src(w, in, &in->op[3], mask))
        return -1;
    Cta *c = w->cta;
    unsigned size = in->vec;
    const uint64_t *srcsz = opv(w, in, &in->op[3]);
    uint32_t ignore = in->op[3].kind == OK_PRED ? pred_val(w, &in->op[3]) : 0;
    FOR_LANES(l, mask) {
        unsigned ssz = size;
        if (in->op[3].kind == OK_PRED)
            ssz = ((ignore >> l) & 1) ? 0 : size;
        else if (in->op[3].kind != OK_NONE)
            ssz = (unsigned)(uint32_t)srcsz[l];
        if (ssz > size)
            return emu_fault(w, in, (int)l, "cp.async source size %u exceeds the copy size %u",
                             ssz, size);
        uint64_t dst = addr_of(w, &in->op[0], l), src = addr_of(w, &in->op[1], l);
        int space;
        uint8_t *dp = emu_resolve_fast(w, in, (int)l, in->space, dst, size, true, &space);
        if (!dp)
            return -1;
        if (space != SP_SHARED)
            return emu_fault(w, in, (int)l, "cp.async destination 0x%llx is not shared memory",
                             (unsigned long long)dst);
        if (src % size)
            return emu_fault(w, in, (int)l, "misaligned cp.async source 0x%llx for %u bytes",
                             (unsigned long long)src, size);
        const uint8_t *sp = NULL;
        if (ssz) {
            sp = emu_resolve_fast(w, in, (int)l, SP_GLOBAL, src, ssz, false, &space);
            if (!sp)
                return -1;
        }
        w->cp = emu_grow(w->cp, &w->cp_cap, w->ncp + 1, sizeof *w->cp, 64);
        uint32_t off = (uint32_t)(dp - c->smem);
        w->cp[w->ncp++] = (CpAsync){.dst = off, .src = sp, .size = (uint8_t)size,
                                    .src_size = (uint8_t)ssz, .lane = (uint8_t)l,
                                    .group = w->cp_group, .line = in->line};
        if (c->race)
            emu_race_cp_async_issue(c, off, size, +1);
    }
    return 0;
}

static int decode_cp_async(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, MCB(MC_SPACE) | MCB(MC_CACHE), MF_CACHE_HINT | MF_PREFETCH))
        return -1;
    if (m->nspace != 2 || m->space[0] != SP_SHARED || m->space[1] != SP_GLOBAL)
        return emu_dec_error(d, s, "cp.async needs .shared.global");
    if (!m->text[MC_CACHE] || (strcmp(m->text[MC_CACHE], "ca") && strcmp(m->text[MC_CACHE], "cg")))
        return emu_dec_error(d, s, "cp.async needs .ca or .cg");
    bool cg = strcmp(m->text[MC_CACHE], "cg") == 0;
    int hint = (m->flags & MF_CACHE_HINT) ? 1 : 0;
    int dspace = SP_SHARED, sspace = SP_GLOBAL;
    if (emu_dec_nops(d, s, 3 + hint, 4 + hint) ||
        emu_dec_addr(d, s, &s->ops[0], &dspace, &in->op[0]) ||
        emu_dec_addr(d, s, &s->ops[1], &sspace, &in->op[1]))
        return -1;
    const RawOp *sz = &s->ops[2];
    if (sz->kind != RO_INT || (sz->ival != 4 && sz->ival != 8 && sz->ival != 16))
        return emu_dec_error(d, s, "copy size must be 4, 8 or 16");
    if (cg && sz->ival != 16)
        return emu_dec_error(d, s, "cp.async.cg copies 16 bytes");
    if (s->nops - hint == 4) {
        const RawOp *x = &s->ops[3];
        int rc = x->kind == RO_NAME && emu_dec_is_pred(d, s, x->name)
                     ? emu_dec_pred(d, s, x, true, &in->op[3]) /* ignore-src */
                     : emu_dec_src(d, s, x, TY_U32, &in->op[3]);
        if (rc)
            return -1;
    }
    in->nops = 4;
    in->vec = (uint8_t)sz->ival;
    in->space = SP_SHARED;
    in->line = s->line;
    in->exec = exec_cp_async;
    return 0;
}

static int exec_cp_commit(Warp *w, const Insn *in, uint32_t mask)
{
    w->cp_group++;
    return 0;
}

static int exec_cp_wait(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t n = (uint32_t)in->op[0].val;
    if (in->mode) { /* wait_all: commit, then wait for everything */
        w->cp_group++;
        return emu_cp_async_complete(w, in, UINT32_MAX);
    }
    return emu_cp_async_complete(w, in, w->cp_group >= n ? w->cp_group - n : 0);
}

static int decode_cp_group(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, 0, 0))
        return -1;
    if (d->op_arg == 0) { /* commit_group */
        if (emu_dec_nops(d, s, 0, 0))
            return -1;
        in->exec = exec_cp_commit;
        return 0;
    }
    in->exec = exec_cp_wait;
    if (d->op_arg == 2) { /* wait_all */
        in->mode = 1;
        return emu_dec_nops(d, s, 0, 0);
    }
    if (emu_dec_nops(d, s, 1, 1))
        return -1;
    if (s->ops[0].kind != RO_INT || s->ops[0].ival < 0 || s->ops[0].ival > 1 << 20)
        return emu_dec_error(d, s, "cp.async.wait_group needs a constant");
    in->op[0] = (Operand){.kind = OK_NONE, .val = s->ops[0].ival};
    return 0;
}

/* ---- cvta, isspacep, prefetch ---------------------------------------------------- */

/* The host address that offset 0 of a space maps to in the generic space. */
static uint64_t window_base(Warp *w, int space, unsigned lane)
{
    Cta *c = w->cta;
    switch (space) {
    case SP_SHARED: return (uint64_t)(uintptr_t)c->smem;
    case SP_LOCAL:
        return (uint64_t)(uintptr_t)(c->local + (size_t)lane_tid_linear(w, lane) * c->local_size);
    case SP_PARAM: return (uint64_t)(uintptr_t)c->L->params;
    default: return 0;
    }
}

static int exec_cvta(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_src(w, in, &in->op[1], mask))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[1]);
    uint64_t *d = opd(w, &in->op[0]);
    uint64_t wm = width_mask(in->op[0].bits) & width_mask(in->bits);
    FOR_LANES(l, mask) {
        uint64_t base = window_base(w, in->space, l);
        d[l] = (in->mode ? a[l] - base : a[l] + base) & wm;
    }
    mark_def(w, &in->op[0], mask);
    return 0;
}

static int decode_cvta(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_SPACE), MF_TO) ||
        emu_dec_type(d, s, m, TYB(TY_U32) | TYB(TY_U64), &ty) || emu_dec_nops(d, s, 2, 2))
        return -1;
    if (m->nspace != 1)
        return emu_dec_error(d, s, "cvta needs a state space");
    if (emu_dec_dst(d, s, &s->ops[0], ty, &in->op[0]) || emu_dec_src(d, s, &s->ops[1], ty, &in->op[1]))
        return -1;
    in->nops = 2;
    in->ty = (uint8_t)ty;
    in->bits = (uint8_t)ty_bits(ty);
    in->space = m->space[0];
    in->mode = (m->flags & MF_TO) != 0;
    in->exec = exec_cvta;
    return 0;
}

static int exec_isspacep(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_src(w, in, &in->op[1], mask))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[1]);
    Cta *c = w->cta;
    uint32_t r = 0;
    FOR_LANES(l, mask) {
        uint64_t x = a[l];
        bool v = false;
        uint64_t base = window_base(w, in->space, l);
        switch (in->space) {
        case SP_SHARED: v = x - base < c->smem_size; break;
        case SP_LOCAL: v = x - base < c->local_size; break;
        case SP_PARAM: v = x - base < c->L->k->param_bytes; break;
        default:
            v = x - window_base(w, SP_SHARED, l) >= c->smem_size &&
                x - window_base(w, SP_LOCAL, l) >= c->local_size;
            if (v) {
                v = false;
                for (int i = 0; i < c->L->nregions; i++) {
                    const Region *rg = &c->L->regions[i];
                    if (x >= rg->base && x < rg->end && (in->space == SP_CONST) == !rg->writable)
                        v = true;
                }
            }
            break;
        }
        r |= (uint32_t)v << l;
    }
    pred_set(w, in->op[0].idx, mask, r);
    return 0;
}

static int decode_isspacep(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, MCB(MC_SPACE), 0) || emu_dec_nops(d, s, 2, 2))
        return -1;
    if (m->nspace != 1)
        return emu_dec_error(d, s, "isspacep needs a state space");
    if (emu_dec_pred_dst(d, s, &s->ops[0], &in->op[0]) ||
        emu_dec_src_wide(d, s, &s->ops[1], TY_U64, &in->op[1]))
        return -1;
    in->nops = 2;
    in->space = m->space[0];
    in->exec = exec_isspacep;
    return 0;
}

static int decode_prefetch(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    Operand a;
    if (emu_dec_allow(d, s, m, MCB(MC_SPACE) | MCB(MC_CACHE), 0) || emu_dec_nops(d, s, 1, 1) ||
        emu_dec_addr(d, s, &s->ops[0], &(int){m->nspace ? m->space[0] : SP_GENERIC}, &a))
        return -1;
    in->ctl = CTL_NOP;
    return 0;
}

const OpDesc emu_ops_mem[] = {
    {"ld", decode_ldst, 0},
    {"ldu", decode_ldst, 0},
    {"st", decode_ldst, 1},
    {"atom", decode_atom, 0},
    {"red", decode_atom, 1},
    {"cp.async", decode_cp_async, 0},
    {"cp.async.commit_group", decode_cp_group, 0},
    {"cp.async.wait_group", decode_cp_group, 1},
    {"cp.async.wait_all", decode_cp_group, 2},
    {"cvta", decode_cvta, 0},
    {"isspacep", decode_isspacep, 0},
    {"prefetch", decode_prefetch, 0},
    {"prefetchu", decode_prefetch, 0},
    {NULL, NULL, 0},
};
