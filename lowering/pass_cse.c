/* Common subexpression elimination over the block tree: a pure instruction
 * equal to one that dominates it (same op, attributes, operands and type) is
 * replaced by it. Loads are not merged (a store may come between). */
#include "tir.h"

#include <stdlib.h>

typedef struct {
    TirFunc *f;
    InstId *avail; /* dominating candidates, innermost last */
    int n, cap;
} Cse;

static bool same_inst(TirFunc *f, const TirInst *a, const TirInst *b)
{
    if (a->op != b->op || a->nargs != b->nargs || a->nres != 1 || b->nres != 1)
        return false;
    if (a->ival != b->ival || a->fval != b->fval || a->axis != b->axis || a->param != b->param ||
        a->sym != b->sym || a->kind != b->kind)
        return false;
    if (a->fval != a->fval) /* NaN constants are never equal to themselves */
        return false;
    for (int i = 0; i < a->nargs; i++)
        if (a->args[i] != b->args[i])
            return false;
    for (int i = 0; i < TIR_MAX_RANK; i++)
        if (a->lens[i] != b->lens[i])
            return false;
    return ttype_eq(tir_type(f, a->res[0]), tir_type(f, b->res[0])) &&
           tir_val(f, a->res[0])->layout == tir_val(f, b->res[0])->layout;
}

static bool cse_block(Cse *c, BlockId b)
{
    TirFunc *f = c->f;
    bool changed = false;
    int mark = c->n;
    TirBlock *bl = tir_block(f, b);
    int out = 0;
    for (int i = 0; i < bl->insts.len; i++) {
        InstId id = bl->insts.data[i];
        TirInst *in = tir_inst(f, id);
        for (int k = 0; k < 2; k++)
            if (in->blocks[k] != TIR_NONE && (in->op == TIR_FOR || in->op == TIR_IF))
                changed |= cse_block(c, in->blocks[k]);
        bool candidate = tir_op_is_pure(in->op) && in->op != TIR_LOAD && in->nres == 1;
        InstId dup = TIR_NONE;
        if (candidate)
            for (int j = c->n - 1; j >= 0 && dup == TIR_NONE; j--)
                if (same_inst(f, tir_inst(f, c->avail[j]), in))
                    dup = c->avail[j];
        if (dup != TIR_NONE) {
            tir_replace_uses(f, in->res[0], tir_inst(f, dup)->res[0]);
            changed = true;
            continue; /* drop it */
        }
        if (candidate) {
            if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 64;
                c->avail = tsr_xrealloc(c->avail, sizeof(InstId) * (size_t)c->cap);
            }
            c->avail[c->n++] = id;
        }
        bl->insts.data[out++] = id;
    }
    bl->insts.len = out;
    c->n = mark;
    return changed;
}

bool tir_pass_cse(TirFunc *f)
{
    Cse c = { f, NULL, 0, 0 };
    bool changed = cse_block(&c, f->grid_block);
    c.n = 0;
    changed |= cse_block(&c, f->body);
    free(c.avail);
    return changed;
}
