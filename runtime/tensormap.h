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

/* Whether a tiled tensor map can describe t (cuTensorMapEncodeTiled's rules
 * on the tensor): data 16-byte aligned and not NULL, a dtype TMA has, every
 * dim 1..2^32 (an empty tensor has no map), and the byte stride of every
 * dim but the last (which is contiguous) that has more than one element a
 * positive multiple of 16 below 2^40. If not, writes why. */
bool rt_tma_fit(const HostTensor *t, StrBuf *why);

/* The map of request r over t (which rt_tma_fit accepts): dims and strides
 * innermost first, strides in bytes (a dim of one element, whose stride is
 * never used, gets the smallest legal one), the request's box and swizzle,
 * traversal strides 1, no interleave, zero fill. */
void rt_tma_describe(const HostTensor *t, const TmaRequest *r, EmuTensorMapDesc *d);

/* Checks d against cuTensorMapEncodeTiled's documented rules (the
 * emulator's encoder applies them); false with the broken rule in err. */
bool rt_tma_check(const EmuTensorMapDesc *d, StrBuf *err);

#endif
