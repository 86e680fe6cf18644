/* Layout assignment: gives every tile value a distributed layout (layout.h)
 * and inserts CONVERT where a value must change layout.
 *
 * Anchors decide: loads get blocked layouts (coalesced, vectorized along the
 * last dim), dot results the mma accumulator layout and dot operands the mma
 * A/B fragments; a reduction's result is the slice of its input's layout. The
 * layout flows forward through elementwise work, the heaviest operand winning
 * (dot results over loads over the rest), and loop-carried values take the
 * layout of what the loop body yields.
 *
 * A load whose tile only feeds dots (directly or through transpose) goes to
 * shared memory instead of registers: the code generator copies it there
 * asynchronously and reads the operand fragments with ldmatrix. Dots the
 * tensor cores cannot run multiply-add on the CUDA cores from operands each
 * thread holds whole along K (layout_fma_operand). Which dots run where,
 * with which layouts, and which operand tiles live in shared memory, is the
 * target's choice (Target.plan_dot, Target.operand_smem_layout).
 *
 * Cheap producers -- splat, arange, expand_dims, transpose, broadcast, and any
 * computation whose operands are all such -- have no layout of their own:
 * they are rebuilt at each use in the layout that use needs, so a broadcast
 * row maximum or a column index never costs a conversion. */
#include "passes.h"
#include "oom.h"

#include <stdlib.h>

enum { FLEX = -2 };

typedef VEC(InstId) InstList;

typedef struct {
    ValId from;
    int layout;
    ValId to;
} Memo;

typedef struct {
    TirFunc *f;
    const Target *target;
    int *use_start, *users; /* users of value v: users[use_start[v] .. use_start[v+1]) */
    int *natural; /* per value: layout index, FLEX, or TIR_NONE (scalars) */
    int *weight;
    VEC(Memo) memo;
    InstList *out; /* the instruction list being rebuilt */
    BlockId cur;
    Arena *arena;
} LayoutPass;

static TType vtype(LayoutPass *p, ValId v) { return tir_type(p->f, v); }
static int rank_of(LayoutPass *p, ValId v) { return vtype(p, v).rank; }

static int intern(LayoutPass *p, Layout l) { return tir_intern_layout(p->f, &l); }
static Layout layout_at(LayoutPass *p, int idx) { return p->f->layouts.data[idx]; }

static int default_blocked(LayoutPass *p, TType t)
{
    int vec = 16 / dtype_size(t.dt);
    return intern(p, layout_blocked(t.rank, t.shape, p->f->warps, vec));
}

/* Producers that are rebuilt at each use. */
static bool is_lazy_op(TirOp op)
{
    return op == TIR_SPLAT || op == TIR_ARANGE || op == TIR_EXPAND_DIMS || op == TIR_TRANSPOSE ||
           op == TIR_BROADCAST;
}

static bool is_elementwise(TirOp op) { return tir_op_is_binary(op) || tir_op_is_unary(op) || op == TIR_SELECT; }

static bool inst_is_lazy(LayoutPass *p, const TirInst *in)
{
    if (in->nres != 1 || rank_of(p, in->res[0]) == 0)
        return false;
    return is_lazy_op(in->op) || (is_elementwise(in->op) && p->natural[in->res[0]] == FLEX);
}

/* ------------------------------------------------------ forward analysis */

static void set_nat(LayoutPass *p, ValId v, int layout, int weight, bool *changed)
{
    if (p->natural[v] != layout || p->weight[v] != weight) {
        p->natural[v] = layout;
        p->weight[v] = weight;
        if (changed)
            *changed = true;
    }
}

static void analyze_block(LayoutPass *p, BlockId b);

static const TirInst *yield_of(LayoutPass *p, BlockId b)
{
    TirBlock *bl = tir_block(p->f, b);
    return tir_inst(p->f, bl->insts.data[bl->insts.len - 1]);
}

/* The heaviest concrete layout among v's operands (FLEX if none). */
static void pick_operand_layout(LayoutPass *p, const TirInst *in, int first, int *layout, int *weight)
{
    *layout = FLEX;
    *weight = 0;
    for (int i = first; i < in->nargs; i++) {
        ValId a = in->args[i];
        if (rank_of(p, a) == 0 || p->natural[a] == FLEX)
            continue;
        if (*layout == FLEX || p->weight[a] > *weight) {
            *layout = p->natural[a];
            *weight = p->weight[a];
        }
    }
}

/* Every use of v is a dot operand, possibly through transposes. */
static bool only_feeds_dots(LayoutPass *p, ValId v, int depth)
{
    if (depth > 8 || p->use_start[v] == p->use_start[v + 1])
        return false;
    for (int u = p->use_start[v]; u < p->use_start[v + 1]; u++) {
        TirInst *in = tir_inst(p->f, p->users[u]);
        if (in->op == TIR_TRANSPOSE && only_feeds_dots(p, in->res[0], depth + 1))
            continue;
        if (in->op != TIR_DOT)
            return false;
    }
    return true;
}

/* Every dot reads v (through `flips` transposes so far) with K along its
 * dim 1: as A untransposed, or as B transposed. */
static bool feeds_dots_k_major(LayoutPass *p, ValId v, int flips)
{
    for (int u = p->use_start[v]; u < p->use_start[v + 1]; u++) {
        TirInst *in = tir_inst(p->f, p->users[u]);
        bool even = flips % 2 == 0;
        if (in->op == TIR_TRANSPOSE ? !feeds_dots_k_major(p, in->res[0], flips + 1)
                                    : (in->args[0] == v && !even) || (in->args[1] == v && even))
            return false;
    }
    return true;
}

static int load_layout(LayoutPass *p, ValId r)
{
    TType t = vtype(p, r);
    Layout shared;
    if (t.rank == 2 && only_feeds_dots(p, r, 0) &&
        p->target->operand_smem_layout(p->target, t.shape[0], t.shape[1], dtype_size(t.dt),
                                       feeds_dots_k_major(p, r, 0), &shared))
        return intern(p, shared);
    return default_blocked(p, t);
}

/* Where dot in's operands come from (Target.plan_dot): a shared tile (a
 * load staged for dots, possibly transposed) or registers. */
static void dot_sources(LayoutPass *p, const TirInst *in, DotOperandSource src[2])
{
    for (int i = 0; i < 2; i++) {
        int l = p->natural[in->args[i]];
        Layout at = l >= 0 ? layout_at(p, l) : (Layout){ 0 };
        src[i] = dot_operand_source(l >= 0 ? &at : NULL, i);
    }
}

static void analyze_inst(LayoutPass *p, InstId id)
{
    TirFunc *f = p->f;
    TirInst *in = tir_inst(f, id);
    if (in->nres == 1 && rank_of(p, in->res[0]) == 0 && in->op != TIR_FOR && in->op != TIR_IF) {
        p->natural[in->res[0]] = TIR_NONE;
        return;
    }
    ValId r = in->nres ? in->res[0] : TIR_NONE;
    ValId a = in->nargs ? in->args[0] : TIR_NONE;
    switch (in->op) {
    case TIR_LOAD: set_nat(p, r, load_layout(p, r), 4, NULL); break;
    case TIR_DOT: {
        TType t = vtype(p, r), ta = vtype(p, a);
        DotPlan plan;
        DotOperandSource src[2];
        dot_sources(p, in, src);
        p->target->plan_dot(p->target, ta.dt, t.shape[0], t.shape[1], ta.shape[1], f->warps, src, &plan);
        set_nat(p, r, intern(p, plan.acc), 6, NULL);
        break;
    }
    case TIR_REDUCE: {
        if (p->natural[a] == FLEX)
            set_nat(p, a, default_blocked(p, vtype(p, a)), 2, NULL);
        Layout in_l = layout_at(p, p->natural[a]);
        set_nat(p, r, intern(p, layout_slice(&in_l, in->axis)), p->weight[a], NULL);
        break;
    }
    case TIR_SPLAT:
    case TIR_ARANGE: set_nat(p, r, FLEX, 0, NULL); break;
    case TIR_EXPAND_DIMS:
    case TIR_TRANSPOSE:
        /* a scalar made a tile (s[None]) has no layout to follow: like a splat */
        if (p->natural[a] == FLEX || rank_of(p, a) == 0) {
            set_nat(p, r, FLEX, 0, NULL);
        } else {
            Layout l = layout_at(p, p->natural[a]);
            l = in->op == TIR_TRANSPOSE ? layout_transpose(&l) : layout_expand(&l, in->axis);
            set_nat(p, r, intern(p, l), p->weight[a], NULL);
        }
        break;
    case TIR_RESHAPE: {
        /* The operand's registers as they are when only dims of 1 change,
         * else a blocked layout the code generator fills through shared
         * memory. */
        if (p->natural[a] == FLEX)
            set_nat(p, a, default_blocked(p, vtype(p, a)), 1, NULL);
        Layout in_l = layout_at(p, p->natural[a]), out_l;
        TType ta = vtype(p, a), tr = vtype(p, r);
        if (in_l.kind != LAYOUT_SHARED && layout_reshape_units(&in_l, ta.shape, ta.rank, tr.shape, tr.rank, &out_l))
            set_nat(p, r, intern(p, out_l), p->weight[a], NULL);
        else
            set_nat(p, r, default_blocked(p, tr), 1, NULL);
        break;
    }
    case TIR_BROADCAST:
        /* Follows its user; it weighs less than a value of the same origin. */
        if (p->natural[a] == FLEX)
            set_nat(p, r, FLEX, 0, NULL);
        else
            set_nat(p, r, default_blocked(p, vtype(p, r)), p->weight[a] > 1 ? p->weight[a] - 1 : 1, NULL);
        break;
    case TIR_FOR: {
        TirBlock *body = tir_block(f, in->blocks[0]);
        for (int i = 0; i < in->nres; i++) {
            ValId init = in->args[3 + i], arg = body->args.data[1 + i];
            if (rank_of(p, arg) == 0)
                p->natural[arg] = TIR_NONE;
            else
                set_nat(p, arg, p->natural[init], p->weight[init], NULL);
        }
        p->natural[body->args.data[0]] = TIR_NONE;
        for (int round = 0; round < 4; round++) {
            analyze_block(p, in->blocks[0]);
            const TirInst *y = yield_of(p, in->blocks[0]);
            bool changed = false;
            for (int i = 0; i < in->nres; i++) {
                ValId arg = body->args.data[1 + i], yv = y->args[i];
                if (rank_of(p, arg) == 0 || p->natural[yv] == FLEX)
                    continue;
                if (p->natural[arg] == FLEX || p->weight[yv] > p->weight[arg])
                    set_nat(p, arg, p->natural[yv], p->weight[yv], &changed);
            }
            if (!changed)
                break;
        }
        for (int i = 0; i < in->nres; i++) {
            ValId arg = body->args.data[1 + i];
            if (rank_of(p, arg) && p->natural[arg] == FLEX)
                set_nat(p, arg, default_blocked(p, vtype(p, arg)), 1, NULL);
            p->natural[in->res[i]] = p->natural[arg];
            p->weight[in->res[i]] = p->weight[arg];
        }
        analyze_block(p, in->blocks[0]); /* with the final argument layouts */
        break;
    }
    case TIR_IF:
        analyze_block(p, in->blocks[0]);
        analyze_block(p, in->blocks[1]);
        for (int i = 0; i < in->nres; i++) {
            ValId res = in->res[i];
            if (rank_of(p, res) == 0) {
                p->natural[res] = TIR_NONE;
                continue;
            }
            ValId y0 = yield_of(p, in->blocks[0])->args[i], y1 = yield_of(p, in->blocks[1])->args[i];
            ValId pick = p->natural[y1] != FLEX && (p->natural[y0] == FLEX || p->weight[y1] > p->weight[y0]) ? y1 : y0;
            if (p->natural[pick] == FLEX)
                set_nat(p, res, default_blocked(p, vtype(p, res)), 1, NULL);
            else
                set_nat(p, res, p->natural[pick], p->weight[pick], NULL);
        }
        break;
    case TIR_GATHER: {
        /* Its coordinates' layout, else a load's. */
        int l, w;
        pick_operand_layout(p, in, 0, &l, &w);
        if (l == FLEX)
            set_nat(p, r, default_blocked(p, vtype(p, r)), 4, NULL);
        else
            set_nat(p, r, l, w, NULL);
        break;
    }
    case TIR_STORE:
    case TIR_SCATTER:
    case TIR_PRINT:
    case TIR_ASSERT:
    case TIR_YIELD: break;
    default:
        if (is_elementwise(in->op)) {
            int l, w;
            pick_operand_layout(p, in, 0, &l, &w);
            set_nat(p, r, l, w, NULL);
            break;
        }
        tsr_die("layout pass: unexpected op %s", tir_op_name(in->op));
    }
}

static void analyze_block(LayoutPass *p, BlockId b)
{
    TirBlock *bl = tir_block(p->f, b);
    for (int i = 0; i < bl->insts.len; i++)
        analyze_inst(p, bl->insts.data[i]);
}

/* ------------------------------------------------------------- rewriting */

static void emit_inst(LayoutPass *p, InstId id) { vec_push(p->arena, *p->out, id); }

static ValId materialize(LayoutPass *p, ValId v, int layout);

static ValId memo_find(LayoutPass *p, ValId v, int layout)
{
    for (int i = p->memo.len - 1; i >= 0; i--)
        if (p->memo.data[i].from == v && p->memo.data[i].layout == layout)
            return p->memo.data[i].to;
    return TIR_NONE;
}

static void memo_add(LayoutPass *p, ValId v, int layout, ValId to)
{
    Memo m = { v, layout, to };
    vec_push(p->arena, p->memo, m);
}

/* The layout operand `arg` of a lazy instruction needs for its result to
 * have layout `layout`. */
static int operand_layout(LayoutPass *p, const TirInst *in, int arg, int layout)
{
    Layout l = layout_at(p, layout);
    switch (in->op) {
    case TIR_EXPAND_DIMS: return intern(p, layout_squeeze(&l, in->axis));
    case TIR_TRANSPOSE: return intern(p, layout_transpose(&l));
    case TIR_BROADCAST: {
        TType src = vtype(p, in->args[arg]);
        return intern(p, layout_broadcast_src(&l, src.rank, src.shape));
    }
    default: return layout;
    }
}

/* Rebuilds a lazy instruction with result layout `layout`. */
static ValId clone_lazy(LayoutPass *p, InstId id, int layout)
{
    TirInst copy = *tir_inst(p->f, id);
    ValId args[8];
    tsr_assert(copy.nargs <= 8);
    for (int i = 0; i < copy.nargs; i++)
        args[i] = rank_of(p, copy.args[i]) == 0 ? copy.args[i]
                                                 : materialize(p, copy.args[i], operand_layout(p, &copy, i, layout));
    TType t = vtype(p, copy.res[0]);
    InstId nid = tir_make(p->f, p->cur, copy.op, copy.pos, args, copy.nargs, &t, 1);
    TirInst *ni = tir_inst(p->f, nid);
    ni->ival = copy.ival;
    ni->fval = copy.fval;
    ni->axis = copy.axis;
    ni->kind = copy.kind;
    ValId r = ni->res[0];
    tir_val(p->f, r)->layout = layout;
    emit_inst(p, nid);
    return r;
}

static ValId convert_to(LayoutPass *p, ValId v, int layout, SrcPos pos)
{
    TType t = vtype(p, v);
    InstId nid = tir_make(p->f, p->cur, TIR_CONVERT, pos, &v, 1, &t, 1);
    ValId m = tir_inst(p->f, nid)->res[0];
    tir_val(p->f, m)->layout = layout;
    emit_inst(p, nid);
    return m;
}

/* The shared layout of v when v is a shared tile seen through transposes. */
static int shared_origin(LayoutPass *p, ValId v, int depth)
{
    InstId def = tir_val(p->f, v)->def;
    if (def == TIR_NONE || depth > 8)
        return TIR_NONE;
    TirInst *in = tir_inst(p->f, def);
    if (in->op == TIR_TRANSPOSE) {
        int l = shared_origin(p, in->args[0], depth + 1);
        if (l == TIR_NONE)
            return TIR_NONE;
        Layout t = layout_at(p, l);
        return intern(p, layout_transpose(&t));
    }
    if (p->natural[v] >= 0 && layout_at(p, p->natural[v]).kind == LAYOUT_SHARED)
        return p->natural[v];
    return TIR_NONE;
}

static ValId materialize(LayoutPass *p, ValId v, int layout)
{
    if (rank_of(p, v) == 0)
        return v;
    ValId m = memo_find(p, v, layout);
    if (m != TIR_NONE)
        return m;
    InstId def = tir_val(p->f, v)->def;
    int shared = shared_origin(p, v, 0);
    if (def != TIR_NONE && shared != TIR_NONE && shared != layout) {
        /* Transpose in shared memory (free), convert last. */
        ValId s = materialize(p, v, shared);
        m = convert_to(p, s, layout, tir_inst(p->f, def)->pos);
    } else if (def != TIR_NONE && inst_is_lazy(p, tir_inst(p->f, def))) {
        m = clone_lazy(p, def, layout);
    } else {
        tsr_assert(p->natural[v] >= 0);
        if (p->natural[v] == layout)
            return v;
        m = convert_to(p, v, layout, tir_inst(p->f, def != TIR_NONE ? def : 0)->pos);
    }
    memo_add(p, v, layout, m);
    return m;
}

/* The layout a value takes when nothing demands one: its natural layout or
 * the default blocked one. */
static int own_layout(LayoutPass *p, ValId v)
{
    return p->natural[v] >= 0 ? p->natural[v] : default_blocked(p, vtype(p, v));
}

static void rewrite_block(LayoutPass *p, BlockId b, const int *yield_layouts);

/* The layout a stored tile is written from: its own, unless that moves
 * fewer bytes per access along the tensor's contiguous last dim than the
 * blocked layout would (as the mma accumulator does: two elements), and
 * the tile is big enough for a trip through shared memory to pay. */
static int store_layout(LayoutPass *p, const TirInst *st, ValId v)
{
    int own = own_layout(p, v);
    TType t = vtype(p, v);
    const TirParam *par = &p->f->params.data[st->param];
    bool last_is_range = st->lens[par->rank - 1] > 0;
    if (!last_is_range || ttype_numel(t) < 32 * p->f->warps * 4)
        return own;
    int blocked = default_blocked(p, t);
    Layout lo = layout_at(p, own), lb = layout_at(p, blocked);
    return layout_contig_regs(&lb) > layout_contig_regs(&lo) ? blocked : own;
}

static void set_result_layouts(LayoutPass *p, TirInst *in)
{
    for (int i = 0; i < in->nres; i++)
        if (rank_of(p, in->res[i]))
            tir_val(p->f, in->res[i])->layout = own_layout(p, in->res[i]);
}

static void rewrite_dot(LayoutPass *p, InstId id)
{
    TirInst *in = tir_inst(p->f, id);
    TType ta = vtype(p, in->args[0]), tb = vtype(p, in->args[1]);
    int M = ta.shape[0], K = ta.shape[1], N = tb.shape[1];
    DotPlan plan;
    DotOperandSource src[2];
    dot_sources(p, in, src);
    p->target->plan_dot(p->target, ta.dt, M, N, K, p->f->warps, src, &plan);
    if (!plan.tensor_cores) { /* the operands follow the result's final layout */
        plan.acc = layout_at(p, own_layout(p, in->res[0]));
        dot_plan_fma_operands(&plan, K);
    }
    int la = intern(p, plan.a), lb = intern(p, plan.b);
    ValId a = materialize(p, in->args[0], la);
    ValId bv;
    if (plan.stage_b) { /* registers, then the shared tile the target reads */
        SrcPos pos = tir_inst(p->f, id)->pos;
        ValId b0 = tir_inst(p->f, id)->args[1];
        ValId staged = convert_to(p, materialize(p, b0, own_layout(p, b0)), intern(p, plan.b_smem), pos);
        bv = convert_to(p, staged, lb, pos);
    } else {
        bv = materialize(p, in->args[1], lb);
    }
    ValId c = in->nargs == 3 ? materialize(p, in->args[2], own_layout(p, in->res[0])) : TIR_NONE;
    in = tir_inst(p->f, id);
    in->args[0] = a;
    in->args[1] = bv;
    if (c != TIR_NONE)
        in->args[2] = c;
}

/* Every tile operand of instruction id in layout l. */
static void materialize_args(LayoutPass *p, InstId id, int l)
{
    for (int i = 0; i < tir_inst(p->f, id)->nargs; i++) {
        ValId v = tir_inst(p->f, id)->args[i];
        if (rank_of(p, v)) {
            ValId m = materialize(p, v, l);
            tir_inst(p->f, id)->args[i] = m;
        }
    }
}

static void rewrite_inst(LayoutPass *p, InstId id)
{
    TirInst *in = tir_inst(p->f, id);
    if (inst_is_lazy(p, in))
        return; /* rebuilt at its uses */
    switch (in->op) {
    case TIR_DOT: rewrite_dot(p, id); break;
    case TIR_RESHAPE:
    case TIR_REDUCE: {
        ValId v = in->args[0];
        if (rank_of(p, v)) {
            ValId m = materialize(p, v, own_layout(p, v));
            tir_inst(p->f, id)->args[0] = m;
        }
        break;
    }
    case TIR_STORE: {
        ValId v = in->args[in->nargs - 1];
        if (rank_of(p, v)) {
            ValId m = materialize(p, v, store_layout(p, in, v));
            tir_inst(p->f, id)->args[in->nargs - 1] = m;
        }
        break;
    }
    case TIR_FOR: {
        TirBlock *body = tir_block(p->f, in->blocks[0]);
        int n = in->nres;
        int *layouts = arena_alloc(p->arena, sizeof(int) * (size_t)(n + 1));
        layouts[n] = TIR_NONE; /* an early-exit loop's condition: a scalar */
        for (int i = 0; i < n; i++) {
            ValId arg = body->args.data[1 + i];
            layouts[i] = rank_of(p, arg) ? own_layout(p, arg) : TIR_NONE;
            if (layouts[i] != TIR_NONE) {
                ValId m = materialize(p, tir_inst(p->f, id)->args[3 + i], layouts[i]);
                tir_inst(p->f, id)->args[3 + i] = m;
                tir_val(p->f, arg)->layout = layouts[i];
            }
        }
        rewrite_block(p, tir_inst(p->f, id)->blocks[0], layouts);
        break;
    }
    case TIR_IF: {
        int n = in->nres;
        int *layouts = arena_alloc(p->arena, sizeof(int) * (size_t)(n + 1));
        for (int i = 0; i < n; i++)
            layouts[i] = rank_of(p, in->res[i]) ? own_layout(p, in->res[i]) : TIR_NONE;
        rewrite_block(p, in->blocks[0], layouts);
        rewrite_block(p, tir_inst(p->f, id)->blocks[1], layouts);
        break;
    }
    case TIR_LOAD: break;
    case TIR_PRINT:
    case TIR_ASSERT:
        /* every tile operand in the layout of the first one */
        for (int i = 0; i < in->nargs; i++)
            if (rank_of(p, in->args[i])) {
                materialize_args(p, id, own_layout(p, in->args[i]));
                break;
            }
        break;
    case TIR_GATHER:
    case TIR_SCATTER: {
        /* Coordinates, mask and value in the layout of the elements. */
        ValId elems = in->op == TIR_GATHER ? in->res[0] : in->args[in->nargs - 1];
        if (rank_of(p, elems))
            materialize_args(p, id, own_layout(p, elems));
        break;
    }
    default:
        if (is_elementwise(in->op))
            materialize_args(p, id, own_layout(p, in->res[0]));
        break;
    }
    set_result_layouts(p, tir_inst(p->f, id));
    emit_inst(p, id);
}

static void rewrite_block(LayoutPass *p, BlockId b, const int *yield_layouts)
{
    InstList list = { 0 };
    InstList *saved_out = p->out;
    BlockId saved_cur = p->cur;
    int memo_mark = p->memo.len;
    p->out = &list;
    p->cur = b;
    TirBlock *bl = tir_block(p->f, b);
    int n = bl->insts.len;
    InstId *orig = arena_alloc(p->arena, sizeof(InstId) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        orig[i] = bl->insts.data[i];
    for (int i = 0; i < n; i++) {
        TirInst *in = tir_inst(p->f, orig[i]);
        if (in->op == TIR_YIELD) {
            for (int k = 0; k < in->nargs; k++)
                if (yield_layouts && yield_layouts[k] != TIR_NONE) {
                    ValId m = materialize(p, tir_inst(p->f, orig[i])->args[k], yield_layouts[k]);
                    tir_inst(p->f, orig[i])->args[k] = m;
                }
            emit_inst(p, orig[i]);
            continue;
        }
        rewrite_inst(p, orig[i]);
    }
    bl = tir_block(p->f, b);
    bl->insts.len = 0;
    for (int i = 0; i < list.len; i++)
        vec_push(&p->f->arena, bl->insts, list.data[i]);
    p->out = saved_out;
    p->cur = saved_cur;
    p->memo.len = memo_mark;
}

/* Fills the user lists of every value (instructions in blocks only). */
static void build_users(LayoutPass *p)
{
    TirFunc *f = p->f;
    int nvals = f->vals.len;
    p->use_start = arena_alloc(p->arena, sizeof(int) * (size_t)(nvals + 2));
    int total = 0;
    for (int pass = 0; pass < 2; pass++) {
        int *fill = pass ? arena_alloc(p->arena, sizeof(int) * (size_t)(nvals + 1)) : NULL;
        if (pass) {
            p->users = arena_alloc(p->arena, sizeof(int) * (size_t)(total + 1));
            for (int v = 0; v < nvals; v++)
                fill[v] = p->use_start[v];
        }
        for (BlockId b = 0; b < f->blocks.len; b++) {
            TirBlock *bl = tir_block(f, b);
            for (int i = 0; i < bl->insts.len; i++) {
                TirInst *in = tir_inst(f, bl->insts.data[i]);
                for (int a = 0; a < in->nargs; a++) {
                    if (pass)
                        p->users[fill[in->args[a]]++] = bl->insts.data[i];
                    else
                        p->use_start[in->args[a] + 1]++;
                }
            }
        }
        if (!pass) {
            for (int v = 0; v < nvals; v++)
                p->use_start[v + 1] += p->use_start[v];
            total = p->use_start[nvals];
        }
    }
}

bool tir_pass_layout(TirFunc *f, const Target *t)
{
    Arena *arena = oom_arena_open();
    LayoutPass p = { 0 };
    p.f = f;
    p.target = t;
    p.arena = arena;
    build_users(&p);
    int nvals = f->vals.len;
    p.natural = arena_alloc(arena, sizeof(int) * (size_t)nvals);
    p.weight = arena_alloc(arena, sizeof(int) * (size_t)nvals);
    for (int i = 0; i < nvals; i++)
        p.natural[i] = TIR_NONE;
    analyze_block(&p, f->body);
    /* Clones made while rewriting are values beyond nvals; the tables are
     * only ever read for the original values. */
    rewrite_block(&p, f->body, NULL);
    oom_arena_close(arena);
    return true;
}
