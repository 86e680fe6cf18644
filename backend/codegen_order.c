/* The order of one instance's writes to a tensor (dsl/README.md §11:
 * statements run in order). The threads of a block write different elements
 * of a tile, and which thread writes an element depends on the statement
 * (its layout, its index tiles): `O[...] = x;` followed by a scatter or an
 * atomic update of the same elements is a race between threads unless a
 * block barrier lies between them (bar.sync orders the memory accesses of
 * the threads that meet at it). So a write to a tensor that the instance may
 * have written before by another statement gets a barrier in front of it,
 * except when no thread can tell the order:
 *  - two slice stores with the same starts (the same values), lengths and
 *    layout: each element is written by the same thread both times;
 *  - atomic updates of one kind (adds, or maxima, or minima) after each
 *    other: they commute (float sums round in the order the updates arrive,
 *    which §8.3 leaves unspecified).
 * Loops: a write inside a loop follows the writes of earlier iterations;
 * starts that change from one iteration to the next make a slice store
 * unlike its own previous iteration. Conditions of `if` and loops are the
 * same for every thread of an instance, so the barriers are met by all. */
#include "codegen_internal.h"

#include <string.h>

/* What the writes to one tensor since the last barrier were. */
typedef enum { W_NONE, W_SAME, W_ATOMIC, W_ANY } WriteKind;
typedef struct {
    WriteKind kind;
    InstId inst; /* W_SAME: the slice store every write since was like */
    int atomic;  /* W_ATOMIC: the ScatterKind of them all */
} WriteState;

enum { BIG = 1 << 24 }; /* coefficients and steps kept below this: their products fit */

typedef struct {
    Emitter *em;
    int nparams;
} Planner;

static bool is_write(const TirInst *in) { return in->op == TIR_STORE || in->op == TIR_SCATTER; }

static bool is_atomic(const TirInst *in) { return in->op == TIR_SCATTER && in->kind != SCATTER_STORE; }

/* Slice stores a and b write each element from the same thread. */
static bool same_owner(TirFunc *f, const TirInst *a, const TirInst *b)
{
    if (a->op != TIR_STORE || b->op != TIR_STORE || a->param != b->param)
        return false;
    int rank = f->params.data[a->param].rank;
    for (int d = 0; d < rank; d++)
        if (a->args[d] != b->args[d] || a->lens[d] != b->lens[d])
            return false;
    int la = tir_val(f, a->args[rank])->layout, lb = tir_val(f, b->args[rank])->layout;
    if (la == TIR_NONE || lb == TIR_NONE)
        return la == lb;
    return layout_eq(&f->layouts.data[la], &f->layouts.data[lb]);
}

static bool state_eq(WriteState a, WriteState b)
{
    return a.kind == b.kind && (a.kind != W_SAME || a.inst == b.inst) && (a.kind != W_ATOMIC || a.atomic == b.atomic);
}

/* What holds after either of two paths. */
static WriteState state_join(WriteState a, WriteState b)
{
    if (a.kind == W_NONE)
        return b;
    if (b.kind == W_NONE || state_eq(a, b))
        return a;
    return (WriteState){ .kind = W_ANY };
}

/* Marks the write `id` if it needs a barrier after state *s; updates *s. */
static void plan_write(Planner *pl, InstId id, WriteState *s)
{
    TirFunc *f = pl->em->f;
    const TirInst *in = tir_inst(f, id);
    bool ordered = s->kind == W_NONE || (s->kind == W_SAME && same_owner(f, tir_inst(f, s->inst), in)) ||
                   (s->kind == W_ATOMIC && is_atomic(in) && s->atomic == in->kind);
    if (!ordered)
        pl->em->order_barrier[id] = 1;
    if (is_atomic(in))
        *s = (WriteState){ .kind = W_ATOMIC, .atomic = in->kind };
    else
        *s = (WriteState){ .kind = W_SAME, .inst = id };
}

static void plan_block(Planner *pl, BlockId b, WriteState *s);

/* The constant c with v = c * iv + (something the loop does not change),
 * iv the induction variable of `loop`; false when v is not of that form. */
static bool iv_coef(Planner *pl, InstId loop, ValId v, int64_t *c, int depth)
{
    TirFunc *f = pl->em->f;
    const TirInst *L = tir_inst(f, loop);
    if (v == tir_block(f, L->blocks[0])->args.data[0]) {
        *c = 1;
        return true;
    }
    if (!em_defined_in(pl->em, v, loop)) {
        *c = 0;
        return true;
    }
    const TirVal *val = tir_val(f, v);
    if (depth > 8 || val->def == TIR_NONE || val->type.rank != 0)
        return false;
    const TirInst *in = tir_inst(f, val->def);
    int64_t c0, c1;
    if ((in->op != TIR_ADD && in->op != TIR_SUB && in->op != TIR_MUL) || !iv_coef(pl, loop, in->args[0], &c0, depth + 1) ||
        !iv_coef(pl, loop, in->args[1], &c1, depth + 1))
        return false;
    if (in->op != TIR_MUL) {
        *c = in->op == TIR_ADD ? c0 + c1 : c0 - c1;
        return *c > -BIG && *c < BIG;
    }
    /* c * iv times a constant */
    const TirInst *k0 = tir_val(f, in->args[0])->def != TIR_NONE ? tir_inst(f, tir_val(f, in->args[0])->def) : NULL;
    const TirInst *k1 = tir_val(f, in->args[1])->def != TIR_NONE ? tir_inst(f, tir_val(f, in->args[1])->def) : NULL;
    if (c0 == 0 && c1 == 0)
        *c = 0;
    else if (c0 == 0 && k0 && k0->op == TIR_CONST)
        *c = c1 * k0->ival;
    else if (c1 == 0 && k1 && k1->op == TIR_CONST)
        *c = c0 * k1->ival;
    else
        return false;
    return *c > -BIG && *c < BIG;
}

/* A slice store in `loop` that cannot meet its own earlier iterations: its
 * start along some dim is c * iv + (invariant) and one step of the loop (a
 * constant) moves it by at least the slice's length there (softmax's
 * `Y[m0 : +BM, n : +BN]` in `for n in 0 .. N step BN`). */
static bool strides_apart(Planner *pl, InstId id, InstId loop)
{
    TirFunc *f = pl->em->f;
    const TirInst *in = tir_inst(f, id), *L = tir_inst(f, loop);
    const TirVal *step = tir_val(f, L->args[2]);
    if (in->op != TIR_STORE || step->def == TIR_NONE || tir_inst(f, step->def)->op != TIR_CONST)
        return false;
    int64_t s = tir_inst(f, step->def)->ival, c;
    int rank = f->params.data[in->param].rank;
    for (int d = 0; d < rank; d++) {
        int64_t len = in->lens[d] > 0 ? in->lens[d] : 1, move = 0;
        if (iv_coef(pl, loop, in->args[d], &c, 0) && c != 0 && s > -BIG && s < BIG)
            move = c * s;
        if (move >= len || -move >= len)
            return true;
    }
    return false;
}

/* A store whose starts change inside `loop` is unlike its own previous
 * iteration, unless the change keeps them apart. */
static bool varies_in(Planner *pl, InstId id, InstId loop)
{
    TirFunc *f = pl->em->f;
    const TirInst *in = tir_inst(f, id);
    int rank = f->params.data[in->param].rank;
    for (int d = 0; d < rank; d++)
        if (em_defined_in(pl->em, in->args[d], loop))
            return !strides_apart(pl, id, loop);
    return false;
}

/* A loop's body runs after the writes before the loop and after its own
 * earlier iterations: the states are joined until they hold still (a state
 * only grows, so two or three rounds). */
static void plan_loop(Planner *pl, InstId loop, BlockId body, WriteState *s)
{
    size_t bytes = sizeof(WriteState) * (size_t)pl->nparams;
    WriteState *entry = arena_alloc(&pl->em->arena, bytes), *exit = arena_alloc(&pl->em->arena, bytes);
    memcpy(entry, s, bytes);
    for (;;) {
        memcpy(exit, entry, bytes);
        plan_block(pl, body, exit);
        bool still = true;
        for (int p = 0; p < pl->nparams; p++) {
            WriteState e = exit[p];
            if (e.kind == W_SAME && varies_in(pl, e.inst, loop))
                e = (WriteState){ .kind = W_ANY };
            WriteState next = state_join(entry[p], e);
            still = still && state_eq(next, entry[p]);
            entry[p] = next;
        }
        if (still)
            break;
    }
    /* the loop may run no iteration: entry joins the state before it */
    memcpy(s, entry, bytes);
}

static void plan_block(Planner *pl, BlockId b, WriteState *s)
{
    TirFunc *f = pl->em->f;
    const TirBlock *bl = tir_block(f, b);
    size_t bytes = sizeof(WriteState) * (size_t)pl->nparams;
    for (int i = 0; i < bl->insts.len; i++) {
        InstId id = bl->insts.data[i];
        const TirInst *in = tir_inst(f, id);
        if (is_write(in)) {
            plan_write(pl, id, &s[in->param]);
        } else if (in->op == TIR_FOR) {
            plan_loop(pl, id, in->blocks[0], s);
        } else if (in->op == TIR_IF) {
            WriteState *other = arena_alloc(&pl->em->arena, bytes);
            memcpy(other, s, bytes);
            plan_block(pl, in->blocks[0], s);
            plan_block(pl, in->blocks[1], other);
            for (int p = 0; p < pl->nparams; p++)
                s[p] = state_join(s[p], other[p]);
        }
    }
}

void em_plan_write_order(Emitter *em)
{
    TirFunc *f = em->f;
    Planner pl = { .em = em, .nparams = f->params.len };
    em->order_barrier = arena_alloc(&em->arena, (size_t)f->insts.len + 1);
    memset(em->order_barrier, 0, (size_t)f->insts.len + 1);
    WriteState *s = arena_alloc(&em->arena, sizeof(WriteState) * (size_t)(pl.nparams + 1));
    for (int p = 0; p < pl.nparams; p++)
        s[p] = (WriteState){ .kind = W_NONE };
    plan_block(&pl, f->body, s);
}
