/* Dots on the tensor cores: a dot of [M,K] by [K,N] becomes, per warp, a
 * grid of m16n8k16 mma.sync instructions over the fragments the layout pass
 * put the operands in (layout_mma_a/_b), accumulating in f32 (layout_mma_acc). */
#include "codegen_internal.h"

/* Packs two 16-bit elements into the 32-bit register mma.sync takes. */
static LLVMValueRef pack2(Emitter *em, DType dt, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMTypeRef et = em_elem_type(em, dt);
    LLVMValueRef v = LLVMGetUndef(LLVMVectorType(et, 2));
    v = LLVMBuildInsertElement(em->b, v, lo, em_i32(em, 0), "");
    v = LLVMBuildInsertElement(em->b, v, hi, em_i32(em, 1), "");
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

/* Loop order: k-steps outermost, so that only one k-slice of each operand
 * is live at a time next to the accumulators; B is read two n-tiles at a
 * time (one ldmatrix.x4). */
void em_dot(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    TType ta = tir_type(f, in->args[0]), tb = tir_type(f, in->args[1]);
    int M = ta.shape[0], K = ta.shape[1], N = tb.shape[1], wm, wn;
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
    for (int ki = 0; ki < K / 16; ki++) {
        for (int mi = 0; mi < mt; mi++) {
            int c[4][2];
            for (int q = 0; q < 4; q++) {
                c[q][0] = mi * 16 * wm + (q & 1) * 8;
                c[q][1] = ki * 16 + (q >> 1) * 8;
            }
            fetch(em, &a, c, 4);
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
                    LLVMValueRef af[4], bf[2], cc[4], d[4];
                    for (int q = 0; q < 4; q++) {
                        int lo[2] = { mi * 16 * wm + (q & 1) * 8, ki * 16 + (q >> 1) * 8 };
                        int hi[2] = { lo[0], lo[1] + 1 };
                        af[q] = pack2(em, ta.dt, a.regs[layout_reg_of(la, lo)], a.regs[layout_reg_of(la, hi)]);
                    }
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
