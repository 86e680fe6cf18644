/* The interp device: runs a kernel's TIR on the CPU, one program instance
 * of the grid at a time, on host memory. It defines what a program means;
 * the emulator and the GPU must agree with it. */
#ifndef TSR_INTERP_H
#define TSR_INTERP_H

#include "tir.h"

/* A tensor in host memory; strides count elements and may be anything
 * (negative, zero, overlapping). */
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

/* Binds the symbolic dims from the tensors' shapes, checking every tensor's
 * dtype, rank and constant dims and that a symbol has one value everywhere.
 * sym_vals receives f->syms.len values. Returns false with a message in err. */
bool kernel_bind_args(TirFunc *f, const KernelArg *args, int nargs, int32_t *sym_vals, StrBuf *err);

/* Evaluates the grid of f for bound symbols and arguments. */
bool kernel_eval_grid(TirFunc *f, const KernelArg *args, const int32_t *sym_vals, int64_t grid[3], StrBuf *err);

/* Runs f over its whole grid. threads: host threads to use (0: all cores). */
bool interp_launch(TirFunc *f, const KernelArg *args, int nargs, int threads, StrBuf *err);

#endif
