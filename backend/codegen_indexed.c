/* Gathers, scatters and atomics: tensor accesses whose coordinates are
 * tiles (ir/tir.h, GATHER and SCATTER). Each element this thread holds is
 * read or written on its own, through predicated PTX, at the coordinates in
 * the matching registers of the coordinate tiles (all in the elements'
 * layout); an element outside the tensor, or masked off, is never touched.
 * Atomics are `red` instructions: f32, f16 (and bf16 on sm_90) add, integer
 * add, max and min, and f32 max and min through the integer ones (the order
 * of f32 bit patterns, dsl/README.md §8.3); half-precision adds of adjacent
 * elements go in pairs (f16x2, bf16x2). */
#include "codegen_internal.h"

LLVMValueRef em_reg(Emitter *em, ValId a, int r)
{
    EVal *x = em_val(em, a);
    return x->e[x->n > 1 ? r : 0];
}

/* Address and in-bounds predicate (i1) of element r of a gather or scatter. */
static void indexed_address(Emitter *em, const TirInst *in, int r, LLVMValueRef *ptr, LLVMValueRef *ok)
{
    LLVMBuilderRef b = em->b;
    const TirParam *p = &em->f->params.data[in->param];
    LLVMValueRef off = em_i64(em, 0), inside = NULL;
    for (int d = 0; d < p->rank; d++) {
        LLVMValueRef idx = em_reg(em, in->args[d], r);
        LLVMValueRef c = LLVMBuildICmp(b, LLVMIntULT, idx, dim_size(em, p, d), "");
        inside = inside ? LLVMBuildAnd(b, inside, c, "") : c;
        LLVMValueRef wide = LLVMBuildSExt(b, idx, em->t_i64, "");
        if (d != p->rank - 1)
            wide = LLVMBuildMul(b, wide, em->param_stride[in->param][d], "");
        off = LLVMBuildAdd(b, off, wide, "");
    }
    *ptr = LLVMBuildGEP2(b, em_elem_type(em, p->dt), em->param_ptr[in->param], &off, 1, "");
    *ok = inside;
}

static int words_of(int bytes) { return bytes == 8 ? 2 : 1; }

void em_gather(Emitter *em, const TirInst *in)
{
    ValId res = in->res[0];
    DType dt = tir_type(em->f, res).dt;
    int n = layout_nregs(em_layout(em, res)), bytes = dtype_size(dt);
    EVal r = em_new_val(em, n);
    for (int g = 0; g < n; g++) {
        LLVMValueRef ptr, ok;
        indexed_address(em, in, g, &ptr, &ok);
        unpack_words(em, dt, predicated_load(em, ptr, ok, bytes), words_of(bytes), 1, r.e + g);
    }
    em->vals[res] = r;
}

/* The PTX type suffix of an atomic on dtype dt. */
static const char *atomic_type(ScatterKind kind, DType dt)
{
    switch (dt) {
    case DT_F32: return kind == SCATTER_ADD ? "f32" : "s32";
    case DT_F16: return "noftz.f16";
    case DT_BF16: return "noftz.bf16";
    case DT_I32: return kind == SCATTER_ADD ? "u32" : "s32";
    case DT_U32: return "u32";
    case DT_I64: return kind == SCATTER_ADD ? "u64" : "s64";
    default: tsr_die("codegen: atomic on %s", dtype_name(dt));
    }
}

/* `red` of x at ptr when ok. f32 max and min take the bits: a value with the
 * sign bit clear goes by a signed max (min), one with it set by an unsigned
 * min (max), which together follow the float order. */
static void emit_red(Emitter *em, ScatterKind kind, DType dt, LLVMValueRef ptr, LLVMValueRef ok, LLVMValueRef x)
{
    static const char *const ops[] = { "", "add", "max", "min" };
    LLVMValueRef v = x;
    if (dt == DT_F16 || dt == DT_BF16 || (dt == DT_F32 && kind != SCATTER_ADD))
        v = LLVMBuildBitCast(em->b, x, dt == DT_F32 ? em->t_i32 : em->t_i16, "");
    InlinePtx a;
    ptx_begin(&a, em, PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY);
    int pp = ptx_in(&a, ptr), pv = ptx_in(&a, v), pred = ptx_in(&a, LLVMBuildZExt(em->b, ok, em->t_i32, ""));
    ptx_text(&a, "{ .reg .pred p; setp.ne.b32 p, $%d, 0; ", pred);
    if (dt == DT_F32 && kind != SCATTER_ADD) {
        const char *other = kind == SCATTER_MAX ? "min" : "max";
        ptx_text(&a, ".reg .pred n, q; setp.lt.s32 n, $%d, 0; and.pred q, p, n; and.pred p, p, !n; ", pv);
        ptx_text(&a, "@p red.global.%s.s32 [$%d], $%d; @q red.global.%s.u32 [$%d], $%d; }", ops[kind], pp, pv,
                 other, pp, pv);
    } else {
        ptx_text(&a, "@p red.global.%s.%s [$%d], $%d; }", ops[kind], atomic_type(kind, dt), pp, pv);
    }
    ptx_call(&a);
}

/* An f16 (or bf16) atomic add of registers x0, x1 at p0, p1: one packed
 * red.add.noftz.f16x2 when both are to be added, p1 is the element after
 * p0 and p0 is 4-byte aligned (as for consecutive elements of a row, which
 * the caller's layout makes likely; index tiles may say otherwise), else
 * one red per element. Each half rounds on its own either way. */
static void emit_red_pair(Emitter *em, DType dt, LLVMValueRef p0, LLVMValueRef p1, LLVMValueRef ok0, LLVMValueRef ok1,
                          LLVMValueRef x0, LLVMValueRef x1)
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef a0 = LLVMBuildPtrToInt(b, p0, em->t_i64, ""), a1 = LLVMBuildPtrToInt(b, p1, em->t_i64, "");
    LLVMValueRef next = LLVMBuildICmp(b, LLVMIntEQ, a1, LLVMBuildAdd(b, a0, em_i64(em, 2), ""), "");
    LLVMValueRef aligned = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, a0, em_i64(em, 3), ""), em_i64(em, 0), "");
    LLVMValueRef pair = LLVMBuildAnd(b, LLVMBuildAnd(b, next, aligned, ""), LLVMBuildAnd(b, ok0, ok1, ""), "");
    LLVMValueRef single0 = LLVMBuildAnd(b, ok0, LLVMBuildNot(b, pair, ""), "");
    LLVMValueRef single1 = LLVMBuildAnd(b, ok1, LLVMBuildNot(b, pair, ""), "");
    LLVMValueRef h0 = LLVMBuildBitCast(b, x0, em->t_i16, ""), h1 = LLVMBuildBitCast(b, x1, em->t_i16, "");
    LLVMValueRef packed = LLVMBuildOr(b, LLVMBuildZExt(b, h0, em->t_i32, ""),
                                      LLVMBuildShl(b, LLVMBuildZExt(b, h1, em->t_i32, ""), em_i32(em, 16), ""), "");
    const char *ty = dt == DT_BF16 ? "bf16" : "f16";
    InlinePtx a;
    ptx_begin(&a, em, PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY);
    int pp0 = ptx_in(&a, p0), pp1 = ptx_in(&a, p1), pv = ptx_in(&a, packed), pv0 = ptx_in(&a, h0), pv1 = ptx_in(&a, h1);
    int pq = ptx_in(&a, LLVMBuildZExt(b, pair, em->t_i32, ""));
    int ps0 = ptx_in(&a, LLVMBuildZExt(b, single0, em->t_i32, "")), ps1 = ptx_in(&a, LLVMBuildZExt(b, single1, em->t_i32, ""));
    ptx_text(&a, "{ .reg .pred q, s0, s1; setp.ne.b32 q, $%d, 0; setp.ne.b32 s0, $%d, 0; setp.ne.b32 s1, $%d, 0; ", pq,
             ps0, ps1);
    ptx_text(&a, "@q red.global.add.noftz.%sx2 [$%d], $%d; @s0 red.global.add.noftz.%s [$%d], $%d; "
                 "@s1 red.global.add.noftz.%s [$%d], $%d; }",
             ty, pp0, pv, ty, pp0, pv0, ty, pp1, pv1);
    ptx_call(&a);
}

void em_scatter(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    const TirParam *p = &f->params.data[in->param];
    ValId v = in->args[in->nargs - 1], mask = in->args[p->rank];
    TType t = tir_type(f, v);
    const Layout *l = t.rank ? em_layout(em, v) : NULL;
    int n = l ? layout_nregs(l) : 1, bytes = dtype_size(t.dt);
    if (in->kind == SCATTER_ADD && t.dt == DT_BF16 && em->target->sm < 90) {
        em_error(em, in->pos, "an atomic add on bf16 needs sm_90 or later (red.add.noftz.bf16); this target is "
                 "sm_%d: add in f32 instead", em->target->sm);
        return;
    }
    /* Replicas do not store; a scalar is stored by thread 0 alone. */
    LLVMValueRef owner = l ? em_owner_mask(em, l) : LLVMBuildICmp(em->b, LLVMIntEQ, em->tid, em_i32(em, 0), "");
    /* half-precision adds of consecutive registers go in pairs */
    bool pairs = in->kind == SCATTER_ADD && (t.dt == DT_F16 || t.dt == DT_BF16) && l && layout_contig_regs(l) >= 2;
    LLVMValueRef pend_ptr = NULL, pend_ok = NULL;
    for (int g = 0; g < n; g++) {
        LLVMValueRef ptr, ok, x = em_reg(em, v, g);
        indexed_address(em, in, g, &ptr, &ok);
        ok = LLVMBuildAnd(em->b, ok, em_reg(em, mask, g), "");
        if (owner)
            ok = LLVMBuildAnd(em->b, ok, owner, "");
        if (pairs && g % 2 == 0) {
            pend_ptr = ptr;
            pend_ok = ok;
            continue;
        }
        if (pairs) {
            emit_red_pair(em, t.dt, pend_ptr, ptr, pend_ok, ok, em_reg(em, v, g - 1), x);
            continue;
        }
        if (in->kind != SCATTER_STORE) {
            emit_red(em, (ScatterKind)in->kind, t.dt, ptr, ok, x);
            continue;
        }
        LLVMValueRef w[2];
        pack_words(em, t.dt, &x, words_of(bytes), 1, w);
        predicated_store(em, ptr, ok, w, bytes);
    }
}
