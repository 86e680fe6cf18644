/* Test utility: runs NVIDIA's ptxas on generated PTX and reads its resource
 * report. Tests skip (with the reason) when ptxas is absent. */
#ifndef TSR_PTXAS_H
#define TSR_PTXAS_H

#include "util.h"

typedef struct {
    int registers;
    int spill_stores, spill_loads; /* bytes */
    int stack;                     /* bytes of stack frame */
    int smem;                      /* bytes of static shared memory */
} PtxasReport;

/* The ptxas to use ($PTXAS, /usr/local/cuda/bin/ptxas or one on PATH), or NULL. */
const char *ptxas_path(void);
/* Assembles ptx for arch (e.g. "sm_90a"); false with ptxas' output in log
 * when it rejects the PTX. */
bool ptxas_check(const char *ptx, const char *arch, PtxasReport *rep, StrBuf *log);

#endif
