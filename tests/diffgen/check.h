/* Running one program everywhere (issue 20): a .tsr text with the header
 * lines of gen.h (`//!` defines, `//@` sizes and scalar arguments, `//%`
 * output tolerances) runs on random inputs on the interpreter with the
 * passes on (the meaning), and compared with it, on the interpreter with
 * the optimizations off and on the PTX emulator for sm_80 (sm_89 when the
 * program uses fp8) and sm_90a with
 * them on and off, with the emulator's race, uninitialised-register and
 * bounds checks on. Outputs are poisoned: both must write the same
 * elements. Where ptxas is found (support/ptxas.h; TSR_DIFFGEN_NO_PTXAS=1
 * turns it off), the PTX of the configurations with the passes on must
 * assemble too. Programs written by hand (tests/programs/diffgen/) use the
 * same header lines. */
#ifndef TSR_DIFFGEN_CHECK_H
#define TSR_DIFFGEN_CHECK_H

#include "testutil.h"

typedef enum {
    V_OK,
    V_REJECTED, /* code generation refused it for a documented limit (a dot too big for the CUDA cores) */
    V_INVALID,  /* does not compile: a generator bug, or a frontend that refuses a valid program */
    V_MISMATCH, /* an output differs from the interpreter's, or other elements are written */
    V_FAIL,     /* a device reported an error: code generation, a race, an uninitialised read, bounds */
    V_CRASH,    /* the process died (fuzz-diff runs each program in a child) */
    V_TIMEOUT,
    V_COUNT
} Verdict;

extern const char *const verdict_names[V_COUNT];
/* One word per verdict, for the `//?` lines of known bugs (test_diffgen):
 * ok, rejected, invalid, mismatch, fail, crash, timeout. */
extern const char *const verdict_keys[V_COUNT];

typedef struct {
    Verdict v;
    char msg[1536];
} CheckResult;

/* Runs the program on every configuration with inputs from seed; stops at
 * the first difference. */
CheckResult check_program(const char *name, const char *text, uint64_t seed);

/* Adds a configuration that runs through the public API (tessera.h) on a
 * context of that device (cuda on a GPU machine, the emulator, or the mock
 * driver), the tensors copied to device memory with their strides; with
 * only, the interpreter's reference and that configuration alone run.
 * TSR_DEVICE_AUTO (the default) adds none. */
/* The PTX of a generated program (its `//` header's defines) for target,
 * malloc'd; NULL when it does not compile. */
char *check_ptx(const char *text, const char *target);

void check_set_runtime_device(int kind, bool only);

#endif
