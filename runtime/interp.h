/* The TIR interpreter: runs a kernel's TIR on the CPU, one program instance
 * of the grid at a time, on host memory. It defines what a program means;
 * the emulator and the GPU must agree with it. The interp device
 * (device/interp.c) puts it behind the runtime's device interface; launch
 * validation shares kernel_bind_args and kernel_eval_grid with it. */
#ifndef TSR_INTERP_H
#define TSR_INTERP_H

#include "kernel_args.h"
#include "tir.h"

/* Binds the symbolic dims from the tensors' shapes, checking every tensor's
 * dtype, rank and constant dims and that a symbol has one value everywhere.
 * sym_vals receives f->syms.len values. Returns false with a message in err. */
bool kernel_bind_args(TirFunc *f, const KernelArg *args, int nargs, int32_t *sym_vals, StrBuf *err);

/* How an evaluation ended: running out of host memory is told apart (the
 * interpreter's working memory; nothing leaks, see support/oom.h). */
typedef enum { INTERP_OK, INTERP_ERROR, INTERP_OUT_OF_MEMORY } InterpStatus;

/* Evaluates the grid of f for bound symbols and arguments. */
InterpStatus kernel_eval_grid_status(TirFunc *f, const KernelArg *args, const int32_t *sym_vals, int64_t grid[3],
                                     StrBuf *err);
bool kernel_eval_grid(TirFunc *f, const KernelArg *args, const int32_t *sym_vals, int64_t grid[3], StrBuf *err);

/* Runs f over its whole grid. threads: host threads to use (0: all cores). */
InterpStatus interp_launch_status(TirFunc *f, const KernelArg *args, int nargs, int threads, StrBuf *err);
bool interp_launch(TirFunc *f, const KernelArg *args, int nargs, int threads, StrBuf *err);

#endif
