/* Workarounds for miscompiles of LLVM's NVPTX backend in the LLVM versions
 * Tessera builds with (19 and 22; see backend/README.md). ptx.c applies them:
 * options for LLVM's code generator when the target is first initialized,
 * and a rewrite of the IR between LLVM's optimizer and the code generator
 * (the optimizer makes the patterns the code generator gets wrong, so the
 * emitter cannot avoid them by itself). Each was found by differential
 * testing and is kept as a regression program in tests/programs/diffgen/. */
#include "nvptx_fixes.h"

#include <llvm-c/Core.h>
#include <stdbool.h>

/* The major version of the LLVM linked (the library, not the headers). */
static unsigned llvm_major(void)
{
    unsigned major, minor, patch;
    LLVMGetVersion(&major, &minor, &patch);
    return major;
}

int nvptx_fix_options(const char **argv, int max)
{
    int n = 0;
    /* LLVM 19's instruction selection takes the state space of a load or
     * store from the IR value of its memory operand, and is generic when
     * there is none. The DAG combiner's store merging drops that value when
     * the merged stores' pointers do not lead to the same object within
     * getUnderlyingObject's six steps, which the GEP chains of the code
     * generator's strength reduction exceed: two byte stores into shared
     * memory became a generic st.u16 at a 32-bit shared address
     * (shared_u8_generic_store.tsr). LLVM 22 takes the state space from the
     * memory operand itself; 20 and 21 are untested, so they get the
     * workaround too. The load/store vectorizer, which runs before, still
     * merges what it can prove adjacent. */
    if (llvm_major() < 22 && n < max)
        argv[n++] = "-combiner-store-merging=0";
    return n;
}

/* v as a constant of the float or float-vector type t (every element v);
 * the builder folds the insertions into a constant vector. */
static LLVMValueRef splat_real(LLVMBuilderRef b, LLVMTypeRef t, double v)
{
    if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
        return LLVMConstReal(t, v);
    LLVMValueRef e = LLVMConstReal(LLVMGetElementType(t), v), r = LLVMGetUndef(t);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(LLVMGetTypeContext(t));
    for (unsigned i = 0; i < LLVMGetVectorSize(t); i++)
        r = LLVMBuildInsertElement(b, r, e, LLVMConstInt(i32, i, 0), "");
    return r;
}

static bool is_i1_or_i1_vector(LLVMTypeRef t)
{
    if (LLVMGetTypeKind(t) == LLVMVectorTypeKind)
        t = LLVMGetElementType(t);
    return LLVMGetTypeKind(t) == LLVMIntegerTypeKind && LLVMGetIntTypeWidth(t) == 1;
}

/* LLVM 19's NVPTX converts `sitofp i1 true` to +1.0 (it widens the i1 as
 * unsigned: selp.u32 1, 0), where it is -1.0; LLVM 22 is right. LLVM's
 * optimizer makes such conversions out of `sitofp (select c, -1, 0)`
 * (cdiv(0, 0) stored as 1 instead of -1: sitofp_i1.tsr). A select of the two
 * constants says the same and compiles to one selp with both versions. */
static bool fix_sitofp_i1(LLVMBuilderRef b, LLVMValueRef in)
{
    if (LLVMGetInstructionOpcode(in) != LLVMSIToFP)
        return false;
    LLVMValueRef c = LLVMGetOperand(in, 0);
    if (!is_i1_or_i1_vector(LLVMTypeOf(c)))
        return false;
    LLVMTypeRef t = LLVMTypeOf(in);
    LLVMPositionBuilderBefore(b, in);
    LLVMValueRef sel = LLVMBuildSelect(b, c, splat_real(b, t, -1.0), LLVMConstNull(t), "");
    LLVMReplaceAllUsesWith(in, sel);
    LLVMInstructionEraseFromParent(in);
    return true;
}

void nvptx_fix_module(LLVMModuleRef mod)
{
    LLVMBuilderRef b = LLVMCreateBuilderInContext(LLVMGetModuleContext(mod));
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f))
        for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f); bb; bb = LLVMGetNextBasicBlock(bb))
            for (LLVMValueRef in = LLVMGetFirstInstruction(bb), next; in; in = next) {
                next = LLVMGetNextInstruction(in);
                fix_sitofp_i1(b, in);
            }
    LLVMDisposeBuilder(b);
}
