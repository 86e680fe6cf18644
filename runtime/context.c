/* Contexts: the device choice, error messages, the allocator hooks, buffers
 * (tsr_malloc and friends) and the small helpers the other runtime files
 * share. */
#define _POSIX_C_SOURCE 200809L
#include "rt.h"
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ allocation */

static void *default_alloc(void *user, size_t size, size_t align)
{
    (void)user;
    void *p = NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}

static void default_free(void *user, void *ptr, size_t size)
{
    (void)user;
    (void)size;
    free(ptr);
}

static const tsr_allocator default_allocator = { default_alloc, default_free, NULL };

void *rt_alloc(tsr_context *ctx, size_t size)
{
    void *p = ctx->alloc.alloc(ctx->alloc.user, size, 16);
    if (p)
        memset(p, 0, size);
    return p;
}

void rt_free(tsr_context *ctx, void *p, size_t size)
{
    if (p)
        ctx->alloc.free(ctx->alloc.user, p, size);
}

/* ---------------------------------------------------------------- errors */

tsr_status rt_fail_text(StrBuf *msg, tsr_status s, const char *text)
{
    msg->len = 0;
    sb_puts(msg, text ? text : "");
    return s;
}

tsr_status rt_fail(StrBuf *msg, tsr_status s, const char *fmt, ...)
{
    msg->len = 0;
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(msg, fmt, ap);
    va_end(ap);
    return s;
}

const char *tsr_status_name(tsr_status s)
{
    switch (s) {
    case TSR_OK: return "TSR_OK";
    case TSR_ERR_INVALID_ARGUMENT: return "TSR_ERR_INVALID_ARGUMENT";
    case TSR_ERR_COMPILE: return "TSR_ERR_COMPILE";
    case TSR_ERR_NO_DEVICE: return "TSR_ERR_NO_DEVICE";
    case TSR_ERR_DEVICE: return "TSR_ERR_DEVICE";
    case TSR_ERR_LAUNCH: return "TSR_ERR_LAUNCH";
    case TSR_ERR_OUT_OF_MEMORY: return "TSR_ERR_OUT_OF_MEMORY";
    case TSR_ERR_NOT_FOUND: return "TSR_ERR_NOT_FOUND";
    case TSR_ERR_IO: return "TSR_ERR_IO";
    case TSR_ERR_UNSUPPORTED: return "TSR_ERR_UNSUPPORTED";
    }
    return "unknown status";
}

const char *tsr_context_error(const tsr_context *ctx)
{
    if (!ctx)
        return "no context (out of memory, or a NULL handle)";
    return ctx->err.data ? ctx->err.data : "";
}

/* ---------------------------------------------------------------- dtypes */

DLDataType rt_dl_dtype(DType dt)
{
    DLDataType d = { kDLFloat, 32, 1 };
    switch (dt) {
    case DT_F32: break;
    case DT_F16: d.bits = 16; break;
    case DT_BF16: d.code = kDLBfloat; d.bits = 16; break;
    case DT_I32: d.code = kDLInt; break;
    case DT_BOOL: d.code = 6 /* kDLBool since DLPack 0.8 */; d.bits = 8; break;
    default: tsr_unreachable();
    }
    return d;
}

bool rt_dtype_from_dl(DLDataType d, DType *out)
{
    if (d.lanes != 1)
        return false;
    if (d.code == kDLFloat && d.bits == 32)
        *out = DT_F32;
    else if (d.code == kDLFloat && d.bits == 16)
        *out = DT_F16;
    else if (d.code == kDLBfloat && d.bits == 16)
        *out = DT_BF16;
    else if (d.code == kDLInt && d.bits == 32)
        *out = DT_I32;
    else if ((d.code == 6 || d.code == kDLUInt) && d.bits == 8) /* kDLBool, or uint8 as bool before DLPack 0.8 */
        *out = DT_BOOL;
    else
        return false;
    return true;
}

void rt_dl_dtype_name(DLDataType d, char *buf, size_t n)
{
    static const char *const codes[] = { "int", "uint", "float", "handle", "bfloat", "complex", "bool" };
    const char *c = d.code < TSR_ARRAY_LEN(codes) ? codes[d.code] : "code?";
    if (d.lanes != 1)
        snprintf(buf, n, "%s%dx%d", c, d.bits, d.lanes);
    else
        snprintf(buf, n, "%s%d", c, d.bits);
}

void rt_tensor_extent(const HostTensor *t, const char **lo, size_t *bytes)
{
    int64_t es = dtype_size(t->dt), min = 0, max = 0;
    bool empty = false;
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] == 0)
            empty = true;
        int64_t span = (t->shape[d] - 1) * t->strides[d] * es;
        if (span < 0)
            min += span;
        else
            max += span;
    }
    *lo = (const char *)t->data + (empty ? 0 : min);
    *bytes = empty ? 0 : (size_t)(max - min + es);
}

/* --------------------------------------------------------------- context */

void tsr_context_options_init(tsr_context_options *opts) { memset(opts, 0, sizeof *opts); }

static const DeviceOps *device_of(tsr_device_kind k)
{
    switch (k) {
    case TSR_DEVICE_CUDA: return &rt_cuda_device;
    case TSR_DEVICE_EMU: return &rt_emu_device;
    case TSR_DEVICE_INTERP: return &rt_interp_device;
    default: return NULL;
    }
}

static tsr_status open_device(tsr_context *ctx, tsr_device_kind kind)
{
    StrBuf err;
    sb_init(&err);
    const DeviceOps *dev = device_of(kind);
    tsr_status s = dev->open(ctx, &err);
    if (s == TSR_OK)
        ctx->dev = dev;
    else
        rt_fail_text(&ctx->err, s, err.data);
    sb_free(&err);
    return s;
}

tsr_status tsr_context_create(const tsr_context_options *opts, tsr_context **out)
{
    tsr_context_options defaults;
    tsr_context_options_init(&defaults);
    if (!out)
        return TSR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!opts)
        opts = &defaults;
    const tsr_allocator *a = opts->allocator ? opts->allocator : &default_allocator;
    if (!a->alloc || !a->free)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_context *ctx = a->alloc(a->user, sizeof *ctx, 16);
    if (!ctx)
        return TSR_ERR_OUT_OF_MEMORY;
    memset(ctx, 0, sizeof *ctx);
    ctx->alloc = *a;
    sb_init(&ctx->err);
    ctx->ordinal = opts->device_ordinal;
    ctx->host_threads = opts->host_threads;
    ctx->flags = opts->flags;
    *out = ctx;

    tsr_status s = TSR_OK;
    tsr_device_kind kind = opts->device;
    if (kind == TSR_DEVICE_AUTO) {
        const char *env = getenv("TESSERA_DEVICE");
        if (env && *env) {
            if (!strcmp(env, "cuda"))
                kind = TSR_DEVICE_CUDA;
            else if (!strcmp(env, "emu"))
                kind = TSR_DEVICE_EMU;
            else if (!strcmp(env, "interp"))
                kind = TSR_DEVICE_INTERP;
            else
                s = rt_fail(&ctx->err, TSR_ERR_INVALID_ARGUMENT,
                            "TESSERA_DEVICE is '%s'; it must be cuda, emu or interp", env);
        }
    }
    if (s != TSR_OK) {
        /* the message is set */
    } else if (kind == TSR_DEVICE_AUTO) {
        if (open_device(ctx, TSR_DEVICE_CUDA) != TSR_OK) {
            ctx->err.len = 0; /* no GPU: the emulator it is */
            s = open_device(ctx, TSR_DEVICE_EMU);
        }
    } else if (!device_of(kind)) {
        s = rt_fail(&ctx->err, TSR_ERR_INVALID_ARGUMENT, "unknown device kind %d", (int)kind);
    } else if (opts->device_ordinal < 0) {
        s = rt_fail(&ctx->err, TSR_ERR_INVALID_ARGUMENT, "device ordinal %d is negative", opts->device_ordinal);
    } else {
        s = open_device(ctx, kind);
    }
    if (s == TSR_OK) {
        jit_cache_open(&ctx->cache, opts->cache, opts->cache_dir);
        if (ctx->err.data)
            ctx->err.data[0] = 0;
        ctx->err.len = 0;
    }
    ctx->create_status = s;
    return s;
}

void tsr_context_destroy(tsr_context *ctx)
{
    if (!ctx)
        return;
    rt_attention_release(ctx);
    rt_events_release(ctx);
    while (ctx->modules)
        tsr_module_destroy(ctx->modules);
    if (ctx->dev) {
        StrBuf ignored;
        sb_init(&ignored);
        for (int i = 0; i < ctx->nallocs; i++)
            ctx->dev->mem_free(ctx, ctx->allocs[i].ptr, ctx->allocs[i].size, &ignored);
        sb_free(&ignored);
        ctx->dev->close(ctx);
    }
    rt_free(ctx, ctx->allocs, sizeof(Allocation) * (size_t)ctx->cap_allocs);
    jit_cache_close(&ctx->cache);
    sb_free(&ctx->err);
    tsr_allocator a = ctx->alloc;
    a.free(a.user, ctx, sizeof *ctx);
}

tsr_status rt_context_usable(tsr_context *ctx)
{
    if (!ctx)
        return TSR_ERR_INVALID_ARGUMENT;
    if (ctx->create_status != TSR_OK) {
        if (!ctx->err.len)
            rt_fail(&ctx->err, TSR_ERR_INVALID_ARGUMENT, "this context could not be created");
        return TSR_ERR_INVALID_ARGUMENT;
    }
    return TSR_OK;
}

tsr_device_kind tsr_context_device_kind(const tsr_context *ctx)
{
    return ctx && ctx->dev ? ctx->dev->kind : TSR_DEVICE_AUTO;
}

const char *tsr_context_device_name(const tsr_context *ctx) { return ctx && ctx->dev ? ctx->device_name : "none"; }

DLDevice tsr_context_dl_device(const tsr_context *ctx)
{
    DLDevice d = { kDLCPU, 0 };
    return ctx && ctx->dev ? ctx->dl_device : d;
}

const char *tsr_context_default_target(const tsr_context *ctx)
{
    return ctx && ctx->dev ? ctx->default_target : target_default()->name;
}

void tsr_context_cache_stats(const tsr_context *ctx, tsr_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (ctx)
        *out = ctx->cache.stats;
}

const char *tsr_context_cache_dir(const tsr_context *ctx)
{
    return ctx && ctx->cache.enabled ? ctx->cache.dir : NULL;
}

/* ---------------------------------------------------------------- buffers */

static bool track(tsr_context *ctx, void *p, size_t size)
{
    if (ctx->nallocs == ctx->cap_allocs) {
        int cap = ctx->cap_allocs ? 2 * ctx->cap_allocs : 16;
        Allocation *a = rt_alloc(ctx, sizeof(Allocation) * (size_t)cap);
        if (!a)
            return false;
        if (ctx->nallocs)
            memcpy(a, ctx->allocs, sizeof(Allocation) * (size_t)ctx->nallocs);
        rt_free(ctx, ctx->allocs, sizeof(Allocation) * (size_t)ctx->cap_allocs);
        ctx->allocs = a;
        ctx->cap_allocs = cap;
    }
    ctx->allocs[ctx->nallocs].ptr = p;
    ctx->allocs[ctx->nallocs].size = size;
    ctx->nallocs++;
    return true;
}

static int find_alloc(const tsr_context *ctx, const void *p)
{
    for (int i = ctx->nallocs - 1; i >= 0; i--)
        if (ctx->allocs[i].ptr == p)
            return i;
    return -1;
}

void rt_host_open(tsr_context *ctx, const char *name)
{
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s", name);
    snprintf(ctx->default_target, sizeof ctx->default_target, "%s", target_default()->name);
    ctx->dl_device.device_type = kDLCPU;
    ctx->dl_device.device_id = 0;
    ctx->max_threads = 1024;
    ctx->max_grid[0] = INT32_MAX;
    ctx->max_grid[1] = ctx->max_grid[2] = 65535;
}

tsr_status rt_host_alloc(tsr_context *ctx, size_t bytes, void **ptr, StrBuf *err)
{
    *ptr = ctx->alloc.alloc(ctx->alloc.user, bytes, 256);
    if (!*ptr) {
        sb_printf(err, "cannot allocate %zu bytes of host memory", bytes);
        return TSR_ERR_OUT_OF_MEMORY;
    }
    return TSR_OK;
}

tsr_status rt_host_free(tsr_context *ctx, void *ptr, size_t bytes, StrBuf *err)
{
    (void)err;
    ctx->alloc.free(ctx->alloc.user, ptr, bytes);
    return TSR_OK;
}

tsr_status rt_host_copy(tsr_context *ctx, void *dst, const void *src, size_t bytes, tsr_copy_kind kind, void *stream,
                        StrBuf *err)
{
    (void)ctx;
    (void)kind;
    (void)stream;
    (void)err;
    memmove(dst, src, bytes);
    return TSR_OK;
}

tsr_status rt_host_set(tsr_context *ctx, void *dst, int value, size_t bytes, void *stream, StrBuf *err)
{
    (void)ctx;
    (void)stream;
    (void)err;
    memset(dst, value, bytes);
    return TSR_OK;
}

tsr_status rt_host_sync(tsr_context *ctx, void *stream, bool whole_context, StrBuf *err)
{
    (void)ctx;
    (void)stream;
    (void)whole_context;
    (void)err;
    return TSR_OK;
}

/* Runs a device call that reports into a scratch buffer, and moves any
 * message onto the context. */
#define DEVICE_CALL(ctx, call)                                                                                \
    do {                                                                                                      \
        StrBuf err_;                                                                                          \
        sb_init(&err_);                                                                                       \
        tsr_status s_ = (call);                                                                               \
        if (s_ != TSR_OK)                                                                                     \
            rt_fail_text(&(ctx)->err, s_, err_.data);                                                         \
        sb_free(&err_);                                                                                       \
        return s_;                                                                                            \
    } while (0)

tsr_status tsr_malloc(tsr_context *ctx, size_t bytes, void **ptr)
{
    tsr_status s = rt_context_usable(ctx);
    if (s != TSR_OK)
        return s;
    if (!ptr)
        return rt_fail(&ctx->err, TSR_ERR_INVALID_ARGUMENT, "tsr_malloc: ptr is NULL");
    *ptr = NULL;
    if (bytes == 0)
        return TSR_OK;
    StrBuf err;
    sb_init(&err);
    s = ctx->dev->mem_alloc(ctx, bytes, ptr, &err);
    if (s == TSR_OK && !track(ctx, *ptr, bytes)) {
        ctx->dev->mem_free(ctx, *ptr, bytes, &err);
        *ptr = NULL;
        s = TSR_ERR_OUT_OF_MEMORY;
        sb_puts(&err, "out of host memory");
    }
    if (s != TSR_OK)
        rt_fail_text(&ctx->err, s, err.data);
    sb_free(&err);
    return s;
}

tsr_status tsr_free(tsr_context *ctx, void *ptr)
{
    tsr_status s = rt_context_usable(ctx);
    if (s != TSR_OK || !ptr)
        return s;
    int i = find_alloc(ctx, ptr);
    if (i < 0)
        return rt_fail(&ctx->err, TSR_ERR_INVALID_ARGUMENT, "tsr_free: %p was not allocated by tsr_malloc on this context",
                       ptr);
    StrBuf err;
    sb_init(&err);
    s = ctx->dev->mem_free(ctx, ptr, ctx->allocs[i].size, &err);
    ctx->allocs[i] = ctx->allocs[--ctx->nallocs];
    if (s != TSR_OK)
        rt_fail_text(&ctx->err, s, err.data);
    sb_free(&err);
    return s;
}

tsr_status tsr_memcpy(tsr_context *ctx, void *dst, const void *src, size_t bytes, tsr_copy_kind kind, void *stream)
{
    tsr_status s = rt_context_usable(ctx);
    if (s != TSR_OK)
        return s;
    if (bytes == 0)
        return TSR_OK;
    if (!dst || !src)
        return rt_fail(&ctx->err, TSR_ERR_INVALID_ARGUMENT, "tsr_memcpy: %s is NULL", dst ? "src" : "dst");
    if (kind != TSR_COPY_HOST_TO_DEVICE && kind != TSR_COPY_DEVICE_TO_HOST && kind != TSR_COPY_DEVICE_TO_DEVICE)
        return rt_fail(&ctx->err, TSR_ERR_INVALID_ARGUMENT, "tsr_memcpy: unknown copy kind %d", (int)kind);
    DEVICE_CALL(ctx, ctx->dev->mem_copy(ctx, dst, src, bytes, kind, stream, &err_));
}

tsr_status tsr_memset(tsr_context *ctx, void *dst, int value, size_t bytes, void *stream)
{
    tsr_status s = rt_context_usable(ctx);
    if (s != TSR_OK)
        return s;
    if (bytes == 0)
        return TSR_OK;
    if (!dst)
        return rt_fail(&ctx->err, TSR_ERR_INVALID_ARGUMENT, "tsr_memset: dst is NULL");
    DEVICE_CALL(ctx, ctx->dev->mem_set(ctx, dst, value, bytes, stream, &err_));
}

tsr_status tsr_stream_synchronize(tsr_context *ctx, void *stream)
{
    tsr_status s = rt_context_usable(ctx);
    if (s != TSR_OK)
        return s;
    DEVICE_CALL(ctx, ctx->dev->sync(ctx, stream, false, &err_));
}

tsr_status tsr_context_synchronize(tsr_context *ctx)
{
    tsr_status s = rt_context_usable(ctx);
    if (s != TSR_OK)
        return s;
    DEVICE_CALL(ctx, ctx->dev->sync(ctx, NULL, true, &err_));
}
