/* What the host devices (emu, interp) share: the CPU as the DLPack device
 * with the limits of a GPU, and buffers in host memory from the context's
 * allocator. Their launches complete before they return, so streams have
 * nothing to wait for. */
#include "device.h"
#include "target.h"

#include <stdio.h>
#include <string.h>

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

void rt_host_close(tsr_context *ctx) { (void)ctx; }

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
