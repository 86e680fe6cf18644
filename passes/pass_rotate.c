/* Rotation of pipelined loops whose accumulation ends in an asynchronous
 * dot, so that the dot of one iteration runs beside the next one's work.
 *
 * A loop `for n in lb .. ub step s pipeline(S)` (s a positive constant)
 * whose body updates a carried accumulator through a dot,
 *
 *   for n ... { H(n); acc = T(acc, H(n)) }     T ends in acc' = dot(a, b, c(acc))
 *
 * (T: the instructions that depend on acc, and the loads and conversions
 * that only T reads; H: the rest, which must hold a dot of its own),
 * becomes
 *
 *   if lb < ub { H(lb) }                                   the prologue
 *   for n in lb + s .. ub step s {
 *       H(n) up to its first dot; acc = T(acc, H(n - s)); the rest of H(n)
 *   }
 *   if lb < ub { acc = T(acc, H(last)) }                   the epilogue
 *
 * What T needs of H(n - s) is carried by the loop, except scalars computed
 * from n alone (tensor indices), which are computed again from n - s so that
 * pipelining still prefetches T's loads. The results are those of the loop
 * as written, operation for operation. With a target whose dots complete
 * asynchronously (Target.dot_async: sm_90a's wgmma, waited for where their
 * results are first read), H's first dot and T's dot are in flight together
 * and the rest of H runs while T's dot does: FlashAttention-3's overlap of
 * the softmax with the P V product, from any loop of this shape.
 *
 * A code-generation pass of such targets, after layouts and before
 * pipelining; off with TirFunc.no_overlap, and for a loop written
 * `pipeline(S, overlap = false)` (FOR.ival). The interpreter runs the loop as
 * written, so every test comparing the devices checks the rotation. */
#include "passes.h"
#include "oom.h"
#include "tir_clone.h"

#include <string.h>

typedef struct {
    TirFunc *f;
    const Target *t;
    Arena *arena;
    BlockId body;
    ValId iv;
    char *in_t;  /* per position in the body: the instruction belongs to T */
    char *val_t; /* per value: a result of T (or the accumulator) */
} Rot;

/* --- which instructions form T --- */

static bool reads_marked(Rot *r, const TirInst *in);

/* Whether any instruction of block b (nested ones too) reads a marked value. */
static bool block_reads_marked(Rot *r, BlockId b)
{
    TirBlock *bl = tir_block(r->f, b);
    for (int i = 0; i < bl->insts.len; i++)
        if (reads_marked(r, tir_inst(r->f, bl->insts.data[i])))
            return true;
    return false;
}

/* Whether `in` or an instruction nested in it reads a marked value. */
static bool reads_marked(Rot *r, const TirInst *in)
{
    for (int a = 0; a < in->nargs; a++)
        if (r->val_t[in->args[a]])
            return true;
    for (int k = 0; k < 2; k++)
        if (in->blocks[k] != TIR_NONE && block_reads_marked(r, in->blocks[k]))
            return true;
    return false;
}

/* Work T may hold: register arithmetic, layout changes, dots and loads
 * (no control flow, nothing written). */
static bool movable(const TirInst *in)
{
    switch (in->op) {
    case TIR_CONST: case TIR_PARAM: case TIR_DIM: case TIR_PROGRAM_ID: case TIR_NUM_PROGRAMS:
    case TIR_SPLAT: case TIR_BROADCAST: case TIR_EXPAND_DIMS: case TIR_TRANSPOSE: case TIR_ARANGE:
    case TIR_CONVERT: case TIR_DOT: case TIR_LOAD:
        return true;
    default: return tir_op_is_binary(in->op) || tir_op_is_unary(in->op) || in->op == TIR_SELECT;
    }
}

/* Whether block b (nested blocks too) reads v. */
static bool block_reads(TirFunc *f, BlockId b, ValId v)
{
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        for (int a = 0; a < in->nargs; a++)
            if (in->args[a] == v)
                return true;
        for (int k = 0; k < 2; k++)
            if (in->blocks[k] != TIR_NONE && block_reads(f, in->blocks[k], v))
                return true;
    }
    return false;
}

/* Whether instructions outside T read v (the YIELD is outside T). */
static bool read_outside_t(Rot *r, ValId v)
{
    TirBlock *bl = tir_block(r->f, r->body);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(r->f, bl->insts.data[i]);
        if (r->in_t[i])
            continue;
        for (int a = 0; a < in->nargs; a++)
            if (in->args[a] == v)
                return true;
        for (int k = 0; k < 2; k++)
            if (in->blocks[k] != TIR_NONE && block_reads(r->f, in->blocks[k], v))
                return true;
    }
    return false;
}

/* Whether block b (nested blocks too) writes tensor memory. */
static bool block_writes(TirFunc *f, BlockId b)
{
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        if (in->op == TIR_STORE || in->op == TIR_SCATTER)
            return true;
        for (int k = 0; k < 2; k++)
            if (in->blocks[k] != TIR_NONE && block_writes(f, in->blocks[k]))
                return true;
    }
    return false;
}

static bool of_iv(Rot *r, ValId v, int depth);
static bool defined_in_body(Rot *r, ValId v);

/* 32-bit registers per thread that value v takes. */
static double value_regs(TirFunc *f, ValId v)
{
    TType t = tir_type(f, v);
    const Layout *l = tir_layout(f, v);
    if (t.rank == 0 || !l || l->kind == LAYOUT_SHARED)
        return 1;
    return layout_nregs(l) * (dtype_size(t.dt) / 4.0);
}

/* Registers the loop would carry for `in`'s operands from H if `in` moved
 * into T (what T already reads, scalars of the induction variable and
 * values from outside cost nothing). */
static double carry_cost(Rot *r, const TirInst *in)
{
    double cost = 0;
    for (int a = 0; a < in->nargs; a++) {
        ValId v = in->args[a];
        bool seen = false;
        for (int b = 0; b < a; b++)
            seen |= in->args[b] == v;
        if (!seen && !r->val_t[v] && defined_in_body(r, v) && !of_iv(r, v, 0))
            cost += value_regs(r->f, v);
    }
    return cost;
}

/* Marks T for the accumulator carried in slot j; false when the loop does
 * not have the shape (the marks are then meaningless). */
static bool find_tail(Rot *r, int j)
{
    TirFunc *f = r->f;
    TirBlock *bl = tir_block(f, r->body);
    int n = bl->insts.len - 1; /* the YIELD is last */
    memset(r->in_t, 0, (size_t)n + 1);
    memset(r->val_t, 0, (size_t)f->vals.len);
    r->val_t[bl->args.data[1 + j]] = 1;
    for (int i = 0; i < n; i++) { /* what depends on the accumulator */
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        if (!reads_marked(r, in))
            continue;
        if (!movable(in))
            return false;
        r->in_t[i] = 1;
        for (int k = 0; k < in->nres; k++)
            r->val_t[in->res[k]] = 1;
    }
    TirInst *y = tir_inst(f, bl->insts.data[n]);
    ValId acc = y->args[j];
    TirVal *av = tir_val(f, acc);
    if (!r->val_t[acc] || av->def == TIR_NONE || tir_inst(f, av->def)->op != TIR_DOT ||
        tir_inst(f, av->def)->nargs != 3 || !r->t->dot_async(f, tir_inst(f, av->def)))
        return false;
    for (int a = 0; a < y->nargs; a++) /* T's results leave only as the accumulator */
        if (a != j && r->val_t[y->args[a]])
            return false;
    for (int i = 0; i < n; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        for (int k = 0; k < in->nres; k++)
            if (r->in_t[i] && in->res[k] != acc && read_outside_t(r, in->res[k]))
                return false;
    }
    /* the operands that only T reads move with it (users come later: one
     * backward sweep sees a chain whole), unless what they read of H would
     * take more registers to carry than what they make (a P converted to
     * f16 is carried as f16) */
    for (int i = n - 1; i >= 0; i--) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        if (r->in_t[i] || in->nres != 1 || !movable(in) || read_outside_t(r, in->res[0]) ||
            carry_cost(r, in) > value_regs(f, in->res[0]))
            continue;
        r->in_t[i] = 1;
        r->val_t[in->res[0]] = 1;
    }
    return true;
}

/* H's first dot that runs asynchronously, by position (-1: none), and
 * whether H writes memory T's loads could read. */
static int head_dot(Rot *r, bool *writes)
{
    TirBlock *bl = tir_block(r->f, r->body);
    int first = -1;
    *writes = false;
    for (int i = 0; i + 1 < bl->insts.len; i++) {
        TirInst *in = tir_inst(r->f, bl->insts.data[i]);
        if (r->in_t[i])
            continue;
        *writes |= in->op == TIR_STORE || in->op == TIR_SCATTER;
        for (int k = 0; k < 2; k++)
            *writes |= in->blocks[k] != TIR_NONE && block_writes(r->f, in->blocks[k]);
        if (first < 0 && in->op == TIR_DOT && r->t->dot_async(r->f, in))
            first = i;
    }
    return first;
}

/* --- what T needs of H --- */

static bool defined_in_body(Rot *r, ValId v)
{
    TirVal *val = tir_val(r->f, v);
    if (val->def == TIR_NONE)
        return val->block == r->body;
    TirBlock *bl = tir_block(r->f, r->body);
    for (int i = 0; i < bl->insts.len; i++)
        if (bl->insts.data[i] == val->def)
            return true;
    return false;
}

/* A scalar computed from the induction variable and values from outside by
 * pure code: computed again for another iteration instead of carried. */
static bool of_iv(Rot *r, ValId v, int depth)
{
    if (v == r->iv)
        return true;
    if (!defined_in_body(r, v))
        return true;
    TirVal *val = tir_val(r->f, v);
    if (val->def == TIR_NONE || depth > 32)
        return false;
    TirInst *in = tir_inst(r->f, val->def);
    if (in->nres != 1 || tir_type(r->f, v).rank != 0 || !tir_op_is_pure(in->op) || in->op == TIR_LOAD)
        return false;
    for (int a = 0; a < in->nargs; a++)
        if (!of_iv(r, in->args[a], depth + 1))
            return false;
    return true;
}

typedef VEC(ValId) Vals;
typedef VEC(InstId) Insts;

/* The values of H (and loop arguments other than the accumulator) that T
 * reads and that are not scalars of the induction variable: carried. */
static void carried_values(Rot *r, int j, Vals *out)
{
    TirFunc *f = r->f;
    TirBlock *bl = tir_block(f, r->body);
    ValId acc = bl->args.data[1 + j];
    for (int i = 0; i + 1 < bl->insts.len; i++) {
        if (!r->in_t[i])
            continue;
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        for (int a = 0; a < in->nargs; a++) {
            ValId v = in->args[a];
            if (v == acc || r->val_t[v] || !defined_in_body(r, v) || of_iv(r, v, 0))
                continue;
            bool seen = false;
            for (int k = 0; k < out->len; k++)
                seen |= out->data[k] == v;
            if (!seen)
                vec_push(r->arena, *out, v);
        }
    }
}

/* Whether everything T carries lives in registers: a tile in shared memory
 * would be the next iteration's by the time T reads it. */
static bool carried_in_registers(Rot *r, int j)
{
    Vals vals = { 0 };
    carried_values(r, j, &vals);
    for (int k = 0; k < vals.len; k++) {
        const Layout *l = tir_layout(r->f, vals.data[k]);
        if (l && l->kind == LAYOUT_SHARED)
            return false;
    }
    return true;
}

/* Maps in c what T reads of H's scalars of the induction variable, computed
 * again (appended to block b) with the induction variable `iv`. */
static void recompute(Rot *r, Cloner *c, ValId v, ValId iv, BlockId b)
{
    if (v == r->iv) {
        cloner_map(c, v, iv);
        return;
    }
    if (cloner_get(c, v) != v || !defined_in_body(r, v))
        return;
    TirInst *in = tir_inst(r->f, tir_val(r->f, v)->def);
    for (int a = 0; a < in->nargs; a++)
        recompute(r, c, in->args[a], iv, b);
    cloner_inst(c, tir_val(r->f, v)->def, b);
}

/* Appends T to block b: the accumulator is `acc`, the carried values are
 * carried[k], the induction variable of T's iteration is iv. Returns the new
 * accumulator. */
static ValId emit_tail(Rot *r, const Vals *vals, const ValId *carried, ValId acc, ValId iv, int j, BlockId b)
{
    TirFunc *f = r->f;
    Cloner c;
    cloner_init(&c, f, r->arena);
    TirBlock *bl = tir_block(f, r->body);
    cloner_map(&c, bl->args.data[1 + j], acc);
    for (int k = 0; k < vals->len; k++)
        cloner_map(&c, vals->data[k], carried[k]);
    int n = tir_block(f, r->body)->insts.len - 1;
    for (int i = 0; i < n; i++) {
        if (!r->in_t[i])
            continue;
        InstId id = tir_block(f, r->body)->insts.data[i];
        for (int a = 0; a < tir_inst(f, id)->nargs; a++) {
            ValId v = tir_inst(f, id)->args[a];
            if (!r->val_t[v] && of_iv(r, v, 0))
                recompute(r, &c, v, iv, b);
        }
        cloner_inst(&c, id, b);
    }
    InstId y = tir_block(f, r->body)->insts.data[n];
    return cloner_get(&c, tir_inst(f, y)->args[j]);
}

/* --- building --- */

/* A placeholder of v's type and layout for the carried values when the
 * loop does not run (never read then). */
static ValId zero_like(TirFunc *f, BlockId b, ValId v, SrcPos pos)
{
    TType t = tir_type(f, v);
    ValId z = dtype_is_float(t.dt) ? tir_const_float(f, b, pos, t.dt, 0.0) : tir_const_int(f, b, pos, t.dt, 0);
    if (t.rank == 0)
        return z;
    ValId s = tir_emit(f, b, TIR_SPLAT, pos, &z, 1, t);
    tir_val(f, s)->layout = tir_val(f, v)->layout;
    return s;
}

static InstId new_if(TirFunc *f, BlockId parent, ValId cond, SrcPos pos, const TType *types, const int *layouts,
                     int n, BlockId *then_b, BlockId *else_b)
{
    InstId id = tir_make(f, parent, TIR_IF, pos, &cond, 1, types, n);
    for (int i = 0; i < n; i++)
        tir_val(f, tir_inst(f, id)->res[i])->layout = layouts[i];
    *then_b = tir_block_new(f, id);
    *else_b = tir_block_new(f, id);
    tir_inst(f, id)->blocks[0] = *then_b;
    tir_inst(f, id)->blocks[1] = *else_b;
    return id;
}

static void yield(TirFunc *f, BlockId b, const ValId *vals, int n, SrcPos pos)
{
    tir_append(f, b, TIR_YIELD, pos, vals, n, NULL, 0);
}

/* Rotates the loop at position pos of block parent around the accumulator
 * in slot j (T marked), whose H has its first asynchronous dot at position
 * hd. Returns the instructions that replace the loop. */
static void rotate(Rot *r, BlockId parent, int pos, int j, int hd, Insts *out)
{
    TirFunc *f = r->f;
    InstId loop_id = tir_block(f, parent)->insts.data[pos];
    TirInst loop = *tir_inst(f, loop_id);
    SrcPos lp = loop.pos;
    int iters = loop.nargs - 3, nbody = tir_block(f, r->body)->insts.len - 1;
    ValId *old_args = arena_alloc(r->arena, sizeof(ValId) * (size_t)(iters + 1));
    for (int i = 0; i <= iters; i++)
        old_args[i] = tir_block(f, r->body)->args.data[i];
    InstId old_yield = tir_block(f, r->body)->insts.data[nbody];
    Vals vals = { 0 };
    carried_values(r, j, &vals);
    int nc = vals.len;
    TType ivt = tir_type(f, r->iv), bt = ttype_scalar(DT_BOOL);

    /* has = lb < ub: the loop runs at least once */
    ValId lu[2] = { loop.args[0], loop.args[1] };
    InstId has_id = tir_make(f, parent, TIR_LT, lp, lu, 2, &bt, 1);
    vec_push(r->arena, *out, has_id);
    ValId has = tir_inst(f, has_id)->res[0];

    /* The prologue H(lb) yields the other carried values, what T carries and
     * lb (T's induction variable). */
    int np = iters - 1 + nc + 1;
    TType *pt = arena_alloc(r->arena, sizeof(TType) * (size_t)np);
    int *pl = arena_alloc(r->arena, sizeof(int) * (size_t)np);
    ValId *py = arena_alloc(r->arena, sizeof(ValId) * (size_t)np), *pe = arena_alloc(r->arena, sizeof(ValId) * (size_t)np);
    for (int i = 0, k = 0; i < iters; i++)
        if (i != j) {
            pt[k] = tir_type(f, old_args[1 + i]);
            pl[k++] = tir_val(f, old_args[1 + i])->layout;
        }
    for (int k = 0; k < nc; k++) {
        pt[iters - 1 + k] = tir_type(f, vals.data[k]);
        pl[iters - 1 + k] = tir_val(f, vals.data[k])->layout;
    }
    pt[np - 1] = ivt;
    pl[np - 1] = TIR_NONE;
    BlockId pthen, pelse;
    InstId pro = new_if(f, parent, has, lp, pt, pl, np, &pthen, &pelse);
    Cloner c;
    cloner_init(&c, f, r->arena);
    cloner_map(&c, r->iv, loop.args[0]);
    for (int i = 0; i < iters; i++)
        if (i != j)
            cloner_map(&c, old_args[1 + i], loop.args[3 + i]);
    for (int i = 0; i < nbody; i++)
        if (!r->in_t[i])
            cloner_inst(&c, tir_block(f, r->body)->insts.data[i], pthen);
    for (int i = 0, k = 0; i < iters; i++)
        if (i != j) {
            py[k] = cloner_get(&c, tir_inst(f, old_yield)->args[i]);
            pe[k++] = loop.args[3 + i];
        }
    for (int k = 0; k < nc; k++) {
        py[iters - 1 + k] = cloner_get(&c, vals.data[k]);
        pe[iters - 1 + k] = zero_like(f, pelse, vals.data[k], lp);
    }
    py[np - 1] = pe[np - 1] = loop.args[0];
    yield(f, pthen, py, np, lp);
    yield(f, pelse, pe, np, lp);
    vec_push(r->arena, *out, pro);
    TirInst *pi = tir_inst(f, pro);

    /* The loop from lb + s: the original arguments, then T's carried values
     * and induction variable. */
    ValId ls[2] = { loop.args[0], loop.args[2] };
    InstId lb2 = tir_make(f, parent, TIR_ADD, lp, ls, 2, &ivt, 1);
    vec_push(r->arena, *out, lb2);
    int nargs = loop.nargs + nc + 1, nres = loop.nres + nc + 1;
    ValId *la = arena_alloc(&f->arena, sizeof(ValId) * (size_t)nargs);
    TType *lt = arena_alloc(r->arena, sizeof(TType) * (size_t)nres);
    la[0] = tir_inst(f, lb2)->res[0];
    la[1] = loop.args[1];
    la[2] = loop.args[2];
    pi = tir_inst(f, pro);
    for (int i = 0, k = 0; i < iters; i++)
        la[3 + i] = i == j ? loop.args[3 + i] : pi->res[k++];
    for (int k = 0; k <= nc; k++)
        la[3 + iters + k] = pi->res[iters - 1 + k];
    for (int i = 0; i < nres; i++)
        lt[i] = tir_type(f, la[3 + i]);
    InstId nl = tir_make(f, parent, TIR_FOR, lp, la, nargs, lt, nres);
    tir_inst(f, nl)->stages = loop.stages;
    tir_inst(f, nl)->kind = loop.kind;
    for (int i = 0; i < nres; i++)
        tir_val(f, tir_inst(f, nl)->res[i])->layout = i < loop.nres ? tir_val(f, loop.res[i])->layout
                                                                       : tir_val(f, la[3 + i])->layout;
    BlockId body = tir_block_new(f, nl);
    tir_inst(f, nl)->blocks[0] = body;
    tir_inst(f, nl)->blocks[1] = TIR_NONE;
    cloner_init(&c, f, r->arena);
    ValId niv = tir_block_arg(f, body, ivt);
    cloner_map(&c, r->iv, niv);
    for (int i = 0; i < iters; i++)
        cloner_map(&c, old_args[1 + i], tir_block_arg(f, body, tir_type(f, old_args[1 + i])));
    ValId *carried = arena_alloc(r->arena, sizeof(ValId) * (size_t)(nc + 1));
    for (int k = 0; k < nc; k++) {
        carried[k] = tir_block_arg(f, body, tir_type(f, vals.data[k]));
        tir_val(f, carried[k])->layout = tir_val(f, vals.data[k])->layout;
    }
    tir_block_arg(f, body, ivt); /* T's induction variable, for the epilogue */
    ValId acc = TIR_NONE;
    for (int i = 0; i < nbody; i++) {
        if (r->in_t[i])
            continue;
        cloner_inst(&c, tir_block(f, r->body)->insts.data[i], body);
        if (i != hd)
            continue;
        /* T of the previous iteration, behind H's first dot; its indices
         * from n - s, which pipelining can compute ahead */
        ValId ns[2] = { niv, loop.args[2] };
        ValId prev = tir_emit(f, body, TIR_SUB, lp, ns, 2, ivt);
        acc = emit_tail(r, &vals, carried, cloner_get(&c, old_args[1 + j]), prev, j, body);
    }
    ValId *ly = arena_alloc(r->arena, sizeof(ValId) * (size_t)nres);
    for (int i = 0; i < iters; i++)
        ly[i] = i == j ? acc : cloner_get(&c, tir_inst(f, old_yield)->args[i]);
    for (int k = 0; k < nc; k++)
        ly[iters + k] = cloner_get(&c, vals.data[k]);
    ly[iters + nc] = niv;
    yield(f, body, ly, nres, lp);
    vec_push(r->arena, *out, nl);

    /* The epilogue: T of the last iteration. */
    TirInst *li = tir_inst(f, nl);
    TType at = tir_type(f, loop.res[j]);
    int al = tir_val(f, loop.res[j])->layout;
    BlockId ethen, eelse;
    InstId epi = new_if(f, parent, has, lp, &at, &al, 1, &ethen, &eelse);
    li = tir_inst(f, nl);
    for (int k = 0; k < nc; k++)
        carried[k] = li->res[iters + k];
    ValId fin = emit_tail(r, &vals, carried, li->res[j], li->res[iters + nc], j, ethen);
    yield(f, ethen, &fin, 1, lp);
    yield(f, eelse, &tir_inst(f, nl)->res[j], 1, lp);
    vec_push(r->arena, *out, epi);

    for (int i = 0; i < loop.nres; i++)
        tir_replace_uses(f, loop.res[i], i == j ? tir_inst(f, epi)->res[0] : tir_inst(f, nl)->res[i]);
    /* the old body is in no block now: nothing of it may be seen as a use */
    tir_block(f, r->body)->insts.len = 0;
}

/* Rotates the loop at position pos of block parent if it has the shape;
 * returns how many instructions replace it (0: left alone). */
static int rotate_loop(Rot *r, BlockId parent, int pos)
{
    TirFunc *f = r->f;
    TirInst *loop = tir_inst(f, tir_block(f, parent)->insts.data[pos]);
    if (loop->stages < 2 || loop->kind == TIR_FOR_EXIT || loop->ival || loop->nargs < 4)
        return 0;
    TirVal *stv = tir_val(f, loop->args[2]);
    if (stv->def == TIR_NONE || tir_inst(f, stv->def)->op != TIR_CONST || tir_inst(f, stv->def)->ival <= 0)
        return 0;
    r->body = loop->blocks[0];
    r->iv = tir_block(f, r->body)->args.data[0];
    int n = tir_block(f, r->body)->insts.len;
    r->in_t = arena_alloc(r->arena, (size_t)n + 1);
    r->val_t = arena_alloc(r->arena, (size_t)f->vals.len + 1);
    for (int j = 0; j < loop->nargs - 3; j++) {
        bool writes;
        if (!find_tail(r, j))
            continue;
        int hd = head_dot(r, &writes);
        if (hd < 0 || writes || !carried_in_registers(r, j))
            continue;
        Insts out = { 0 };
        rotate(r, parent, pos, j, hd, &out);
        Insts np = { 0 };
        TirBlock *pb = tir_block(f, parent);
        for (int i = 0; i < pb->insts.len; i++) {
            if (i != pos) {
                vec_push(r->arena, np, pb->insts.data[i]);
                continue;
            }
            for (int k = 0; k < out.len; k++)
                vec_push(r->arena, np, out.data[k]);
        }
        pb = tir_block(f, parent);
        pb->insts.len = 0;
        for (int i = 0; i < np.len; i++)
            vec_push(&f->arena, pb->insts, np.data[i]);
        return out.len;
    }
    return 0;
}

/* tir_each_loop_inner_first's step: past the prologue, the loop and the
 * epilogue when the loop was rotated. */
static int rotate_step(void *ctx, BlockId b, int i)
{
    int added = rotate_loop(ctx, b, i);
    return added ? i + added - 1 : -1;
}

bool tir_pass_rotate(TirFunc *f, const Target *t)
{
    if (f->no_overlap || !t || !t->dot_async)
        return false;
    Arena *arena = oom_arena_open();
    Rot r = { f, t, arena, TIR_NONE, TIR_NONE, NULL, NULL };
    bool changed = tir_each_loop_inner_first(f, f->body, rotate_step, &r);
    oom_arena_close(arena);
    return changed;
}
