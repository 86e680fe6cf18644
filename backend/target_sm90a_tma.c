/* The wgmma family's copies (sm_90a): operand tiles brought into shared
 * memory by the tensor memory accelerator, completing on mbarriers.
 *
 * Which copies: a LOAD into a shared tile of its own, or a pipelined
 * ASYNC_COPY into a stage, whose tile is canonical (16-bit, swizzled rows)
 * and whose tensor the launch passes aligned (CodegenOptions: the runtime
 * launches tensors TMA cannot take with the variant that has their
 * unaligned bit set, which copies with cp.async), whose tile runs along the
 * tensor's last dim and one other, each at most 256 elements. Each such
 * copy asks the runtime for a tensor map (TirFunc.tma) whose box is one
 * 128-byte panel of the tile's rows (or the whole row when narrower), with
 * the tile's swizzle: the boxes TMA writes one after the other are exactly
 * the canonical layout's panels. Out-of-bounds elements arrive as zeros,
 * as with cp.async.
 *
 * How they complete: a pipelined loop's ring gets one mbarrier per stage,
 * expecting one arrival per buffer of the ring copied by TMA; thread 0
 * arrives on it with the stage's byte count (arrive.expect_tx) and issues
 * the copies, which complete the transaction bytes. A wait on a stage waits
 * for the barrier's phase with try_wait.parity: each barrier's parity to
 * wait for next, and whether a copy into it is outstanding, are bits of
 * per-ring variables (promoted to registers by LLVM). A LOAD of its own
 * has one barrier and waits at once. The block barrier of every stage wait
 * stays: it orders all threads' reads of the stage the prefetch refills.
 * Under warp specialization (target_sm90a_ws.c) the producer's ring has a
 * second barrier per stage, "empty", on which every consumer thread arrives
 * when it releases the stage and which the producer waits for before
 * refilling it; the consumers then need no block barrier. Barriers live
 * past the shared memory pass_smem planned, initialized once at the start. */
#include "codegen_internal.h"
#include "target_families.h"
#include "target_sm90a.h"

#include <string.h>

enum { TMA_MAX_BOX = 256, TMA_MAX_RANK = 5 };

/* Barriers of one ring (a stage each) or of one LOAD. */
typedef struct {
    int first;                /* index of its first barrier */
    int stages;               /* barriers */
    int arrivals;             /* per phase: buffers copied by TMA */
    LLVMValueRef phase, busy; /* i32 variables: per stage, the parity to wait for next, and a copy outstanding */
} BarrierSet;

struct Sm90aState {
    int *request;   /* per instruction: the tensor map its TMA copy uses, -1: none */
    int *set_of;    /* per instruction (a LOAD): its BarrierSet, -1: none */
    int *buf_set;   /* per buffer: the set of its ring, -1: none */
    bool *buf_tma;  /* per buffer: copied by TMA */
    bool *ring_copy16; /* per ring (its first buffer): some buffers are copied with cp.async */
    VEC(BarrierSet) sets;
    int barriers;
    int offset; /* of the first barrier in shared memory */
    WsPlan ws;
    int empty; /* the set of the producer's ring's "empty" barriers, -1: none */
    WgmmaState wgmma; /* target_sm90a.c's */
};

static Sm90aState *state(Emitter *em) { return em->family; }

WgmmaState *sm90a_wgmma(Emitter *em) { return &state(em)->wgmma; }

WsPlan *sm90a_ws(Emitter *em) { return &state(em)->ws; }

/* ------------------------------------------------------------ planning */

/* The tensor map a copy of tile layout s can use, if TMA can make it. */
static bool tma_request(Emitter *em, const TirInst *in, const Layout *s, TmaRequest *req)
{
    TirFunc *f = em->f;
    const TirParam *p = &f->params.data[in->param];
    bool aligned = em->opts->assume_aligned && !(in->param < 64 && ((em->opts->unaligned_params >> in->param) & 1));
    if (!aligned || !s->canonical || s->transposed || p->rank > TMA_MAX_RANK || p->rank < 2 ||
        in->lens[p->rank - 1] == 0)
        return false;
    int ranges = 0;
    for (int d = 0; d < p->rank; d++)
        if (in->lens[d]) {
            ranges++;
            if (in->lens[d] > TMA_MAX_BOX && d != p->rank - 1)
                return false;
        }
    if (ranges != 2)
        return false;
    int row_bytes = layout_shared_row_bytes(s);
    memset(req, 0, sizeof *req);
    req->param = in->param;
    req->rank = p->rank;
    for (int k = 0; k < p->rank; k++) { /* innermost first */
        int d = p->rank - 1 - k;
        req->box[k] = k == 0 ? row_bytes / s->esize : in->lens[d] ? in->lens[d] : 1;
    }
    req->swizzle = row_bytes == 128 ? TMA_SWIZZLE_128B : row_bytes == 64 ? TMA_SWIZZLE_64B : TMA_SWIZZLE_32B;
    return true;
}

static int new_set(Emitter *em, int stages)
{
    Sm90aState *st = state(em);
    BarrierSet s = { st->barriers, stages, 0, NULL, NULL };
    st->barriers += stages;
    vec_push(&em->arena, st->sets, s);
    return st->sets.len - 1;
}

/* Decides which copies go by TMA (their tensor maps become kernel
 * parameters) and reserves their barriers. */
void sm90a_prepare(Emitter *em)
{
    TirFunc *f = em->f;
    Sm90aState *st = arena_alloc(&em->arena, sizeof *st);
    memset(st, 0, sizeof *st);
    em->family = st;
    size_t ni = (size_t)f->insts.len + 1, nb = (size_t)f->buffers.len + 1;
    st->request = arena_alloc(&em->arena, sizeof(int) * ni);
    st->set_of = arena_alloc(&em->arena, sizeof(int) * ni);
    st->buf_set = arena_alloc(&em->arena, sizeof(int) * nb);
    st->buf_tma = arena_alloc(&em->arena, sizeof(bool) * nb);
    st->ring_copy16 = arena_alloc(&em->arena, sizeof(bool) * nb);
    for (size_t i = 0; i < ni; i++)
        st->request[i] = st->set_of[i] = -1;
    for (size_t i = 0; i < nb; i++) {
        st->buf_set[i] = -1;
        st->buf_tma[i] = st->ring_copy16[i] = false;
    }
    for (BlockId b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        for (int i = 0; i < bl->insts.len; i++) {
            InstId id = bl->insts.data[i];
            const TirInst *in = tir_inst(f, id);
            const Layout *s = NULL;
            if (in->op == TIR_ASYNC_COPY)
                s = &f->layouts.data[f->buffers.data[in->buf].layout];
            else if (in->op == TIR_LOAD && tir_type(f, in->res[0]).rank == 2 && tir_layout(f, in->res[0]) &&
                     tir_layout(f, in->res[0])->kind == LAYOUT_SHARED) /* (an unused load has no layout) */
                s = tir_layout(f, in->res[0]);
            if (!s)
                continue;
            TmaRequest req;
            bool tma = tma_request(em, in, s, &req);
            if (in->op == TIR_LOAD) {
                if (tma) {
                    st->request[id] = tir_tma_request(f, &req);
                    st->set_of[id] = new_set(em, 1);
                    st->sets.data[st->set_of[id]].arrivals = 1;
                }
                continue;
            }
            const TirBuffer *buf = &f->buffers.data[in->buf];
            if (!tma) {
                st->ring_copy16[buf->ring] = true;
                continue;
            }
            st->request[id] = tir_tma_request(f, &req);
            if (st->buf_set[buf->ring] < 0)
                st->buf_set[buf->ring] = new_set(em, buf->stages);
            st->buf_set[in->buf] = st->buf_set[buf->ring];
            if (!st->buf_tma[in->buf]) { /* the prologue's copy and the loop's count once */
                st->buf_tma[in->buf] = true;
                st->sets.data[st->buf_set[buf->ring]].arrivals++;
            }
        }
    }
    st->ws.ring = st->empty = -1;
    for (int b = 0; b < f->buffers.len; b++)
        if (st->buf_set[b] >= 0 && f->buffers.data[b].ring == b && !st->ring_copy16[b] &&
            sm90a_ws_plan(em, &st->ws, b)) {
            st->empty = new_set(em, f->buffers.data[b].stages);
            st->sets.data[st->empty].arrivals = st->ws.consumers;
            break;
        }
    if (st->barriers) {
        st->offset = (int)((f->smem_bytes + 7) & ~(size_t)7);
        f->smem_bytes = (size_t)st->offset + 8 * (size_t)st->barriers;
    }
}

/* ----------------------------------------------------------- barriers */

static const unsigned SYNC_FLAGS = PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY | PTX_CONVERGENT;

/* The shared address of barrier `first` + stage. */
static LLVMValueRef barrier_at(Emitter *em, int first, LLVMValueRef stage)
{
    LLVMValueRef off = em_i32(em, state(em)->offset + 8 * first);
    if (stage)
        off = LLVMBuildAdd(em->b, off, LLVMBuildShl(em->b, stage, em_i32(em, 3), ""), "");
    return LLVMBuildPtrToInt(em->b, em_smem_at(em, off), em->t_i32, "");
}

/* Branches to a new block that only the issuing thread runs (thread 0, or
 * the producer's first); returns the block after it, where the caller
 * continues once done. */
static LLVMBasicBlockRef thread0_begin(Emitter *em)
{
    LLVMBasicBlockRef one = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "tma.thread0");
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "tma.all");
    LLVMBuildCondBr(em->b, sm90a_ws_issuer(em, &state(em)->ws), one, after);
    LLVMPositionBuilderAtEnd(em->b, one);
    return after;
}

static void thread0_end(Emitter *em, LLVMBasicBlockRef after)
{
    LLVMBuildBr(em->b, after);
    LLVMPositionBuilderAtEnd(em->b, after);
}

/* Thread 0 initializes every barrier (its arrivals per phase), makes that
 * visible to the async proxy, and the block meets. */
void sm90a_begin(Emitter *em)
{
    Sm90aState *st = state(em);
    for (int i = 0; i < st->sets.len; i++) {
        BarrierSet *s = &st->sets.data[i];
        s->phase = LLVMBuildAlloca(em->entry_b, em->t_i32, "mbar.phase");
        s->busy = LLVMBuildAlloca(em->entry_b, em->t_i32, "mbar.busy");
        LLVMBuildStore(em->entry_b, em_i32(em, 0), s->phase);
        LLVMBuildStore(em->entry_b, em_i32(em, 0), s->busy);
    }
    if (!st->barriers)
        return;
    LLVMBasicBlockRef after = thread0_begin(em);
    for (int i = 0; i < st->sets.len; i++)
        for (int k = 0; k < st->sets.data[i].stages; k++) {
            InlinePtx a;
            ptx_begin(&a, em, SYNC_FLAGS);
            int bar = ptx_in(&a, barrier_at(em, st->sets.data[i].first + k, NULL));
            ptx_text(&a, "mbarrier.init.shared::cta.b64 [$%d], %d;", bar, st->sets.data[i].arrivals);
            ptx_call(&a);
        }
    InlinePtx fence;
    ptx_begin(&fence, em, SYNC_FLAGS);
    ptx_text(&fence, "fence.mbarrier_init.release.cluster;");
    ptx_call(&fence);
    thread0_end(em, after);
    em_barrier(em);
    sm90a_ws_split(em, &st->ws);
}

static LLVMValueRef bit_of(Emitter *em, LLVMValueRef stage)
{
    return LLVMBuildShl(em->b, em_i32(em, 1), stage, "");
}

/* Waits for the outstanding copies into `stage` of set s to land: the
 * barrier's phase of the parity it expects next, which then flips. */
static void wait_stage(Emitter *em, BarrierSet *s, LLVMValueRef stage)
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef phase = LLVMBuildLoad2(b, em->t_i32, s->phase, ""), bit = bit_of(em, stage);
    LLVMValueRef parity = LLVMBuildAnd(b, LLVMBuildLShr(b, phase, stage, ""), em_i32(em, 1), "");
    LLVMValueRef bar = barrier_at(em, s->first, stage);
    LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "mbar.wait");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "mbar.done");
    LLVMBuildBr(b, loop);
    LLVMPositionBuilderAtEnd(b, loop);
    InlinePtx a;
    ptx_begin(&a, em, SYNC_FLAGS);
    int ok = ptx_out(&a, em->t_i32), bar_op = ptx_in(&a, bar), par = ptx_in(&a, parity);
    ptx_text(&a,
             "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [$%d], $%d; selp.u32 $%d, 1, 0, p; }",
             bar_op, par, ok);
    LLVMValueRef landed = LLVMBuildICmp(b, LLVMIntNE, ptx_call(&a), em_i32(em, 0), "");
    LLVMBuildCondBr(b, landed, done, loop);
    LLVMPositionBuilderAtEnd(b, done);
    LLVMBuildStore(b, LLVMBuildXor(b, phase, bit, ""), s->phase);
    LLVMValueRef busy = LLVMBuildLoad2(b, em->t_i32, s->busy, "");
    LLVMBuildStore(b, LLVMBuildAnd(b, busy, LLVMBuildNot(b, bit, ""), ""), s->busy);
}

/* Waits for every stage of s with a copy outstanding. */
static void wait_all(Emitter *em, BarrierSet *s)
{
    for (int k = 0; k < s->stages; k++) {
        LLVMValueRef busy = LLVMBuildLoad2(em->b, em->t_i32, s->busy, "");
        LLVMValueRef out = LLVMBuildICmp(em->b, LLVMIntNE, LLVMBuildAnd(em->b, busy, em_i32(em, 1 << k), ""),
                                         em_i32(em, 0), "");
        LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "mbar.drain");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "mbar.drained");
        LLVMBuildCondBr(em->b, out, yes, next);
        LLVMPositionBuilderAtEnd(em->b, yes);
        wait_stage(em, s, em_i32(em, k));
        LLVMBuildBr(em->b, next);
        LLVMPositionBuilderAtEnd(em->b, next);
    }
}

/* --------------------------------------------------------------- copies */

/* The tile of `in` (a LOAD, or an ASYNC_COPY into its stage) at shared
 * offset `base`, by TMA: thread 0 announces the bytes on the barrier and
 * issues one copy per 128-byte panel. A LOAD then waits for it. */
bool sm90a_copy_tile(Emitter *em, const TirInst *in, LLVMValueRef base)
{
    Sm90aState *st = state(em);
    TirFunc *f = em->f;
    InstId id = (InstId)(in - f->insts.data);
    if (st->request[id] < 0)
        return false;
    const TmaRequest *req = &f->tma.data[st->request[id]];
    bool staged = in->op == TIR_ASYNC_COPY;
    if (staged && st->ws.role == WS_CONSUMER && f->buffers.data[in->buf].ring == st->ws.ring)
        return true; /* the producer's */
    BarrierSet *s = &st->sets.data[staged ? st->buf_set[in->buf] : st->set_of[id]];
    LLVMValueRef stage = staged ? em_val(em, in->args[in->nargs - 1])->e[0] : em_i32(em, 0);
    const Layout *l = staged ? &f->layouts.data[f->buffers.data[in->buf].layout] : tir_layout(f, in->res[0]);
    int rank = req->rank, rows = layout_extent(l, 0), cols = layout_extent(l, 1);
    int panel_cols = req->box[0], panels = cols / panel_cols, panel_bytes = layout_shared_panel_bytes(l);
    LLVMValueRef bar = barrier_at(em, s->first, stage);
    LLVMValueRef map = LLVMBuildPtrToInt(em->b, em->tma_map[st->request[id]], em->t_i64, "");
    LLVMValueRef start[TIR_MAX_RANK];
    for (int d = 0; d < rank; d++)
        start[d] = em_val(em, in->args[d])->e[0];

    LLVMBasicBlockRef after = thread0_begin(em);
    InlinePtx a;
    ptx_begin(&a, em, SYNC_FLAGS);
    int bar_op = ptx_in(&a, bar);
    ptx_text(&a, "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$%d], %d;", bar_op, rows * cols * l->esize);
    ptx_call(&a);
    for (int p = 0; p < panels; p++) {
        ptx_begin(&a, em, SYNC_FLAGS);
        LLVMValueRef dst = LLVMBuildAdd(em->b, base, em_i32(em, p * panel_bytes), "");
        int dst_op = ptx_in(&a, LLVMBuildPtrToInt(em->b, em_smem_at(em, dst), em->t_i32, ""));
        int map_op = ptx_in(&a, map);
        ptx_text(&a, "cp.async.bulk.tensor.%dd.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$%d], [$%d, {",
                 rank, dst_op, map_op);
        for (int k = 0; k < rank; k++) { /* innermost first */
            LLVMValueRef c = start[rank - 1 - k];
            if (k == 0 && p)
                c = LLVMBuildAdd(em->b, c, em_i32(em, p * panel_cols), "");
            ptx_text(&a, "%s$%d", k ? ", " : "", ptx_in(&a, c));
        }
        ptx_text(&a, "}], [$%d];", ptx_in(&a, bar));
        ptx_call(&a);
    }
    thread0_end(em, after);
    if (staged) {
        LLVMValueRef busy = LLVMBuildLoad2(em->b, em->t_i32, s->busy, "");
        LLVMBuildStore(em->b, LLVMBuildOr(em->b, busy, bit_of(em, stage), ""), s->busy);
    } else {
        wait_stage(em, s, stage);
    }
    return true;
}

/* ------------------------------------------------------- stage operations */

/* The barriers of a stage operation's ring, or NULL. */
static BarrierSet *ring_set(Emitter *em, const TirInst *in)
{
    int set = in ? state(em)->buf_set[in->buf] : -1;
    return set >= 0 ? &state(em)->sets.data[set] : NULL;
}

/* Whether a stage operation is on the producer's ring. */
static bool on_producer_ring(Emitter *em, const TirInst *in)
{
    const WsPlan *ws = &state(em)->ws;
    return in && ws->ring >= 0 && in->buf == ws->ring && ws->role != WS_ALL;
}

/* Whether a stage operation's ring has cp.async copies (NULL: a LOAD's). */
static bool has_copy16(Emitter *em, const TirInst *in) { return !in || state(em)->ring_copy16[in->buf]; }

void sm90a_stage_commit(Emitter *em, const TirInst *in)
{
    if (has_copy16(em, in))
        target_sm80_emit.stage_commit(em, in);
}

/* cp.async copies: this thread's landed, then fenced for the async proxy;
 * TMA copies: the stage's barrier phase; then the block meets. */
/* On the producer's ring: a consumer waits for its stage's barrier alone,
 * and at the ring's first wait lets the producer start; after the loop
 * nothing is in flight, and the consumers meet before the space is reused. */
static void ws_stage_wait(Emitter *em, const TirInst *in)
{
    Sm90aState *st = state(em);
    if (in->nargs)
        wait_stage(em, ring_set(em, in), em_val(em, in->args[0])->e[0]);
    else if (in - em->f->insts.data == st->ws.first_wait)
        sm90a_ws_handoff(em, &st->ws);
    else
        em_barrier(em);
}

void sm90a_stage_wait(Emitter *em, const TirInst *in, int later)
{
    if (on_producer_ring(em, in)) {
        ws_stage_wait(em, in);
        return;
    }
    bool copy16 = has_copy16(em, in);
    if (copy16)
        target_sm80_wait_copies(em, later);
    BarrierSet *s = ring_set(em, in);
    if (s && in->nargs)
        wait_stage(em, s, em_val(em, in->args[0])->e[0]);
    else if (s)
        wait_all(em, s);
    if (copy16)
        sm90a_proxy_fence(em);
    em_barrier(em);
}

/* A consumer thread is done reading the stage: it arrives on the stage's
 * "empty" barrier. Elsewhere a wgmma read its stage before the dot's wait
 * returned, and the next stage wait's block barrier comes after that:
 * nothing to do. */
void sm90a_stage_release(Emitter *em, const TirInst *in)
{
    Sm90aState *st = state(em);
    if (!on_producer_ring(em, in))
        return;
    InlinePtx a;
    ptx_begin(&a, em, SYNC_FLAGS);
    int bar = ptx_in(&a, barrier_at(em, st->sets.data[st->empty].first, em_val(em, in->args[0])->e[0]));
    ptx_text(&a, "mbarrier.arrive.shared::cta.b64 _, [$%d];", bar);
    ptx_call(&a);
}

/* The producer refills a stage it filled before only once every consumer
 * has released it: the stage's "empty" barrier (its busy bit says whether
 * it was filled). */
void sm90a_stage_acquire(Emitter *em, const TirInst *in)
{
    Sm90aState *st = state(em);
    tsr_assert(st->ws.role == WS_PRODUCER);
    BarrierSet *e = &st->sets.data[st->empty];
    LLVMValueRef stage = em_val(em, in->args[0])->e[0], bit = bit_of(em, stage);
    LLVMValueRef busy = LLVMBuildLoad2(em->b, em->t_i32, e->busy, "");
    LLVMValueRef used = LLVMBuildICmp(em->b, LLVMIntNE, LLVMBuildAnd(em->b, busy, bit, ""), em_i32(em, 0), "");
    LLVMBasicBlockRef wait = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "ws.acquire");
    LLVMBasicBlockRef free_ = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "ws.free");
    LLVMBuildCondBr(em->b, used, wait, free_);
    LLVMPositionBuilderAtEnd(em->b, wait);
    wait_stage(em, e, stage);
    LLVMBuildBr(em->b, free_);
    LLVMPositionBuilderAtEnd(em->b, free_);
    busy = LLVMBuildLoad2(em->b, em->t_i32, e->busy, "");
    LLVMBuildStore(em->b, LLVMBuildOr(em->b, busy, bit, ""), e->busy);
}
