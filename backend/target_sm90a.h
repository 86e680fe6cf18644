/* Internals of the wgmma family (sm_90a) shared by its two files:
 * target_sm90a.c (dots, the TargetEmit table) and target_sm90a_tma.c
 * (copies by TMA, mbarrier stages). */
#ifndef TSR_TARGET_SM90A_H
#define TSR_TARGET_SM90A_H

#include "codegen_internal.h"

typedef struct Sm90aState Sm90aState;

/* TargetEmit hooks of target_sm90a_tma.c (see codegen_internal.h). */
void sm90a_prepare(Emitter *em);
void sm90a_begin(Emitter *em);
bool sm90a_copy_tile(Emitter *em, const TirInst *in, LLVMValueRef base);
void sm90a_stage_commit(Emitter *em, const TirInst *in);
void sm90a_stage_wait(Emitter *em, const TirInst *in, int later);

/* Orders this thread's generic writes to shared memory (st.shared and
 * cp.async) before the async proxy's reads of them (wgmma, TMA stores). */
void sm90a_proxy_fence(Emitter *em);

#endif
