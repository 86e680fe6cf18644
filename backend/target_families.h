/* The policies of each family of targets (target_<family>.c), for the table
 * of targets (target.c) and for families that build on one another: sm_90a
 * issues wgmma where it can and falls back on the mma.sync family's dots,
 * fragment reads and staged copies elsewhere. No LLVM types here. */
#ifndef TSR_TARGET_FAMILIES_H
#define TSR_TARGET_FAMILIES_H

#include "target.h"

typedef struct Emitter Emitter;

/* The mma.sync family (target_sm80.c): sm_80 and sm_90. */
extern const TargetEmit target_sm80_emit;
extern const Pass target_sm80_passes[];
void target_sm80_plan_dot(const Target *t, DType dt, int M, int N, int K, int warps, const DotOperandSource src[2],
                          DotPlan *plan);
bool target_sm80_operand_smem_layout(const Target *t, int rows, int cols, int esize, bool k_major, Layout *out);
/* Waits until at most `pending` committed stages of cp.async copies are in
 * flight (this thread's copies only: no barrier). */
void target_sm80_wait_copies(Emitter *em, int pending);

/* The wgmma family (target_sm90a.c): sm_90a. */
extern const TargetEmit target_sm90a_emit;
extern const Pass target_sm90a_passes[];
bool target_sm90a_dot_async(TirFunc *f, const TirInst *dot);
void target_sm90a_plan_dot(const Target *t, DType dt, int M, int N, int K, int warps, const DotOperandSource src[2],
                           DotPlan *plan);
bool target_sm90a_operand_smem_layout(const Target *t, int rows, int cols, int esize, bool k_major, Layout *out);

#endif
