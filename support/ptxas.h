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
    /* "(C75xx)" diagnostics: wgmma serialized, or a warpgroup fence or wait
     * that ptxas had to inject (printed only with -v) */
    int c75xx;
} PtxasReport;

/* Machine instructions of the assembled kernel, counted by nvdisasm. */
typedef struct {
    int instructions;
    int hmma, ldsm, mufu; /* tensor-core mma, ldmatrix, special-function (ex2, lg2, rcp) */
    int hgmma;            /* warpgroup mma (wgmma) on 16-bit inputs */
    int qgmma;            /* warpgroup mma on fp8 inputs (wgmma k32 e4m3/e5m2) */
    int ldgsts, utmaldg;  /* cp.async copies, TMA tensor loads */
    int usetmaxreg;       /* register reallocation (setmaxnreg) */
    int wgmma_wait_deep;  /* WARPGROUP.DEPBAR.LE gsb0, N with N > 0: waits leaving wgmma groups in flight */
} SassCounts;

/* Writes the ptxas to use into buf: $PTXAS, /usr/local/cuda/bin/ptxas, or
 * one on PATH. False when there is none. */
bool ptxas_find(char *buf, size_t n);
/* Likewise nvdisasm ($NVDISASM, /usr/local/cuda/bin/nvdisasm, PATH, or
 * PyPI's nvidia-cuda-nvdisasm where scripts/deps.sh installs it), which the
 * CUDA toolkit of GPU machines has and Debian's build machines lack. */
bool nvdisasm_find(char *buf, size_t n);
/* Assembles ptx for arch (e.g. "sm_90a") with `ptxas -v`; false, with
 * ptxas' output in log, when it rejects the PTX. With nvdisasm (else NULL),
 * also counts the machine instructions into sass. */
bool ptxas_check(const char *ptxas, const char *ptx, const char *arch, PtxasReport *rep, StrBuf *log);
bool ptxas_check_sass(const char *ptxas, const char *nvdisasm, const char *ptx, const char *arch, PtxasReport *rep,
                      SassCounts *sass, StrBuf *log);
/* As ptxas_check_sass, but appends nvdisasm's listing (`nvdisasm -c`) to
 * listing instead of counting it (nothing without nvdisasm). */
bool ptxas_check_listing(const char *ptxas, const char *nvdisasm, const char *ptx, const char *arch, PtxasReport *rep,
                         StrBuf *listing, StrBuf *log);
/* Counts the instructions in the text `nvdisasm -c` prints. */
void ptxas_count_sass(const char *text, SassCounts *c);

#endif
