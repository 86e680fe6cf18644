/* Contexts: the device choice, error messages, the allocator hooks, buffers
 * (tsr_malloc and friends) and the small helpers the other runtime files
 * share. */
#define _POSIX_C_SOURCE 200809L
#include "device/device.h"
#include "npy.h"
#include "target.h"

#include <stddef.h>
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

const char *tsr_status_string(tsr_status s)
{
    switch (s) {
    case TSR_OK: return "success";
    case TSR_ERR_INVALID_ARGUMENT: return "invalid argument";
    case TSR_ERR_COMPILE: return "the program has errors";
    case TSR_ERR_NO_DEVICE: return "no such device";
    case TSR_ERR_DEVICE: return "the device failed";
    case TSR_ERR_LAUNCH: return "invalid launch arguments";
    case TSR_ERR_OUT_OF_MEMORY: return "out of memory";
    case TSR_ERR_NOT_FOUND: return "not found";
    case TSR_ERR_IO: return "a file could not be read";
    case TSR_ERR_UNSUPPORTED: return "not supported";
    }
    return "unknown status";
}

const char *tsr_context_error(const tsr_context *ctx)
{
    if (!ctx)
        return "no context (out of memory, or a NULL handle)";
    return rt_error((tsr_context *)ctx); /* only the calling thread's slot is read, under the lock */
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
    case DT_I8: d.code = kDLInt; d.bits = 8; break;
    case DT_U8: d.code = kDLUInt; d.bits = 8; break;
    case DT_U32: d.code = kDLUInt; break;
    case DT_I64: d.code = kDLInt; d.bits = 64; break;
    case DT_BOOL: d.code = 6 /* kDLBool since DLPack 0.8 */; d.bits = 8; break;
    case DT_E4M3: d.code = NPY_DL_FLOAT8_E4M3FN; d.bits = 8; break;
    case DT_E5M2: d.code = NPY_DL_FLOAT8_E5M2; d.bits = 8; break;
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
    else if (d.code == kDLInt && d.bits == 8)
        *out = DT_I8;
    else if (d.code == kDLUInt && d.bits == 8)
        *out = DT_U8;
    else if (d.code == kDLUInt && d.bits == 32)
        *out = DT_U32;
    else if (d.code == kDLInt && d.bits == 64)
        *out = DT_I64;
    else if (d.code == 6 && d.bits == 8) /* kDLBool */
        *out = DT_BOOL;
    else if (d.code == NPY_DL_FLOAT8_E4M3FN && d.bits == 8)
        *out = DT_E4M3;
    else if (d.code == NPY_DL_FLOAT8_E5M2 && d.bits == 8)
        *out = DT_E5M2;
    else
        return false;
    return true;
}

void rt_dl_dtype_name(DLDataType d, char *buf, size_t n)
{
    static const char *const codes[] = { "int",         "uint",        "float",        "handle",
                                         "bfloat",      "complex",     "bool",         "float8_e3m4",
                                         "float8_e4m3", "float8_e4m3b11fnuz", "float8_e4m3fn", "float8_e4m3fnuz",
                                         "float8_e5m2" };
    const char *c = d.code < TSR_ARRAY_LEN(codes) ? codes[d.code] : "code?";
    if (d.code >= 7 && d.code < TSR_ARRAY_LEN(codes) && d.bits == 8 && d.lanes == 1)
        snprintf(buf, n, "%s", c); /* the float8 names say their width */
    else if (d.lanes != 1)
        snprintf(buf, n, "%s%dx%d", c, d.bits, d.lanes);
    else
        snprintf(buf, n, "%s%d", c, d.bits);
}

bool rt_tensor_extent(const HostTensor *t, const char **lo, size_t *bytes)
{
    int64_t es = dtype_size(t->dt), min = 0, max = 0;
    *lo = t->data;
    *bytes = 0;
    for (int d = 0; d < t->rank; d++)
        if (t->shape[d] == 0)
            return true; /* no elements: nothing is touched */
    for (int d = 0; d < t->rank; d++) {
        int64_t span;
        if (__builtin_mul_overflow(t->shape[d] - 1, t->strides[d], &span) ||
            __builtin_mul_overflow(span, es, &span) ||
            __builtin_add_overflow(span < 0 ? min : max, span, span < 0 ? &min : &max))
            return false;
    }
    int64_t size;
    if (__builtin_sub_overflow(max, min, &size) || __builtin_add_overflow(size, es, &size))
        return false;
    /* The span must lie in the address space around data. */
    uintptr_t base = (uintptr_t)t->data, neg = (uintptr_t)-min;
    if (neg > base || (uintptr_t)size - 1 > UINTPTR_MAX - (base - neg))
        return false;
    *lo = (const char *)(base - neg);
    *bytes = (size_t)size;
    return true;
}

/* --------------------------------------------------------------- context */

void tsr_context_options_init(tsr_context_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

tsr_status rt_read_options(const void *opts, size_t given, size_t v1, void *mine, size_t my_size, const char **why)
{
    memset(mine, 0, my_size);
    size_t n = given ? given : v1;
    if (n < v1) {
        *why = "struct_size is smaller than the options struct has ever been (set it with the *_options_init function)";
        return TSR_ERR_INVALID_ARGUMENT;
    }
    const unsigned char *p = opts;
    for (size_t i = my_size; i < n; i++)
        if (p[i]) {
            *why = "the options set fields that this (older) Tessera does not know";
            return TSR_ERR_UNSUPPORTED;
        }
    memcpy(mine, opts, n < my_size ? n : my_size);
    ((size_t *)mine)[0] = my_size; /* struct_size comes first in every options struct */
    return TSR_OK;
}

/* The size of version 0.1's tsr_context_options: what struct_size 0 means. */
#define CONTEXT_OPTIONS_V1 (offsetof(tsr_context_options, flags) + sizeof(unsigned))

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
    sb_init_soft(&err);
    const DeviceOps *dev = device_of(kind);
    tsr_status s = dev->open(ctx, &err);
    if (s == TSR_OK)
        ctx->dev = dev;
    else
        rt_fail_text(ctx, s, err.data);
    sb_free(&err);
    return s;
}

/* Every option must be one the library knows: a value it does not know
 * would otherwise be dropped silently (a cache mode read as "off"). */
static tsr_status check_options(tsr_context *ctx, const tsr_context_options *o, tsr_device_kind kind)
{
    const unsigned known_flags = TSR_EMU_CHECK_RACES | TSR_EMU_CHECK_UNINIT;
    if (kind != TSR_DEVICE_AUTO && !device_of(kind))
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "unknown device kind %d", (int)kind);
    if (o->device_ordinal < 0)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "device ordinal %d is negative", o->device_ordinal);
    if ((kind == TSR_DEVICE_EMU || kind == TSR_DEVICE_INTERP) && o->device_ordinal != 0)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "device ordinal %d: the %s device has only device 0",
                       o->device_ordinal, device_of(kind)->name);
    if (o->cache != TSR_CACHE_DEFAULT && o->cache != TSR_CACHE_OFF && o->cache != TSR_CACHE_ON)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                       "unknown cache mode %d (use TSR_CACHE_DEFAULT, TSR_CACHE_OFF or TSR_CACHE_ON)", (int)o->cache);
    if (o->host_threads < 0)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "host_threads is %d; it must be 0 (all cores) or more",
                       o->host_threads);
    if (o->flags & ~known_flags)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "flags has unknown bits 0x%x", o->flags & ~known_flags);
    if (o->compile_flags & ~(unsigned)TSR_COMPILE_FLAGS_ALL)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "compile_flags has unknown bits 0x%x",
                       o->compile_flags & ~(unsigned)TSR_COMPILE_FLAGS_ALL);
    return TSR_OK;
}

tsr_status tsr_context_create(const tsr_context_options *opts, tsr_context **out)
{
    tsr_context_options given;
    tsr_context_options_init(&given);
    if (!out)
        return TSR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    const char *why = NULL;
    tsr_status read = opts ? rt_read_options(opts, opts->struct_size, CONTEXT_OPTIONS_V1, &given, sizeof given, &why)
                           : TSR_OK;
    opts = &given;
    /* Options that cannot be read give a context (with malloc) that says why. */
    const tsr_allocator *a = read == TSR_OK && opts->allocator ? opts->allocator : &default_allocator;
    if (!a->alloc || !a->free)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_context *ctx = a->alloc(a->user, sizeof *ctx, 16);
    if (!ctx)
        return TSR_ERR_OUT_OF_MEMORY;
    memset(ctx, 0, sizeof *ctx);
    ctx->alloc = *a;
    rt_errors_init(ctx);
    pthread_mutex_init(&ctx->work_lock, NULL);
    ctx->ordinal = opts->device_ordinal;
    ctx->host_threads = opts->host_threads;
    ctx->flags = opts->flags;
    ctx->compile_flags = opts->compile_flags;
    ctx->emu_max_warp_insns = opts->emu_max_warp_insns;
    *out = ctx;

    tsr_status s = read == TSR_OK ? TSR_OK : rt_fail(ctx, read, "tsr_context_options: %s", why);
    tsr_device_kind kind = opts->device;
    if (s == TSR_OK && kind == TSR_DEVICE_AUTO) {
        const char *env = getenv("TESSERA_DEVICE");
        if (env && *env) {
            if (!strcmp(env, "cuda"))
                kind = TSR_DEVICE_CUDA;
            else if (!strcmp(env, "emu"))
                kind = TSR_DEVICE_EMU;
            else if (!strcmp(env, "interp"))
                kind = TSR_DEVICE_INTERP;
            else
                s = rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                            "TESSERA_DEVICE is '%s'; it must be cuda, emu or interp", env);
        }
    }
    if (s == TSR_OK)
        s = check_options(ctx, opts, kind);
    if (s != TSR_OK) {
        /* the message is set */
    } else if (kind == TSR_DEVICE_AUTO) {
        /* No GPU: the emulator, which has only device 0. */
        s = open_device(ctx, TSR_DEVICE_CUDA);
        if (s != TSR_OK && opts->device_ordinal == 0) {
            rt_clear_error(ctx);
            s = open_device(ctx, TSR_DEVICE_EMU);
        }
    } else {
        s = open_device(ctx, kind);
    }
    if (s == TSR_OK && opts->target) {
        if (target_lookup(opts->target)) {
            snprintf(ctx->default_target, sizeof ctx->default_target, "%s", opts->target);
        } else {
            char msg[160];
            target_unknown_message(msg, sizeof msg, opts->target);
            s = rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_context_options: %s", msg);
        }
    }
    if (s == TSR_OK) {
        jit_cache_open(&ctx->cache, opts->cache, opts->cache_dir);
        rt_clear_error(ctx);
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
    rt_modules_orphan(ctx);
    if (ctx->dev) {
        StrBuf ignored;
        sb_init_soft(&ignored);
        for (int i = 0; i < ctx->nallocs; i++)
            ctx->dev->mem_free(ctx, ctx->allocs[i].ptr, ctx->allocs[i].size, &ignored);
        sb_free(&ignored);
        for (int i = 0; i < ctx->nstreams; i++)
            ctx->dev->stream_destroy(ctx, ctx->streams[i]);
        ctx->dev->close(ctx);
    }
    rt_free(ctx, ctx->allocs, sizeof(Allocation) * (size_t)ctx->cap_allocs);
    rt_free(ctx, ctx->streams, sizeof(void *) * (size_t)ctx->cap_streams);
    jit_cache_close(&ctx->cache);
    pthread_mutex_destroy(&ctx->work_lock);
    rt_errors_free(ctx);
    tsr_allocator a = ctx->alloc;
    a.free(a.user, ctx, sizeof *ctx);
}

tsr_status rt_enter(tsr_context *ctx)
{
    if (!ctx)
        return TSR_ERR_INVALID_ARGUMENT;
    if (ctx->create_status != TSR_OK)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "this context could not be created (%s)",
                       tsr_status_name(ctx->create_status));
    rt_clear_error(ctx);
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
    if (ctx) {
        pthread_mutex_lock((pthread_mutex_t *)&ctx->work_lock); /* only the lock is written */
        *out = ctx->cache.stats;
        pthread_mutex_unlock((pthread_mutex_t *)&ctx->work_lock);
    }
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

/* Runs a device call that reports into a scratch buffer, and moves any
 * message onto the context. */
#define DEVICE_CALL(ctx, call)                                                                                \
    do {                                                                                                      \
        StrBuf err_;                                                                                          \
        sb_init_soft(&err_);                                                                               \
        tsr_status s_ = (call);                                                                               \
        if (s_ != TSR_OK)                                                                                     \
            rt_fail_text((ctx), s_, err_.data);                                                         \
        sb_free(&err_);                                                                                       \
        return s_;                                                                                            \
    } while (0)

tsr_status tsr_malloc(tsr_context *ctx, size_t bytes, void **ptr)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!ptr)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_malloc: ptr is NULL");
    *ptr = NULL;
    if (bytes == 0)
        return TSR_OK;
    StrBuf err;
    sb_init_soft(&err);
    s = ctx->dev->mem_alloc(ctx, bytes, ptr, &err);
    pthread_mutex_lock(&ctx->work_lock);
    bool tracked = s == TSR_OK && track(ctx, *ptr, bytes);
    pthread_mutex_unlock(&ctx->work_lock);
    if (s == TSR_OK && !tracked) {
        ctx->dev->mem_free(ctx, *ptr, bytes, &err);
        *ptr = NULL;
        s = TSR_ERR_OUT_OF_MEMORY;
        sb_puts(&err, "out of host memory");
    }
    if (s != TSR_OK)
        rt_fail_text(ctx, s, err.data);
    sb_free(&err);
    return s;
}

tsr_status tsr_free(tsr_context *ctx, void *ptr)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK || !ptr)
        return s;
    pthread_mutex_lock(&ctx->work_lock);
    int i = find_alloc(ctx, ptr);
    size_t size = i >= 0 ? ctx->allocs[i].size : 0;
    if (i >= 0)
        ctx->allocs[i] = ctx->allocs[--ctx->nallocs];
    pthread_mutex_unlock(&ctx->work_lock);
    if (i < 0)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_free: %p was not allocated by tsr_malloc on this context",
                       ptr);
    StrBuf err;
    sb_init_soft(&err);
    s = ctx->dev->mem_free(ctx, ptr, size, &err);
    if (s != TSR_OK)
        rt_fail_text(ctx, s, err.data);
    sb_free(&err);
    return s;
}

tsr_status tsr_memcpy(tsr_context *ctx, void *dst, const void *src, size_t bytes, tsr_copy_kind kind, void *stream)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (bytes == 0)
        return TSR_OK;
    if (!dst || !src)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_memcpy: %s is NULL", dst ? "src" : "dst");
    if (kind != TSR_COPY_HOST_TO_DEVICE && kind != TSR_COPY_DEVICE_TO_HOST && kind != TSR_COPY_DEVICE_TO_DEVICE)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_memcpy: unknown copy kind %d", (int)kind);
    DEVICE_CALL(ctx, ctx->dev->mem_copy(ctx, dst, src, bytes, kind, stream, &err_));
}

tsr_status tsr_memset(tsr_context *ctx, void *dst, int value, size_t bytes, void *stream)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (bytes == 0)
        return TSR_OK;
    if (!dst)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_memset: dst is NULL");
    DEVICE_CALL(ctx, ctx->dev->mem_set(ctx, dst, value, bytes, stream, &err_));
}

/* ---------------------------------------------------------------- streams */

/* Adds a stream to the context's list (work_lock held). */
static bool keep_stream(tsr_context *ctx, void *stream)
{
    if (ctx->nstreams == ctx->cap_streams) {
        int cap = ctx->cap_streams ? 2 * ctx->cap_streams : 8;
        void **a = rt_alloc(ctx, sizeof(void *) * (size_t)cap);
        if (!a)
            return false;
        if (ctx->nstreams)
            memcpy(a, ctx->streams, sizeof(void *) * (size_t)ctx->nstreams);
        rt_free(ctx, ctx->streams, sizeof(void *) * (size_t)ctx->cap_streams);
        ctx->streams = a;
        ctx->cap_streams = cap;
    }
    ctx->streams[ctx->nstreams++] = stream;
    return true;
}

tsr_status tsr_stream_create(tsr_context *ctx, void **stream)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!stream)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_stream_create: stream is NULL");
    *stream = NULL;
    if (!ctx->dev->stream_create)
        return TSR_OK; /* a host device: the NULL stream is its only one */
    StrBuf err;
    sb_init_soft(&err);
    s = ctx->dev->stream_create(ctx, stream, &err);
    if (s == TSR_OK) {
        pthread_mutex_lock(&ctx->work_lock);
        bool kept = keep_stream(ctx, *stream);
        pthread_mutex_unlock(&ctx->work_lock);
        if (!kept) {
            ctx->dev->stream_destroy(ctx, *stream);
            *stream = NULL;
            s = TSR_ERR_OUT_OF_MEMORY;
            sb_puts(&err, "out of host memory");
        }
    }
    if (s != TSR_OK)
        rt_fail_text(ctx, s, err.data);
    sb_free(&err);
    return s;
}

tsr_status tsr_stream_destroy(tsr_context *ctx, void *stream)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK || !stream)
        return s;
    pthread_mutex_lock(&ctx->work_lock);
    int i = ctx->nstreams - 1;
    while (i >= 0 && ctx->streams[i] != stream)
        i--;
    if (i >= 0)
        ctx->streams[i] = ctx->streams[--ctx->nstreams];
    pthread_mutex_unlock(&ctx->work_lock);
    if (i < 0)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_stream_destroy: %p is not a stream of this context", stream);
    ctx->dev->stream_destroy(ctx, stream);
    return TSR_OK;
}

tsr_status tsr_context_cuda(tsr_context *ctx, void **cu_context, int *cu_device)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!ctx->dev->native)
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED, "tsr_context_cuda: the context runs on %s, not cuda", ctx->device_name);
    ctx->dev->native(ctx, cu_context, cu_device);
    return TSR_OK;
}

tsr_status tsr_stream_synchronize(tsr_context *ctx, void *stream)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    DEVICE_CALL(ctx, ctx->dev->sync(ctx, stream, false, &err_));
}

tsr_status tsr_context_synchronize(tsr_context *ctx)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    DEVICE_CALL(ctx, ctx->dev->sync(ctx, NULL, true, &err_));
}
