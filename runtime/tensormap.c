/* Tensor maps for launches (see tensormap.h). */
#include "tensormap.h"

#include <string.h>

static int tma_dtype(DType dt)
{
    switch (dt) {
    case DT_BOOL:
    case DT_E4M3: /* fp8 codes: TMA moves bytes */
    case DT_E5M2: return EMU_TMAP_U8;
    case DT_I32: return EMU_TMAP_S32;
    case DT_F16: return EMU_TMAP_F16;
    case DT_BF16: return EMU_TMAP_BF16;
    case DT_F32: return EMU_TMAP_F32;
    default: return -1;
    }
}

/* Bytes of an element of each EMU_TMAP_* type. */
static int64_t tma_esize(int dtype)
{
    static const unsigned char size[EMU_TMAP_DTYPE_COUNT] = { 1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4 };
    return dtype >= 0 && dtype < EMU_TMAP_DTYPE_COUNT ? size[dtype] : 0;
}

bool rt_tma_tensor(const HostTensor *h, TmaTensor *t)
{
    memset(t, 0, sizeof *t);
    t->data = h->data;
    t->dtype = tma_dtype(h->dt);
    t->rank = h->rank;
    for (int d = 0; d < h->rank; d++) {
        t->shape[d] = h->shape[d];
        t->strides[d] = h->strides[d];
    }
    return t->dtype >= 0;
}

enum { STRIDE_LIMIT_SHIFT = 40 };

bool rt_tma_fit(const TmaTensor *t, StrBuf *why)
{
    int64_t es = tma_esize(t->dtype);
    if (!es) {
        sb_printf(why, "TMA has no elements of type %d", t->dtype);
        return false;
    }
    if (t->rank < 1 || t->rank > RT_TMA_MAX_RANK) {
        sb_printf(why, "it has %d dimensions (a tensor map takes 1 to 5)", t->rank);
        return false;
    }
    if (!t->data || (uintptr_t)t->data % 16) {
        sb_printf(why, "its data pointer %p is not 16-byte aligned", t->data);
        return false;
    }
    if (t->shape[t->rank - 1] > 1 && t->strides[t->rank - 1] != 1) {
        sb_printf(why, "its last dimension has stride %lld (a tensor map needs 1)", (long long)t->strides[t->rank - 1]);
        return false;
    }
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] < 1 || (uint64_t)t->shape[d] > (1ull << 32)) {
            sb_printf(why, "dimension %d has %lld elements (a tensor map needs 1..2^32)", d, (long long)t->shape[d]);
            return false;
        }
        if (d == t->rank - 1 || t->shape[d] == 1)
            continue;
        int64_t bytes;
        if (__builtin_mul_overflow(t->strides[d], es, &bytes) || bytes <= 0 || bytes % 16 ||
            bytes >= (int64_t)1 << STRIDE_LIMIT_SHIFT) {
            sb_printf(why, "dimension %d has stride %lld elements (a tensor map needs a positive multiple of 16 bytes "
                           "below 2^40)",
                      d, (long long)t->strides[d]);
            return false;
        }
    }
    return true;
}

void rt_tma_describe(const TmaTensor *t, const int *box, int swizzle, EmuTensorMapDesc *d)
{
    memset(d, 0, sizeof *d);
    uint64_t es = (uint64_t)tma_esize(t->dtype);
    d->dtype = t->dtype;
    d->rank = (unsigned)t->rank;
    d->global = t->data;
    d->swizzle = swizzle;
    d->oob_fill = EMU_TMAP_OOB_ZERO;
    uint64_t span = 0; /* bytes the dims inside this one cover, when below 2^40 */
    for (int i = 0; i < t->rank; i++) {
        int dim = t->rank - 1 - i; /* the tensor's dim */
        d->dims[i] = (uint64_t)t->shape[dim];
        d->box[i] = (uint32_t)box[i];
        d->elem_strides[i] = 1;
        uint64_t st = es;
        if (i > 0) {
            /* A dim of one element never uses its stride: the dense one
             * (any multiple of 16 below 2^40 is legal). */
            st = t->shape[dim] > 1 ? (uint64_t)t->strides[dim] * es : span ? (span + 15) / 16 * 16 : 16;
            d->strides[i - 1] = st;
        }
        uint64_t next;
        span = !__builtin_mul_overflow(st, d->dims[i], &next) && next < 1ull << STRIDE_LIMIT_SHIFT ? next : 0;
    }
}

bool rt_tma_check(const EmuTensorMapDesc *d, StrBuf *err)
{
    _Alignas(64) unsigned char scratch[EMU_TENSOR_MAP_BYTES];
    return emu_tensor_map_encode(scratch, d, err) == 0;
}
