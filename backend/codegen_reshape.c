/* reshape (ir/tir.h, RESHAPE): when only dims of size 1 change, the result's
 * layout holds the operand's registers as they are (the layout pass makes it
 * so); otherwise every thread writes its elements into a scratch of shared
 * memory at their row-major positions, and reads the result's elements back
 * from theirs (pass_smem.c sizes the scratch). */
#include "codegen_internal.h"

/* The row-major index of register r of v, an i32. */
static LLVMValueRef linear_index(Emitter *em, ValId v, int r)
{
    TType t = tir_type(em->f, v);
    LLVMValueRef idx = em_coord(em, v, r, 0);
    for (int d = 1; d < t.rank; d++)
        idx = LLVMBuildAdd(em->b, LLVMBuildMul(em->b, idx, em_i32(em, t.shape[d]), ""), em_coord(em, v, r, d), "");
    return idx;
}

/* The address of element `idx` of the scratch at `base`. */
static LLVMValueRef scratch_at(Emitter *em, int base, LLVMValueRef idx, DType dt)
{
    return em_smem_at(em, LLVMBuildAdd(em->b, em_i32(em, base), LLVMBuildMul(em->b, idx, em_i32(em, dtype_size(dt)), ""), ""));
}

void em_reshape(Emitter *em, const TirInst *in)
{
    ValId src = in->args[0], dst = in->res[0];
    if (tir_reshape_in_registers(em->f, in)) {
        em->vals[dst] = *em_val(em, src);
        return;
    }
    tsr_assert(in->smem >= 0);
    DType dt = tir_type(em->f, src).dt;
    LLVMTypeRef et = dt == DT_BOOL ? em->t_i8 : em_elem_type(em, dt);
    EVal *x = em_val(em, src);
    em_barrier(em); /* the scratch may still be read by an earlier user */
    /* replicas hold the same elements: one copy writes */
    LLVMBasicBlockRef done = em_only_begin(em, em_owner_mask(em, em_layout(em, src)), "reshape.write", "reshape.wrote");
    for (int r = 0; r < x->n; r++) {
        LLVMValueRef v = dt == DT_BOOL ? LLVMBuildZExt(em->b, x->e[r], em->t_i8, "") : x->e[r];
        LLVMBuildStore(em->b, v, scratch_at(em, in->smem, linear_index(em, src, r), dt));
    }
    em_only_end(em, done);
    em_barrier(em);
    EVal out = em_new_val(em, layout_nregs(em_layout(em, dst)));
    for (int r = 0; r < out.n; r++) {
        LLVMValueRef v = LLVMBuildLoad2(em->b, et, scratch_at(em, in->smem, linear_index(em, dst, r), dt), "");
        out.e[r] = dt == DT_BOOL ? LLVMBuildTrunc(em->b, v, em->t_i1, "") : v;
    }
    em->vals[dst] = out;
}
