/* Common subexpression elimination over the block tree: a pure instruction
 * equal to one that dominates it (same op, attributes, operands and type) is
 * replaced by it. Loads are never merged (a store may come between), nor are
 * constants whose bits differ (0.0 and -0.0 are different constants).
 *
 * One walk in dominance order: candidates sit in a hash table whose chains
 * are scoped, so leaving a nested block forgets its candidates; the operands
 * of each instruction are renamed through `repl` before it is looked up, so
 * the whole pass is linear in the size of the function. */
#include "passes.h"
#include "oom.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    TirFunc *f;
    InstId *head;  /* per bucket: the innermost candidate, or TIR_NONE */
    InstId *next;  /* per instruction: the next candidate of its bucket */
    InstId *stack; /* candidates in the order they were added */
    int sp;
    unsigned nbuckets;
    ValId *repl; /* per value: what replaces it, or TIR_NONE */
} Cse;

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

static uint64_t hash_inst(TirFunc *f, const TirInst *in)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = mix(h, (uint64_t)in->op);
    for (int i = 0; i < in->nargs; i++)
        h = mix(h, (uint64_t)(uint32_t)in->args[i]);
    uint64_t fbits;
    memcpy(&fbits, &in->fval, sizeof fbits);
    h = mix(h, (uint64_t)in->ival);
    h = mix(h, fbits);
    h = mix(h, (uint64_t)(uint32_t)in->axis);
    h = mix(h, (uint64_t)(uint32_t)in->param);
    h = mix(h, (uint64_t)(uint32_t)in->sym);
    TType t = tir_type(f, in->res[0]);
    h = mix(h, (uint64_t)t.dt);
    for (int i = 0; i < t.rank; i++)
        h = mix(h, (uint64_t)t.shape[i]);
    /* The multiplications carry only upward: fold the high bits (where a
     * double's bits differ) into the low ones that pick the bucket. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static bool same_inst(TirFunc *f, const TirInst *a, const TirInst *b)
{
    if (a->op != b->op || a->nargs != b->nargs || a->nres != 1 || b->nres != 1)
        return false;
    /* Bitwise: 0.0 and -0.0 differ, and a NaN constant equals itself. */
    if (a->ival != b->ival || memcmp(&a->fval, &b->fval, sizeof a->fval) != 0 || a->axis != b->axis ||
        a->param != b->param || a->sym != b->sym || a->kind != b->kind || a->stages != b->stages || a->buf != b->buf)
        return false;
    for (int i = 0; i < a->nargs; i++)
        if (a->args[i] != b->args[i])
            return false;
    for (int i = 0; i < TIR_MAX_RANK; i++)
        if (a->lens[i] != b->lens[i])
            return false;
    return ttype_eq(tir_type(f, a->res[0]), tir_type(f, b->res[0])) &&
           tir_val(f, a->res[0])->layout == tir_val(f, b->res[0])->layout;
}

static ValId renamed(const Cse *c, ValId v) { return c->repl[v] == TIR_NONE ? v : c->repl[v]; }

static bool cse_block(Cse *c, BlockId b)
{
    TirFunc *f = c->f;
    bool changed = false;
    int mark = c->sp;
    TirBlock *bl = tir_block(f, b);
    int out = 0;
    for (int i = 0; i < bl->insts.len; i++) {
        InstId id = bl->insts.data[i];
        TirInst *in = tir_inst(f, id);
        for (int a = 0; a < in->nargs; a++)
            in->args[a] = renamed(c, in->args[a]);
        for (int k = 0; k < 2; k++)
            if (in->blocks[k] != TIR_NONE && (in->op == TIR_FOR || in->op == TIR_IF))
                changed |= cse_block(c, in->blocks[k]);
        bool candidate = tir_op_is_pure(in->op) && !tir_op_reads_memory(in->op) && in->nres == 1;
        if (!candidate) {
            bl->insts.data[out++] = id;
            continue;
        }
        unsigned bucket = (unsigned)(hash_inst(f, in) & (c->nbuckets - 1));
        InstId dup = c->head[bucket];
        while (dup != TIR_NONE && !same_inst(f, tir_inst(f, dup), in))
            dup = c->next[dup];
        if (dup != TIR_NONE) {
            c->repl[in->res[0]] = tir_inst(f, dup)->res[0];
            changed = true;
            continue; /* drop it */
        }
        c->next[id] = c->head[bucket];
        c->head[bucket] = id;
        c->stack[c->sp++] = id;
        bl->insts.data[out++] = id;
    }
    bl->insts.len = out;
    /* Forget this block's candidates: they are the innermost of their chains. */
    while (c->sp > mark) {
        InstId id = c->stack[--c->sp];
        unsigned bucket = (unsigned)(hash_inst(f, tir_inst(f, id)) & (c->nbuckets - 1));
        c->head[bucket] = c->next[id];
    }
    return changed;
}

bool tir_pass_cse(TirFunc *f, const Target *t)
{
    Cse c = { 0 };
    c.f = f;
    c.nbuckets = 64;
    while (c.nbuckets < (unsigned)f->insts.len * 2u)
        c.nbuckets *= 2;
    Arena *scratch = oom_arena_open();
    c.head = arena_alloc(scratch, sizeof(InstId) * c.nbuckets);
    for (unsigned i = 0; i < c.nbuckets; i++)
        c.head[i] = TIR_NONE;
    c.next = arena_alloc(scratch, sizeof(InstId) * ((size_t)f->insts.len + 1));
    c.stack = arena_alloc(scratch, sizeof(InstId) * ((size_t)f->insts.len + 1));
    c.repl = arena_alloc(scratch, sizeof(ValId) * ((size_t)f->vals.len + 1));
    for (int i = 0; i < f->vals.len; i++)
        c.repl[i] = TIR_NONE;
    /* The grid block and the body are separate programs (host and device). */
    bool changed = cse_block(&c, f->grid_block);
    for (int i = 0; i < 3; i++)
        if (f->grid[i] != TIR_NONE)
            f->grid[i] = renamed(&c, f->grid[i]);
    changed |= cse_block(&c, f->body);
    for (int i = 0; i < f->buffers.len; i++) /* the values a ring records */
        if (f->buffers.data[i].ahead != TIR_NONE)
            f->buffers.data[i].ahead = renamed(&c, f->buffers.data[i].ahead);
    oom_arena_close(scratch);
    return changed;
}
