/* The wgmma family of targets (sm_90a): dots as warpgroup MMAs,
 * wgmma.mma_async m64nNk16 with f16 or bf16 inputs (m64nNk32 with e4m3 or
 * e5m2 ones, both K-major) and f32 accumulation,
 * reading B (and A, unless it was computed in registers) straight from
 * shared memory through matrix descriptors. Operand tiles are stored in the
 * canonical swizzled layout the descriptors describe (Layout.canonical),
 * filled by the mma.sync family's cp.async stages, which a proxy fence
 * hands to the tensor cores. Dots wgmma cannot run (too few rows for the
 * warpgroups, a B operand computed in registers) fall back on the mma.sync
 * family (target_sm80.c) with the same register layouts.
 *
 * Asynchrony: every wgmma of a dot is issued between a wgmma.fence and one
 * commit group, which is waited for where the result is first read (see
 * "deferred waits"). The fence and the wait take the accumulators (and
 * register A operands) as tied operands, so LLVM can move no register
 * arithmetic on them across either; every statement is a convergent
 * collective with side effects. */
#include "codegen_internal.h"
#include "target_families.h"
#include "target_sm90a.h"
#include "passes.h"

#include <stdio.h>
#include <string.h>

enum { WGMMA_MAX_N = 256, WG_ROWS = 64 };

/* ------------------------------------------------------------ policies */

/* The K of one wgmma: 32 bytes of each operand row. */
static int wgmma_k(DType dt) { return dtype_is_fp8(dt) ? 32 : 16; }

/* Warpgroups of 4 warps, all warps along M (each warpgroup owns 64-row
 * slabs; with three warpgroups, one slab each: the layouts number only
 * that repetition by warps, layout_mma_warps), N a multiple of 16 so that an N-major B operand has rows of at
 * least 32 bytes (the narrowest swizzle); fp8 operands (m64nNk32) are
 * K-major only, which any N of 8 rows allows. */
static bool wgmma_fits(DType dt, int M, int N, int K, int warps)
{
    bool fp8 = dtype_is_fp8(dt);
    bool pow2 = (warps & (warps - 1)) == 0;
    return (dt == DT_F16 || dt == DT_BF16 || fp8) && warps % 4 == 0 &&
           (pow2 ? M % (16 * warps) == 0 : M == 16 * warps) &&
           N % (fp8 ? 8 : 16) == 0 && K % wgmma_k(dt) == 0;
}

/* fp8 dots run on wgmma only, with B a K-major shared tile and A one too
 * or registers: 8-bit operands have no transpose bits, and sm_90a's PTX has
 * no fp8 mma.sync to fall back on. */
static bool fp8_wgmma(DType dt, int M, int N, int K, int warps, const DotOperandSource src[2])
{
    return dtype_is_fp8(dt) && wgmma_fits(dt, M, N, K, warps) && src[1] == DOT_FROM_SMEM_K &&
           src[0] != DOT_FROM_SMEM_MN;
}

/* A B operand in registers (attention's V, N-major as loaded) is written
 * K-major into a shared tile of its own (rows along N, K contiguous: the
 * transpose of its logical [K, N]), which wgmma then reads. */
static bool fp8_stage_b(DType dt, int M, int N, int K, int warps, const DotOperandSource src[2], Layout *b_smem)
{
    DotOperandSource staged[2] = { src[0], DOT_FROM_SMEM_K };
    if (src[1] != DOT_FROM_REGS || !fp8_wgmma(dt, M, N, K, warps, staged))
        return false;
    *b_smem = layout_shared_canonical(N, K, 1, true);
    return true;
}

/* The register layouts of a wgmma dot are the mma.sync ones with every warp
 * along M (wgmma's accumulator is mma.sync's m16n8 per warp, repeated over
 * N; its register A operand the m16n8k16 A fragment), which is what the
 * mma.sync plan picks when M has 16 rows for every warp. fp8 dots are
 * planned here: on wgmma when their shape fits (B staged K-major when it
 * is in registers), else the mma.sync family's FMAs after widening. */
void target_sm90a_plan_dot(const Target *t, DType dt, int M, int N, int K, int warps, const DotOperandSource src[2],
                           DotPlan *plan)
{
    Layout b_smem;
    bool stage_b = fp8_stage_b(dt, M, N, K, warps, src, &b_smem);
    if (fp8_wgmma(dt, M, N, K, warps, src) || stage_b) { /* a register A is m16n8k32's A fragment per warp */
        plan->tensor_cores = true;
        plan->stage_b = stage_b;
        plan->b_smem = b_smem;
        plan->acc = layout_mma_acc(M, N, warps, warps, 1);
        plan->a = layout_mma_a8(M, K, warps, warps, 1);
        plan->b = layout_mma_b8(K, N, warps, warps, 1);
        return;
    }
    target_sm80_plan_dot(t, dt, M, N, K, warps, src, plan);
}

/* 16-bit operand tiles with rows of at least 32 bytes, in whole groups of 8
 * rows, are stored the way descriptors read them, and so are 8-bit ones read
 * K-major (the only major wgmma takes them in; the others are loaded into
 * registers: an A read from there, a B staged K-major, see plan_dot); the
 * others as on sm_80. */
bool target_sm90a_operand_smem_layout(const Target *t, int rows, int cols, int esize, bool k_major, Layout *out)
{
    if ((esize == 2 || (esize == 1 && k_major)) && cols * esize >= 32 && rows % 8 == 0) {
        *out = layout_shared_canonical(rows, cols, esize, false);
        return true;
    }
    return target_sm80_operand_smem_layout(t, rows, cols, esize, k_major, out);
}

/* ------------------------------------------------------- which dots */

/* The shared tile operand v is read from through a descriptor: v converts
 * a canonical 16-bit or 8-bit tile. */
static bool desc_tile(TirFunc *f, ValId v, ValId *tile)
{
    InstId def = tir_val(f, v)->def;
    if (def == TIR_NONE || tir_inst(f, def)->op != TIR_CONVERT)
        return false;
    ValId src = tir_inst(f, def)->args[0];
    const Layout *s = tir_layout(f, src);
    if (!s || s->kind != LAYOUT_SHARED || !s->canonical || (s->esize != 2 && s->esize != 1))
        return false;
    *tile = src;
    return true;
}

/* A dot issued as wgmma: its shape fits and B is a descriptor tile (for
 * fp8, the plan's conditions on the operands' majors). */
bool target_sm90a_dot_async(TirFunc *f, const TirInst *dot)
{
    TType ta = tir_type(f, dot->args[0]), tb = tir_type(f, dot->args[1]);
    int M = ta.shape[0], N = tb.shape[1], K = ta.shape[1];
    ValId a, b;
    if (!wgmma_fits(ta.dt, M, N, K, f->warps) || !desc_tile(f, dot->args[1], &b))
        return false;
    if (!dtype_is_fp8(ta.dt))
        return true;
    DotOperandSource src[2] = { desc_tile(f, dot->args[0], &a) ? dot_operand_source(tir_layout(f, a), 0)
                                                               : DOT_FROM_REGS,
                                dot_operand_source(tir_layout(f, b), 1) };
    return fp8_wgmma(ta.dt, M, N, K, f->warps, src);
}

static bool on_wgmma(Emitter *em, const TirInst *dot) { return target_sm90a_dot_async(em->f, dot); }

/* Conversions out of a shared tile: nothing to do for an operand every
 * user reads through its descriptor; the mma.sync family's reads when no
 * wgmma uses it; registers element by element when both do. */
static bool convert_from_shared(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    ValId dst = in->res[0], tile;
    int wgmma_uses = 0, other_uses = 0;
    for (BlockId b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        for (int i = 0; i < bl->insts.len; i++) {
            const TirInst *u = tir_inst(f, bl->insts.data[i]);
            bool wgmma = u->op == TIR_DOT && on_wgmma(em, u);
            for (int k = 0; k < u->nargs; k++)
                if (u->args[k] == dst)
                    (wgmma && k < 2 ? &wgmma_uses : &other_uses)[0]++;
        }
    }
    if (wgmma_uses == 0)
        return target_sm80_emit.convert_from_shared(em, in);
    return other_uses == 0 && desc_tile(em->f, dst, &tile);
}

/* The sm_80 list with loop rotation before pipelining (pass_rotate.c). */
const Pass target_sm90a_passes[] = {
    { "fuse", tir_pass_fuse },
    { "loopsplit", tir_pass_loopsplit },
    { "layout", tir_pass_layout },
    { "rotate", tir_pass_rotate },
    { "pipeline", tir_pass_pipeline },
    { "cse", tir_pass_cse },
    { "dce", tir_pass_dce },
    { "smem", tir_pass_smem },
    { NULL, NULL },
};

/* ------------------------------------------------------- descriptors */

/* A descriptor operand: the tile's shared address and storage. K-major
 * tiles store rows along M (or N) and K contiguous; MN-major ones rows
 * along K. */
typedef struct {
    const Layout *s;
    LLVMValueRef desc; /* the descriptor of the tile's first byte */
    bool k_major;
} DescOperand;

/* Matrix descriptor fields (PTX ISA, "Matrix Descriptor Format"): start
 * address >> 4 in bits 0-13, leading byte offset >> 4 in 16-29, stride byte
 * offset >> 4 in 32-45, base offset 0 (tiles start on their swizzle
 * pattern), swizzle mode in 62-63: 1 = 128B, 2 = 64B, 3 = 32B. Rows of 8
 * follow each other at 8 rows' bytes (the stride offset); the leading
 * offset is the distance between 128-byte panels, which only an MN-major
 * operand wider than one panel steps across (K-major ones ignore it). */
static DescOperand desc_operand(Emitter *em, ValId tile, bool k_major)
{
    DescOperand o = { em_layout(em, tile), NULL, k_major };
    int row_bytes = layout_shared_row_bytes(o.s);
    uint64_t mode = row_bytes == 128 ? 1 : row_bytes == 64 ? 2 : 3;
    uint64_t lbo = k_major ? 1 : (uint64_t)layout_shared_panel_bytes(o.s) >> 4, sbo = (uint64_t)(8 * row_bytes) >> 4;
    uint64_t fields = (lbo & 0x3FFF) << 16 | (sbo & 0x3FFF) << 32 | mode << 62;
    LLVMBuilderRef b = em->b;
    LLVMValueRef addr = LLVMBuildPtrToInt(b, em_smem_at(em, em_val(em, tile)->e[0]), em->t_i32, "");
    LLVMValueRef start = LLVMBuildAnd(b, LLVMBuildLShr(b, addr, em_i32(em, 4), ""), em_i32(em, 0x3FFF), "");
    o.desc = LLVMBuildOr(b, LLVMBuildZExt(b, start, em->t_i64, ""), LLVMConstInt(em->t_i64, fields, 0), "");
    return o;
}

/* The descriptor of the core matrices that start at element (mn0, k0) of
 * the operand, plus `extra` bytes computed at run time (or NULL). Offsets
 * are unswizzled: the tensor cores swizzle the addresses they form. */
static LLVMValueRef desc_at(Emitter *em, const DescOperand *o, int mn0, int k0, LLVMValueRef extra)
{
    int row_bytes = layout_shared_row_bytes(o->s), panel = layout_shared_panel_bytes(o->s);
    int row = o->k_major ? mn0 : k0, col_bytes = (o->k_major ? k0 : mn0) * o->s->esize;
    int64_t off = (int64_t)(col_bytes / row_bytes) * panel + (int64_t)row * row_bytes + col_bytes % row_bytes;
    LLVMValueRef d = LLVMBuildAdd(em->b, o->desc, em_i64(em, off >> 4), "");
    if (extra)
        d = LLVMBuildAdd(em->b, d, LLVMBuildZExt(em->b, LLVMBuildLShr(em->b, extra, em_i32(em, 4), ""), em->t_i64, ""),
                         "");
    return d;
}

/* Bytes from the tile's start to the 64-row slab of this thread's
 * warpgroup along M (run time; NULL with one warpgroup). */
static LLVMValueRef warpgroup_offset(Emitter *em, const DescOperand *a)
{
    if (em->f->warps <= 4)
        return NULL;
    int row_bytes = layout_shared_row_bytes(a->s);
    int step = a->k_major ? WG_ROWS * row_bytes /* 64 rows further */
                          : WG_ROWS * a->s->esize / row_bytes * layout_shared_panel_bytes(a->s);
    LLVMValueRef g = LLVMBuildLShr(em->b, em->warp, em_i32(em, 2), "");
    return LLVMBuildMul(em->b, g, em_i32(em, step), "");
}

/* ------------------------------------------------------------ wgmma */

static const unsigned WG_FLAGS = PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY | PTX_CONVERGENT;


/* Elements e[0..n) (two 16-bit or four 8-bit ones, k order, the first
 * lowest) packed in the 32-bit register a wgmma A operand takes. */
static LLVMValueRef pack(Emitter *em, DType dt, const LLVMValueRef *e, int n)
{
    LLVMValueRef v = LLVMGetUndef(LLVMVectorType(em_elem_type(em, dt), (unsigned)n));
    for (int i = 0; i < n; i++)
        v = LLVMBuildInsertElement(em->b, v, e[i], em_i32(em, i), "");
    return LLVMBuildBitCast(em->b, v, em->t_i32, "");
}

/* A warpgroup statement whose registers vals[0..n) pass through it tied
 * (replaced by what it returns), so that LLVM keeps every computation of
 * them before it and every use after it. */
static void tied_statement(Emitter *em, const char *text, LLVMValueRef *vals, int n)
{
    InlinePtx a;
    ptx_begin(&a, em, WG_FLAGS);
    for (int i = 0; i < n; i++)
        ptx_out(&a, LLVMTypeOf(vals[i]));
    for (int i = 0; i < n; i++)
        ptx_in_tied(&a, vals[i], i);
    ptx_text(&a, "%s", text);
    LLVMValueRef r = ptx_call(&a);
    for (int i = 0; i < n; i++)
        vals[i] = n == 1 ? r : LLVMBuildExtractValue(em->b, r, (unsigned)i, "");
}

/* One wgmma.mma_async m64nNk16 (16-bit inputs of types at, bt) or m64nNk32
 * (fp8): acc[0..N/2) are D (and C unless `zero_c`), A is a descriptor or
 * four registers, B a descriptor; only 16-bit operands have transpose
 * bits. */
static void wgmma(Emitter *em, DType at, DType bt, int N, LLVMValueRef *acc, bool zero_c, LLVMValueRef a_desc,
                  LLVMValueRef *a_regs, int trans_a, LLVMValueRef b_desc, int trans_b)
{
    InlinePtx a;
    ptx_begin(&a, em, WG_FLAGS);
    int n = N / 2;
    for (int i = 0; i < n; i++)
        ptx_out(&a, em->t_f32);
    if (!zero_c)
        for (int i = 0; i < n; i++)
            ptx_in_tied(&a, acc[i], i);
    bool trans = !dtype_is_fp8(at);
    ptx_text(&a, "wgmma.mma_async.sync.aligned.m64n%dk%d.f32.%s.%s {", N, wgmma_k(at), dtype_name(at), dtype_name(bt));
    for (int i = 0; i < n; i++)
        ptx_text(&a, "%s$%d", i ? ", " : "", i);
    if (a_desc) {
        ptx_text(&a, "}, $%d", ptx_in(&a, a_desc));
    } else {
        ptx_text(&a, "}, {");
        for (int i = 0; i < 4; i++)
            ptx_text(&a, "%s$%d", i ? ", " : "", ptx_in(&a, a_regs[i]));
        ptx_text(&a, "}");
    }
    ptx_text(&a, ", $%d, %d, 1, 1", ptx_in(&a, b_desc), zero_c ? 0 : 1);
    if (a_desc && trans)
        ptx_text(&a, ", %d", trans_a);
    if (trans)
        ptx_text(&a, ", %d", trans_b);
    ptx_text(&a, ";");
    LLVMValueRef r = ptx_call(&a);
    for (int i = 0; i < n; i++)
        acc[i] = n == 1 ? r : LLVMBuildExtractValue(em->b, r, (unsigned)i, "");
}

int sm90a_wgmma_entry_regs(int n) { return (n < WGMMA_MAX_N ? n : WGMMA_MAX_N) / 2 + 26; }

/* Whether a thread starts the kernel with the registers ptxas asks for an
 * m64nN wgmma (sm90a_wgmma_entry_regs), with the most the kernel's threads
 * and its resource clauses allow; else an error at the dot (ptxas would
 * refuse the PTX, at the first launch on a GPU). */
static bool wgmma_regs_fit(Emitter *em, const TirInst *in, int n)
{
    const TirFunc *f = em->f;
    int blocks = f->min_blocks > em->min_blocks ? f->min_blocks : em->min_blocks;
    int most = em->target->regs_per_sm / (em->threads * (blocks > 0 ? blocks : 1)) & ~7;
    most = most > 255 ? 255 : most;
    if (f->max_regs && f->max_regs < most)
        most = f->max_regs;
    int need = sm90a_wgmma_entry_regs(n);
    if (need <= most)
        return true;
    const char *clause = f->max_regs || f->min_blocks ? " with the kernel's resource clause" : "";
    em_error(em, in->pos,
             "this dot's wgmma (64 x %d per warpgroup) needs about %d registers per thread when the kernel starts, "
             "and %d threads%s leave at most %d: use a narrower tile or fewer warps",
             n < WGMMA_MAX_N ? n : WGMMA_MAX_N, need, em->threads, clause, most);
    return false;
}

/* Loop order: the result's 64-row slabs and its N chunks of at most 256
 * columns outermost, k-steps innermost, so each chain of wgmmas
 * accumulates in one set of registers; all in one commit group. */
static void wgmma_dot(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    TType ta = tir_type(f, in->args[0]), tb = tir_type(f, in->args[1]);
    if (!on_wgmma(em, in)) {
        tsr_assert(!dtype_is_fp8(ta.dt)); /* plan_dot and dot_async agree on fp8 */
        target_sm80_emit.dot(em, in);
        return;
    }
    int M = ta.shape[0], K = ta.shape[1], N = tb.shape[1], warps = f->warps, kw = wgmma_k(ta.dt);
    int mt = M / (16 * warps), nw = N < WGMMA_MAX_N ? N : WGMMA_MAX_N, ks = K / kw;
    wgmma_regs_fit(em, in, N); /* (an error; the code is made to the end, then dropped) */
    const Layout *lc = em_layout(em, in->res[0]);
    ValId a_tile, b_tile;
    bool ss = desc_tile(em->f, in->args[0], &a_tile);
    desc_tile(em->f, in->args[1], &b_tile);
    /* B [K, N] is K-major when stored transposed (rows along N). */
    DescOperand bd = desc_operand(em, b_tile, em_layout(em, b_tile)->transposed);
    DescOperand ad = { 0 };
    LLVMValueRef a_extra = NULL;
    if (ss) { /* A [M, K] is K-major unless stored transposed */
        ad = desc_operand(em, a_tile, !em_layout(em, a_tile)->transposed);
        a_extra = warpgroup_offset(em, &ad);
    }

    /* Registers through the fence: the accumulators given as C, and the
     * packed A operand of every (m-tile, k-step). */
    EVal r = em_new_val(em, layout_nregs(lc));
    EVal *c = in->nargs == 3 ? em_val(em, in->args[2]) : NULL;
    int na = ss ? 0 : 4 * mt * ks, nc = c ? r.n : 0;
    LLVMValueRef *fenced = arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)(nc + na + 1));
    for (int i = 0; i < nc; i++)
        fenced[i] = c->e[i];
    if (!ss) {
        const Layout *la = em_layout(em, in->args[0]);
        EVal *av = em_val(em, in->args[0]);
        for (int mi = 0; mi < mt; mi++)
            for (int ki = 0; ki < ks; ki++)
                for (int q = 0; q < 4; q++) {
                    /* register q: rows g (q even) or g + 8, k from 0 (q < 2) or half the k-step;
                     * two 16-bit or four 8-bit elements along k */
                    int per = 32 / (8 * dtype_size(ta.dt));
                    LLVMValueRef e[4];
                    for (int x = 0; x < per; x++) {
                        int at[2] = { mi * 16 * warps + (q & 1) * 8, ki * kw + (q >> 1) * (kw / 2) + x };
                        e[x] = av->e[layout_reg_of(la, at)];
                    }
                    fenced[nc + (mi * ks + ki) * 4 + q] = pack(em, ta.dt, e, per);
                }
    }
    tied_statement(em, "wgmma.fence.sync.aligned;", fenced, nc + na);
    for (int i = 0; i < r.n; i++)
        r.e[i] = c ? fenced[i] : NULL;

    LLVMValueRef *chain = arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)(nw / 2));
    int *reg = arena_alloc(&em->arena, sizeof(int) * (size_t)(nw / 2));
    for (int mi = 0; mi < mt; mi++)
        for (int n0 = 0; n0 < N; n0 += nw) {
            /* the last chunk of an N that is no multiple of 256 is narrower */
            int w = N - n0 < nw ? N - n0 : nw;
            /* wgmma's D register i: row 8 * (i / 2 % 2), column 8 * (i / 4) + i % 2 */
            for (int i = 0; i < w / 2; i++) {
                int coord[2] = { mi * 16 * warps + 8 * ((i >> 1) & 1), n0 + 8 * (i >> 2) + (i & 1) };
                reg[i] = layout_reg_of(lc, coord);
                chain[i] = r.e[reg[i]];
            }
            for (int ki = 0; ki < ks; ki++) {
                LLVMValueRef a_desc = ss ? desc_at(em, &ad, mi * 16 * warps, ki * kw, a_extra) : NULL;
                LLVMValueRef *a_regs = ss ? NULL : fenced + nc + (mi * ks + ki) * 4;
                wgmma(em, ta.dt, tb.dt, w, chain, !c && ki == 0, a_desc, a_regs, ad.k_major ? 0 : 1,
                      desc_at(em, &bd, n0, ki * kw, NULL), bd.k_major ? 0 : 1);
            }
            for (int i = 0; i < w / 2; i++)
                r.e[reg[i]] = chain[i];
        }
    InlinePtx commit;
    ptx_begin(&commit, em, WG_FLAGS);
    ptx_text(&commit, "wgmma.commit_group.sync.aligned;");
    ptx_call(&commit);
    if (em->opts->no_overlap) { /* at once: nothing can touch the A registers in between */
        tied_statement(em, "wgmma.wait_group.sync.aligned 0;", r.e, r.n);
        em->vals[in->res[0]] = r;
        return;
    }
    em->vals[in->res[0]] = r;
    WgmmaGroup g = { in->res[0], r.e, fenced + nc, r.n, na };
    vec_push(&em->arena, sm90a_wgmma(em)->groups, g);
}

/* ------------------------------------------------------ deferred waits */

/* A dot's group is waited for where its result is first read, so that the
 * work in between (another dot's issue, a softmax) runs while the tensor
 * cores do. Groups complete in commit order: `wait_group N` settles all but
 * the N newest. The wait takes the settled groups' accumulators as tied
 * operands (LLVM sees them defined there) and their A registers too (kept
 * alive, unchanged, until the tensor cores are done reading them). */
static void settle(Emitter *em, int count)
{
    WgmmaGroups *gs = &sm90a_wgmma(em)->groups;
    if (count <= 0)
        return;
    int n = 0;
    for (int g = 0; g < count; g++)
        n += gs->data[g].n + gs->data[g].na;
    LLVMValueRef *regs = arena_alloc(&em->arena, sizeof(LLVMValueRef) * (size_t)n);
    for (int g = 0, k = 0; g < count; g++) {
        memcpy(regs + k, gs->data[g].regs, sizeof(LLVMValueRef) * (size_t)gs->data[g].n);
        memcpy(regs + k + gs->data[g].n, gs->data[g].a, sizeof(LLVMValueRef) * (size_t)gs->data[g].na);
        k += gs->data[g].n + gs->data[g].na;
    }
    char text[64];
    snprintf(text, sizeof text, "wgmma.wait_group.sync.aligned %d;", gs->len - count);
    tied_statement(em, text, regs, n);
    for (int g = 0, k = 0; g < count; g++) {
        EVal r = em_new_val(em, gs->data[g].n);
        memcpy(r.e, regs + k, sizeof(LLVMValueRef) * (size_t)r.n);
        em->vals[gs->data[g].res] = r;
        k += gs->data[g].n + gs->data[g].na;
    }
    memmove(gs->data, gs->data + count, sizeof(WgmmaGroup) * (size_t)(gs->len - count));
    gs->len -= count;
}

/* Settles the groups up to the newest one whose result v is (or any when
 * v is TIR_NONE). */
static void settle_value(Emitter *em, ValId v)
{
    WgmmaGroups *gs = &sm90a_wgmma(em)->groups;
    for (int g = gs->len - 1; g >= 0; g--)
        if (v == TIR_NONE || gs->data[g].res == v) {
            settle(em, g + 1);
            return;
        }
}

/* Instructions that neither write shared memory nor leave the block:
 * wgmmas in flight may run on across them. */
static bool runs_beside_wgmma(const TirInst *in)
{
    switch (in->op) {
    case TIR_CONST: case TIR_PARAM: case TIR_DIM: case TIR_PROGRAM_ID: case TIR_NUM_PROGRAMS:
    case TIR_SPLAT: case TIR_BROADCAST: case TIR_EXPAND_DIMS: case TIR_TRANSPOSE: case TIR_ARANGE:
    case TIR_SMEM_TILE: case TIR_DOT: case TIR_YIELD:
        return true;
    case TIR_CONVERT: case TIR_REDUCE: return in->smem < 0;
    default: return tir_op_is_binary(in->op) || tir_op_is_unary(in->op) || in->op == TIR_SELECT;
    }
}

/* Whether every instruction of the IF's branches may run beside wgmmas in
 * flight and none is a dot (which would commit a group on one path only);
 * settles the groups whose results the branches read. */
static bool if_runs_beside_wgmma(Emitter *em, const TirInst *in)
{
    for (int k = 0; k < 2; k++) {
        if (in->blocks[k] == TIR_NONE)
            continue;
        TirBlock *bl = tir_block(em->f, in->blocks[k]);
        for (int i = 0; i < bl->insts.len; i++) {
            const TirInst *u = tir_inst(em->f, bl->insts.data[i]);
            if (u->op == TIR_DOT || (u->op == TIR_IF ? !if_runs_beside_wgmma(em, u) : !runs_beside_wgmma(u)))
                return false;
            for (int a = 0; a < u->nargs; a++)
                settle_value(em, u->args[a]);
        }
    }
    return true;
}

/* Per value: every use is as a loop's next carried value (a FOR body's
 * YIELD), computed once per kernel. */
static bool *carried_only(Emitter *em)
{
    WgmmaState *w = sm90a_wgmma(em);
    if (w->carried_only)
        return w->carried_only;
    TirFunc *f = em->f;
    int *uses = arena_alloc(&em->arena, sizeof(int) * (size_t)(f->vals.len + 1));
    int *carries = arena_alloc(&em->arena, sizeof(int) * (size_t)(f->vals.len + 1));
    memset(uses, 0, sizeof(int) * (size_t)(f->vals.len + 1));
    memset(carries, 0, sizeof(int) * (size_t)(f->vals.len + 1));
    for (BlockId b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        bool loop_body = bl->parent != TIR_NONE && tir_inst(f, bl->parent)->op == TIR_FOR;
        for (int i = 0; i < bl->insts.len; i++) {
            const TirInst *u = tir_inst(f, bl->insts.data[i]);
            for (int a = 0; a < u->nargs; a++) {
                uses[u->args[a]]++;
                carries[u->args[a]] += loop_body && u->op == TIR_YIELD;
            }
        }
    }
    w->carried_only = arena_alloc(&em->arena, sizeof(bool) * (size_t)(f->vals.len + 1));
    for (int v = 0; v < f->vals.len; v++)
        w->carried_only[v] = uses[v] && uses[v] == carries[v];
    return w->carried_only;
}

/* Whether `in` computes only values the loop carries to its next
 * iteration: the groups in flight are settled by the loop's end anyway, and
 * settling them first lets such values take the registers the groups free
 * (a softmax's next P, computed while the previous P is still read by the
 * tensor cores, would need registers for both). */
static bool computes_carried(Emitter *em, const TirInst *in)
{
    if (in->op == TIR_DOT || in->op == TIR_YIELD || in->nres == 0)
        return false;
    bool *c = carried_only(em);
    for (int i = 0; i < in->nres; i++)
        if (!c[in->res[i]])
            return false;
    return true;
}

void sm90a_before_inst(Emitter *em, const TirInst *in)
{
    sm90a_ws_pingpong_at(em, sm90a_ws(em), in);
    if (!sm90a_wgmma(em)->groups.len)
        return;
    if (in->op == TIR_IF ? !if_runs_beside_wgmma(em, in) : !runs_beside_wgmma(in) || computes_carried(em, in)) {
        settle_value(em, TIR_NONE);
        return;
    }
    for (int a = 0; a < in->nargs; a++)
        settle_value(em, in->args[a]);
}

/* The end of a loop body or of the kernel settles every group. A branch of
 * an `if` ends with none of its own in flight (its dots' results are read
 * in it or yielded, which settles them); the groups from before the `if`
 * run on beside it. */
void sm90a_after_block(Emitter *em, BlockId b)
{
    InstId parent = tir_block(em->f, b)->parent;
    bool settle_all = parent == TIR_NONE || tir_inst(em->f, parent)->op != TIR_IF;
    /* groups in flight across an if come from before it (if_runs_beside_wgmma);
     * one a branch committed is waited for before the branch ends: after the
     * merge its registers would not dominate the wait */
    WgmmaGroups *gs = &sm90a_wgmma(em)->groups;
    for (int g = 0; g < gs->len && !settle_all; g++)
        settle_all = em_defined_in(em, gs->data[g].res, parent);
    if (settle_all)
        settle_value(em, TIR_NONE);
    if (b == em->f->body && !em->opts->persistent)
        sm90a_ws_pingpong_end(em, sm90a_ws(em));
}

/* A persistent kernel's end, after its loop of instances: the turns of
 * pingpong run on from one instance to the next and end here. */
static void sm90a_end(Emitter *em) { sm90a_ws_pingpong_end(em, sm90a_ws(em)); }

/* ------------------------------------------------- shared memory stages */

void sm90a_proxy_fence(Emitter *em)
{
    InlinePtx a;
    ptx_begin(&a, em, PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY);
    ptx_text(&a, "fence.proxy.async.shared::cta;");
    ptx_call(&a);
}

static void copy16(Emitter *em, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef src_size)
{
    target_sm80_emit.copy16(em, dst, src, src_size);
}


const TargetEmit target_sm90a_emit = {
    .prepare = sm90a_prepare,
    .begin = sm90a_begin,
    .dot = wgmma_dot,
    .convert_from_shared = convert_from_shared,
    .copy_tile = sm90a_copy_tile,
    .copy16 = copy16,
    .stage_commit = sm90a_stage_commit,
    .stage_wait = sm90a_stage_wait,
    .stage_release = sm90a_stage_release,
    .stage_acquire = sm90a_stage_acquire,
    .publish_shared = sm90a_proxy_fence,
    .before_inst = sm90a_before_inst,
    .after_block = sm90a_after_block,
    .end = sm90a_end,
};
