/* Dots: those the target runs on the tensor cores go to its emitter
 * (TargetEmit.dot); the others become f32 fused multiply-adds here, each
 * thread computing its own result elements from operand rows and columns
 * it holds whole (layout_fma_acc, layout_fma_operand). */
#include "codegen_internal.h"
#include "oom.h"

#include <stdlib.h>
#include <string.h>

/* An operand of a dot on the CUDA cores, as f32: its registers, or (when the
 * operand is a shared tile the dot reads itself) elements loaded at first
 * use, which is the k-step that needs them. */
typedef struct {
    ValId v;
    DType dt;
    bool deferred, widen;
    LLVMValueRef *f32;
} FmaOperand;

static FmaOperand fma_operand(Emitter *em, ValId v)
{
    int n = layout_nregs(em_layout(em, v));
    DType dt = tir_type(em->f, v).dt;
    FmaOperand o = { v, dt, em_is_deferred_operand(em, v), dt != DT_F32,
                     arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)n) };
    memset(o.f32, 0, sizeof(LLVMValueRef) * (size_t)n);
    return o;
}

static LLVMValueRef fma_elem(Emitter *em, FmaOperand *o, int r)
{
    if (!o->f32[r]) {
        LLVMValueRef x = o->deferred ? em_load_operand(em, o->v, r) : em_val(em, o->v)->e[r];
        if (dtype_is_fp8(o->dt)) /* exact, by cvt (sm_89+; dot_fma checked) */
            em_fp8_cast(em, &x, 1, o->dt, DT_F32, &o->f32[r]);
        else
            o->f32[r] = o->widen ? LLVMBuildFPExt(em->b, x, em->t_f32, "") : x;
    }
    return o->f32[r];
}

/* fp8 operands are widened by cvt, which sm_89 brought; below it such a dot
 * is an error at its position, with a zero result to carry on with. */
static bool fp8_dot_supported(Emitter *em, const TirInst *in)
{
    DType a = tir_type(em->f, in->args[0]).dt, b = tir_type(em->f, in->args[1]).dt;
    if (!dtype_is_fp8(a) || em->target->sm >= 89)
        return true;
    em_error(em, in->pos, "a 'dot' of %s and %s tiles needs sm_89 or later (fp8 conversions and tensor cores); this "
             "target is sm_%d: convert the operands to f16 or bf16 first", dtype_name(a), dtype_name(b),
             em->target->sm);
    EVal r = em_new_val(em, layout_nregs(em_layout(em, in->res[0])));
    for (int i = 0; i < r.n; i++)
        r.e[i] = LLVMConstReal(em->t_f32, 0.0);
    em->vals[in->res[0]] = r;
    return false;
}

/* c[i][j] += a[i][k] * b[k][j] for k = 0, 1, ..., K-1, in f32, one fma each
 * (the order the interpreter sums in). fp8 operands take this path where
 * the target's tensor cores do not take the dot (sm_90, shapes that fit
 * neither mma.sync m16n8k32 nor wgmma k32); their products are exact in
 * f32. */
static void dot_fma(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    if (!fp8_dot_supported(em, in))
        return;
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
    Arena *scratch = oom_arena_open();
    int *dot_uses = arena_alloc(scratch, n * sizeof(int)), *other_uses = arena_alloc(scratch, n * sizeof(int));
    em->fma_operand_only = arena_alloc(&em->arena, sizeof(bool) * n);
    for (BlockId bl = 0; bl < f->blocks.len; bl++) {
        TirBlock *blk = tir_block(f, bl);
        for (int i = 0; i < blk->insts.len; i++) {
            const TirInst *in = tir_inst(f, blk->insts.data[i]);
            bool fma_dot = in->op == TIR_DOT && !dot_on_tensor_cores(em->target, f, in);
            for (int k = 0; k < in->nargs; k++)
                (fma_dot && k < 2 ? dot_uses : other_uses)[in->args[k]]++;
        }
    }
    for (int v = 0; v < f->vals.len; v++)
        em->fma_operand_only[v] = dot_uses[v] > 0 && other_uses[v] == 0;
    oom_arena_close(scratch);
}


/* Where operand `which` of a dot reads value v from: laid out, the shared
 * tile a conversion reads; before the layout pass, a loaded tile (through
 * transposes) as the pass stages it when the target takes it (Target.
 * operand_smem_layout), else registers. */
static DotOperandSource operand_source(const Target *t, TirFunc *f, ValId v, int which)
{
    InstId def = tir_val(f, v)->def;
    if (tir_val(f, v)->layout != TIR_NONE) {
        if (def != TIR_NONE && tir_inst(f, def)->op == TIR_CONVERT)
            v = tir_inst(f, def)->args[0];
        return dot_operand_source(tir_layout(f, v), which);
    }
    bool flipped = false;
    while (def != TIR_NONE && tir_inst(f, def)->op == TIR_TRANSPOSE) {
        flipped = !flipped;
        def = tir_val(f, tir_inst(f, def)->args[0])->def;
    }
    if (def == TIR_NONE || tir_inst(f, def)->op != TIR_LOAD)
        return DOT_FROM_REGS;
    TType tt = tir_type(f, tir_inst(f, def)->res[0]);
    Layout s;
    bool k_major = flipped == (which == 1);
    if (tt.rank != 2 || !t->operand_smem_layout(t, tt.shape[0], tt.shape[1], dtype_size(tt.dt), k_major, &s))
        return DOT_FROM_REGS;
    return k_major ? DOT_FROM_SMEM_K : DOT_FROM_SMEM_MN;
}

bool dot_on_tensor_cores(const Target *t, TirFunc *f, const TirInst *dot)
{
    TType ta = tir_type(f, dot->args[0]), tb = tir_type(f, dot->args[1]);
    DotPlan plan;
    DotOperandSource src[2] = { operand_source(t, f, dot->args[0], 0), operand_source(t, f, dot->args[1], 1) };
    t->plan_dot(t, ta.dt, ta.shape[0], tb.shape[1], ta.shape[1], f->warps, src, &plan);
    return plan.tensor_cores;
}

void em_dot(Emitter *em, const TirInst *in)
{
    if (dot_on_tensor_cores(em->target, em->f, in))
        em->target->emit->dot(em, in);
    else
        dot_fma(em, in);
}
