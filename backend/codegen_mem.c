/* Memory: tile loads and stores on global memory, and layout conversions.
 *
 * Loads and stores go through predicated PTX (inline assembly): an element
 * outside the tensor is never touched, and reads as 0. Registers that hold
 * consecutive elements of the tensor's last dim become one vector access of
 * up to 16 bytes when alignment allows. A conversion that cannot be done
 * within each thread's registers goes through shared memory. */
#include "codegen_internal.h"

#include <stdio.h>
#include <string.h>

/* The largest power of two known to divide scalar v (up to 2^30). */
static int64_t divisor_of(TirFunc *f, ValId v, int depth)
{
    const int64_t big = (int64_t)1 << 30;
    TirVal *val = tir_val(f, v);
    if (depth > 16)
        return 1;
    if (val->def == TIR_NONE) {
        /* a loop's induction variable: lb + k * step */
        TirBlock *bl = tir_block(f, val->block);
        if (val->index != 0 || bl->parent == TIR_NONE || tir_inst(f, bl->parent)->op != TIR_FOR)
            return 1;
        TirInst *loop = tir_inst(f, bl->parent);
        int64_t a = divisor_of(f, loop->args[0], depth + 1), s = divisor_of(f, loop->args[2], depth + 1);
        return a < s ? a : s;
    }
    TirInst *in = tir_inst(f, val->def);
    switch (in->op) {
    case TIR_CONST: {
        int64_t x = in->ival < 0 ? -in->ival : in->ival, d = 1;
        if (x == 0)
            return big;
        while (d < big && x % (d * 2) == 0)
            d *= 2;
        return d;
    }
    case TIR_MUL: {
        int64_t d = divisor_of(f, in->args[0], depth + 1) * divisor_of(f, in->args[1], depth + 1);
        return d > big ? big : d;
    }
    case TIR_ADD:
    case TIR_SUB: {
        int64_t a = divisor_of(f, in->args[0], depth + 1), b = divisor_of(f, in->args[1], depth + 1);
        return a < b ? a : b;
    }
    default: return 1;
    }
}

typedef struct {
    const TirParam *p;
    int param;
    int tile_dim[TIR_MAX_RANK]; /* tensor dim -> tile dim, or -1 for a point index */
    LLVMValueRef start[TIR_MAX_RANK];
    int vec;   /* elements per access */
    int esize; /* bytes per element */
} Access;

LLVMValueRef dim_size(Emitter *em, const TirParam *p, int d)
{
    if (p->dim_sym[d] == TIR_NONE)
        return em_i32(em, p->dim_const[d]);
    return em->sym[p->dim_sym[d]];
}

static Access describe(Emitter *em, const TirInst *in, const Layout *l)
{
    TirFunc *f = em->f;
    Access a = { 0 };
    a.param = in->param;
    a.p = &f->params.data[in->param];
    a.esize = dtype_size(a.p->dt);
    int t = 0;
    for (int d = 0; d < a.p->rank; d++) {
        a.start[d] = em_val(em, in->args[d])->e[0];
        a.tile_dim[d] = in->lens[d] ? t++ : -1;
    }
    /* Vector width: consecutive registers along the tensor's last dim, which
     * is contiguous; the start and the dim size must keep vectors whole and
     * aligned. */
    int last = a.p->rank - 1;
    a.vec = 1;
    bool aligned = em->opts->assume_aligned && !(in->param < 64 && ((em->opts->unaligned_params >> in->param) & 1));
    /* What divides the last dim: itself when constant, 8 when a symbolic dim
     * the launch promises to be a multiple of 8. */
    int sym = a.p->dim_sym[last];
    int64_t dim_div = sym == TIR_NONE ? a.p->dim_const[last]
                      : sym < 64 && ((em->opts->divisible_syms >> sym) & 1) ? 8
                                                                              : 1;
    if (l && aligned && in->lens[last] && a.tile_dim[last] == l->rank - 1) {
        int v = layout_contig_regs(l);
        while (v * a.esize > 16)
            v /= 2;
        int64_t div = divisor_of(f, in->args[last], 0);
        while (v > 1 && (div % v != 0 || dim_div % v != 0))
            v /= 2;
        a.vec = v;
    }
    return a;
}

/* Address of the element at register r of a tile in layout `li` (at tile
 * coordinates coord when not NULL), and the in-bounds test of each dim but
 * `apart` (-1: none; NULL when no dim is tested), whose index goes to
 * *apart_idx. */
static LLVMValueRef element_at(Emitter *em, const Access *a, int li, int r, const LLVMValueRef *coord, int apart,
                               LLVMValueRef *ok, LLVMValueRef *apart_idx)
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef off = em_i64(em, 0), mask = NULL;
    for (int d = 0; d < a->p->rank; d++) {
        LLVMValueRef idx = a->start[d];
        int td = a->tile_dim[d];
        if (td >= 0)
            idx = LLVMBuildAdd(b, idx, coord ? coord[td] : em_lcoord(em, li, r, td), "");
        if (d == apart) {
            *apart_idx = idx;
        } else {
            LLVMValueRef in = LLVMBuildICmp(b, LLVMIntULT, idx, dim_size(em, a->p, d), "");
            mask = mask ? LLVMBuildAnd(b, mask, in, "") : in;
        }
        LLVMValueRef wide = LLVMBuildSExt(b, idx, em->t_i64, "");
        if (d != a->p->rank - 1)
            wide = LLVMBuildMul(b, wide, em->param_stride[a->param][d], "");
        off = LLVMBuildAdd(b, off, wide, "");
    }
    *ok = mask;
    return LLVMBuildGEP2(b, em_elem_type(em, a->p->dt), em->param_ptr[a->param], &off, 1, "");
}

/* Address and in-bounds predicate of the element at register r of a tile
 * in layout `li`. */
static void element_address(Emitter *em, const Access *a, int li, int r, LLVMValueRef *ptr, LLVMValueRef *ok)
{
    *ptr = element_at(em, a, li, r, NULL, -1, ok, NULL);
}

/* Whether the whole tile of `in` lies inside the tensor: each point index
 * inside its dim, each range [start, start + len) inside its: len <= dim
 * and start <= dim - len, the start taken unsigned so that a negative one
 * fails. One test per copy instead of one per element.
 *
 * In a loop, the tests of the start indices defined outside it are made
 * before it, `also` (NULL: none) with them, and what they decide is folded
 * into the bound of one test that moves: start <u (fixed ? bound : 0). The
 * moving tests alone remain in the loop, with no predicate kept across it. */
static LLVMValueRef tile_inside(Emitter *em, const Access *a, const TirInst *in, LLVMValueRef also)
{
    LLVMBuilderRef pre = em_loop_pre(em);
    /* what the invariant tests are made of, to make them once per loop */
    uintptr_t key[16] = { 'F', (uintptr_t)also };
    int nkey = 2, nmoving = 0;
    bool fixed_d[TIR_MAX_RANK];
    for (int d = 0; d < a->p->rank; d++) {
        fixed_d[d] = !pre || em_loop_invariant(em, in->args[d]);
        nmoving += !fixed_d[d];
        if (fixed_d[d]) {
            key[nkey++] = (uintptr_t)a->start[d];
            key[nkey++] = (uintptr_t)dim_size(em, a->p, d);
            key[nkey++] = (uintptr_t)(a->tile_dim[d] < 0 ? -1 : in->lens[d]);
        }
    }
    LLVMValueRef fixed = pre ? em_loop_recall(em, key, nkey) : NULL, moving = NULL;
    if (!fixed) {
        fixed = also;
        for (int d = 0; d < a->p->rank; d++) {
            if (!fixed_d[d])
                continue;
            LLVMBuilderRef b = pre ? pre : em->b;
            LLVMValueRef dim = dim_size(em, a->p, d), c;
            if (a->tile_dim[d] < 0) {
                c = LLVMBuildICmp(b, LLVMIntULT, a->start[d], dim, "");
            } else {
                LLVMValueRef len = em_i32(em, in->lens[d]);
                LLVMValueRef fits = LLVMBuildICmp(b, LLVMIntSGE, dim, len, "");
                LLVMValueRef room = LLVMBuildSub(b, dim, len, "");
                c = LLVMBuildAnd(b, fits, LLVMBuildICmp(b, LLVMIntULE, a->start[d], room, ""), "");
            }
            fixed = fixed ? LLVMBuildAnd(b, fixed, c, "") : c;
        }
        if (pre && fixed)
            em_loop_remember(em, key, nkey, fixed);
    }
    for (int d = 0; d < a->p->rank && nmoving; d++) {
        if (fixed_d[d])
            continue;
        /* start <u bound, the bound and what it folds in made before the
         * loop; the invariant tests join the last moving one */
        LLVMValueRef dim = dim_size(em, a->p, d), bound = dim, ok = --nmoving == 0 ? fixed : NULL;
        int len = a->tile_dim[d] < 0 ? -1 : in->lens[d];
        uintptr_t bkey[4] = { 'B', (uintptr_t)ok, (uintptr_t)dim, (uintptr_t)len };
        LLVMValueRef same = em_loop_recall(em, bkey, 4);
        if (!same) {
            if (len >= 0) {
                LLVMValueRef fits = LLVMBuildICmp(pre, LLVMIntSGE, dim, em_i32(em, len), "");
                bound = LLVMBuildAdd(pre, LLVMBuildSub(pre, dim, em_i32(em, len), ""), em_i32(em, 1), "");
                ok = ok ? LLVMBuildAnd(pre, ok, fits, "") : fits;
            }
            /* frozen: LLVM would fold the select back into a chain of ands
             * that ptxas re-evaluates in each iteration */
            same = ok ? LLVMBuildFreeze(pre, LLVMBuildSelect(pre, ok, bound, em_i32(em, 0), ""), "") : bound;
            em_loop_remember(em, bkey, 4, same);
        }
        LLVMValueRef c = LLVMBuildICmp(em->b, LLVMIntULT, a->start[d], same, "");
        moving = moving ? LLVMBuildAnd(em->b, moving, c, "") : c;
    }
    return moving ? moving : fixed;
}

/* The offset, in elements, from register `from`'s element to register
 * `to`'s in a tile of layout li (constant coordinate differences times the
 * strides: loop-invariant). */
static LLVMValueRef reg_delta(Emitter *em, const Access *a, int li, int from, int to)
{
    LLVMBuilderRef b = em->b;
    int c0[LAYOUT_MAX_RANK], c1[LAYOUT_MAX_RANK];
    layout_coord_of_reg(&em->f->layouts.data[li], from, c0);
    layout_coord_of_reg(&em->f->layouts.data[li], to, c1);
    LLVMValueRef off = em_i64(em, 0);
    for (int d = 0; d < a->p->rank; d++) {
        int td = a->tile_dim[d];
        if (td < 0 || c1[td] == c0[td])
            continue;
        LLVMValueRef c = em_i64(em, (int64_t)c1[td] - c0[td]);
        if (d != a->p->rank - 1)
            c = LLVMBuildMul(b, c, em->param_stride[a->param][d], "");
        off = LLVMBuildAdd(b, off, c, "");
    }
    return off;
}

/* The offset, in elements, of register 0's element (layout li) from the
 * tile's origin: the thread's lane and warp coordinates times the strides
 * (loop-invariant), built with b. */
static LLVMValueRef thread_offset(Emitter *em, LLVMBuilderRef b, const Access *a, int li)
{
    LLVMValueRef thread = em_i64(em, 0);
    int last = a->p->rank - 1;
    for (int d = 0; d < a->p->rank; d++) {
        int td = a->tile_dim[d];
        if (td < 0)
            continue;
        LLVMValueRef base = LLVMBuildZExt(b, em_lcoord(em, li, 0, td), em->t_i64, "");
        if (d != last)
            base = LLVMBuildMul(b, base, em->param_stride[a->param][d], "");
        thread = LLVMBuildAdd(b, thread, base, "");
    }
    return thread;
}

/* The origin of a tile inside the tensor: the element at its start
 * indices, which are not negative there. */
static LLVMValueRef tile_origin(Emitter *em, const Access *a)
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef off = em_i64(em, 0);
    for (int d = 0; d < a->p->rank; d++) {
        LLVMValueRef wide = LLVMBuildZExt(b, a->start[d], em->t_i64, "");
        if (d != a->p->rank - 1)
            wide = LLVMBuildMul(b, wide, em->param_stride[a->param][d], "");
        off = LLVMBuildAdd(b, off, wide, "");
    }
    return LLVMBuildGEP2(b, em_elem_type(em, a->p->dt), em->param_ptr[a->param], &off, 1, "");
}

/* Number of 32-bit words (or one 16-bit word, or one byte held in a 16-bit
 * register) an access of `bytes` moves. */
static int access_words(int bytes) { return bytes >= 4 ? bytes / 4 : 1; }

/* PTX width of the words of an access, and the LLVM type holding one. */
static int word_bits(int bytes) { return bytes == 1 ? 8 : bytes == 2 ? 16 : 32; }
static LLVMTypeRef word_type(Emitter *em, int bytes) { return bytes < 4 ? em->t_i16 : em->t_i32; }

static const char *vec_suffix(int words) { return words == 4 ? ".v4" : words == 2 ? ".v2" : ""; }

/* `bytes` (2, 4, 8 or 16) from global ptr when ok, else zeros: one word
 * (i16 or i32) or a struct of words. */
LLVMValueRef predicated_load(Emitter *em, LLVMValueRef ptr, LLVMValueRef ok, int bytes)
{
    int words = access_words(bytes), bits = word_bits(bytes);
    InlinePtx a;
    ptx_begin(&a, em, PTX_SIDE_EFFECTS);
    int out[4];
    for (int i = 0; i < words; i++)
        out[i] = ptx_out(&a, word_type(em, bytes));
    int p = ptx_in(&a, ptr), pred = ptx_in(&a, LLVMBuildZExt(em->b, ok, em->t_i32, ""));
    ptx_text(&a, "{ .reg .pred p; setp.ne.b32 p, $%d, 0; ", pred);
    for (int i = 0; i < words; i++)
        ptx_text(&a, "mov.b%d $%d, 0; ", bits == 8 ? 16 : bits, out[i]);
    if (bits == 8)
        ptx_text(&a, "@p ld.global.u8 "); /* a byte into a 16-bit register */
    else
        ptx_text(&a, "@p ld.global%s.b%d ", vec_suffix(words), bits);
    if (words > 1) {
        ptx_text(&a, "{");
        for (int i = 0; i < words; i++)
            ptx_text(&a, "%s$%d", i ? ", " : "", out[i]);
        ptx_text(&a, "}");
    } else {
        ptx_text(&a, "$%d", out[0]);
    }
    ptx_text(&a, ", [$%d]; }", p);
    return ptx_call(&a);
}

/* The words (i16 or i32) of `bytes` to global ptr when ok. */
void predicated_store(Emitter *em, LLVMValueRef ptr, LLVMValueRef ok, LLVMValueRef *words_v, int bytes)
{
    int words = access_words(bytes);
    InlinePtx a;
    ptx_begin(&a, em, PTX_SIDE_EFFECTS | PTX_CLOBBERS_MEMORY);
    int p = ptx_in(&a, ptr), w[4];
    for (int i = 0; i < words; i++)
        w[i] = ptx_in(&a, words_v[i]);
    int pred = ptx_in(&a, LLVMBuildZExt(em->b, ok, em->t_i32, ""));
    if (bytes == 1)
        ptx_text(&a, "{ .reg .pred p; setp.ne.b32 p, $%d, 0; @p st.global.u8 [$%d], ", pred, p);
    else
        ptx_text(&a, "{ .reg .pred p; setp.ne.b32 p, $%d, 0; @p st.global%s.b%d [$%d], ", pred, vec_suffix(words),
                 bytes == 2 ? 16 : 32, p);
    if (words > 1) {
        ptx_text(&a, "{");
        for (int i = 0; i < words; i++)
            ptx_text(&a, "%s$%d", i ? ", " : "", w[i]);
        ptx_text(&a, "}");
    } else {
        ptx_text(&a, "$%d", w[0]);
    }
    ptx_text(&a, "; }");
    ptx_call(&a);
}

/* An 8-byte element from two 32-bit words, and back. */
static LLVMValueRef join_words(Emitter *em, LLVMTypeRef et, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMValueRef v = LLVMGetUndef(LLVMVectorType(em->t_i32, 2));
    v = LLVMBuildInsertElement(em->b, v, lo, em_i32(em, 0), "");
    v = LLVMBuildInsertElement(em->b, v, hi, em_i32(em, 1), "");
    return LLVMBuildBitCast(em->b, v, et, "");
}

static void split_words(Emitter *em, LLVMValueRef x, LLVMValueRef *lo_hi)
{
    LLVMValueRef v = LLVMBuildBitCast(em->b, x, LLVMVectorType(em->t_i32, 2), "");
    for (int i = 0; i < 2; i++)
        lo_hi[i] = LLVMBuildExtractElement(em->b, v, em_i32(em, i), "");
}

/* Splits loaded words into `vec` elements of type dt, and back. */
void unpack_words(Emitter *em, DType dt, LLVMValueRef raw, int words, int vec, LLVMValueRef *out)
{
    LLVMTypeRef et = em_elem_type(em, dt);
    if (dtype_size(dt) == 8 || dtype_size(dt) * vec == 1) { /* two words an element, or one byte */
        LLVMValueRef w[4];
        for (int i = 0; i < words; i++)
            w[i] = words > 1 ? LLVMBuildExtractValue(em->b, raw, (unsigned)i, "") : raw;
        for (int i = 0; i < vec; i++)
            out[i] = dtype_size(dt) == 8 ? join_words(em, et, w[2 * i], w[2 * i + 1]) : LLVMBuildTrunc(em->b, w[0], et, "");
        return;
    }
    int per = vec / words; /* elements per word */
    for (int w = 0; w < words; w++) {
        LLVMValueRef word = words > 1 ? LLVMBuildExtractValue(em->b, raw, (unsigned)w, "") : raw;
        if (per == 1) {
            out[w] = LLVMBuildBitCast(em->b, word, et, "");
            continue;
        }
        LLVMValueRef v = LLVMBuildBitCast(em->b, word, LLVMVectorType(et, (unsigned)per), "");
        for (int i = 0; i < per; i++)
            out[w * per + i] = LLVMBuildExtractElement(em->b, v, em_i32(em, i), "");
    }
}

void pack_words(Emitter *em, DType dt, LLVMValueRef *elems, int words, int vec, LLVMValueRef *out)
{
    LLVMTypeRef et = em_elem_type(em, dt);
    if (dtype_size(dt) == 8) {
        for (int i = 0; i < vec; i++)
            split_words(em, elems[i], out + 2 * i);
        return;
    }
    if (dtype_size(dt) * vec == 1) {
        out[0] = LLVMBuildZExt(em->b, elems[0], em->t_i16, "");
        return;
    }
    int per = vec / words;
    LLVMTypeRef wt = dtype_size(dt) * vec == 2 ? em->t_i16 : em->t_i32;
    for (int w = 0; w < words; w++) {
        if (per == 1) {
            out[w] = LLVMBuildBitCast(em->b, elems[w], wt, "");
            continue;
        }
        LLVMValueRef v = LLVMGetUndef(LLVMVectorType(et, (unsigned)per));
        for (int i = 0; i < per; i++)
            v = LLVMBuildInsertElement(em->b, v, elems[w * per + i], em_i32(em, i), "");
        out[w] = LLVMBuildBitCast(em->b, v, wt, "");
    }
}

/* Byte offset of stored element (row, col) of a shared tile at `base`:
 * row after row, 16-byte chunks swizzled, canonical tiles cut in panels. */
LLVMValueRef em_shared_offset(Emitter *em, const Layout *s, LLVMValueRef base, LLVMValueRef row, LLVMValueRef col)
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef bytes = LLVMBuildMul(b, col, em_i32(em, s->esize), "");
    LLVMValueRef chunk = LLVMBuildLShr(b, bytes, em_i32(em, 4), "");
    LLVMValueRef within = LLVMBuildAnd(b, bytes, em_i32(em, 15), "");
    LLVMValueRef phase = LLVMBuildURem(
        b, LLVMBuildUDiv(b, row, em_i32(em, s->per_phase), ""), em_i32(em, s->max_phase), "");
    chunk = LLVMBuildXor(b, chunk, phase, "");
    int row_bytes = layout_shared_row_bytes(s);
    LLVMValueRef off = LLVMBuildMul(b, row, em_i32(em, row_bytes), "");
    if (row_bytes < layout_shared_pitch(s)) {
        /* A canonical tile's panels: the chunk's high bits pick the panel
         * (the swizzle only touched the low ones, log2(chunks per panel)). */
        int per_panel = row_bytes / 16, lg = 0;
        while ((1 << lg) < per_panel)
            lg++;
        LLVMValueRef panel = LLVMBuildLShr(b, chunk, em_i32(em, lg), "");
        off = LLVMBuildAdd(b, off, LLVMBuildMul(b, panel, em_i32(em, layout_shared_panel_bytes(s)), ""), "");
        chunk = LLVMBuildAnd(b, chunk, em_i32(em, per_panel - 1), "");
    }
    off = LLVMBuildAdd(b, off, LLVMBuildShl(b, chunk, em_i32(em, 4), ""), "");
    off = LLVMBuildAdd(b, off, within, "");
    return LLVMBuildAdd(b, off, base, "");
}

/* (row, col) in storage order of logical coordinates c of a shared tile. */
void em_stored_rc(const Layout *s, LLVMValueRef c0, LLVMValueRef c1, LLVMValueRef *row, LLVMValueRef *col)
{
    *row = s->transposed ? c1 : c0;
    *col = s->transposed ? c0 : c1;
}

/* The copy of a tile wholly inside the tensor: each chunk's source is the
 * previous one's plus an invariant step (one 64-bit add), the first from
 * src, or from the tile's origin when src is NULL. */
static void copy_inside(Emitter *em, const Access *a, const Layout *s, int li, LLVMValueRef base, LLVMValueRef src)
{
    const Layout *copy = &em->f->layouts.data[li];
    LLVMTypeRef et = em_elem_type(em, a->p->dt);
    if (!src) {
        LLVMValueRef off = thread_offset(em, em->b, a, li);
        src = LLVMBuildGEP2(em->b, et, tile_origin(em, a), &off, 1, "");
    }
    for (int g = 0; g < layout_nregs(copy); g += a->vec) {
        if (g) {
            LLVMValueRef step = reg_delta(em, a, li, g - a->vec, g);
            src = LLVMBuildGEP2(em->b, et, src, &step, 1, "");
        }
        LLVMValueRef row, col;
        em_stored_rc(s, em_lcoord(em, li, g, 0), em_lcoord(em, li, g, 1), &row, &col);
        LLVMValueRef dst = em_smem_at(em, em_shared_offset(em, s, base, row, col));
        em->target->emit->copy16(em, dst, src, em_i32(em, 16));
    }
}

/* The copy of any tile, element group by element group, each tested
 * against the tensor's bounds: asynchronously (16-byte chunks, zero-filled
 * past the end) or by loads and stores. */
static void copy_checked(Emitter *em, const Access *a, const Layout *s, int li, LLVMValueRef base, bool async, DType dt)
{
    const Layout *copy = &em->f->layouts.data[li];
    for (int g = 0; g < layout_nregs(copy); g += a->vec) {
        LLVMValueRef ptr, ok;
        element_address(em, a, li, g, &ptr, &ok);
        LLVMValueRef row, col;
        em_stored_rc(s, em_lcoord(em, li, g, 0), em_lcoord(em, li, g, 1), &row, &col);
        LLVMValueRef dst = em_smem_at(em, em_shared_offset(em, s, base, row, col));
        if (async) {
            LLVMValueRef size = LLVMBuildSelect(em->b, ok, em_i32(em, 16), em_i32(em, 0), "");
            /* A skipped chunk reads nothing, but keep its address in bounds. */
            ptr = LLVMBuildSelect(em->b, ok, ptr, em->param_ptr[a->param], "");
            em->target->emit->copy16(em, dst, ptr, size);
        } else {
            int bytes = a->vec * a->esize;
            LLVMValueRef raw = predicated_load(em, ptr, ok, bytes);
            LLVMValueRef el[8];
            unpack_words(em, dt, raw, access_words(bytes), a->vec, el);
            for (int i = 0; i < a->vec; i++) {
                LLVMValueRef c1 = LLVMBuildAdd(em->b, em_lcoord(em, li, g, 1), em_i32(em, i), "");
                em_stored_rc(s, em_lcoord(em, li, g, 0), c1, &row, &col);
                LLVMBuildStore(em->b, el[i], em_smem_at(em, em_shared_offset(em, s, base, row, col)));
            }
        }
    }
}

/* Elements a thread copies as one group when a tensor allows no vectors:
 * its consecutive registers along the tensor's contiguous last dim (up to
 * 16 bytes, stored to shared memory as one chunk or part of one), or 1
 * when the copy cannot group them. */
static int group_elems(const Access *a, const Layout *s, const Layout *copy)
{
    int last = a->p->rank - 1;
    if (a->vec != 1 || s->transposed || a->tile_dim[last] != copy->rank - 1 || a->esize > 4)
        return 1;
    int n = layout_contig_regs(copy);
    while (n * a->esize > 16)
        n /= 2;
    return n;
}

/* n elements of esize (1, 2 or 4) bytes from global ptr on, element i
 * read when lo <= i < hi and zero otherwise, packed into (n * esize + 3) / 4
 * 32-bit words: one address and two bounds for the group, each element
 * loaded by itself (the tensor's alignment allows no wider access). */
static LLVMValueRef grouped_load(Emitter *em, LLVMValueRef ptr, LLVMValueRef lo, LLVMValueRef hi, int n, int esize)
{
    int words = (n * esize + 3) / 4;
    InlinePtx a;
    ptx_begin(&a, em, PTX_SIDE_EFFECTS);
    int out[4];
    for (int w = 0; w < words; w++)
        out[w] = ptx_out(&a, em->t_i32);
    int p = ptx_in(&a, ptr), l = ptx_in(&a, lo), h = ptx_in(&a, hi);
    static const char *const type[] = { [1] = "u8", [2] = "u16", [4] = "b32" };
    ptx_text(&a, "{ .reg .pred p; .reg .b32 t; ");
    for (int w = 0; w < words; w++)
        ptx_text(&a, "mov.b32 $%d, 0; ", out[w]);
    for (int i = 0; i < n; i++) {
        int w = out[i * esize / 4], pos = i * esize % 4 * 8;
        ptx_text(&a, "setp.le.s32 p, $%d, %d; setp.gt.and.s32 p, $%d, %d, p; ", l, i, h, i);
        if (pos == 0)
            ptx_text(&a, "@p ld.global.%s $%d, [$%d+%d]; ", type[esize], w, p, i * esize);
        else
            ptx_text(&a, "@p ld.global.%s t, [$%d+%d]; @p bfi.b32 $%d, t, $%d, %d, %d; ", type[esize], p, i * esize, w,
                     w, pos, esize * 8);
    }
    ptx_text(&a, "}");
    return ptx_call(&a);
}

/* Bytes of a grouped copy a thread has in flight at most: its groups go
 * through a loop, this many at a time, so that a large tile does not hold
 * every loaded byte in a register at once (ptxas hoists the loads). */
enum { GROUPED_WINDOW = 64 };

/* Copies the group at register index g of a grouped copy, plus rg (NULL:
 * nothing), a multiple of `step` counted at run time. */
static void copy_group(Emitter *em, const Access *a, const Layout *s, int li, LLVMValueRef base, int n, int g,
                       LLVMValueRef rg, int step)
{
    LLVMBuilderRef b = em->b;
    const Layout *copy = &em->f->layouts.data[li];
    int last = a->p->rank - 1, bytes = n * a->esize, words = (bytes + 3) / 4;
    LLVMValueRef coord[2];
    for (int d = 0; d < 2; d++) {
        coord[d] = em_lcoord(em, li, g, d);
        /* the register bits the loop counts, where they set this dim's bits */
        for (int i = 0; rg && i < copy->nreg; i++)
            if (copy->reg[i].dim == d && (1 << i) >= step) {
                LLVMValueRef bit = LLVMBuildAnd(b, LLVMBuildLShr(b, rg, em_i32(em, i), ""), em_i32(em, 1), "");
                coord[d] = LLVMBuildOr(b, coord[d], LLVMBuildShl(b, bit, em_i32(em, copy->reg[i].bit), ""), "");
            }
    }
    LLVMValueRef others, idx;
    LLVMValueRef ptr = element_at(em, a, li, g, coord, last, &others, &idx);
    LLVMValueRef lo = LLVMBuildNeg(b, idx, ""), hi = LLVMBuildSub(b, dim_size(em, a->p, last), idx, "");
    if (others)
        hi = LLVMBuildSelect(b, others, hi, em_i32(em, 0), "");
    LLVMValueRef raw = grouped_load(em, ptr, lo, hi, n, a->esize), v;
    if (words == 1) {
        v = raw;
        if (bytes < 4)
            v = LLVMBuildTrunc(b, v, LLVMIntTypeInContext(em->ctx, (unsigned)bytes * 8), "");
    } else {
        v = LLVMGetUndef(LLVMVectorType(em->t_i32, (unsigned)words));
        for (int w = 0; w < words; w++)
            v = LLVMBuildInsertElement(b, v, LLVMBuildExtractValue(b, raw, (unsigned)w, ""), em_i32(em, w), "");
    }
    LLVMValueRef row, col;
    em_stored_rc(s, coord[0], coord[1], &row, &col);
    LLVMValueRef st = LLVMBuildStore(b, v, em_smem_at(em, em_shared_offset(em, s, base, row, col)));
    LLVMSetAlignment(st, (unsigned)bytes);
}

/* The copy of a tile, group by group (group_elems), each element tested
 * against the tensor's bounds: for tensors whose alignment allows no
 * vectors. One address and one test of the other dims a group, one store
 * to shared memory; above GROUPED_WINDOW bytes a thread, a loop whose
 * counter supplies the high register bits (layouts without repetitions). */
static void copy_grouped(Emitter *em, const Access *a, const Layout *s, int li, LLVMValueRef base, int n)
{
    const Layout *copy = &em->f->layouts.data[li];
    int nregs = layout_nregs(copy), step = GROUPED_WINDOW / a->esize;
    if (layout_nreps(copy) > 1 || step >= nregs) {
        for (int g = 0; g < nregs; g += n)
            copy_group(em, a, s, li, base, n, g, NULL, 0);
        return;
    }
    LLVMBuilderRef b = em->b;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "groups");
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "grouped");
    LLVMBuildBr(b, body);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef rg = LLVMBuildPhi(b, em->t_i32, "");
    for (int g = 0; g < step; g += n)
        copy_group(em, a, s, li, base, n, g, rg, step);
    LLVMValueRef next = LLVMBuildAdd(b, rg, em_i32(em, step), "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, next, em_i32(em, nregs), ""), body, after);
    LLVMValueRef in_v[2] = { em_i32(em, 0), next };
    LLVMBasicBlockRef in_b[2] = { pre, LLVMGetInsertBlock(b) };
    LLVMAddIncoming(rg, in_v, in_b, 2);
    LLVMPositionBuilderAtEnd(b, after);
}

/* Whether `now` tests what `then` did: the same comparison of the same
 * values, or the same value. */
static bool same_test(LLVMValueRef then, LLVMValueRef now)
{
    if (then == now)
        return true;
    if (!LLVMIsAICmpInst(then) || !LLVMIsAICmpInst(now) || LLVMGetICmpPredicate(then) != LLVMGetICmpPredicate(now))
        return false;
    return LLVMGetOperand(then, 0) == LLVMGetOperand(now, 0) && LLVMGetOperand(then, 1) == LLVMGetOperand(now, 1);
}

/* Whether every instruction of block bl is arithmetic without effects (so
 * it may move up to the block that branched around the last copy). */
static bool only_arithmetic(LLVMBasicBlockRef bl)
{
    for (LLVMValueRef i = LLVMGetFirstInstruction(bl); i; i = LLVMGetNextInstruction(i)) {
        LLVMOpcode op = LLVMGetInstructionOpcode(i);
        /* the binary operators, the casts (Trunc .. BitCast; the opcodes
         * after them are calls, phis and atomics) */
        bool pure = (op >= LLVMAdd && op <= LLVMXor) || (op >= LLVMTrunc && op <= LLVMBitCast) ||
                    op == LLVMAddrSpaceCast || op == LLVMICmp || op == LLVMSelect || op == LLVMGetElementPtr ||
                    op == LLVMFreeze;
        if (!pure)
            return false;
    }
    return true;
}

/* Joins the branch of the copy that just ended (em->copy_region) when the
 * builder is still where it left off and this copy tests the same: the
 * arithmetic made since moves up before that branch, and the builder is
 * left at the end of its inside path. */
static bool join_region(Emitter *em, LLVMValueRef test)
{
    CopyRegion *r = &em->copy_region;
    LLVMBasicBlockRef here = LLVMGetInsertBlock(em->b);
    if (!r->joined || here != r->joined || !same_test(r->test, test) || !only_arithmetic(here))
        return false;
    LLVMBuilderRef up = LLVMCreateBuilderInContext(em->ctx);
    LLVMPositionBuilderBefore(up, LLVMGetBasicBlockTerminator(r->head));
    for (LLVMValueRef i = LLVMGetFirstInstruction(here), next; i; i = next) {
        next = LLVMGetNextInstruction(i);
        LLVMInstructionRemoveFromParent(i);
        LLVMInsertIntoBuilder(up, i);
    }
    LLVMDisposeBuilder(up);
    LLVMPositionBuilderBefore(em->b, LLVMGetBasicBlockTerminator(r->inside));
    return true;
}

/* An asynchronous copy split on whether the tile lies inside the tensor,
 * joining the previous copy's branch when it tests the same. In a loop, the
 * thread's first address is a pointer the loop advances when the start
 * indices allow (codegen_loop.c). */
static void copy_split(Emitter *em, const TirInst *in, const Access *a, const Layout *s, int li, LLVMValueRef base)
{
    LLVMValueRef exact = NULL, src = NULL;
    if (em_loop_pre(em))
        src = em_carried_address(em, in, a->p->rank, li, thread_offset(em, em_loop_pre(em), a, li), &exact);
    LLVMValueRef test = tile_inside(em, a, in, exact);
    CopyRegion *r = &em->copy_region;
    if (join_region(em, test)) {
        copy_inside(em, a, s, li, base, src);
        LLVMPositionBuilderBefore(em->b, LLVMGetBasicBlockTerminator(r->edge));
        copy_checked(em, a, s, li, base, true, a->p->dt);
        LLVMPositionBuilderAtEnd(em->b, r->joined);
        return;
    }
    r->head = LLVMGetInsertBlock(em->b);
    r->inside = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "inside");
    r->edge = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "edge");
    r->joined = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "joined");
    r->test = test;
    LLVMBuildCondBr(em->b, test, r->inside, r->edge);
    LLVMPositionBuilderAtEnd(em->b, r->inside);
    copy_inside(em, a, s, li, base, src);
    LLVMBuildBr(em->b, r->joined);
    LLVMPositionBuilderAtEnd(em->b, r->edge);
    copy_checked(em, a, s, li, base, true, a->p->dt);
    LLVMBuildBr(em->b, r->joined);
    LLVMPositionBuilderAtEnd(em->b, r->joined);
}

/* Copies a tile into shared memory at `base`: each thread copies 16-byte
 * chunks with the target's asynchronous copy (bytes past the tensor's end
 * are zero-filled), or, when rows are not whole 16-byte chunks, loads and
 * stores element groups itself. Returns whether it copied asynchronously
 * (then the stage must be committed and waited for).
 *
 * A tile wholly inside the tensor (every one but the edges') is copied
 * without per-element addresses, tests or sizes, behind one test. Copies
 * one after another that test the same (a tile of K and one of V at the
 * same keys) share that branch, whatever LLVM would make of two. */
static bool copy_to_shared(Emitter *em, const TirInst *in, const Layout *sl, TType t, LLVMValueRef base)
{
    TirFunc *f = em->f;
    Layout s = *sl;
    Layout copy = layout_blocked(2, t.shape, f->warps, 16 / s.esize);
    int li = tir_intern_layout(f, &copy);
    Access a = describe(em, in, &copy);
    bool async = a.vec * a.esize == 16;
    /* When the tile is smaller than the threads' share, replicas skip the copy. */
    LLVMBasicBlockRef done = em_only_begin(em, em_owner_mask(em, &copy), "copy", "copied");
    int group = async ? 1 : group_elems(&a, &s, &copy);
    if (async)
        copy_split(em, in, &a, &s, li, base);
    else if (group > 1)
        copy_grouped(em, &a, &s, li, base, group);
    else
        copy_checked(em, &a, &s, li, base, false, t.dt);
    em_only_end(em, done);
    return async;
}

/* A load into a shared tile of its own, complete when it returns. */
static void load_shared(Emitter *em, const TirInst *in)
{
    ValId res = in->res[0];
    LLVMValueRef base = em_i32(em, in->smem);
    em_barrier(em); /* the tile's previous contents may still be read */
    const TargetEmit *te = em->target->emit;
    if (te->copy_tile && te->copy_tile(em, in, base)) {
        /* copied and visible */
    } else if (copy_to_shared(em, in, em_layout(em, res), tir_type(em->f, res), base)) {
        te->stage_commit(em, NULL);
        te->stage_wait(em, NULL, 0);
    } else {
        if (em->target->emit->publish_shared)
            em->target->emit->publish_shared(em);
        em_barrier(em);
    }
    EVal r = em_new_val(em, 1);
    r.e[0] = base;
    em->vals[res] = r;
}

/* One stage of a pipelined copy (pass_pipeline.c): no waiting here. */
void em_async_copy(Emitter *em, const TirInst *in)
{
    const TirBuffer *buf = &em->f->buffers.data[in->buf];
    int64_t stage_bytes = ttype_numel(buf->type) * dtype_size(buf->type.dt);
    LLVMValueRef stage = em_val(em, in->args[in->nargs - 1])->e[0];
    LLVMValueRef base = LLVMBuildAdd(em->b, em_i32(em, buf->offset),
                                     LLVMBuildMul(em->b, stage, em_i32(em, stage_bytes), ""), "");
    Layout s = em->f->layouts.data[buf->layout];
    if (em->target->emit->copy_tile && em->target->emit->copy_tile(em, in, base))
        return;
    copy_to_shared(em, in, &s, buf->type, base);
}

void em_load(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    ValId res = in->res[0];
    TType t = tir_type(f, res);
    const Layout *l = t.rank ? em_layout(em, res) : NULL;
    if (l && l->kind == LAYOUT_SHARED) {
        load_shared(em, in);
        return;
    }
    Access a = describe(em, in, l);
    int n = l ? layout_nregs(l) : 1;
    EVal r = em_new_val(em, n);
    int bytes = a.vec * a.esize, words = access_words(bytes);
    for (int g = 0; g < n; g += a.vec) {
        LLVMValueRef ptr, ok;
        element_address(em, &a, l ? tir_val(f, res)->layout : TIR_NONE, g, &ptr, &ok);
        LLVMValueRef raw = predicated_load(em, ptr, ok, bytes);
        unpack_words(em, t.dt, raw, words, a.vec, r.e + g);
    }
    em->vals[res] = r;
}

void em_store(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    ValId v = in->args[in->nargs - 1];
    TType t = tir_type(f, v);
    const Layout *l = t.rank ? em_layout(em, v) : NULL;
    Access a = describe(em, in, l);
    int n = l ? layout_nregs(l) : 1;
    EVal *x = em_val(em, v);
    int bytes = a.vec * a.esize, words = access_words(bytes);
    /* Replicas do not store; a scalar is stored by thread 0 alone. */
    LLVMValueRef owner = l ? em_owner_mask(em, l) : LLVMBuildICmp(em->b, LLVMIntEQ, em->tid, em_i32(em, 0), "");
    for (int g = 0; g < n; g += a.vec) {
        LLVMValueRef ptr, ok, w[4];
        element_address(em, &a, l ? tir_val(f, v)->layout : TIR_NONE, g, &ptr, &ok);
        if (owner)
            ok = LLVMBuildAnd(em->b, ok, owner, "");
        pack_words(em, t.dt, x->e + g, words, a.vec, w);
        predicated_store(em, ptr, ok, w, bytes);
    }
}

/* --------------------------------------------------------- conversions */

typedef struct {
    int pitch; /* elements per row in shared memory */
    int base;  /* byte offset of the scratch (pass_smem.c) */
    int esize;
    LLVMTypeRef et; /* element type in shared memory (i8 for bool) */
} SmemTile;

static SmemTile smem_tile(Emitter *em, TType t, int base)
{
    SmemTile s;
    s.esize = t.dt == DT_BOOL ? 1 : dtype_size(t.dt);
    s.et = t.dt == DT_BOOL ? em->t_i8 : em_elem_type(em, t.dt);
    s.pitch = smem_convert_pitch(t);
    s.base = base;
    return s;
}

/* Byte offset in shared memory of register r of v in the scratch tile. */
static LLVMValueRef smem_offset(Emitter *em, const SmemTile *s, ValId v, int r, int rank)
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef idx = em_coord(em, v, r, rank - 1);
    if (rank == 2)
        idx = LLVMBuildAdd(b, LLVMBuildMul(b, em_coord(em, v, r, 0), em_i32(em, s->pitch), ""), idx, "");
    return LLVMBuildAdd(b, LLVMBuildMul(b, idx, em_i32(em, s->esize), ""), em_i32(em, s->base), "");
}

static int smem_vec(const Layout *l, const SmemTile *s)
{
    if (s->esize == 1)
        return 1;
    int v = layout_contig_regs(l);
    while (v * s->esize > 16)
        v /= 2;
    return v;
}

static void smem_write(Emitter *em, const SmemTile *s, ValId v, DType dt)
{
    const Layout *l = em_layout(em, v);
    EVal *x = em_val(em, v);
    int vec = smem_vec(l, s), rank = l->rank;
    LLVMBasicBlockRef cont = em_only_begin(em, em_owner_mask(em, l), "cvt.write", "cvt.wrote");
    for (int g = 0; g < x->n; g += vec) {
        LLVMValueRef ptr = em_smem_at(em, smem_offset(em, s, v, g, rank)), val;
        if (vec == 1) {
            val = dt == DT_BOOL ? LLVMBuildZExt(em->b, x->e[g], em->t_i8, "") : x->e[g];
        } else {
            val = LLVMGetUndef(LLVMVectorType(s->et, (unsigned)vec));
            for (int i = 0; i < vec; i++)
                val = LLVMBuildInsertElement(em->b, val, x->e[g + i], em_i32(em, i), "");
        }
        LLVMSetAlignment(LLVMBuildStore(em->b, val, ptr), (unsigned)(vec * s->esize));
    }
    em_only_end(em, cont);
}

static EVal smem_read(Emitter *em, const SmemTile *s, ValId v, DType dt)
{
    const Layout *l = em_layout(em, v);
    int n = layout_nregs(l), vec = smem_vec(l, s);
    EVal r = em_new_val(em, n);
    for (int g = 0; g < n; g += vec) {
        LLVMValueRef ptr = em_smem_at(em, smem_offset(em, s, v, g, l->rank));
        LLVMTypeRef ty = vec == 1 ? s->et : LLVMVectorType(s->et, (unsigned)vec);
        LLVMValueRef val = LLVMBuildLoad2(em->b, ty, ptr, "");
        LLVMSetAlignment(val, (unsigned)(vec * s->esize));
        if (vec == 1)
            r.e[g] = dt == DT_BOOL ? LLVMBuildTrunc(em->b, val, em->t_i1, "") : val;
        else
            for (int i = 0; i < vec; i++)
                r.e[g + i] = LLVMBuildExtractElement(em->b, val, em_i32(em, i), "");
    }
    return r;
}

/* Register k of dst (any distributed layout) read from the shared tile src. */
static LLVMValueRef shared_elem(Emitter *em, ValId src, ValId dst, int k)
{
    const Layout *s = em_layout(em, src);
    LLVMValueRef row, col;
    em_stored_rc(s, em_coord(em, dst, k, 0), em_coord(em, dst, k, 1), &row, &col);
    LLVMValueRef ptr = em_smem_at(em, em_shared_offset(em, s, em_val(em, src)->e[0], row, col));
    return LLVMBuildLoad2(em->b, em_elem_type(em, tir_type(em->f, dst).dt), ptr, "");
}

/* Reads any distributed layout from a shared tile, element by element. */
static void read_shared_generic(Emitter *em, ValId src, ValId dst)
{
    int n = layout_nregs(em_layout(em, dst));
    EVal r = em_new_val(em, n);
    for (int k = 0; k < n; k++)
        r.e[k] = shared_elem(em, src, dst, k);
    em->vals[dst] = r;
}

/* A register tile written into a shared tile of its own (a dot operand
 * the target stages, Target.plan_dot's stage_b), element by element; the
 * tile is complete and visible to every thread and to the async proxy
 * (wgmma) when it returns. */
static void write_shared_tile(Emitter *em, const TirInst *in)
{
    ValId src = in->args[0], dst = in->res[0];
    const Layout *s = em_layout(em, dst);
    LLVMValueRef base = em_i32(em, in->smem);
    tsr_assert(in->smem >= 0);
    em_barrier(em); /* the tile's previous contents may still be read */
    EVal *x = em_val(em, src);
    /* replicas write once */
    LLVMBasicBlockRef cont = em_only_begin(em, em_owner_mask(em, em_layout(em, src)), "stage.write", "stage.wrote");
    for (int k = 0; k < x->n; k++) {
        LLVMValueRef row, col;
        em_stored_rc(s, em_coord(em, src, k, 0), em_coord(em, src, k, 1), &row, &col);
        LLVMBuildStore(em->b, x->e[k], em_smem_at(em, em_shared_offset(em, s, base, row, col)));
    }
    em_only_end(em, cont);
    if (em->target->emit->publish_shared)
        em->target->emit->publish_shared(em);
    em_barrier(em);
    EVal r = em_new_val(em, 1);
    r.e[0] = base;
    em->vals[dst] = r;
}

bool em_is_deferred_operand(Emitter *em, ValId v)
{
    InstId def = tir_val(em->f, v)->def;
    return def != TIR_NONE && tir_inst(em->f, def)->op == TIR_CONVERT && em->fma_operand_only[v] &&
           em_layout(em, tir_inst(em->f, def)->args[0])->kind == LAYOUT_SHARED;
}

LLVMValueRef em_load_operand(Emitter *em, ValId v, int r)
{
    return shared_elem(em, tir_inst(em->f, tir_val(em->f, v)->def)->args[0], v, r);
}

void em_convert(Emitter *em, const TirInst *in)
{
    ValId src = in->args[0], dst = in->res[0];
    const Layout *ls = em_layout(em, src), *ld = em_layout(em, dst);
    if (ls->kind == LAYOUT_SHARED) {
        if (em_is_deferred_operand(em, dst))
            return; /* the dot on the CUDA cores reads the elements when it needs them */
        if (!em->target->emit->convert_from_shared(em, in))
            read_shared_generic(em, src, dst);
        return;
    }
    if (ld->kind == LAYOUT_SHARED) {
        write_shared_tile(em, in);
        return;
    }
    EVal *x = em_val(em, src);
    int n = layout_nregs(ld);
    int *map = arena_alloc(&em->arena, sizeof(int) * (size_t)n);
    if (layout_local_map(ls, ld, map)) {
        EVal r = em_new_val(em, n);
        for (int i = 0; i < n; i++)
            r.e[i] = x->e[map[i]];
        em->vals[dst] = r;
        return;
    }
    TType t = tir_type(em->f, src);
    SmemTile s = smem_tile(em, t, in->smem);
    tsr_assert(in->smem >= 0);
    em_barrier(em); /* the scratch may still be read by an earlier conversion */
    smem_write(em, &s, src, t.dt);
    em_barrier(em);
    em->vals[dst] = smem_read(em, &s, dst, t.dt);
}
