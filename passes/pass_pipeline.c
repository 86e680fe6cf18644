/* Software pipelining of loops marked pipeline(S), S >= 2.
 *
 * A load in the loop body that fills a shared-memory tile (the layout pass
 * chose shared memory for it) is turned into asynchronous copies into an
 * S-stage buffer, issued S-1 iterations ahead:
 *
 *   prologue:   wait for all stages (the space may have been another's)
 *               copy iterations 0 .. S-2 into stages 0 .. S-2, commit each
 *   iteration i (stage st = i mod S):
 *               wait for stage st, while the S-2 later ones stay in flight
 *               copy iteration i+S-1 into stage (st + S - 1) mod S; commit it
 *               ... the body, reading the tile from stage st ...
 *               release stage st
 *   after:      wait for all stages
 *
 * The target lowers these stage operations (TargetEmit): on sm_80 a wait is
 * cp.async.wait_group and a barrier, which also guarantees that every warp
 * is done with iteration i-1, whose stage the prefetch overwrites, so a
 * release costs nothing there. Iterations
 * past the end copy rows past the tensor's end, which read as zeros and are
 * never used. Only loads whose indices are computed from the induction
 * variable and values defined outside the loop by pure scalar code qualify:
 * that code is cloned for the later iteration. */
#include "passes.h"
#include "oom.h"

typedef VEC(InstId) InstList;

typedef struct {
    ValId from, to;
} Subst;

typedef struct {
    TirFunc *f;
    BlockId body;
    ValId iv;
    Arena *arena;
    VEC(Subst) map; /* values already cloned for the current iteration offset */
} Pipe;

static bool defined_in(TirFunc *f, ValId v, BlockId b)
{
    TirVal *val = tir_val(f, v);
    if (val->def == TIR_NONE)
        return val->block == b;
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++)
        if (bl->insts.data[i] == val->def)
            return true;
    return false;
}

/* v can be recomputed for another iteration: the induction variable, a
 * value from outside the loop, or pure scalar code of the body over those. */
static bool cloneable(Pipe *p, ValId v, int depth)
{
    TirFunc *f = p->f;
    if (v == p->iv || depth > 32)
        return v == p->iv;
    TirVal *val = tir_val(f, v);
    if (val->def == TIR_NONE)
        return !defined_in(f, v, p->body); /* another loop argument is not */
    if (!defined_in(f, v, p->body))
        return true;
    TirInst *in = tir_inst(f, val->def);
    if (in->nres != 1 || tir_type(f, v).rank != 0 || !tir_op_is_pure(in->op) || in->op == TIR_LOAD)
        return false;
    for (int i = 0; i < in->nargs; i++)
        if (!cloneable(p, in->args[i], depth + 1))
            return false;
    return true;
}

/* The value of v in the iteration whose induction variable is `iv`, with
 * the code it needs appended to `out`. */
static ValId clone_for(Pipe *p, ValId v, ValId iv, BlockId b, InstList *out)
{
    TirFunc *f = p->f;
    if (v == p->iv)
        return iv;
    if (!defined_in(f, v, p->body))
        return v;
    for (int i = 0; i < p->map.len; i++)
        if (p->map.data[i].from == v)
            return p->map.data[i].to;
    TirInst copy = *tir_inst(f, tir_val(f, v)->def);
    ValId args[8];
    tsr_assert(copy.nargs <= 8);
    for (int i = 0; i < copy.nargs; i++)
        args[i] = clone_for(p, copy.args[i], iv, b, out);
    TType t = tir_type(f, v);
    InstId id = tir_make(f, b, copy.op, copy.pos, args, copy.nargs, &t, 1);
    TirInst *in = tir_inst(f, id);
    in->ival = copy.ival;
    in->fval = copy.fval;
    in->axis = copy.axis;
    in->param = copy.param;
    in->sym = copy.sym;
    in->kind = copy.kind;
    vec_push(p->arena, *out, id);
    Subst s = { v, in->res[0] };
    vec_push(p->arena, p->map, s);
    return in->res[0];
}

static ValId add_scalar(TirFunc *f, BlockId b, InstList *out, Arena *a, TirOp op, SrcPos pos, ValId x, ValId y)
{
    ValId args[2] = { x, y };
    TType t = ttype_scalar(DT_I32);
    InstId id = tir_make(f, b, op, pos, args, 2, &t, 1);
    vec_push(a, *out, id);
    return tir_inst(f, id)->res[0];
}

static ValId const_i32(TirFunc *f, BlockId b, InstList *out, Arena *a, SrcPos pos, int64_t v)
{
    TType t = ttype_scalar(DT_I32);
    InstId id = tir_make(f, b, TIR_CONST, pos, NULL, 0, &t, 1);
    tir_inst(f, id)->ival = (int32_t)v;
    vec_push(a, *out, id);
    return tir_inst(f, id)->res[0];
}

/* A stage operation of `ring` on `stage` (TIR_NONE: a wait for every stage). */
static void emit_stage_op(TirFunc *f, BlockId b, InstList *out, Arena *a, TirOp op, SrcPos pos, int ring,
                          ValId stage, int64_t later)
{
    InstId id = tir_make(f, b, op, pos, &stage, stage == TIR_NONE ? 0 : 1, NULL, 0);
    tir_inst(f, id)->ival = later;
    tir_inst(f, id)->buf = ring;
    vec_push(a, *out, id);
}

/* Copies for the iteration with induction variable iv into `stage`. */
static void emit_copies(Pipe *p, const InstId *loads, const int *bufs, int n, ValId iv, ValId stage, BlockId b,
                        InstList *out)
{
    TirFunc *f = p->f;
    p->map.len = 0;
    for (int k = 0; k < n; k++) {
        TirInst ld = *tir_inst(f, loads[k]);
        ValId args[TIR_MAX_RANK + 1];
        for (int i = 0; i < ld.nargs; i++)
            args[i] = clone_for(p, ld.args[i], iv, b, out);
        args[ld.nargs] = stage;
        InstId id = tir_make(f, b, TIR_ASYNC_COPY, ld.pos, args, ld.nargs + 1, NULL, 0);
        TirInst *in = tir_inst(f, id);
        in->param = ld.param;
        in->buf = bufs[k];
        for (int d = 0; d < TIR_MAX_RANK; d++)
            in->lens[d] = ld.lens[d];
        vec_push(p->arena, *out, id);
    }
    emit_stage_op(f, b, out, p->arena, TIR_ASYNC_COMMIT, tir_inst(f, loads[0])->pos, bufs[0], stage, 0);
}

static void replace_list(TirFunc *f, BlockId b, const InstList *list)
{
    TirBlock *bl = tir_block(f, b);
    bl->insts.len = 0;
    for (int i = 0; i < list->len; i++)
        vec_push(&f->arena, bl->insts, list->data[i]);
}

/* Pipelines the loop at position `pos` of block `parent`; returns the
 * number of instructions it put in front of the loop. */
static int pipeline_loop(TirFunc *f, BlockId parent, int pos, Arena *arena)
{
    InstId loop_id = tir_block(f, parent)->insts.data[pos];
    TirInst loop = *tir_inst(f, loop_id);
    int S = loop.stages;
    Pipe p = { 0 };
    p.f = f;
    p.body = loop.blocks[0];
    p.iv = tir_block(f, p.body)->args.data[0];
    p.arena = arena;
    /* The loads that qualify. */
    InstList loads = { 0 };
    TirBlock *body = tir_block(f, p.body);
    for (int i = 0; i < body->insts.len; i++) {
        TirInst *in = tir_inst(f, body->insts.data[i]);
        const Layout *l = in->op == TIR_LOAD ? tir_layout(f, in->res[0]) : NULL;
        if (!l || l->kind != LAYOUT_SHARED)
            continue;
        bool ok = true;
        for (int a = 0; a < in->nargs && ok; a++)
            ok = cloneable(&p, in->args[a], 0);
        if (ok)
            vec_push(arena, loads, body->insts.data[i]);
    }
    if (loads.len == 0)
        return 0;
    int *bufs = arena_alloc(arena, sizeof(int) * (size_t)loads.len);
    for (int k = 0; k < loads.len; k++) {
        ValId r = tir_inst(f, loads.data[k])->res[0];
        TirBuffer buf = { tir_val(f, r)->layout, S, tir_type(f, r), -1, f->buffers.len - k, TIR_NONE, TIR_NONE,
                          TIR_NONE };
        vec_push(&f->arena, f->buffers, buf);
        bufs[k] = f->buffers.len - 1;
    }
    int ring = bufs[0];
    SrcPos lpos = loop.pos;
    ValId lb = loop.args[0], step = loop.args[2];

    /* Prologue: iterations 0 .. S-2, after a barrier (the buffers' space may
     * have been someone else's just before). */
    InstList pro = { 0 };
    emit_stage_op(f, parent, &pro, arena, TIR_ASYNC_WAIT, lpos, ring, TIR_NONE, 0);
    for (int s = 0; s < S - 1; s++) {
        ValId off = const_i32(f, parent, &pro, arena, lpos, (int64_t)s);
        ValId ivs = add_scalar(f, parent, &pro, arena, TIR_ADD, lpos, lb,
                               add_scalar(f, parent, &pro, arena, TIR_MUL, lpos, off, step));
        emit_copies(&p, loads.data, bufs, loads.len, ivs, off, parent, &pro);
    }
    ValId zero = const_i32(f, parent, &pro, arena, lpos, 0);

    /* The loop carries its stage. */
    ValId *args = arena_alloc(&f->arena, sizeof(ValId) * (size_t)(loop.nargs + 1));
    for (int i = 0; i < loop.nargs; i++)
        args[i] = loop.args[i];
    args[loop.nargs] = zero;
    TType i32 = ttype_scalar(DT_I32);
    InstId nid = tir_make(f, parent, TIR_FOR, lpos, args, loop.nargs + 1, NULL, 0);
    TirInst *nl = tir_inst(f, nid);
    nl->res = arena_alloc(&f->arena, sizeof(ValId) * (size_t)(loop.nres + 1));
    nl->nres = loop.nres + 1;
    for (int i = 0; i < loop.nres; i++) {
        nl->res[i] = loop.res[i];
        tir_val(f, loop.res[i])->def = nid;
    }
    ValId stage_out = tir_result_new(f, i32, nid, parent, loop.nres);
    nl = tir_inst(f, nid);
    nl->res[loop.nres] = stage_out;
    nl->blocks[0] = loop.blocks[0];
    nl->blocks[1] = TIR_NONE;
    nl->stages = 0; /* done */
    nl->ival = loop.ival; /* TIR_LOOP_* flags */
    tir_block(f, p.body)->parent = nid;
    ValId st = tir_block_arg(f, p.body, i32);

    /* Body: wait, prefetch, then the old body reading the stage. */
    InstList nb = { 0 };
    emit_stage_op(f, p.body, &nb, arena, TIR_ASYNC_WAIT, lpos, ring, st, S - 2);
    ValId sm1 = const_i32(f, p.body, &nb, arena, lpos, S - 1);
    ValId sS = const_i32(f, p.body, &nb, arena, lpos, S);
    ValId one = const_i32(f, p.body, &nb, arena, lpos, 1);
    ValId pst = add_scalar(f, p.body, &nb, arena, TIR_REM, lpos, add_scalar(f, p.body, &nb, arena, TIR_ADD, lpos, st, sm1), sS);
    ValId next = add_scalar(f, p.body, &nb, arena, TIR_REM, lpos, add_scalar(f, p.body, &nb, arena, TIR_ADD, lpos, st, one), sS);
    ValId ivn = add_scalar(f, p.body, &nb, arena, TIR_ADD, lpos, p.iv, add_scalar(f, p.body, &nb, arena, TIR_MUL, lpos, sm1, step));
    TirBuffer *rb = &f->buffers.data[ring];
    rb->loop = nid;
    rb->first_wait = pro.data[0];
    rb->ahead = ivn;
    emit_copies(&p, loads.data, bufs, loads.len, ivn, pst, p.body, &nb);
    body = tir_block(f, p.body);
    for (int i = 0; i < body->insts.len; i++) {
        InstId id = body->insts.data[i];
        TirInst *in = tir_inst(f, id);
        int k = -1;
        for (int j = 0; j < loads.len; j++)
            if (loads.data[j] == id)
                k = j;
        if (k >= 0) {
            ValId old = in->res[0];
            TType t = tir_type(f, old);
            InstId sid = tir_make(f, p.body, TIR_SMEM_TILE, in->pos, &st, 1, &t, 1);
            ValId nv = tir_inst(f, sid)->res[0];
            tir_inst(f, sid)->buf = bufs[k];
            tir_val(f, nv)->layout = tir_val(f, old)->layout;
            tir_replace_uses(f, old, nv);
            vec_push(arena, nb, sid);
            continue;
        }
        if (in->op == TIR_YIELD) {
            emit_stage_op(f, p.body, &nb, arena, TIR_ASYNC_RELEASE, lpos, ring, st, 0);
            in = tir_inst(f, id);
            ValId *ya = arena_alloc(&f->arena, sizeof(ValId) * (size_t)(in->nargs + 1));
            for (int a = 0; a < in->nargs; a++)
                ya[a] = in->args[a];
            ya[in->nargs] = next;
            in->args = ya;
            in->nargs++;
        }
        vec_push(arena, nb, id);
    }
    replace_list(f, p.body, &nb);

    /* Parent: prologue, the new loop, a final wait. */
    InstList np = { 0 };
    TirBlock *pb = tir_block(f, parent);
    for (int i = 0; i < pos; i++)
        vec_push(arena, np, pb->insts.data[i]);
    for (int i = 0; i < pro.len; i++)
        vec_push(arena, np, pro.data[i]);
    vec_push(arena, np, nid);
    emit_stage_op(f, parent, &np, arena, TIR_ASYNC_WAIT, lpos, ring, TIR_NONE, 0);
    for (int i = pos + 1; i < pb->insts.len; i++)
        vec_push(arena, np, tir_block(f, parent)->insts.data[i]);
    replace_list(f, parent, &np);
    return pro.len;
}

static bool pipeline_block(TirFunc *f, BlockId b, Arena *arena)
{
    bool changed = false;
    for (int i = 0; i < tir_block(f, b)->insts.len; i++) {
        TirInst *in = tir_inst(f, tir_block(f, b)->insts.data[i]);
        if (in->op != TIR_FOR && in->op != TIR_IF)
            continue;
        for (int k = 0; k < 2; k++)
            if (in->blocks[k] != TIR_NONE)
                changed |= pipeline_block(f, in->blocks[k], arena);
        in = tir_inst(f, tir_block(f, b)->insts.data[i]);
        if (in->op == TIR_FOR && in->stages >= 2) {
            int added = pipeline_loop(f, b, i, arena);
            if (added) {
                changed = true;
                i += added + 1; /* past the prologue and the final wait */
            }
        }
    }
    return changed;
}

bool tir_pass_pipeline(TirFunc *f, const Target *t)
{
    Arena *arena = oom_arena_open();
    bool changed = pipeline_block(f, f->body, arena);
    oom_arena_close(arena);
    return changed;
}
