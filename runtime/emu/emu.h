/* The emu device: a PTX emulator that runs kernels on the CPU with warp
 * semantics (32-lane warps, divergence and reconvergence, barriers, shuffles,
 * mma/ldmatrix fragments, asynchronous cp.async), and checks what a GPU would
 * let pass: out-of-bounds and misaligned accesses, shared-memory races, reads
 * of registers never written, deadlocks at barriers.
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

/* Parses and decodes a PTX module (text of `len` bytes, NUL not required).
 * Returns 0 and sets *out, or returns -1 with "ptx:LINE: error: ..." in err. */
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

/* Counters a launch can return. */
typedef struct {
    uint64_t warp_insns;   /* instructions issued by warps */
    uint64_t thread_insns; /* sum over those of the lanes they ran for */
    uint64_t ctas;
} EmuStats;

typedef struct {
    unsigned grid[3], block[3];
    size_t dyn_smem;           /* bytes of dynamic (.extern) shared memory */
    const EmuRegion *regions;  /* buffers the kernel may access */
    int nregions;
    bool check_races;          /* shared-memory race detector (slower) */
    bool check_uninit;         /* reads of registers never written (slower) */
    int host_threads;          /* CTAs run on this many host threads; 0 or 1: one */
    uint64_t max_warp_insns;   /* stop with an error past this many; 0: 2^36 */
    EmuStats *stats;           /* optional: filled on return */
} EmuLaunch;

/* Runs a kernel to completion. args[i] points to the value of parameter i
 * (as with cuLaunchKernel's kernelParams), of the size emu_kernel_info gives.
 * Returns 0, or -1 with a message naming the kernel, the PTX line, the
 * thread (ctaid, tid) and the address where one applies. */
int emu_launch(EmuModule *m, const char *kernel, void **args, const EmuLaunch *launch,
               StrBuf *err);

#endif
