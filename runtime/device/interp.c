/* The interp device: the TIR interpreter (runtime/interp.c) behind the
 * device interface. Tensors are host memory; nothing is compiled to PTX, so
 * there are no kernels to load; a launch runs the module's TIR. */
#include "device.h"

/* ------------------------------------------------- opening and closing */

static tsr_status interp_open(tsr_context *ctx, StrBuf *err)
{
    (void)err;
    rt_host_open(ctx, "interp");
    return TSR_OK;
}

/* ----------------------------------------------------------- launching */

static tsr_status interp_run(tsr_context *ctx, tsr_kernel *k, KernelVariant *v, const Launch *l, void *stream,
                             StrBuf *err)
{
    (void)v;
    (void)stream;
    InterpStatus s = interp_launch_status(k->f, l->args, l->nargs, ctx->host_threads, err);
    return s == INTERP_OK ? TSR_OK : s == INTERP_OUT_OF_MEMORY ? TSR_ERR_OUT_OF_MEMORY : TSR_ERR_DEVICE;
}

/* ------------------------------------------------------ the DeviceOps table */

const DeviceOps rt_interp_device = {
    .name = "interp",
    .kind = TSR_DEVICE_INTERP,
    .runs_ptx = false,
    .open = interp_open,
    .close = rt_host_close,
    .launch = interp_run,
    .mem_alloc = rt_host_alloc,
    .mem_free = rt_host_free,
    .mem_copy = rt_host_copy,
    .mem_set = rt_host_set,
    .sync = rt_host_sync,
};
