/* A stand-in for libcuda.so.1 that runs kernels on the emulator, so that the
 * GPU recording path (hwprep.sh, hwrun.sh, hwrecord.c) can be dry-run on a
 * machine without a GPU: "device memory" is host memory, cuLaunchKernel is
 * emu_launch with every allocation registered. Only the calls hwrecord makes
 * exist. Built by tests/emu/hwprep.sh --dry-run; never part of the library. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu.h"

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

typedef struct {
    EmuModule *m;
    char name[256];
} Fn;

enum { MAXBUF = 256 };
static EmuRegion bufs[MAXBUF];
static int nbufs;
static StrBuf last_error;

#define API __attribute__((visibility("default")))

API CUresult cuInit(unsigned flags) { return 0; }
API CUresult cuDeviceGet(int *d, int ordinal)
{
    *d = 0;
    return ordinal == 0 ? 0 : 101;
}
API CUresult cuDeviceGetName(char *name, int len, int dev)
{
    snprintf(name, (size_t)len, "Tessera PTX emulator (fake libcuda)");
    return 0;
}
API CUresult cuDriverGetVersion(int *v)
{
    *v = 13000;
    return 0;
}
API CUresult cuCtxCreate_v2(void **ctx, unsigned flags, int dev)
{
    *ctx = &bufs;
    return 0;
}
API CUresult cuCtxSynchronize(void) { return 0; }
API CUresult cuModuleLoadDataEx(void **mod, const void *image, unsigned n, int *opts, void **vals)
{
    EmuModule *m;
    sb_free(&last_error);
    if (emu_module_load(image, strlen(image), &m, &last_error)) {
        fprintf(stderr, "fakecuda: %s\n", last_error.data);
        return 218; /* CUDA_ERROR_INVALID_PTX */
    }
    *mod = m;
    return 0;
}
API CUresult cuModuleUnload(void *mod)
{
    emu_module_free(mod);
    return 0;
}
API CUresult cuModuleGetFunction(void **fn, void *mod, const char *name)
{
    EmuKernelInfo ki;
    StrBuf err;
    sb_init(&err);
    int rc = emu_kernel_info(mod, name, &ki, &err);
    sb_free(&err);
    if (rc)
        return 500; /* CUDA_ERROR_NOT_FOUND */
    Fn *f = calloc(1, sizeof *f);
    f->m = mod;
    snprintf(f->name, sizeof f->name, "%s", name);
    *fn = f; /* leaked: a dry run is short */
    return 0;
}
API CUresult cuFuncSetAttribute(void *fn, int attr, int value) { return 0; }
API CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n)
{
    if (nbufs == MAXBUF)
        return 2;
    void *mem = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!mem)
        return 2;
    bufs[nbufs++] = (EmuRegion){mem, n, true};
    *p = (CUdeviceptr)(uintptr_t)mem;
    return 0;
}
API CUresult cuMemFree_v2(CUdeviceptr p)
{
    for (int i = 0; i < nbufs; i++)
        if ((uintptr_t)bufs[i].base == p) {
            free((void *)bufs[i].base);
            bufs[i] = bufs[--nbufs];
            return 0;
        }
    return 1;
}
API CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n)
{
    memcpy((void *)(uintptr_t)d, s, n);
    return 0;
}
API CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n)
{
    memcpy(d, (const void *)(uintptr_t)s, n);
    return 0;
}
API CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n)
{
    memset((void *)(uintptr_t)d, v, n);
    return 0;
}
API CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                            unsigned by, unsigned bz, unsigned smem, void *stream, void **params,
                            void **extra)
{
    Fn *f = fn;
    EmuLaunch L = {.grid = {gx, gy, gz}, .block = {bx, by, bz}, .dyn_smem = smem,
                   .regions = bufs, .nregions = nbufs, .check_races = true,
                   .check_uninit = true, .host_threads = 2};
    sb_free(&last_error);
    if (emu_launch(f->m, f->name, params, &L, &last_error)) {
        fprintf(stderr, "fakecuda: %s\n", last_error.data);
        return 719; /* CUDA_ERROR_LAUNCH_FAILED */
    }
    return 0;
}
API CUresult cuGetErrorString(CUresult r, const char **s)
{
    *s = r == 0 ? "no error" : "error (see the fakecuda message above)";
    return 0;
}
