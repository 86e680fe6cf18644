/* Test utility: compiles a kernel's TIR to PTX and runs it on the emulator
 * with host tensors, packing parameters per backend/abi.h. (The runtime's
 * emu device does the same for API users; tests of code generation use this
 * to compare the emulator with the interpreter without the API around it.) */
#ifndef TSR_EMU_RUN_H
#define TSR_EMU_RUN_H

#include "interp.h"

typedef struct {
    const char *target;  /* NULL: the default target (target_default()) */
    bool check_races, check_uninit;
    bool no_warp_specialize; /* CodegenOptions.no_warp_specialize */
    bool no_overlap;         /* CodegenOptions.no_overlap */
    bool no_pingpong;        /* CodegenOptions.no_pingpong */
    /* > 0: compiled persistent (CodegenOptions.persistent) and launched on
     * min(instances, persistent_blocks) blocks, as the runtime does */
    int persistent_blocks;
    int host_threads;
    uint64_t warp_insns; /* out */
    char **ptx;          /* when not NULL, receives the PTX run (malloc'd), also when the launch fails */
} EmuRunOptions;

/* f is not changed: the interpreter can run it before or after. */
bool emu_run_kernel(TirFunc *f, const KernelArg *args, int nargs, EmuRunOptions *o, StrBuf *err);

/* The places a language test runs a kernel: the interpreter, then the
 * emulator with the code of each target family (race and uninitialized-read
 * checks on, two host threads), then sm_90a's code compiled persistent
 * (CodegenOptions.persistent) on 3 blocks. */
enum { RUN_PLACES = 4 };
extern const char *const run_places[RUN_PLACES]; /* "interp", "sm_80", "sm_90a", "sm_90a persistent" */
bool run_kernel_at(TirFunc *f, const KernelArg *args, int nargs, int place, StrBuf *err);
/* The same in a cmocka test: a failed launch fails the test with its error. */
void run_kernel_at_or_fail(TirFunc *f, const KernelArg *args, int nargs, int place);

#endif
