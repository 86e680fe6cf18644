/* The meaning of TIR's elementwise operations, element by element. The
 * interpreter runs them on whole tiles and the folding pass on constants, so
 * a folded program computes exactly what the unfolded one does. f16 and bf16
 * elements are held as f32 values that are exactly representable in them. */
#ifndef TSR_TIR_EVAL_H
#define TSR_TIR_EVAL_H

#include "tir.h"

typedef union {
    float f;
    int64_t i; /* integers as int_wrap gives them (dtype.h), bool as 0/1 */
} TirElem;

/* out[k] = a[k] op b[k]; `dt` is the operands' dtype. */
void tir_eval_binary(TirOp op, DType dt, int64_t n, const TirElem *a, const TirElem *b, TirElem *out);
/* out[k] = op a[k]; for CAST, dt is the source dtype and to the target. */
void tir_eval_unary(TirOp op, DType dt, DType to, int64_t n, const TirElem *a, TirElem *out);
/* One element of a constant instruction. */
TirElem tir_const_elem(const TirInst *in, DType dt);

#endif
