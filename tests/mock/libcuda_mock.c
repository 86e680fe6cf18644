/* A mock of the CUDA driver (libcuda.so.1) for tests/test_runtime_cuda.c:
 * just enough of the driver API for the runtime's cuda device, with kernels
 * run by the PTX emulator and "device memory" from malloc. It checks what a
 * real driver would refuse: calls without a current context, unbalanced
 * context pushes and pops, dynamic shared memory above 48 KB without the
 * opt-in attribute, more threads than a function allows, accesses outside
 * allocated memory. The runtime opens it through TESSERA_LIBCUDA.
 *
 * Environment knobs, read at each call: MOCK_CUDA_CC (compute capability as
 * 80, 90, ...; default 80), MOCK_CUDA_NO_DEVICE, MOCK_CUDA_FUNC_MAX_THREADS,
 * MOCK_CUDA_FAIL_LOAD, MOCK_CUDA_FAIL_LAUNCH, MOCK_CUDA_FAULT (a launch
 * succeeds, the next synchronization reports a fault), MOCK_CUDA_OOM.
 * mock_cuda_stats() tells the test what happened, mock_cuda_tensor_maps() the
 * last tensor map asked for (libcuda_mock.h); the maps are the emulator's
 * encoding, so kernels that use them run. Streams are tokens: a
 * launch, copy or synchronization on a stream that is not live fails with
 * CUDA_ERROR_INVALID_HANDLE. Launches hold one lock, so threads may launch
 * at once. */
#include "emu/emu.h"
#include "libcuda_mock.h"

#include <cuda.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

struct CUctx_st {
    int dummy;
};
struct CUfunc_st {
    struct CUmod_st *mod;
    char name[256];
    int max_dyn_smem; /* the opt-in set with cuFuncSetAttribute */
};
struct CUmod_st {
    EmuModule *emu;
    struct CUfunc_st funcs[16]; /* live as long as the module, as the driver's */
    int nfuncs;
};

typedef struct {
    long launches, loads, set_smem_calls, last_set_smem;
    unsigned last_grid[3], last_block[3], last_smem;
    int live_allocs;
    void *last_stream; /* of the last launch */
    int live_streams;
} MockStats;

struct CUstream_st {
    int live;
};
static CUstream streams[64];
static int nstreams;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static MockStats stats;
static struct CUctx_st primary;
static int primary_refs;
static CUresult sticky = CUDA_SUCCESS;
static _Thread_local int depth; /* contexts pushed on this thread */

typedef struct {
    char *p;
    size_t n;
} Alloc;
static Alloc allocs[1024];
static int nallocs;

static int knob(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

EXPORT MockStats mock_cuda_stats(void)
{
    pthread_mutex_lock(&lock);
    MockStats s = stats;
    s.live_allocs = nallocs;
    s.live_streams = nstreams;
    pthread_mutex_unlock(&lock);
    return s;
}

EXPORT int mock_cuda_depth(void) { return depth; }

#define NEED_CONTEXT()                                                                                            \
    do {                                                                                                          \
        if (depth <= 0)                                                                                           \
            return CUDA_ERROR_INVALID_CONTEXT;                                                                    \
    } while (0)

EXPORT CUresult CUDAAPI cuInit(unsigned int flags)
{
    (void)flags;
    return knob("MOCK_CUDA_NO_DEVICE", 0) ? CUDA_ERROR_NO_DEVICE : CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuDriverGetVersion(int *v)
{
    *v = 12040;
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuDeviceGetCount(int *n)
{
    *n = 1;
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuDeviceGet(CUdevice *d, int ordinal)
{
    if (ordinal != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *d = 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice dev)
{
    (void)dev;
    snprintf(name, (size_t)len, "Tessera mock GPU");
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuDeviceGetAttribute(int *pi, CUdevice_attribute a, CUdevice dev)
{
    (void)dev;
    int cc = knob("MOCK_CUDA_CC", 80);
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = cc / 10; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = cc % 10; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *pi = cc >= 90 ? 232448 : 166912; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *pi = 2147483647; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *pi = 65535; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    (void)dev;
    pthread_mutex_lock(&lock);
    primary_refs++;
    pthread_mutex_unlock(&lock);
    *pctx = &primary;
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev)
{
    (void)dev;
    pthread_mutex_lock(&lock);
    CUresult r = primary_refs > 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
    primary_refs -= primary_refs > 0;
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult CUDAAPI cuCtxPushCurrent(CUcontext ctx)
{
    if (ctx != &primary)
        return CUDA_ERROR_INVALID_CONTEXT;
    depth++;
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuCtxPopCurrent(CUcontext *pctx)
{
    if (depth <= 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    depth--;
    *pctx = &primary;
    return CUDA_SUCCESS;
}

static CUresult take_sticky(void)
{
    pthread_mutex_lock(&lock);
    CUresult r = sticky;
    sticky = CUDA_SUCCESS;
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult CUDAAPI cuCtxSynchronize(void)
{
    NEED_CONTEXT();
    return take_sticky();
}

/* NULL (the default stream) or a live stream; lock held. */
static bool stream_ok(CUstream s)
{
    for (int i = 0; i < nstreams; i++)
        if (streams[i] == s)
            return true;
    return s == NULL;
}

EXPORT CUresult CUDAAPI cuStreamCreate(CUstream *s, unsigned int flags)
{
    NEED_CONTEXT();
    if (flags != CU_STREAM_DEFAULT && flags != CU_STREAM_NON_BLOCKING)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
    if (nstreams < 64 && (*s = calloc(1, sizeof **s))) {
        (*s)->live = 1;
        streams[nstreams++] = *s;
        r = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult CUDAAPI cuStreamDestroy_v2(CUstream s)
{
    NEED_CONTEXT();
    pthread_mutex_lock(&lock);
    CUresult r = CUDA_ERROR_INVALID_HANDLE;
    for (int i = 0; i < nstreams; i++)
        if (streams[i] == s) {
            streams[i] = streams[--nstreams];
            free(s);
            r = CUDA_SUCCESS;
            break;
        }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult CUDAAPI cuStreamSynchronize(CUstream s)
{
    NEED_CONTEXT();
    pthread_mutex_lock(&lock);
    bool ok = stream_ok(s);
    pthread_mutex_unlock(&lock);
    return ok ? take_sticky() : CUDA_ERROR_INVALID_HANDLE;
}

static void put_log(unsigned n, CUjit_option *opts, void **vals, CUjit_option which, const char *text)
{
    for (unsigned i = 0; i < n; i++)
        if (opts[i] == which) {
            size_t size = 0;
            for (unsigned j = 0; j < n; j++)
                if (opts[j] == (which == CU_JIT_ERROR_LOG_BUFFER ? CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
                                                                 : CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES))
                    size = (size_t)(uintptr_t)vals[j];
            if (size)
                snprintf(vals[i], size, "%s", text);
        }
}

EXPORT CUresult CUDAAPI cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int n, CUjit_option *opts,
                                           void **vals)
{
    NEED_CONTEXT();
    put_log(n, opts, vals, CU_JIT_INFO_LOG_BUFFER, "mock ptxas info: compiling");
    if (knob("MOCK_CUDA_FAIL_LOAD", 0)) {
        put_log(n, opts, vals, CU_JIT_ERROR_LOG_BUFFER, "mock ptxas fatal: refused on purpose");
        return CUDA_ERROR_INVALID_PTX;
    }
    StrBuf err;
    sb_init(&err);
    EmuModule *m;
    if (emu_module_load(image, strlen(image), &m, &err) != 0) {
        put_log(n, opts, vals, CU_JIT_ERROR_LOG_BUFFER, err.data);
        sb_free(&err);
        return CUDA_ERROR_INVALID_PTX;
    }
    sb_free(&err);
    struct CUmod_st *mod = calloc(1, sizeof *mod);
    mod->emu = m;
    *module = mod;
    pthread_mutex_lock(&lock);
    stats.loads++;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuModuleUnload(CUmodule mod)
{
    NEED_CONTEXT();
    emu_module_free(mod->emu);
    free(mod);
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuModuleGetFunction(CUfunction *f, CUmodule mod, const char *name)
{
    NEED_CONTEXT();
    for (int i = 0; i < mod->nfuncs; i++)
        if (!strcmp(mod->funcs[i].name, name)) {
            *f = &mod->funcs[i];
            return CUDA_SUCCESS;
        }
    for (int i = 0; i < emu_kernel_count(mod->emu) && mod->nfuncs < 16; i++)
        if (!strcmp(emu_kernel_name(mod->emu, i), name)) {
            struct CUfunc_st *fn = &mod->funcs[mod->nfuncs++];
            fn->mod = mod;
            snprintf(fn->name, sizeof fn->name, "%s", name);
            fn->max_dyn_smem = 48 * 1024;
            *f = fn;
            return CUDA_SUCCESS;
        }
    return CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult CUDAAPI cuFuncGetAttribute(int *pi, CUfunction_attribute a, CUfunction f)
{
    NEED_CONTEXT();
    EmuKernelInfo info;
    StrBuf err;
    sb_init(&err);
    int rc = emu_kernel_info(f->mod->emu, f->name, &info, &err);
    sb_free(&err);
    if (rc)
        return CUDA_ERROR_INVALID_HANDLE;
    switch (a) {
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = info.nregs < 255 ? info.nregs : 255; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = (int)info.local_bytes; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = (int)info.static_smem; break;
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = knob("MOCK_CUDA_FUNC_MAX_THREADS", 1024); break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dyn_smem; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuFuncSetAttribute(CUfunction f, CUfunction_attribute a, int value)
{
    NEED_CONTEXT();
    int optin = knob("MOCK_CUDA_CC", 80) >= 90 ? 232448 : 166912;
    if (a != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES || value < 0 || value > optin)
        return CUDA_ERROR_INVALID_VALUE;
    f->max_dyn_smem = value;
    pthread_mutex_lock(&lock);
    stats.set_smem_calls++;
    stats.last_set_smem = value;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                       unsigned bz, unsigned smem, CUstream s, void **params, void **extra)
{
    NEED_CONTEXT();
    if (extra || (int)smem > f->max_dyn_smem || (int)(bx * by * bz) > knob("MOCK_CUDA_FUNC_MAX_THREADS", 1024))
        return CUDA_ERROR_INVALID_VALUE;
    if (knob("MOCK_CUDA_FAIL_LAUNCH", 0))
        return CUDA_ERROR_LAUNCH_FAILED;
    pthread_mutex_lock(&lock);
    if (!stream_ok(s)) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    stats.last_stream = s;
    EmuRegion regions[1024];
    for (int i = 0; i < nallocs; i++) {
        regions[i].base = allocs[i].p;
        regions[i].size = allocs[i].n;
        regions[i].writable = true;
    }
    EmuLaunch l;
    memset(&l, 0, sizeof l);
    l.grid[0] = gx;
    l.grid[1] = gy;
    l.grid[2] = gz;
    l.block[0] = bx;
    l.block[1] = by;
    l.block[2] = bz;
    l.dyn_smem = smem;
    l.regions = regions;
    l.nregions = nallocs;
    l.host_threads = 1;
    stats.launches++;
    stats.last_grid[0] = gx;
    stats.last_grid[1] = gy;
    stats.last_grid[2] = gz;
    stats.last_block[0] = bx;
    stats.last_block[1] = by;
    stats.last_block[2] = bz;
    stats.last_smem = smem;
    StrBuf err;
    sb_init(&err);
    /* Faults surface at the next synchronization, as on a GPU. */
    if (emu_launch(f->mod->emu, f->name, params, &l, &err) != 0 || knob("MOCK_CUDA_FAULT", 0)) {
        if (err.data)
            fprintf(stderr, "mock cuda: %s\n", err.data);
        sticky = CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    sb_free(&err);
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuMemAlloc(CUdeviceptr *p, size_t n)
{
    NEED_CONTEXT();
    if (knob("MOCK_CUDA_OOM", 0))
        return CUDA_ERROR_OUT_OF_MEMORY;
    void *m = NULL;
    if (posix_memalign(&m, 256, n ? n : 1))
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&lock);
    CUresult r = CUDA_SUCCESS;
    if (nallocs == 1024) {
        free(m);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        allocs[nallocs].p = m;
        allocs[nallocs].n = n;
        nallocs++;
        *p = (CUdeviceptr)(uintptr_t)m;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

/* The allocation holding p, or -1; call with the lock held. */
static int find(CUdeviceptr p, size_t n)
{
    const char *c = (const char *)(uintptr_t)p;
    for (int i = 0; i < nallocs; i++)
        if (c >= allocs[i].p && c + n <= allocs[i].p + allocs[i].n + (n == 0))
            return i;
    return -1;
}

EXPORT CUresult CUDAAPI cuMemFree(CUdeviceptr p)
{
    NEED_CONTEXT();
    pthread_mutex_lock(&lock);
    int i = find(p, 0);
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    if (i >= 0 && allocs[i].p == (char *)(uintptr_t)p) {
        free(allocs[i].p);
        allocs[i] = allocs[--nallocs];
        r = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

static CUresult check_range(CUdeviceptr p, size_t n)
{
    pthread_mutex_lock(&lock);
    int i = find(p, n);
    pthread_mutex_unlock(&lock);
    return i >= 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    (void)s;
    NEED_CONTEXT();
    CUresult r = check_range(dst, n);
    if (r == CUDA_SUCCESS)
        memcpy((void *)(uintptr_t)dst, src, n);
    return r;
}

EXPORT CUresult CUDAAPI cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    (void)s;
    NEED_CONTEXT();
    CUresult r = check_range(src, n);
    if (r == CUDA_SUCCESS)
        memcpy(dst, (const void *)(uintptr_t)src, n);
    return r;
}

EXPORT CUresult CUDAAPI cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    (void)s;
    NEED_CONTEXT();
    CUresult r = check_range(src, n);
    if (r == CUDA_SUCCESS)
        r = check_range(dst, n);
    if (r == CUDA_SUCCESS)
        memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
    return r;
}

EXPORT CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s)
{
    (void)s;
    NEED_CONTEXT();
    CUresult r = check_range(dst, n);
    if (r == CUDA_SUCCESS)
        memset((void *)(uintptr_t)dst, v, n);
    return r;
}

EXPORT CUresult CUDAAPI cuPointerGetAttribute(void *data, CUpointer_attribute a, CUdeviceptr p)
{
    NEED_CONTEXT();
    if (check_range(p, 1) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;
    if (a == CU_POINTER_ATTRIBUTE_MEMORY_TYPE)
        *(unsigned *)data = CU_MEMORYTYPE_DEVICE;
    else if (a == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL)
        *(int *)data = 0;
    else
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuGetErrorName(CUresult e, const char **s)
{
    switch (e) {
    case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; break;
    case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
    case CUDA_ERROR_NO_DEVICE: *s = "CUDA_ERROR_NO_DEVICE"; break;
    case CUDA_ERROR_INVALID_PTX: *s = "CUDA_ERROR_INVALID_PTX"; break;
    case CUDA_ERROR_INVALID_CONTEXT: *s = "CUDA_ERROR_INVALID_CONTEXT"; break;
    case CUDA_ERROR_LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
    case CUDA_ERROR_ILLEGAL_ADDRESS: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; break;
    default: *s = NULL; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuGetErrorString(CUresult e, const char **s)
{
    *s = e == CUDA_SUCCESS ? "no error" : "mock error";
    return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ events */

/* The mock runs work synchronously, so an event's time is the host's clock
 * when it is recorded. */
struct CUevent_st {
    double ms;
    bool recorded;
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

EXPORT CUresult CUDAAPI cuEventCreate(CUevent *ev, unsigned int flags)
{
    (void)flags;
    NEED_CONTEXT();
    *ev = calloc(1, sizeof **ev);
    return *ev ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

EXPORT CUresult CUDAAPI cuEventRecord(CUevent ev, CUstream s)
{
    (void)s;
    NEED_CONTEXT();
    ev->ms = now_ms();
    ev->recorded = true;
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuEventSynchronize(CUevent ev)
{
    NEED_CONTEXT();
    return ev->recorded ? take_sticky() : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult CUDAAPI cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end)
{
    NEED_CONTEXT();
    if (!start->recorded || !end->recorded)
        return CUDA_ERROR_INVALID_HANDLE;
    *ms = (float)(end->ms - start->ms);
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuEventDestroy_v2(CUevent ev)
{
    NEED_CONTEXT();
    free(ev);
    return CUDA_SUCCESS;
}

/* ------------------------------------------------------------- tensor maps */

static MockTensorMapCall tmap_call;

EXPORT MockTensorMapCall mock_cuda_tensor_maps(void)
{
    pthread_mutex_lock(&lock);
    MockTensorMapCall c = tmap_call;
    pthread_mutex_unlock(&lock);
    return c;
}

/* Records the call, then encodes with the emulator's encoder (which checks
 * the documented rules; a broken one is CUDA_ERROR_INVALID_VALUE, as the
 * driver answers). Needs no current context, as the driver's. */
EXPORT CUresult CUDAAPI cuTensorMapEncodeTiled(CUtensorMap *map, CUtensorMapDataType dtype, cuuint32_t rank, void *global,
                                               const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *box,
                                               const cuuint32_t *estrides, CUtensorMapInterleave interleave,
                                               CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
                                               CUtensorMapFloatOOBfill oob)
{
    if (!map || (uintptr_t)map % 64 || rank < 1 || rank > 5)
        return CUDA_ERROR_INVALID_VALUE;
    EmuTensorMapDesc d;
    memset(&d, 0, sizeof d);
    d.dtype = (int)dtype;
    d.rank = rank;
    d.global = global;
    d.interleave = (int)interleave;
    d.swizzle = (int)swizzle;
    d.oob_fill = oob == CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE ? EMU_TMAP_OOB_ZERO : EMU_TMAP_OOB_NAN;
    for (unsigned i = 0; i < rank; i++) {
        d.dims[i] = dims[i];
        d.box[i] = box[i];
        d.elem_strides[i] = estrides[i];
        if (i)
            d.strides[i - 1] = strides[i - 1];
    }
    pthread_mutex_lock(&lock);
    tmap_call.calls++;
    tmap_call.dtype = d.dtype;
    tmap_call.rank = rank;
    tmap_call.global = global;
    memcpy(tmap_call.dims, d.dims, sizeof d.dims);
    memcpy(tmap_call.strides, d.strides, sizeof d.strides);
    memcpy(tmap_call.box, d.box, sizeof d.box);
    memcpy(tmap_call.elem_strides, d.elem_strides, sizeof d.elem_strides);
    tmap_call.interleave = d.interleave;
    tmap_call.swizzle = d.swizzle;
    tmap_call.l2_promotion = (int)l2;
    tmap_call.oob_fill = (int)oob;
    pthread_mutex_unlock(&lock);
    StrBuf err;
    sb_init(&err);
    int rc = emu_tensor_map_encode(map, &d, &err);
    sb_free(&err);
    return rc ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

/* --------------------------------------- the GPU recorder's calls (dry runs) */

/* tests/emu/hwrecord.c, the program that records mma/ldmatrix outputs on a
 * real GPU, creates its own context and copies synchronously; with these the
 * recording path runs here end to end (tests/emu/hwprep.sh --dry-run). */
EXPORT CUresult CUDAAPI cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    (void)flags;
    if (dev != 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *pctx = &primary;
    depth++; /* the new context is current */
    return CUDA_SUCCESS;
}

EXPORT CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t n)
{
    return cuMemcpyHtoDAsync(dst, src, n, NULL);
}

EXPORT CUresult CUDAAPI cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t n)
{
    return cuMemcpyDtoHAsync(dst, src, n, NULL);
}

EXPORT CUresult CUDAAPI cuMemsetD8(CUdeviceptr dst, unsigned char v, size_t n)
{
    return cuMemsetD8Async(dst, v, n, NULL);
}
