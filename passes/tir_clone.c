/* Copies of TIR instructions with their values renamed (tir_clone.h). */
#include "tir_clone.h"

void cloner_init(Cloner *c, TirFunc *f, Arena *arena)
{
    c->f = f;
    c->arena = arena;
    c->nto = f->vals.len;
    c->to = arena_alloc(arena, sizeof(ValId) * (size_t)(c->nto ? c->nto : 1));
    for (int v = 0; v < c->nto; v++)
        c->to[v] = TIR_NONE;
}

ValId cloner_get(const Cloner *c, ValId v) { return v < c->nto && c->to[v] != TIR_NONE ? c->to[v] : v; }

void cloner_map(Cloner *c, ValId from, ValId to)
{
    if (from < c->nto)
        c->to[from] = to;
    tir_val(c->f, to)->layout = tir_val(c->f, from)->layout;
}

InstId cloner_inst(Cloner *c, InstId id, BlockId b)
{
    TirFunc *f = c->f;
    TirInst old = *tir_inst(f, id);
    ValId *args = arena_alloc(c->arena, sizeof(ValId) * (size_t)(old.nargs ? old.nargs : 1));
    TType *types = arena_alloc(c->arena, sizeof(TType) * (size_t)(old.nres ? old.nres : 1));
    for (int i = 0; i < old.nargs; i++)
        args[i] = cloner_get(c, old.args[i]);
    for (int i = 0; i < old.nres; i++)
        types[i] = tir_type(f, old.res[i]);
    InstId nid = tir_make(f, b, old.op, old.pos, args, old.nargs, types, old.nres);
    TirInst *in = tir_inst(f, nid);
    in->ival = old.ival;
    in->fval = old.fval;
    in->axis = old.axis;
    in->param = old.param;
    in->sym = old.sym;
    in->kind = old.kind;
    in->stages = old.stages;
    in->buf = old.buf;
    in->smem = old.smem;
    for (int d = 0; d < TIR_MAX_RANK; d++)
        in->lens[d] = old.lens[d];
    for (int i = 0; i < old.nres; i++)
        cloner_map(c, old.res[i], tir_inst(f, nid)->res[i]);
    for (int k = 0; k < 2; k++) {
        if (old.blocks[k] == TIR_NONE)
            continue;
        BlockId nb = tir_block_new(f, nid);
        tir_inst(f, nid)->blocks[k] = nb;
        for (int a = 0; a < tir_block(f, old.blocks[k])->args.len; a++) {
            ValId oa = tir_block(f, old.blocks[k])->args.data[a];
            cloner_map(c, oa, tir_block_arg(f, nb, tir_type(f, oa)));
        }
        for (int i = 0; i < tir_block(f, old.blocks[k])->insts.len; i++)
            cloner_inst(c, tir_block(f, old.blocks[k])->insts.data[i], nb);
    }
    vec_push(&f->arena, tir_block(f, b)->insts, nid);
    return nid;
}

bool tir_each_loop_inner_first(TirFunc *f, BlockId b, int (*loop)(void *ctx, BlockId b, int i), void *ctx)
{
    bool changed = false;
    for (int i = 0; i < tir_block(f, b)->insts.len; i++) {
        TirInst *in = tir_inst(f, tir_block(f, b)->insts.data[i]);
        if (in->op != TIR_FOR && in->op != TIR_IF)
            continue;
        for (int k = 0; k < 2; k++) {
            BlockId nb = tir_inst(f, tir_block(f, b)->insts.data[i])->blocks[k];
            if (nb != TIR_NONE)
                changed |= tir_each_loop_inner_first(f, nb, loop, ctx);
        }
        if (tir_inst(f, tir_block(f, b)->insts.data[i])->op != TIR_FOR)
            continue;
        int last = loop(ctx, b, i);
        if (last >= 0) {
            changed = true;
            i = last;
        }
    }
    return changed;
}
