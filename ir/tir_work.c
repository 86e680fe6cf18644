/* Tensor-core work of loops (see tir_work.h). */
#include "tir_work.h"

/* Multiply-adds of the dots in a block and the ifs inside it (not in inner
 * loops): M*N*K each. */
static double block_mads(TirFunc *f, BlockId b)
{
    double sum = 0;
    TirBlock *blk = tir_block(f, b);
    for (int i = 0; i < (int)blk->insts.len; i++) {
        TirInst *in = tir_inst(f, blk->insts.data[i]);
        if (in->op == TIR_DOT) {
            TType a = tir_type(f, in->args[0]), bt = tir_type(f, in->args[1]);
            sum += (double)a.shape[0] * a.shape[1] * bt.shape[1];
        } else if (in->op == TIR_IF) {
            sum += block_mads(f, in->blocks[0]) + block_mads(f, in->blocks[1]);
        }
    }
    return sum;
}

double tir_loop_mads_per_warp(TirFunc *f)
{
    double best = 0;
    for (int i = 0; i < (int)f->insts.len; i++) {
        TirInst *in = tir_inst(f, i);
        if (in->op == TIR_FOR) {
            double m = block_mads(f, in->blocks[0]);
            best = m > best ? m : best;
        }
    }
    return f->warps > 0 ? best / f->warps : 0;
}
