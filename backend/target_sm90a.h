/* Internals of the wgmma family (sm_90a) shared by its three files:
 * target_sm90a.c (dots, the TargetEmit table), target_sm90a_tma.c (copies
 * by TMA, mbarrier stages) and target_sm90a_ws.c (warp specialization). */
#ifndef TSR_TARGET_SM90A_H
#define TSR_TARGET_SM90A_H

#include "codegen_internal.h"

typedef struct Sm90aState Sm90aState;

/* A commit group of wgmma whose results are not waited for yet
 * (target_sm90a.c): the dot's result, its accumulator registers as the
 * wgmmas returned them, and the A registers they read. */
typedef struct {
    ValId res;
    LLVMValueRef *regs, *a;
    int n, na;
} WgmmaGroup;
typedef VEC(WgmmaGroup) WgmmaGroups;
typedef struct {
    WgmmaGroups groups;     /* in flight, oldest first */
    bool *carried_only;     /* per value: read only by loops' YIELDs (NULL: not computed yet) */
} WgmmaState;
/* target_sm90a.c's state, kept in the family's. */
WgmmaState *sm90a_wgmma(Emitter *em);
/* TargetEmit.before_inst and .after_block of the wgmma family. */
void sm90a_before_inst(Emitter *em, const TirInst *in);
void sm90a_after_block(Emitter *em, BlockId b);

/* TargetEmit hooks of target_sm90a_tma.c (see codegen_internal.h). */
void sm90a_prepare(Emitter *em);
void sm90a_begin(Emitter *em);
bool sm90a_copy_tile(Emitter *em, const TirInst *in, LLVMValueRef base);
void sm90a_stage_commit(Emitter *em, const TirInst *in);
void sm90a_stage_wait(Emitter *em, const TirInst *in, int later);
void sm90a_stage_release(Emitter *em, const TirInst *in);
void sm90a_stage_acquire(Emitter *em, const TirInst *in);

/* Warp specialization (target_sm90a_ws.c): a producer warpgroup added to
 * the kernel's warps (the consumers) copies one ring's stages by TMA. */
typedef enum { WS_ALL, WS_PRODUCER, WS_CONSUMER } WsRole;
typedef VEC(InstId) WsInsts;
typedef struct {
    int ring;          /* the ring the producer fills; -1: no producer */
    int consumers;     /* threads that run the kernel's code: 32 x its warps */
    InstId first_wait; /* the ring's wait in front of its prologue */
    WsInsts code;      /* the producer's instructions */
    WsRole role;       /* whose code is being emitted */
    /* Pingpong between the consumer warpgroups: per instruction, PP_SYNC
     * (wait for this warpgroup's turn before it) and PP_ARRIVE (pass the
     * turn on before it); NULL: off. */
    unsigned char *pingpong;
    int groups;        /* consumer warpgroups */
} WsPlan;
enum { PP_SYNC = 1, PP_ARRIVE = 2 };

/* The registers ptxas asks of a thread at the kernel's start for an m64nN
 * wgmma with f32 accumulators, N in chunks of at most 256: about N / 2 +
 * 26 (ptxas 13.0, C7602 "Insufficient registers": N = 192 assembles under
 * 128 registers, N = 208 asks for 130, N = 256 for 154), even when
 * setmaxnreg.inc raises the count before the wgmma. */
int sm90a_wgmma_entry_regs(int n);
/* Plans a producer for `ring` (whose copies all go by TMA) if the kernel
 * allows one: fills ws and builds the producer's instructions. */
bool sm90a_ws_plan(Emitter *em, WsPlan *ws, int ring);
/* At the start of the body (barriers initialized, the block met): sends
 * the producer warpgroup to its code, which ends there, and lets the
 * consumers go on with the kernel's. */
void sm90a_ws_split(Emitter *em, WsPlan *ws);
/* Pingpong (target_sm90a_ws.c): at the consumers' start, the first turn;
 * before each instruction, the turns it is marked with; at the end of the
 * kernel, the last turn taken back. */
void sm90a_ws_pingpong_begin(Emitter *em, WsPlan *ws);
void sm90a_ws_pingpong_at(Emitter *em, const WsPlan *ws, const TirInst *in);
void sm90a_ws_pingpong_end(Emitter *em, const WsPlan *ws);
/* The family's WsPlan (target_sm90a_tma.c keeps it). */
WsPlan *sm90a_ws(Emitter *em);
/* The issuing thread's condition for TMA copies: thread 0, or the
 * producer's first thread while its code is emitted. */
LLVMValueRef sm90a_ws_issuer(Emitter *em, const WsPlan *ws);
/* The ring's first wait: the consumers are done with the space's earlier
 * contents; the producer waits for that before its first copy. */
void sm90a_ws_handoff(Emitter *em, const WsPlan *ws);

/* Orders this thread's generic writes to shared memory (st.shared and
 * cp.async) before the async proxy's reads of them (wgmma, TMA stores). */
void sm90a_proxy_fence(Emitter *em);

#endif
