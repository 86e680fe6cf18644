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

bool emu_run_kernel(TirFunc *f, const KernelArg *args, int nargs, EmuRunOptions *o, StrBuf *err)
{
    int32_t syms[64];
    int64_t grid[3];
    if (f->syms.len > 64 || !kernel_bind_args(f, args, nargs, syms, err) || !kernel_eval_grid(f, args, syms, grid, err))
        return false;
    CodegenOptions co = { o->target, true, 0, 0 };
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
    size_t bytes;
    int n = rt_param_slots(f, &l, &bytes);
    unsigned char *store = calloc(bytes + 1, 1);
    void **ptrs = calloc((size_t)n + 1, sizeof(void *));
    if (!rt_pack_params(f, &l, NULL, NULL, -1, store, bytes, ptrs, err)) {
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
    free(store);
    free(ptrs);
    free(regions);
    emu_module_free(m);
    codegen_result_free(&cr);
    return ok;
}
