/* Loop splitting on a condition monotone in the induction variable.
 *
 * A loop `for iv in lb .. ub step S` (S a positive constant) whose body has,
 * at its top level, `if c` where c compares `iv + a` (or `iv - a`, `a + iv`,
 * `iv`) with b, a and b defined outside the loop, is split in two at the
 * first iteration where c can change (T):
 *
 *   for iv in lb .. U step S { the body, with the branch that c takes below T }
 *   for iv in U .. ub step S { the body as it was }
 *
 * U is T rounded up to the loop's grid of iterations and clamped to [lb, ub];
 * the second loop carries on from the first's results. `iv + a > b` and
 * `iv + a >= b` are false below T = b - a + 1 (b - a), `iv + a < b` and
 * `iv + a <= b` true below T = b - a (b - a + 1): so attention's
 * `if n + BN > unmasked { mask }` becomes a mask-free steady-state loop and
 * the masked iterations after it. Below T, iv + a lies in [lb + a, b] and
 * cannot wrap in i32 as long as lb + a does not: U is computed in i64, and
 * is lb (no steady iterations) when lb + a would wrap. Both loops keep the
 * pipelining depth asked for. One split per loop; inner loops first; loops
 * that can stop early (while, break) are left alone.
 *
 * A code-generation pass (the target's list, before layouts): the
 * interpreter runs the loop as written, so every test comparing the two
 * devices checks the split. */
#include "passes.h"
#include "oom.h"
#include "tir_clone.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    TirFunc *f;
    Arena *arena;
    Cloner clone; /* the values of the loop being split and their copies */
    char *inside; /* per instruction: in the loop being split */
    char *inside_block;
} Split;

static void mark(Split *s, BlockId b)
{
    s->inside_block[b] = 1;
    TirBlock *bl = tir_block(s->f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        InstId id = bl->insts.data[i];
        s->inside[id] = 1;
        TirInst *in = tir_inst(s->f, id);
        if (in->op == TIR_FOR || in->op == TIR_IF)
            for (int k = 0; k < 2; k++)
                if (in->blocks[k] != TIR_NONE)
                    mark(s, in->blocks[k]);
    }
}

/* Loop-invariant: defined outside the marked loop, or a pure scalar
 * computation over such values (kernel parameters, dims and constants are
 * emitted where they are first used, often inside the loop). */
static bool invariant(Split *s, ValId v, int depth)
{
    TirVal *val = tir_val(s->f, v);
    if (val->def == TIR_NONE)
        return !s->inside_block[val->block];
    if (!s->inside[val->def])
        return true;
    TirInst *in = tir_inst(s->f, val->def);
    if (depth > 16 || in->nres != 1 || tir_type(s->f, v).rank != 0 || !tir_op_is_pure(in->op) || in->op == TIR_LOAD)
        return false;
    for (int i = 0; i < in->nargs; i++)
        if (!invariant(s, in->args[i], depth + 1))
            return false;
    return true;
}

static bool is_scalar_i32(TirFunc *f, ValId v)
{
    TType t = tir_type(f, v);
    return t.rank == 0 && t.dt == DT_I32;
}

/* The condition, normalized to `iv + a OP b` (a: TIR_NONE for 0, negated
 * when neg). */
typedef struct {
    TirOp op;
    ValId a, b;
    bool neg;
} Monotone;

/* x is iv, iv + a, a + iv or iv - a with a invariant. */
static bool affine_iv(Split *s, ValId x, ValId iv, Monotone *m)
{
    m->a = TIR_NONE;
    m->neg = false;
    if (x == iv)
        return true;
    TirVal *val = tir_val(s->f, x);
    if (val->def == TIR_NONE)
        return false;
    TirInst *in = tir_inst(s->f, val->def);
    if (in->op == TIR_ADD && in->args[0] == iv && invariant(s, in->args[1], 0))
        m->a = in->args[1];
    else if (in->op == TIR_ADD && in->args[1] == iv && invariant(s, in->args[0], 0))
        m->a = in->args[0];
    else if (in->op == TIR_SUB && in->args[0] == iv && invariant(s, in->args[1], 0)) {
        m->a = in->args[1];
        m->neg = true;
    } else
        return false;
    return true;
}

static TirOp swapped(TirOp op)
{
    switch (op) {
    case TIR_GT: return TIR_LT;
    case TIR_GE: return TIR_LE;
    case TIR_LT: return TIR_GT;
    default: return TIR_GE;
    }
}

static bool monotone(Split *s, ValId cond, ValId iv, Monotone *m)
{
    TirVal *val = tir_val(s->f, cond);
    if (val->def == TIR_NONE)
        return false;
    TirInst *in = tir_inst(s->f, val->def);
    if (!(in->op == TIR_GT || in->op == TIR_GE || in->op == TIR_LT || in->op == TIR_LE))
        return false;
    ValId x = in->args[0], y = in->args[1];
    if (!is_scalar_i32(s->f, x) || !is_scalar_i32(s->f, y))
        return false;
    m->op = in->op;
    if (invariant(s, y, 0) && affine_iv(s, x, iv, m)) {
        m->b = y;
        return true;
    }
    if (invariant(s, x, 0) && affine_iv(s, y, iv, m)) {
        m->b = x;
        m->op = swapped(in->op);
        return true;
    }
    return false;
}

/* --- building scalar code in the parent block --- */

typedef struct {
    TirFunc *f;
    BlockId b;
    SrcPos pos;
    VEC(InstId) out;
    Arena *arena;
} Builder;

static ValId op2(Builder *bd, TirOp op, ValId x, ValId y, DType dt)
{
    ValId args[2] = { x, y };
    TType t = ttype_scalar(dt);
    InstId id = tir_make(bd->f, bd->b, op, bd->pos, args, 2, &t, 1);
    vec_push(bd->arena, bd->out, id);
    return tir_inst(bd->f, id)->res[0];
}

static ValId cast(Builder *bd, ValId x, DType dt)
{
    TType t = ttype_scalar(dt);
    InstId id = tir_make(bd->f, bd->b, TIR_CAST, bd->pos, &x, 1, &t, 1);
    vec_push(bd->arena, bd->out, id);
    return tir_inst(bd->f, id)->res[0];
}

static ValId konst(Builder *bd, int64_t v, DType dt)
{
    TType t = ttype_scalar(dt);
    InstId id = tir_make(bd->f, bd->b, TIR_CONST, bd->pos, NULL, 0, &t, 1);
    tir_inst(bd->f, id)->ival = v;
    vec_push(bd->arena, bd->out, id);
    return tir_inst(bd->f, id)->res[0];
}

/* An invariant value usable in the parent block: v itself when defined
 * outside the loop, else a copy of its (pure, scalar) computation put in
 * front of the loop. */
static ValId hoist(Split *s, Builder *bd, ValId v)
{
    TirFunc *f = s->f;
    TirVal *val = tir_val(f, v);
    if (val->def == TIR_NONE || !s->inside[val->def])
        return v;
    TirInst old = *tir_inst(f, val->def);
    ValId args[8];
    tsr_assert(old.nargs <= 8);
    for (int i = 0; i < old.nargs; i++)
        args[i] = hoist(s, bd, old.args[i]);
    TType t = tir_type(f, v);
    InstId id = tir_make(f, bd->b, old.op, old.pos, args, old.nargs, &t, 1);
    TirInst *in = tir_inst(f, id);
    in->ival = old.ival;
    in->fval = old.fval;
    in->axis = old.axis;
    in->param = old.param;
    in->sym = old.sym;
    in->kind = old.kind;
    vec_push(bd->arena, bd->out, id);
    return in->res[0];
}

/* U, the first iteration of the second loop (i32), from lb, ub, the step
 * and the condition. */
static ValId split_point(Split *s, Builder *bd, const Monotone *m, ValId lb, ValId ub, int64_t step)
{
    ValId lb64 = cast(bd, lb, DT_I64), ub64 = cast(bd, ub, DT_I64);
    ValId t = cast(bd, hoist(s, bd, m->b), DT_I64);
    ValId ok = TIR_NONE;
    if (m->a != TIR_NONE) {
        ValId a64 = cast(bd, hoist(s, bd, m->a), DT_I64);
        if (m->neg)
            a64 = op2(bd, TIR_SUB, konst(bd, 0, DT_I64), a64, DT_I64);
        t = op2(bd, TIR_SUB, t, a64, DT_I64);
        /* lb + a must not wrap: below T, iv + a then stays in [lb + a, b] */
        ok = op2(bd, TIR_GE, op2(bd, TIR_ADD, lb64, a64, DT_I64), konst(bd, INT32_MIN, DT_I64), DT_BOOL);
    }
    if (m->op == TIR_GT || m->op == TIR_LE)
        t = op2(bd, TIR_ADD, t, konst(bd, 1, DT_I64), DT_I64);
    if (ok != TIR_NONE) {
        ValId args[3] = { ok, t, lb64 };
        TType ty = ttype_scalar(DT_I64);
        InstId id = tir_make(bd->f, bd->b, TIR_SELECT, bd->pos, args, 3, &ty, 1);
        vec_push(bd->arena, bd->out, id);
        t = tir_inst(bd->f, id)->res[0];
    }
    /* clamp to [lb, ub], then up to the grid lb + k * step, at most ub */
    t = op2(bd, TIR_MIN, op2(bd, TIR_MAX, t, lb64, DT_I64), ub64, DT_I64);
    ValId st = konst(bd, step, DT_I64);
    ValId k = op2(bd, TIR_DIV, op2(bd, TIR_ADD, op2(bd, TIR_SUB, t, lb64, DT_I64), konst(bd, step - 1, DT_I64), DT_I64),
                  st, DT_I64);
    ValId u = op2(bd, TIR_ADD, lb64, op2(bd, TIR_MUL, k, st, DT_I64), DT_I64);
    return cast(bd, op2(bd, TIR_MIN, u, ub64, DT_I64), DT_I32);
}

/* --- cloning the body --- */

/* Clones the instructions of block `from` into `to`; the if drop_if is
 * replaced by the instructions of its branch `taken` (then when true), its
 * results by what that branch yields. */
static void clone_into(Split *s, BlockId from, BlockId to, InstId drop_if, bool taken)
{
    TirFunc *f = s->f;
    for (int i = 0; i < tir_block(f, from)->insts.len; i++) {
        InstId id = tir_block(f, from)->insts.data[i];
        if (id != drop_if) {
            cloner_inst(&s->clone, id, to);
            continue;
        }
        BlockId br = tir_inst(f, id)->blocks[taken ? 0 : 1];
        TirBlock *bb = tir_block(f, br);
        for (int j = 0; j + 1 < bb->insts.len; j++)
            cloner_inst(&s->clone, tir_block(f, br)->insts.data[j], to);
        bb = tir_block(f, br);
        TirInst *y = tir_inst(f, bb->insts.data[bb->insts.len - 1]);
        TirInst *ifi = tir_inst(f, id);
        for (int r = 0; r < ifi->nres; r++)
            if (ifi->res[r] < s->clone.nto)
                s->clone.to[ifi->res[r]] = cloner_get(&s->clone, y->args[r]);
    }
}

/* Splits the loop at position pos of block parent if its body has a
 * top-level if on a monotone condition; returns the number of instructions
 * put in front of it (0: not split). */
static int split_loop(Split *s, BlockId parent, int pos)
{
    TirFunc *f = s->f;
    InstId loop_id = tir_block(f, parent)->insts.data[pos];
    TirInst loop = *tir_inst(f, loop_id);
    if (loop.kind == TIR_FOR_EXIT || loop.nargs < 3)
        return 0;
    TirVal *stv = tir_val(f, loop.args[2]);
    if (stv->def == TIR_NONE || tir_inst(f, stv->def)->op != TIR_CONST || tir_inst(f, stv->def)->ival <= 0)
        return 0;
    int64_t step = tir_inst(f, stv->def)->ival;
    BlockId body = loop.blocks[0];
    ValId iv = tir_block(f, body)->args.data[0];
    memset(s->inside, 0, (size_t)f->insts.len);
    memset(s->inside_block, 0, (size_t)f->blocks.len);
    mark(s, body);
    InstId cut = TIR_NONE;
    Monotone m = { 0 };
    for (int i = 0; i < tir_block(f, body)->insts.len && cut == TIR_NONE; i++) {
        InstId id = tir_block(f, body)->insts.data[i];
        if (tir_inst(f, id)->op == TIR_IF && monotone(s, tir_inst(f, id)->args[0], iv, &m))
            cut = id;
    }
    if (cut == TIR_NONE)
        return 0;
    /* below the split point, >, >= are false and <, <= true */
    bool taken = m.op == TIR_LT || m.op == TIR_LE;

    Builder bd = { f, parent, loop.pos, { 0 }, s->arena };
    ValId u = split_point(s, &bd, &m, loop.args[0], loop.args[1], step);

    /* the steady loop: lb .. u with the loop's initial values */
    ValId *args = arena_alloc(s->arena, sizeof(ValId) * (size_t)loop.nargs);
    TType *types = arena_alloc(s->arena, sizeof(TType) * (size_t)(loop.nres ? loop.nres : 1));
    for (int i = 0; i < loop.nargs; i++)
        args[i] = loop.args[i];
    args[1] = u;
    for (int i = 0; i < loop.nres; i++)
        types[i] = tir_type(f, loop.res[i]);
    InstId sid = tir_make(f, parent, TIR_FOR, loop.pos, args, loop.nargs, types, loop.nres);
    tir_inst(f, sid)->stages = loop.stages;
    tir_inst(f, sid)->kind = loop.kind;
    tir_inst(f, sid)->ival = loop.ival;
    BlockId nb = tir_block_new(f, sid);
    tir_inst(f, sid)->blocks[0] = nb;
    tir_inst(f, sid)->blocks[1] = TIR_NONE;
    cloner_init(&s->clone, f, s->arena);
    for (int a = 0; a < tir_block(f, body)->args.len; a++) {
        ValId oa = tir_block(f, body)->args.data[a];
        cloner_map(&s->clone, oa, tir_block_arg(f, nb, tir_type(f, oa)));
    }
    clone_into(s, body, nb, cut, taken);
    vec_push(s->arena, bd.out, sid);

    /* the original loop goes on from u with the steady loop's results */
    TirInst *rest = tir_inst(f, loop_id);
    ValId *rargs = arena_alloc(&f->arena, sizeof(ValId) * (size_t)loop.nargs);
    for (int i = 0; i < loop.nargs; i++)
        rargs[i] = i == 0 ? u : i >= 3 ? tir_inst(f, sid)->res[i - 3] : loop.args[i];
    rest->args = rargs;

    /* parent: ..., the split point, the steady loop, the loop, ... */
    VEC(InstId) np = { 0 };
    TirBlock *pb = tir_block(f, parent);
    for (int i = 0; i < pb->insts.len; i++) {
        if (i == pos)
            for (int k = 0; k < bd.out.len; k++)
                vec_push(s->arena, np, bd.out.data[k]);
        vec_push(s->arena, np, pb->insts.data[i]);
    }
    pb = tir_block(f, parent);
    pb->insts.len = 0;
    for (int i = 0; i < np.len; i++)
        vec_push(&f->arena, pb->insts, np.data[i]);
    return bd.out.len;
}

/* tir_each_loop_inner_first's step: to the loop itself, past the new code
 * and the steady loop, when the loop was split. */
static int split_step(void *ctx, BlockId b, int i)
{
    Split *s = ctx;
    /* the marks must cover every instruction, new ones included */
    s->inside = arena_alloc(s->arena, (size_t)s->f->insts.len + 1);
    s->inside_block = arena_alloc(s->arena, (size_t)s->f->blocks.len + 1);
    int added = split_loop(s, b, i);
    return added ? i + added : -1;
}

bool tir_pass_loopsplit(TirFunc *f, const Target *t)
{
    (void)t;
    Arena *arena = oom_arena_open();
    Split s = { f, arena, { 0 }, NULL, NULL };
    bool changed = tir_each_loop_inner_first(f, f->body, split_step, &s);
    oom_arena_close(arena);
    return changed;
}
