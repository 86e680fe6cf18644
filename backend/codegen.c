/* The LLVM IR emitter: laid-out TIR to per-thread LLVM IR. This file holds
 * the kernel frame (parameters, thread and program ids), control flow,
 * scalar and elementwise work; memory, reductions and dots have files of
 * their own, and the target files hold what differs between GPUs. */
#include "abi.h"
#include "codegen_internal.h"

#include <llvm-c/DebugInfo.h>
#include "oom.h"
#include "tessera.h"

#include <llvm-c/Analysis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

void em_error(Emitter *em, SrcPos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(em->diag, pos, fmt, ap);
    va_end(ap);
    em->failed = true;
}

LLVMTypeRef em_elem_type(Emitter *em, DType dt)
{
    switch (dt) {
    case DT_F32: return em->t_f32;
    case DT_F16: return em->t_f16;
    case DT_BF16: return em->t_bf16;
    case DT_I32:
    case DT_U32: return em->t_i32;
    case DT_I8:
    case DT_U8:
    case DT_E4M3:
    case DT_E5M2: return em->t_i8; /* fp8: the code's bits */
    case DT_I64: return em->t_i64;
    default: return em->t_i1;
    }
}

/* A constant of integer dtype dt (any width, from its int_wrap value). */
static LLVMValueRef int_const(Emitter *em, DType dt, int64_t v)
{
    return LLVMConstInt(em_elem_type(em, dt), (unsigned long long)v, dtype_is_signed(dt));
}

LLVMValueRef em_i32(Emitter *em, int64_t v) { return LLVMConstInt(em->t_i32, (unsigned long long)v, 1); }
LLVMValueRef em_i64(Emitter *em, int64_t v) { return LLVMConstInt(em->t_i64, (unsigned long long)v, 1); }

/* Calls the first intrinsic of `names` this LLVM knows (names change between
 * LLVM versions). An unknown name would silently become a call to an external
 * function, so a name none of which exists is a compiler bug. An overloaded
 * intrinsic given no overload types is specialized on its first argument's
 * type (some intrinsics became overloaded in later LLVMs). */
LLVMValueRef em_call_intrinsic(Emitter *em, const char *const *names, LLVMTypeRef *overload, int noverload,
                               LLVMValueRef *args, int nargs)
{
    for (int i = 0; names[i]; i++) {
        unsigned id = LLVMLookupIntrinsicID(names[i], strlen(names[i]));
        if (!id)
            continue;
        LLVMTypeRef first;
        if (noverload == 0 && nargs > 0 && LLVMIntrinsicIsOverloaded(id)) {
            first = LLVMTypeOf(args[0]);
            overload = &first;
            noverload = 1;
        }
        LLVMValueRef fn = LLVMGetIntrinsicDeclaration(em->mod, id, overload, (size_t)noverload);
        LLVMTypeRef fty = LLVMIntrinsicGetType(em->ctx, id, overload, (size_t)noverload);
        return LLVMBuildCall2(em->b, fty, fn, args, (unsigned)nargs, "");
    }
    tsr_die("no LLVM intrinsic named %s in this LLVM", names[0]);
}

void em_barrier(Emitter *em)
{
    if (em->barrier_ban) { /* the family's planning must keep barriers out of such code */
        em_error(em, em->f->pos, "internal error: a block barrier while other warps wait for this one");
        return;
    }
    if (em->barrier_threads) {
        InlinePtx a;
        ptx_begin(&a, em, PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY | PTX_CONVERGENT);
        ptx_text(&a, "bar.sync 1, %d;", em->barrier_threads);
        ptx_call(&a);
        return;
    }
    static const char *const names[] = { "llvm.nvvm.barrier0", "llvm.nvvm.barrier.cta.sync.aligned.all", NULL };
    if (LLVMLookupIntrinsicID(names[0], strlen(names[0]))) {
        em_call_intrinsic(em, names, NULL, 0, NULL, 0);
        return;
    }
    LLVMValueRef zero = em_i32(em, 0);
    em_call_intrinsic(em, names + 1, NULL, 0, &zero, 1);
}

static LLVMValueRef sreg(Emitter *em, const char *name)
{
    char full[96];
    snprintf(full, sizeof full, "llvm.nvvm.read.ptx.sreg.%s", name);
    const char *names[] = { full, NULL };
    return em_call_intrinsic(em, names, NULL, 0, NULL, 0);
}

/* ----------------------------------------------------- persistent kernels */

/* The program's grid, computed in the kernel from the same scalar code the
 * host runs to size it (TirFunc.grid_block). */
static void tiles_grid(Emitter *em, LLVMValueRef grid[3])
{
    TirFunc *f = em->f;
    TirBlock *gb = tir_block(f, f->grid_block);
    em_emit_insts(em, gb->insts.data, gb->insts.len);
    for (int i = 0; i < 3; i++)
        grid[i] = f->grid[i] == TIR_NONE ? em_i32(em, 1) : em_val(em, f->grid[i])->e[0];
}

/* The program ids of instance t (unsigned: the runtime launches a
 * persistent kernel only when the instances number at most INT32_MAX): the
 * `schedule` clause's axis slowest (reversed if asked), then the others
 * with axis 0 fastest. */
static void tiles_pids(Emitter *em, LLVMValueRef t, LLVMValueRef total, LLVMValueRef grid[3])
{
    LLVMBuilderRef b = em->b;
    int outer = em->f->tile_outer;
    LLVMValueRef rest = t;
    if (outer != TIR_NONE) {
        LLVMValueRef inner = LLVMBuildUDiv(b, total, grid[outer], "tiles.inner");
        LLVMValueRef q = LLVMBuildUDiv(b, t, inner, "");
        rest = LLVMBuildURem(b, t, inner, "");
        if (em->f->tile_reverse)
            q = LLVMBuildSub(b, LLVMBuildSub(b, grid[outer], em_i32(em, 1), ""), q, "");
        em->pid[outer] = q;
    }
    int last = outer == 2 ? 1 : 2;
    for (int i = 0; i < 3; i++) {
        if (i == outer)
            continue;
        if (i == last) { /* the slowest of the rest: what is left */
            em->pid[i] = rest;
            break;
        }
        em->pid[i] = LLVMBuildURem(b, rest, grid[i], "");
        rest = LLVMBuildUDiv(b, rest, grid[i], "");
    }
}

void em_tiles_begin(Emitter *em)
{
    if (!em->opts->persistent)
        return;
    LLVMBuilderRef b = em->b;
    LLVMValueRef first = sreg(em, "ctaid.x");
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
    em->tiles.head = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "tiles.loop");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "tiles.body");
    em->tiles.exit = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "tiles.exit");
    LLVMBuildBr(b, em->tiles.head);
    LLVMPositionBuilderAtEnd(b, em->tiles.head);
    em->tiles.tile = LLVMBuildPhi(b, em->t_i32, "tile");
    LLVMAddIncoming(em->tiles.tile, &first, &pre, 1);
    /* the grid in the loop (nothing is hoisted out of it, em_tiles_end):
     * only the instance's number stays live across the body */
    LLVMValueRef grid[3];
    tiles_grid(em, grid);
    LLVMValueRef total = LLVMBuildMul(b, LLVMBuildMul(b, grid[0], grid[1], ""), grid[2], "tiles");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, em->tiles.tile, total, ""), body, em->tiles.exit);
    LLVMPositionBuilderAtEnd(b, body);
    tiles_pids(em, em->tiles.tile, total, grid);
    for (int i = 0; i < 3; i++)
        em->npid[i] = grid[i];
    /* the instance's thread coordinates, computed again in each instance */
    LLVMBasicBlockRef code = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "tiles.code");
    LLVMValueRef br = LLVMBuildBr(b, code);
    em->tiles.coord_b = LLVMCreateBuilderInContext(em->ctx);
    LLVMPositionBuilderBefore(em->tiles.coord_b, br);
    em->coord_b = em->tiles.coord_b;
    em->coords.len = 0;
    em->patterns.len = 0;
    LLVMPositionBuilderAtEnd(b, code);
}

void em_tiles_end(Emitter *em, bool meet)
{
    if (!em->opts->persistent)
        return;
    /* the caches hold values of this instance only */
    LLVMDisposeBuilder(em->tiles.coord_b);
    em->tiles.coord_b = NULL;
    em->coord_b = em->entry_b;
    em->coords.len = 0;
    em->patterns.len = 0;
    if (em->failed)
        return;
    LLVMBuilderRef b = em->b;
    /* the next instance reuses this one's shared memory */
    if (meet)
        em_barrier(em);
    /* t + blocks < 2^32: t < total <= INT32_MAX and blocks <= total */
    LLVMValueRef next = LLVMBuildAdd(b, em->tiles.tile, sreg(em, "nctaid.x"), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
    LLVMAddIncoming(em->tiles.tile, &next, &latch, 1);
    LLVMValueRef br = LLVMBuildBr(b, em->tiles.head);
    /* Nothing is hoisted out of the loop of instances: what an instance
     * computes that does not depend on it (a thread's offsets into the
     * output) would otherwise stay live across the main loop, and the
     * kernels tuned to 255 registers spill. */
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(em->ctx, NULL, 0);
    LLVMMetadataRef licm = LLVMMDStringInContext2(em->ctx, "llvm.licm.disable", strlen("llvm.licm.disable"));
    LLVMMetadataRef ops[2] = { tmp, LLVMMDNodeInContext2(em->ctx, &licm, 1) };
    LLVMMetadataRef loop = LLVMMDNodeInContext2(em->ctx, ops, 2);
    LLVMMetadataReplaceAllUsesWith(tmp, loop);
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(em->ctx, "llvm.loop", strlen("llvm.loop")),
                    LLVMMetadataAsValue(em->ctx, loop));
    LLVMPositionBuilderAtEnd(b, em->tiles.exit);
}

const Layout *em_layout(Emitter *em, ValId v) { return tir_layout(em->f, v); }

EVal *em_val(Emitter *em, ValId v)
{
    if (!em->vals[v].e)
        tsr_die("codegen: value %%%d used before it was emitted", v);
    return &em->vals[v];
}

EVal em_new_val(Emitter *em, int n)
{
    EVal r;
    r.n = n;
    r.e = arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)n);
    return r;
}

static void set_val(Emitter *em, ValId v, EVal e) { em->vals[v] = e; }

/* lane/warp part of the coordinates of layout `li` along dim, computed once
 * (em->coord_b). */
static LLVMValueRef coord_base_of(Emitter *em, int li, int dim)
{
    for (int i = 0; i < em->coords.len; i++)
        if (em->coords.data[i].layout == li)
            return em->coords.data[i].base[dim];
    CoordCache c = { 0 };
    c.layout = li;
    const Layout *l = &em->f->layouts.data[li];
    LLVMBuilderRef b = em->coord_b;
    for (int d = 0; d < l->rank; d++) {
        LLVMValueRef acc = em_i32(em, 0);
        for (int k = 0; k < LAYOUT_LANE_BITS + l->nwarp; k++) {
            bool is_lane = k < LAYOUT_LANE_BITS;
            LBit lb = is_lane ? l->lane[k] : l->warp[k - LAYOUT_LANE_BITS];
            if (lb.dim != d)
                continue;
            LLVMValueRef src = is_lane ? em->lane : em->warp;
            int sh = is_lane ? k : k - LAYOUT_LANE_BITS;
            LLVMValueRef bitv = LLVMBuildAnd(b, LLVMBuildLShr(b, src, em_i32(em, sh), ""), em_i32(em, 1), "");
            acc = LLVMBuildOr(b, acc, LLVMBuildShl(b, bitv, em_i32(em, lb.bit), ""), "");
        }
        if (layout_wrep(l) > 1 && l->wrep_dim == d) { /* the warp's high part numbers d's repetition */
            LLVMValueRef q = LLVMBuildLShr(b, em->warp, em_i32(em, l->nwarp), "");
            acc = LLVMBuildOr(b, acc, LLVMBuildShl(b, q, em_i32(em, l->log2shape[d]), ""), "");
        }
        c.base[d] = acc;
    }
    vec_push(&em->arena, em->coords, c);
    return c.base[dim];
}

LLVMValueRef em_coord_base(Emitter *em, ValId v, int dim)
{
    return coord_base_of(em, tir_val(em->f, v)->layout, dim);
}

LLVMValueRef em_lcoord(Emitter *em, int li, int r, int dim)
{
    int coord[LAYOUT_MAX_RANK];
    layout_coord_of_reg(&em->f->layouts.data[li], r, coord);
    LLVMValueRef base = coord_base_of(em, li, dim);
    return coord[dim] ? LLVMBuildOr(em->b, base, em_i32(em, coord[dim]), "") : base;
}

LLVMValueRef em_coord(Emitter *em, ValId v, int r, int dim) { return em_lcoord(em, tir_val(em->f, v)->layout, r, dim); }

LLVMValueRef em_warp_coord(Emitter *em, int li, int dim)
{
    Layout l = em->f->layouts.data[li];
    for (int i = 0; i < LAYOUT_LANE_BITS; i++)
        l.lane[i].dim = -1;
    return coord_base_of(em, tir_intern_layout(em->f, &l), dim);
}

LLVMValueRef em_owner_mask(Emitter *em, const Layout *l)
{
    unsigned lanes = layout_lane_repl(l), warps = layout_warp_owner_mask(l);
    LLVMValueRef m = NULL;
    if (lanes) {
        LLVMValueRef x = LLVMBuildAnd(em->b, em->lane, em_i32(em, lanes), "");
        m = LLVMBuildICmp(em->b, LLVMIntEQ, x, em_i32(em, 0), "");
    }
    if (warps) {
        LLVMValueRef x = LLVMBuildAnd(em->b, em->warp, em_i32(em, warps), "");
        LLVMValueRef c = LLVMBuildICmp(em->b, LLVMIntEQ, x, em_i32(em, 0), "");
        m = m ? LLVMBuildAnd(em->b, m, c, "") : c;
    }
    return m;
}

LLVMBasicBlockRef em_only_begin(Emitter *em, LLVMValueRef owner, const char *name, const char *after)
{
    if (!owner)
        return NULL;
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(em->ctx, em->fn, name);
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(em->ctx, em->fn, after);
    LLVMBuildCondBr(em->b, owner, body, next);
    LLVMPositionBuilderAtEnd(em->b, body);
    return next;
}

void em_only_end(Emitter *em, LLVMBasicBlockRef after)
{
    if (!after)
        return;
    LLVMBuildBr(em->b, after);
    LLVMPositionBuilderAtEnd(em->b, after);
}

LLVMValueRef em_smem_at(Emitter *em, LLVMValueRef byte_offset)
{
    if (LLVMTypeOf(byte_offset) != em->t_i64)
        byte_offset = LLVMBuildZExt(em->b, byte_offset, em->t_i64, "");
    return LLVMBuildGEP2(em->b, em->t_i8, em->smem, &byte_offset, 1, "");
}

/* ------------------------------------------------------- scalar values */

static LLVMValueRef const_elem(Emitter *em, const TirInst *in, DType dt)
{
    if (dtype_is_fp8(dt))
        return LLVMConstInt(em->t_i8, f32_to_fp8_bits((float)in->fval, dt), 0);
    if (dtype_is_float(dt))
        return LLVMConstReal(em_elem_type(em, dt), in->fval);
    if (dt == DT_BOOL)
        return LLVMConstInt(em->t_i1, in->ival != 0, 0);
    return int_const(em, dt, in->ival);
}

static LLVMValueRef to_f32(Emitter *em, LLVMValueRef x, DType dt)
{
    return dt == DT_F32 ? x : LLVMBuildFPExt(em->b, x, em->t_f32, "");
}

static LLVMValueRef from_f32(Emitter *em, LLVMValueRef x, DType dt)
{
    return dt == DT_F32 ? x : LLVMBuildFPTrunc(em->b, x, em_elem_type(em, dt), "");
}

static LLVMValueRef call_f32(Emitter *em, const char *const *names, LLVMValueRef x)
{
    return em_call_intrinsic(em, names, NULL, 0, &x, 1);
}

static LLVMValueRef unary_float(Emitter *em, TirOp op, LLVMValueRef x, DType dt)
{
    LLVMBuilderRef b = em->b;
    if (op == TIR_NEG)
        return LLVMBuildFNeg(b, x, "");
    if (op == TIR_ABS) {
        static const char *const names[] = { "llvm.fabs", NULL };
        LLVMTypeRef t = em_elem_type(em, dt);
        return em_call_intrinsic(em, names, &t, 1, &x, 1);
    }
    LLVMValueRef f = to_f32(em, x, dt), r;
    switch (op) {
    case TIR_EXP2: r = em_ex2_ftz(em, f); break;
    case TIR_EXP: r = em_ex2_ftz(em, LLVMBuildFMul(b, f, LLVMConstReal(em->t_f32, 1.4426950408889634), "")); break;
    case TIR_LOG2: r = em_lg2(em, f); break;
    case TIR_LOG: r = LLVMBuildFMul(b, em_lg2(em, f), LLVMConstReal(em->t_f32, 0.6931471805599453), ""); break;
    case TIR_SQRT: {
        static const char *const names[] = { "llvm.sqrt", NULL };
        r = em_call_intrinsic(em, names, &em->t_f32, 1, &f, 1);
        break;
    }
    case TIR_RSQRT: {
        static const char *const names[] = { "llvm.nvvm.rsqrt.approx.f", "llvm.nvvm.rsqrt.approx.f32", NULL };
        r = call_f32(em, names, f);
        break;
    }
    default: r = em_math_f32(em, op, f, NULL, dt); break;
    }
    return from_f32(em, r, dt);
}

LLVMValueRef em_cast_elem(Emitter *em, LLVMValueRef x, DType from, DType to)
{
    LLVMBuilderRef b = em->b;
    if (from == to)
        return x;
    if (dtype_is_float(from)) {
        if (dtype_is_float(to))
            return from_f32(em, to_f32(em, x, from), to);
        LLVMValueRef f = to_f32(em, x, from);
        if (to == DT_BOOL)
            return LLVMBuildFCmp(b, LLVMRealUNE, f, LLVMConstReal(em->t_f32, 0.0), "");
        /* truncated, saturated to the dtype's range, NaN to 0 */
        static const char *const sat_s[] = { "llvm.fptosi.sat", NULL }, *const sat_u[] = { "llvm.fptoui.sat", NULL };
        LLVMTypeRef ov[2] = { em_elem_type(em, to), em->t_f32 };
        return em_call_intrinsic(em, dtype_is_signed(to) ? sat_s : sat_u, ov, 2, &f, 1);
    }
    if (from == DT_BOOL) {
        if (dtype_is_float(to))
            return from_f32(em, LLVMBuildUIToFP(b, x, em->t_f32, ""), to);
        return LLVMBuildZExt(b, x, em_elem_type(em, to), "");
    }
    /* from an integer */
    if (to == DT_BOOL)
        return LLVMBuildICmp(b, LLVMIntNE, x, int_const(em, from, 0), "");
    if (dtype_is_float(to)) {
        LLVMValueRef f = dtype_is_signed(from) ? LLVMBuildSIToFP(b, x, em->t_f32, "") : LLVMBuildUIToFP(b, x, em->t_f32, "");
        return from_f32(em, f, to);
    }
    /* integer to integer: wraps (truncates, or extends by the source's signedness) */
    LLVMTypeRef tt = em_elem_type(em, to);
    int fb = dtype_bits(from), tb = dtype_bits(to);
    if (fb == tb)
        return x;
    if (fb > tb)
        return LLVMBuildTrunc(b, x, tt, "");
    return dtype_is_signed(from) ? LLVMBuildSExt(b, x, tt, "") : LLVMBuildZExt(b, x, tt, "");
}

static LLVMValueRef unary_elem(Emitter *em, TirOp op, LLVMValueRef x, DType dt, DType to)
{
    LLVMBuilderRef b = em->b;
    if (op == TIR_CAST)
        return em_cast_elem(em, x, dt, to);
    if (dtype_is_float(dt))
        return unary_float(em, op, x, dt);
    switch (op) {
    case TIR_NEG: return LLVMBuildSub(b, int_const(em, dt, 0), x, "");
    case TIR_NOT:
        if (dt == DT_BOOL)
            return LLVMBuildXor(b, x, LLVMConstInt(em->t_i1, 1, 0), "");
        return LLVMBuildNot(b, x, "");
    case TIR_ABS: {
        if (!dtype_is_signed(dt))
            return x;
        LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, x, int_const(em, dt, 0), "");
        return LLVMBuildSelect(b, neg, LLVMBuildSub(b, int_const(em, dt, 0), x, ""), x, "");
    }
    default: tsr_die("codegen: integer unary %s", tir_op_name(op));
    }
}

/* Integer division and remainder with the language's meaning for the cases
 * LLVM leaves undefined: x / 0 = all bits set (-1), x % 0 = x, and for
 * signed dtypes MIN / -1 = MIN. */
static LLVMValueRef int_divrem(Emitter *em, bool is_div, LLVMValueRef x, LLVMValueRef y, DType dt)
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef zero = LLVMBuildICmp(b, LLVMIntEQ, y, int_const(em, dt, 0), "");
    if (!dtype_is_signed(dt)) {
        LLVMValueRef safe = LLVMBuildSelect(b, zero, int_const(em, dt, 1), y, "");
        LLVMValueRef r = is_div ? LLVMBuildUDiv(b, x, safe, "") : LLVMBuildURem(b, x, safe, "");
        return LLVMBuildSelect(b, zero, is_div ? LLVMConstAllOnes(em_elem_type(em, dt)) : x, r, "");
    }
    LLVMValueRef m1 = LLVMBuildICmp(b, LLVMIntEQ, y, int_const(em, dt, -1), "");
    LLVMValueRef safe = LLVMBuildSelect(b, LLVMBuildOr(b, zero, m1, ""), int_const(em, dt, 1), y, "");
    LLVMValueRef r = is_div ? LLVMBuildSDiv(b, x, safe, "") : LLVMBuildSRem(b, x, safe, "");
    r = LLVMBuildSelect(b, m1, is_div ? LLVMBuildSub(b, int_const(em, dt, 0), x, "") : int_const(em, dt, 0), r, "");
    return LLVMBuildSelect(b, zero, is_div ? int_const(em, dt, -1) : x, r, "");
}

/* Shifts with the language's meaning where LLVM's is poison: a count (as an
 * unsigned number) of the width or more shifts everything out. */
static LLVMValueRef int_shift(Emitter *em, bool left, LLVMValueRef x, LLVMValueRef y, DType dt)
{
    LLVMBuilderRef b = em->b;
    int bits = dtype_bits(dt);
    LLVMValueRef big = LLVMBuildICmp(b, LLVMIntUGE, y, int_const(em, dt, bits), "");
    LLVMValueRef safe = LLVMBuildSelect(b, big, int_const(em, dt, 0), y, "");
    if (left)
        return LLVMBuildSelect(b, big, int_const(em, dt, 0), LLVMBuildShl(b, x, safe, ""), "");
    if (!dtype_is_signed(dt))
        return LLVMBuildSelect(b, big, int_const(em, dt, 0), LLVMBuildLShr(b, x, safe, ""), "");
    /* arithmetic: a count past the width fills with the sign, as >> (width - 1) does */
    safe = LLVMBuildSelect(b, big, int_const(em, dt, bits - 1), y, "");
    return LLVMBuildAShr(b, x, safe, "");
}

/* f32 multiplies and adds may contract into one fused multiply-add (rounded
 * once), as nvcc does by default: the softmax's s * scale - max is one FFMA.
 * f16 and bf16 ones are not, so that they round after each operation. */
static LLVMValueRef contractable(Emitter *em, LLVMValueRef v, DType dt)
{
    if (dt == DT_F32 && LLVMIsAInstruction(v) && LLVMCanValueUseFastMathFlags(v))
        LLVMSetFastMathFlags(v, LLVMFastMathAllowContract);
    return v;
}

static LLVMValueRef binary_elem(Emitter *em, TirOp op, LLVMValueRef x, LLVMValueRef y, DType dt)
{
    LLVMBuilderRef b = em->b;
    if (dtype_is_float(dt)) {
        switch (op) {
        case TIR_ADD: return contractable(em, LLVMBuildFAdd(b, x, y, ""), dt);
        case TIR_SUB: return contractable(em, LLVMBuildFSub(b, x, y, ""), dt);
        case TIR_MUL: return contractable(em, LLVMBuildFMul(b, x, y, ""), dt);
        case TIR_DIV: return LLVMBuildFDiv(b, x, y, "");
        case TIR_POW: return from_f32(em, em_math_f32(em, op, to_f32(em, x, dt), to_f32(em, y, dt), dt), dt);
        case TIR_MIN:
        case TIR_MAX: {
            static const char *const mn[] = { "llvm.minnum", NULL }, *const mx[] = { "llvm.maxnum", NULL };
            LLVMTypeRef t = em_elem_type(em, dt);
            LLVMValueRef args[2] = { x, y };
            return em_call_intrinsic(em, op == TIR_MIN ? mn : mx, &t, 1, args, 2);
        }
        case TIR_EQ: return LLVMBuildFCmp(b, LLVMRealOEQ, x, y, "");
        case TIR_NE: return LLVMBuildFCmp(b, LLVMRealUNE, x, y, "");
        case TIR_LT: return LLVMBuildFCmp(b, LLVMRealOLT, x, y, "");
        case TIR_LE: return LLVMBuildFCmp(b, LLVMRealOLE, x, y, "");
        case TIR_GT: return LLVMBuildFCmp(b, LLVMRealOGT, x, y, "");
        case TIR_GE: return LLVMBuildFCmp(b, LLVMRealOGE, x, y, "");
        default: break;
        }
    } else {
        bool sg = dtype_is_signed(dt) || dt == DT_BOOL;
        switch (op) {
        case TIR_ADD: return LLVMBuildAdd(b, x, y, "");
        case TIR_SUB: return LLVMBuildSub(b, x, y, "");
        case TIR_MUL: return LLVMBuildMul(b, x, y, "");
        case TIR_DIV: return int_divrem(em, true, x, y, dt);
        case TIR_REM: return int_divrem(em, false, x, y, dt);
        case TIR_MIN: return LLVMBuildSelect(b, LLVMBuildICmp(b, sg ? LLVMIntSLT : LLVMIntULT, x, y, ""), x, y, "");
        case TIR_MAX: return LLVMBuildSelect(b, LLVMBuildICmp(b, sg ? LLVMIntSGT : LLVMIntUGT, x, y, ""), x, y, "");
        case TIR_AND: return LLVMBuildAnd(b, x, y, "");
        case TIR_OR: return LLVMBuildOr(b, x, y, "");
        case TIR_XOR: return LLVMBuildXor(b, x, y, "");
        case TIR_SHL: return int_shift(em, true, x, y, dt);
        case TIR_SHR: return int_shift(em, false, x, y, dt);
        case TIR_EQ: return LLVMBuildICmp(b, LLVMIntEQ, x, y, "");
        case TIR_NE: return LLVMBuildICmp(b, LLVMIntNE, x, y, "");
        case TIR_LT: return LLVMBuildICmp(b, sg ? LLVMIntSLT : LLVMIntULT, x, y, "");
        case TIR_LE: return LLVMBuildICmp(b, sg ? LLVMIntSLE : LLVMIntULE, x, y, "");
        case TIR_GT: return LLVMBuildICmp(b, sg ? LLVMIntSGT : LLVMIntUGT, x, y, "");
        case TIR_GE: return LLVMBuildICmp(b, sg ? LLVMIntSGE : LLVMIntUGE, x, y, "");
        default: break;
        }
    }
    tsr_die("codegen: binary %s on %s", tir_op_name(op), dtype_name(dt));
}

/* ---------------------------------------------------------- instructions */

static void emit_block(Emitter *em, BlockId b);

static void emit_elementwise(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    DType dt = tir_type(f, in->args[0]).dt, to = tir_type(f, in->res[0]).dt;
    EVal *a = em_val(em, in->args[0]);
    EVal r = em_new_val(em, a->n);
    if (in->op == TIR_SELECT) {
        EVal *x = em_val(em, in->args[1]), *y = em_val(em, in->args[2]);
        for (int i = 0; i < r.n; i++)
            r.e[i] = LLVMBuildSelect(em->b, a->e[i], x->e[i], y->e[i], "");
    } else if (tir_op_is_binary(in->op)) {
        EVal *y = em_val(em, in->args[1]);
        for (int i = 0; i < r.n; i++)
            r.e[i] = binary_elem(em, in->op, a->e[i], y->e[i], dt);
    } else if (in->op == TIR_CAST && dt != to && (dtype_is_fp8(dt) || dtype_is_fp8(to))) {
        if (em_fp8_supported(em, in->pos, dt, to))
            em_fp8_cast(em, a->e, a->n, dt, to, r.e);
        else
            for (int i = 0; i < r.n; i++)
                r.e[i] = LLVMGetUndef(em_elem_type(em, to));
    } else {
        for (int i = 0; i < r.n; i++)
            r.e[i] = unary_elem(em, in->op, a->e[i], dt, to);
    }
    set_val(em, in->res[0], r);
}

static void emit_broadcast(Emitter *em, const TirInst *in)
{
    const Layout *dst = em_layout(em, in->res[0]), *src = em_layout(em, in->args[0]);
    EVal *a = em_val(em, in->args[0]);
    EVal r = em_new_val(em, layout_nregs(dst));
    for (int i = 0; i < r.n; i++) {
        int coord[LAYOUT_MAX_RANK];
        layout_coord_of_reg(dst, i, coord);
        r.e[i] = a->e[layout_reg_of(src, coord)];
    }
    set_val(em, in->res[0], r);
}

static void emit_for(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    LLVMBuilderRef b = em->b;
    TirBlock *body = tir_block(f, in->blocks[0]);
    LLVMValueRef lb = em_val(em, in->args[0])->e[0], ub = em_val(em, in->args[1])->e[0],
                 step = em_val(em, in->args[2])->e[0];
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
    LLVMBasicBlockRef header = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "loop");
    LLVMBasicBlockRef bodyb = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "body");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "exit");
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, header);
    LLVMValueRef iv = LLVMBuildPhi(b, em->t_i32, "iv");
    LLVMAddIncoming(iv, &lb, &pre, 1);
    /* An early-exit loop carries whether to go on: true on entry, then what
     * the body yields (so the results stay the header's phis). */
    LLVMValueRef go = NULL;
    if (in->kind == TIR_FOR_EXIT) {
        LLVMValueRef yes = LLVMConstInt(em->t_i1, 1, 0);
        go = LLVMBuildPhi(b, em->t_i1, "go");
        LLVMAddIncoming(go, &yes, &pre, 1);
    }
    for (int i = 0; i < in->nres; i++) {
        ValId arg = body->args.data[1 + i];
        EVal *init = em_val(em, in->args[3 + i]);
        EVal phis = em_new_val(em, init->n);
        for (int k = 0; k < init->n; k++) {
            phis.e[k] = LLVMBuildPhi(b, LLVMTypeOf(init->e[k]), "");
            LLVMAddIncoming(phis.e[k], &init->e[k], &pre, 1);
        }
        set_val(em, arg, phis);
        set_val(em, in->res[i], phis);
    }
    LLVMValueRef more = LLVMBuildICmp(b, LLVMIntSLT, iv, ub, "");
    if (go)
        more = LLVMBuildAnd(b, more, go, "");
    LLVMBuildCondBr(b, more, bodyb, exit);
    LLVMPositionBuilderAtEnd(b, bodyb);
    EVal ive = em_new_val(em, 1);
    ive.e[0] = iv;
    set_val(em, body->args.data[0], ive);
    EmLoop frame = { .loop = (InstId)(in - f->insts.data), .iv = body->args.data[0], .lb = lb, .ub = ub,
                     .step = step, .pre = pre, .header = header };
    em_loop_enter(em, &frame);
    emit_block(em, in->blocks[0]);
    if (em->failed) { /* an error stopped the body: its yields are not there */
        em_loop_abandon(em);
        return;
    }
    const TirInst *y = tir_inst(f, body->insts.data[body->insts.len - 1]);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
    em_loop_leave(em, latch);
    /* iv + step cannot pass INT32_MAX unnoticed: compare before adding. */
    LLVMValueRef next = LLVMBuildAdd(b, iv, step, "");
    LLVMValueRef ovf = LLVMBuildICmp(b, LLVMIntSLT, next, iv, "");
    next = LLVMBuildSelect(b, ovf, ub, next, "");
    LLVMAddIncoming(iv, &next, &latch, 1);
    if (go)
        LLVMAddIncoming(go, &em_val(em, y->args[in->nres])->e[0], &latch, 1);
    for (int i = 0; i < in->nres; i++) {
        EVal *phis = em_val(em, body->args.data[1 + i]), *yv = em_val(em, y->args[i]);
        for (int k = 0; k < phis->n; k++)
            LLVMAddIncoming(phis->e[k], &yv->e[k], &latch, 1);
    }
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, exit);
}

static void emit_if(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    LLVMBuilderRef b = em->b;
    LLVMBasicBlockRef thenb = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "then");
    LLVMBasicBlockRef elseb = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "else");
    LLVMBasicBlockRef merge = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "endif");
    LLVMBuildCondBr(b, em_val(em, in->args[0])->e[0], thenb, elseb);
    LLVMBasicBlockRef ends[2];
    const TirInst *ys[2];
    for (int k = 0; k < 2; k++) {
        LLVMPositionBuilderAtEnd(b, k ? elseb : thenb);
        emit_block(em, in->blocks[k]);
        TirBlock *bl = tir_block(f, in->blocks[k]);
        ys[k] = tir_inst(f, bl->insts.data[bl->insts.len - 1]);
        ends[k] = LLVMGetInsertBlock(b);
        LLVMBuildBr(b, merge);
    }
    LLVMPositionBuilderAtEnd(b, merge);
    if (em->failed) /* an error stopped a branch: its yields are not there */
        return;
    for (int i = 0; i < in->nres; i++) {
        EVal *a = em_val(em, ys[0]->args[i]), *c = em_val(em, ys[1]->args[i]);
        EVal r = em_new_val(em, a->n);
        for (int k = 0; k < a->n; k++) {
            r.e[k] = LLVMBuildPhi(b, LLVMTypeOf(a->e[k]), "");
            LLVMValueRef vals[2] = { a->e[k], c->e[k] };
            LLVMAddIncoming(r.e[k], vals, ends, 2);
        }
        set_val(em, in->res[i], r);
    }
}

static void emit_inst(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    EVal r;
    switch (in->op) {
    case TIR_CONST:
        r = em_new_val(em, 1);
        r.e[0] = const_elem(em, in, tir_type(f, in->res[0]).dt);
        set_val(em, in->res[0], r);
        break;
    case TIR_PARAM:
        r = em_new_val(em, 1);
        r.e[0] = em->param_ptr[in->param];
        set_val(em, in->res[0], r);
        break;
    case TIR_DIM:
        r = em_new_val(em, 1);
        r.e[0] = em->sym[in->sym];
        set_val(em, in->res[0], r);
        break;
    case TIR_PROGRAM_ID:
    case TIR_NUM_PROGRAMS:
        r = em_new_val(em, 1);
        r.e[0] = in->op == TIR_PROGRAM_ID ? em->pid[in->axis] : em->npid[in->axis];
        set_val(em, in->res[0], r);
        break;
    case TIR_SPLAT: {
        LLVMValueRef x = em_val(em, in->args[0])->e[0];
        r = em_new_val(em, layout_nregs(em_layout(em, in->res[0])));
        for (int i = 0; i < r.n; i++)
            r.e[i] = x;
        set_val(em, in->res[0], r);
        break;
    }
    case TIR_ARANGE: {
        LLVMValueRef start = em_val(em, in->args[0])->e[0];
        r = em_new_val(em, layout_nregs(em_layout(em, in->res[0])));
        for (int i = 0; i < r.n; i++)
            r.e[i] = LLVMBuildAdd(em->b, start, em_coord(em, in->res[0], i, 0), "");
        set_val(em, in->res[0], r);
        break;
    }
    case TIR_EXPAND_DIMS:
    case TIR_TRANSPOSE: set_val(em, in->res[0], *em_val(em, in->args[0])); break;
    case TIR_RESHAPE: em_reshape(em, in); break;
    case TIR_ASYNC_COPY: em_async_copy(em, in); break;
    case TIR_ASYNC_COMMIT: em->target->emit->stage_commit(em, in); break;
    case TIR_ASYNC_WAIT: em->target->emit->stage_wait(em, in, (int)in->ival); break;
    case TIR_ASYNC_RELEASE: em->target->emit->stage_release(em, in); break;
    case TIR_ASYNC_ACQUIRE: em->target->emit->stage_acquire(em, in); break;
    case TIR_SMEM_TILE: {
        const TirBuffer *buf = &f->buffers.data[in->buf];
        int64_t stage_bytes = ttype_numel(buf->type) * dtype_size(buf->type.dt);
        r = em_new_val(em, 1);
        r.e[0] = LLVMBuildAdd(em->b, em_i32(em, buf->offset),
                              LLVMBuildMul(em->b, em_val(em, in->args[0])->e[0], em_i32(em, stage_bytes), ""), "");
        set_val(em, in->res[0], r);
        break;
    }
    case TIR_BROADCAST: emit_broadcast(em, in); break;
    case TIR_CONVERT: em_convert(em, in); break;
    case TIR_DOT: em_dot(em, in); break;
    case TIR_REDUCE: em_reduce(em, in); break;
    case TIR_LOAD: em_load(em, in); break;
    case TIR_STORE: em_store(em, in); break;
    case TIR_GATHER: em_gather(em, in); break;
    case TIR_SCATTER: em_scatter(em, in); break;
    case TIR_PRINT: em_print(em, in); break;
    case TIR_ASSERT: em_assert(em, in); break;
    case TIR_FOR: emit_for(em, in); break;
    case TIR_IF: emit_if(em, in); break;
    case TIR_YIELD: break;
    default:
        if (tir_op_is_binary(in->op) || tir_op_is_unary(in->op) || in->op == TIR_SELECT) {
            emit_elementwise(em, in);
            break;
        }
        tsr_die("codegen: op %s", tir_op_name(in->op));
    }
}

void em_emit_insts(Emitter *em, const InstId *ids, int n)
{
    for (int i = 0; i < n && !em->failed; i++) {
        const TirInst *in = tir_inst(em->f, ids[i]);
        lineinfo_at(em, in->pos);
        if (em->target->emit->before_inst)
            em->target->emit->before_inst(em, in);
        if (em->order_barrier[ids[i]])
            em_barrier(em); /* an earlier write of the tensor by other threads (codegen_order.c) */
        emit_inst(em, in);
    }
}

static void emit_block(Emitter *em, BlockId b)
{
    TirBlock *bl = tir_block(em->f, b);
    em_emit_insts(em, bl->insts.data, bl->insts.len);
    if (em->target->emit->after_block && !em->failed)
        em->target->emit->after_block(em, b);
}

/* ------------------------------------------------------------- the frame */

static LLVMTypeRef abi_type(Emitter *em, AbiKind k)
{
    switch (k) {
    case ABI_PTR: return em->t_ptr_g;
    case ABI_I64: return em->t_i64;
    case ABI_F32: return em->t_f32;
    case ABI_B16: return em->t_i16;
    case ABI_TMAP: return LLVMPointerTypeInContext(em->ctx, 0);
    default: return em->t_i32;
    }
}

/* The tensor-map parameters (ABI_TMAP): byval [128 x i8], align 64, and grid
 * constants, so that taking their address gives the parameter's own
 * (cvta.param) and TMA reads it in place; without the mark NVPTX copies the
 * bytes to local memory, whose address TMA cannot use. LLVM 21+ takes the
 * mark as a parameter attribute, LLVM 19 as an nvvm.annotations entry with
 * the parameters' 1-based positions. Records each map's pointer. */
static void declare_tma_params(Emitter *em, const AbiSlot *slots, int n)
{
    unsigned major = 0, minor = 0, patch = 0;
    LLVMGetVersion(&major, &minor, &patch);
    LLVMTypeRef map = LLVMArrayType(em->t_i8, ABI_TMAP_BYTES);
    LLVMMetadataRef positions[CODEGEN_MAX_PARAM_SLOTS];
    int npos = 0;
    em->tma_map = arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)(em->f->tma.len + 1));
    for (int i = 0; i < n; i++) {
        if (slots[i].kind != ABI_TMAP)
            continue;
        unsigned at = (unsigned)i + 1; /* attribute index of parameter i */
        LLVMAddAttributeAtIndex(em->fn, at,
                                LLVMCreateTypeAttribute(em->ctx, LLVMGetEnumAttributeKindForName("byval", 5), map));
        LLVMAddAttributeAtIndex(em->fn, at,
                                LLVMCreateEnumAttribute(em->ctx, LLVMGetEnumAttributeKindForName("align", 5), ABI_TMAP_ALIGN));
        if (major >= 21)
            LLVMAddAttributeAtIndex(em->fn, at, LLVMCreateStringAttribute(em->ctx, "nvvm.grid_constant", 18, "", 0));
        else
            positions[npos++] = LLVMValueAsMetadata(em_i32(em, (int64_t)i + 1));
        em->tma_map[slots[i].dim] = LLVMGetParam(em->fn, (unsigned)i);
    }
    if (!npos)
        return;
    LLVMMetadataRef md[3] = { LLVMValueAsMetadata(em->fn), LLVMMDStringInContext2(em->ctx, "grid_constant", 13),
                              LLVMMDNodeInContext2(em->ctx, positions, (size_t)npos) };
    LLVMAddNamedMetadataOperand(em->mod, "nvvm.annotations",
                                LLVMMetadataAsValue(em->ctx, LLVMMDNodeInContext2(em->ctx, md, 3)));
}

/* Blocks per multiprocessor to promise ptxas: as many as shared memory lets
 * run at once, but never so many that a thread gets fewer than 168
 * registers. Without it ptxas may trade spills for an occupancy that shared
 * memory rules out anyway. */
static int min_blocks_per_sm(const Emitter *em, size_t smem)
{
    if (em->min_blocks)
        return em->min_blocks;
    int threads = em->threads;
    int by_smem = (int)((size_t)em->target->smem_per_sm / (smem + 1024));
    int by_regs = em->target->regs_per_sm / (threads * 168);
    int n = by_smem < by_regs ? by_smem : by_regs;
    return n < 1 ? 1 : n;
}

static void add_fn_attr(Emitter *em, const char *key, int value)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", value);
    LLVMAttributeRef a = LLVMCreateStringAttribute(em->ctx, key, (unsigned)strlen(key), buf, (unsigned)strlen(buf));
    LLVMAddAttributeAtIndex(em->fn, LLVMAttributeFunctionIndex, a);
}

/* Marks the function as a kernel with its launch bounds: the kernel's
 * resource clauses when it has them (min_blocks; regs alone drops the
 * computed block count, which would cap the registers below it). */
static void mark_kernel(Emitter *em, size_t smem)
{
    unsigned major = 0, minor = 0, patch = 0;
    LLVMGetVersion(&major, &minor, &patch);
    const TirFunc *f = em->f;
    int threads = em->threads;
    int blocks = f->min_blocks ? f->min_blocks : f->max_regs ? 0 : min_blocks_per_sm(em, smem);
    if (major >= 21) {
        /* LLVM 21+ marks kernels with a calling convention and takes launch
         * bounds as function attributes. */
        LLVMSetFunctionCallConv(em->fn, 71 /* PTX_Kernel */);
        add_fn_attr(em, "nvvm.maxntid", threads);
        if (blocks)
            add_fn_attr(em, "nvvm.minctasm", blocks);
        if (f->max_regs)
            add_fn_attr(em, "nvvm.maxnreg", f->max_regs);
        return;
    }
    const char *keys[4] = { "kernel", "maxntidx", "minctasm", "maxnreg" };
    int vals[4] = { 1, threads, blocks, f->max_regs };
    for (int i = 0; i < 4; i++) {
        if (!vals[i])
            continue;
        LLVMMetadataRef md[3] = { LLVMValueAsMetadata(em->fn),
                                  LLVMMDStringInContext2(em->ctx, keys[i], strlen(keys[i])),
                                  LLVMValueAsMetadata(em_i32(em, vals[i])) };
        LLVMValueRef node = LLVMMetadataAsValue(em->ctx, LLVMMDNodeInContext2(em->ctx, md, 3));
        LLVMAddNamedMetadataOperand(em->mod, "nvvm.annotations", node);
    }
}

static void build_frame(Emitter *em)
{
    TirFunc *f = em->f;
    AbiSlot slots[CODEGEN_MAX_PARAM_SLOTS];
    int n = abi_slots(f, slots, CODEGEN_MAX_PARAM_SLOTS);
    if (n > CODEGEN_MAX_PARAM_SLOTS) /* codegen_check reports it */
        tsr_die("kernel %s has more than %d parameter slots", f->name, CODEGEN_MAX_PARAM_SLOTS);
    LLVMTypeRef *types = arena_alloc(&em->arena, sizeof(LLVMTypeRef) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        types[i] = abi_type(em, slots[i].kind);
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(em->ctx), types, (unsigned)n, 0);
    em->fn = LLVMAddFunction(em->mod, f->name, fty);
    em->entry = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "entry");
    LLVMPositionBuilderAtEnd(em->b, em->entry);
    em->param_ptr = arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)(f->params.len + 1));
    em->param_stride = arena_alloc(&em->arena, sizeof(*em->param_stride) * (size_t)(f->params.len + 1));
    em->sym = arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)(f->syms.len + 1));
    declare_tma_params(em, slots, n);
    for (int i = 0; i < n; i++) {
        LLVMValueRef p = LLVMGetParam(em->fn, (unsigned)i);
        const AbiSlot *s = &slots[i];
        if (s->kind == ABI_TMAP) {
            continue; /* declare_tma_params */
        } else if (s->param == TIR_NONE) {
            em->sym[s->dim] = p;
        } else if (s->kind == ABI_I64 && f->params.data[s->param].is_tensor) {
            em->param_stride[s->param][s->dim] = p;
        } else if (s->kind == ABI_I32 && dtype_size(f->params.data[s->param].dt) == 1 &&
                   f->params.data[s->param].dt != DT_BOOL) {
            em->param_ptr[s->param] = LLVMBuildTrunc(em->b, p, em->t_i8, ""); /* i8, u8 */
        } else if (s->kind == ABI_B16) {
            em->param_ptr[s->param] = LLVMBuildBitCast(em->b, p, em_elem_type(em, f->params.data[s->param].dt), "");
        } else if (s->kind == ABI_I32 && f->params.data[s->param].dt == DT_BOOL) {
            em->param_ptr[s->param] = LLVMBuildICmp(em->b, LLVMIntNE, p, em_i32(em, 0), "");
        } else {
            em->param_ptr[s->param] = p;
        }
    }
    em->tid = sreg(em, "tid.x");
    em->lane = LLVMBuildAnd(em->b, em->tid, em_i32(em, 31), "lane");
    em->warp = LLVMBuildLShr(em->b, em->tid, em_i32(em, 5), "warp");
    static const char *const ax[3] = { "x", "y", "z" };
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "ctaid.%s", ax[i]);
        em->pid[i] = sreg(em, name);
        snprintf(name, sizeof name, "nctaid.%s", ax[i]);
        em->npid[i] = sreg(em, name);
    }
    LLVMTypeRef arr = LLVMArrayType(em->t_i8, 0);
    em->smem = LLVMAddGlobalInAddressSpace(em->mod, arr, "tsr_smem", 3);
    LLVMSetLinkage(em->smem, LLVMExternalLinkage);
    LLVMSetAlignment(em->smem, f->smem_align > 128 ? (unsigned)f->smem_align : 128);
    /* Coordinates are computed in the entry block, before its branch. */
    LLVMBasicBlockRef first = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "start");
    LLVMValueRef br = LLVMBuildBr(em->b, first);
    em->entry_b = LLVMCreateBuilderInContext(em->ctx);
    LLVMPositionBuilderBefore(em->entry_b, br);
    em->coord_b = em->entry_b;
    LLVMPositionBuilderAtEnd(em->b, first);
}

static void init_types(Emitter *em)
{
    em->t_i1 = LLVMInt1TypeInContext(em->ctx);
    em->t_i8 = LLVMInt8TypeInContext(em->ctx);
    em->t_i16 = LLVMInt16TypeInContext(em->ctx);
    em->t_i32 = LLVMInt32TypeInContext(em->ctx);
    em->t_i64 = LLVMInt64TypeInContext(em->ctx);
    em->t_f16 = LLVMHalfTypeInContext(em->ctx);
    em->t_bf16 = LLVMBFloatTypeInContext(em->ctx);
    em->t_f32 = LLVMFloatTypeInContext(em->ctx);
    em->t_ptr_g = LLVMPointerTypeInContext(em->ctx, 1);
    em->t_ptr_s = LLVMPointerTypeInContext(em->ctx, 3);
}

/* In ptx.c: runs LLVM's optimizations on the module and writes PTX. */
bool ptx_emit(LLVMModuleRef mod, const Target *t, char **ptx, StrBuf *err);
void ptx_prepare_module(LLVMModuleRef mod, const Target *t);

/* Dots the tensor cores cannot run multiply-add on the CUDA cores from
 * operands in registers (or read from shared memory a k-step at a time): a
 * bound on the registers per thread, counting every operand as if held,
 * keeps that sane. Bigger ones are reported at their source position. */
enum { FMA_DOT_MAX_REGS = 512 };

bool codegen_check(TirFunc *f, const Target *t, Diag *diag)
{
    bool ok = true;
    /* Each tensor is a pointer and its strides, each symbol and scalar one
     * value: the PTX parameter list build_frame makes. */
    int slots = abi_slots(f, NULL, 0);
    if (slots > CODEGEN_MAX_PARAM_SLOTS) {
        diag_error(diag, f->pos,
                   "kernel '%s' takes %d parameter values (a tensor counts its pointer and strides, a scalar or "
                   "symbolic dim one); at most %d can be passed to a GPU kernel: pass fewer, or pack scalars into "
                   "a tensor",
                   f->name, slots, CODEGEN_MAX_PARAM_SLOTS);
        ok = false;
    }
    if (f->max_regs && f->max_regs * 32 * f->warps > t->regs_per_sm) {
        diag_error(diag, f->regs_pos,
                   "'regs %d' for %d warps asks for %d registers per block, but a multiprocessor of %s has %d: "
                   "ask for at most %d registers, or fewer warps",
                   f->max_regs, f->warps, f->max_regs * 32 * f->warps, t->name, t->regs_per_sm,
                   t->regs_per_sm / (32 * f->warps));
        ok = false;
    }
    for (BlockId b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        for (int i = 0; i < bl->insts.len; i++) {
            TirInst *in = tir_inst(f, bl->insts.data[i]);
            if (in->op != TIR_DOT)
                continue;
            if (dot_on_tensor_cores(t, f, in))
                continue;
            TType ta = tir_type(f, in->args[0]), tb = tir_type(f, in->args[1]);
            int M = ta.shape[0], K = ta.shape[1], N = tb.shape[1];
            int regs = layout_fma_regs(M, N, K, f->warps);
            if (regs <= FMA_DOT_MAX_REGS)
                continue;
            diag_error(diag, in->pos,
                       "this dot of %s[%d, %d] by [%d, %d] is too big for the CUDA cores: it would hold %d "
                       "values per thread (at most %d); split K into smaller steps, use more warps, or use f16/bf16 "
                       "tiles with rows and inner dimension multiples of 16 and columns a multiple of 8 "
                       "(the tensor cores)",
                       dtype_name(ta.dt), M, K, K, N, regs, FMA_DOT_MAX_REGS);
            ok = false;
        }
    }
    return ok;
}

/* An emitter and the LLVM objects it owns: disposed at the end, or by the
 * guard of the stage (support/oom.h) when memory runs out midway. */
static void emitter_dispose(void *arg)
{
    Emitter *em = arg;
    if (em->b)
        LLVMDisposeBuilder(em->b);
    if (em->entry_b)
        LLVMDisposeBuilder(em->entry_b);
    if (em->tiles.coord_b)
        LLVMDisposeBuilder(em->tiles.coord_b);
    for (int i = 0; i < em->loop_builders.len; i++)
        if (em->loop_builders.data[i])
            LLVMDisposeBuilder(em->loop_builders.data[i]);
    lineinfo_dispose(em);
    if (em->mod)
        LLVMDisposeModule(em->mod);
    if (em->ctx)
        LLVMContextDispose(em->ctx);
    arena_free(&em->arena);
    free(em);
}

/* A copy of a string LLVM made, which is disposed of either way. */
static char *take_llvm_string(char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    LLVMDisposeMessage(s);
    if (!copy)
        oom_fail(n);
    return copy;
}

/* The tensor maps the passes asked for (TirFunc.tma) must be encodable and
 * fit the parameter list; a failure is a compiler bug, reported at the
 * kernel. */
static bool check_tma_requests(TirFunc *f, const CodegenOptions *opts, Diag *diag)
{
    bool ok = true;
    for (int r = 0; r < f->tma.len; r++) {
        const TmaRequest *q = &f->tma.data[r];
        StrBuf why;
        sb_init(&why);
        bool unaligned = !opts->assume_aligned || (q->param < 64 && (opts->unaligned_params >> q->param & 1));
        if (abi_tma_request_ok(f, q, &why) && unaligned)
            sb_printf(&why, "tensor map request for '%s', which this variant accesses element by element",
                      f->params.data[q->param].name);
        if (why.len) {
            diag_error(diag, f->pos, "internal error in kernel '%s': %s", f->name, why.data);
            ok = false;
        }
        sb_free(&why);
    }
    int slots = abi_slots(f, NULL, 0);
    if (ok && slots > CODEGEN_MAX_PARAM_SLOTS) {
        diag_error(diag, f->pos, "kernel '%s' takes %d parameter values with its tensor maps; at most %d can be passed",
                   f->name, slots, CODEGEN_MAX_PARAM_SLOTS);
        ok = false;
    }
    return ok;
}

bool codegen_emit(TirFunc *f, const Target *t, const CodegenOptions *opts, bool want_llvm, CodegenResult *out,
                  Diag *diag)
{
    memset(out, 0, sizeof *out);
    tsr_assert(f->laid_out);
    Emitter *em = tsr_xcalloc(1, sizeof *em);
    int slot = oom_defer(emitter_dispose, em);
    em->f = f;
    em->opts = opts;
    em->target = t;
    em->diag = diag;
    arena_init(&em->arena);
    em->threads = 32 * f->warps;
    if (t->emit->prepare)
        t->emit->prepare(em);
    if (!check_tma_requests(f, opts, diag) || !codegen_check_smem(f, t, diag)) {
        oom_undefer(slot);
        emitter_dispose(em);
        return false;
    }
    em->ctx = LLVMContextCreate();
    em->mod = LLVMModuleCreateWithNameInContext(f->name, em->ctx);
    ptx_prepare_module(em->mod, t);
    em->b = LLVMCreateBuilderInContext(em->ctx);
    init_types(em);
    em->vals = arena_alloc(&em->arena, sizeof(EVal) * (size_t)f->vals.len);
    em_find_fma_operands(em);
    em_plan_write_order(em);
    build_frame(em);
    if (t->emit->begin)
        t->emit->begin(em);
    lineinfo_begin(em);
    em_tiles_begin(em);
    emit_block(em, f->body);
    em_tiles_end(em, true);
    if (opts->persistent && t->emit->end && !em->failed)
        t->emit->end(em);
    bool ok = !em->failed;
    if (ok) {
        LLVMBuildRetVoid(em->b);
        mark_kernel(em, f->smem_bytes);
        lineinfo_end(em);
        char *msg = NULL;
        if (LLVMVerifyModule(em->mod, LLVMReturnStatusAction, &msg)) {
            char *ir = LLVMPrintModuleToString(em->mod);
            fprintf(stderr, "%s\n", ir);
            LLVMDisposeMessage(ir);
            tsr_die("generated LLVM IR for %s is invalid: %s", f->name, msg);
        }
        LLVMDisposeMessage(msg);
        if (want_llvm)
            out->llvm_ir = take_llvm_string(LLVMPrintModuleToString(em->mod));
        StrBuf err;
        sb_init(&err);
        char *ptx = NULL;
        if (!ptx_emit(em->mod, t, &ptx, &err))
            tsr_die("NVPTX backend failed for %s: %s", f->name, err.data ? err.data : "");
        sb_free(&err);
        int ptx_slot = oom_defer_free(ptx);
        out->kernel_name = tsr_xstrdup(f->name);
        out->smem_bytes = f->smem_bytes;
        out->threads = em->threads;
        out->persistent = opts->persistent;
        if (f->tma.len) {
            out->ntma = f->tma.len;
            out->tma = tsr_xmalloc(sizeof *out->tma * (size_t)f->tma.len);
            memcpy(out->tma, f->tma.data, sizeof *out->tma * (size_t)f->tma.len);
        }
        /* What a launch needs, for readers of the PTX. A text that could
         * not grow is reported by the stage's guard. */
        StrBuf text;
        sb_init(&text);
        sb_printf(&text, "// tessera %s: kernel %s, %d threads per block, %zu bytes of dynamic shared memory\n",
                  TESSERA_VERSION_STRING, f->name, out->threads, out->smem_bytes);
        sb_puts(&text, ptx);
        oom_free(ptx_slot, ptx);
        out->ptx = sb_take(&text);
    }
    oom_undefer(slot);
    emitter_dispose(em);
    return ok;
}

void codegen_result_free(CodegenResult *r)
{
    free(r->ptx);
    free(r->llvm_ir);
    free(r->kernel_name);
    free(r->tma);
    memset(r, 0, sizeof *r);
}
