/* Accumulating dots: `c + dot(a, b)`, where the dot's result has no other
 * use, becomes dot(a, b, c), so the tensor cores accumulate into c instead of
 * a second accumulator of the same size (in attention, `acc * alpha +
 * dot(p, v)` would otherwise keep two [BM, D] accumulators alive). The sum
 * is the same up to rounding order. Runs on the code generator's copy. */
#include "passes.h"
#include "oom.h"

#include <stdlib.h>

static void count_uses(TirFunc *f, int *uses)
{
    for (BlockId b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        for (int i = 0; i < bl->insts.len; i++) {
            TirInst *in = tir_inst(f, bl->insts.data[i]);
            for (int a = 0; a < in->nargs; a++)
                uses[in->args[a]]++;
        }
    }
}

/* The dot that defines v when its only use is the add and it sits in the
 * same block before it. */
static TirInst *lone_dot(TirFunc *f, ValId v, const int *uses, BlockId b)
{
    InstId d = tir_val(f, v)->def;
    if (d == TIR_NONE || uses[v] != 1)
        return NULL;
    TirInst *in = tir_inst(f, d);
    if (in->op != TIR_DOT || in->nargs != 2)
        return NULL;
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++)
        if (bl->insts.data[i] == d)
            return in;
    return NULL;
}

bool tir_pass_fuse(TirFunc *f, const Target *t)
{
    int *uses = tsr_xcalloc((size_t)f->vals.len + 1, sizeof(int));
    int slot = oom_defer_free(uses);
    count_uses(f, uses);
    bool changed = false;
    for (BlockId b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        int out = 0;
        for (int i = 0; i < bl->insts.len; i++) {
            InstId id = bl->insts.data[i];
            TirInst *in = tir_inst(f, id);
            if (in->op == TIR_ADD && tir_type(f, in->res[0]).dt == DT_F32 && tir_type(f, in->res[0]).rank == 2) {
                for (int k = 0; k < 2; k++) {
                    TirInst *dot = lone_dot(f, in->args[k], uses, b);
                    ValId c = in->args[1 - k];
                    if (!dot)
                        continue;
                    /* c dominates the add; to be the dot's operand it must
                     * also come before the dot when it is from this block. */
                    int pos_c = -1, pos_dot = -1;
                    for (int j = 0; j < bl->insts.len; j++) {
                        if (bl->insts.data[j] == tir_val(f, c)->def)
                            pos_c = j;
                        if (bl->insts.data[j] == tir_val(f, in->args[k])->def)
                            pos_dot = j;
                    }
                    if (pos_c >= 0 && pos_c > pos_dot)
                        continue;
                    ValId *args = arena_alloc(&f->arena, sizeof(ValId) * 3);
                    args[0] = dot->args[0];
                    args[1] = dot->args[1];
                    args[2] = c;
                    dot->args = args;
                    dot->nargs = 3;
                    tir_replace_uses(f, in->res[0], dot->res[0]);
                    changed = true;
                    in = NULL;
                    break;
                }
                if (!in)
                    continue; /* the add is gone */
            }
            bl->insts.data[out++] = id;
        }
        bl->insts.len = out;
    }
    oom_free(slot, uses);
    return changed;
}
