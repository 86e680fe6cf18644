/* The reducer (see reduce.h). Greedy: each step tries one change and keeps
 * it when the program still fails with the same verdict; it starts over
 * until no change helps or the time is up. Expression replacements never
 * raise a bound (zeros, or an operand with bounds no larger than the node's),
 * so the output tolerances of the original program stay valid. */
#include "reduce.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    Program *p;
    Verdict want;
    ReduceRun run;
    void *ctx;
    double deadline;
    int tries;
} Reducer;

static bool still_fails(Reducer *r)
{
    r->tries++;
    return r->run(r->p, r->ctx) == r->want;
}

static bool out_of_time(const Reducer *r) { return test_seconds() > r->deadline; }

/* Every statement list of the program, outermost first. */
typedef VEC(StmtList *) ListList;

static void collect_lists(StmtList *l, ListList *out)
{
    if (out->len == out->cap) {
        out->cap = out->cap ? 2 * out->cap : 16;
        out->data = tsr_xrealloc(out->data, (size_t)out->cap * sizeof *out->data);
    }
    out->data[out->len++] = l;
    for (int i = 0; i < l->len; i++) {
        collect_lists(&l->data[i]->body, out);
        collect_lists(&l->data[i]->els, out);
    }
}

static void list_remove(StmtList *l, int i)
{
    memmove(&l->data[i], &l->data[i + 1], (size_t)(l->len - i - 1) * sizeof *l->data);
    l->len--;
}

static void list_insert(StmtList *l, int i, Stmt *s)
{
    if (l->len == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->data = tsr_xrealloc(l->data, (size_t)l->cap * sizeof *l->data);
    }
    memmove(&l->data[i + 1], &l->data[i], (size_t)(l->len - i) * sizeof *l->data);
    l->data[i] = s;
    l->len++;
}

/* Deletes statements, last first; returns whether one went. */
static bool delete_statements(Reducer *r)
{
    ListList lists = { 0 };
    collect_lists(&r->p->body, &lists);
    bool progress = false;
    for (int li = lists.len - 1; li >= 0 && !out_of_time(r); li--) {
        StmtList *l = lists.data[li];
        for (int i = l->len - 1; i >= 0 && !out_of_time(r); i--) {
            Stmt *s = l->data[i];
            list_remove(l, i);
            if (still_fails(r)) {
                stmt_free(s);
                progress = true;
                /* the lists below may have been freed with s */
                free(lists.data);
                return true;
            }
            list_insert(l, i, s);
        }
    }
    free(lists.data);
    return progress;
}

/* Replaces a for, while, if or block by its body (an if also by its else). */
static bool unwrap_statements(Reducer *r)
{
    ListList lists = { 0 };
    collect_lists(&r->p->body, &lists);
    for (int li = 0; li < lists.len && !out_of_time(r); li++) {
        StmtList *l = lists.data[li];
        for (int i = 0; i < l->len && !out_of_time(r); i++) {
            Stmt *s = l->data[i];
            if (s->kind != ST_FOR && s->kind != ST_IF && s->kind != ST_BLOCK && s->kind != ST_WHILE)
                continue;
            for (int branch = 0; branch < 2; branch++) {
                StmtList *inner = branch ? &s->els : &s->body;
                if (branch && !inner->len)
                    continue;
                list_remove(l, i);
                for (int j = 0; j < inner->len; j++)
                    list_insert(l, i + j, inner->data[j]);
                if (still_fails(r)) {
                    inner->len = 0; /* now owned by l */
                    stmt_free(s);
                    free(lists.data);
                    return true;
                }
                for (int j = 0; j < inner->len; j++)
                    list_remove(l, i);
                list_insert(l, i, s);
            }
        }
    }
    free(lists.data);
    return false;
}

/* Every place an expression hangs from, outermost first. */
typedef VEC(Node **) SlotList;

static void slot_push(SlotList *s, Node **n)
{
    if (s->len == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->data = tsr_xrealloc(s->data, (size_t)s->cap * sizeof *s->data);
    }
    s->data[s->len++] = n;
}

static void collect_node_slots(Node **n, SlotList *out)
{
    if (!*n)
        return;
    slot_push(out, n);
    for (int i = 0; i < (*n)->nkids; i++)
        collect_node_slots(&(*n)->kid[i], out);
}

static void collect_slots(StmtList *l, SlotList *out)
{
    for (int i = 0; i < l->len; i++) {
        collect_node_slots(&l->data[i]->e, out);
        collect_slots(&l->data[i]->body, out);
        collect_slots(&l->data[i]->els, out);
    }
}

static bool is_zero_leaf(const Node *n) { return n->nkids == 0 && (!strncmp(n->tmpl, "zeros<", 6) || strstr(n->tmpl, "(0)")); }

/* Replaces an expression by zeros of its type or by an operand of the same
 * type and no larger bounds. */
static bool simplify_expressions(Reducer *r)
{
    SlotList slots = { 0 };
    collect_slots(&r->p->body, &slots);
    for (int i = 0; i < slots.len && !out_of_time(r); i++) {
        Node **slot = slots.data[i], *n = *slot;
        if (!n)
            continue;
        for (int k = -1; k < n->nkids; k++) {
            Node *repl;
            if (k < 0) {
                if (is_zero_leaf(n) || !strcmp(n->tmpl, "program_id(1) == 0"))
                    continue;
                repl = node_leaf(n->ty);
            } else {
                Node *c = n->kid[k];
                if (c->ty.dt != n->ty.dt || c->ty.rank != n->ty.rank || memcmp(c->ty.d, n->ty.d, sizeof c->ty.d) ||
                    c->mag > n->mag || c->err > n->err)
                    continue;
                repl = c;
            }
            *slot = repl;
            if (still_fails(r)) {
                if (k >= 0)
                    n->kid[k] = NULL; /* lives on in the slot */
                node_free(n);
                free(slots.data);
                return true;
            }
            *slot = n;
            if (k < 0)
                node_free(repl);
        }
    }
    free(slots.data);
    return false;
}

/* Smaller sizes, tiles, warps and pipeline depth; no resource clauses. */
static bool shrink_sizes(Reducer *r)
{
    Program *p = r->p;
    int *knobs[] = { &p->bm, &p->bn, &p->bk, &p->warps, &p->sizes[0], &p->sizes[1], &p->sizes[2], &p->depth,
                     &p->sizes[3], &p->regs, &p->min_blocks };
    for (size_t i = 0; i < TSR_ARRAY_LEN(knobs) && !out_of_time(r); i++) {
        int old = *knobs[i];
        int cands[3] = { i >= 9 ? 0 : 1, old / 2, old - 1 };
        for (int c = 0; c < (i >= 9 ? 1 : 3); c++) {
            int v = cands[c];
            if (v < (i >= 9 ? 0 : 1) || v >= old || (i < 4 && (v & (v - 1))))
                continue; /* tiles and warps stay powers of two; a clause goes whole */
            *knobs[i] = v;
            if (still_fails(r))
                return true;
            *knobs[i] = old;
        }
    }
    return false;
}

/* Drops kernel parameters the program no longer uses (a used one makes the
 * candidate invalid, so it stays); makes strided tensors dense. */
static bool remove_params(Reducer *r)
{
    Program *p = r->p;
    for (int i = 0; i < p->nparams && !out_of_time(r); i++) {
        MemLayout old = p->params[i].layout;
        if (old == MEM_DENSE)
            continue;
        p->params[i].layout = MEM_DENSE;
        if (still_fails(r))
            return true;
        p->params[i].layout = old;
    }
    for (int i = p->nparams - 1; i >= 0 && !out_of_time(r); i--) {
        Param saved = p->params[i];
        memmove(&p->params[i], &p->params[i + 1], (size_t)(p->nparams - i - 1) * sizeof *p->params);
        p->nparams--;
        if (still_fails(r))
            return true;
        memmove(&p->params[i + 1], &p->params[i], (size_t)(p->nparams - i) * sizeof *p->params);
        p->params[i] = saved;
        p->nparams++;
    }
    return false;
}

int reduce_program(Program *p, Verdict want, ReduceRun run, void *ctx, double seconds)
{
    Reducer r = { p, want, run, ctx, test_seconds() + seconds, 0 };
    bool progress = true;
    while (progress && !out_of_time(&r))
        progress = delete_statements(&r) || unwrap_statements(&r) || simplify_expressions(&r) || shrink_sizes(&r) ||
                   remove_params(&r);
    return r.tries;
}
