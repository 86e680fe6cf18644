/* Dead code elimination: removes instructions without side effects whose
 * results are never used, including loops and ifs that only compute unused
 * values. Repeats until nothing changes. */
#include "tir.h"

#include <stdlib.h>

static void count_uses(TirFunc *f, int *uses)
{
    for (int b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        for (int i = 0; i < bl->insts.len; i++) {
            TirInst *in = tir_inst(f, bl->insts.data[i]);
            for (int a = 0; a < in->nargs; a++)
                uses[in->args[a]]++;
        }
    }
    for (int i = 0; i < 3; i++)
        if (f->grid[i] != TIR_NONE)
            uses[f->grid[i]]++;
}

static bool has_side_effects(TirFunc *f, BlockId b)
{
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        if (in->op == TIR_STORE)
            return true;
        for (int k = 0; k < 2; k++)
            if ((in->op == TIR_FOR || in->op == TIR_IF) && in->blocks[k] != TIR_NONE &&
                has_side_effects(f, in->blocks[k]))
                return true;
    }
    return false;
}

static bool removable(TirFunc *f, const TirInst *in, const int *uses)
{
    if (in->op == TIR_STORE || in->op == TIR_YIELD)
        return false;
    for (int i = 0; i < in->nres; i++)
        if (uses[in->res[i]])
            return false;
    if (in->op == TIR_FOR || in->op == TIR_IF)
        for (int k = 0; k < 2; k++)
            if (in->blocks[k] != TIR_NONE && has_side_effects(f, in->blocks[k]))
                return false;
    return true;
}

static bool sweep(TirFunc *f, BlockId b, const int *uses)
{
    bool changed = false;
    TirBlock *bl = tir_block(f, b);
    int out = 0;
    for (int i = 0; i < bl->insts.len; i++) {
        InstId id = bl->insts.data[i];
        TirInst *in = tir_inst(f, id);
        if (removable(f, in, uses)) {
            changed = true;
            continue;
        }
        for (int k = 0; k < 2; k++)
            if ((in->op == TIR_FOR || in->op == TIR_IF) && in->blocks[k] != TIR_NONE)
                changed |= sweep(f, in->blocks[k], uses);
        bl->insts.data[out++] = id;
    }
    bl->insts.len = out;
    return changed;
}

bool tir_pass_dce(TirFunc *f)
{
    bool any = false;
    int *uses = tsr_xcalloc((size_t)f->vals.len + 1, sizeof(int));
    for (;;) {
        for (int i = 0; i < f->vals.len; i++)
            uses[i] = 0;
        count_uses(f, uses);
        bool changed = sweep(f, f->grid_block, uses);
        changed |= sweep(f, f->body, uses);
        if (!changed)
            break;
        any = true;
    }
    free(uses);
    return any;
}
