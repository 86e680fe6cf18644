/* The values the runtime, the interpreter and the devices pass each other for
 * one launch: tensors in host-addressable memory and kernel arguments. They
 * are the runtime's own view of a DLPack tensor after validation (launch.c):
 * a dtype Tessera has, a rank of at most TIR_MAX_RANK, strides in elements. */
#ifndef TSR_KERNEL_ARGS_H
#define TSR_KERNEL_ARGS_H

#include "tir.h"

/* A tensor: data is a host pointer (emu, interp) or a device address (cuda);
 * strides count elements and may be anything (negative, zero, overlapping). */
typedef struct {
    void *data;
    DType dt;
    int rank;
    int64_t shape[TIR_MAX_RANK];
    int64_t strides[TIR_MAX_RANK];
} HostTensor;

/* One kernel argument, in the order of the kernel's parameters. */
typedef struct {
    bool is_tensor;
    HostTensor tensor;
    double scalar; /* for scalar parameters (converted to the parameter's dtype) */
} KernelArg;

#endif
