/* Warp specialization (sm_90a): a producer warpgroup added to the kernel's
 * warps fills a pipelined loop's ring by TMA while the kernel's own warps,
 * the consumers, only compute.
 *
 * Which loops: a pipelined loop in the kernel's top block (not inside an if
 * or another loop, not one that can stop early) whose copies all go by TMA
 * (target_sm90a_tma.c), in a kernel whose warps form whole warpgroups and
 * that has no resource clause (regs, min_blocks), when
 * CodegenOptions.no_warp_specialize is off. The first such ring gets the
 * producer; other rings keep the copies of the consumers' thread 0.
 *
 * The producer runs a slice of the kernel: the pure scalar code the copies'
 * coordinates, the loop's bounds and its stage index need (the same
 * instructions, emitted a second time in the producer's branch), the
 * prologue's copies, and a loop over the same iterations that copies
 * iteration i+S-1 into its stage. Unlike the consumers' pipeline it copies
 * only iterations that exist (each copy is guarded), so nothing is in flight
 * when the block ends. Before refilling a stage it waits on the stage's
 * "empty" barrier, on which every consumer thread arrives when it releases
 * the stage; before its first copy it waits (named barrier 2) until every
 * consumer is past the ring's first wait, so the space's earlier contents
 * are dead. The consumers wait on the stages' "full" barriers as before but
 * no longer meet at a block barrier there; their own barriers become named
 * barrier 1 for the consumer threads (Emitter.barrier_threads).
 *
 * Registers: the producer warpgroup gives registers back (setmaxnreg.dec to
 * 24) and the consumers take them (setmaxnreg.inc): with T threads and B
 * blocks per multiprocessor each thread starts with 65536 / (T B) rounded
 * down to 8 (as ptxas computes it from .maxntid and .minnctapersm), and the
 * consumers may grow to what the block's share leaves, at most 240 (when
 * that is more than they start with). B keeps two consumer warpgroups per
 * multiprocessor where shared memory allows and the entry count stays at
 * least 168: one consumer warpgroup of 4 warps gets one block (248 at
 * entry), two (8 warps, FlashAttention-3's shape) 168 growing to 240.
 *
 * Pingpong (FlashAttention-3's warp scheduler barriers): with two or more
 * consumer warpgroups, each loop body's dots are issued by one warpgroup
 * at a time, in turn, so that while one warpgroup works through the code
 * between its dots (attention's softmax) the tensor cores serve the
 * other's. A turn is a named barrier per warpgroup (3 + g): warpgroup g
 * waits on its own before the body's first dot and arrives on the next
 * one's after the body's last dot. The control flow of a kernel is the
 * same in every warp (its conditions are scalars of the program), so every
 * warpgroup takes as many turns; the last warpgroup gives the first its
 * first turn at the start, and the first takes the last turn back at the
 * end, so no barrier is left half met. A body qualifies when nothing from
 * its first dot to its last can wait for other threads (a block barrier, a
 * stage wait, a conversion or reduction through shared memory): waiting
 * for a warpgroup that waits for its turn would deadlock. Off with
 * CodegenOptions.no_pingpong. */
#include "target_families.h"
#include "target_sm90a.h"

#include <stdio.h>
#include <string.h>

enum {
    PRODUCER_THREADS = CODEGEN_PRODUCER_THREADS,
    PRODUCER_REGS = 24,
    CONSUMER_REGS_MAX = 240,
    ENTRY_REGS_MIN = 168,
    REGS_PER_SM = 65536,
    MAX_BLOCK_THREADS = 1024,
    /* named barrier 1 is the consumers' (em_barrier), 0 the whole block's */
    HANDOFF_BARRIER = 2,
    PINGPONG_BARRIER = 3, /* warpgroup g's turn: 3 + g */
    MAX_BARRIERS = 16,
};

typedef WsInsts InstList;

typedef struct {
    TirFunc *f;
    Emitter *em;
    InstId loop;
    BlockId body;
    char *where; /* per instruction: 't' in the top block, 'b' in the loop's body, 0 elsewhere */
    bool *need;  /* per instruction: the producer recomputes it */
    bool ok;
} Slice;

static bool pure_scalar(TirFunc *f, const TirInst *in)
{
    return in->nres == 1 && tir_type(f, in->res[0]).rank == 0 && tir_op_is_pure(in->op) && in->op != TIR_LOAD;
}

/* Marks what v needs: pure scalar code of the top block or the loop's
 * body; the body's induction variable and stage are the producer loop's. */
static void need_value(Slice *s, ValId v)
{
    TirFunc *f = s->f;
    const TirVal *val = tir_val(f, v);
    if (val->def == TIR_NONE) {
        const TirBlock *body = tir_block(f, s->body);
        bool own = val->block == s->body &&
                   (v == body->args.data[0] || v == body->args.data[body->args.len - 1]);
        s->ok &= own;
        return;
    }
    if (s->need[val->def])
        return;
    const TirInst *in = tir_inst(f, val->def);
    if (!s->where[val->def] || !pure_scalar(f, in)) {
        s->ok = false;
        return;
    }
    s->need[val->def] = true;
    for (int i = 0; i < in->nargs && s->ok; i++)
        need_value(s, in->args[i]);
}

static bool is_ring_copy(TirFunc *f, const TirInst *in, int ring)
{
    return in->op == TIR_ASYNC_COPY && f->buffers.data[in->buf].ring == ring;
}

static ValId new_value(TirFunc *f, InstList *out, Arena *a, TirOp op, SrcPos pos, ValId x, ValId y, DType dt)
{
    ValId args[2] = { x, y };
    TType t = ttype_scalar(dt);
    InstId id = tir_make(f, f->body, op, pos, args, 2, &t, 1);
    vec_push(a, *out, id);
    return tir_inst(f, id)->res[0];
}

static ValId new_const(TirFunc *f, InstList *out, Arena *a, SrcPos pos, int64_t v)
{
    TType t = ttype_scalar(DT_I32);
    InstId id = tir_make(f, f->body, TIR_CONST, pos, NULL, 0, &t, 1);
    tir_inst(f, id)->ival = v;
    vec_push(a, *out, id);
    return tir_inst(f, id)->res[0];
}

static InstId new_yield(TirFunc *f, BlockId b, SrcPos pos, const ValId *args, int n)
{
    return tir_append(f, b, TIR_YIELD, pos, args, n, NULL, 0);
}

/* Appends to `out`: if (iv < ub) { acquire stage; copies } — the copies
 * of one iteration, only when it exists. */
static void guarded_copies(Slice *s, InstList *out, ValId iv, ValId ub, ValId stage, int ring,
                           const InstId *copies, int n)
{
    TirFunc *f = s->f;
    Arena *a = &s->em->arena;
    SrcPos pos = tir_inst(f, s->loop)->pos;
    ValId cond = new_value(f, out, a, TIR_LT, pos, iv, ub, DT_BOOL);
    InstId id = tir_make(f, f->body, TIR_IF, pos, &cond, 1, NULL, 0);
    BlockId then = tir_block_new(f, id), other = tir_block_new(f, id);
    tir_inst(f, id)->blocks[0] = then;
    tir_inst(f, id)->blocks[1] = other;
    InstId acq = tir_append(f, then, TIR_ASYNC_ACQUIRE, pos, &stage, 1, NULL, 0);
    tir_inst(f, acq)->buf = ring;
    for (int i = 0; i < n; i++)
        vec_push(&f->arena, tir_block(f, then)->insts, copies[i]);
    new_yield(f, then, pos, NULL, 0);
    new_yield(f, other, pos, NULL, 0);
    vec_push(a, *out, id);
}

/* The producer's loop: the body's slice, then the guarded copies of
 * iteration iv + (S-1) step into their stage; yields the next stage. */
static InstId producer_loop(Slice *s, int ring, ValId next)
{
    TirFunc *f = s->f;
    Arena *a = &s->em->arena;
    TirInst loop = *tir_inst(f, s->loop);
    SrcPos pos = loop.pos;
    const TirBlock *old = tir_block(f, s->body);
    ValId iv = old->args.data[0], st = old->args.data[old->args.len - 1];
    ValId args[4] = { loop.args[0], loop.args[1], loop.args[2], loop.args[loop.nargs - 1] };
    TType i32 = ttype_scalar(DT_I32);
    InstId id = tir_make(f, f->body, TIR_FOR, pos, args, 4, &i32, 1);
    BlockId body = tir_block_new(f, id);
    tir_inst(f, id)->blocks[0] = body;
    vec_push(&f->arena, tir_block(f, body)->args, iv);
    vec_push(&f->arena, tir_block(f, body)->args, st);

    InstList list = { 0 }, copies = { 0 };
    ValId stage = TIR_NONE;
    for (int i = 0; i < old->insts.len; i++) {
        InstId k = old->insts.data[i];
        const TirInst *in = tir_inst(f, k);
        if (s->need[k])
            vec_push(a, list, k);
        else if (is_ring_copy(f, in, ring)) {
            vec_push(a, copies, k);
            stage = in->args[in->nargs - 1];
        }
    }
    ValId ahead = new_value(f, &list, a, TIR_ADD, pos, iv,
                            new_value(f, &list, a, TIR_MUL, pos, new_const(f, &list, a, pos, f->buffers.data[ring].stages - 1),
                                      loop.args[2], DT_I32),
                            DT_I32);
    guarded_copies(s, &list, ahead, loop.args[1], stage, ring, copies.data, copies.len);
    for (int i = 0; i < list.len; i++)
        vec_push(&f->arena, tir_block(f, body)->insts, list.data[i]);
    new_yield(f, body, pos, &next, 1);
    return id;
}

/* The producer's code: the top block's slice up to the loop, each prologue
 * stage's copies guarded by its iteration existing, the handoff wait, then
 * the producer's loop. */
static void producer_code(Slice *s, WsPlan *ws, int ring, ValId next)
{
    TirFunc *f = s->f;
    Arena *a = &s->em->arena;
    const TirInst *loop = tir_inst(f, s->loop);
    SrcPos pos = loop->pos;
    ValId lb = loop->args[0], ub = loop->args[1], step = loop->args[2];
    InstList group = { 0 };
    int k = 0; /* the prologue's stage, = its iteration */
    const TirBlock *top = tir_block(f, f->body);
    for (int i = 0; i < top->insts.len && top->insts.data[i] != s->loop; i++) {
        InstId id = top->insts.data[i];
        const TirInst *in = tir_inst(f, id);
        if (s->need[id] || id == ws->first_wait) {
            vec_push(a, ws->code, id);
        } else if (is_ring_copy(f, in, ring)) {
            vec_push(a, group, id);
        } else if (in->op == TIR_ASYNC_COMMIT && in->buf == ring && group.len) {
            ValId iv = new_value(f, &ws->code, a, TIR_ADD, pos, lb,
                                 new_value(f, &ws->code, a, TIR_MUL, pos,
                                           new_const(f, &ws->code, a, pos, k), step, DT_I32),
                                 DT_I32);
            guarded_copies(s, &ws->code, iv, ub, in->args[0], ring, group.data, group.len);
            group.len = 0;
            k++;
        }
    }
    vec_push(a, ws->code, producer_loop(s, ring, next));
}

/* Blocks per multiprocessor: two consumer warpgroups where shared memory
 * allows, but never fewer than 168 registers per thread at entry: ptxas
 * holds some instructions to the entry count (a 64x256 wgmma under 128
 * registers at entry is refused even after setmaxnreg.inc, C7602). One
 * block of 512 threads (three consumer warpgroups) gets 128. */
static int ws_blocks(Emitter *em, int consumers, int threads)
{
    int by_smem = (int)((size_t)em->target->smem_per_sm / (em->f->smem_bytes + 1024));
    int by_regs = REGS_PER_SM / (threads * ENTRY_REGS_MIN);
    int want = consumers >= 256 ? 1 : 256 / consumers;
    int blocks = by_smem < want ? by_smem : want;
    blocks = by_regs < blocks ? by_regs : blocks;
    return blocks < 1 ? 1 : blocks;
}

/* The registers a thread starts with beside `consumers` consumer threads
 * (as ptxas computes them from .maxntid and .minnctapersm, at most 248),
 * and the blocks per multiprocessor behind them. */
static int ws_entry_regs(Emitter *em, int consumers, int *blocks)
{
    int threads = consumers + PRODUCER_THREADS;
    *blocks = ws_blocks(em, consumers, threads);
    int entry = REGS_PER_SM / (threads * *blocks) & ~7;
    return entry > 248 ? 248 : entry;
}

/* What the kernel's widest dot asks at entry if it runs on wgmma
 * (sm90a_wgmma_entry_regs); every dot counts, also those that run
 * otherwise. */
static int widest_dot_regs(TirFunc *f)
{
    int widest = 0;
    for (int i = 0; i < f->insts.len; i++) {
        const TirInst *in = tir_inst(f, i);
        if (in->op != TIR_DOT)
            continue;
        int n = tir_type(f, in->res[0]).shape[1];
        widest = n > widest ? n : widest;
    }
    return widest ? sm90a_wgmma_entry_regs(widest) : 0;
}

bool sm90a_ws_plan(Emitter *em, WsPlan *ws, int ring)
{
    TirFunc *f = em->f;
    const TirBuffer *rb = &f->buffers.data[ring];
    /* (a kernel's resource clause fixes the registers the reallocation
     * would have to plan around: the author's budget wins) */
    if (em->opts->no_warp_specialize || f->max_regs || f->min_blocks || f->warps % 4 ||
        32 * f->warps + PRODUCER_THREADS > MAX_BLOCK_THREADS ||
        rb->loop == TIR_NONE || tir_inst(f, rb->loop)->kind == TIR_FOR_EXIT)
        return false;
    size_t n = (size_t)f->insts.len + 1;
    Slice s = { f, em, rb->loop, tir_inst(f, rb->loop)->blocks[0], NULL, NULL, true };
    s.where = arena_alloc(&em->arena, n);
    s.need = arena_alloc(&em->arena, sizeof(bool) * n);
    memset(s.where, 0, n);
    memset(s.need, 0, sizeof(bool) * n);
    const TirBlock *top = tir_block(f, f->body), *body = tir_block(f, s.body);
    for (int i = 0; i < top->insts.len; i++)
        s.where[top->insts.data[i]] = 't';
    if (s.where[rb->loop] != 't')
        return false; /* not in the top block */
    for (int i = 0; i < body->insts.len; i++)
        s.where[body->insts.data[i]] = 'b';
    const TirInst *loop = tir_inst(f, rb->loop);
    for (int i = 0; i < 3; i++)
        need_value(&s, loop->args[i]);
    need_value(&s, loop->args[loop->nargs - 1]);
    const TirInst *yield = tir_inst(f, body->insts.data[body->insts.len - 1]);
    ValId next = yield->args[yield->nargs - 1];
    need_value(&s, next);
    for (int pass = 0; pass < 2; pass++) {
        const TirBlock *bl = pass ? body : top;
        for (int i = 0; i < bl->insts.len; i++) {
            const TirInst *in = tir_inst(f, bl->insts.data[i]);
            if (is_ring_copy(f, in, ring))
                for (int k = 0; k < in->nargs; k++)
                    need_value(&s, in->args[k]);
        }
    }
    /* (a wgmma the registers at entry cannot hold: ptxas would refuse the
     * kernel; without the producer's threads each thread starts with more) */
    int blocks;
    if (!s.ok || ws_entry_regs(em, 32 * f->warps, &blocks) < widest_dot_regs(f))
        return false;
    memset(ws, 0, sizeof *ws);
    ws->ring = ring;
    ws->consumers = 32 * f->warps;
    ws->first_wait = rb->first_wait;
    producer_code(&s, ws, ring, next);
    return true;
}

/* ------------------------------------------------------------ emitting */

static void statement(Emitter *em, const char *text)
{
    InlinePtx p;
    ptx_begin(&p, em, PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY | PTX_CONVERGENT);
    ptx_text(&p, "%s", text);
    ptx_call(&p);
}

static void setmaxnreg(Emitter *em, const char *dir, int regs)
{
    char text[64];
    snprintf(text, sizeof text, "setmaxnreg.%s.sync.aligned.u32 %d;", dir, regs);
    statement(em, text);
}

LLVMValueRef sm90a_ws_issuer(Emitter *em, const WsPlan *ws)
{
    int first = ws && ws->role == WS_PRODUCER ? ws->consumers : 0;
    return LLVMBuildICmp(em->b, LLVMIntEQ, em->tid, em_i32(em, first), "");
}

/* The handoff before the producer's first copy: the consumers arrive when
 * they reach the ring's first wait, the producer's warp waits for them. */
void sm90a_ws_handoff(Emitter *em, const WsPlan *ws)
{
    char text[64];
    snprintf(text, sizeof text, "%s %d, %d;", ws->role == WS_PRODUCER ? "bar.sync" : "bar.arrive", HANDOFF_BARRIER,
             ws->consumers + 32);
    statement(em, text);
}

void sm90a_ws_split(Emitter *em, WsPlan *ws)
{
    if (ws->ring < 0)
        return;
    int threads = ws->consumers + PRODUCER_THREADS, blocks;
    int entry = ws_entry_regs(em, ws->consumers, &blocks);
    int grow = (entry * threads - PRODUCER_REGS * PRODUCER_THREADS) / ws->consumers & ~7;
    if (grow > CONSUMER_REGS_MAX)
        grow = CONSUMER_REGS_MAX;
    /* The budget: what the warpgroups hold after reallocation fits the
     * block's share of the register file. */
    tsr_assert(grow * ws->consumers + PRODUCER_REGS * PRODUCER_THREADS <= entry * threads);
    em->threads = threads;
    em->min_blocks = blocks;

    LLVMBasicBlockRef producer = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "ws.producer");
    LLVMBasicBlockRef lead = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "ws.lead");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "ws.done");
    LLVMBasicBlockRef consumer = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "ws.consumer");
    int warps = ws->consumers / 32;
    LLVMBuildCondBr(em->b, LLVMBuildICmp(em->b, LLVMIntUGE, em->warp, em_i32(em, warps), ""), producer, consumer);
    LLVMPositionBuilderAtEnd(em->b, producer);
    setmaxnreg(em, "dec", PRODUCER_REGS);
    LLVMBuildCondBr(em->b, LLVMBuildICmp(em->b, LLVMIntEQ, em->warp, em_i32(em, warps), ""), lead, done);
    LLVMPositionBuilderAtEnd(em->b, lead);
    ws->role = WS_PRODUCER;
    /* a persistent kernel's producer walks the consumers' instances */
    em_tiles_begin(em);
    em_emit_insts(em, ws->code.data, ws->code.len);
    em_tiles_end(em, false);
    LLVMBuildBr(em->b, done);
    LLVMPositionBuilderAtEnd(em->b, done);
    LLVMBuildRetVoid(em->b);

    LLVMPositionBuilderAtEnd(em->b, consumer);
    if (grow > entry)
        setmaxnreg(em, "inc", grow);
    ws->role = WS_CONSUMER;
    em->barrier_threads = ws->consumers;
    sm90a_ws_pingpong_begin(em, ws);
}

/* ------------------------------------------------------------ pingpong */

static bool block_has(TirFunc *f, BlockId b, bool (*pred)(TirFunc *, const TirInst *), bool all);

/* The instruction is or holds a dot. */
static bool has_dot(TirFunc *f, const TirInst *in)
{
    if (in->op == TIR_DOT)
        return true;
    for (int k = 0; k < 2; k++)
        if (in->blocks[k] != TIR_NONE && block_has(f, in->blocks[k], has_dot, false))
            return true;
    return false;
}

/* The instruction cannot wait for other threads: no barrier, no stage or
 * copy, no shared scratch (a conversion or reduction through shared
 * memory meets at block barriers), no loop; an if whose branches are such. */
static bool waits_for_none(TirFunc *f, const TirInst *in)
{
    switch (in->op) {
    case TIR_DOT:
    case TIR_YIELD:
    case TIR_SMEM_TILE: return true;
    case TIR_IF:
        return block_has(f, in->blocks[0], waits_for_none, true) && block_has(f, in->blocks[1], waits_for_none, true);
    case TIR_LOAD:
    case TIR_RESHAPE: return false;
    default: return in->smem < 0 && tir_op_is_pure(in->op);
    }
}

/* Some (all = false) or every (all = true) instruction of block b is pred. */
static bool block_has(TirFunc *f, BlockId b, bool (*pred)(TirFunc *, const TirInst *), bool all)
{
    const TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++)
        if (pred(f, tir_inst(f, bl->insts.data[i])) != all)
            return !all;
    return all;
}

/* Marks the turn around the dots of a loop's body if nothing between the
 * first and the last can wait for other threads. Returns whether it did. */
static bool plan_body(TirFunc *f, BlockId body, unsigned char *mark)
{
    const TirBlock *bl = tir_block(f, body);
    int first = -1, last = -1;
    for (int i = 0; i < bl->insts.len; i++)
        if (has_dot(f, tir_inst(f, bl->insts.data[i]))) {
            first = first < 0 ? i : first;
            last = i;
        }
    if (first < 0)
        return false;
    for (int i = first; i <= last; i++)
        if (!waits_for_none(f, tir_inst(f, bl->insts.data[i])))
            return false;
    mark[bl->insts.data[first]] |= PP_SYNC;
    mark[bl->insts.data[last + 1]] |= PP_ARRIVE; /* the body ends with its yield */
    return true;
}

static LLVMValueRef warpgroup(Emitter *em) { return LLVMBuildLShr(em->b, em->warp, em_i32(em, 2), ""); }

/* bar.sync or bar.arrive on the turn barrier of warpgroup g (a value). */
static void turn(Emitter *em, const char *op, LLVMValueRef g)
{
    InlinePtx a;
    ptx_begin(&a, em, PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY | PTX_CONVERGENT);
    int id = ptx_in(&a, LLVMBuildAdd(em->b, g, em_i32(em, PINGPONG_BARRIER), ""));
    ptx_text(&a, "%s $%d, %d;", op, id, 2 * 128);
    ptx_call(&a);
}

/* The same, by the warpgroup `only` alone. */
static void turn_of(Emitter *em, const char *op, int only, int g)
{
    LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "pp.turn");
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "pp.after");
    LLVMBuildCondBr(em->b, LLVMBuildICmp(em->b, LLVMIntEQ, warpgroup(em), em_i32(em, only), ""), in, after);
    LLVMPositionBuilderAtEnd(em->b, in);
    turn(em, op, em_i32(em, g));
    LLVMBuildBr(em->b, after);
    LLVMPositionBuilderAtEnd(em->b, after);
}

void sm90a_ws_pingpong_begin(Emitter *em, WsPlan *ws)
{
    TirFunc *f = em->f;
    int groups = ws->consumers / 128;
    if (em->opts->no_pingpong || groups < 2 || PINGPONG_BARRIER + groups > MAX_BARRIERS)
        return;
    unsigned char *mark = arena_alloc(&em->arena, (size_t)f->insts.len + 1);
    memset(mark, 0, (size_t)f->insts.len + 1);
    bool any = false;
    for (int i = 0; i < f->insts.len; i++)
        if (f->insts.data[i].op == TIR_FOR && !(f->insts.data[i].ival & TIR_LOOP_NO_PINGPONG))
            any |= plan_body(f, f->insts.data[i].blocks[0], mark);
    if (!any)
        return;
    ws->pingpong = mark;
    ws->groups = groups;
    turn_of(em, "bar.arrive", groups - 1, 0);
}

void sm90a_ws_pingpong_at(Emitter *em, const WsPlan *ws, const TirInst *in)
{
    if (!ws->pingpong || ws->role != WS_CONSUMER)
        return;
    unsigned char m = ws->pingpong[in - em->f->insts.data];
    if (m & PP_ARRIVE) {
        LLVMValueRef next = LLVMBuildAdd(em->b, warpgroup(em), em_i32(em, 1), "");
        LLVMValueRef wrap = LLVMBuildICmp(em->b, LLVMIntEQ, next, em_i32(em, ws->groups), "");
        turn(em, "bar.arrive", LLVMBuildSelect(em->b, wrap, em_i32(em, 0), next, ""));
        em->barrier_ban = false;
    }
    if (m & PP_SYNC) {
        turn(em, "bar.sync", warpgroup(em));
        em->barrier_ban = true;
    }
}

void sm90a_ws_pingpong_end(Emitter *em, const WsPlan *ws)
{
    if (ws->pingpong && ws->role == WS_CONSUMER)
        turn_of(em, "bar.sync", 0, 0);
}
