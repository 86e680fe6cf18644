/* Dots on the tensor cores: a dot of [M,K] by [K,N] becomes, per warp, a
 * grid of m16n8k16 mma.sync instructions over the fragments the layout pass
 * put the operands in (layout_mma_a/_b), accumulating in f32 (layout_mma_acc). */
#include "codegen_internal.h"

/* Packs two 16-bit elements into the 32-bit register mma.sync takes. */
static LLVMValueRef pack2(Emitter *em, DType dt, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMTypeRef et = em_elem_type(em, dt);
    LLVMValueRef v = LLVMGetUndef(LLVMVectorType(et, 2));
    v = LLVMBuildInsertElement(em->b, v, lo, em_i32(em, 0), "");
    v = LLVMBuildInsertElement(em->b, v, hi, em_i32(em, 1), "");
    return dt == DT_BF16 ? LLVMBuildBitCast(em->b, v, em->t_i32, "") : v;
}

void em_dot(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    TType ta = tir_type(f, in->args[0]), tb = tir_type(f, in->args[1]);
    int M = ta.shape[0], K = ta.shape[1], N = tb.shape[1], wm, wn;
    layout_mma_warps(M, N, f->warps, &wm, &wn);
    const Layout *la = em_layout(em, in->args[0]), *lb = em_layout(em, in->args[1]),
                 *lc = em_layout(em, in->res[0]);
    EVal *a = em_val(em, in->args[0]), *b = em_val(em, in->args[1]);
    EVal r = em_new_val(em, layout_nregs(lc));
    LLVMValueRef zero = LLVMConstReal(em->t_f32, 0.0);
    for (int mi = 0; mi < M / (16 * wm); mi++)
        for (int ni = 0; ni < N / (8 * wn); ni++) {
            LLVMValueRef c[4] = { zero, zero, zero, zero };
            for (int ki = 0; ki < K / 16; ki++) {
                LLVMValueRef af[4], bf[2], d[4];
                for (int q = 0; q < 4; q++) {
                    int lo[2] = { mi * 16 * wm + (q & 1) * 8, ki * 16 + (q >> 1) * 8 };
                    int hi[2] = { lo[0], lo[1] + 1 };
                    af[q] = pack2(em, ta.dt, a->e[layout_reg_of(la, lo)], a->e[layout_reg_of(la, hi)]);
                }
                for (int q = 0; q < 2; q++) {
                    int lo[2] = { ki * 16 + q * 8, ni * 8 * wn };
                    int hi[2] = { lo[0] + 1, lo[1] };
                    bf[q] = pack2(em, ta.dt, b->e[layout_reg_of(lb, lo)], b->e[layout_reg_of(lb, hi)]);
                }
                em->target->mma_16816(em, ta.dt, af, bf, c, d);
                for (int i = 0; i < 4; i++)
                    c[i] = d[i];
            }
            for (int i = 0; i < 4; i++) {
                int coord[2] = { mi * 16 * wm + (i >> 1) * 8, ni * 8 * wn + (i & 1) };
                r.e[layout_reg_of(lc, coord)] = c[i];
            }
        }
    em->vals[in->res[0]] = r;
}
