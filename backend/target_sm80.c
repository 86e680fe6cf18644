/* The mma.sync generation of tensor cores (sm_80, and sm_90 / sm_90a, which
 * run the same instructions): m16n8k16 with f16 or bf16 inputs and f32
 * accumulation. Hopper's wgmma and TMA will live in a file of their own. */
#include "codegen_internal.h"

#include <string.h>

static void mma_16816(Emitter *em, DType dt, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef c[4],
                      LLVMValueRef d[4])
{
    static const char *const f16[] = { "llvm.nvvm.mma.m16n8k16.row.col.f32.f32", NULL };
    static const char *const bf16[] = { "llvm.nvvm.mma.m16n8k16.row.col.bf16", NULL };
    LLVMValueRef args[10];
    for (int i = 0; i < 4; i++)
        args[i] = a[i];
    args[4] = b[0];
    args[5] = b[1];
    for (int i = 0; i < 4; i++)
        args[6 + i] = c[i];
    LLVMValueRef r = em_call_intrinsic(em, dt == DT_BF16 ? bf16 : f16, NULL, 0, args, 10);
    for (int i = 0; i < 4; i++)
        d[i] = LLVMBuildExtractValue(em->b, r, (unsigned)i, "");
}

static const Target targets[] = {
    /* PTX 7.0 is what sm_80's instructions need; 7.8 brings sm_90, 8.0 sm_90a. */
    { "sm_80", "sm_80", "+ptx70", 80, 164 * 1024, mma_16816 },
    { "sm_90", "sm_90", "+ptx78", 90, 228 * 1024, mma_16816 },
    { "sm_90a", "sm_90a", "+ptx80", 90, 228 * 1024, mma_16816 },
};

const Target *target_lookup(const char *name)
{
    for (size_t i = 0; i < TSR_ARRAY_LEN(targets); i++)
        if (!strcmp(targets[i].name, name))
            return &targets[i];
    return NULL;
}
