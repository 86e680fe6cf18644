/* Running generated PTX on the emulator (see emu_run.h). */
#include "emu_run.h"

#include "codegen.h"
#include "emu/emu.h"
#include "rt.h"
#include "tensormap.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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

/* The tensors 16-byte vectors cannot access (*unaligned) and those no
 * tensor map can describe (*unfit), as the runtime judges them
 * (rt_tensor_access). */
static void tensor_access(const KernelArg *args, int nargs, uint64_t *unaligned, uint64_t *unfit)
{
    *unaligned = *unfit = 0;
    for (int i = 0; i < nargs && i < 64; i++) {
        bool vectors, tma;
        if (!args[i].is_tensor)
            continue;
        rt_tensor_access(&args[i].tensor, &vectors, &tma);
        *unaligned |= vectors ? 0 : (uint64_t)1 << i;
        *unfit |= tma ? 0 : (uint64_t)1 << i;
    }
}

static bool compile_variant(TirFunc *f, const EmuRunOptions *o, uint64_t unaligned, CodegenResult *cr, StrBuf *err)
{
    CodegenOptions co = { .target = o->target, .assume_aligned = true, .unaligned_params = unaligned,
                          .no_warp_specialize = o->no_warp_specialize, .no_overlap = o->no_overlap,
                          .no_pingpong = o->no_pingpong, .persistent = o->persistent_blocks > 0 };
    Diag diag;
    diag_init(&diag, NULL);
    bool ok = compile_ptx(f, &co, false, NULL, cr, &diag);
    if (!ok)
        sb_puts(err, diag.out.data ? diag.out.data : "code generation failed");
    diag_free(&diag);
    return ok;
}

/* The PTX the runtime launches these tensors with (runtime/launch.c,
 * prepare_for): the variant for the tensors vectors cannot access, or, when
 * that one asks for a map of a tensor no map can describe, the variant that
 * also accesses those element by element. */
static bool compile_for(TirFunc *f, const EmuRunOptions *o, const KernelArg *args, int nargs, CodegenResult *cr,
                        StrBuf *err)
{
    uint64_t unaligned, unfit, mapped = 0;
    tensor_access(args, nargs, &unaligned, &unfit);
    if (!compile_variant(f, o, unaligned, cr, err))
        return false;
    for (int r = 0; r < cr->ntma; r++)
        mapped |= cr->tma[r].param < 64 ? (uint64_t)1 << cr->tma[r].param : 0;
    if (!(mapped & unfit))
        return true;
    codegen_result_free(cr);
    return compile_variant(f, o, unaligned | (mapped & unfit), cr, err);
}

/* The tensor maps the kernel takes (CodegenResult.tma), encoded for the
 * emulator as the runtime does (runtime/tensormap.h) into *maps (malloc'd,
 * NULL when none). */
static bool encode_maps(const CodegenResult *cr, const KernelArg *args, unsigned char **maps, StrBuf *err)
{
    *maps = cr->ntma ? aligned_alloc(64, (size_t)cr->ntma * EMU_TENSOR_MAP_BYTES) : NULL;
    for (int r = 0; r < cr->ntma; r++) {
        const HostTensor *t = &args[cr->tma[r].param].tensor;
        EmuTensorMapDesc d;
        TmaTensor tt;
        if (!rt_tma_tensor(t, &tt) || !rt_tma_fit(&tt, err))
            return false;
        rt_tma_describe(&tt, cr->tma[r].box, cr->tma[r].swizzle, &d);
        if (emu_tensor_map_encode(*maps + (size_t)r * EMU_TENSOR_MAP_BYTES, &d, err))
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
    CodegenResult cr;
    if (!compile_for(f, o, args, nargs, &cr, err))
        return false;
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
    unsigned char *maps;
    if (!encode_maps(&cr, args, &maps, err)) {
        free(maps);
        emu_module_free(m);
        codegen_result_free(&cr);
        return false;
    }
    l.tma = cr.tma;
    l.ntma = cr.ntma;
    l.maps = maps;
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
    int64_t tiles = grid[0] * grid[1] * grid[2];
    if (cr.persistent) {
        launch.grid[0] = (unsigned)(tiles < o->persistent_blocks ? tiles : o->persistent_blocks);
        launch.grid[1] = launch.grid[2] = 1;
    }
    launch.block[0] = (unsigned)cr.threads;
    launch.block[1] = launch.block[2] = 1;
    launch.dyn_smem = cr.smem_bytes;
    launch.regions = regions;
    launch.nregions = nreg;
    launch.check_races = o->check_races;
    launch.check_uninit = o->check_uninit;
    launch.host_threads = o->host_threads;
    launch.stats = &stats;
    bool ok = grid[0] * grid[1] * grid[2] == 0 || emu_launch(m, cr.kernel_name, ptrs, &launch, err) == 0;
    o->warp_insns = stats.warp_insns;
    free(maps);
    free(store);
    free(ptrs);
    free(regions);
    emu_module_free(m);
    codegen_result_free(&cr);
    return ok;
}

const char *const run_places[RUN_PLACES] = { "interp", "sm_80", "sm_90a", "sm_90a persistent" };

bool run_kernel_at(TirFunc *f, const KernelArg *args, int nargs, int place, StrBuf *err)
{
    if (place == 0)
        return interp_launch(f, args, nargs, 2, err);
    EmuRunOptions o = { 0 };
    o.target = place == 3 ? "sm_90a" : run_places[place];
    o.persistent_blocks = place == 3 ? 3 : 0;
    o.check_uninit = o.check_races = true;
    o.host_threads = 2;
    return emu_run_kernel(f, args, nargs, &o, err);
}

void run_kernel_at_or_fail(TirFunc *f, const KernelArg *args, int nargs, int place)
{
    StrBuf err;
    sb_init(&err);
    if (!run_kernel_at(f, args, nargs, place, &err))
        fail_msg("%s on %s: %s", f->name, run_places[place], err.data);
    sb_free(&err);
}
