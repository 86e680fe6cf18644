/* Dots on the tensor cores: a dot of [M,K] by [K,N] becomes, per warp, a
 * grid of m16n8k16 mma.sync instructions over the fragments the layout pass
 * put the operands in (layout_mma_a/_b), accumulating in f32 (layout_mma_acc).
 * The dots they cannot run (layout_mma_fits) become f32 fused multiply-adds,
 * each thread computing its own result elements from operand rows and
 * columns it holds whole (layout_fma_acc, layout_fma_operand). */
#include "codegen_internal.h"

#include <stdlib.h>
#include <string.h>

/* The vector that lo and hi are elements 0 and 1 of, if they are. */
static LLVMValueRef pair_source(LLVMValueRef lo, LLVMValueRef hi)
{
    if (!LLVMIsAExtractElementInst(lo) || !LLVMIsAExtractElementInst(hi))
        return NULL;
    LLVMValueRef v = LLVMGetOperand(lo, 0), i0 = LLVMGetOperand(lo, 1), i1 = LLVMGetOperand(hi, 1);
    if (LLVMGetOperand(hi, 0) != v || LLVMGetVectorSize(LLVMTypeOf(v)) != 2 || !LLVMIsAConstantInt(i0) ||
        !LLVMIsAConstantInt(i1) || LLVMConstIntGetZExtValue(i0) != 0 || LLVMConstIntGetZExtValue(i1) != 1)
        return NULL;
    return v;
}

/* Packs two 16-bit elements into the 32-bit register mma.sync takes. Pairs
 * that ldmatrix delivered together are passed on as they came, rather than
 * taken apart and put back together (which LLVM would fold, at a cost in
 * compile time). */
static LLVMValueRef pack2(Emitter *em, DType dt, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMValueRef v = pair_source(lo, hi);
    if (!v) {
        v = LLVMGetUndef(LLVMVectorType(em_elem_type(em, dt), 2));
        v = LLVMBuildInsertElement(em->b, v, lo, em_i32(em, 0), "");
        v = LLVMBuildInsertElement(em->b, v, hi, em_i32(em, 1), "");
    }
    return dt == DT_BF16 ? LLVMBuildBitCast(em->b, v, em->t_i32, "") : v;
}

/* Operand registers: already emitted, or read from shared memory per k-step. */
typedef struct {
    ValId v;
    bool deferred;
    LLVMValueRef *regs;
} Operand;

static Operand operand(Emitter *em, ValId v)
{
    Operand o = { v, em_is_deferred_fragment(em, v), NULL };
    if (o.deferred)
        o.regs = arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)layout_nregs(em_layout(em, v)));
    else
        o.regs = em_val(em, v)->e;
    return o;
}

/* Reads the register pairs starting at the given coordinates (deferred
 * operands only). */
static void fetch(Emitter *em, Operand *o, int coords[][2], int n)
{
    if (!o->deferred)
        return;
    int pairs[8];
    for (int k = 0; k < n; k++)
        pairs[k] = layout_reg_of(em_layout(em, o->v), coords[k]) / 2;
    em_load_fragments(em, o->v, pairs, n, o->regs);
}

/* An operand of a dot on the CUDA cores, as f32: its registers, or (when the
 * operand is a shared tile the dot reads itself) elements loaded at first
 * use, which is the k-step that needs them. */
typedef struct {
    ValId v;
    bool deferred, widen;
    LLVMValueRef *f32;
} FmaOperand;

static FmaOperand fma_operand(Emitter *em, ValId v)
{
    int n = layout_nregs(em_layout(em, v));
    FmaOperand o = { v, em_is_deferred_operand(em, v), tir_type(em->f, v).dt != DT_F32,
                     arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)n) };
    memset(o.f32, 0, sizeof(LLVMValueRef) * (size_t)n);
    return o;
}

static LLVMValueRef fma_elem(Emitter *em, FmaOperand *o, int r)
{
    if (!o->f32[r]) {
        LLVMValueRef x = o->deferred ? em_load_operand(em, o->v, r) : em_val(em, o->v)->e[r];
        o->f32[r] = o->widen ? LLVMBuildFPExt(em->b, x, em->t_f32, "") : x;
    }
    return o->f32[r];
}

/* c[i][j] += a[i][k] * b[k][j] for k = 0, 1, ..., K-1, in f32, one fma each
 * (the order the interpreter sums in). */
static void dot_fma(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    int K = tir_type(f, in->args[0]).shape[1];
    const Layout *la = em_layout(em, in->args[0]), *lb = em_layout(em, in->args[1]),
                 *lc = em_layout(em, in->res[0]);
    FmaOperand a = fma_operand(em, in->args[0]), b = fma_operand(em, in->args[1]);
    EVal *acc = in->nargs == 3 ? em_val(em, in->args[2]) : NULL;
    static const char *const fma[] = { "llvm.fma", NULL };
    EVal r = em_new_val(em, layout_nregs(lc));
    int(*c)[2] = arena_alloc(&em->arena, sizeof(int[2]) * (size_t)r.n);
    for (int i = 0; i < r.n; i++) {
        layout_coord_of_reg(lc, i, c[i]);
        r.e[i] = acc ? acc->e[i] : LLVMConstReal(em->t_f32, 0.0);
    }
    /* k outermost: step k needs only column k of A and row k of B. */
    for (int k = 0; k < K; k++)
        for (int i = 0; i < r.n; i++) {
            int ca[2] = { c[i][0], k }, cb[2] = { k, c[i][1] };
            LLVMValueRef args[3] = { fma_elem(em, &a, layout_reg_of(la, ca)), fma_elem(em, &b, layout_reg_of(lb, cb)),
                                     r.e[i] };
            r.e[i] = em_call_intrinsic(em, fma, &em->t_f32, 1, args, 3);
        }
    em->vals[in->res[0]] = r;
}

void em_find_fma_operands(Emitter *em)
{
    TirFunc *f = em->f;
    size_t n = (size_t)f->vals.len + 1;
    int *dot_uses = tsr_xcalloc(n, sizeof(int)), *other_uses = tsr_xcalloc(n, sizeof(int));
    em->fma_operand_only = arena_alloc(&em->arena, sizeof(bool) * n);
    for (BlockId bl = 0; bl < f->blocks.len; bl++) {
        TirBlock *blk = tir_block(f, bl);
        for (int i = 0; i < blk->insts.len; i++) {
            const TirInst *in = tir_inst(f, blk->insts.data[i]);
            bool fma_dot = in->op == TIR_DOT && !em_dot_on_tensor_cores(f, in);
            for (int k = 0; k < in->nargs; k++)
                (fma_dot && k < 2 ? dot_uses : other_uses)[in->args[k]]++;
        }
    }
    for (int v = 0; v < f->vals.len; v++)
        em->fma_operand_only[v] = dot_uses[v] > 0 && other_uses[v] == 0;
    free(dot_uses);
    free(other_uses);
}

/* Loop order: k-steps outermost, so that only one k-slice of each operand
 * is live at a time next to the accumulators; B is read two n-tiles at a
 * time (one ldmatrix.x4). */
bool em_dot_on_tensor_cores(TirFunc *f, const TirInst *dot)
{
    TType ta = tir_type(f, dot->args[0]), tb = tir_type(f, dot->args[1]);
    return layout_mma_fits(ta.dt, ta.shape[0], tb.shape[1], ta.shape[1]);
}

void em_dot(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    TType ta = tir_type(f, in->args[0]), tb = tir_type(f, in->args[1]);
    int M = ta.shape[0], K = ta.shape[1], N = tb.shape[1], wm, wn;
    if (!em_dot_on_tensor_cores(f, in)) {
        dot_fma(em, in);
        return;
    }
    layout_mma_warps(M, N, f->warps, &wm, &wn);
    const Layout *la = em_layout(em, in->args[0]), *lb = em_layout(em, in->args[1]),
                 *lc = em_layout(em, in->res[0]);
    Operand a = operand(em, in->args[0]), b = operand(em, in->args[1]);
    int mt = M / (16 * wm), nt = N / (8 * wn);
    EVal r = em_new_val(em, layout_nregs(lc));
    LLVMValueRef zero = LLVMConstReal(em->t_f32, 0.0);
    EVal *acc = in->nargs == 3 ? em_val(em, in->args[2]) : NULL; /* accumulate into acc */
    for (int i = 0; i < r.n; i++)
        r.e[i] = acc ? acc->e[i] : zero;
    LLVMValueRef *apack = arena_alloc(&em->arena, sizeof(LLVMValueRef) * 4 * (size_t)mt);
    for (int ki = 0; ki < K / 16; ki++) {
        for (int mi = 0; mi < mt; mi++) {
            int c[4][2];
            for (int q = 0; q < 4; q++) {
                c[q][0] = mi * 16 * wm + (q & 1) * 8;
                c[q][1] = ki * 16 + (q >> 1) * 8;
            }
            fetch(em, &a, c, 4);
            for (int q = 0; q < 4; q++) { /* packed once per k-step, used by every n-tile */
                int lo[2] = { c[q][0], c[q][1] }, hi[2] = { lo[0], lo[1] + 1 };
                apack[4 * mi + q] = pack2(em, ta.dt, a.regs[layout_reg_of(la, lo)], a.regs[layout_reg_of(la, hi)]);
            }
        }
        for (int n0 = 0; n0 < nt; n0 += 2) {
            int cnt = nt - n0 >= 2 ? 2 : 1, c[4][2], k = 0;
            for (int ni = n0; ni < n0 + cnt; ni++)
                for (int q = 0; q < 2; q++) {
                    c[k][0] = ki * 16 + q * 8;
                    c[k][1] = ni * 8 * wn;
                    k++;
                }
            fetch(em, &b, c, k);
            for (int ni = n0; ni < n0 + cnt; ni++)
                for (int mi = 0; mi < mt; mi++) {
                    LLVMValueRef *af = apack + 4 * mi, bf[2], cc[4], d[4];
                    for (int q = 0; q < 2; q++) {
                        int lo[2] = { ki * 16 + q * 8, ni * 8 * wn };
                        int hi[2] = { lo[0] + 1, lo[1] };
                        bf[q] = pack2(em, ta.dt, b.regs[layout_reg_of(lb, lo)], b.regs[layout_reg_of(lb, hi)]);
                    }
                    int ci[4];
                    for (int i = 0; i < 4; i++) {
                        int coord[2] = { mi * 16 * wm + (i >> 1) * 8, ni * 8 * wn + (i & 1) };
                        ci[i] = layout_reg_of(lc, coord);
                        cc[i] = r.e[ci[i]];
                    }
                    em->target->mma_16816(em, ta.dt, af, bf, cc, d);
                    for (int i = 0; i < 4; i++)
                        r.e[ci[i]] = d[i];
                }
        }
    }
    em->vals[in->res[0]] = r;
}
