/* Loops and iteration paths of a SASS listing (see sass.h). */
#include "sass.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_INSTS = 1 << 20, NAME_LEN = 64 };

/* One instruction: how control leaves it. */
typedef struct {
    char op[16];           /* the opcode with its modifiers, e.g. "BRA" or "CALL.REL.NOINC" */
    char target[NAME_LEN]; /* the label it may go to ("" when none) */
    bool guarded;          /* a predicate may skip it: the next instruction can follow */
    bool mma;
} Inst;

typedef struct {
    char name[NAME_LEN];
    int at; /* the instruction that follows it */
} Label;

typedef struct {
    Inst *insts;
    int n, cap;
    Label *labels;
    int nlabels, lcap;
} Listing;

static bool grow(void **p, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return true;
    int c = *cap ? *cap * 2 : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * size);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Copies the token at s that ends at a character of `stop` into buf. */
static void token(const char *s, const char *stop, char *buf, size_t n)
{
    size_t len = strcspn(s, stop);
    if (len >= n)
        len = n - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
}

/* An instruction line: an address comment, an optional predicate, the
 * opcode, its operands. */
static bool parse_inst(const char *p, Inst *in)
{
    memset(in, 0, sizeof *in);
    if (p[0] != '/' || p[1] != '*')
        return false;
    const char *e = strstr(p, "*/");
    if (!e || e - p < 3 || strspn(p + 2, "0123456789abcdef") != (size_t)(e - p - 2))
        return false;
    p = e + 2;
    p += strspn(p, " \t");
    if (*p == '@') {
        /* @PT always holds; any other predicate may not */
        in->guarded = !(starts(p, "@PT ") || starts(p, "@PT\t"));
        p += strcspn(p, " \t\n");
        p += strspn(p, " \t");
    }
    if (!(*p >= 'A' && *p <= 'Z'))
        return false;
    token(p, " \t;\n", in->op, sizeof in->op);
    in->mma = starts(in->op, "HMMA") || starts(in->op, "HGMMA");
    const char *eol = p + strcspn(p, "\n");
    const char *t = strstr(p, "`(");
    if (t && t < eol) {
        token(t + 2, ")\n", in->target, sizeof in->target);
        /* a predicate among the operands (BRA.U !UP0, `(...)) makes it conditional */
        for (const char *q = p + strlen(in->op); q < t; q++)
            if (*q == ',')
                in->guarded = true;
    }
    return true;
}

static bool parse(const char *text, Listing *l)
{
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *p = line + strspn(line, " \t");
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        Inst in;
        if (parse_inst(p, &in)) {
            if (l->n >= MAX_INSTS || !grow((void **)&l->insts, &l->cap, l->n + 1, sizeof(Inst)))
                return false;
            l->insts[l->n++] = in;
        } else if (p == line && len > 1 && p[len - 1] == ':' && *p != '/') {
            /* a label: at the start of the line, ending in a colon */
            if (!grow((void **)&l->labels, &l->lcap, l->nlabels + 1, sizeof(Label)))
                return false;
            Label *lb = &l->labels[l->nlabels++];
            token(p, ":", lb->name, sizeof lb->name);
            lb->at = l->n;
        }
        line = nl ? nl + 1 : NULL;
    }
    return true;
}

/* Where a branch goes: the instruction index of its label, -1 for none (no
 * target, a function's name, or a label not in the listing). */
static int jump_target(const Listing *l, const Inst *in)
{
    if (!in->target[0])
        return -1;
    bool jump = starts(in->op, "BRA") || starts(in->op, "JMP") ||
                (starts(in->op, "CALL") && strstr(in->op, "NOINC") && in->target[0] == '.');
    if (!jump)
        return -1;
    for (int i = 0; i < l->nlabels; i++)
        if (!strcmp(l->labels[i].name, in->target))
            return l->labels[i].at < l->n ? l->labels[i].at : -1;
    return -1;
}

/* Whether the next instruction can follow this one. */
static bool falls_through(const Listing *l, const Inst *in)
{
    if (in->guarded)
        return true;
    if (jump_target(l, in) >= 0)
        return false;
    return !(starts(in->op, "EXIT") || starts(in->op, "RET") || starts(in->op, "BRX") || starts(in->op, "JMX") ||
             starts(in->op, "BRA") || starts(in->op, "JMP"));
}

/* The control-flow graph of the instructions: at most two successors each
 * (-1: none), their predecessors, an order in which every edge but the
 * retreating ones goes forward (reverse postorder from the first
 * instruction; -1 for instructions not reached, such as subroutines only
 * called) and immediate dominators. */
typedef struct {
    int (*succ)[2];
    int *pred_start, *preds; /* preds[pred_start[i] .. pred_start[i+1]) */
    int *rpo;                /* instruction -> position, or -1 */
    int *order;              /* position -> instruction */
    int nreached;
    int *idom;
} Cfg;

static void cfg_free(Cfg *g)
{
    free(g->succ);
    free(g->pred_start);
    free(g->preds);
    free(g->rpo);
    free(g->order);
    free(g->idom);
}

/* Reverse postorder by an explicit depth-first stack. */
static void cfg_order(Cfg *g, int n, int *stack, int *next)
{
    int post = n, top = 0;
    for (int i = 0; i < n; i++)
        g->rpo[i] = -2; /* unvisited */
    if (n == 0)
        return;
    stack[top++] = 0;
    next[0] = 0;
    g->rpo[0] = -1; /* on the stack */
    while (top) {
        int u = stack[top - 1];
        if (next[u] < 2) {
            int v = g->succ[u][next[u]++];
            if (v >= 0 && g->rpo[v] == -2) {
                g->rpo[v] = -1;
                next[v] = 0;
                stack[top++] = v;
            }
            continue;
        }
        g->order[--post] = u;
        top--;
    }
    /* positions 0.. for the reached ones */
    g->nreached = n - post;
    for (int k = 0; k < g->nreached; k++)
        g->order[k] = g->order[post + k];
    for (int i = 0; i < n; i++)
        g->rpo[i] = -1;
    for (int k = 0; k < g->nreached; k++)
        g->rpo[g->order[k]] = k;
}

/* Immediate dominators by the iterative algorithm over reverse postorder
 * (Cooper, Harvey and Kennedy's "A Simple, Fast Dominance Algorithm"). */
static void cfg_dominators(Cfg *g, int n)
{
    for (int i = 0; i < n; i++)
        g->idom[i] = -1;
    if (!g->nreached)
        return;
    g->idom[g->order[0]] = g->order[0];
    for (bool changed = true; changed;) {
        changed = false;
        for (int k = 1; k < g->nreached; k++) {
            int b = g->order[k], d = -1;
            for (int p = g->pred_start[b]; p < g->pred_start[b + 1]; p++) {
                int q = g->preds[p];
                if (g->rpo[q] < 0 || g->idom[q] < 0)
                    continue;
                if (d < 0) {
                    d = q;
                    continue;
                }
                int x = q, y = d;
                while (x != y) {
                    while (g->rpo[x] > g->rpo[y])
                        x = g->idom[x];
                    while (g->rpo[y] > g->rpo[x])
                        y = g->idom[y];
                }
                d = x;
            }
            if (d >= 0 && g->idom[b] != d) {
                g->idom[b] = d;
                changed = true;
            }
        }
    }
}

static bool dominates(const Cfg *g, int a, int b)
{
    if (g->rpo[b] < 0)
        return false;
    for (;;) {
        if (b == a)
            return true;
        if (g->idom[b] == b || g->idom[b] < 0)
            return false;
        b = g->idom[b];
    }
}

static bool cfg_build(const Listing *l, Cfg *g)
{
    int n = l->n;
    memset(g, 0, sizeof *g);
    g->succ = malloc(((size_t)n + 1) * sizeof *g->succ);
    g->pred_start = calloc((size_t)n + 2, sizeof(int));
    g->preds = malloc(((size_t)n * 2 + 1) * sizeof(int));
    g->rpo = malloc(((size_t)n + 1) * sizeof(int));
    g->order = malloc(((size_t)n + 1) * sizeof(int));
    g->idom = malloc(((size_t)n + 1) * sizeof(int));
    int *stack = malloc(((size_t)n + 1) * sizeof(int)), *next = malloc(((size_t)n + 1) * sizeof(int));
    bool ok = g->succ && g->pred_start && g->preds && g->rpo && g->order && g->idom && stack && next;
    if (ok) {
        for (int i = 0; i < n; i++) {
            g->succ[i][0] = jump_target(l, &l->insts[i]);
            g->succ[i][1] = falls_through(l, &l->insts[i]) && i + 1 < n ? i + 1 : -1;
            for (int s = 0; s < 2; s++)
                if (g->succ[i][s] >= 0)
                    g->pred_start[g->succ[i][s] + 2]++;
        }
        for (int i = 0; i < n; i++)
            g->pred_start[i + 2] += g->pred_start[i + 1];
        for (int i = 0; i < n; i++) /* pred_start[v + 1] is v's fill point */
            for (int s = 0; s < 2; s++)
                if (g->succ[i][s] >= 0)
                    g->preds[g->pred_start[g->succ[i][s] + 1]++] = i;
        cfg_order(g, n, stack, next);
        cfg_dominators(g, n);
    }
    free(stack);
    free(next);
    if (!ok)
        cfg_free(g);
    return ok;
}

/* The natural loop of header t (its back edges' sources already marked in
 * in[]): every instruction that reaches a back edge without passing t. */
static void natural_loop(const Cfg *g, int t, char *in, int *work, int nwork)
{
    in[t] = 1;
    while (nwork) {
        int v = work[--nwork];
        for (int p = g->pred_start[v]; p < g->pred_start[v + 1]; p++) {
            int q = g->preds[p];
            if (!in[q] && g->rpo[q] >= 0) {
                in[q] = 1;
                work[nwork++] = q;
            }
        }
    }
}

/* The shortest and longest paths from the header to a branch back to it,
 * over the loop's instructions in reverse postorder: the edges that go
 * back in it (inner loops' back edges) are left out, so an inner loop
 * counts once through. */
static void loop_paths(const Cfg *g, const char *in, int t, int *mn, int *mx, SassLoop *lp)
{
    int best_min = -1, best_max = -1;
    for (int k = g->rpo[t]; k < g->nreached; k++)
        mn[g->order[k]] = mx[g->order[k]] = -1;
    mn[t] = mx[t] = 1;
    for (int k = g->rpo[t]; k < g->nreached; k++) {
        int u = g->order[k];
        if (!in[u] || mn[u] < 0)
            continue;
        for (int s = 0; s < 2; s++) {
            int v = g->succ[u][s];
            if (v < 0 || !in[v])
                continue; /* leaves the loop */
            if (v == t) { /* one iteration */
                best_min = best_min < 0 || mn[u] < best_min ? mn[u] : best_min;
                best_max = mx[u] > best_max ? mx[u] : best_max;
            } else if (g->rpo[v] > k) {
                mn[v] = mn[v] < 0 || mn[u] + 1 < mn[v] ? mn[u] + 1 : mn[v];
                mx[v] = mx[u] + 1 > mx[v] ? mx[u] + 1 : mx[v];
            }
        }
    }
    lp->shortest = best_min > 0 ? best_min : 0;
    lp->longest = best_max > 0 ? best_max : 0;
}

int sass_loops(const char *listing, SassLoop *out, int max)
{
    Listing l = { 0 };
    Cfg g;
    if (!parse(listing ? listing : "", &l) || !cfg_build(&l, &g)) {
        free(l.insts);
        free(l.labels);
        return -1;
    }
    int n = 0, cap = 0;
    int *heads = NULL; /* loop k's header */
    SassLoop *all = NULL;
    /* back edges: to an instruction that dominates the branch */
    for (int i = 0; i < l.n && n >= 0; i++) {
        int t = g.succ[i][0];
        if (t < 0 || !dominates(&g, t, i))
            continue;
        int k = 0;
        while (k < n && heads[k] != t)
            k++;
        if (k == n) {
            if (!grow((void **)&all, &cap, n + 1, sizeof *all) || !(heads = realloc(heads, (size_t)cap * sizeof *heads))) {
                n = -1;
                break;
            }
            memset(&all[n], 0, sizeof *all);
            heads[n++] = t;
        }
        all[k].last = i; /* several back edges to one header: the last one */
    }
    char *in = calloc((size_t)l.n + 1, 1);
    int *work = malloc(((size_t)l.n + 1) * sizeof(int)), *mn = malloc(((size_t)l.n + 1) * sizeof(int)),
        *mx = malloc(((size_t)l.n + 1) * sizeof(int));
    if (!in || !work || !mn || !mx)
        n = -1;
    for (int k = 0; k < n; k++) {
        SassLoop *lp = &all[k];
        int t = heads[k], nwork = 0;
        memset(in, 0, (size_t)l.n);
        for (int i = 0; i < l.n; i++)
            if (g.succ[i][0] == t && dominates(&g, t, i) && !in[i]) {
                in[i] = 1;
                work[nwork++] = i;
            }
        natural_loop(&g, t, in, work, nwork);
        lp->first = t;
        for (int i = 0; i < l.n; i++) {
            if (!in[i])
                continue;
            lp->first = i < lp->first ? i : lp->first;
            lp->instructions++;
            lp->mma += l.insts[i].mma;
        }
        loop_paths(&g, in, t, mn, mx, lp);
        if (k < max)
            out[k] = *lp;
    }
    free(in);
    free(work);
    free(mn);
    free(mx);
    free(heads);
    free(all);
    cfg_free(&g);
    free(l.insts);
    free(l.labels);
    return n;
}

/* Loop a holds loop b (listing ranges). */
static bool holds(const SassLoop *a, const SassLoop *b)
{
    return a != b && a->first <= b->first && b->last <= a->last;
}

int sass_main_loop(const SassLoop *loops, int n)
{
    int most = 0;
    for (int k = 0; k < n; k++)
        most = loops[k].mma > most ? loops[k].mma : most;
    int best = -1;
    for (int k = 0; k < n; k++) {
        const SassLoop *a = &loops[k];
        if (most == 0) { /* no tensor-core work: the longest loop */
            if (best < 0 || a->instructions > loops[best].instructions)
                best = k;
            continue;
        }
        if (a->mma != most)
            continue;
        bool inner = true;
        for (int j = 0; j < n && inner; j++)
            inner = !(loops[j].mma == most && holds(a, &loops[j]));
        if (inner && (best < 0 || a->first < loops[best].first))
            best = k;
    }
    return best;
}
