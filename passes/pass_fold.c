/* Constant folding: a scalar elementwise instruction whose operands are all
 * constants becomes a constant, computed by the same code the interpreter
 * runs (tir_eval.c). A select on a constant condition is replaced by its
 * choice and dropped, and so is a scalar 'and'/'or' with a constant operand
 * that decides nothing (x && true, x || false); one that decides everything
 * (x && false, x || true) becomes that constant.
 *
 * One walk over the block tree in dominance order, so chains fold in one run
 * and a second run finds nothing to do; replaced values are renamed in the
 * operands of later instructions as the walk reaches them. */
#include "passes.h"
#include "oom.h"
#include "tir_eval.h"

#include <stdlib.h>

typedef struct {
    TirFunc *f;
    ValId *repl; /* per value: what replaces it, or TIR_NONE */
} Fold;

static bool is_const(TirFunc *f, ValId v)
{
    InstId d = tir_val(f, v)->def;
    return d != TIR_NONE && tir_inst(f, d)->op == TIR_CONST;
}

static TirElem const_of(TirFunc *f, ValId v)
{
    return tir_const_elem(tir_inst(f, tir_val(f, v)->def), tir_type(f, v).dt);
}

static void make_const(TirInst *in, TirElem e, DType dt)
{
    in->op = TIR_CONST;
    in->nargs = 0;
    in->ival = 0;
    in->fval = 0;
    if (dtype_is_float(dt))
        in->fval = e.f;
    else
        in->ival = e.i;
}

/* Folds one instruction; returns true if it changed. *drop: the instruction
 * is now dead and leaves its block. */
static bool fold_inst(Fold *fo, TirInst *in, bool *drop)
{
    TirFunc *f = fo->f;
    bool unary = tir_op_is_unary(in->op), binary = tir_op_is_binary(in->op);
    if (in->op == TIR_SELECT && is_const(f, in->args[0]) && tir_type(f, in->args[0]).rank == 0) {
        fo->repl[in->res[0]] = const_of(f, in->args[0]).i ? in->args[1] : in->args[2];
        *drop = true;
        return true;
    }
    if ((!unary && !binary) || tir_type(f, in->res[0]).rank != 0)
        return false;
    if ((in->op == TIR_AND || in->op == TIR_OR) && tir_type(f, in->res[0]).dt == DT_BOOL) {
        /* the identity is true for 'and', false for 'or' (on bools) */
        bool identity = in->op == TIR_AND;
        for (int k = 0; k < 2; k++) {
            if (!is_const(f, in->args[k]))
                continue;
            if ((const_of(f, in->args[k]).i != 0) == identity) {
                fo->repl[in->res[0]] = in->args[1 - k];
                *drop = true;
            } else {
                make_const(in, const_of(f, in->args[k]), DT_BOOL);
            }
            return true;
        }
        return false;
    }
    for (int i = 0; i < in->nargs; i++)
        if (!is_const(f, in->args[i]))
            return false;
    DType dt = tir_type(f, in->args[0]).dt, to = tir_type(f, in->res[0]).dt;
    TirElem a = const_of(f, in->args[0]), r;
    if (binary) {
        TirElem b = const_of(f, in->args[1]);
        tir_eval_binary(in->op, dt, 1, &a, &b, &r);
    } else {
        tir_eval_unary(in->op, dt, to, 1, &a, &r);
    }
    make_const(in, r, to);
    return true;
}

static bool fold_block(Fold *fo, BlockId b)
{
    TirFunc *f = fo->f;
    TirBlock *bl = tir_block(f, b);
    bool changed = false;
    int out = 0;
    for (int i = 0; i < bl->insts.len; i++) {
        InstId id = bl->insts.data[i];
        TirInst *in = tir_inst(f, id);
        for (int a = 0; a < in->nargs; a++)
            if (fo->repl[in->args[a]] != TIR_NONE)
                in->args[a] = fo->repl[in->args[a]];
        if (in->op == TIR_FOR || in->op == TIR_IF)
            for (int k = 0; k < 2; k++)
                if (in->blocks[k] != TIR_NONE)
                    changed |= fold_block(fo, in->blocks[k]);
        bool drop = false;
        changed |= fold_inst(fo, in, &drop);
        if (!drop)
            bl->insts.data[out++] = id;
    }
    bl->insts.len = out;
    return changed;
}

bool tir_pass_fold(TirFunc *f, const Target *t)
{
    Fold fo = { f, tsr_xmalloc(sizeof(ValId) * ((size_t)f->vals.len + 1)) };
    int slot = oom_defer_free(fo.repl);
    for (int i = 0; i < f->vals.len; i++)
        fo.repl[i] = TIR_NONE;
    bool changed = fold_block(&fo, f->grid_block);
    for (int i = 0; i < 3; i++)
        if (f->grid[i] != TIR_NONE && fo.repl[f->grid[i]] != TIR_NONE)
            f->grid[i] = fo.repl[f->grid[i]];
    changed |= fold_block(&fo, f->body);
    oom_free(slot, fo.repl);
    return changed;
}
