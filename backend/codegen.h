/* GPU code generation: laid-out TIR to LLVM IR (through the LLVM-C API) and
 * LLVM IR to PTX with LLVM's NVPTX backend. */
#ifndef TSR_CODEGEN_H
#define TSR_CODEGEN_H

#include "tir.h"

typedef struct {
    const char *target; /* "sm_80", "sm_90" or "sm_90a" (the default) */
    /* Tensors' base pointers are 16-byte aligned and their row strides are
     * multiples of 16 bytes, so accesses may use vectors up to 16 bytes... */
    bool assume_aligned;
    /* ...except the tensor parameters whose bit is set (bit i: parameter i),
     * which are accessed element by element. */
    uint64_t unaligned_params;
    /* Symbolic dims known to be multiples of 8 (bit s: TirFunc.syms[s]): a
     * tensor whose last dim is one of them can still use vectors. */
    uint64_t divisible_syms;
} CodegenOptions;

typedef struct {
    char *ptx;         /* malloc'd, NUL-terminated */
    char *llvm_ir;     /* malloc'd: the LLVM IR before optimization, when asked */
    char *kernel_name; /* malloc'd */
    size_t smem_bytes; /* dynamic shared memory the launch must provide */
    int threads;       /* threads per block */
} CodegenResult;

/* Compiles one kernel (after tir_run_passes) to PTX; f is not changed (the
 * codegen passes run on a copy). Problems in the program
 * that only code generation sees (an unsupported shape for the tensor cores,
 * too many registers) are reported in diag at their source position. Returns
 * false on error. want_llvm: also return the LLVM IR text. */
bool codegen_kernel(TirFunc *f, const CodegenOptions *opts, bool want_llvm, CodegenResult *out, Diag *diag);
void codegen_result_free(CodegenResult *r);

/* Writes the version of the LLVM linked, e.g. "19.1.7". */
void codegen_llvm_version(char *buf, size_t n);

#endif
