/* Loop-carried tile addresses: strength reduction of the addresses of the
 * memory accesses in a loop.
 *
 * A tile's origin (the address of the element at its start indices) is
 * param + sum(start[d] * stride[d]), a 64-bit multiply-add per dim. When
 * every start index is affine in the innermost loop's induction variable,
 * start[d] = coef[d] * iv + inv[d] (coef a constant, inv loop-invariant),
 * the origin becomes a pointer the loop carries: built once before the loop
 * from the lower bound, advanced by a hoisted 64-bit step at the latch.
 *
 * The pointer is exact math, the indices i32 that wrap (dsl/README.md
 * §10.2): the two agree where the tile lies inside the tensor, as long as
 * coef * iv + inv stays within i32 over the loop's range [lb, ub - 1] (the
 * body never sees an iv outside it; emit_for stops before iv + step would
 * wrap). That is tested once, before the loop, and the access uses the
 * pointer only when it holds (the caller's fast path; its edge path builds
 * each element's address from the wrapped indices as before). */
#include "codegen_internal.h"

#include <string.h>

/* Coefficients beyond this are not worth a carried pointer (and keep the
 * range test's products within 64 bits). */
enum { MAX_COEF = 1 << 20, MAX_DEPTH = 8 };

/* The block holding each instruction (TIR_NONE: none), made on first use. */
static BlockId block_of(Emitter *em, InstId id)
{
    TirFunc *f = em->f;
    if (!em->inst_block) {
        em->inst_block = arena_alloc(&em->arena, sizeof(BlockId) * (size_t)(f->insts.len + 1));
        for (int i = 0; i < f->insts.len; i++)
            em->inst_block[i] = TIR_NONE;
        for (int b = 0; b < f->blocks.len; b++) {
            TirBlock *bl = tir_block(f, b);
            for (int k = 0; k < bl->insts.len; k++)
                em->inst_block[bl->insts.data[k]] = b;
        }
    }
    return id >= 0 && id < f->insts.len ? em->inst_block[id] : TIR_NONE;
}

bool em_defined_in(Emitter *em, ValId v, InstId loop)
{
    TirFunc *f = em->f;
    TirVal *val = tir_val(f, v);
    BlockId b = val->def != TIR_NONE ? block_of(em, val->def) : val->block;
    for (int guard = 0; b != TIR_NONE && guard < f->insts.len + 1; guard++) {
        InstId p = tir_block(f, b)->parent;
        if (p == TIR_NONE)
            return false;
        if (p == loop)
            return true;
        b = block_of(em, p);
    }
    return false;
}

/* v = coef * iv + inv as i32 values that wrap, inv built with `pre` (in the
 * loop's preheader); false when v is not of that form. */
static bool affine(Emitter *em, const EmLoop *L, LLVMBuilderRef pre, ValId v, int64_t *coef, LLVMValueRef *inv,
                   int depth)
{
    TirFunc *f = em->f;
    TType t = tir_type(f, v);
    if (t.rank != 0 || t.dt != DT_I32 || depth > MAX_DEPTH)
        return false;
    if (v == L->iv) {
        *coef = 1;
        *inv = em_i32(em, 0);
        return true;
    }
    if (!em_defined_in(em, v, L->loop)) {
        if (!em->vals[v].e)
            return false;
        *coef = 0;
        *inv = em->vals[v].e[0];
        return true;
    }
    TirVal *val = tir_val(f, v);
    if (val->def == TIR_NONE)
        return false; /* an inner loop's variable, a loop-carried value */
    TirInst *in = tir_inst(f, val->def);
    /* the same value wherever the loop body names it */
    LLVMValueRef leaf = in->op == TIR_CONST         ? em_i32(em, in->ival)
                        : in->op == TIR_PARAM        ? em->param_ptr[in->param]
                        : in->op == TIR_DIM          ? em->sym[in->sym]
                        : in->op == TIR_PROGRAM_ID   ? em->pid[in->axis]
                        : in->op == TIR_NUM_PROGRAMS ? em->npid[in->axis]
                                                     : NULL;
    if (leaf) {
        *coef = 0;
        *inv = leaf;
        return true;
    }
    if (in->op != TIR_ADD && in->op != TIR_SUB && in->op != TIR_MUL)
        return false;
    int64_t c0, c1;
    LLVMValueRef i0, i1;
    if (!affine(em, L, pre, in->args[0], &c0, &i0, depth + 1) || !affine(em, L, pre, in->args[1], &c1, &i1, depth + 1))
        return false;
    if (in->op == TIR_MUL) {
        /* a product stays affine when one side is invariant, and a
         * compile-time constant if the other is not */
        if (c0 && c1)
            return false;
        if (c0 == 0 && c1 == 0)
            *coef = 0;
        else if (c1 == 0 && LLVMIsAConstantInt(i1))
            *coef = c0 * LLVMConstIntGetSExtValue(i1);
        else if (c0 == 0 && LLVMIsAConstantInt(i0))
            *coef = c1 * LLVMConstIntGetSExtValue(i0);
        else
            return false;
        if (*coef < -MAX_COEF || *coef > MAX_COEF)
            return false;
        *inv = LLVMBuildMul(pre, i0, i1, "");
        return true;
    }
    *coef = in->op == TIR_ADD ? c0 + c1 : c0 - c1;
    if (*coef < -MAX_COEF || *coef > MAX_COEF)
        return false;
    *inv = in->op == TIR_ADD ? LLVMBuildAdd(pre, i0, i1, "") : LLVMBuildSub(pre, i0, i1, "");
    return true;
}

void em_loop_enter(Emitter *em, EmLoop *L)
{
    L->outer = em->loop;
    L->carried.data = NULL;
    L->carried.len = L->carried.cap = 0;
    L->memo.data = NULL;
    L->memo.len = L->memo.cap = 0;
    L->pre_b = LLVMCreateBuilderInContext(em->ctx);
    LLVMPositionBuilderBefore(L->pre_b, LLVMGetBasicBlockTerminator(L->pre));
    em->loop = L;
}

void em_loop_leave(Emitter *em, LLVMBasicBlockRef latch)
{
    EmLoop *L = em->loop;
    for (int i = 0; i < L->carried.len; i++) {
        Carried *c = &L->carried.data[i];
        LLVMValueRef next = LLVMBuildGEP2(em->b, c->elem, c->ptr, &c->inc, 1, "");
        LLVMAddIncoming(c->ptr, &next, &latch, 1);
    }
    LLVMDisposeBuilder(L->pre_b);
    em->loop = L->outer;
}

LLVMBuilderRef em_loop_pre(Emitter *em) { return em->loop ? em->loop->pre_b : NULL; }

bool em_loop_invariant(Emitter *em, ValId v) { return em->loop && !em_defined_in(em, v, em->loop->loop); }

LLVMValueRef em_loop_recall(Emitter *em, const uintptr_t *key, int n)
{
    EmLoop *L = em->loop;
    uintptr_t k[16] = { 0 };
    memcpy(k, key, sizeof(uintptr_t) * (size_t)n);
    for (int i = 0; L && i < L->memo.len; i++)
        if (!memcmp(L->memo.data[i].key, k, sizeof k))
            return L->memo.data[i].v;
    return NULL;
}

void em_loop_remember(Emitter *em, const uintptr_t *key, int n, LLVMValueRef v)
{
    LoopMemo m = { { 0 }, v };
    memcpy(m.key, key, sizeof(uintptr_t) * (size_t)n);
    vec_push(&em->arena, em->loop->memo, m);
}

/* math(coef * iv + inv) within i32 for every iv of [lb, ub - 1], in i64. */
static LLVMValueRef stays_i32(Emitter *em, LLVMBuilderRef pre, const EmLoop *L, int64_t coef, LLVMValueRef inv)
{
    LLVMValueRef k = em_i64(em, coef), x = LLVMBuildSExt(pre, inv, em->t_i64, "");
    LLVMValueRef first = LLVMBuildSExt(pre, L->lb, em->t_i64, "");
    LLVMValueRef last = LLVMBuildSub(pre, LLVMBuildSExt(pre, L->ub, em->t_i64, ""), em_i64(em, 1), "");
    LLVMValueRef a = LLVMBuildAdd(pre, LLVMBuildMul(pre, k, first, ""), x, "");
    LLVMValueRef b = LLVMBuildAdd(pre, LLVMBuildMul(pre, k, last, ""), x, "");
    LLVMValueRef lo = coef > 0 ? a : b, hi = coef > 0 ? b : a;
    LLVMValueRef ok_lo = LLVMBuildICmp(pre, LLVMIntSGE, lo, em_i64(em, INT32_MIN), "");
    LLVMValueRef ok_hi = LLVMBuildICmp(pre, LLVMIntSLE, hi, em_i64(em, INT32_MAX), "");
    return LLVMBuildAnd(pre, ok_lo, ok_hi, "");
}

static Carried *find(EmLoop *L, const TirInst *in, int rank, int key)
{
    for (int i = 0; i < L->carried.len; i++) {
        Carried *c = &L->carried.data[i];
        if (c->param == in->param && c->key == key && !memcmp(c->start, in->args, sizeof(ValId) * (size_t)rank))
            return c;
    }
    return NULL;
}

/* Builds the carried address (origin plus `extra`) of in's tile in L, or
 * returns false. */
static bool carry(Emitter *em, EmLoop *L, const TirInst *in, int rank, LLVMValueRef extra, Carried *c)
{
    TirFunc *f = em->f;
    const TirParam *p = &f->params.data[in->param];
    LLVMBuilderRef pre = L->pre_b;
    LLVMValueRef start = extra, inc = em_i64(em, 0), nowrap = NULL;
    LLVMValueRef step = LLVMBuildSExt(pre, L->step, em->t_i64, "");
    bool any = false, ok = true;
    for (int d = 0; d < rank && ok; d++) {
        int64_t coef;
        LLVMValueRef inv;
        ok = affine(em, L, pre, in->args[d], &coef, &inv, 0);
        if (!ok)
            break;
        /* the origin's offset at iv = lb: coef * lb + inv, exact */
        LLVMValueRef lb = LLVMBuildSExt(pre, L->lb, em->t_i64, "");
        LLVMValueRef at = LLVMBuildAdd(pre, LLVMBuildMul(pre, em_i64(em, coef), lb, ""),
                                       LLVMBuildSExt(pre, inv, em->t_i64, ""), "");
        LLVMValueRef per = LLVMBuildMul(pre, em_i64(em, coef), step, "");
        if (d != rank - 1) {
            at = LLVMBuildMul(pre, at, em->param_stride[in->param][d], "");
            per = LLVMBuildMul(pre, per, em->param_stride[in->param][d], "");
        }
        start = LLVMBuildAdd(pre, start, at, "");
        if (coef) {
            any = true;
            inc = LLVMBuildAdd(pre, inc, per, "");
            uintptr_t key[2] = { 'W', (uintptr_t)in->args[d] };
            LLVMValueRef s = em_loop_recall(em, key, 2);
            if (!s) {
                s = stays_i32(em, pre, L, coef, inv);
                em_loop_remember(em, key, 2, s);
            }
            nowrap = nowrap ? LLVMBuildAnd(pre, nowrap, s, "") : s;
        }
    }
    if (ok && any) {
        c->param = in->param;
        memset(c->start, 0xff, sizeof c->start);
        memcpy(c->start, in->args, sizeof(ValId) * (size_t)rank);
        c->elem = em_elem_type(em, p->dt);
        LLVMValueRef origin = LLVMBuildGEP2(pre, c->elem, em->param_ptr[in->param], &start, 1, "");
        c->inc = inc;
        c->nowrap = nowrap;
        LLVMBuilderRef hb = LLVMCreateBuilderInContext(em->ctx);
        LLVMPositionBuilder(hb, L->header, LLVMGetFirstInstruction(L->header));
        c->ptr = LLVMBuildPhi(hb, em->t_ptr_g, "carried");
        LLVMDisposeBuilder(hb);
        LLVMAddIncoming(c->ptr, &origin, &L->pre, 1);
    }
    return ok && any;
}

LLVMValueRef em_carried_address(Emitter *em, const TirInst *in, int rank, int key, LLVMValueRef extra,
                                LLVMValueRef *valid)
{
    EmLoop *L = em->loop;
    if (!L)
        return NULL;
    Carried *c = find(L, in, rank, key);
    if (!c) {
        Carried n;
        if (!carry(em, L, in, rank, extra, &n))
            return NULL;
        n.key = key;
        vec_push(&em->arena, L->carried, n);
        c = &L->carried.data[L->carried.len - 1];
    }
    *valid = c->nowrap;
    return c->ptr;
}
