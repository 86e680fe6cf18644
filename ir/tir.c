/* TIR construction and the properties of its types and operations. */
#include "tir.h"
#include "oom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

TType ttype_scalar(DType dt)
{
    TType t = { 0 };
    t.dt = dt;
    return t;
}

TType ttype_tile(DType dt, int rank, const int *shape)
{
    TType t = { 0 };
    t.dt = dt;
    t.rank = rank;
    for (int i = 0; i < rank; i++)
        t.shape[i] = shape[i];
    return t;
}

bool ttype_eq(TType a, TType b)
{
    if (a.dt != b.dt || a.rank != b.rank)
        return false;
    for (int i = 0; i < a.rank; i++)
        if (a.shape[i] != b.shape[i])
            return false;
    return true;
}

int64_t ttype_numel(TType t)
{
    int64_t n = 1;
    for (int i = 0; i < t.rank; i++)
        n *= t.shape[i];
    return n;
}

void ttype_print(StrBuf *out, TType t)
{
    sb_puts(out, dtype_name(t.dt));
    if (t.rank == 0)
        return;
    sb_putc(out, '[');
    for (int i = 0; i < t.rank; i++)
        sb_printf(out, i ? ", %d" : "%d", t.shape[i]);
    sb_putc(out, ']');
}

/* A cleanup for oom_defer: a function being built when memory runs out. */
static void free_func(void *f) { tir_func_free(f); }

TirFunc *tir_func_new(const char *name)
{
    TirFunc *f = tsr_xcalloc(1, sizeof *f);
    arena_init(&f->arena);
    int slot = oom_defer(free_func, f);
    f->name = arena_strdup(&f->arena, name);
    f->grid_block = tir_block_new(f, TIR_NONE);
    f->body = tir_block_new(f, TIR_NONE);
    f->grid[0] = f->grid[1] = f->grid[2] = TIR_NONE;
    f->warps = 4;
    f->tile_outer = TIR_NONE;
    oom_undefer(slot);
    return f;
}

#define CLONE_VEC(dst, src)                                                                            \
    do {                                                                                               \
        (dst).len = (dst).cap = (src).len;                                                             \
        (dst).data = arena_alloc(&c->arena, sizeof(*(src).data) * (size_t)((src).len + 1));           \
        if ((src).len)                                                                                 \
            memcpy((dst).data, (src).data, sizeof(*(src).data) * (size_t)(src).len);                   \
    } while (0)

static ValId *clone_ids(Arena *a, const ValId *ids, int n)
{
    ValId *r = arena_alloc(a, sizeof(ValId) * (size_t)(n ? n : 1));
    if (n)
        memcpy(r, ids, sizeof(ValId) * (size_t)n);
    return r;
}

TirFunc *tir_func_clone(const TirFunc *f)
{
    TirFunc *c = tsr_xcalloc(1, sizeof *c);
    arena_init(&c->arena);
    int slot = oom_defer(free_func, c);
    c->name = arena_strdup(&c->arena, f->name);
    c->pos = f->pos;
    CLONE_VEC(c->params, f->params);
    for (int i = 0; i < c->params.len; i++)
        c->params.data[i].name = arena_strdup(&c->arena, f->params.data[i].name);
    CLONE_VEC(c->syms, f->syms);
    for (int i = 0; i < c->syms.len; i++)
        c->syms.data[i].name = arena_strdup(&c->arena, f->syms.data[i].name);
    CLONE_VEC(c->defines, f->defines);
    for (int i = 0; i < c->defines.len; i++) {
        c->defines.data[i].name = arena_strdup(&c->arena, f->defines.data[i].name);
        c->defines.data[i].value = arena_strdup(&c->arena, f->defines.data[i].value);
    }
    CLONE_VEC(c->vals, f->vals);
    CLONE_VEC(c->insts, f->insts);
    for (int i = 0; i < c->insts.len; i++) {
        c->insts.data[i].args = clone_ids(&c->arena, f->insts.data[i].args, f->insts.data[i].nargs);
        c->insts.data[i].res = clone_ids(&c->arena, f->insts.data[i].res, f->insts.data[i].nres);
    }
    CLONE_VEC(c->blocks, f->blocks);
    for (int i = 0; i < c->blocks.len; i++) {
        CLONE_VEC(c->blocks.data[i].insts, f->blocks.data[i].insts);
        CLONE_VEC(c->blocks.data[i].args, f->blocks.data[i].args);
    }
    CLONE_VEC(c->layouts, f->layouts);
    CLONE_VEC(c->buffers, f->buffers);
    CLONE_VEC(c->tma, f->tma);
    CLONE_VEC(c->texts, f->texts);
    for (int i = 0; i < c->texts.len; i++)
        c->texts.data[i] = arena_strdup(&c->arena, f->texts.data[i]);
    c->laid_out = f->laid_out;
    c->smem_bytes = f->smem_bytes;
    c->grid_block = f->grid_block;
    memcpy(c->grid, f->grid, sizeof c->grid);
    c->body = f->body;
    c->warps = f->warps;
    c->max_regs = f->max_regs;
    c->min_blocks = f->min_blocks;
    c->no_overlap = f->no_overlap;
    c->tile_outer = f->tile_outer;
    c->tile_reverse = f->tile_reverse;
    c->regs_pos = f->regs_pos;
    oom_undefer(slot);
    return c;
}

void tir_func_free(TirFunc *f)
{
    if (!f)
        return;
    arena_free(&f->arena);
    free(f);
}

void tir_module_free(TirModule *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->funcs.len; i++)
        tir_func_free(m->funcs.data[i]);
    arena_free(&m->arena);
    free(m);
}

BlockId tir_block_new(TirFunc *f, InstId parent)
{
    TirBlock b = { 0 };
    b.parent = parent;
    vec_push(&f->arena, f->blocks, b);
    return f->blocks.len - 1;
}

static ValId new_val(TirFunc *f, TType t, InstId def, BlockId block, int index)
{
    TirVal v = { t, def, block, index, TIR_NONE };
    vec_push(&f->arena, f->vals, v);
    return f->vals.len - 1;
}

ValId tir_result_new(TirFunc *f, TType t, InstId def, BlockId b, int index) { return new_val(f, t, def, b, index); }

ValId tir_block_arg(TirFunc *f, BlockId b, TType t)
{
    ValId v = new_val(f, t, TIR_NONE, b, tir_block(f, b)->args.len);
    vec_push(&f->arena, tir_block(f, b)->args, v);
    return v;
}

InstId tir_make(TirFunc *f, BlockId b, TirOp op, SrcPos pos, const ValId *args, int nargs,
                const TType *res_types, int nres)
{
    TirInst in = { 0 };
    in.op = op;
    in.pos = pos;
    in.blocks[0] = in.blocks[1] = TIR_NONE;
    in.nargs = nargs;
    in.args = arena_alloc(&f->arena, sizeof(ValId) * (size_t)(nargs ? nargs : 1));
    for (int i = 0; i < nargs; i++)
        in.args[i] = args[i];
    in.nres = nres;
    in.res = arena_alloc(&f->arena, sizeof(ValId) * (size_t)(nres ? nres : 1));
    vec_push(&f->arena, f->insts, in);
    InstId id = f->insts.len - 1;
    for (int i = 0; i < nres; i++)
        f->insts.data[id].res[i] = new_val(f, res_types[i], id, b, i);
    return id;
}

InstId tir_append(TirFunc *f, BlockId b, TirOp op, SrcPos pos, const ValId *args, int nargs,
                  const TType *res_types, int nres)
{
    InstId id = tir_make(f, b, op, pos, args, nargs, res_types, nres);
    vec_push(&f->arena, tir_block(f, b)->insts, id);
    return id;
}

const Layout *tir_layout(const TirFunc *f, ValId v)
{
    int l = f->vals.data[v].layout;
    return l == TIR_NONE ? NULL : &f->layouts.data[l];
}

int tir_intern_layout(TirFunc *f, const Layout *l)
{
    for (int i = 0; i < f->layouts.len; i++)
        if (layout_eq(&f->layouts.data[i], l) && f->layouts.data[i].kind == l->kind)
            return i;
    vec_push(&f->arena, f->layouts, *l);
    Layout *in = &f->layouts.data[f->layouts.len - 1];
    /* Repetitions (dims that are no power of two) count in the registers
     * too: the limit is on their product. */
    in->too_big |= in->kind != LAYOUT_SHARED && layout_nregs(in) > 1 << LAYOUT_MAX_REG;
    f->layout_too_big |= in->too_big;
    return f->layouts.len - 1;
}

ValId tir_emit(TirFunc *f, BlockId b, TirOp op, SrcPos pos, const ValId *args, int nargs, TType t)
{
    InstId i = tir_append(f, b, op, pos, args, nargs, &t, 1);
    return tir_inst(f, i)->res[0];
}

ValId tir_const_int(TirFunc *f, BlockId b, SrcPos pos, DType dt, int64_t v)
{
    ValId r = tir_emit(f, b, TIR_CONST, pos, NULL, 0, ttype_scalar(dt));
    TirInst *in = tir_inst(f, tir_val(f, r)->def);
    if (dtype_is_float(dt))
        in->fval = round_to_dtype((float)v, dt);
    else
        in->ival = dt == DT_BOOL ? (v != 0) : int_wrap(v, dt);
    return r;
}

ValId tir_const_float(TirFunc *f, BlockId b, SrcPos pos, DType dt, double v)
{
    if (!dtype_is_float(dt))
        return tir_const_int(f, b, pos, dt, (int64_t)v);
    ValId r = tir_emit(f, b, TIR_CONST, pos, NULL, 0, ttype_scalar(dt));
    tir_inst(f, tir_val(f, r)->def)->fval = round_to_dtype((float)v, dt);
    return r;
}

static const char *const op_names[] = {
#define X(name, text) text,
    TIR_OPS(X)
#undef X
};

const char *tir_op_name(TirOp op) { return (unsigned)op < TIR_OP_COUNT ? op_names[op] : "?"; }

bool tir_op_is_binary(TirOp op) { return op >= TIR_ADD && op <= TIR_GE; }
bool tir_op_is_compare(TirOp op) { return op >= TIR_EQ && op <= TIR_GE; }
bool tir_op_is_unary(TirOp op) { return op >= TIR_NEG && op <= TIR_CAST; }
bool tir_op_is_math(TirOp op) { return (op >= TIR_EXP && op <= TIR_EXPM1) || op == TIR_POW; }

bool tir_op_is_pure(TirOp op)
{
    switch (op) {
    case TIR_STORE:
    case TIR_SCATTER:
    case TIR_PRINT:
    case TIR_ASSERT:
    case TIR_FOR:
    case TIR_IF:
    case TIR_YIELD:
    case TIR_ASYNC_COPY:
    case TIR_ASYNC_COMMIT:
    case TIR_ASYNC_WAIT:
    case TIR_ASYNC_RELEASE:
    case TIR_ASYNC_ACQUIRE:
    case TIR_SMEM_TILE: return false;
    default: return true;
    }
}

bool tir_reshape_in_registers(TirFunc *f, const TirInst *in)
{
    const Layout *ls = tir_layout(f, in->args[0]), *ld = tir_layout(f, in->res[0]);
    TType a = tir_type(f, in->args[0]), b = tir_type(f, in->res[0]);
    Layout l;
    return ls && ld && layout_reshape_units(ls, a.shape, a.rank, b.shape, b.rank, &l) && layout_eq(&l, ld) &&
           l.kind == ld->kind;
}

int tir_add_text(TirFunc *f, const char *text)
{
    vec_push(&f->arena, f->texts, arena_strdup(&f->arena, text));
    return f->texts.len - 1;
}

void tir_print_format(const TirFunc *f, const TirInst *in, StrBuf *out)
{
    int rank = 0;
    for (int i = 0; i < in->nargs; i++)
        if (tir_type(f, in->args[i]).rank)
            rank = tir_type(f, in->args[i]).rank;
    sb_puts(out, "pid (%d, %d, %d)");
    if (rank)
        sb_puts(out, rank == 2 ? " idx (%d, %d)" : " idx (%d)");
    const char *text = f->texts.data[in->ival];
    if (*text)
        sb_putc(out, ' ');
    for (; *text; text++) {
        if (*text == '%')
            sb_putc(out, '%');
        sb_putc(out, *text);
    }
    for (int i = 0; i < in->nargs; i++) {
        DType dt = tir_type(f, in->args[i]).dt;
        sb_puts(out, dtype_is_float(dt) ? " %g" : dt == DT_I64 ? " %lld" : dt == DT_U32 ? " %u" : " %d");
    }
    sb_putc(out, '\n');
}

bool tir_op_reads_memory(TirOp op) { return op == TIR_LOAD || op == TIR_GATHER; }

static void replace_in_block(TirFunc *f, BlockId b, ValId from, ValId to)
{
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        for (int a = 0; a < in->nargs; a++)
            if (in->args[a] == from)
                in->args[a] = to;
    }
}

void tir_replace_uses(TirFunc *f, ValId from, ValId to)
{
    for (BlockId b = 0; b < f->blocks.len; b++)
        replace_in_block(f, b, from, to);
    for (int i = 0; i < 3; i++)
        if (f->grid[i] == from)
            f->grid[i] = to;
}

int tir_tma_request(TirFunc *f, const TmaRequest *r)
{
    for (int i = 0; i < f->tma.len; i++) {
        const TmaRequest *q = &f->tma.data[i];
        bool same = q->param == r->param && q->rank == r->rank && q->swizzle == r->swizzle;
        for (int d = 0; same && d < r->rank; d++)
            same = q->box[d] == r->box[d];
        if (same)
            return i;
    }
    vec_push(&f->arena, f->tma, *r);
    return f->tma.len - 1;
}
