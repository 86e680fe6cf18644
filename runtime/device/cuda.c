/* The cuda device: the CUDA driver API, opened with dlopen at run time so
 * that nothing links against libcuda and every binary starts on machines
 * without a GPU. Signatures come from cuda.h (the CUDA toolkit's header;
 * without it this file builds a device that says so); the symbols looked up
 * are the versioned names the header's macros give (cuMemAlloc_v2, ...).
 *
 * A context uses the device's primary context (the one the CUDA runtime
 * shares) and makes it current only for the length of each call, so the
 * embedding application's own current context is left as it was.
 * TESSERA_LIBCUDA names another driver library to open (tests use a mock). */
#define _POSIX_C_SOURCE 200809L
#include "abi.h"
#include "device.h"
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<cuda.h>)
#define TSR_HAVE_CUDA_H 1
#endif
#endif

#ifdef TSR_HAVE_CUDA_H
#include <cuda.h>
#include <dlfcn.h>

#define CUDA_FUNCS(X)                                                                                              \
    X(cuInit) X(cuDriverGetVersion) X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName) X(cuDeviceGetAttribute)   \
    X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease) X(cuCtxPushCurrent) X(cuCtxPopCurrent)                \
    X(cuCtxSynchronize) X(cuStreamSynchronize) X(cuModuleLoadDataEx) X(cuModuleUnload) X(cuModuleGetFunction)      \
    X(cuFuncGetAttribute) X(cuFuncSetAttribute) X(cuLaunchKernel) X(cuMemAlloc) X(cuMemFree)                       \
    X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync) X(cuMemcpyDtoDAsync) X(cuMemsetD8Async) X(cuPointerGetAttribute)     \
    X(cuGetErrorName) X(cuGetErrorString)

/* Looked up when present: a driver without them (a mock) has no events or
 * streams. */
#define CUDA_EVENT_FUNCS(X) X(cuEventCreate) X(cuEventRecord) X(cuEventSynchronize) X(cuEventElapsedTime) X(cuEventDestroy) \
    X(cuStreamCreate) X(cuStreamDestroy) X(cuTensorMapEncodeTiled) X(cuOccupancyMaxActiveBlocksPerMultiprocessor)

#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct {
    void *lib;
#define X(f) __typeof__(f) *f;
    CUDA_FUNCS(X)
    CUDA_EVENT_FUNCS(X)
#undef X
    CUdevice dev;
    CUcontext pctx;
    int cc_major, cc_minor;
    int smem_optin;
    int multiprocessors; /* 1 when the driver does not say */
} Cuda;

typedef struct {
    CUmodule mod;
    CUfunction fn;
} CudaKernel;

static Cuda *cuda_of(tsr_context *ctx) { return ctx->dev_state; }

/* Appends "what: CUDA_ERROR_X (description)" and maps the error to a status. */
static tsr_status cu_fail(Cuda *cu, CUresult r, const char *what, StrBuf *err)
{
    const char *name = NULL, *text = NULL;
    if (cu->cuGetErrorName)
        cu->cuGetErrorName(r, &name);
    if (cu->cuGetErrorString)
        cu->cuGetErrorString(r, &text);
    sb_printf(err, "%s failed: %s (%s)", what, name ? name : "unknown CUDA error", text ? text : "no description");
    return r == CUDA_ERROR_OUT_OF_MEMORY ? TSR_ERR_OUT_OF_MEMORY : TSR_ERR_DEVICE;
}

#define CU_CHECK(cu, call, err)                                                                                   \
    do {                                                                                                          \
        CUresult r_ = (cu)->call;                                                                                 \
        if (r_ != CUDA_SUCCESS)                                                                                   \
            return cu_fail((cu), r_, #call, (err));                                                               \
    } while (0)

/* Makes the primary context current for a call; pop() restores. */
static tsr_status push(Cuda *cu, StrBuf *err)
{
    CU_CHECK(cu, cuCtxPushCurrent(cu->pctx), err);
    return TSR_OK;
}

static void pop(Cuda *cu)
{
    CUcontext c;
    cu->cuCtxPopCurrent(&c);
}

static void cuda_free_state(Cuda *cu)
{
    if (!cu)
        return;
    if (cu->pctx)
        cu->cuDevicePrimaryCtxRelease(cu->dev);
    if (cu->lib)
        dlclose(cu->lib);
    free(cu);
}

/* ------------------------------------------------- opening and closing */

static tsr_status load_driver(Cuda *cu, StrBuf *err)
{
    const char *path = getenv("TESSERA_LIBCUDA");
    if (!path || !*path)
        path = "libcuda.so.1";
    cu->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!cu->lib) {
        const char *why = dlerror();
        sb_printf(err,
                  "the cuda device needs the NVIDIA driver, but %s could not be loaded (%s). "
                  "On a machine without a GPU, use the emu device (TSR_DEVICE_EMU) or TSR_DEVICE_AUTO.",
                  path, why ? why : "not found");
        return TSR_ERR_NO_DEVICE;
    }
#define X(f)                                                                                                      \
    *(void **)&cu->f = dlsym(cu->lib, STR(f));                                                                    \
    if (!cu->f) {                                                                                                 \
        sb_printf(err, "the NVIDIA driver (%s) has no %s: it is too old for Tessera (CUDA 12 or newer is needed)", \
                  path, STR(f));                                                                                  \
        return TSR_ERR_NO_DEVICE;                                                                                 \
    }
    CUDA_FUNCS(X)
#undef X
#define X(f) *(void **)&cu->f = dlsym(cu->lib, STR(f));
    CUDA_EVENT_FUNCS(X)
#undef X
    if (!cu->cuEventElapsedTime) /* drivers before CUDA 12.8 have only the first version */
        *(void **)&cu->cuEventElapsedTime = dlsym(cu->lib, "cuEventElapsedTime");
    return TSR_OK;
}

static tsr_status open_gpu(tsr_context *ctx, Cuda *cu, StrBuf *err)
{
    tsr_status s = load_driver(cu, err);
    if (s != TSR_OK)
        return s;
    CUresult r = cu->cuInit(0);
    if (r != CUDA_SUCCESS) {
        cu_fail(cu, r, "cuInit", err);
        sb_puts(err, r == CUDA_ERROR_NO_DEVICE ? ": no GPU is visible (is CUDA_VISIBLE_DEVICES empty?)" : "");
        return TSR_ERR_NO_DEVICE;
    }
    int count = 0, version = 0;
    CU_CHECK(cu, cuDeviceGetCount(&count), err);
    CU_CHECK(cu, cuDriverGetVersion(&version), err);
    if (ctx->ordinal >= count) {
        sb_printf(err, "there is no GPU %d: the driver sees %d", ctx->ordinal, count);
        return TSR_ERR_NO_DEVICE;
    }
    CU_CHECK(cu, cuDeviceGet(&cu->dev, ctx->ordinal), err);
    char name[96] = "";
    CU_CHECK(cu, cuDeviceGetName(name, (int)sizeof name, cu->dev), err);
    int max_threads = 0, gx = 0, gy = 0, gz = 0;
    CU_CHECK(cu, cuDeviceGetAttribute(&cu->cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, cu->dev), err);
    CU_CHECK(cu, cuDeviceGetAttribute(&cu->cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, cu->dev), err);
    CU_CHECK(cu, cuDeviceGetAttribute(&cu->smem_optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, cu->dev),
             err);
    CU_CHECK(cu, cuDeviceGetAttribute(&max_threads, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, cu->dev), err);
    CU_CHECK(cu, cuDeviceGetAttribute(&gx, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, cu->dev), err);
    CU_CHECK(cu, cuDeviceGetAttribute(&gy, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, cu->dev), err);
    CU_CHECK(cu, cuDeviceGetAttribute(&gz, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, cu->dev), err);
    const Target *target = target_for_device(cu->cc_major, cu->cc_minor);
    if (!target) {
        sb_printf(err, "GPU %d (%s) has compute capability %d.%d; Tessera's kernels need %d.%d or newer", ctx->ordinal,
                  name, cu->cc_major, cu->cc_minor, target_at(0)->sm / 10, target_at(0)->sm % 10);
        return TSR_ERR_UNSUPPORTED;
    }
    if (cu->cuDeviceGetAttribute(&cu->multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, cu->dev) !=
            CUDA_SUCCESS ||
        cu->multiprocessors < 1)
        cu->multiprocessors = 1;
    CU_CHECK(cu, cuDevicePrimaryCtxRetain(&cu->pctx, cu->dev), err);
    ctx->max_threads = max_threads;
    ctx->max_grid[0] = gx;
    ctx->max_grid[1] = gy;
    ctx->max_grid[2] = gz;
    snprintf(ctx->default_target, sizeof ctx->default_target, "%s", target->name);
    snprintf(ctx->device_name, sizeof ctx->device_name, "cuda:%d %s (sm_%d%d, driver %d.%d)", ctx->ordinal, name,
             cu->cc_major, cu->cc_minor, version / 1000, version % 1000 / 10);
    ctx->dl_device.device_type = kDLCUDA;
    ctx->dl_device.device_id = ctx->ordinal;
    return TSR_OK;
}

static tsr_status cuda_open(tsr_context *ctx, StrBuf *err)
{
    Cuda *cu = calloc(1, sizeof *cu);
    if (!cu) {
        sb_puts(err, "out of host memory");
        return TSR_ERR_OUT_OF_MEMORY;
    }
    tsr_status s = open_gpu(ctx, cu, err);
    if (s != TSR_OK) {
        cuda_free_state(cu);
        return s;
    }
    ctx->dev_state = cu;
    return TSR_OK;
}

static void cuda_close(tsr_context *ctx)
{
    cuda_free_state(cuda_of(ctx));
    ctx->dev_state = NULL;
}

/* ------------------------------------------------------------- kernels */

static tsr_status cuda_load(tsr_context *ctx, const char *name, KernelVariant *v, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    bool arch;
    int need = target_sm_of_ptx(v->ptx, &arch), have = cu->cc_major * 10 + cu->cc_minor;
    if (need > have || (arch && need != have)) {
        sb_printf(err, "kernel '%s' is compiled for sm_%d%s, which GPU %d (sm_%d) cannot run; compile for %s", name,
                  need, arch ? "a" : "", ctx->ordinal, have, ctx->default_target);
        return TSR_ERR_UNSUPPORTED;
    }
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    enum { LOG = 16384 };
    char *info = calloc(1, LOG), *elog = calloc(1, LOG);
    CudaKernel *ck = calloc(1, sizeof *ck);
    CUjit_option opts[] = { CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_LOG_VERBOSE };
    void *vals[] = { info, (void *)(uintptr_t)LOG, elog, (void *)(uintptr_t)LOG, (void *)(uintptr_t)1 };
    CUresult r = !info || !elog || !ck ? CUDA_ERROR_OUT_OF_MEMORY
                                       : cu->cuModuleLoadDataEx(&ck->mod, v->ptx, (unsigned)TSR_ARRAY_LEN(opts), opts, vals);
    if (r != CUDA_SUCCESS) {
        s = cu_fail(cu, r, "cuModuleLoadDataEx", err);
        sb_printf(err, ": the driver refused the PTX of kernel '%s'\nerror log:\n%s\ninfo log:\n%s", name,
                  elog && *elog ? elog : "(empty)", info && *info ? info : "(empty)");
    }
    free(info);
    free(elog);
    if (s == TSR_OK && (r = cu->cuModuleGetFunction(&ck->fn, ck->mod, name)) != CUDA_SUCCESS)
        s = cu_fail(cu, r, "cuModuleGetFunction", err);
    int regs = 0, local = 0, smem_static = 0, fn_threads = 0;
    if (s == TSR_OK) {
        cu->cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, ck->fn);
        cu->cuFuncGetAttribute(&local, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, ck->fn);
        cu->cuFuncGetAttribute(&smem_static, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, ck->fn);
        cu->cuFuncGetAttribute(&fn_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, ck->fn);
        v->attrs.num_regs = regs;
        v->attrs.local_bytes = (size_t)local;
        v->attrs.static_smem = (size_t)smem_static;
        v->attrs.max_threads = fn_threads;
        v->attrs.max_dynamic_smem = cu->smem_optin > smem_static ? (size_t)(cu->smem_optin - smem_static) : 0;
        /* Above 48 KB a kernel must opt in; past the device's limit the
         * launch is refused by validation with a clear message instead. */
        if (v->smem_bytes > 48 * 1024 && v->smem_bytes <= v->attrs.max_dynamic_smem &&
            (r = cu->cuFuncSetAttribute(ck->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)v->smem_bytes)) !=
                CUDA_SUCCESS)
            s = cu_fail(cu, r, "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", err);
    }
    if (s != TSR_OK && ck && ck->mod)
        cu->cuModuleUnload(ck->mod);
    pop(cu);
    if (s != TSR_OK) {
        free(ck);
        return s;
    }
    v->handle = ck;
    return TSR_OK;
}

static void cuda_unload(tsr_context *ctx, KernelVariant *v)
{
    Cuda *cu = cuda_of(ctx);
    CudaKernel *ck = v->handle;
    StrBuf ignored;
    sb_init_soft(&ignored);
    if (push(cu, &ignored) == TSR_OK) {
        cu->cuModuleUnload(ck->mod);
        pop(cu);
    }
    sb_free(&ignored);
    free(ck);
    v->handle = NULL;
}

/* ----------------------------------------------------------- launching */

/* A tensor's data must be memory of this GPU: catches host pointers passed
 * as kDLCUDA tensors, and memory of another GPU. */
static tsr_status cuda_check_tensor(tsr_context *ctx, const char *param, const HostTensor *t, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    const char *lo;
    size_t bytes;
    if (!rt_tensor_extent(t, &lo, &bytes) || bytes == 0) /* validation refused the first already */
        return TSR_OK;
    unsigned type = 0;
    int ordinal = -1;
    CUdeviceptr p = (CUdeviceptr)(uintptr_t)t->data;
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUresult r = cu->cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p);
    if (r == CUDA_SUCCESS)
        r = cu->cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, p);
    pop(cu);
    if (r != CUDA_SUCCESS || (type != CU_MEMORYTYPE_DEVICE && type != CU_MEMORYTYPE_UNIFIED)) {
        sb_printf(err,
                  "tensor '%s': %p is not GPU memory (a host pointer?); allocate it with tsr_malloc and copy the data "
                  "with tsr_memcpy",
                  param, t->data);
        return TSR_ERR_LAUNCH;
    }
    if (ordinal != ctx->ordinal && type == CU_MEMORYTYPE_DEVICE) {
        sb_printf(err, "tensor '%s' is memory of GPU %d, but the context runs on GPU %d", param, ordinal, ctx->ordinal);
        return TSR_ERR_LAUNCH;
    }
    return TSR_OK;
}

static tsr_status cuda_launch_raw(tsr_context *ctx, KernelVariant *v, RawLaunch *r, void *stream, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    CudaKernel *ck = v->handle;
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUresult res = CUDA_SUCCESS;
    /* Kernels of loaded PTX opt in per launch (Tessera's at load). */
    if (r->smem > 48 * 1024 && r->smem > v->smem_bytes)
        res = cu->cuFuncSetAttribute(ck->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)r->smem);
    if (res != CUDA_SUCCESS)
        s = cu_fail(cu, res, "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", err);
    else if ((res = cu->cuLaunchKernel(ck->fn, r->grid[0], r->grid[1], r->grid[2], r->block[0], r->block[1],
                                       r->block[2], (unsigned)r->smem, (CUstream)stream, r->args, NULL)) != CUDA_SUCCESS)
        s = cu_fail(cu, res, "cuLaunchKernel", err);
    pop(cu);
    return s;
}

/* Multiprocessors x the blocks of v the driver says one holds at once (1
 * when it cannot say). */
static int64_t cuda_resident_blocks(tsr_context *ctx, const KernelVariant *v)
{
    Cuda *cu = cuda_of(ctx);
    const CudaKernel *ck = v->handle;
    int per_sm = 0;
    StrBuf err;
    sb_init_soft(&err);
    if (cu->cuOccupancyMaxActiveBlocksPerMultiprocessor && ck && push(cu, &err) == TSR_OK) {
        if (cu->cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, ck->fn, v->threads, v->smem_bytes) !=
            CUDA_SUCCESS)
            per_sm = 0;
        pop(cu);
    }
    sb_free(&err);
    return (int64_t)cu->multiprocessors * (per_sm < 1 ? 1 : per_sm);
}

static tsr_status cuda_launch(tsr_context *ctx, tsr_kernel *k, KernelVariant *v, const Launch *l, void *stream,
                              StrBuf *err)
{
    size_t bytes;
    int n = rt_param_slots(k->f, l, &bytes);
    /* The packed values, then the pointers to them, from the context's allocator. */
    size_t head = (bytes + 8 + ABI_TMAP_ALIGN - 1) / ABI_TMAP_ALIGN * ABI_TMAP_ALIGN;
    size_t total = head + sizeof(void *) * (size_t)(n + 1);
    unsigned char *buf = rt_alloc(ctx, total);
    if (!buf) {
        sb_puts(err, "out of host memory");
        return TSR_ERR_OUT_OF_MEMORY;
    }
    void **args = (void **)(buf + head);
    tsr_status s = TSR_ERR_DEVICE;
    if (rt_pack_params(k->f, l, NULL, NULL, -1, buf, bytes, args, err)) {
        RawLaunch r = { k->f->name, { (unsigned)l->blocks[0], (unsigned)l->blocks[1], (unsigned)l->blocks[2] },
                        { (unsigned)v->threads, 1, 1 }, v->smem_bytes, args, NULL, 0 };
        s = cuda_launch_raw(ctx, v, &r, stream, err);
    }
    rt_free(ctx, buf, total);
    return s;
}

/* A tensor map by the driver (the description's numbering is CUDA's). L2
 * promotion by 128 bytes, as CUTLASS's TMA copies ask. */
static tsr_status cuda_tensor_map_encode(tsr_context *ctx, const EmuTensorMapDesc *d, void *map, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    if (!cu->cuTensorMapEncodeTiled || cu->cc_major < 9) {
        sb_printf(err, "%s has no tensor maps (%s)", ctx->device_name,
                  cu->cc_major < 9 ? "TMA needs compute capability 9.0" : "the driver lacks cuTensorMapEncodeTiled");
        return TSR_ERR_UNSUPPORTED;
    }
    CUtensorMap m;
    cuuint64_t dims[5], strides[4];
    cuuint32_t box[5], estrides[5];
    for (unsigned i = 0; i < d->rank; i++) {
        dims[i] = d->dims[i];
        box[i] = d->box[i];
        estrides[i] = d->elem_strides[i] ? d->elem_strides[i] : 1;
        if (i)
            strides[i - 1] = d->strides[i - 1];
    }
    CUresult r = cu->cuTensorMapEncodeTiled(&m, (CUtensorMapDataType)d->dtype, d->rank, (void *)d->global, dims, strides,
                                            box, estrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                            (CUtensorMapSwizzle)d->swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                                            d->oob_fill ? CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA
                                                        : CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS)
        return cu_fail(cu, r, "cuTensorMapEncodeTiled", err);
    _Static_assert(sizeof m == ABI_TMAP_BYTES, "CUtensorMap is 128 bytes");
    memcpy(map, &m, sizeof m);
    return TSR_OK;
}

/* -------------------------------------------------------------- memory */

static tsr_status cuda_alloc(tsr_context *ctx, size_t bytes, void **ptr, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUdeviceptr p = 0;
    CUresult r = cu->cuMemAlloc(&p, bytes);
    pop(cu);
    if (r != CUDA_SUCCESS)
        return cu_fail(cu, r, "cuMemAlloc", err);
    *ptr = (void *)(uintptr_t)p;
    return TSR_OK;
}

static tsr_status cuda_free(tsr_context *ctx, void *ptr, size_t bytes, StrBuf *err)
{
    (void)bytes;
    Cuda *cu = cuda_of(ctx);
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUresult r = cu->cuMemFree((CUdeviceptr)(uintptr_t)ptr);
    pop(cu);
    return r == CUDA_SUCCESS ? TSR_OK : cu_fail(cu, r, "cuMemFree", err);
}

static tsr_status cuda_copy(tsr_context *ctx, void *dst, const void *src, size_t bytes, tsr_copy_kind kind,
                            void *stream, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUstream st = stream;
    CUdeviceptr d = (CUdeviceptr)(uintptr_t)dst, sp = (CUdeviceptr)(uintptr_t)src;
    CUresult r = kind == TSR_COPY_HOST_TO_DEVICE   ? cu->cuMemcpyHtoDAsync(d, src, bytes, st)
                 : kind == TSR_COPY_DEVICE_TO_HOST ? cu->cuMemcpyDtoHAsync(dst, sp, bytes, st)
                                                   : cu->cuMemcpyDtoDAsync(d, sp, bytes, st);
    const char *what = kind == TSR_COPY_HOST_TO_DEVICE   ? "cuMemcpyHtoDAsync"
                       : kind == TSR_COPY_DEVICE_TO_HOST ? "cuMemcpyDtoHAsync"
                                                         : "cuMemcpyDtoDAsync";
    if (r == CUDA_SUCCESS) {
        r = cu->cuStreamSynchronize(st);
        what = "cuStreamSynchronize";
    }
    pop(cu);
    return r == CUDA_SUCCESS ? TSR_OK : cu_fail(cu, r, what, err);
}

static tsr_status cuda_set(tsr_context *ctx, void *dst, int value, size_t bytes, void *stream, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUresult r = cu->cuMemsetD8Async((CUdeviceptr)(uintptr_t)dst, (unsigned char)value, bytes, stream);
    const char *what = "cuMemsetD8Async";
    if (r == CUDA_SUCCESS) {
        r = cu->cuStreamSynchronize(stream);
        what = "cuStreamSynchronize";
    }
    pop(cu);
    return r == CUDA_SUCCESS ? TSR_OK : cu_fail(cu, r, what, err);
}

/* -------------------------------------------------- streams and events */

static tsr_status cuda_sync(tsr_context *ctx, void *stream, bool whole_context, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUresult r = whole_context ? cu->cuCtxSynchronize() : cu->cuStreamSynchronize(stream);
    pop(cu);
    return r == CUDA_SUCCESS ? TSR_OK : cu_fail(cu, r, whole_context ? "cuCtxSynchronize" : "cuStreamSynchronize", err);
}

static tsr_status cuda_event_create(tsr_context *ctx, void **handle, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    if (!cu->cuEventCreate || !cu->cuEventRecord || !cu->cuEventSynchronize || !cu->cuEventElapsedTime ||
        !cu->cuEventDestroy) {
        sb_puts(err, "the NVIDIA driver has no event functions (cuEventCreate, ...)");
        return TSR_ERR_UNSUPPORTED;
    }
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUevent ev = NULL;
    CUresult r = cu->cuEventCreate(&ev, CU_EVENT_DEFAULT);
    pop(cu);
    if (r != CUDA_SUCCESS)
        return cu_fail(cu, r, "cuEventCreate", err);
    *handle = ev;
    return TSR_OK;
}

static void cuda_event_destroy(tsr_context *ctx, void *handle)
{
    Cuda *cu = cuda_of(ctx);
    StrBuf ignored;
    sb_init_soft(&ignored);
    if (push(cu, &ignored) == TSR_OK) {
        cu->cuEventDestroy((CUevent)handle);
        pop(cu);
    }
    sb_free(&ignored);
}

static tsr_status cuda_event_record(tsr_context *ctx, void *handle, void *stream, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUresult r = cu->cuEventRecord((CUevent)handle, (CUstream)stream);
    pop(cu);
    return r == CUDA_SUCCESS ? TSR_OK : cu_fail(cu, r, "cuEventRecord", err);
}

static tsr_status cuda_event_sync(tsr_context *ctx, void *handle, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUresult r = cu->cuEventSynchronize((CUevent)handle);
    pop(cu);
    return r == CUDA_SUCCESS ? TSR_OK : cu_fail(cu, r, "cuEventSynchronize", err);
}

static tsr_status cuda_event_elapsed(tsr_context *ctx, void *start, void *end, float *ms, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUresult r = cu->cuEventElapsedTime(ms, (CUevent)start, (CUevent)end);
    pop(cu);
    return r == CUDA_SUCCESS ? TSR_OK : cu_fail(cu, r, "cuEventElapsedTime", err);
}

static tsr_status cuda_stream_create(tsr_context *ctx, void **stream, StrBuf *err)
{
    Cuda *cu = cuda_of(ctx);
    if (!cu->cuStreamCreate || !cu->cuStreamDestroy) {
        sb_puts(err, "the NVIDIA driver has no stream functions (cuStreamCreate, ...)");
        return TSR_ERR_UNSUPPORTED;
    }
    tsr_status s = push(cu, err);
    if (s != TSR_OK)
        return s;
    CUstream st = NULL;
    CUresult r = cu->cuStreamCreate(&st, CU_STREAM_DEFAULT);
    pop(cu);
    if (r != CUDA_SUCCESS)
        return cu_fail(cu, r, "cuStreamCreate", err);
    *stream = st;
    return TSR_OK;
}

static void cuda_stream_destroy(tsr_context *ctx, void *stream)
{
    Cuda *cu = cuda_of(ctx);
    StrBuf ignored;
    sb_init_soft(&ignored);
    if (push(cu, &ignored) == TSR_OK) {
        cu->cuStreamDestroy((CUstream)stream);
        pop(cu);
    }
    sb_free(&ignored);
}

static void cuda_native(tsr_context *ctx, void **cu_context, int *cu_device)
{
    Cuda *cu = cuda_of(ctx);
    if (cu_context)
        *cu_context = cu->pctx;
    if (cu_device)
        *cu_device = (int)cu->dev;
}

/* ------------------------------------------------------ the DeviceOps table */

const DeviceOps rt_cuda_device = {
    .name = "cuda",
    .kind = TSR_DEVICE_CUDA,
    .runs_ptx = true,
    .open = cuda_open,
    .close = cuda_close,
    .load = cuda_load,
    .unload = cuda_unload,
    .check_tensor = cuda_check_tensor,
    .launch = cuda_launch,
    .resident_blocks = cuda_resident_blocks,
    .launch_raw = cuda_launch_raw,
    .tensor_map_encode = cuda_tensor_map_encode,
    .mem_alloc = cuda_alloc,
    .mem_free = cuda_free,
    .mem_copy = cuda_copy,
    .mem_set = cuda_set,
    .sync = cuda_sync,
    .stream_create = cuda_stream_create,
    .stream_destroy = cuda_stream_destroy,
    .native = cuda_native,
    .event_create = cuda_event_create,
    .event_destroy = cuda_event_destroy,
    .event_record = cuda_event_record,
    .event_sync = cuda_event_sync,
    .event_elapsed = cuda_event_elapsed,
};

#else /* no cuda.h at build time */

static tsr_status cuda_open(tsr_context *ctx, StrBuf *err)
{
    (void)ctx;
    sb_puts(err, "this Tessera was built without CUDA's cuda.h, so it has no cuda device; use emu or interp");
    return TSR_ERR_NO_DEVICE;
}

const DeviceOps rt_cuda_device = {
    .name = "cuda",
    .kind = TSR_DEVICE_CUDA,
    .runs_ptx = true,
    .open = cuda_open,
};

#endif
