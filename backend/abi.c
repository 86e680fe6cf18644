/* The kernel parameter ABI (see abi.h). */
#include "abi.h"

int abi_slot_size(AbiKind k)
{
    switch (k) {
    case ABI_PTR:
    case ABI_I64: return 8;
    case ABI_B16: return 2;
    case ABI_TMAP: return ABI_TMAP_BYTES;
    default: return 4;
    }
}

int abi_slot_align(AbiKind k) { return k == ABI_TMAP ? ABI_TMAP_ALIGN : abi_slot_size(k); }

static void put(AbiSlot *slots, int max, int *n, AbiKind kind, int param, int dim)
{
    if (*n < max) {
        slots[*n].kind = kind;
        slots[*n].param = param;
        slots[*n].dim = dim;
    }
    (*n)++;
}

int abi_slots_with(const TirFunc *f, const TmaRequest *tma, int ntma, AbiSlot *slots, int max)
{
    int n = 0;
    for (int i = 0; i < f->params.len; i++) {
        const TirParam *p = &f->params.data[i];
        if (p->is_tensor) {
            put(slots, max, &n, ABI_PTR, i, 0);
            for (int d = 0; d < p->rank; d++)
                put(slots, max, &n, ABI_I64, i, d);
        } else {
            AbiKind k = p->dt == DT_F32                        ? ABI_F32
                        : (p->dt == DT_F16 || p->dt == DT_BF16) ? ABI_B16
                        : p->dt == DT_I64                         ? ABI_I64
                                                                  : ABI_I32;
            put(slots, max, &n, k, i, 0);
        }
    }
    for (int s = 0; s < f->syms.len; s++)
        put(slots, max, &n, ABI_I32, TIR_NONE, s);
    for (int r = 0; r < ntma; r++)
        put(slots, max, &n, ABI_TMAP, tma[r].param, r);
    return n;
}

int abi_slots(const TirFunc *f, AbiSlot *slots, int max) { return abi_slots_with(f, f->tma.data, f->tma.len, slots, max); }

int abi_swizzle_span(int swizzle)
{
    switch (swizzle) {
    case TMA_SWIZZLE_32B: return 32;
    case TMA_SWIZZLE_64B: return 64;
    case TMA_SWIZZLE_128B: return 128;
    default: return 0;
    }
}

bool abi_tma_request_ok(const TirFunc *f, const TmaRequest *r, StrBuf *why)
{
    if (r->param < 0 || r->param >= f->params.len || !f->params.data[r->param].is_tensor) {
        sb_printf(why, "tensor map request for parameter %d, which is not a tensor parameter", r->param);
        return false;
    }
    const TirParam *p = &f->params.data[r->param];
    if (r->rank != p->rank) {
        sb_printf(why, "tensor map request for '%s' has rank %d; the tensor has %d", p->name, r->rank, p->rank);
        return false;
    }
    if (r->swizzle < TMA_SWIZZLE_NONE || r->swizzle > TMA_SWIZZLE_128B) {
        sb_printf(why, "tensor map request for '%s' has an unknown swizzle %d", p->name, r->swizzle);
        return false;
    }
    for (int d = 0; d < r->rank; d++)
        if (r->box[d] < 1 || r->box[d] > 256) {
            sb_printf(why, "tensor map request for '%s': box[%d] = %d is outside 1..256", p->name, d, r->box[d]);
            return false;
        }
    int inner = r->box[0] * dtype_size(p->dt), span = abi_swizzle_span(r->swizzle);
    if (inner % 16 || (span && inner > span)) {
        sb_printf(why,
                  "tensor map request for '%s': the inner box extent (%d bytes) must be a multiple of 16 bytes%s",
                  p->name, inner, span ? " within the swizzle span" : "");
        return false;
    }
    return true;
}
