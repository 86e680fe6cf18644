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

const char *cutlass_include(char *buf, size_t n)
{
    const char *e = getenv("CUTLASS_INCLUDE");
    if (e && *e)
        snprintf(buf, n, "%s", e);
    else
        snprintf(buf, n, "%s/.cache/tessera/pip/cutlass_library/source/include", getenv("HOME") ? getenv("HOME") : "");
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/cute/atom/mma_traits_sm90_gmma.hpp", buf);
    return access(probe, R_OK) == 0 ? buf : NULL;
}

char *hopper_ptx(const char *name, bool cute, char *why, size_t n)
{
    static struct {
        char name[32];
        char *text;
    } done[8]; /* compiled once per process: nvcc takes seconds (CuTe: tens) */
    const char *nvcc = et_nvcc();
    char inc[1024];
    if (!nvcc) {
        snprintf(why, n, "nvcc not found (set NVCC, put nvcc on the PATH or install the CUDA toolkit in /usr/local/cuda)");
        return NULL;
    }
    if (cute && !cutlass_include(inc, sizeof inc)) {
        snprintf(why, n, "CUTLASS headers not found (pip install nvidia-cutlass: scripts/deps.sh, or set CUTLASS_INCLUDE)");
        return NULL;
    }
    size_t i = 0;
    while (i < TSR_ARRAY_LEN(done) && done[i].text && strcmp(done[i].name, name))
        i++;
    assert_true(i < TSR_ARRAY_LEN(done));
    if (!done[i].text) {
        char dir[512], ptx[640], log[700], cmd[3000], flags[1100] = "";
        snprintf(dir, sizeof dir, "%s/rt-ptx/", et_build_dir());
        et_mkdirs(dir);
        snprintf(ptx, sizeof ptx, "%s%s.%d.ptx", dir, name, (int)getpid());
        snprintf(log, sizeof log, "%s.log", ptx);
        if (cute)
            snprintf(flags, sizeof flags, "-std=c++17 --expt-relaxed-constexpr -I'%s' ", inc);
        snprintf(cmd, sizeof cmd, "'%s' %s-ptx -arch=sm_90a tests/emu/%s.cu -o '%s'", nvcc, flags, name, ptx);
        et_system(cmd, log);
        done[i].text = et_read(ptx);
        snprintf(done[i].name, sizeof done[i].name, "%s", name);
        unlink(ptx);
        unlink(log);
    }
    char *copy = malloc(strlen(done[i].text) + 1);
    strcpy(copy, done[i].text);
    return copy;
}

char *hopper_gemm_ptx(char *why, size_t n)
{
    return hopper_ptx("hopper_gemm", false, why, n);
}

void hopper_small_halves(uint16_t *p, size_t n, uint64_t seed)
{
    EtRng rng = { seed };
    /* Multiples of 1/8 in [-2, 2]: every product and sum is exact in f32. */
    for (size_t i = 0; i < n; i++)
        p[i] = f32_to_f16_bits((float)((int)(et_rand(&rng) % 33) - 16) / 8);
}

void hopper_gemm_inputs(uint16_t *A, uint16_t *Bt)
{
    hopper_small_halves(A, HG_ROWS * 64, 11);
    hopper_small_halves(Bt, 64 * 64, 12);
}

int hopper_nt_mismatches(const uint16_t *A, int a_rows, const uint16_t *Bt, const float *D, int k)
{
    int bad = 0;
    for (int r = 0; r < 64; r++)
        for (int c = 0; c < 64; c++) {
            double want = 0;
            for (int i = 0; i < k && r < a_rows; i++)
                want += (double)f16_bits_to_f32(A[r * k + i]) * f16_bits_to_f32(Bt[c * k + i]);
            if (D[r * 64 + c] != (float)want && bad++ < 5)
                print_error("D[%d][%d] = %g, want %g\n", r, c, D[r * 64 + c], want);
        }
    return bad;
}

int hopper_gemm_mismatches(const uint16_t *A, int a_row, const uint16_t *Bt, const float *D)
{
    return hopper_nt_mismatches(A + a_row * 64, HG_ROWS - a_row, Bt, D, 64);
}
