/* Records the outputs of the emulator's GPU cases on a real GPU, for
 * tests/test_emu_hw.c to compare with the emulator.
 *
 *   hwrecord CASES PTXDIR OUTDIR [NAME...]
 *
 * reads the case list (format in hwcase.h), loads PTXDIR/<ptx>.ptx through
 * the CUDA driver, runs each case (or the named ones) on device 0 with the
 * inputs hwcase.h generates (tensor maps encoded by the driver's
 * cuTensorMapEncodeTiled), and writes OUTDIR/<case>.out. libcuda.so.1 is
 * opened with dlopen: the program builds without CUDA headers or libraries
 * and says clearly when no driver is there. Standalone on purpose: it is
 * compiled on the GPU machine by tests/emu/hwrun.sh. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hwcase.h"

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef unsigned long long CUdeviceptr;

enum { CU_JIT_ERROR_LOG_BUFFER = 5, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6 };
enum { CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };

static struct {
    CUresult (*Init)(unsigned);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DeviceGetName)(char *, int, CUdevice);
    CUresult (*CtxCreate)(CUcontext *, unsigned, CUdevice);
    CUresult (*CtxSynchronize)(void);
    CUresult (*ModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
    CUresult (*ModuleUnload)(CUmodule);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*FuncSetAttribute)(CUfunction, int, int);
    CUresult (*MemAlloc)(CUdeviceptr *, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*MemsetD8)(CUdeviceptr, unsigned char, size_t);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, void *, void **, void **);
    CUresult (*GetErrorString)(CUresult, const char **);
    CUresult (*DriverGetVersion)(int *);
    /* optional (drivers before CUDA 12 lack it): only the map cases need it */
    CUresult (*TensorMapEncodeTiled)(void *, int, uint32_t, void *, const uint64_t *,
                                     const uint64_t *, const uint32_t *, const uint32_t *, int,
                                     int, int, int);
} cu;

static int load_driver(void)
{
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "hwrecord: cannot open libcuda.so.1 (%s): no NVIDIA driver here\n",
                dlerror());
        return -1;
    }
    struct {
        void **slot;
        const char *name;
    } syms[] = {
        {(void **)&cu.Init, "cuInit"},
        {(void **)&cu.DeviceGet, "cuDeviceGet"},
        {(void **)&cu.DeviceGetName, "cuDeviceGetName"},
        {(void **)&cu.CtxCreate, "cuCtxCreate_v2"},
        {(void **)&cu.CtxSynchronize, "cuCtxSynchronize"},
        {(void **)&cu.ModuleLoadDataEx, "cuModuleLoadDataEx"},
        {(void **)&cu.ModuleUnload, "cuModuleUnload"},
        {(void **)&cu.ModuleGetFunction, "cuModuleGetFunction"},
        {(void **)&cu.FuncSetAttribute, "cuFuncSetAttribute"},
        {(void **)&cu.MemAlloc, "cuMemAlloc_v2"},
        {(void **)&cu.MemFree, "cuMemFree_v2"},
        {(void **)&cu.MemcpyHtoD, "cuMemcpyHtoD_v2"},
        {(void **)&cu.MemcpyDtoH, "cuMemcpyDtoH_v2"},
        {(void **)&cu.MemsetD8, "cuMemsetD8_v2"},
        {(void **)&cu.LaunchKernel, "cuLaunchKernel"},
        {(void **)&cu.GetErrorString, "cuGetErrorString"},
        {(void **)&cu.DriverGetVersion, "cuDriverGetVersion"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].slot = dlsym(h, syms[i].name);
        if (!*syms[i].slot) {
            fprintf(stderr, "hwrecord: libcuda.so.1 lacks %s\n", syms[i].name);
            return -1;
        }
    }
    *(void **)&cu.TensorMapEncodeTiled = dlsym(h, "cuTensorMapEncodeTiled");
    return 0;
}

/* Encodes the tensor map of param p into map (64-aligned) over the buffer at
 * global: no interleave, L2 promotion 128 B (2), zero fill. */
static CUresult encode_map(const HwParam *p, CUdeviceptr global, void *map)
{
    const HwMap *m = &p->map;
    static const int swizzle[] = {0, 1, 2, 0, 3}; /* by swizzle / 32 */
    if (!cu.TensorMapEncodeTiled) {
        fprintf(stderr, "hwrecord: libcuda.so.1 lacks cuTensorMapEncodeTiled\n");
        return 1;
    }
    return cu.TensorMapEncodeTiled(map, hw_map_dtype(p->type), m->rank, (void *)(uintptr_t)global,
                                   m->dims, m->strides, m->box, m->estrides, 0,
                                   swizzle[m->swizzle / 32], 2, 0);
}

static const char *errstr(CUresult r)
{
    const char *s = NULL;
    if (cu.GetErrorString(r, &s) != 0 || !s)
        s = "unknown error";
    return s;
}

#define CHECK(call, what)                                                                      \
    do {                                                                                       \
        CUresult r_ = (call);                                                                  \
        if (r_ != 0) {                                                                         \
            fprintf(stderr, "hwrecord: case %s: %s failed: %s (%d)\n", c->name, what, errstr(r_), \
                    r_);                                                                       \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = 0;
    fclose(f);
    return s;
}

/* Runs one case; returns 0 on success. */
static int run_case(const HwCase *c, const char *ptxdir, const char *outdir, const char *device)
{
    char path[1024], log[8192] = "";
    snprintf(path, sizeof path, "%s/%s.ptx", ptxdir, c->ptx);
    char *ptx = read_file(path);
    if (!ptx) {
        fprintf(stderr, "hwrecord: case %s: cannot read %s\n", c->name, path);
        return -1;
    }
    CUmodule mod = NULL;
    CUfunction fn = NULL;
    CUdeviceptr dev[HW_MAXPARAMS] = {0};
    _Alignas(64) uint8_t maps[HW_MAXPARAMS][HW_MAP_BYTES];
    uint8_t *host[HW_MAXPARAMS] = {0};
    void *args[HW_MAXPARAMS];
    int rc = -1;
    int opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[2] = {log, (void *)(uintptr_t)sizeof log};
    CUresult lr = cu.ModuleLoadDataEx(&mod, ptx, 2, opts, vals);
    if (lr != 0) {
        fprintf(stderr, "hwrecord: case %s: loading %s failed: %s\n%s\n", c->name, path,
                errstr(lr), log);
        goto fail;
    }
    CHECK(cu.ModuleGetFunction(&fn, mod, c->kernel), "cuModuleGetFunction");
    if (c->dyn_smem > 48 * 1024)
        CHECK(cu.FuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                  (int)c->dyn_smem),
              "cuFuncSetAttribute");
    for (int i = 0; i < c->nparams; i++) {
        const HwParam *p = &c->p[i];
        if (p->kind == 's') {
            args[i] = (void *)p->scalar;
            continue;
        }
        if (p->kind == 'm')
            continue; /* after the buffers */
        size_t n = hw_bytes(p);
        host[i] = malloc(n);
        if (!host[i])
            goto fail;
        CHECK(cu.MemAlloc(&dev[i], n), "cuMemAlloc");
        if (p->kind == 'i') {
            hw_fill(p, host[i]);
            CHECK(cu.MemcpyHtoD(dev[i], host[i], n), "cuMemcpyHtoD");
        } else {
            CHECK(cu.MemsetD8(dev[i], 0xcd, n), "cuMemsetD8");
        }
        args[i] = &dev[i];
    }
    for (int i = 0; i < c->nparams; i++)
        if (c->p[i].kind == 'm') {
            CHECK(encode_map(&c->p[i], dev[c->p[i].map.buffer], maps[i]), "cuTensorMapEncodeTiled");
            args[i] = maps[i];
        }
    CHECK(cu.LaunchKernel(fn, c->grid[0], c->grid[1], c->grid[2], c->block[0], c->block[1],
                          c->block[2], c->dyn_smem, NULL, args, NULL),
          "cuLaunchKernel");
    CHECK(cu.CtxSynchronize(), "the kernel");
    snprintf(path, sizeof path, "%s/%s.out", outdir, c->name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "hwrecord: cannot write %s\n", path);
        goto fail;
    }
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f, "# case %s, recorded on %s, %s\n", c->name, device, date);
    for (int i = 0; i < c->nparams; i++)
        if (c->p[i].kind == 'o') {
            size_t n = hw_bytes(&c->p[i]);
            CHECK(cu.MemcpyDtoH(host[i], dev[i], n), "cuMemcpyDtoH");
            hw_write_out(f, i, host[i], n);
        }
    if (fclose(f) != 0)
        goto fail;
    printf("hwrecord: %s ok\n", c->name);
    rc = 0;
fail:
    for (int i = 0; i < c->nparams; i++) {
        if (dev[i])
            cu.MemFree(dev[i]);
        free(host[i]);
    }
    if (mod)
        cu.ModuleUnload(mod);
    free(ptx);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hwrecord CASES PTXDIR OUTDIR [NAME...]\n");
        return 2;
    }
    if (load_driver())
        return 1;
    CUdevice devno;
    CUcontext ctx;
    char name[256] = "?", device[320];
    int ver = 0;
    if (cu.Init(0) != 0 || cu.DeviceGet(&devno, 0) != 0 || cu.CtxCreate(&ctx, 0, devno) != 0) {
        fprintf(stderr, "hwrecord: no usable CUDA device\n");
        return 1;
    }
    cu.DeviceGetName(name, (int)sizeof name, devno);
    cu.DriverGetVersion(&ver);
    snprintf(device, sizeof device, "%s (driver %d.%d)", name, ver / 1000, ver % 1000 / 10);
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "hwrecord: cannot read %s\n", argv[1]);
        return 1;
    }
    char line[2048];
    int lineno = 0, failed = 0, done = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        HwCase c;
        int k = hw_parse(line, &c);
        if (k < 0) {
            fprintf(stderr, "hwrecord: %s:%d: malformed case\n", argv[1], lineno);
            failed++;
            continue;
        }
        if (k == 0)
            continue;
        int wanted = argc == 4;
        for (int i = 4; i < argc; i++)
            wanted |= !strcmp(argv[i], c.name);
        if (!wanted)
            continue;
        if (run_case(&c, argv[2], argv[3], device))
            failed++;
        done++;
    }
    fclose(f);
    printf("hwrecord: %d cases on %s, %d failed\n", done, device, failed);
    return failed ? 1 : 0;
}
