/* Differential testing of code generation: a kernel runs on the
 * interpreter and, compiled to PTX, on the emulator, on the same random
 * inputs (poisoned outputs); every output element must be written by both
 * (unless the case says which part a kernel leaves alone) and agree within
 * rounding. */
#ifndef TSR_DIFF_RUN_H
#define TSR_DIFF_RUN_H

#include "testutil.h"

typedef struct {
    const char *name;
    int64_t value;
} SymValue;

typedef struct {
    const char *file, *kernel;
    Define defs[6];
    int ndefs;
    SymValue syms[4];
    int nsyms;
    double scalar; /* value of every scalar parameter */
    /* Elements of the outputs the kernel does not store by design (0 for
     * kernels that write every element); the devices must agree on which. */
    int64_t unwritten;
} Case;

/* How an output of a device compares with the reference's (the
 * interpreter's), both poisoned before the launch (tensor_poison). */
typedef struct {
    int64_t unwritten;      /* elements the reference left poisoned */
    int64_t written_differ; /* elements one of them wrote and the other did not */
    int64_t values_differ;  /* elements both wrote with values further apart than the tolerance */
    int64_t first;          /* the first element of either kind of difference, or -1 */
} OutputDiff;

/* Elements agree when both are NaN, equal, or |ref - dev| <= abs_tol +
 * rel_tol * |ref|. */
OutputDiff output_diff(const HostTensor *ref, const HostTensor *dev, double abs_tol, double rel_tol);

/* Fails the test on any difference, naming the case. */
void diff_run(const Case *c);
/* The same with the emulator's code for `target` (NULL: the default),
 * compiled persistent and launched on `persistent_blocks` blocks when that
 * is more than 0 (emu_run.h). */
void diff_run_on(const Case *c, const char *target, int persistent_blocks);

#endif
