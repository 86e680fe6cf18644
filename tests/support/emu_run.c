/* Running generated PTX on the emulator (see emu_run.h). */
#include "emu_run.h"

#include "abi.h"
#include "codegen.h"
#include "emu/emu.h"

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

static void pack(const TirFunc *f, const AbiSlot *s, const KernelArg *args, const int32_t *syms, uint64_t *slot)
{
    *slot = 0;
    if (s->param == TIR_NONE) {
        memcpy(slot, &syms[s->dim], 4);
        return;
    }
    const KernelArg *a = &args[s->param];
    switch (s->kind) {
    case ABI_PTR: memcpy(slot, &a->tensor.data, sizeof(void *)); break;
    case ABI_I64: memcpy(slot, &a->tensor.strides[s->dim], 8); break;
    case ABI_F32: {
        float x = (float)a->scalar;
        memcpy(slot, &x, 4);
        break;
    }
    case ABI_B16: {
        DType dt = f->params.data[s->param].dt;
        uint16_t x = dt == DT_BF16 ? f32_to_bf16_bits((float)a->scalar) : f32_to_f16_bits((float)a->scalar);
        memcpy(slot, &x, 2);
        break;
    }
    default: {
        int32_t x = (int32_t)a->scalar;
        memcpy(slot, &x, 4);
        break;
    }
    }
}

bool emu_run_kernel(TirFunc *f, const KernelArg *args, int nargs, EmuRunOptions *o, StrBuf *err)
{
    int32_t syms[64];
    int64_t grid[3];
    if (f->syms.len > 64 || !kernel_bind_args(f, args, nargs, syms, err) || !kernel_eval_grid(f, args, syms, grid, err))
        return false;
    CodegenOptions co = { o->target ? o->target : "sm_90a", true };
    CodegenResult cr;
    Diag diag;
    diag_init(&diag, NULL);
    bool ok = codegen_kernel(f, &co, false, &cr, &diag);
    if (!ok) {
        sb_puts(err, diag.out.data ? diag.out.data : "code generation failed");
        diag_free(&diag);
        return false;
    }
    diag_free(&diag);
    EmuModule *m = NULL;
    if (emu_module_load(cr.ptx, strlen(cr.ptx), &m, err)) {
        codegen_result_free(&cr);
        return false;
    }
    AbiSlot slots[256];
    int n = abi_slots(f, slots, 256);
    uint64_t *store = calloc((size_t)n + 1, sizeof(uint64_t));
    void **ptrs = calloc((size_t)n + 1, sizeof(void *));
    EmuRegion *regions = calloc((size_t)nargs + 1, sizeof(EmuRegion));
    int nreg = 0;
    for (int i = 0; i < n; i++) {
        pack(f, &slots[i], args, syms, &store[i]);
        ptrs[i] = &store[i];
    }
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
