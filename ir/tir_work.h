/* How much tensor-core work a kernel's loops do: the measure that puts a
 * main loop's instruction count per unit of work (`tessera-bench ptxas`,
 * tests/test_sass.c). */
#ifndef TSR_TIR_WORK_H
#define TSR_TIR_WORK_H

#include "tir.h"

/* Multiply-adds per warp in one iteration of the loop whose body does the
 * most dot work: the sum of M*N*K over the dots of its body (and of the ifs
 * in it, not of inner loops), over the function's warps. 0 when no loop has
 * a dot. */
double tir_loop_mads_per_warp(TirFunc *f);

#endif
