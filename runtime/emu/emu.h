/* The emu device: a PTX emulator that runs kernels on the CPU with warp
 * semantics (32-lane warps, divergence and reconvergence, barriers, shuffles,
 * mma/ldmatrix fragments, asynchronous cp.async; on sm_90a wgmma, mbarriers,
 * TMA bulk copies and setmaxnreg), and checks what a GPU would
 * let pass: out-of-bounds and misaligned accesses, shared-memory races, reads
 * of registers and shared memory never written, deadlocks at barriers.
 *
 * This is the runtime's internal interface; the runtime wraps it as the `emu`
 * device. "Device memory" is host memory: pointers passed to a kernel are host
 * addresses, and every global access is checked against the regions the launch
 * registers. Errors are returned as a non-zero status with a message appended
 * to `err`; the emulator never aborts on bad PTX or a faulting kernel.
 * runtime/emu/README.md describes the design and what is supported. */
#ifndef TSR_EMU_H
#define TSR_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct EmuModule EmuModule;

/* What emu_module_load and emu_launch return. */
enum { EMU_OK = 0, EMU_ERROR = -1, EMU_OUT_OF_MEMORY = -2 };

/* Parses and decodes a PTX module (text of `len` bytes, NUL not required).
 * Returns 0 and sets *out, or returns -1 with "ptx:LINE: error: ..." in err,
 * or EMU_OUT_OF_MEMORY (nothing leaks: the load runs guarded,
 * support/oom.h). */
int emu_module_load(const char *ptx, size_t len, EmuModule **out, StrBuf *err);
void emu_module_free(EmuModule *m);

/* The names of the module's kernels (.entry), in order of definition. */
int emu_kernel_count(const EmuModule *m);
const char *emu_kernel_name(const EmuModule *m, int i);

typedef struct {
    size_t size, align, offset; /* offset in the parameter buffer */
} EmuParamInfo;

typedef struct {
    int nparams;
    const EmuParamInfo *params; /* owned by the module */
    size_t param_bytes;         /* size of the packed parameter buffer */
    size_t static_smem;         /* bytes of static .shared */
    size_t local_bytes;         /* bytes of .local per thread */
    unsigned maxntid[3], reqntid[3]; /* 0 when the directive is absent */
    unsigned minnctapersm;
    int nregs; /* registers the emulator allocates per thread (all classes) */
} EmuKernelInfo;

int emu_kernel_info(const EmuModule *m, const char *kernel, EmuKernelInfo *info, StrBuf *err);

/* Host memory a kernel may touch through global (generic) addresses. */
typedef struct {
    const void *base;
    size_t size;
    bool writable;
} EmuRegion;

/* What a launch can return besides its status: counters, and where it faulted. */
typedef struct {
    uint64_t warp_insns;   /* instructions issued by warps */
    uint64_t thread_insns; /* sum over those of the lanes they ran for */
    uint64_t ctas;
    int fault_line;        /* on EMU_ERROR: the PTX line of the faulting instruction (0: none) */
} EmuStats;

typedef struct {
    unsigned grid[3], block[3];
    size_t dyn_smem;           /* bytes of dynamic (.extern) shared memory */
    const EmuRegion *regions;  /* buffers the kernel may access */
    int nregions;
    bool check_races;          /* shared-memory race detector (slower) */
    bool check_uninit;         /* reads of registers and shared memory never written (slower) */
    int host_threads;          /* CTAs run on this many host threads; 0 or 1: one */
    uint64_t max_warp_insns;   /* stop with an error past this many; 0: 2^36 */
    EmuStats *stats;           /* optional: filled on return */
} EmuLaunch;

/* Runs a kernel to completion. args[i] points to the value of parameter i
 * (as with cuLaunchKernel's kernelParams), of the size emu_kernel_info gives.
 * Returns EMU_OK, or EMU_ERROR with a message naming the kernel, the PTX
 * line, the thread (ctaid, tid) and the address where one applies, or
 * EMU_OUT_OF_MEMORY when host memory for the emulator's working memory ran
 * out (nothing leaks; each host thread runs guarded, support/oom.h). */
int emu_launch(EmuModule *m, const char *kernel, void **args, const EmuLaunch *launch,
               StrBuf *err);

/* ---- tensor maps (TMA) ------------------------------------------------------------
 * A tensor map is the 128-byte record a kernel receives as a grid-constant
 * .param and names in cp.async.bulk.tensor. The real encoding is the
 * driver's secret; the emulator's is private and documented in
 * runtime/emu/README.md ("Tensor maps"). emu_tensor_map_encode checks what
 * cuTensorMapEncodeTiled documents; the kernel-side checks (coordinates,
 * shared alignment, the mbarrier) happen at the copy. The numbering of the
 * enums is CUDA's (CUtensorMapDataType, CUtensorMapSwizzle,
 * CUtensorMapFloatOOBfill), so a runtime can pass CUDA's values through. */
enum { EMU_TENSOR_MAP_BYTES = 128 };
enum {
    EMU_TMAP_U8, EMU_TMAP_U16, EMU_TMAP_U32, EMU_TMAP_S32, EMU_TMAP_U64, EMU_TMAP_S64,
    EMU_TMAP_F16, EMU_TMAP_F32, EMU_TMAP_F64, EMU_TMAP_BF16, EMU_TMAP_F32_FTZ, EMU_TMAP_TF32,
    EMU_TMAP_TF32_FTZ, EMU_TMAP_DTYPE_COUNT
};
enum { EMU_TMAP_SWIZZLE_NONE, EMU_TMAP_SWIZZLE_32B, EMU_TMAP_SWIZZLE_64B, EMU_TMAP_SWIZZLE_128B };
enum { EMU_TMAP_OOB_ZERO, EMU_TMAP_OOB_NAN };

typedef struct {
    int dtype;                 /* EMU_TMAP_U8 ... */
    unsigned rank;             /* 1 to 5 */
    const void *global;        /* 16-byte aligned */
    uint64_t dims[5];          /* elements, dims[0] contiguous; 1 to 2^32 */
    uint64_t strides[4];       /* bytes between consecutive indexes of dims 1..rank-1 */
    uint32_t box[5];           /* box extent per dim, 1 to 256 */
    uint32_t elem_strides[5];  /* traversal stride per dim, 1 to 8 (0 means 1) */
    int interleave;            /* only 0 (none) is supported */
    int swizzle;               /* EMU_TMAP_SWIZZLE_* */
    int oob_fill;              /* EMU_TMAP_OOB_* (NaN only for float types) */
} EmuTensorMapDesc;

/* Writes the 128-byte map, or returns -1 with the broken rule in err. */
int emu_tensor_map_encode(void *map, const EmuTensorMapDesc *d, StrBuf *err);

#endif
