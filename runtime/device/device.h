/* The interface every device implements, and the pieces the host devices
 * share. A device is one file in this folder, laid out the same way:
 *
 *   opening and closing   open, close: the device's state on the context
 *   kernels               load, unload: PTX into a loaded kernel (PTX devices)
 *   launching             check_tensor, launch
 *   memory                mem_*: buffers, copies, sets (host.c for emu and interp)
 *   streams and events    sync, stream_*, event_* (NULL on host devices)
 *   the DeviceOps table   at the end
 *
 *   interp.c  runs the TIR (interp.c one folder up)
 *   emu.c     runs the PTX in the emulator (runtime/emu)
 *   cuda.c    runs the PTX on the GPU through the driver, opened at run time
 *   host.c    host memory, the CPU as the DLPack device and a GPU's limits,
 *             for emu and interp */
#ifndef TSR_DEVICE_H
#define TSR_DEVICE_H

#include "rt.h"
#include "tensormap.h"

/* A launch of loaded PTX with its parameters packed (cuLaunchKernel's
 * kernelParams): what tsr_kernel_launch and tsr_kernel_launch_ptx both end
 * in. */
typedef struct {
    const char *name; /* the kernel */
    unsigned grid[3], block[3];
    size_t smem;      /* dynamic shared memory */
    void **args;      /* per PTX parameter, its value */
    EmuRegion *regions; /* emu: the memory the kernel may touch (sorted and merged in place) */
    int nregions;
} RawLaunch;

/* What a device provides. Functions return a status and append a message to
 * err on failure. */
struct DeviceOps {
    const char *name;
    tsr_device_kind kind;
    bool runs_ptx; /* loads PTX (cuda, emu) rather than running TIR (interp) */
    /* Sets up ctx->dev_state, device_name, default_target, dl_device and
     * the limits max_threads and max_grid. */
    tsr_status (*open)(tsr_context *ctx, StrBuf *err);
    void (*close)(tsr_context *ctx);
    /* Loads v->ptx (kernel `name`) and fills v->handle and v->attrs. */
    tsr_status (*load)(tsr_context *ctx, const char *name, KernelVariant *v, StrBuf *err);
    void (*unload)(tsr_context *ctx, KernelVariant *v);
    /* Device checks of one tensor argument beyond the generic ones (NULL: none). */
    tsr_status (*check_tensor)(tsr_context *ctx, const char *param, const HostTensor *t, StrBuf *err);
    tsr_status (*launch)(tsr_context *ctx, tsr_kernel *k, KernelVariant *v, const Launch *l, void *stream,
                         StrBuf *err);
    /* How many blocks of a loaded variant the device holds at once
     * (multiprocessors x blocks per multiprocessor): the grid of a
     * persistent kernel (TSR_COMPILE_PERSISTENT) is at most this. NULL on
     * interp, which runs the program's grid. */
    int64_t (*resident_blocks)(tsr_context *ctx, const KernelVariant *v);
    /* Runs loaded PTX (PTX devices). */
    tsr_status (*launch_raw)(tsr_context *ctx, KernelVariant *v, RawLaunch *r, void *stream, StrBuf *err);
    /* Encodes a tensor map (rt_tma_check has accepted d) into the 128 bytes
     * at map, for kernels of this device (NULL: the device takes none). */
    tsr_status (*tensor_map_encode)(tsr_context *ctx, const EmuTensorMapDesc *d, void *map, StrBuf *err);
    tsr_status (*mem_alloc)(tsr_context *ctx, size_t bytes, void **ptr, StrBuf *err);
    tsr_status (*mem_free)(tsr_context *ctx, void *ptr, size_t bytes, StrBuf *err);
    tsr_status (*mem_copy)(tsr_context *ctx, void *dst, const void *src, size_t bytes, tsr_copy_kind kind,
                           void *stream, StrBuf *err);
    tsr_status (*mem_set)(tsr_context *ctx, void *dst, int value, size_t bytes, void *stream, StrBuf *err);
    tsr_status (*sync)(tsr_context *ctx, void *stream, bool whole_context, StrBuf *err);
    /* Streams; NULL on the host devices, which have only the NULL stream. */
    tsr_status (*stream_create)(tsr_context *ctx, void **stream, StrBuf *err);
    void (*stream_destroy)(tsr_context *ctx, void *stream);
    /* The driver's handles (cuda only). */
    void (*native)(tsr_context *ctx, void **cu_context, int *cu_device);
    /* Events (event.c); NULL on the host devices, whose events read the
     * host's clock. */
    tsr_status (*event_create)(tsr_context *ctx, void **handle, StrBuf *err);
    void (*event_destroy)(tsr_context *ctx, void *handle);
    tsr_status (*event_record)(tsr_context *ctx, void *handle, void *stream, StrBuf *err);
    tsr_status (*event_sync)(tsr_context *ctx, void *handle, StrBuf *err);
    tsr_status (*event_elapsed)(tsr_context *ctx, void *start, void *end, float *ms, StrBuf *err);
};

extern const DeviceOps rt_interp_device;
extern const DeviceOps rt_emu_device;
extern const DeviceOps rt_cuda_device;

/* Sets up a context of a host device (emu, interp): its name, the CPU as
 * the DLPack device, and the limits a GPU has. */
void rt_host_open(tsr_context *ctx, const char *name);
void rt_host_close(tsr_context *ctx);
/* The buffers of host devices (emu, interp): allocator memory. */
tsr_status rt_host_alloc(tsr_context *ctx, size_t bytes, void **ptr, StrBuf *err);
tsr_status rt_host_free(tsr_context *ctx, void *ptr, size_t bytes, StrBuf *err);
tsr_status rt_host_copy(tsr_context *ctx, void *dst, const void *src, size_t bytes, tsr_copy_kind kind, void *stream,
                        StrBuf *err);
tsr_status rt_host_set(tsr_context *ctx, void *dst, int value, size_t bytes, void *stream, StrBuf *err);
tsr_status rt_host_sync(tsr_context *ctx, void *stream, bool whole_context, StrBuf *err);

#endif
