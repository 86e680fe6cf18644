/* Shared-memory planning: gives every user of dynamic shared memory a byte
 * offset, reusing space whose user is done.
 *
 * Users: shared tiles filled by a load (live from the load to their last
 * use), multi-stage buffers of pipelined loops (live from the prologue's
 * copies to the end of the loop), and the scratch that conversions and
 * cross-warp reductions pass data through (live for their instruction).
 * Instructions are numbered in program order with nested blocks inline; a
 * use inside a loop that does not define the value keeps it alive to the
 * end of that loop, since the next iteration reads it again. Allocation is
 * first-fit over offsets, by start. Code generation puts a barrier before
 * every write to a reused place (each shared tile, copy prologue and
 * scratch use begins with one), so a new user never overwrites data another
 * warp still reads. */
#include "passes.h"
#include "oom.h"

#include <stdlib.h>

/* ---------------------------------------------------- what needs space */

int smem_convert_pitch(TType t)
{
    int esize = t.dt == DT_BOOL ? 1 : dtype_size(t.dt);
    int cols = t.rank ? t.shape[t.rank - 1] : 1;
    /* 16 bytes of padding per row keeps column accesses off one bank. */
    return t.rank == 2 ? cols + 16 / esize : cols;
}

size_t smem_convert_bytes(TType t)
{
    int esize = t.dt == DT_BOOL ? 1 : dtype_size(t.dt);
    size_t rows = t.rank == 2 ? (size_t)t.shape[0] : 1;
    return rows * (size_t)smem_convert_pitch(t) * (size_t)esize;
}


size_t smem_scratch_bytes(TirFunc *f, const TirInst *in)
{
    if (in->op == TIR_REDUCE) {
        const Layout *l = tir_layout(f, in->args[0]);
        /* warps along the reduced axis: their partial results meet in
         * shared memory */
        int slots = l ? layout_warp_slots(l, in->axis) : 1;
        return slots > 1 ? (size_t)slots * (size_t)ttype_numel(tir_type(f, in->res[0])) * 4 : 0;
    }
    if (in->op == TIR_CONVERT) {
        const Layout *ls = tir_layout(f, in->args[0]), *ld = tir_layout(f, in->res[0]);
        if (!ls || !ld || ls->kind == LAYOUT_SHARED || ld->kind == LAYOUT_SHARED)
            return 0;
        int *map = tsr_xmalloc(sizeof(int) * (size_t)layout_nregs(ld));
        int slot = oom_defer_free(map);
        bool local = layout_local_map(ls, ld, map);
        oom_free(slot, map);
        return local ? 0 : smem_convert_bytes(tir_type(f, in->res[0]));
    }
    if (in->op == TIR_RESHAPE && !tir_reshape_in_registers(f, in)) /* backend/codegen_reshape.c */
        return (size_t)ttype_numel(tir_type(f, in->res[0])) * (size_t)dtype_size(tir_type(f, in->res[0]).dt);
    return 0;
}

/* ------------------------------------------------------------ lifetimes */

typedef struct {
    int start, end;
    size_t bytes;
    size_t align; /* a power of two, at least 128 */
    int *offset;  /* where the result goes */
} Interval;

typedef struct {
    TirFunc *f;
    int *pos;       /* per instruction: its number in program order */
    int *loop_end;  /* per instruction that is a FOR: the number after its body */
    InstId *loop_of; /* per instruction: the innermost enclosing FOR, or TIR_NONE */
    int next;
} Numbering;

static void number_block(Numbering *n, BlockId b, InstId loop)
{
    TirBlock *bl = tir_block(n->f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        InstId id = bl->insts.data[i];
        TirInst *in = tir_inst(n->f, id);
        n->pos[id] = n->next++;
        n->loop_of[id] = loop;
        for (int k = 0; k < 2; k++)
            if ((in->op == TIR_FOR || in->op == TIR_IF) && in->blocks[k] != TIR_NONE)
                number_block(n, in->blocks[k], in->op == TIR_FOR ? id : loop);
        if (in->op == TIR_FOR)
            n->loop_end[id] = n->next++;
    }
}

/* Whether instruction `use` lies inside loop `l` (transitively). */
static bool inside(Numbering *n, InstId use, InstId l)
{
    for (InstId x = n->loop_of[use]; x != TIR_NONE; x = n->loop_of[x])
        if (x == l)
            return true;
    return false;
}

/* The last position at which `use` needs something defined at `def`. */
static int use_end(Numbering *n, InstId def, InstId use)
{
    int end = n->pos[use];
    for (InstId l = n->loop_of[use]; l != TIR_NONE; l = n->loop_of[l])
        if (!inside(n, def, l) && n->loop_end[l] > end)
            end = n->loop_end[l];
    return end;
}

/* Uses of v, following transposes (views of the same tile) and conversions
 * out of it (code generation may read the tile only where the converted
 * value is used: mma fragments and dot operands on the CUDA cores). */
static int value_end(Numbering *n, InstId def, ValId v, int end)
{
    TirFunc *f = n->f;
    for (BlockId b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        for (int i = 0; i < bl->insts.len; i++) {
            TirInst *in = tir_inst(f, bl->insts.data[i]);
            for (int a = 0; a < in->nargs; a++) {
                if (in->args[a] != v)
                    continue;
                int e = use_end(n, def, bl->insts.data[i]);
                if (e > end)
                    end = e;
                if (in->op == TIR_TRANSPOSE || in->op == TIR_CONVERT)
                    end = value_end(n, def, in->res[0], end);
            }
        }
    }
    return end;
}

typedef VEC(Interval) IntervalVec;

static void add(Arena *a, IntervalVec *iv, int start, int end, size_t bytes, size_t align, int *offset)
{
    Interval x = { start, end, bytes, align, offset };
    vec_push(a, *iv, x);
}

static int by_start(const void *x, const void *y)
{
    const Interval *a = x, *b = y;
    return a->start != b->start ? a->start - b->start : (b->bytes > a->bytes) - (b->bytes < a->bytes);
}

/* First fit: the lowest suitably aligned offset free during [start, end];
 * *align becomes the largest alignment asked for. */
static void allocate(IntervalVec *iv, size_t *total, size_t *align)
{
    *total = 0;
    *align = 128;
    if (iv->len == 0)
        return;
    qsort(iv->data, (size_t)iv->len, sizeof(Interval), by_start);
    for (int i = 0; i < iv->len; i++) {
        Interval *x = &iv->data[i];
        size_t off = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int j = 0; j < i; j++) {
                Interval *y = &iv->data[j];
                bool overlap_time = y->start <= x->end && x->start <= y->end;
                size_t yo = (size_t)*y->offset;
                if (overlap_time && off < yo + y->bytes && yo < off + x->bytes) {
                    off = (yo + y->bytes + x->align - 1) & ~(x->align - 1);
                    moved = true;
                }
            }
        }
        *x->offset = (int)off;
        if (x->align > *align)
            *align = x->align;
        if (off + x->bytes > *total)
            *total = off + x->bytes;
    }
}

bool tir_pass_smem(TirFunc *f, const Target *t)
{
    Arena *arena = oom_arena_open();
    Numbering n = { 0 };
    n.f = f;
    size_t ni = (size_t)f->insts.len + 1;
    n.pos = arena_alloc(arena, sizeof(int) * ni);
    n.loop_end = arena_alloc(arena, sizeof(int) * ni);
    n.loop_of = arena_alloc(arena, sizeof(InstId) * ni);
    number_block(&n, f->body, TIR_NONE);

    IntervalVec iv = { 0 };
    int *buf_start = arena_alloc(arena, sizeof(int) * (size_t)(f->buffers.len + 1));
    int *buf_end = arena_alloc(arena, sizeof(int) * (size_t)(f->buffers.len + 1));
    for (int i = 0; i < f->buffers.len; i++) {
        buf_start[i] = -1;
        buf_end[i] = -1;
    }
    for (BlockId b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        for (int i = 0; i < bl->insts.len; i++) {
            InstId id = bl->insts.data[i];
            TirInst *in = tir_inst(f, id);
            in->smem = -1;
            const Layout *l = in->nres == 1 ? tir_layout(f, in->res[0]) : NULL;
            if ((in->op == TIR_LOAD || in->op == TIR_CONVERT) && l && l->kind == LAYOUT_SHARED) {
                size_t bytes = (size_t)ttype_numel(tir_type(f, in->res[0])) * (size_t)l->esize;
                add(arena, &iv, n.pos[id], value_end(&n, id, in->res[0], n.pos[id]), bytes,
                    (size_t)layout_shared_align(l), &in->smem);
            } else if (in->op == TIR_ASYNC_COPY || in->op == TIR_SMEM_TILE) {
                int s = n.pos[id], e = in->op == TIR_SMEM_TILE ? value_end(&n, id, in->res[0], s) : s;
                /* copies of a later iteration land while this loop runs */
                for (InstId lp = n.loop_of[id]; lp != TIR_NONE; lp = n.loop_of[lp])
                    if (n.loop_end[lp] > e)
                        e = n.loop_end[lp];
                if (buf_start[in->buf] < 0 || s < buf_start[in->buf])
                    buf_start[in->buf] = s;
                if (e > buf_end[in->buf])
                    buf_end[in->buf] = e;
            } else {
                size_t bytes = smem_scratch_bytes(f, in);
                if (bytes)
                    add(arena, &iv, n.pos[id], n.pos[id], bytes, 128, &in->smem);
            }
        }
    }
    for (int i = 0; i < f->buffers.len; i++) {
        TirBuffer *buf = &f->buffers.data[i];
        size_t bytes = (size_t)buf->stages * (size_t)ttype_numel(buf->type) * (size_t)dtype_size(buf->type.dt);
        /* +1: the copies still in flight after the loop land before the
         * wait that follows it */
        /* every stage starts aligned: a stage's bytes are a multiple of
         * the alignment (whole groups of 8 rows) */
        if (buf_start[i] >= 0)
            add(arena, &iv, buf_start[i], buf_end[i] + 1, bytes,
                (size_t)layout_shared_align(&f->layouts.data[buf->layout]), &buf->offset);
    }
    allocate(&iv, &f->smem_bytes, &f->smem_align);
    oom_arena_close(arena);
    return true;
}
