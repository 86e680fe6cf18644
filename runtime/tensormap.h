/* Tensor maps (TMA) for launches: which tensors TMA can take, and the
 * description of the map a TmaRequest (ir/tir.h) asks for, built from the
 * tensor a launch passes. The description is the emulator's
 * EmuTensorMapDesc, whose numbering is CUDA's, so one description serves
 * every device: emu encodes it with emu_tensor_map_encode, cuda hands it to
 * cuTensorMapEncodeTiled. */
#ifndef TSR_TENSORMAP_H
#define TSR_TENSORMAP_H

#include "emu/emu.h"
#include "kernel_args.h"

/* A tensor as a map sees it: dims outermost first as in DLPack and
 * HostTensor, strides in elements, the element type in CUDA's numbering
 * (EMU_TMAP_*). */
enum { RT_TMA_MAX_RANK = 5 };
typedef struct {
    const void *data;
    int dtype;
    int rank;
    int64_t shape[RT_TMA_MAX_RANK], strides[RT_TMA_MAX_RANK];
} TmaTensor;

/* The view of a kernel argument; false for a dtype TMA has not. */
bool rt_tma_tensor(const HostTensor *h, TmaTensor *t);

/* Whether a tiled tensor map can describe t (cuTensorMapEncodeTiled's rules
 * on the tensor): data 16-byte aligned and not NULL, rank 1..5, every dim
 * 1..2^32 (an empty tensor has no map), the last dim contiguous, and the
 * byte stride of every other dim that has more than one element a positive
 * multiple of 16 below 2^40. If not, writes why. */
bool rt_tma_fit(const TmaTensor *t, StrBuf *why);

/* The map over t (which rt_tma_fit accepts) with box (t->rank extents,
 * innermost first) and swizzle (TmaSwizzle): dims and strides innermost
 * first, strides in bytes (a dim of one element, whose stride is never
 * used, gets the dense one), traversal strides 1, no interleave, zero
 * fill. */
void rt_tma_describe(const TmaTensor *t, const int *box, int swizzle, EmuTensorMapDesc *d);

/* Checks d against cuTensorMapEncodeTiled's documented rules (the
 * emulator's encoder applies them); false with the broken rule in err. */
bool rt_tma_check(const EmuTensorMapDesc *d, StrBuf *err);

#endif
