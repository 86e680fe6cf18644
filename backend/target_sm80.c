/* The mma.sync family of targets (sm_80; sm_90 and sm_90a run the same
 * instructions): dots as m16n8k16 mma.sync with f16 or bf16 inputs and f32
 * accumulation, operand fragments read from swizzled shared memory with
 * ldmatrix, and staged copies as cp.async commit groups. Its rows in the
 * target table are in target.c; the generic emitter calls in here through
 * TargetEmit. */
#include "codegen_internal.h"
#include "passes.h"
#include "target_families.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ policies */

/* f16/bf16 tiles with M and K multiples of 16 and N of 8 run on the tensor
 * cores, and so do fp8 ones with K a multiple of 32 where the target has
 * mma.sync.m16n8k32 on e4m3/e5m2 (sm_89 and PTX 8.4: the sm_89 row; sm_90
 * and sm_90a declare older PTX); the rest multiply-add in f32 on the CUDA
 * cores. */
void target_sm80_plan_dot(const Target *t, DType dt, int M, int N, int K, int warps, const DotOperandSource src[2],
                          DotPlan *plan)
{
    (void)src; /* ldmatrix (.trans) and the fragment conversions read either major */
    plan->stage_b = false;
    bool fp8 = dtype_is_fp8(dt);
    plan->tensor_cores = layout_mma_fits(dt, M, N, K) && (!fp8 || target_has_fp8_mma(t));
    if (!plan->tensor_cores) {
        plan->acc = layout_fma_acc(M, N, warps);
        dot_plan_fma_operands(plan, K);
        return;
    }
    int wm, wn;
    layout_mma_warps(M, N, warps, &wm, &wn);
    plan->acc = layout_mma_acc(M, N, warps, wm, wn);
    plan->a = fp8 ? layout_mma_a8(M, K, warps, wm, wn) : layout_mma_a(M, K, warps, wm, wn);
    plan->b = fp8 ? layout_mma_b8(K, N, warps, wm, wn) : layout_mma_b(K, N, warps, wm, wn);
}

/* Dot operands are staged in shared memory when their rows are whole
 * 16-byte chunks (what cp.async and ldmatrix move) and there are at least
 * the 8 rows of one ldmatrix block; f32 tiles too, which the CUDA cores'
 * dots read element by element. */
bool target_sm80_operand_smem_layout(const Target *t, int rows, int cols, int esize, bool k_major, Layout *out)
{
    (void)k_major;
    if ((esize != 2 && esize != 4) || cols * esize < 16 || rows < 8)
        return false;
    *out = layout_shared(rows, cols, esize, false);
    return true;
}

const Pass target_sm80_passes[] = {
    { "fuse", tir_pass_fuse },
    { "loopsplit", tir_pass_loopsplit },
    { "layout", tir_pass_layout },
    { "pipeline", tir_pass_pipeline },
    { "cse", tir_pass_cse },
    { "dce", tir_pass_dce },
    { "smem", tir_pass_smem },
    { NULL, NULL },
};

/* ------------------------------------------------------ staged copies */

/* cp.async of 16 bytes, src_size of them read (the rest zero-filled). As
 * inline PTX: LLVM 19 cannot select the intrinsic with 32-bit shared
 * pointers. */
static void cp_async16(Emitter *em, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef src_size)
{
    InlinePtx a;
    ptx_begin(&a, em, PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY);
    int d = ptx_in(&a, LLVMBuildPtrToInt(em->b, dst, em->t_i32, "")), s = ptx_in(&a, src), n = ptx_in(&a, src_size);
    ptx_text(&a, "cp.async.cg.shared.global [$%d], [$%d], 16, $%d;", d, s, n);
    ptx_call(&a);
}

static void commit_group(Emitter *em, const TirInst *in)
{
    (void)in;
    static const char *const commit[] = { "llvm.nvvm.cp.async.commit.group", NULL };
    em_call_intrinsic(em, commit, NULL, 0, NULL, 0);
}

void target_sm80_wait_copies(Emitter *em, int pending)
{
    static const char *const wait[] = { "llvm.nvvm.cp.async.wait.group", NULL };
    LLVMValueRef n = em_i32(em, pending);
    em_call_intrinsic(em, wait, NULL, 0, &n, 1);
}

static void wait_groups(Emitter *em, const TirInst *in, int pending)
{
    (void)in;
    target_sm80_wait_copies(em, pending);
    em_barrier(em);
}


/* ------------------------------------------------------------ ldmatrix */

/* ldmatrix applies when each 32-bit register pair of dst is a row of an 8x8
 * block in the pattern ldmatrix delivers: pair elements along dim a (register
 * bit 0, lane bits 0-1), block rows along dim b (lane bits 2-4). */
static bool ldmatrix_dims(const Layout *d, int *a_dim)
{
    if (d->rank != 2 || d->nreg < 1 || d->reg[0].bit != 0)
        return false;
    int a = d->reg[0].dim, b = 1 - a;
    if (d->lane[0].dim != a || d->lane[0].bit != 1 || d->lane[1].dim != a || d->lane[1].bit != 2)
        return false;
    for (int i = 0; i < 3; i++)
        if (d->lane[2 + i].dim != b || d->lane[2 + i].bit != i)
            return false;
    *a_dim = a;
    return true;
}

static LLVMValueRef select_by(Emitter *em, LLVMValueRef j, LLVMValueRef *v, int n)
{
    LLVMValueRef r = v[0];
    for (int k = 1; k < n; k++)
        r = LLVMBuildSelect(em->b, LLVMBuildICmp(em->b, LLVMIntEQ, j, em_i32(em, k), ""), v[k], r, "");
    return r;
}

/* The lane part of an ldmatrix address when the blocks of one call sit at
 * fixed offsets (drow[j] rows, dchunk[j] chunks) from block 0 and block 0
 * starts at a chunk whose low bits are `low`: for lane l (j = l / 8, i = l %
 * 8) the byte offset (drow[j] + i) * pitch + ((low + dchunk[j]) ^ phase(i)) *
 * 16. The swizzle phase depends on i only, since blocks start on multiples
 * of 8 rows; computed once, in the entry block. */
static LLVMValueRef lane_pattern(Emitter *em, const Layout *s, const int *drow, const int *dchunk, int cnt, int low)
{
    PatternCache pc = { { s->per_phase, s->max_phase, layout_shared_pitch(s), cnt, low }, NULL };
    for (int k = 0; k < cnt; k++) {
        pc.key[5 + k] = drow[k];
        pc.key[9 + k] = dchunk[k];
    }
    for (int i = 0; i < em->patterns.len; i++)
        if (memcmp(em->patterns.data[i].key, pc.key, sizeof pc.key) == 0)
            return em->patterns.data[i].value;
    LLVMBuilderRef b = em->coord_b;
    LLVMValueRef j = LLVMBuildLShr(b, em->lane, em_i32(em, 3), ""), i = LLVMBuildAnd(b, em->lane, em_i32(em, 7), "");
    if (cnt < 4)
        j = LLVMBuildAnd(b, j, em_i32(em, cnt - 1), "");
    LLVMValueRef phase = LLVMBuildURem(b, LLVMBuildUDiv(b, i, em_i32(em, s->per_phase), ""), em_i32(em, s->max_phase), "");
    LLVMValueRef row = em_i32(em, drow[0]), chunk = em_i32(em, low + dchunk[0]);
    for (int k = 1; k < cnt; k++) {
        LLVMValueRef is_k = LLVMBuildICmp(b, LLVMIntEQ, j, em_i32(em, k), "");
        row = LLVMBuildSelect(b, is_k, em_i32(em, drow[k]), row, "");
        chunk = LLVMBuildSelect(b, is_k, em_i32(em, low + dchunk[k]), chunk, "");
    }
    row = LLVMBuildAdd(b, row, i, "");
    chunk = LLVMBuildXor(b, chunk, phase, "");
    pc.value = LLVMBuildAdd(b, LLVMBuildMul(b, row, em_i32(em, layout_shared_pitch(s)), ""),
                            LLVMBuildShl(b, chunk, em_i32(em, 4), ""), "");
    vec_push(&em->arena, em->patterns, pc);
    return pc.value;
}

/* Reads register pairs of fragments (pairs[k]: registers 2*pairs[k] and
 * 2*pairs[k]+1 of dst) from a shared tile with ldmatrix: up to four 8x8
 * blocks per instruction, .trans when the pair dim runs along the stored
 * rows. */
static void read_ldmatrix(Emitter *em, ValId src, ValId dst, int a_dim, DType dt, const int *pairs, int npairs,
                          LLVMValueRef *out)
{
    const Layout *s = em_layout(em, src);
    Layout d = *em_layout(em, dst);
    int dli = tir_val(em->f, dst)->layout;
    int stored_col_dim = s->transposed ? 0 : 1;
    bool trans = a_dim != stored_col_dim;
    LLVMValueRef base = em_val(em, src)->e[0];
    LLVMBuilderRef b = em->b;
    LLVMValueRef w0 = em_warp_coord(em, dli, 0), w1 = em_warp_coord(em, dli, 1);
    LLVMTypeRef pair_t = LLVMVectorType(em_elem_type(em, dt), 2);
    /* The lane's row of its block: along b without .trans, along a with. */
    int row_dim = trans ? a_dim : 1 - a_dim;
    int srow_dim = s->transposed ? 1 : 0; /* logical dim of the stored rows */
    /* Fast addresses need the stored column free of warp bits (so the
     * chunk's low bits are known) and whole 16-byte chunks per block. */
    bool fast = s->esize == 2 && layout_shared_row_bytes(s) == layout_shared_pitch(s);
    for (int w = 0; w < d.nwarp; w++)
        if (d.warp[w].dim == 1 - srow_dim)
            fast = false;
    if (layout_wrep(&d) > 1 && d.wrep_dim == 1 - srow_dim)
        fast = false;
    int low_bits = s->max_phase == 8 ? 3 : s->max_phase == 4 ? 2 : s->max_phase == 2 ? 1 : 0;
    for (int p0 = 0; p0 < npairs;) {
        int cnt = npairs - p0 >= 4 ? 4 : npairs - p0 >= 2 ? 2 : 1;
        int coords[4][2];
        for (int k = 0; k < cnt; k++)
            layout_coord_of_reg(&d, 2 * pairs[p0 + k], coords[k]);
        LLVMValueRef ptr;
        int srow[4], schunk[4], drow[4], dchunk[4];
        for (int k = 0; k < cnt; k++) {
            srow[k] = coords[k][srow_dim];
            schunk[k] = coords[k][1 - srow_dim] * s->esize / 16;
        }
        int low = schunk[0] & ((1 << low_bits) - 1);
        bool regular = fast;
        for (int k = 0; k < cnt; k++) {
            drow[k] = srow[k] - srow[0];
            dchunk[k] = schunk[k] - schunk[0];
            if (drow[k] % 8 != 0 || low + dchunk[k] < 0 || low + dchunk[k] >= (1 << low_bits) ||
                (coords[k][1 - srow_dim] * s->esize) % 16 != 0)
                regular = false;
        }
        if (regular) {
            LLVMValueRef pat = lane_pattern(em, s, drow, dchunk, cnt, low);
            /* block 0's rows (with the warp part) and high chunk bits */
            LLVMValueRef wrow = srow_dim == 0 ? w0 : w1;
            LLVMValueRef rowoff = LLVMBuildMul(b, LLVMBuildOr(b, wrow, em_i32(em, srow[0]), ""),
                                               em_i32(em, layout_shared_pitch(s)), "");
            int hi = (schunk[0] - low) * 16;
            LLVMValueRef off = LLVMBuildAdd(b, LLVMBuildAdd(b, base, rowoff, ""), em_i32(em, hi), "");
            ptr = em_smem_at(em, LLVMBuildAdd(b, off, pat, ""));
        } else {
            LLVMValueRef j = LLVMBuildLShr(b, em->lane, em_i32(em, 3), ""), i = LLVMBuildAnd(b, em->lane, em_i32(em, 7), "");
            LLVMValueRef c0[4], c1[4];
            for (int k = 0; k < cnt; k++) {
                c0[k] = LLVMBuildOr(b, w0, em_i32(em, coords[k][0]), "");
                c1[k] = LLVMBuildOr(b, w1, em_i32(em, coords[k][1]), "");
            }
            LLVMValueRef jj = cnt == 4 ? j : LLVMBuildAnd(b, j, em_i32(em, cnt - 1), "");
            LLVMValueRef lc[2] = { select_by(em, jj, c0, cnt), select_by(em, jj, c1, cnt) };
            lc[row_dim] = LLVMBuildAdd(b, lc[row_dim], i, "");
            LLVMValueRef row, col;
            em_stored_rc(s, lc[0], lc[1], &row, &col);
            ptr = em_smem_at(em, em_shared_offset(em, s, base, row, col));
        }
        char name[64];
        snprintf(name, sizeof name, "llvm.nvvm.ldmatrix.sync.aligned.m8n8.x%d%s.b16", cnt, trans ? ".trans" : "");
        const char *names[] = { name, NULL };
        LLVMValueRef res = em_call_intrinsic(em, names, NULL, 0, &ptr, 1);
        for (int k = 0; k < cnt; k++) {
            LLVMValueRef word = cnt > 1 ? LLVMBuildExtractValue(b, res, (unsigned)k, "") : res;
            LLVMValueRef v = LLVMBuildBitCast(b, word, pair_t, "");
            out[2 * pairs[p0 + k]] = LLVMBuildExtractElement(b, v, em_i32(em, 0), "");
            out[2 * pairs[p0 + k] + 1] = LLVMBuildExtractElement(b, v, em_i32(em, 1), "");
        }
        p0 += cnt;
    }
}

static bool is_deferred_fragment(Emitter *em, ValId v)
{
    InstId def = tir_val(em->f, v)->def;
    if (def == TIR_NONE || tir_inst(em->f, def)->op != TIR_CONVERT)
        return false;
    const Layout *ls = em_layout(em, tir_inst(em->f, def)->args[0]), *ld = em_layout(em, v);
    int a_dim;
    return ls->kind == LAYOUT_SHARED && ls->esize == 2 && (ld->kind == LAYOUT_MMA_A || ld->kind == LAYOUT_MMA_B) &&
           ldmatrix_dims(ld, &a_dim);
}

static void load_fragments(Emitter *em, ValId v, const int *pairs, int npairs, LLVMValueRef *regs)
{
    const TirInst *cv = tir_inst(em->f, tir_val(em->f, v)->def);
    int a_dim;
    ldmatrix_dims(em_layout(em, v), &a_dim);
    read_ldmatrix(em, cv->args[0], v, a_dim, tir_type(em->f, v).dt, pairs, npairs, regs);
}


/* ------------------------------------------------------------ mma.sync */

static void mma_16816(Emitter *em, DType dt, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef c[4],
                      LLVMValueRef d[4])
{
    static const char *const f16[] = { "llvm.nvvm.mma.m16n8k16.row.col.f32.f32", NULL };
    static const char *const bf16[] = { "llvm.nvvm.mma.m16n8k16.row.col.bf16", NULL };
    LLVMValueRef args[10];
    for (int i = 0; i < 4; i++)
        args[i] = a[i];
    args[4] = b[0];
    args[5] = b[1];
    for (int i = 0; i < 4; i++)
        args[6 + i] = c[i];
    LLVMValueRef r = em_call_intrinsic(em, dt == DT_BF16 ? bf16 : f16, NULL, 0, args, 10);
    for (int i = 0; i < 4; i++)
        d[i] = LLVMBuildExtractValue(em->b, r, (unsigned)i, "");
}

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
    Operand o = { v, is_deferred_fragment(em, v), NULL };
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
    load_fragments(em, o->v, pairs, n, o->regs);
}

/* Four 8-bit elements (k order, the first lowest) as the b32 register of
 * an fp8 fragment. */
static LLVMValueRef pack4(Emitter *em, LLVMValueRef const e[4])
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef r = LLVMBuildZExt(b, e[0], em->t_i32, "");
    for (int i = 1; i < 4; i++)
        r = LLVMBuildOr(b, r, LLVMBuildShl(b, LLVMBuildZExt(b, e[i], em->t_i32, ""), em_i32(em, 8 * i), ""), "");
    return r;
}

/* mma.sync.m16n8k32 on fp8 fragments (sm_89): d = a b + c, in place in c.
 * A warp-wide instruction (convergent): LLVM must not sink it into a branch
 * that only some lanes take, as it did into a thread-0 store of a layout
 * conversion (tests/programs/diffgen/fp8_mma_convergent.tsr). */
static void mma_16832(Emitter *em, DType at, DType bt, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef c[4])
{
    InlinePtx p;
    ptx_begin(&p, em, PTX_CONVERGENT);
    int d[4], ai[4], bi[2];
    for (int i = 0; i < 4; i++)
        d[i] = ptx_out(&p, em->t_f32);
    for (int i = 0; i < 4; i++)
        ai[i] = ptx_in(&p, a[i]);
    for (int i = 0; i < 2; i++)
        bi[i] = ptx_in(&p, b[i]);
    for (int i = 0; i < 4; i++)
        ptx_in_tied(&p, c[i], d[i]);
    ptx_text(&p, "mma.sync.aligned.m16n8k32.row.col.f32.%s.%s.f32 {$%d, $%d, $%d, $%d}, {$%d, $%d, $%d, $%d}, "
             "{$%d, $%d}, {$%d, $%d, $%d, $%d};", dtype_name(at), dtype_name(bt), d[0], d[1], d[2], d[3], ai[0],
             ai[1], ai[2], ai[3], bi[0], bi[1], d[0], d[1], d[2], d[3]);
    LLVMValueRef r = ptx_call(&p);
    for (int i = 0; i < 4; i++)
        c[i] = LLVMBuildExtractValue(em->b, r, (unsigned)i, "");
}

/* An fp8 dot (sm_89): both operands in registers (fp8 tiles are not staged
 * in shared memory for ldmatrix yet), k-steps of 32 outermost. */
static void mma_dot_fp8(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    TType ta = tir_type(f, in->args[0]), tb = tir_type(f, in->args[1]);
    int M = ta.shape[0], K = ta.shape[1], N = tb.shape[1], wm, wn;
    layout_mma_warps(M, N, f->warps, &wm, &wn);
    const Layout *la = em_layout(em, in->args[0]), *lb = em_layout(em, in->args[1]),
                 *lc = em_layout(em, in->res[0]);
    LLVMValueRef *av = em_val(em, in->args[0])->e, *bv = em_val(em, in->args[1])->e;
    int mt = M / (16 * wm), nt = N / (8 * wn);
    EVal r = em_new_val(em, layout_nregs(lc));
    EVal *acc = in->nargs == 3 ? em_val(em, in->args[2]) : NULL;
    for (int i = 0; i < r.n; i++)
        r.e[i] = acc ? acc->e[i] : LLVMConstReal(em->t_f32, 0.0);
    LLVMValueRef *apack = arena_alloc(&em->arena, sizeof(LLVMValueRef) * 4 * (size_t)mt);
    for (int ki = 0; ki < K / 32; ki++) {
        for (int mi = 0; mi < mt; mi++)
            for (int q = 0; q < 4; q++) { /* rows g, g+8; k 4t.., 4t+16.. */
                LLVMValueRef e[4];
                for (int x = 0; x < 4; x++) {
                    int c[2] = { mi * 16 * wm + (q & 1) * 8, ki * 32 + (q >> 1) * 16 + x };
                    e[x] = av[layout_reg_of(la, c)];
                }
                apack[4 * mi + q] = pack4(em, e);
            }
        for (int ni = 0; ni < nt; ni++) {
            LLVMValueRef bf[2];
            for (int q = 0; q < 2; q++) {
                LLVMValueRef e[4];
                for (int x = 0; x < 4; x++) {
                    int c[2] = { ki * 32 + q * 16 + x, ni * 8 * wn };
                    e[x] = bv[layout_reg_of(lb, c)];
                }
                bf[q] = pack4(em, e);
            }
            for (int mi = 0; mi < mt; mi++) {
                LLVMValueRef cc[4];
                int ci[4];
                for (int i = 0; i < 4; i++) {
                    int coord[2] = { mi * 16 * wm + (i >> 1) * 8, ni * 8 * wn + (i & 1) };
                    ci[i] = layout_reg_of(lc, coord);
                    cc[i] = r.e[ci[i]];
                }
                mma_16832(em, ta.dt, tb.dt, apack + 4 * mi, bf, cc);
                for (int i = 0; i < 4; i++)
                    r.e[ci[i]] = cc[i];
            }
        }
    }
    em->vals[in->res[0]] = r;
}

/* Loop order: k-steps outermost, so that only one k-slice of each operand
 * is live at a time next to the accumulators; B is read two n-tiles at a
 * time (one ldmatrix.x4). */
static void mma_dot(Emitter *em, const TirInst *in)
{
    if (dtype_is_fp8(tir_type(em->f, in->args[0]).dt)) {
        mma_dot_fp8(em, in);
        return;
    }
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
                    mma_16816(em, ta.dt, af, bf, cc, d);
                    for (int i = 0; i < 4; i++)
                        r.e[ci[i]] = d[i];
                }
        }
    }
    em->vals[in->res[0]] = r;
}

/* Conversions out of a shared tile into mma fragments: deferred to the dot
 * (which reads the pairs it needs per k-step), or read with ldmatrix here
 * when the fragments' pairs are rows of 8x8 blocks. */
static bool convert_from_shared(Emitter *em, const TirInst *in)
{
    ValId src = in->args[0], dst = in->res[0];
    const Layout *ls = em_layout(em, src), *ld = em_layout(em, dst);
    int a_dim;
    if (is_deferred_fragment(em, dst))
        return true;
    if (!ldmatrix_dims(ld, &a_dim) || ls->esize != 2)
        return false;
    int n = layout_nregs(ld);
    int *pairs = arena_alloc(&em->arena, sizeof(int) * (size_t)(n / 2 + 1));
    for (int k = 0; k < n / 2; k++)
        pairs[k] = k;
    EVal r = em_new_val(em, n);
    read_ldmatrix(em, src, dst, a_dim, tir_type(em->f, src).dt, pairs, n / 2, r.e);
    em->vals[dst] = r;
    return true;
}

/* Nothing to do: the barrier of the next stage_wait already orders every
 * warp's reads of a stage before its refill. */
static void release_stage(Emitter *em, const TirInst *in)
{
    (void)em;
    (void)in;
}

const TargetEmit target_sm80_emit = {
    .dot = mma_dot,
    .convert_from_shared = convert_from_shared,
    .copy16 = cp_async16,
    .stage_commit = commit_group,
    .stage_wait = wait_groups,
    .stage_release = release_stage,
};
