/* Constant folding: a scalar elementwise instruction whose operands are all
 * constants becomes a constant, computed by the same code the interpreter
 * runs (tir_eval.c). A select on a constant condition becomes its choice. */
#include "tir_eval.h"

static bool is_const(TirFunc *f, ValId v)
{
    InstId d = tir_val(f, v)->def;
    return d != TIR_NONE && tir_inst(f, d)->op == TIR_CONST;
}

static TirElem const_of(TirFunc *f, ValId v)
{
    return tir_const_elem(tir_inst(f, tir_val(f, v)->def), tir_type(f, v).dt);
}

static void make_const(TirFunc *f, TirInst *in, TirElem e, DType dt)
{
    in->op = TIR_CONST;
    in->nargs = 0;
    if (dtype_is_float(dt))
        in->fval = e.f;
    else
        in->ival = e.i;
}

static bool fold_inst(TirFunc *f, InstId id)
{
    TirInst *in = tir_inst(f, id);
    bool unary = tir_op_is_unary(in->op), binary = tir_op_is_binary(in->op);
    if (in->op == TIR_SELECT && is_const(f, in->args[0]) && tir_type(f, in->args[0]).rank == 0) {
        ValId pick = const_of(f, in->args[0]).i ? in->args[1] : in->args[2];
        tir_replace_uses(f, in->res[0], pick);
        return true;
    }
    if ((!unary && !binary) || tir_type(f, in->res[0]).rank != 0)
        return false;
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
    make_const(f, in, r, to);
    return true;
}

bool tir_pass_fold(TirFunc *f)
{
    bool changed = false;
    /* Instructions are numbered in creation order, which defines operands
     * before their uses, so one sweep folds chains. */
    for (InstId id = 0; id < f->insts.len; id++)
        changed |= fold_inst(f, id);
    return changed;
}
