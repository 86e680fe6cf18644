/* What the mock driver (libcuda_mock.c) tells a test about the tensor maps
 * it was asked to encode: the arguments of the last cuTensorMapEncodeTiled
 * and how many calls there were (mock_cuda_tensor_maps()). */
#ifndef TSR_LIBCUDA_MOCK_H
#define TSR_LIBCUDA_MOCK_H

#include <stdint.h>

typedef struct {
    long calls;
    int dtype;
    unsigned rank;
    const void *global;
    uint64_t dims[5], strides[4];
    uint32_t box[5], elem_strides[5];
    int interleave, swizzle, l2_promotion, oob_fill;
} MockTensorMapCall;

#endif
