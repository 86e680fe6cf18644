/* The kernel parameter ABI (see abi.h). */
#include "abi.h"

int abi_slot_size(AbiKind k)
{
    switch (k) {
    case ABI_PTR:
    case ABI_I64: return 8;
    case ABI_B16: return 2;
    default: return 4;
    }
}

static void put(AbiSlot *slots, int max, int *n, AbiKind kind, int param, int dim)
{
    if (*n < max) {
        slots[*n].kind = kind;
        slots[*n].param = param;
        slots[*n].dim = dim;
    }
    (*n)++;
}

int abi_slots(const TirFunc *f, AbiSlot *slots, int max)
{
    int n = 0;
    for (int i = 0; i < f->params.len; i++) {
        const TirParam *p = &f->params.data[i];
        if (p->is_tensor) {
            put(slots, max, &n, ABI_PTR, i, 0);
            for (int d = 0; d < p->rank; d++)
                put(slots, max, &n, ABI_I64, i, d);
        } else {
            AbiKind k = p->dt == DT_F32 ? ABI_F32 : (p->dt == DT_F16 || p->dt == DT_BF16) ? ABI_B16 : ABI_I32;
            put(slots, max, &n, k, i, 0);
        }
    }
    for (int s = 0; s < f->syms.len; s++)
        put(slots, max, &n, ABI_I32, TIR_NONE, s);
    return n;
}
