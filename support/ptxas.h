/* Running NVIDIA's ptxas on generated PTX and reading its resource report
 * (registers, spills, stack, shared memory). A developer's tool, for the
 * tests (which skip without ptxas) and `tessera-bench ptxas`; the library
 * itself never needs ptxas. */
#ifndef TSR_PTXAS_H
#define TSR_PTXAS_H

#include "util.h"

typedef struct {
    int registers;
    int spill_stores, spill_loads; /* bytes */
    int stack;                     /* bytes of stack frame */
    int smem;                      /* bytes of static shared memory */
} PtxasReport;

/* Writes the ptxas to use into buf: $PTXAS, /usr/local/cuda/bin/ptxas, or
 * one on PATH. False when there is none. */
bool ptxas_find(char *buf, size_t n);
/* Assembles ptx for arch (e.g. "sm_90a") with `ptxas -v`; false, with
 * ptxas' output in log, when it rejects the PTX. */
bool ptxas_check(const char *ptxas, const char *ptx, const char *arch, PtxasReport *rep, StrBuf *log);

#endif
