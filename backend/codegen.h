/* GPU code generation: laid-out TIR to LLVM IR (through the LLVM-C API) and
 * LLVM IR to PTX with LLVM's NVPTX backend. The compile driver
 * (driver/compile.h) calls these in order; everything else calls the
 * driver. */
#ifndef TSR_CODEGEN_H
#define TSR_CODEGEN_H

#include "target.h"

typedef struct {
    const char *target; /* a name in the target table (backend/target.c); NULL: the default */
    /* Tensors' base pointers are 16-byte aligned and their row strides are
     * multiples of 16 bytes, so accesses may use vectors up to 16 bytes... */
    bool assume_aligned;
    /* ...except the tensor parameters whose bit is set (bit i: parameter i),
     * which are accessed element by element. */
    uint64_t unaligned_params;
    /* Symbolic dims known to be multiples of 8 (bit s: TirFunc.syms[s]): a
     * tensor whose last dim is one of them can still use vectors. */
    uint64_t divisible_syms;
    /* Source line information (.file/.loc) in the PTX, for profilers,
     * debuggers and the emulator's fault reports (backend/lineinfo.c). */
    bool line_info;
    /* Keeps every warp on the kernel's code instead of adding a producer
     * warpgroup where the target would (sm_90a: backend/README.md), for
     * ablation and debugging. */
    bool no_warp_specialize;
    /* Waits for every asynchronous dot right after issuing it and keeps
     * pipelined loops in their written order (no rotation), instead of
     * overlapping a dot with the work that does not need its result
     * (sm_90a: backend/README.md), for ablation and debugging. */
    bool no_overlap;
    /* Lets the consumer warpgroups of a warp-specialized kernel issue
     * their dots whenever they reach them instead of in turn (pingpong:
     * sm_90a, backend/README.md), for ablation and debugging. */
    bool no_pingpong;
    /* A persistent kernel: the launch runs at most as many blocks as the
     * device holds at once, and each block walks the program's grid of
     * instances (the tiles) from its block index in steps of the launched
     * grid's size (backend/README.md, "Persistent kernels"). The runtime
     * sizes the launch (CodegenResult.persistent). */
    bool persistent;
} CodegenOptions;

typedef struct {
    char *ptx;         /* malloc'd, NUL-terminated */
    char *llvm_ir;     /* malloc'd: the LLVM IR before optimization, when asked */
    char *kernel_name; /* malloc'd */
    size_t smem_bytes; /* dynamic shared memory the launch must provide */
    int threads;       /* threads per block */
    TmaRequest *tma;   /* malloc'd: the tensor maps the kernel takes (TirFunc.tma), ntma of them */
    int ntma;
    /* A persistent kernel (CodegenOptions.persistent): the launch's grid is
     * {blocks, 1, 1}, at most the program's instances, and the kernel reads
     * the program's grid from its parameters like the host does. */
    bool persistent;
} CodegenResult;

/* Threads a target may add to a kernel's warps (CodegenResult.threads): a
 * warp-specialized producer warpgroup. */
enum { CODEGEN_PRODUCER_THREADS = 128 };

/* The most PTX parameters (pointers, strides, scalars) a kernel may take. */
enum { CODEGEN_MAX_PARAM_SLOTS = 256 };

/* Checks, before the code-generation passes, what target t cannot compile
 * in f (a dot too big for the CUDA cores, more parameters than
 * CODEGEN_MAX_PARAM_SLOTS), reporting it in diag at its source position.
 * Layouts needing more registers than a thread has are found by the passes
 * and reported by compile_layout (driver/compile.c). */
bool codegen_check(TirFunc *f, const Target *t, Diag *diag);
/* Emits f, laid out for t by its code-generation passes, as LLVM IR and
 * PTX. Returns false, with diagnostics, on error. want_llvm: also return
 * the LLVM IR text (before optimization). */
bool codegen_emit(TirFunc *f, const Target *t, const CodegenOptions *opts, bool want_llvm, CodegenResult *out,
                  Diag *diag);
void codegen_result_free(CodegenResult *r);

/* Writes the version of the LLVM linked, e.g. "19.1.7". */
void codegen_llvm_version(char *buf, size_t n);

#endif
