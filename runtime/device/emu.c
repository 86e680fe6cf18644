/* The emu device: kernels compiled to PTX run in the PTX emulator
 * (runtime/emu). "Device memory" is host memory (host.c); each launch
 * registers the memory its tensors span, writable only for `out` tensors, so
 * the emulator reports any access outside them. */
#define _POSIX_C_SOURCE 200809L
#include "abi.h"
#include "emu/emu.h"
#include "device.h"
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------- opening and closing */

static tsr_status emu_open(tsr_context *ctx, StrBuf *err)
{
    (void)err;
    rt_host_open(ctx, "emu");
    return TSR_OK;
}

/* ------------------------------------------------------------- kernels */

static tsr_status emu_load(tsr_context *ctx, const char *name, KernelVariant *v, StrBuf *err)
{
    (void)ctx;
    EmuModule *m;
    int rc = emu_module_load(v->ptx, strlen(v->ptx), &m, err);
    if (rc != EMU_OK)
        return rc == EMU_OUT_OF_MEMORY ? TSR_ERR_OUT_OF_MEMORY : TSR_ERR_DEVICE;
    EmuKernelInfo info;
    if (emu_kernel_info(m, name, &info, err) != 0) {
        emu_module_free(m);
        return TSR_ERR_DEVICE;
    }
    v->handle = m;
    v->attrs.num_regs = info.nregs;
    v->attrs.local_bytes = info.local_bytes;
    v->attrs.static_smem = info.static_smem;
    /* The emulator has no limit of its own: hold kernels to their GPUs'. */
    size_t limit = target_of_ptx(v->ptx)->smem_per_block;
    v->attrs.max_dynamic_smem = info.static_smem < limit ? limit - info.static_smem : 0;
    return TSR_OK;
}

/* The emulator plays a GPU of EMU_MULTIPROCESSORS multiprocessors, each
 * holding as many blocks as the target's shared memory and 2048 threads per
 * multiprocessor allow (registers are not counted): few, so that the tests'
 * persistent launches have grids both smaller and larger than the blocks
 * launched. */
enum { EMU_MULTIPROCESSORS = 4, EMU_THREADS_PER_SM = 2048 };

static int64_t emu_resident_blocks(tsr_context *ctx, const KernelVariant *v)
{
    (void)ctx;
    const Target *t = target_of_ptx(v->ptx);
    int64_t by_smem = (int64_t)(t->smem_per_sm / (v->smem_bytes + v->attrs.static_smem + 1024));
    int64_t by_threads = EMU_THREADS_PER_SM / (v->threads > 0 ? v->threads : 1);
    int64_t per_sm = by_smem < by_threads ? by_smem : by_threads;
    return EMU_MULTIPROCESSORS * (per_sm < 1 ? 1 : per_sm);
}

static void emu_unload(tsr_context *ctx, KernelVariant *v)
{
    (void)ctx;
    emu_module_free(v->handle);
    v->handle = NULL;
}

/* ----------------------------------------------------------- launching */

static int by_base(const void *a, const void *b)
{
    const char *x = ((const EmuRegion *)a)->base, *y = ((const EmuRegion *)b)->base;
    return x < y ? -1 : x > y;
}

/* Sorts regions by address and merges overlapping ones (tensors may alias:
 * an output written in place over an input), writable if any of them is;
 * returns how many remain. */
static int merge_regions(EmuRegion *regions, int n)
{
    qsort(regions, (size_t)n, sizeof *regions, by_base);
    int m = 0;
    for (int i = 0; i < n; i++) {
        EmuRegion *last = m ? &regions[m - 1] : NULL;
        const char *end = last ? (const char *)last->base + last->size : NULL;
        if (last && (const char *)regions[i].base < end) {
            const char *e = (const char *)regions[i].base + regions[i].size;
            if (e > end)
                last->size = (size_t)(e - (const char *)last->base);
            last->writable |= regions[i].writable;
        } else {
            regions[m++] = regions[i];
        }
    }
    return m;
}

/* The memory the launch's tensors span, writable for `out` tensors. */
static int tensor_regions(const TirFunc *f, const Launch *l, EmuRegion *regions)
{
    int n = 0;
    for (int i = 0; i < l->nargs; i++) {
        if (!l->args[i].is_tensor)
            continue;
        const char *lo;
        size_t bytes;
        if (!rt_tensor_extent(&l->args[i].tensor, &lo, &bytes) || !bytes) /* validation refused the first */
            continue;
        regions[n].base = lo;
        regions[n].size = bytes;
        regions[n].writable = f->params.data[i].is_out;
        n++;
    }
    return n;
}

/* After a fault's message: the lines of the PTX that ran around the one the
 * message names, that one marked with '>', so that the instruction is seen
 * in its context (the PTX of this variant: tsr_module_ir gives the
 * all-aligned one, which may differ). */
static void append_ptx_listing(StrBuf *err, const char *ptx, int line)
{
    sb_printf(err, "\nPTX around line %d (of the kernel variant that ran):", line);
    int n = 1;
    for (const char *p = ptx; *p && n <= line + 2; n++) {
        size_t len = strcspn(p, "\n");
        if (n >= line - 3)
            sb_printf(err, "\n%s%6d  %.*s", n == line ? ">" : " ", n, (int)len, p);
        p += len + (p[len] == '\n');
    }
}

static tsr_status emu_launch_raw(tsr_context *ctx, KernelVariant *v, RawLaunch *r, void *stream, StrBuf *err)
{
    (void)stream;
    EmuLaunch el;
    memset(&el, 0, sizeof el);
    for (int i = 0; i < 3; i++) {
        el.grid[i] = r->grid[i];
        el.block[i] = r->block[i];
    }
    el.dyn_smem = r->smem;
    el.regions = r->regions;
    el.nregions = merge_regions(r->regions, r->nregions);
    el.check_races = (ctx->flags & TSR_EMU_CHECK_RACES) != 0;
    el.check_uninit = (ctx->flags & TSR_EMU_CHECK_UNINIT) != 0;
    el.max_warp_insns = ctx->emu_max_warp_insns;
    el.host_threads = ctx->host_threads;
    if (el.host_threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        el.host_threads = cores > 0 ? (int)cores : 1;
    }
    EmuStats stats = { 0 };
    el.stats = &stats;
    int rc = emu_launch(v->handle, r->name, r->args, &el, err);
    if (rc == EMU_ERROR && stats.fault_line > 0 && v->ptx)
        append_ptx_listing(err, v->ptx, stats.fault_line);
    return rc == EMU_OK ? TSR_OK : rc == EMU_OUT_OF_MEMORY ? TSR_ERR_OUT_OF_MEMORY : TSR_ERR_DEVICE;
}

static tsr_status emu_run(tsr_context *ctx, tsr_kernel *k, KernelVariant *v, const Launch *l, void *stream,
                          StrBuf *err)
{
    EmuModule *m = v->handle;
    const char *name = k->f->name;
    EmuKernelInfo info;
    if (emu_kernel_info(m, name, &info, err) != 0)
        return TSR_ERR_DEVICE;
    int n = info.nparams;
    /* One block from the context's allocator holds the launch's arrays. */
    size_t words = (size_t)n + 1, nregs = (size_t)l->nargs + 1;
    size_t total = 2 * sizeof(size_t) * words + sizeof(void *) * words + sizeof(EmuRegion) * nregs +
                   info.param_bytes + 1;
    char *block = rt_alloc(ctx, total);
    if (!block) {
        sb_puts(err, "out of host memory");
        return TSR_ERR_OUT_OF_MEMORY;
    }
    size_t *offsets = (size_t *)block, *sizes = offsets + words;
    void **args = (void **)(sizes + words);
    EmuRegion *regions = (EmuRegion *)(args + words);
    unsigned char *buf = (unsigned char *)(regions + nregs);
    for (int i = 0; i < n; i++) {
        offsets[i] = info.params[i].offset;
        sizes[i] = info.params[i].size;
    }
    tsr_status s = TSR_ERR_DEVICE;
    if (rt_pack_params(k->f, l, offsets, sizes, n, buf, info.param_bytes, args, err)) {
        RawLaunch r = { name, { 0 }, { (unsigned)v->threads, 1, 1 }, v->smem_bytes, args, regions,
                        tensor_regions(k->f, l, regions) };
        for (int i = 0; i < 3; i++)
            r.grid[i] = (unsigned)l->blocks[i];
        s = emu_launch_raw(ctx, v, &r, stream, err);
    }
    rt_free(ctx, block, total);
    return s;
}

/* The emulator's own encoding of a tensor map (runtime/emu/README.md). */
static tsr_status emu_map_encode(tsr_context *ctx, const EmuTensorMapDesc *d, void *map, StrBuf *err)
{
    (void)ctx;
    return emu_tensor_map_encode(map, d, err) == 0 ? TSR_OK : TSR_ERR_LAUNCH;
}

/* ------------------------------------------------------ the DeviceOps table */

const DeviceOps rt_emu_device = {
    .name = "emu",
    .kind = TSR_DEVICE_EMU,
    .runs_ptx = true,
    .open = emu_open,
    .close = rt_host_close,
    .load = emu_load,
    .unload = emu_unload,
    .launch = emu_run,
    .resident_blocks = emu_resident_blocks,
    .launch_raw = emu_launch_raw,
    .tensor_map_encode = emu_map_encode,
    .mem_alloc = rt_host_alloc,
    .mem_free = rt_host_free,
    .mem_copy = rt_host_copy,
    .mem_set = rt_host_set,
    .sync = rt_host_sync,
};
