/* Differential testing of code generation: a kernel runs on the
 * interpreter and, compiled to PTX, on the emulator, on the same random
 * inputs (poisoned outputs); every output element must agree within
 * rounding, and what one leaves unwritten the other must leave too. */
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
} Case;

/* Fails the test on any difference, naming the case. */
void diff_run(const Case *c);

#endif
