/* Reconvergence points. A warp that diverges at a branch runs each side with
 * part of its lanes and joins them again at the branch's immediate
 * post-dominator: the first instruction every path from the branch must reach.
 * This file builds the basic blocks of a decoded kernel, computes
 * post-dominators with the iterative algorithm of Cooper, Harvey and Kennedy
 * on the reversed graph (with a virtual exit after every exit), and stores the
 * reconvergence pc in each branch (-1 when the paths only meet at the exit). */
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"
#include "oom.h"

typedef struct {
    int n;          /* blocks; node n is the virtual exit */
    int *start;     /* first instruction of each block */
    int *succ_off;  /* CSR successors, node n has none */
    int *succ;
    int *pred_off;  /* CSR predecessors (reverse edges), including the exit's */
    int *pred;
} Graph;

static int intersect(const int *idom, const int *po, int a, int b)
{
    while (a != b) {
        while (po[a] < po[b])
            a = idom[a];
        while (po[b] < po[a])
            b = idom[b];
    }
    return a;
}

/* Successors of the block ending at instruction `last` (-1 is the exit). */
static int block_succs(const Kernel *k, const int *block_of, int last, int exit_node, int out[2])
{
    const Insn *in = &k->code[last];
    int n = 0;
    bool fall = last + 1 < k->ncode;
    if (in->ctl == CTL_BRA) {
        out[n++] = block_of[in->target];
        if (in->guard >= 0 && fall && block_of[last + 1] != out[0])
            out[n++] = block_of[last + 1];
    } else if (in->ctl == CTL_EXIT || in->ctl == CTL_RET) {
        out[n++] = exit_node;
        if (in->guard >= 0 && fall)
            out[n++] = block_of[last + 1];
    } else if (fall) {
        out[n++] = block_of[last + 1];
    } else {
        out[n++] = exit_node;
    }
    return n;
}

int emu_cfg_reconv(Kernel *k, StrBuf *err)
{
    int ni = k->ncode;
    bool *leader = calloc((size_t)ni + 1, sizeof *leader);
    int *block_of = malloc(sizeof(int) * ((size_t)ni + 1));
    int rc = -1;
    if (!leader || !block_of) {
        sb_printf(err, "emu: out of memory analysing '%s'", k->name);
        oom_note(); /* a guarded load reports TSR_ERR_OUT_OF_MEMORY */
        free(leader);
        free(block_of);
        return -1;
    }
    leader[0] = true;
    for (int i = 0; i < ni; i++) {
        const Insn *in = &k->code[i];
        if (in->ctl == CTL_BRA) {
            if (in->target < 0 || in->target >= ni)
                tsr_die("branch target out of range");
            leader[in->target] = true;
        }
        if ((in->ctl == CTL_BRA || in->ctl == CTL_EXIT || in->ctl == CTL_RET) && i + 1 < ni)
            leader[i + 1] = true;
    }
    int nb = 0;
    for (int i = 0; i < ni; i++) {
        nb += leader[i];
        block_of[i] = nb - 1;
    }
    int X = nb;
    int *start = malloc(sizeof(int) * ((size_t)nb + 1));
    int *nsucc = calloc((size_t)nb + 1, sizeof(int));
    int (*succ)[2] = malloc(sizeof(int[2]) * ((size_t)nb + 1));
    int *npred = calloc((size_t)nb + 2, sizeof(int));
    int *pred_off = malloc(sizeof(int) * ((size_t)nb + 2));
    int *pred = malloc(sizeof(int) * (2 * (size_t)nb + 1));
    int *po = malloc(sizeof(int) * ((size_t)nb + 1));
    int *order = malloc(sizeof(int) * ((size_t)nb + 1));
    int *idom = malloc(sizeof(int) * ((size_t)nb + 1));
    int *stack = malloc(sizeof(int) * 2 * ((size_t)nb + 1));
    if (!start || !nsucc || !succ || !npred || !pred_off || !pred || !po || !order || !idom ||
        !stack) {
        sb_printf(err, "emu: out of memory analysing '%s'", k->name);
        oom_note(); /* a guarded load reports TSR_ERR_OUT_OF_MEMORY */
        goto out;
    }
    for (int i = 0; i < ni; i++)
        if (leader[i])
            start[block_of[i]] = i;
    for (int b = 0; b < nb; b++) {
        int last = b + 1 < nb ? start[b + 1] - 1 : ni - 1;
        nsucc[b] = block_succs(k, block_of, last, X, succ[b]);
        for (int j = 0; j < nsucc[b]; j++)
            npred[succ[b][j]]++;
    }
    /* reverse edges: pred[] lists, for each node, the blocks it is a successor of */
    pred_off[0] = 0;
    for (int b = 0; b <= X; b++)
        pred_off[b + 1] = pred_off[b] + npred[b];
    memset(npred, 0, sizeof(int) * ((size_t)nb + 2));
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < nsucc[b]; j++) {
            int s = succ[b][j];
            pred[pred_off[s] + npred[s]++] = b;
        }
    /* post-order of a DFS from the exit over reverse edges */
    for (int b = 0; b <= X; b++)
        po[b] = -1;
    int npo = 0, sp = 0;
    bool *seen = leader; /* reuse: size ni+1 >= nb+1 */
    memset(seen, 0, (size_t)ni + 1);
    stack[sp++] = X;
    stack[sp++] = 0;
    seen[X] = true;
    while (sp) {
        int node = stack[sp - 2], it = stack[sp - 1];
        if (it < pred_off[node + 1] - pred_off[node]) {
            stack[sp - 1]++;
            int nx = pred[pred_off[node] + it];
            if (!seen[nx]) {
                seen[nx] = true;
                stack[sp++] = nx;
                stack[sp++] = 0;
            }
        } else {
            po[node] = npo;
            order[npo++] = node;
            sp -= 2;
        }
    }
    for (int b = 0; b <= X; b++)
        idom[b] = -1;
    idom[X] = X;
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = npo - 1; i >= 0; i--) {
            int b = order[i];
            if (b == X)
                continue;
            int nd = -1;
            for (int j = 0; j < nsucc[b]; j++) {
                int s = succ[b][j];
                if (idom[s] < 0)
                    continue;
                nd = nd < 0 ? s : intersect(idom, po, s, nd);
            }
            if (nd != idom[b]) {
                idom[b] = nd;
                changed = true;
            }
        }
    }
    for (int b = 0; b < nb; b++) {
        int last = b + 1 < nb ? start[b + 1] - 1 : ni - 1;
        Insn *in = &k->code[last];
        if (in->ctl != CTL_BRA)
            continue;
        int p = idom[b];
        in->reconv = (p < 0 || p == X) ? -1 : start[p];
    }
    rc = 0;
out:
    free(leader);
    free(block_of);
    free(start);
    free(nsucc);
    free(succ);
    free(npred);
    free(pred_off);
    free(pred);
    free(po);
    free(order);
    free(idom);
    free(stack);
    return rc;
}
