/* Dead code elimination: removes instructions without side effects whose
 * results are never used, including loops and ifs that only compute unused
 * values (a loop or if that stores anywhere inside stays).
 *
 * Uses are counted over the live block tree; each block is swept from its end
 * to its start, and removing an instruction releases the uses of its operands
 * (and of everything in its nested blocks), so a dead chain goes in one sweep.
 * The sweep repeats until nothing changes. */
#include "passes.h"
#include "oom.h"

#include <stdlib.h>

static void add_uses(TirFunc *f, BlockId b, int *uses, int delta)
{
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        for (int a = 0; a < in->nargs; a++)
            uses[in->args[a]] += delta;
        if (in->op == TIR_FOR || in->op == TIR_IF)
            for (int k = 0; k < 2; k++)
                if (in->blocks[k] != TIR_NONE)
                    add_uses(f, in->blocks[k], uses, delta);
    }
}

static bool has_side_effects(TirFunc *f, BlockId b)
{
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        if (!tir_op_is_pure(in->op) && in->op != TIR_FOR && in->op != TIR_IF && in->op != TIR_YIELD)
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
    /* Loops and ifs are judged by their bodies below; every other impure
     * instruction (stores, yields, asynchronous copies, waits) stays. */
    if (!tir_op_is_pure(in->op) && in->op != TIR_FOR && in->op != TIR_IF)
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

static bool sweep(TirFunc *f, BlockId b, int *uses)
{
    bool changed = false;
    TirBlock *bl = tir_block(f, b);
    int keep = bl->insts.len;
    /* Backwards: the uses of an instruction come after it. Kept instructions
     * are packed at the end of the list, then moved to the front. */
    for (int i = bl->insts.len - 1; i >= 0; i--) {
        InstId id = bl->insts.data[i];
        TirInst *in = tir_inst(f, id);
        bool nested = in->op == TIR_FOR || in->op == TIR_IF;
        if (removable(f, in, uses)) {
            for (int a = 0; a < in->nargs; a++)
                uses[in->args[a]]--;
            if (nested)
                for (int k = 0; k < 2; k++)
                    if (in->blocks[k] != TIR_NONE)
                        add_uses(f, in->blocks[k], uses, -1);
            changed = true;
            continue;
        }
        if (nested)
            for (int k = 0; k < 2; k++)
                if (in->blocks[k] != TIR_NONE)
                    changed |= sweep(f, in->blocks[k], uses);
        bl->insts.data[--keep] = id;
    }
    int n = bl->insts.len - keep;
    for (int i = 0; i < n; i++)
        bl->insts.data[i] = bl->insts.data[keep + i];
    bl->insts.len = n;
    return changed;
}

bool tir_pass_dce(TirFunc *f, const Target *t)
{
    bool any = false;
    int *uses = tsr_xcalloc((size_t)f->vals.len + 1, sizeof(int));
    int slot = oom_defer_free(uses);
    for (;;) {
        for (int i = 0; i < f->vals.len; i++)
            uses[i] = 0;
        add_uses(f, f->grid_block, uses, 1);
        add_uses(f, f->body, uses, 1);
        for (int i = 0; i < 3; i++)
            if (f->grid[i] != TIR_NONE)
                uses[f->grid[i]]++;
        bool changed = sweep(f, f->grid_block, uses);
        changed |= sweep(f, f->body, uses);
        if (!changed)
            break;
        any = true;
    }
    oom_free(slot, uses);
    return any;
}
