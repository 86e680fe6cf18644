/* nvcc's sm_90a PTX of the kernels in tests/emu (plain CUDA or CuTe), and
 * tests/emu/hopper_gemm.cu through the public API: its PTX from nvcc
 * (-arch=sm_90a, compiled at test time), the declarations of its two
 * kernels for tsr_module_load_ptx, inputs, and the check against the
 * product on the host. hopper_gemm(A, Bt, D) stores the tiles itself;
 * hopper_tma_gemm(map A, map Bt, D, a_row) loads them by TMA (boxes of 64 x
 * 64 halves, 128B swizzle): D[64][64] = A[a_row..+64][64] x Bt^T, rows of A
 * past its end as zeros. */
#ifndef TSR_HOPPER_GEMM_H
#define TSR_HOPPER_GEMM_H

#include "tessera.h"

#include <stdbool.h>
#include <stddef.h>

enum { HG_ROWS = 80 }; /* rows of A */

extern const tsr_ptx_kernel hopper_gemm_kernels[2];

/* The PTX (malloc'd), or NULL with the reason to skip in why. */
char *hopper_gemm_ptx(char *why, size_t n);
/* The PTX of tests/emu/<name>.cu from nvcc -arch=sm_90a (malloc'd; compiled
 * once per process), with CUTLASS's headers for CuTe when `cute`; NULL with
 * the reason to skip in why when nvcc or the headers are missing. */
char *hopper_ptx(const char *name, bool cute, char *why, size_t n);
/* CUTLASS's include directory (PyPI nvidia-cutlass, installed by
 * scripts/deps.sh): $CUTLASS_INCLUDE, else
 * ~/.cache/tessera/pip/cutlass_library/source/include; NULL when absent. */
const char *cutlass_include(char *buf, size_t n);
/* Fills A (HG_ROWS x 64) and Bt (64 x 64) with small halves, exact in f32 sums. */
void hopper_gemm_inputs(uint16_t *A, uint16_t *Bt);
/* How many elements of D differ from the product (printing the first). */
int hopper_gemm_mismatches(const uint16_t *A, int a_row, const uint16_t *Bt, const float *D);
/* n halves, multiples of 1/8 in [-2, 2] (products and sums exact in f32). */
void hopper_small_halves(uint16_t *p, size_t n, uint64_t seed);
/* How many elements of D[64][64] differ from A[64][k] x Bt[64][k]^T, rows of
 * A from a_rows on taken as zeros (printing the first). */
int hopper_nt_mismatches(const uint16_t *A, int a_rows, const uint16_t *Bt, const float *D, int k);

#endif
