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
    int host_threads;
    uint64_t warp_insns; /* out */
    char **ptx;          /* when not NULL, receives the PTX run (malloc'd), also when the launch fails */
} EmuRunOptions;

/* f is not changed: the interpreter can run it before or after. */
bool emu_run_kernel(TirFunc *f, const KernelArg *args, int nargs, EmuRunOptions *o, StrBuf *err);

#endif
