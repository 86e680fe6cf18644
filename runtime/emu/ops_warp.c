/* Warp-collective instructions: shfl, vote, activemask, redux, match, elect,
 * bar.warp.sync. The .sync forms name their participants in a membermask;
 * a lane that executes the instruction without being in the mask, or a
 * member that has not exited but is not executing it (it diverged), is an
 * error: on a GPU the first is undefined and the second waits for a lane the
 * emulator's SIMT stack will not run first. Values read from lanes that do not
 * execute the instruction are undefined: the uninitialised-register check
 * treats them as never written. */
#include <string.h>

#include "emu_internal.h"

/* Reads the membermask operand (which must be the same in every lane) and
 * checks the lanes against it. */
static int members(Warp *w, const Insn *in, const Operand *o, uint32_t mask, uint32_t *out)
{
    if (o->kind == OK_NONE) { /* the legacy forms without .sync */
        *out = w->active;
        return 0;
    }
    if (check_src(w, in, o, mask))
        return -1;
    const uint64_t *v = opv(w, in, o);
    uint32_t m = (uint32_t)v[__builtin_ctz(mask)];
    FOR_LANES(l, mask)
    if ((uint32_t)v[l] != m)
        return emu_fault(w, in, (int)l, "lanes use different membermasks (0x%08x and 0x%08x)", m,
                         (uint32_t)v[l]);
    if (mask & ~m)
        return emu_fault(w, in, __builtin_ctz(mask & ~m),
                         "lane executes it but is not in membermask 0x%08x", m);
    uint32_t missing = m & w->live & ~mask;
    if (missing)
        return emu_fault(w, in, -1,
                         "membermask 0x%08x names lanes 0x%08x that have not exited but do not "
                         "execute this instruction (divergence, or a false guard)",
                         m, missing);
    *out = m;
    return 0;
}

/* ---- shfl ------------------------------------------------------------------ */

/* shfl[.sync].mode.b32 d[|p], a, b, c[, membermask] (op: d p a b c mask) */
static int exec_shfl(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t mm;
    if (members(w, in, &in->op[5], mask, &mm) || check_src(w, in, &in->op[3], mask) ||
        check_src(w, in, &in->op[4], mask))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[2]), *b = opv(w, in, &in->op[3]);
    const uint64_t *c = opv(w, in, &in->op[4]);
    uint64_t src[WARP_SIZE];
    memcpy(src, a, sizeof src);
    uint32_t src_def = mask;
    if (w->rdef && in->op[2].kind == OK_REG)
        src_def &= w->rdef[in->op[2].idx];
    uint64_t *d = opd(w, &in->op[0]);
    uint32_t pv = 0, def = 0;
    FOR_LANES(l, mask) {
        uint32_t bval = (uint32_t)b[l] & 31, cval = (uint32_t)c[l] & 31;
        uint32_t seg = ((uint32_t)c[l] >> 8) & 31;
        uint32_t maxl = (l & seg) | (cval & ~seg), minl = l & seg;
        int j;
        bool p;
        switch (in->mode) {
        case SHFL_UP:
            j = (int)l - (int)bval;
            p = j >= (int)maxl;
            break;
        case SHFL_DOWN:
            j = (int)(l + bval);
            p = j <= (int)maxl;
            break;
        case SHFL_BFLY:
            j = (int)(l ^ bval);
            p = j <= (int)maxl;
            break;
        default:
            j = (int)(minl | (bval & ~seg));
            p = j <= (int)maxl;
            break;
        }
        if (!p)
            j = (int)l;
        d[l] = src[j] & 0xffffffffu;
        pv |= (uint32_t)p << l;
        def |= (uint32_t)((src_def >> j) & 1) << l;
    }
    if (w->rdef && in->op[0].kind == OK_REG)
        set_def_lanes(w, in->op[0].idx, mask, def);
    pred_set(w, in->op[1].idx, mask, pv);
    return 0;
}

static int decode_shfl(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    bool sync = (m->flags & MF_SYNC) != 0;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_SHFL), MF_SYNC) ||
        emu_dec_type(d, s, m, TYB(TY_B32), &ty))
        return -1;
    if (!m->shfl)
        return emu_dec_error(d, s, "shfl needs .up, .down, .bfly or .idx");
    int n = sync ? 5 : 4;
    if (emu_dec_nops(d, s, n, n))
        return -1;
    RawOp dd = s->ops[0], pp = {.kind = RO_SINK};
    if (dd.kind == RO_NAME && dd.name2) {
        pp = (RawOp){.kind = RO_NAME, .name = dd.name2};
        dd.name2 = NULL;
    }
    if (emu_dec_dst(d, s, &dd, TY_B32, &in->op[0]) || emu_dec_pred_dst(d, s, &pp, &in->op[1]) ||
        emu_dec_src(d, s, &s->ops[1], TY_B32, &in->op[2]) ||
        emu_dec_src(d, s, &s->ops[2], TY_B32, &in->op[3]) ||
        emu_dec_src(d, s, &s->ops[3], TY_B32, &in->op[4]) ||
        (sync && emu_dec_src(d, s, &s->ops[4], TY_B32, &in->op[5])))
        return -1;
    in->nops = 6;
    in->mode = m->shfl;
    in->exec = exec_shfl;
    return 0;
}

/* ---- vote, activemask, redux, match, elect ---------------------------------- */

/* vote[.sync].mode.type d, {!}a[, membermask] (op: d a mask) */
static int exec_vote(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t mm;
    if (members(w, in, &in->op[2], mask, &mm) ||
        (w->pdef && emu_check_pdef(w, in, &in->op[1], mask)))
        return -1;
    uint32_t p = pred_val(w, &in->op[1]) & mask;
    if (in->mode == VOTE_BALLOT) {
        uint64_t *d = opd(w, &in->op[0]);
        FOR_LANES(l, mask)
        d[l] = p;
        mark_def(w, &in->op[0], mask);
        return 0;
    }
    bool r;
    switch (in->mode) {
    case VOTE_ALL: r = p == mask; break;
    case VOTE_ANY: r = p != 0; break;
    default: r = p == 0 || p == mask; break; /* uni */
    }
    pred_set(w, in->op[0].idx, mask, r ? FULL_MASK : 0);
    return 0;
}

static int decode_vote(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    bool sync = (m->flags & MF_SYNC) != 0;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_VOTE), MF_SYNC | MF_UNI) ||
        emu_dec_type(d, s, m, TYB(TY_PRED) | TYB(TY_B32), &ty))
        return -1;
    int mode = (m->flags & MF_UNI) ? VOTE_NONE : m->vote;
    if (!(m->flags & MF_UNI) && !m->vote)
        return emu_dec_error(d, s, "vote needs .all, .any, .uni or .ballot");
    if ((mode == VOTE_BALLOT) != (ty == TY_B32))
        return emu_dec_error(d, s, "vote.ballot needs .b32; the others .pred");
    int n = sync ? 3 : 2;
    if (emu_dec_nops(d, s, n, n))
        return -1;
    int rc = ty == TY_B32 ? emu_dec_dst(d, s, &s->ops[0], TY_B32, &in->op[0])
                          : emu_dec_pred_dst(d, s, &s->ops[0], &in->op[0]);
    if (rc || emu_dec_pred(d, s, &s->ops[1], true, &in->op[1]) ||
        (sync && emu_dec_src(d, s, &s->ops[2], TY_B32, &in->op[2])))
        return -1;
    in->nops = 3;
    in->mode = (uint8_t)mode;
    in->exec = exec_vote;
    return 0;
}

static int exec_activemask(Warp *w, const Insn *in, uint32_t mask)
{
    uint64_t *d = opd(w, &in->op[0]);
    FOR_LANES(l, mask)
    d[l] = mask;
    mark_def(w, &in->op[0], mask);
    return 0;
}

static int decode_activemask(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE), 0) || emu_dec_type(d, s, m, TYB(TY_B32), &ty) ||
        emu_dec_nops(d, s, 1, 1) || emu_dec_dst(d, s, &s->ops[0], TY_B32, &in->op[0]))
        return -1;
    in->nops = 1;
    in->exec = exec_activemask;
    return 0;
}

/* redux.sync.op.type d, a, membermask */
static int exec_redux(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t mm;
    if (members(w, in, &in->op[2], mask, &mm) || check_src(w, in, &in->op[1], mask))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[1]);
    uint32_t first = (uint32_t)a[__builtin_ctz(mask)], r = first;
    FOR_LANES(l, mask) {
        uint32_t v = (uint32_t)a[l];
        switch (in->sub) {
        case ATOM_ADD: r = l == (uint32_t)__builtin_ctz(mask) ? v : r + v; break;
        case ATOM_MIN: r = in->sgn ? ((int32_t)v < (int32_t)r ? v : r) : (v < r ? v : r); break;
        case ATOM_MAX: r = in->sgn ? ((int32_t)v > (int32_t)r ? v : r) : (v > r ? v : r); break;
        case ATOM_AND: r &= v; break;
        case ATOM_OR: r |= v; break;
        default: r = l == (uint32_t)__builtin_ctz(mask) ? v : r ^ v; break;
        }
    }
    uint64_t *d = opd(w, &in->op[0]);
    FOR_LANES(l, mask)
    d[l] = r;
    mark_def(w, &in->op[0], mask);
    return 0;
}

static int decode_redux(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_ATOM) | MCB(MC_LOGIC), MF_SYNC) ||
        emu_dec_type(d, s, m, TYB(TY_U32) | TYB(TY_S32) | TYB(TY_B32), &ty) || emu_dec_nops(d, s, 3, 3))
        return -1;
    int op = m->logic == LOGIC_AND ? ATOM_AND : m->logic == LOGIC_OR ? ATOM_OR
             : m->logic == LOGIC_XOR ? ATOM_XOR : m->atom;
    bool logic = op == ATOM_AND || op == ATOM_OR || op == ATOM_XOR;
    if ((op != ATOM_ADD && op != ATOM_MIN && op != ATOM_MAX && !logic) ||
        logic != (ty == TY_B32))
        return emu_dec_error(d, s, "redux.sync needs .add/.min/.max with .u32/.s32 or .and/.or/.xor "
                         "with .b32");
    if (emu_dec_dst(d, s, &s->ops[0], ty, &in->op[0]) || emu_dec_src(d, s, &s->ops[1], ty, &in->op[1]) ||
        emu_dec_src(d, s, &s->ops[2], TY_B32, &in->op[2]))
        return -1;
    in->nops = 3;
    in->sub = (uint8_t)op;
    in->sgn = ty == TY_S32;
    in->exec = exec_redux;
    return 0;
}

/* match.{any,all}.sync.type d[|p], a, membermask (op: d p a mask) */
static int exec_match(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t mm;
    if (members(w, in, &in->op[3], mask, &mm) || check_src(w, in, &in->op[2], mask))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[2]);
    uint64_t wm = width_mask(in->bits);
    uint64_t *d = opd(w, &in->op[0]);
    bool all = true;
    FOR_LANES(l, mask)
    all = all && (a[l] & wm) == (a[__builtin_ctz(mask)] & wm);
    FOR_LANES(l, mask) {
        if (in->mode == VOTE_ALL) {
            d[l] = all ? mask : 0;
        } else {
            uint32_t same = 0;
            FOR_LANES(k, mask)
            same |= (uint32_t)((a[k] & wm) == (a[l] & wm)) << k;
            d[l] = same;
        }
    }
    mark_def(w, &in->op[0], mask);
    pred_set(w, in->op[1].idx, mask, all ? FULL_MASK : 0);
    return 0;
}

static int decode_match(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_VOTE), MF_SYNC) ||
        emu_dec_type(d, s, m, TYB(TY_B32) | TYB(TY_B64), &ty) || emu_dec_nops(d, s, 3, 3))
        return -1;
    if (m->vote != VOTE_ALL && m->vote != VOTE_ANY)
        return emu_dec_error(d, s, "match needs .any or .all");
    RawOp dd = s->ops[0], pp = {.kind = RO_SINK};
    if (dd.kind == RO_NAME && dd.name2) {
        if (m->vote != VOTE_ALL)
            return emu_dec_error(d, s, "match.any has no predicate destination");
        pp = (RawOp){.kind = RO_NAME, .name = dd.name2};
        dd.name2 = NULL;
    }
    if (emu_dec_dst(d, s, &dd, TY_B32, &in->op[0]) || emu_dec_pred_dst(d, s, &pp, &in->op[1]) ||
        emu_dec_src(d, s, &s->ops[1], ty, &in->op[2]) || emu_dec_src(d, s, &s->ops[2], TY_B32, &in->op[3]))
        return -1;
    in->nops = 4;
    in->mode = m->vote;
    in->bits = (uint8_t)ty_bits(ty);
    in->exec = exec_match;
    return 0;
}

/* elect.sync d|p, membermask */
static int exec_elect(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t mm;
    if (members(w, in, &in->op[2], mask, &mm))
        return -1;
    unsigned leader = (unsigned)__builtin_ctz(mask);
    uint64_t *d = opd(w, &in->op[0]);
    FOR_LANES(l, mask)
    d[l] = leader;
    mark_def(w, &in->op[0], mask);
    pred_set(w, in->op[1].idx, mask, 1u << leader);
    return 0;
}

static int decode_elect(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, 0, MF_SYNC) || emu_dec_nops(d, s, 2, 2))
        return -1;
    RawOp dd = s->ops[0], pp = {.kind = RO_SINK};
    if (dd.kind == RO_NAME && dd.name2) {
        pp = (RawOp){.kind = RO_NAME, .name = dd.name2};
        dd.name2 = NULL;
    }
    if (emu_dec_dst(d, s, &dd, TY_B32, &in->op[0]) || emu_dec_pred_dst(d, s, &pp, &in->op[1]) ||
        emu_dec_src(d, s, &s->ops[1], TY_B32, &in->op[2]))
        return -1;
    in->nops = 3;
    in->exec = exec_elect;
    return 0;
}

static int exec_warp_sync(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t mm;
    return members(w, in, &in->op[0], mask, &mm);
}

static int decode_warp_sync(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, 0, 0) || emu_dec_nops(d, s, 1, 1) ||
        emu_dec_src(d, s, &s->ops[0], TY_B32, &in->op[0]))
        return -1;
    in->nops = 1;
    in->exec = exec_warp_sync;
    return 0;
}

const OpDesc emu_ops_warp[] = {
    {"shfl", decode_shfl, 0},        {"vote", decode_vote, 0},
    {"activemask", decode_activemask, 0}, {"redux", decode_redux, 0},
    {"match", decode_match, 0},      {"elect", decode_elect, 0},
    {"bar.warp.sync", decode_warp_sync, 0}, {NULL, NULL, 0},
};
