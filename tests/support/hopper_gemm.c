/* tests/emu/hopper_gemm.cu through the public API (see hopper_gemm.h). */
#include "hopper_gemm.h"
#include "dtype.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../emu/emu_test.h"

static const tsr_ptx_param_kind plain[] = { TSR_PTX_TENSOR_IN, TSR_PTX_TENSOR_IN, TSR_PTX_TENSOR_OUT };
static const tsr_ptx_param_kind tma[] = { TSR_PTX_TENSOR_MAP, TSR_PTX_TENSOR_MAP, TSR_PTX_TENSOR_OUT, TSR_PTX_I32 };

const tsr_ptx_kernel hopper_gemm_kernels[2] = { { "hopper_gemm", plain, 3 }, { "hopper_tma_gemm", tma, 4 } };

char *hopper_gemm_ptx(char *why, size_t n)
{
    static char *text; /* compiled once per process: nvcc takes seconds */
    const char *nvcc = et_nvcc();
    if (!nvcc) {
        snprintf(why, n, "nvcc not found (set NVCC, put nvcc on the PATH or install the CUDA toolkit in /usr/local/cuda)");
        return NULL;
    }
    if (!text) {
        char dir[512], ptx[640], log[700], cmd[2048];
        snprintf(dir, sizeof dir, "%s/rt-ptx/", et_build_dir());
        et_mkdirs(dir);
        snprintf(ptx, sizeof ptx, "%shopper_gemm.%d.ptx", dir, (int)getpid());
        snprintf(log, sizeof log, "%s.log", ptx);
        snprintf(cmd, sizeof cmd, "'%s' -ptx -arch=sm_90a tests/emu/hopper_gemm.cu -o '%s'", nvcc, ptx);
        et_system(cmd, log);
        text = et_read(ptx);
        unlink(ptx);
        unlink(log);
    }
    char *copy = malloc(strlen(text) + 1);
    strcpy(copy, text);
    return copy;
}

void hopper_gemm_inputs(uint16_t *A, uint16_t *Bt)
{
    EtRng rng = { 11 };
    /* Multiples of 1/8 in [-2, 2]: every product and sum is exact in f32. */
    for (int i = 0; i < HG_ROWS * 64; i++)
        A[i] = f32_to_f16_bits((float)((int)(et_rand(&rng) % 33) - 16) / 8);
    for (int i = 0; i < 64 * 64; i++)
        Bt[i] = f32_to_f16_bits((float)((int)(et_rand(&rng) % 33) - 16) / 8);
}

int hopper_gemm_mismatches(const uint16_t *A, int a_row, const uint16_t *Bt, const float *D)
{
    int bad = 0;
    for (int r = 0; r < 64; r++)
        for (int c = 0; c < 64; c++) {
            double want = 0;
            for (int k = 0; k < 64 && a_row + r < HG_ROWS; k++)
                want += (double)f16_bits_to_f32(A[(a_row + r) * 64 + k]) * f16_bits_to_f32(Bt[c * 64 + k]);
            if (D[r * 64 + c] != (float)want && bad++ < 5)
                print_error("D[%d][%d] = %g, want %g\n", r, c, D[r * 64 + c], want);
        }
    return bad;
}
