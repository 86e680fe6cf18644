/* The TIR verifier: checks, between passes, that every value is defined
 * before use in a dominating block and that each instruction's operands and
 * result agree with the rules in tir.h. A failure is a compiler bug. */
#include "tir.h"
#include "oom.h"

#include <stdlib.h>

typedef struct {
    TirFunc *f;
    StrBuf *why;
    unsigned char *avail; /* per value: visible at this point */
    ValId *stack;         /* values made visible, for leaving scopes */
    int sp;
    bool ok;
} Verifier;

static bool fail(Verifier *v, InstId id, const char *msg)
{
    if (v->ok) {
        TirInst *in = tir_inst(v->f, id);
        sb_printf(v->why, "TIR verifier: %s: instruction %d (%s) in kernel %s", msg, id,
                  tir_op_name(in->op), v->f->name);
    }
    v->ok = false;
    return false;
}

static void make_avail(Verifier *v, ValId x)
{
    v->avail[x] = 1;
    v->stack[v->sp++] = x;
}

static void leave_scope(Verifier *v, int mark)
{
    while (v->sp > mark)
        v->avail[v->stack[--v->sp]] = 0;
}

static bool same_shape(TType a, TType b)
{
    if (a.rank != b.rank)
        return false;
    for (int i = 0; i < a.rank; i++)
        if (a.shape[i] != b.shape[i])
            return false;
    return true;
}

static bool check_mem(Verifier *v, InstId id, const TirInst *in)
{
    TirFunc *f = v->f;
    if (in->param < 0 || in->param >= f->params.len || !f->params.data[in->param].is_tensor)
        return fail(v, id, "memory access to something that is not a tensor");
    const TirParam *p = &f->params.data[in->param];
    int nidx = in->op == TIR_LOAD ? in->nargs : in->nargs - 1;
    if (nidx != p->rank)
        return fail(v, id, "index count differs from the tensor's rank");
    TType tile = { 0 };
    tile.dt = p->dt;
    for (int d = 0; d < p->rank; d++) {
        TType it = tir_type(f, in->args[d]);
        if (it.rank != 0 || it.dt != DT_I32)
            return fail(v, id, "tensor index is not an i32 scalar");
        if (in->lens[d] < 0)
            return fail(v, id, "negative slice length");
        if (in->lens[d])
            tile.shape[tile.rank++] = in->lens[d];
    }
    if (in->op == TIR_ASYNC_COPY) {
        if (in->buf < 0 || in->buf >= f->buffers.len || !ttype_eq(f->buffers.data[in->buf].type, tile))
            return fail(v, id, "async copy into a buffer of another type");
        TType st = tir_type(f, in->args[in->nargs - 1]);
        if (st.rank || st.dt != DT_I32)
            return fail(v, id, "stage is not an i32 scalar");
    } else if (in->op == TIR_LOAD) {
        if (!ttype_eq(tir_type(f, in->res[0]), tile))
            return fail(v, id, "load result type differs from the slice");
    } else if (!ttype_eq(tir_type(f, in->args[in->nargs - 1]), tile)) {
        return fail(v, id, "stored value's type differs from the slice");
    }
    if (p->is_out == false && in->op == TIR_STORE)
        return fail(v, id, "store to an input tensor");
    return true;
}

/* GATHER and SCATTER: one coordinate per dim (i32 scalars or tiles of the
 * element shape), SCATTER's mask and value. */
static bool check_indexed(Verifier *v, InstId id, const TirInst *in)
{
    TirFunc *f = v->f;
    if (in->param < 0 || in->param >= f->params.len || !f->params.data[in->param].is_tensor)
        return fail(v, id, "memory access to something that is not a tensor");
    const TirParam *p = &f->params.data[in->param];
    bool scatter = in->op == TIR_SCATTER;
    if (in->nargs != p->rank + (scatter ? 2 : 0))
        return fail(v, id, "coordinate count differs from the tensor's rank");
    TType elems = scatter ? tir_type(f, in->args[in->nargs - 1]) : tir_type(f, in->res[0]);
    if (elems.dt != p->dt)
        return fail(v, id, "element dtype differs from the tensor's");
    for (int a = 0; a < in->nargs - (scatter ? 1 : 0); a++) {
        TType t = tir_type(f, in->args[a]);
        DType want = scatter && a == p->rank ? DT_BOOL : DT_I32;
        if (t.dt != want || (t.rank && !same_shape(t, elems)))
            return fail(v, id, "coordinate or mask is not a scalar or a tile of the element shape");
    }
    if (scatter && (!p->is_out || in->kind < SCATTER_STORE || in->kind > SCATTER_MIN))
        return fail(v, id, "bad scatter");
    return true;
}

/* The operand count of ops that have a fixed one, else -1. */
static int fixed_arity(TirOp op)
{
    if (tir_op_is_binary(op))
        return 2;
    if (tir_op_is_unary(op) || op == TIR_SPLAT || op == TIR_BROADCAST || op == TIR_EXPAND_DIMS || op == TIR_RESHAPE ||
        op == TIR_TRANSPOSE || op == TIR_ARANGE || op == TIR_REDUCE || op == TIR_CONVERT)
        return 1;
    if (op == TIR_SELECT)
        return 3;
    if (op == TIR_CONST || op == TIR_PARAM || op == TIR_DIM || op == TIR_PROGRAM_ID || op == TIR_NUM_PROGRAMS)
        return 0;
    return -1;
}

/* The dtypes an elementwise op accepts (tir_eval.c computes these only). */
static bool elementwise_dtype_ok(TirOp op, DType dt)
{
    switch (op) {
    case TIR_REM:
    case TIR_SHL:
    case TIR_SHR: return dtype_is_int(dt);
    case TIR_AND:
    case TIR_OR:
    case TIR_XOR:
    case TIR_NOT: return dt == DT_BOOL || dtype_is_int(dt);
    case TIR_EQ:
    case TIR_NE: return !dtype_is_fp8(dt);
    case TIR_CAST: return true;
    default: /* fp8 has no arithmetic (dsl/README.md §4.1) */
        if (tir_op_is_math(op))
            return dtype_is_float(dt) && !dtype_is_fp8(dt);
        return dt != DT_BOOL && !dtype_is_fp8(dt); /* arithmetic, ordering, neg, abs */
    }
}

static bool check_types(Verifier *v, InstId id, const TirInst *in)
{
    TirFunc *f = v->f;
    int arity = fixed_arity(in->op);
    if (arity >= 0 && in->nargs != arity)
        return fail(v, id, "wrong number of operands");
    TType r = in->nres ? tir_type(f, in->res[0]) : ttype_scalar(DT_I32);
    TType a = in->nargs ? tir_type(f, in->args[0]) : r;
    int want_args = -1, want_res = 1;
    switch (in->op) {
    case TIR_CONST:
    case TIR_PARAM:
    case TIR_DIM:
    case TIR_PROGRAM_ID:
    case TIR_NUM_PROGRAMS:
        want_args = 0;
        if (r.rank != 0)
            return fail(v, id, "leaf value must be a scalar");
        if ((in->op == TIR_PROGRAM_ID || in->op == TIR_NUM_PROGRAMS) && (in->axis < 0 || in->axis > 2))
            return fail(v, id, "axis out of range");
        if (in->op == TIR_DIM && (in->sym < 0 || in->sym >= f->syms.len))
            return fail(v, id, "unknown symbol");
        if (in->op == TIR_PARAM &&
            (in->param < 0 || in->param >= f->params.len || f->params.data[in->param].is_tensor))
            return fail(v, id, "param is not a scalar parameter");
        break;
    case TIR_SPLAT:
        want_args = 1;
        if (a.rank != 0 || a.dt != r.dt)
            return fail(v, id, "splat of a non-scalar or to another dtype");
        break;
    case TIR_BROADCAST:
        want_args = 1;
        if (a.rank != r.rank || a.dt != r.dt)
            return fail(v, id, "broadcast changes rank or dtype");
        for (int i = 0; i < a.rank; i++)
            if (a.shape[i] != r.shape[i] && a.shape[i] != 1)
                return fail(v, id, "broadcast of a dim that is not 1");
        break;
    case TIR_EXPAND_DIMS:
        want_args = 1;
        if (r.rank != a.rank + 1 || in->axis < 0 || in->axis > a.rank || r.shape[in->axis] != 1)
            return fail(v, id, "bad expand_dims");
        break;
    case TIR_TRANSPOSE:
        want_args = 1;
        if (a.rank != 2 || r.rank != 2 || r.shape[0] != a.shape[1] || r.shape[1] != a.shape[0] || r.dt != a.dt)
            return fail(v, id, "bad transpose");
        break;
    case TIR_ARANGE:
        want_args = 1;
        if (a.rank != 0 || a.dt != DT_I32 || r.rank != 1 || r.dt != DT_I32)
            return fail(v, id, "bad arange");
        break;
    case TIR_SELECT: {
        want_args = 3;
        TType b = tir_type(f, in->args[1]), c = tir_type(f, in->args[2]);
        if (a.dt != DT_BOOL || !same_shape(a, r) || !ttype_eq(b, r) || !ttype_eq(c, r))
            return fail(v, id, "select operands disagree");
        break;
    }
    case TIR_DOT: {
        want_args = in->nargs == 3 ? 3 : 2;
        if (in->nargs == 3 && !ttype_eq(tir_type(f, in->args[2]), r))
            return fail(v, id, "dot accumulator differs from the result");
        TType b = tir_type(f, in->args[1]);
        bool fp8 = dtype_is_fp8(a.dt) && dtype_is_fp8(b.dt);
        if (a.rank != 2 || b.rank != 2 || a.shape[1] != b.shape[0] ||
            (!fp8 && (a.dt != b.dt || (a.dt != DT_F16 && a.dt != DT_BF16 && a.dt != DT_F32))) || r.dt != DT_F32 ||
            r.rank != 2 ||
            r.shape[0] != a.shape[0] || r.shape[1] != b.shape[1])
            return fail(v, id, "bad dot operands");
        break;
    }
    case TIR_REDUCE:
        want_args = 1;
        if (in->axis < 0 || in->axis >= a.rank || r.rank != a.rank - 1 || r.dt != a.dt || a.dt == DT_BOOL ||
            in->kind < REDUCE_SUM || in->kind > REDUCE_MIN)
            return fail(v, id, "bad reduce");
        for (int i = 0, j = 0; i < a.rank; i++)
            if (i != in->axis && a.shape[i] != r.shape[j++])
                return fail(v, id, "reduce result shape");
        break;
    case TIR_LOAD:
    case TIR_STORE:
        want_res = in->op == TIR_LOAD;
        if (!check_mem(v, id, in))
            return false;
        break;
    case TIR_RESHAPE:
        if (a.rank == 0 || r.rank == 0 || a.dt != r.dt || ttype_numel(a) != ttype_numel(r))
            return fail(v, id, "reshape changes the dtype or the element count");
        break;
    case TIR_GATHER:
    case TIR_SCATTER:
        want_res = in->op == TIR_GATHER;
        if (!check_indexed(v, id, in))
            return false;
        break;
    case TIR_PRINT:
    case TIR_ASSERT: {
        want_res = 0;
        int texts = in->op == TIR_ASSERT ? 2 : 1;
        if (in->ival < 0 || in->ival + texts > f->texts.len)
            return fail(v, id, "text index out of range");
        if (in->op == TIR_ASSERT && (in->nargs != 1 || a.dt != DT_BOOL))
            return fail(v, id, "assert of something that is not bool");
        for (int i = 1; i < in->nargs; i++) {
            TType t = tir_type(f, in->args[i]);
            if (t.rank && a.rank && !same_shape(t, a))
                return fail(v, id, "printed tiles of different shapes");
            if (t.rank)
                a = t;
        }
        break;
    }
    case TIR_ASYNC_COPY:
        want_res = 0;
        if (!check_mem(v, id, in))
            return false;
        break;
    case TIR_ASYNC_COMMIT:
    case TIR_ASYNC_RELEASE:
    case TIR_ASYNC_ACQUIRE:
    case TIR_ASYNC_WAIT:
        want_args = in->op == TIR_ASYNC_WAIT && in->nargs == 0 ? 0 : 1;
        want_res = 0;
        if (want_args && (a.rank || a.dt != DT_I32))
            return fail(v, id, "stage is not an i32 scalar");
        if (in->op == TIR_ASYNC_WAIT && (in->ival < 0 || (want_args == 0 && in->ival != 0)))
            return fail(v, id, "async_wait's count of later stages");
        break;
    case TIR_SMEM_TILE:
        want_args = 1;
        if (in->buf < 0 || in->buf >= f->buffers.len || !ttype_eq(f->buffers.data[in->buf].type, r) || a.rank ||
            a.dt != DT_I32)
            return fail(v, id, "smem_tile of a buffer of another type");
        break;
    case TIR_CONVERT:
        want_args = 1;
        if (!ttype_eq(a, r))
            return fail(v, id, "convert changes the type");
        break;
    case TIR_FOR:
    case TIR_IF:
    case TIR_YIELD: want_res = -1; break;
    default:
        if (tir_op_is_binary(in->op)) {
            want_args = 2;
            TType b = tir_type(f, in->args[1]);
            if (!ttype_eq(a, b))
                return fail(v, id, "binary operands differ in type");
            if (!elementwise_dtype_ok(in->op, a.dt))
                return fail(v, id, "operation not defined on this dtype");
            if (!same_shape(a, r) || r.dt != (tir_op_is_compare(in->op) ? DT_BOOL : a.dt))
                return fail(v, id, "binary result type");
        } else if (tir_op_is_unary(in->op)) {
            want_args = 1;
            if (!same_shape(a, r) || (in->op != TIR_CAST && a.dt != r.dt))
                return fail(v, id, "unary result type");
            if (!elementwise_dtype_ok(in->op, a.dt))
                return fail(v, id, "operation not defined on this dtype");
        } else {
            return fail(v, id, "unknown op");
        }
        break;
    }
    if (want_args >= 0 && in->nargs != want_args)
        return fail(v, id, "wrong number of operands");
    if (want_res >= 0 && in->nres != want_res)
        return fail(v, id, "wrong number of results");
    return true;
}

static bool verify_block(Verifier *v, BlockId b, InstId owner);

static bool check_yield_of(Verifier *v, InstId owner, BlockId b, const ValId *want, int nwant,
                           const ValId *want_vals)
{
    TirFunc *f = v->f;
    TirBlock *bl = tir_block(f, b);
    if (bl->insts.len == 0)
        return fail(v, owner, "nested block does not end in yield");
    TirInst *y = tir_inst(f, bl->insts.data[bl->insts.len - 1]);
    if (y->op != TIR_YIELD || y->nargs != nwant)
        return fail(v, owner, "nested block's yield does not match");
    for (int i = 0; i < nwant; i++)
        if (!ttype_eq(tir_type(f, y->args[i]), tir_type(f, want_vals ? want_vals[i] : want[i])))
            return fail(v, owner, "yielded type differs");
    return true;
}

static bool verify_inst(Verifier *v, InstId id, BlockId b, InstId owner, bool last)
{
    TirFunc *f = v->f;
    TirInst *in = tir_inst(f, id);
    for (int i = 0; i < in->nargs; i++) {
        if (in->args[i] < 0 || in->args[i] >= f->vals.len)
            return fail(v, id, "operand is not a value");
        if (!v->avail[in->args[i]])
            return fail(v, id, "operand used where it is not defined");
    }
    for (int i = 0; i < in->nres; i++)
        if (in->res[i] < 0 || in->res[i] >= f->vals.len)
            return fail(v, id, "result is not a value");
    if (in->op == TIR_FOR || in->op == TIR_IF)
        for (int k = 0; k < (in->op == TIR_IF ? 2 : 1); k++)
            if (in->blocks[k] < 0 || in->blocks[k] >= f->blocks.len || in->blocks[k] == f->body ||
                in->blocks[k] == f->grid_block)
                return fail(v, id, "nested block is not a block of its own");
    if (in->op == TIR_YIELD) {
        if (!last || owner == TIR_NONE)
            return fail(v, id, "yield must end a nested block");
    } else if (!check_types(v, id, in)) {
        return false;
    }
    if (in->op == TIR_FOR) {
        if (in->nargs < 3 || in->nres != in->nargs - 3)
            return fail(v, id, "for operands");
        for (int i = 0; i < 3; i++) {
            TType t = tir_type(f, in->args[i]);
            if (t.rank != 0 || t.dt != DT_I32)
                return fail(v, id, "loop bound is not an i32 scalar");
        }
        TirBlock *body = tir_block(f, in->blocks[0]);
        if (body->args.len != in->nres + 1 || body->parent != id)
            return fail(v, id, "loop body arguments");
        for (int i = 0; i < in->nres; i++)
            if (!ttype_eq(tir_type(f, in->args[3 + i]), tir_type(f, in->res[i])) ||
                !ttype_eq(tir_type(f, body->args.data[1 + i]), tir_type(f, in->res[i])))
                return fail(v, id, "loop-carried types differ");
        if (!verify_block(v, in->blocks[0], id))
            return false;
        if (in->kind == TIR_FOR_EXIT) {
            /* the yield's last operand says whether to go on */
            TirBlock *bl = tir_block(f, in->blocks[0]);
            TirInst *y = bl->insts.len ? tir_inst(f, bl->insts.data[bl->insts.len - 1]) : NULL;
            if (!y || y->op != TIR_YIELD || y->nargs != in->nres + 1)
                return fail(v, id, "early-exit loop body does not yield its condition");
            TType k = tir_type(f, y->args[in->nres]);
            if (k.rank != 0 || k.dt != DT_BOOL)
                return fail(v, id, "early-exit loop condition is not a bool scalar");
            if (in->stages)
                return fail(v, id, "an early-exit loop cannot be pipelined");
            ValId *want = arena_alloc(&f->arena, sizeof(ValId) * (size_t)(in->nres + 1));
            for (int i = 0; i < in->nres; i++)
                want[i] = in->res[i];
            want[in->nres] = y->args[in->nres];
            if (!check_yield_of(v, id, in->blocks[0], want, in->nres + 1, NULL))
                return false;
        } else if (!check_yield_of(v, id, in->blocks[0], in->res, in->nres, NULL)) {
            return false;
        }
    } else if (in->op == TIR_IF) {
        if (in->nargs != 1)
            return fail(v, id, "if condition is not a bool scalar");
        TType c = tir_type(f, in->args[0]);
        if (c.rank != 0 || c.dt != DT_BOOL)
            return fail(v, id, "if condition is not a bool scalar");
        if (in->blocks[0] == in->blocks[1])
            return fail(v, id, "if block used for both branches");
        for (int k = 0; k < 2; k++) {
            if (tir_block(f, in->blocks[k])->parent != id || tir_block(f, in->blocks[k])->args.len)
                return fail(v, id, "if block");
            if (!verify_block(v, in->blocks[k], id) ||
                !check_yield_of(v, id, in->blocks[k], in->res, in->nres, NULL))
                return false;
        }
    }
    (void)b;
    for (int i = 0; i < in->nres; i++) {
        if (tir_val(f, in->res[i])->def != id)
            return fail(v, id, "result's definition link is wrong");
        make_avail(v, in->res[i]);
    }
    return true;
}

static bool verify_block(Verifier *v, BlockId b, InstId owner)
{
    int mark = v->sp;
    TirBlock *bl = tir_block(v->f, b);
    for (int i = 0; i < bl->args.len; i++) {
        ValId a = bl->args.data[i];
        if (a < 0 || a >= v->f->vals.len || tir_val(v->f, a)->def != TIR_NONE || tir_val(v->f, a)->block != b ||
            v->avail[a]) {
            if (v->ok)
                sb_printf(v->why, "TIR verifier: argument %d of block %d is not its own in kernel %s", i, b,
                          v->f->name);
            v->ok = false;
            leave_scope(v, mark);
            return false;
        }
        make_avail(v, a);
    }
    for (int i = 0; i < bl->insts.len && v->ok; i++) {
        InstId id = bl->insts.data[i];
        if (id < 0 || id >= v->f->insts.len) {
            sb_printf(v->why, "TIR verifier: block %d lists %d, which is not an instruction, in kernel %s", b, id,
                      v->f->name);
            v->ok = false;
            break;
        }
        verify_inst(v, id, b, owner, i == bl->insts.len - 1);
    }
    leave_scope(v, mark);
    return v->ok;
}

bool tir_verify(TirFunc *f, StrBuf *why)
{
    Verifier v = { 0 };
    v.f = f;
    v.why = why;
    v.ok = true;
    Arena *scratch = oom_arena_open();
    v.avail = arena_alloc(scratch, (size_t)f->vals.len + 1);
    v.stack = arena_alloc(scratch, ((size_t)f->vals.len + 1) * sizeof(ValId));
    /* The grid block is host code: it may use only leaves and scalar arithmetic. */
    int mark = v.sp;
    TirBlock *g = tir_block(f, f->grid_block);
    for (int i = 0; i < g->insts.len && v.ok; i++) {
        InstId id = g->insts.data[i];
        if (id < 0 || id >= f->insts.len) {
            sb_printf(why, "TIR verifier: the grid block lists %d, which is not an instruction, in kernel %s", id,
                      f->name);
            v.ok = false;
            break;
        }
        TirInst *in = tir_inst(f, id);
        if (in->op == TIR_PROGRAM_ID || in->op == TIR_NUM_PROGRAMS || in->op == TIR_LOAD ||
            in->op == TIR_STORE || in->op == TIR_GATHER || in->op == TIR_SCATTER || in->op == TIR_FOR || in->op == TIR_IF || in->op == TIR_YIELD ||
            (in->nres && in->res[0] >= 0 && in->res[0] < f->vals.len && tir_type(f, in->res[0]).rank != 0)) {
            fail(&v, id, "grid code must be scalar host arithmetic");
            break;
        }
        verify_inst(&v, id, f->grid_block, TIR_NONE, false);
    }
    for (int i = 0; i < 3 && v.ok; i++) {
        ValId gv = f->grid[i];
        if (gv < 0 || gv >= f->vals.len || !v.avail[gv] || tir_type(f, gv).rank != 0 ||
            tir_type(f, gv).dt != DT_I32) {
            sb_printf(why, "TIR verifier: grid size %d is not an i32 scalar of the grid block in kernel %s", i, f->name);
            v.ok = false;
        }
    }
    leave_scope(&v, mark);
    if (v.ok)
        verify_block(&v, f->body, TIR_NONE);
    oom_arena_close(scratch);
    return v.ok;
}
