/* Reductions along one axis of a tile: first over the registers of each
 * thread, then over lanes with butterfly shuffles, then over warps through
 * shared memory. f16/bf16 sums accumulate in f32, as the interpreter does. */
#include "codegen_internal.h"

static LLVMValueRef combine(Emitter *em, ReduceKind k, bool fl, LLVMValueRef x, LLVMValueRef y)
{
    LLVMBuilderRef b = em->b;
    if (k == REDUCE_SUM)
        return fl ? LLVMBuildFAdd(b, x, y, "") : LLVMBuildAdd(b, x, y, "");
    if (fl) {
        static const char *const mn[] = { "llvm.minnum", NULL }, *const mx[] = { "llvm.maxnum", NULL };
        LLVMValueRef args[2] = { x, y };
        LLVMTypeRef t = LLVMTypeOf(x);
        return em_call_intrinsic(em, k == REDUCE_MAX ? mx : mn, &t, 1, args, 2);
    }
    LLVMIntPredicate p = k == REDUCE_MAX ? LLVMIntSGT : LLVMIntSLT;
    return LLVMBuildSelect(b, LLVMBuildICmp(b, p, x, y, ""), x, y, "");
}

static LLVMValueRef shfl_bfly(Emitter *em, LLVMValueRef v, int lane_mask)
{
    static const char *const f[] = { "llvm.nvvm.shfl.sync.bfly.f32", NULL };
    static const char *const i[] = { "llvm.nvvm.shfl.sync.bfly.i32", NULL };
    bool fl = LLVMTypeOf(v) == em->t_f32;
    LLVMValueRef args[4] = { em_i32(em, -1), v, em_i32(em, lane_mask), em_i32(em, 0x1f) };
    return em_call_intrinsic(em, fl ? f : i, NULL, 0, args, 4);
}

void em_reduce(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    TType t = tir_type(f, in->args[0]), rt = tir_type(f, in->res[0]);
    const Layout *l = em_layout(em, in->args[0]);
    int axis = in->axis;
    ReduceKind kind = (ReduceKind)in->kind;
    bool fl = dtype_is_float(t.dt);
    EVal *x = em_val(em, in->args[0]);
    const Layout *rl = rt.rank ? em_layout(em, in->res[0]) : NULL;
    int nres = rl ? layout_nregs(rl) : 1;
    EVal r = em_new_val(em, nres);

    /* 1. Registers of the same result element, in order along the axis. */
    for (int rr = 0; rr < nres; rr++) {
        int rc[LAYOUT_MAX_RANK] = { 0 };
        if (rl)
            layout_coord_of_reg(rl, rr, rc);
        LLVMValueRef acc = NULL;
        for (int pos = 0; pos < layout_extent(l, axis); pos++) {
            int c[LAYOUT_MAX_RANK] = { 0 };
            for (int d = 0, j = 0; d < t.rank; d++)
                c[d] = d == axis ? pos : rc[j++];
            /* Only positions held in registers (lane/warp bits stay clear). */
            bool in_regs = true;
            for (int i = 0; i < LAYOUT_LANE_BITS; i++)
                if (l->lane[i].dim == axis && ((pos >> l->lane[i].bit) & 1))
                    in_regs = false;
            for (int i = 0; i < l->nwarp; i++)
                if (l->warp[i].dim == axis && ((pos >> l->warp[i].bit) & 1))
                    in_regs = false;
            if (layout_reg_rep(l, axis) != layout_rep(l, axis) && pos >> l->log2shape[axis])
                in_regs = false; /* the warps' high part numbers this repetition */
            if (!in_regs)
                continue;
            LLVMValueRef v = x->e[layout_reg_of(l, c)];
            if (fl && t.dt != DT_F32)
                v = LLVMBuildFPExt(em->b, v, em->t_f32, "");
            acc = acc ? combine(em, kind, fl, acc, v) : v;
        }
        r.e[rr] = acc;
    }
    /* 2. Lanes along the axis. */
    for (int i = 0; i < LAYOUT_LANE_BITS; i++)
        if (l->lane[i].dim == axis)
            for (int rr = 0; rr < nres; rr++)
                r.e[rr] = combine(em, kind, fl, r.e[rr], shfl_bfly(em, r.e[rr], 1 << i));
    /* 3. Warps along the axis, through shared memory: slot wi of the
     * scratch numbers the warp along it (its low bits along the axis, then
     * the high part when that numbers the axis's repetition). */
    int waxis[LAYOUT_MAX_WARP], nwa = 0, slots = layout_warp_slots(l, axis);
    for (int i = 0; i < l->nwarp; i++)
        if (l->warp[i].dim == axis)
            waxis[nwa++] = i;
    if (slots > 1) {
        int64_t numel = ttype_numel(rt);
        tsr_assert(in->smem >= 0);
        LLVMBuilderRef b = em->b;
        LLVMValueRef wi = em_i32(em, 0);
        for (int j = 0; j < nwa; j++) {
            LLVMValueRef bitv = LLVMBuildAnd(b, LLVMBuildLShr(b, em->warp, em_i32(em, waxis[j]), ""), em_i32(em, 1), "");
            wi = LLVMBuildOr(b, wi, LLVMBuildShl(b, bitv, em_i32(em, j), ""), "");
        }
        if (slots >> nwa > 1) {
            LLVMValueRef q = LLVMBuildLShr(b, em->warp, em_i32(em, l->nwarp), "");
            wi = LLVMBuildOr(b, wi, LLVMBuildShl(b, q, em_i32(em, nwa), ""), "");
        }
        /* Writers: one thread per (warp along the axis, result element). */
        unsigned lanes = 0, warps = layout_warp_owner_mask(l);
        for (int i = 0; i < LAYOUT_LANE_BITS; i++)
            if (l->lane[i].dim == axis || l->lane[i].dim < 0)
                lanes |= 1u << i;
        LLVMValueRef writer = LLVMBuildAnd(
            b, LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, em->lane, em_i32(em, lanes), ""), em_i32(em, 0), ""),
            LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, em->warp, em_i32(em, warps), ""), em_i32(em, 0), ""), "");
        LLVMTypeRef st = fl ? em->t_f32 : em->t_i32;
        LLVMValueRef *slot = arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)nres);
        for (int rr = 0; rr < nres; rr++)
            slot[rr] = rl ? em_coord(em, in->res[0], rr, 0) : em_i32(em, 0);
        em_barrier(em);
        LLVMBasicBlockRef wr = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "red.write");
        LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "red.read");
        LLVMBuildCondBr(b, writer, wr, after);
        LLVMPositionBuilderAtEnd(b, wr);
        for (int rr = 0; rr < nres; rr++) {
            LLVMValueRef idx = LLVMBuildAdd(b, LLVMBuildMul(b, wi, em_i32(em, numel), ""), slot[rr], "");
            LLVMValueRef off = LLVMBuildAdd(b, LLVMBuildMul(b, idx, em_i32(em, 4), ""), em_i32(em, in->smem), "");
            LLVMBuildStore(b, r.e[rr], em_smem_at(em, off));
        }
        LLVMBuildBr(b, after);
        LLVMPositionBuilderAtEnd(b, after);
        em_barrier(em);
        for (int rr = 0; rr < nres; rr++) {
            LLVMValueRef acc = NULL;
            for (int w = 0; w < slots; w++) {
                LLVMValueRef idx = LLVMBuildAdd(b, em_i32(em, w * numel), slot[rr], "");
                LLVMValueRef off = LLVMBuildAdd(b, LLVMBuildMul(b, idx, em_i32(em, 4), ""), em_i32(em, in->smem), "");
                LLVMValueRef v = LLVMBuildLoad2(b, st, em_smem_at(em, off), "");
                acc = acc ? combine(em, kind, fl, acc, v) : v;
            }
            r.e[rr] = acc;
        }
    }
    if (fl && t.dt != DT_F32)
        for (int rr = 0; rr < nres; rr++)
            r.e[rr] = LLVMBuildFPTrunc(em->b, r.e[rr], em_elem_type(em, t.dt), "");
    em->vals[in->res[0]] = r;
}
