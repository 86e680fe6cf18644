/* Running generated PTX on the emulator (see emu_run.h). */
#include "emu_run.h"

#include "codegen.h"
#include "emu/emu.h"
#include "rt.h"

#include <stdlib.h>
#include <string.h>

/* Bytes from a tensor's data pointer to the end of its last element. */
static size_t tensor_extent(const HostTensor *t)
{
    int64_t last = 0;
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] == 0)
            return 0;
        last += (t->shape[d] - 1) * t->strides[d];
    }
    return (size_t)(last + 1) * (size_t)dtype_size(t->dt);
}

/* The tensors to launch with the variant that accesses them element by
 * element (no vectors, no tensor maps), as the runtime decides: data not
 * 16-byte aligned, or a stride of a dim longer than 1 that is not a
 * positive multiple of 16 bytes. */
static uint64_t unaligned_tensors(const KernelArg *args, int nargs)
{
    uint64_t mask = 0;
    for (int i = 0; i < nargs && i < 64; i++) {
        const HostTensor *t = &args[i].tensor;
        if (!args[i].is_tensor)
            continue;
        bool ok = (uintptr_t)t->data % 16 == 0;
        for (int d = 0; d + 1 < t->rank; d++)
            if (t->shape[d] > 1 && (t->strides[d] <= 0 || (t->strides[d] * dtype_size(t->dt)) % 16))
                ok = false;
        if (!ok)
            mask |= (uint64_t)1 << i;
    }
    return mask;
}

/* The tensor maps a kernel asks for (CodegenResult.tma), in the emulator's
 * encoding. Dims of length 1 get the stride of a dense tensor rounded up to
 * 16 bytes (any value addresses nothing there). */
static bool encode_maps(const CodegenResult *cr, const KernelArg *args, unsigned char *maps, StrBuf *err)
{
    for (int r = 0; r < cr->ntma; r++) {
        const TmaRequest *q = &cr->tma[r];
        const HostTensor *t = &args[q->param].tensor;
        int64_t es = dtype_size(t->dt);
        EmuTensorMapDesc d = { 0 };
        d.dtype = t->dt == DT_BF16 ? EMU_TMAP_BF16 : t->dt == DT_F16 ? EMU_TMAP_F16 : EMU_TMAP_F32;
        d.rank = (unsigned)q->rank;
        d.global = t->data;
        int64_t dense = es;
        for (int k = 0; k < q->rank; k++) {
            int dim = q->rank - 1 - k;
            d.dims[k] = (uint64_t)t->shape[dim];
            if (k > 0)
                d.strides[k - 1] = (uint64_t)(t->shape[dim] > 1 ? t->strides[dim] * es : (dense + 15) / 16 * 16);
            dense = (int64_t)d.dims[k] * (k > 0 ? (int64_t)d.strides[k - 1] : es);
            d.box[k] = (uint32_t)q->box[k];
            d.elem_strides[k] = 1;
        }
        d.swizzle = q->swizzle; /* TmaSwizzle numbers as CUDA's */
        d.oob_fill = EMU_TMAP_OOB_ZERO;
        if (emu_tensor_map_encode(maps + (size_t)r * EMU_TENSOR_MAP_BYTES, &d, err))
            return false;
    }
    return true;
}

bool emu_run_kernel(TirFunc *f, const KernelArg *args, int nargs, EmuRunOptions *o, StrBuf *err)
{
    int32_t syms[64];
    int64_t grid[3];
    if (f->syms.len > 64 || !kernel_bind_args(f, args, nargs, syms, err) || !kernel_eval_grid(f, args, syms, grid, err))
        return false;
    CodegenOptions co = { o->target, true, unaligned_tensors(args, nargs), 0 };
    CodegenResult cr;
    Diag diag;
    diag_init(&diag, NULL);
    bool ok = compile_ptx(f, &co, false, NULL, &cr, &diag);
    if (!ok) {
        sb_puts(err, diag.out.data ? diag.out.data : "code generation failed");
        diag_free(&diag);
        return false;
    }
    diag_free(&diag);
    if (o->ptx)
        *o->ptx = tsr_xstrdup(cr.ptx);
    EmuModule *m = NULL;
    if (emu_module_load(cr.ptx, strlen(cr.ptx), &m, err)) {
        codegen_result_free(&cr);
        return false;
    }
    /* Parameters packed as the runtime packs them (backend/abi.h). */
    Launch l = { 0 };
    l.args = (KernelArg *)args;
    l.nargs = nargs;
    l.syms = syms;
    unsigned char *maps = calloc((size_t)cr.ntma + 1, EMU_TENSOR_MAP_BYTES);
    l.tma = cr.tma;
    l.ntma = cr.ntma;
    l.maps = maps;
    if (!encode_maps(&cr, args, maps, err)) {
        free(maps);
        emu_module_free(m);
        codegen_result_free(&cr);
        return false;
    }
    size_t bytes;
    int n = rt_param_slots(f, &l, &bytes);
    unsigned char *store = calloc(bytes + 1, 1);
    void **ptrs = calloc((size_t)n + 1, sizeof(void *));
    if (!rt_pack_params(f, &l, NULL, NULL, -1, store, bytes, ptrs, err)) {
        free(maps);
        free(store);
        free(ptrs);
        emu_module_free(m);
        codegen_result_free(&cr);
        return false;
    }
    EmuRegion *regions = calloc((size_t)nargs + 1, sizeof(EmuRegion));
    int nreg = 0;
    for (int i = 0; i < nargs; i++)
        if (args[i].is_tensor) {
            regions[nreg].base = args[i].tensor.data;
            regions[nreg].size = tensor_extent(&args[i].tensor);
            regions[nreg].writable = f->params.data[i].is_out;
            nreg++;
        }
    EmuStats stats = { 0 };
    EmuLaunch launch = { 0 };
    for (int i = 0; i < 3; i++)
        launch.grid[i] = (unsigned)grid[i];
    launch.block[0] = (unsigned)cr.threads;
    launch.block[1] = launch.block[2] = 1;
    launch.dyn_smem = cr.smem_bytes;
    launch.regions = regions;
    launch.nregions = nreg;
    launch.check_races = o->check_races;
    launch.check_uninit = o->check_uninit;
    launch.host_threads = o->host_threads;
    launch.stats = &stats;
    ok = grid[0] * grid[1] * grid[2] == 0 || emu_launch(m, cr.kernel_name, ptrs, &launch, err) == 0;
    o->warp_insns = stats.warp_insns;
    free(maps);
    free(store);
    free(ptrs);
    free(regions);
    emu_module_free(m);
    codegen_result_free(&cr);
    return ok;
}
