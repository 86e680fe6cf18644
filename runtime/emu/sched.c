/* Running a kernel: the grid of CTAs (spread over host threads), the warps of a
 * CTA, and each warp's SIMT stack. A warp runs until it blocks at a barrier,
 * exits, or uses up its time slice; a CTA whose remaining warps are all
 * blocked is deadlocked, which is an error. Divergent branches push the two
 * sides on the stack; they join again at the branch's reconvergence point
 * (cfg.c). */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"
#include "oom.h"

enum { SLICE = 1 << 16 };
enum { SMEM_POISON = 0xff, LOCAL_POISON = 0xcd };

const uint64_t emu_zero_row[WARP_SIZE];

/* ---- errors ---------------------------------------------------------------- */

void emu_thread_coords(const Warp *w, unsigned lane, unsigned tid[3])
{
    const unsigned *b = w->cta->L->cfg->block;
    unsigned t = lane_tid_linear(w, lane);
    tid[0] = t % b[0];
    tid[1] = t / b[0] % b[1];
    tid[2] = t / (b[0] * b[1]);
}

int emu_fault(Warp *w, const Insn *in, int lane, const char *fmt, ...)
{
    Cta *c = w->cta;
    if (c->failed)
        return -1;
    c->failed = true;
    c->fault_line = in ? in->line : 0;
    StrBuf *sb = &c->err;
    sb_printf(sb, "emu: kernel '%s'", c->k->name);
    if (in)
        sb_printf(sb, ", line %d (%s)", in->line, in->text);
    if (in && in->src_line)
        sb_printf(sb, ", source line %d", in->src_line);
    sb_puts(sb, ": ");
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
    if (lane >= 0) {
        unsigned tid[3];
        emu_thread_coords(w, (unsigned)lane, tid);
        sb_printf(sb, " [thread ctaid (%u,%u,%u) tid (%u,%u,%u)]", c->ctaid[0], c->ctaid[1],
                  c->ctaid[2], tid[0], tid[1], tid[2]);
    } else {
        sb_printf(sb, " [warp %d of ctaid (%u,%u,%u)]", w->id, c->ctaid[0], c->ctaid[1],
                  c->ctaid[2]);
    }
    return -1;
}

/* ---- working memory ------------------------------------------------------------ */

void *emu_grow(void *p, int *cap, int need, size_t elem, int first)
{
    if (need <= *cap)
        return p;
    int n = *cap ? *cap : first;
    while (n < need)
        n *= 2;
    unsigned char *q = tsr_xrealloc(p, elem * (size_t)n); /* unwinds with p and *cap unchanged */
    memset(q + elem * (size_t)*cap, 0, elem * (size_t)(n - *cap));
    *cap = n;
    return q;
}

/* ---- the SIMT stack ---------------------------------------------------------- */

static void push(Warp *w, int32_t pc, int32_t rpc, uint32_t mask)
{
    w->stack = emu_grow(w->stack, &w->stack_cap, w->sp + 2, sizeof *w->stack, 16);
    w->stack[++w->sp] = (SimtEntry){pc, rpc, mask};
}

static void do_branch(Warp *w, const Insn *in, uint32_t taken)
{
    SimtEntry *e = &w->stack[w->sp];
    uint32_t rest = e->mask & ~taken;
    if (!rest) {
        e->pc = in->target;
        return;
    }
    if (!taken) {
        e->pc++;
        return;
    }
    /* Diverge. Without a reconvergence point before the exit, the sides join
       where the enclosing entry joins. */
    int32_t r = in->reconv >= 0 ? in->reconv : e->rpc;
    int32_t fall = e->pc + 1;
    if (e->rpc == r) {
        e->pc = fall;
        e->mask = rest;
    } else {
        e->pc = r;
        push(w, fall, r, rest);
    }
    push(w, in->target, r, taken);
}

/* Lanes in `mask` leave the kernel. */
static void exit_lanes(Warp *w, uint32_t mask)
{
    w->live &= ~mask;
    for (int i = 0; i <= w->sp; i++)
        w->stack[i].mask &= ~mask;
}

/* ---- calls ------------------------------------------------------------------------ */

static uint8_t *local_of(Warp *w, unsigned lane)
{
    return w->cta->local + (size_t)lane_tid_linear(w, lane) * w->cta->local_size;
}

/* vprintf (printed to stdout by emu_vprintf; it returns 0) and __assertfail. */
static int call_builtin(Warp *w, const Insn *in, const CallSite *cs, uint32_t mask)
{
    if (cs->builtin == CALL_VPRINTF) {
        FOR_LANES(l, mask) {
            uint64_t fmt = 0, args = 0;
            const uint8_t *lb = local_of(w, l);
            if (cs->nargs >= 1)
                memcpy(&fmt, lb + cs->arg_caller[0], cs->arg_size[0] < 8 ? cs->arg_size[0] : 8);
            if (cs->nargs >= 2)
                memcpy(&args, lb + cs->arg_caller[1], cs->arg_size[1] < 8 ? cs->arg_size[1] : 8);
            if (emu_vprintf(w, in, (int)l, fmt, args))
                return -1;
            if (cs->ret_size >= 4)
                memset(local_of(w, l) + cs->ret_caller, 0, 4);
        }
        w->stack[w->sp].pc++;
        return 0;
    }
    /* __assertfail(message, file, line, function, char size) */
    unsigned l = (unsigned)__builtin_ctz(mask);
    uint64_t msg = 0, file = 0;
    uint32_t line = 0;
    const uint8_t *lb = local_of(w, l);
    if (cs->nargs >= 3) {
        memcpy(&msg, lb + cs->arg_caller[0], cs->arg_size[0] < 8 ? cs->arg_size[0] : 8);
        memcpy(&file, lb + cs->arg_caller[1], cs->arg_size[1] < 8 ? cs->arg_size[1] : 8);
        memcpy(&line, lb + cs->arg_caller[2], cs->arg_size[2] < 4 ? cs->arg_size[2] : 4);
    }
    char b1[160], b2[160];
    return emu_fault(w, in, (int)l, "assertion failed: %s (%s:%u)",
                     emu_read_string(w, l, msg, b1, sizeof b1),
                     emu_read_string(w, l, file, b2, sizeof b2), line);
}

/* call: copies the arguments, then runs the callee's lanes above a frame;
 * the calling entry waits at the next instruction. */
static int do_call(Warp *w, const Insn *in, uint32_t mask)
{
    const CallSite *cs = &w->cta->k->calls[in->target];
    if (!mask) {
        w->stack[w->sp].pc++;
        return 0;
    }
    if (cs->builtin)
        return call_builtin(w, in, cs, mask);
    FOR_LANES(l, mask) {
        uint8_t *lb = local_of(w, l);
        for (int a = 0; a < cs->nargs; a++)
            memmove(lb + cs->arg_callee[a], lb + cs->arg_caller[a], cs->arg_size[a]);
    }
    w->stack[w->sp].pc++;
    w->frames = emu_grow(w->frames, &w->frames_cap, w->nframes + 1, sizeof *w->frames, 8);
    w->frames[w->nframes++] = (CallFrame){.base = w->sp, .returned = 0, .cs = cs};
    push(w, cs->entry, RPC_RETURN, mask);
    return 0;
}

/* ret in a function: the lanes leave the callee's entries. */
static void do_return(Warp *w, uint32_t mask)
{
    if (!w->nframes)
        tsr_die("ret outside a call");
    CallFrame *f = &w->frames[w->nframes - 1];
    f->returned |= mask;
    for (int i = f->base + 1; i <= w->sp; i++)
        w->stack[i].mask &= ~mask;
    w->stack[w->sp].pc++;
}

/* All the callee's entries are done: copy the return value back. */
static void finish_call(Warp *w)
{
    CallFrame *f = &w->frames[--w->nframes];
    const CallSite *cs = f->cs;
    if (cs->ret_size)
        FOR_LANES(l, f->returned) {
            uint8_t *lb = local_of(w, l);
            memmove(lb + cs->ret_caller, lb + cs->ret_callee, cs->ret_size);
        }
}

/* ---- barriers ------------------------------------------------------------------ */

static unsigned live_warps(const Cta *c)
{
    unsigned n = 0;
    for (int i = 0; i < c->nwarps; i++)
        n += c->warps[i].state != WS_DONE;
    return n;
}

static void barrier_reset(Barrier *b)
{
    uint32_t *vc = b->vc;
    memset(b, 0, sizeof *b);
    b->vc = vc;
    b->red_and = true;
}

/* Completes barrier `id` if enough warps have arrived. */
static void barrier_check(Cta *c, int id)
{
    Barrier *b = &c->bars[id];
    if (!b->arrived)
        return;
    unsigned need = b->expected ? b->expected : live_warps(c);
    if (b->arrived < need)
        return;
    if (c->race)
        emu_race_barrier_complete(c, b, b->waiting);
    for (int i = 0; i < c->nwarps; i++) {
        if (!((b->waiting >> i) & 1))
            continue;
        Warp *w = &c->warps[i];
        const Insn *in = w->bar_insn;
        if (in->flags & MF_RED) {
            uint32_t m = w->bar_mask;
            if (in->mode == LOGIC_POPC) {
                uint64_t *d = opd(w, &in->op[0]);
                FOR_LANES(l, m)
                d[l] = b->red_popc;
                mark_def(w, &in->op[0], m);
            } else {
                bool v = in->mode == LOGIC_AND ? b->red_and : b->red_or;
                pred_set(w, in->op[0].idx, m, v ? FULL_MASK : 0);
            }
        }
        w->state = WS_RUN;
    }
    barrier_reset(b);
}

/* Reads a uniform operand (barrier id or count) of the warp's lanes. */
static int uniform_value(Warp *w, const Insn *in, const Operand *o, uint32_t mask, uint32_t *out)
{
    if (check_src(w, in, o, mask))
        return -1;
    const uint64_t *v = opv(w, in, o);
    uint32_t first = (uint32_t)v[__builtin_ctz(mask)];
    FOR_LANES(l, mask)
    if ((uint32_t)v[l] != first)
        return emu_fault(w, in, (int)l, "barrier operand differs between the lanes of a warp");
    *out = first;
    return 0;
}

/* bar.sync / bar.arrive / bar.red / barrier.sync. Returns RUN_BLOCKED when
 * the warp must wait, RUN_YIELD to go on, RUN_ERROR. */
static int do_barrier(Warp *w, const Insn *in, uint32_t mask)
{
    Cta *c = w->cta;
    if (mask != w->live)
        return emu_fault(w, in, -1,
                         "barrier executed by a diverged warp (active lanes 0x%08x, lanes not "
                         "exited 0x%08x)",
                         mask, w->live),
               RUN_ERROR;
    uint32_t id, count = 0;
    if (uniform_value(w, in, &in->op[1], mask, &id))
        return RUN_ERROR;
    if (id > 15)
        return emu_fault(w, in, -1, "barrier %u out of range 0..15", id), RUN_ERROR;
    if (in->op[2].kind != OK_NONE) {
        if (uniform_value(w, in, &in->op[2], mask, &count))
            return RUN_ERROR;
        if (count == 0 || count % WARP_SIZE)
            return emu_fault(w, in, -1, "barrier thread count %u is not a positive multiple of 32",
                             count),
                   RUN_ERROR;
    }
    Barrier *b = &c->bars[id];
    unsigned expected = count / WARP_SIZE;
    if (b->arrived && b->expected != expected)
        return emu_fault(w, in, -1,
                         "barrier %u used with different thread counts (%u and %u) at once", id,
                         b->expected * WARP_SIZE, expected * WARP_SIZE),
               RUN_ERROR;
    if ((b->waiting >> w->id) & 1)
        tsr_die("warp arrives twice at a barrier");
    b->expected = expected;
    b->arrived++;
    if (in->flags & MF_RED) {
        const Operand *p = &in->op[3];
        if (p->kind == OK_PRED && w->pdef && emu_check_pdef(w, in, p, mask))
            return RUN_ERROR;
        uint32_t v = pred_val(w, p) & mask;
        b->red_popc += (uint32_t)popc32(v);
        b->red_and = b->red_and && v == mask;
        b->red_or = b->red_or || v != 0;
    }
    if (c->race)
        emu_race_barrier_arrive(c, b, w, !(in->flags & MF_ARRIVE));
    w->stack[w->sp].pc++;
    if (!(in->flags & MF_ARRIVE)) {
        w->state = WS_BAR;
        w->bar_id = (int)id;
        w->bar_insn = in;
        w->bar_mask = mask;
        b->waiting |= 1ull << w->id;
    }
    barrier_check(c, (int)id);
    return w->state == WS_BAR ? RUN_BLOCKED : RUN_YIELD;
}

/* ---- a warp ------------------------------------------------------------------- */

/* %clock and friends: four cycles per instruction the CTA has issued. */
static void fill_clock(Warp *w, uint64_t issued)
{
    uint64_t t = issued * 4;
    uint64_t *r = w->r;
    for (int l = 0; l < WARP_SIZE; l++) {
        r[SR_CLOCK * WARP_SIZE + l] = (uint32_t)t;
        r[SR_CLOCK_HI * WARP_SIZE + l] = (uint32_t)(t >> 32);
        r[SR_CLOCK64 * WARP_SIZE + l] = t;
        r[SR_GLOBALTIMER * WARP_SIZE + l] = t;
        r[SR_GLOBALTIMER_LO * WARP_SIZE + l] = (uint32_t)t;
        r[SR_GLOBALTIMER_HI * WARP_SIZE + l] = (uint32_t)(t >> 32);
    }
}

static void warp_finish(Warp *w)
{
    w->state = WS_DONE;
    emu_cp_async_complete(w, NULL, UINT32_MAX);
    Cta *c = w->cta;
    if (c->wg)
        emu_wg_warp_exit(w);
    if (c->tma)
        emu_tma_warp_exit(w);
    for (int i = 0; i < 16; i++)
        barrier_check(c, i);
}

static int warp_run(Warp *w, uint64_t budget)
{
    Cta *c = w->cta;
    const Insn *code = c->k->code;
    uint64_t insns = 0, lanes = 0;
    int rc = RUN_YIELD;
    while (insns < budget) {
        SimtEntry *e = &w->stack[w->sp];
        if (!e->mask || e->pc == e->rpc) {
            if (w->sp == 0) {
                if (w->live)
                    tsr_die("SIMT stack empty with live lanes");
                warp_finish(w);
                rc = RUN_DONE;
                break;
            }
            w->sp--;
            if (w->nframes && w->sp == w->frames[w->nframes - 1].base)
                finish_call(w);
            continue;
        }
        if (e->pc < 0 || e->pc >= c->k->ncode)
            tsr_die("pc %d out of range", e->pc);
        const Insn *in = &code[e->pc];
        uint32_t m = e->mask;
        insns++;
        w->icount++;
        if (in->guard >= 0) {
            Operand g = {.kind = OK_PRED, .idx = in->guard, .neg = in->guard_neg};
            if (w->pdef && emu_check_pdef(w, in, &g, m)) {
                rc = RUN_ERROR;
                break;
            }
            m &= pred_val(w, &g);
        }
        lanes += (uint64_t)popc32(m);
        switch (in->ctl) {
        case CTL_EXEC:
            if (m) {
                if (in->clock)
                    fill_clock(w, c->insns + insns);
                w->active = e->mask;
                if (in->exec(w, in, m)) {
                    rc = RUN_ERROR;
                    goto out;
                }
            }
            e->pc++;
            break;
        case CTL_NOP: e->pc++; break;
        case CTL_BRA: do_branch(w, in, m); break;
        case CTL_EXIT:
            e->pc++;
            exit_lanes(w, m);
            break;
        case CTL_CALL:
            if (do_call(w, in, m)) {
                rc = RUN_ERROR;
                goto out;
            }
            break;
        case CTL_RET:
            do_return(w, m);
            break;
        case CTL_BAR:
        case CTL_WAIT:
            if (!m) {
                e->pc++;
                break;
            }
            rc = in->ctl == CTL_BAR ? do_barrier(w, in, m) : in->exec(w, in, m);
            if (rc == RUN_YIELD)
                break;
            if (rc == RUN_SWITCH) /* a failed test_wait: let the others run */
                rc = RUN_YIELD;
            goto out;
        default: tsr_unreachable();
        }
    }
out:
    c->insns += insns;
    c->thread_insns += lanes;
    return c->failed ? RUN_ERROR : rc;
}

/* ---- a CTA -------------------------------------------------------------------- */

/* Fills a zeroed CTA for the launch. Memory running out unwinds (oom.h) with
 * c consistent for cta_free: each array is counted only once it exists. */
static void cta_setup(Cta *c, Launch *L)
{
    const Kernel *k = L->k;
    c->L = L;
    c->k = k;
    sb_init(&c->err);
    c->warps = tsr_xcalloc(L->nwarps, sizeof *c->warps);
    c->nwarps = (int)L->nwarps;
    size_t nr = (size_t)k->nregs * WARP_SIZE * (size_t)c->nwarps;
    c->regs = tsr_xcalloc(nr, sizeof *c->regs);
    c->preds = tsr_xcalloc((size_t)k->npreds * (size_t)c->nwarps, sizeof *c->preds);
    if (L->cfg->check_uninit) {
        c->rdef = tsr_xcalloc((size_t)k->nregs * (size_t)c->nwarps, sizeof *c->rdef);
        c->pdef = tsr_xcalloc((size_t)k->npreds * (size_t)c->nwarps, sizeof *c->pdef);
        c->rbytes = tsr_xcalloc(nr, 1);
        c->sdef = tsr_xcalloc(L->smem_bytes ? L->smem_bytes : 1, 1);
    }
    c->smem_size = L->smem_bytes;
    size_t smem_alloc = (c->smem_size + 1023) / 1024 * 1024 + 1024;
    c->smem = aligned_alloc(1024, smem_alloc);
    if (!c->smem)
        oom_fail(smem_alloc);
    /* Each thread's local memory starts 16-byte aligned, as on a GPU: a
     * generic address of an aligned local variable (cvta.local, vprintf's
     * argument buffer) must be aligned on the host too. */
    c->local_size = (k->local_bytes + 15) & ~(size_t)15;
    c->local = tsr_xmalloc(c->local_size * L->nwarps * WARP_SIZE + 16);
    if (L->cfg->check_races)
        c->race = emu_race_new(c->smem_size, c->nwarps);
    for (int i = 0; i < c->nwarps; i++) {
        Warp *w = &c->warps[i];
        w->cta = c;
        w->id = i;
        w->r = c->regs + (size_t)i * (size_t)k->nregs * WARP_SIZE;
        w->p = c->preds + (size_t)i * (size_t)k->npreds;
        if (c->rdef) {
            w->rdef = c->rdef + (size_t)i * (size_t)k->nregs;
            w->pdef = c->pdef + (size_t)i * (size_t)k->npreds;
            w->rbytes = c->rbytes + (size_t)i * (size_t)k->nregs * WARP_SIZE;
        }
        w->stack = emu_grow(NULL, &w->stack_cap, 16, sizeof *w->stack, 16);
    }
    for (int i = 0; i < 16; i++)
        c->bars[i].vc = c->race ? tsr_xcalloc((size_t)c->nwarps, sizeof(uint32_t)) : NULL;
    if (k->uses_wgmma)
        c->wg = emu_wg_new(c);
    if (k->uses_mbarrier || k->uses_tma)
        c->mbar = emu_mbar_new(c);
    if (k->uses_tma)
        c->tma = emu_tma_new(c);
}

static void cta_free(Cta *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nwarps; i++) {
        free(c->warps[i].stack);
        free(c->warps[i].cp);
        free(c->warps[i].vc);
        free(c->warps[i].frames);
    }
    for (int i = 0; i < 16; i++)
        free(c->bars[i].vc);
    free(c->warps);
    free(c->regs);
    free(c->preds);
    free(c->rdef);
    free(c->pdef);
    free(c->rbytes);
    free(c->sdef);
    free(c->smem);
    free(c->local);
    emu_race_free(c->race);
    emu_wg_free(c->wg);
    emu_mbar_free(c->mbar);
    emu_tma_free(c->tma);
    sb_free(&c->err);
    free(c);
}

static void set_special(Warp *w, int sr, unsigned lane, uint64_t v)
{
    w->r[(size_t)sr * WARP_SIZE + lane] = v;
}

static void cta_init(Cta *c, uint64_t linear)
{
    Launch *L = c->L;
    const EmuLaunch *cfg = L->cfg;
    const Kernel *k = c->k;
    c->ctaid[0] = (unsigned)(linear % cfg->grid[0]);
    c->ctaid[1] = (unsigned)(linear / cfg->grid[0] % cfg->grid[1]);
    c->ctaid[2] = (unsigned)(linear / ((uint64_t)cfg->grid[0] * cfg->grid[1]));
    memset(c->smem, SMEM_POISON, c->smem_size);
    if (c->sdef)
        memset(c->sdef, 0, c->smem_size);
    memset(c->local, LOCAL_POISON, c->local_size * L->nwarps * WARP_SIZE);
    if (c->rdef) {
        memset(c->rdef, 0, sizeof *c->rdef * (size_t)k->nregs * (size_t)c->nwarps);
        memset(c->pdef, 0, sizeof *c->pdef * (size_t)k->npreds * (size_t)c->nwarps);
        memset(c->rbytes, 0, (size_t)k->nregs * WARP_SIZE * (size_t)c->nwarps);
    }
    for (int i = 0; i < 16; i++) {
        barrier_reset(&c->bars[i]);
        if (c->bars[i].vc)
            memset(c->bars[i].vc, 0, sizeof(uint32_t) * (size_t)c->nwarps);
    }
    if (c->race)
        emu_race_reset(c->race, c->nwarps);
    if (c->wg)
        emu_wg_reset(c);
    if (c->mbar)
        emu_mbar_reset(c);
    if (c->tma)
        emu_tma_reset(c);
    for (int i = 0; i < c->nwarps; i++) {
        Warp *w = &c->warps[i];
        unsigned first = (unsigned)i * WARP_SIZE;
        unsigned n = L->nthreads - first < WARP_SIZE ? L->nthreads - first : WARP_SIZE;
        w->live = n == WARP_SIZE ? FULL_MASK : (1u << n) - 1;
        w->sp = 0;
        w->stack[0] = (SimtEntry){0, -1, w->live};
        w->state = WS_RUN;
        w->ncp = 0;
        w->cp_group = 0;
        w->icount = 0;
        w->nframes = 0;
        if (c->race) {
            if (!w->vc)
                w->vc = tsr_xcalloc((size_t)c->nwarps, sizeof(uint32_t));
            memset(w->vc, 0, sizeof(uint32_t) * (size_t)c->nwarps);
            w->vc[i] = 1;
        }
        for (unsigned l = 0; l < WARP_SIZE; l++) {
            unsigned tid[3];
            emu_thread_coords(w, l, tid);
            static const int tids[3] = {SR_TID_X, SR_TID_Y, SR_TID_Z};
            static const int ntids[3] = {SR_NTID_X, SR_NTID_Y, SR_NTID_Z};
            static const int ctaids[3] = {SR_CTAID_X, SR_CTAID_Y, SR_CTAID_Z};
            static const int nctaids[3] = {SR_NCTAID_X, SR_NCTAID_Y, SR_NCTAID_Z};
            static const int clusterids[3] = {SR_CLUSTERID_X, SR_CLUSTERID_Y, SR_CLUSTERID_Z};
            static const int nclusterids[3] = {SR_NCLUSTERID_X, SR_NCLUSTERID_Y, SR_NCLUSTERID_Z};
            static const int cnctaids[3] = {SR_CLUSTER_NCTAID_X, SR_CLUSTER_NCTAID_Y,
                                            SR_CLUSTER_NCTAID_Z};
            static const int cctaids[3] = {SR_CLUSTER_CTAID_X, SR_CLUSTER_CTAID_Y,
                                           SR_CLUSTER_CTAID_Z};
            for (int d = 0; d < 3; d++) {
                set_special(w, tids[d], l, tid[d]);
                set_special(w, ntids[d], l, cfg->block[d]);
                set_special(w, ctaids[d], l, c->ctaid[d]);
                set_special(w, nctaids[d], l, cfg->grid[d]);
                set_special(w, clusterids[d], l, c->ctaid[d]);
                set_special(w, nclusterids[d], l, cfg->grid[d]);
                set_special(w, cctaids[d], l, 0);
                set_special(w, cnctaids[d], l, 1);
            }
            set_special(w, SR_ZERO, l, 0);
            set_special(w, SR_LANEID, l, l);
            set_special(w, SR_WARPID, l, (unsigned)i);
            set_special(w, SR_NWARPID, l, L->nwarps);
            set_special(w, SR_SMID, l, 0);
            set_special(w, SR_NSMID, l, 1);
            set_special(w, SR_GRIDID, l, 1);
            set_special(w, SR_LANEMASK_EQ, l, 1u << l);
            set_special(w, SR_LANEMASK_LT, l, (1u << l) - 1);
            set_special(w, SR_LANEMASK_LE, l, (uint32_t)((2ull << l) - 1));
            set_special(w, SR_LANEMASK_GT, l, (uint32_t)(~0ull << (l + 1)));
            set_special(w, SR_LANEMASK_GE, l, (uint32_t)(~0u << l));
            set_special(w, SR_DYN_SMEM, l, cfg->dyn_smem);
            set_special(w, SR_TOTAL_SMEM, l, L->smem_bytes);
            set_special(w, SR_CLUSTER_CTARANK, l, 0);
            set_special(w, SR_CLUSTER_NCTARANK, l, 1);
            set_special(w, SR_IS_EXPLICIT_CLUSTER, l, 0);
            set_special(w, SR_CARRY, l, 0);
        }
        if (w->rdef)
            for (int s = 0; s < SR_COUNT; s++)
                w->rdef[s] = FULL_MASK;
        if (w->pdef)
            w->pdef[0] = FULL_MASK;
    }
    c->last_region = 0;
}

static void describe_deadlock(Cta *c)
{
    Warp *w0 = NULL;
    for (int i = 0; i < c->nwarps && !w0; i++)
        if (c->warps[i].state != WS_RUN && c->warps[i].state != WS_DONE)
            w0 = &c->warps[i];
    emu_fault(w0, NULL, -1,
              "deadlock: every warp that has not exited waits (at a barrier, an mbarrier or "
              "setmaxnreg.inc)");
    for (int i = 0; i < c->nwarps; i++) {
        Warp *w = &c->warps[i];
        if (w->state != WS_BAR)
            continue;
        Barrier *b = &c->bars[w->bar_id];
        unsigned need = b->expected ? b->expected : live_warps(c);
        sb_printf(&c->err, "\n  warp %d waits at barrier %d (line %d, %s): %u of %u warps arrived",
                  i, w->bar_id, w->bar_insn->line, w->bar_insn->text, b->arrived, need);
    }
    if (c->mbar)
        emu_mbar_describe(c, &c->err);
    if (c->wg)
        emu_wg_describe(c, &c->err);
}

static int cta_run(Cta *c)
{
    Launch *L = c->L;
    int cur = 0;
    for (;;) {
        if (atomic_load_explicit(&L->failed, memory_order_relaxed))
            return -1;
        int pick = -1, done = 0;
        for (int j = 0; j < c->nwarps; j++) {
            int i = (cur + j) % c->nwarps;
            if (c->warps[i].state == WS_RUN) {
                pick = i;
                break;
            }
        }
        for (int j = 0; j < c->nwarps; j++)
            done += c->warps[j].state == WS_DONE;
        if (done == c->nwarps) {
            if (c->tma && emu_tma_land(c, UINT32_MAX) < 0)
                return -1;
            return c->wg ? emu_wg_cta_end(c) : 0;
        }
        if (pick < 0 && c->tma) {
            /* every warp waits: the copies in flight land now */
            int landed = emu_tma_land(c, UINT32_MAX);
            if (landed < 0)
                return -1;
            if (landed)
                continue;
        }
        if (pick < 0) {
            describe_deadlock(c);
            return -1;
        }
        uint64_t before = c->insns;
        int rc = warp_run(&c->warps[pick], SLICE);
        if (rc == RUN_ERROR)
            return -1;
        uint64_t total = atomic_fetch_add(&L->insns, c->insns - before) + (c->insns - before);
        if (total > L->max_insns) {
            Warp *w = &c->warps[pick];
            const SimtEntry *e = &w->stack[w->sp];
            bool at = w->state == WS_RUN && e->pc >= 0 && e->pc < c->k->ncode;
            emu_fault(w, at ? &c->k->code[e->pc] : NULL, -1,
                      "more than %llu warp instructions executed (the launch's limit): an infinite loop?",
                      (unsigned long long)L->max_insns);
            return -1;
        }
        cur = pick + 1;
    }
}

/* ---- the grid ------------------------------------------------------------------ */

typedef struct {
    Launch *L;
    Cta *c; /* the worker's CTA, reused for each it runs; freed by worker_main */
    uint64_t insns, thread_insns, ctas;
} Worker;

/* Hands the first failing CTA's message to the launch (no allocation: the
 * buffer moves). */
static void keep_fault(Launch *L, Cta *c)
{
    pthread_mutex_lock(&L->fault_lock);
    if (!atomic_exchange(&L->failed, 1) && c->failed) {
        L->fault = c->err;
        L->fault_line = c->fault_line;
        sb_init(&c->err);
    }
    pthread_mutex_unlock(&L->fault_lock);
}

/* The CTAs a worker takes, one after another: a guarded stage (oom.h). */
static void run_ctas(void *arg)
{
    Worker *wk = arg;
    Launch *L = wk->L;
    wk->c = tsr_xcalloc(1, sizeof *wk->c);
    Cta *c = wk->c;
    cta_setup(c, L);
    for (;;) {
        if (atomic_load(&L->failed))
            break;
        uint64_t i = atomic_fetch_add(&L->next_cta, 1);
        if (i >= L->nctas)
            break;
        cta_init(c, i);
        if (cta_run(c)) {
            keep_fault(L, c);
            break;
        }
        wk->ctas++;
    }
}

static void *worker_main(void *arg)
{
    Worker *wk = arg;
    Launch *L = wk->L;
    if (!oom_run(run_ctas, wk)) {
        /* the others stop at their next slice */
        atomic_store(&L->out_of_memory, 1);
        atomic_store(&L->failed, 1);
    }
    if (wk->c) {
        wk->insns += wk->c->insns;
        wk->thread_insns += wk->c->thread_insns;
    }
    cta_free(wk->c);
    wk->c = NULL;
    return NULL;
}

/* Host buffers plus the module's variables, sorted by address. */
static int build_regions(Launch *L, StrBuf *err)
{
    const EmuLaunch *cfg = L->cfg;
    int n = cfg->nregions + L->m->nvars;
    L->regions = calloc((size_t)n + 1, sizeof *L->regions);
    if (!L->regions)
        return EMU_OUT_OF_MEMORY;
    int k = 0;
    for (int i = 0; i < cfg->nregions; i++) {
        const EmuRegion *r = &cfg->regions[i];
        if (!r->size)
            continue;
        if (!r->base) {
            sb_printf(err, "emu: region %d has a NULL base", i);
            return EMU_ERROR;
        }
        L->regions[k++] = (Region){(uintptr_t)r->base, (uintptr_t)r->base + r->size, r->writable, NULL};
    }
    for (int i = 0; i < L->m->nvars; i++) {
        const ModVar *v = &L->m->vars[i];
        if (!v->size)
            continue;
        L->regions[k++] = (Region){(uintptr_t)v->data, (uintptr_t)v->data + v->size,
                                   v->space == SP_GLOBAL, v->name};
    }
    /* insertion sort: a handful of regions */
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && L->regions[j - 1].base > L->regions[j].base; j--) {
            Region t = L->regions[j];
            L->regions[j] = L->regions[j - 1];
            L->regions[j - 1] = t;
        }
    L->nregions = k;
    return 0;
}

static const Kernel *find_kernel(const EmuModule *m, const char *name)
{
    for (int i = 0; i < m->nkernels; i++)
        if (strcmp(m->kernels[i].name, name) == 0)
            return &m->kernels[i];
    return NULL;
}

static int check_config(const Kernel *k, const EmuLaunch *cfg, StrBuf *err)
{
    uint64_t threads = (uint64_t)cfg->block[0] * cfg->block[1] * cfg->block[2];
    uint64_t ctas = (uint64_t)cfg->grid[0] * cfg->grid[1] * cfg->grid[2];
    if (!threads || threads > EMU_MAX_THREADS) {
        sb_printf(err, "emu: kernel '%s': block of %u x %u x %u threads (1 to %d allowed)", k->name,
                  cfg->block[0], cfg->block[1], cfg->block[2], EMU_MAX_THREADS);
        return -1;
    }
    if (!ctas || cfg->grid[1] > 65535 || cfg->grid[2] > 65535) {
        sb_printf(err, "emu: kernel '%s': bad grid %u x %u x %u", k->name, cfg->grid[0], cfg->grid[1],
                  cfg->grid[2]);
        return -1;
    }
    for (int d = 0; d < 3; d++) {
        if (k->reqntid[0] && cfg->block[d] != k->reqntid[d]) {
            sb_printf(err, "emu: kernel '%s' requires blocks of %u x %u x %u threads (.reqntid)",
                      k->name, k->reqntid[0], k->reqntid[1], k->reqntid[2]);
            return -1;
        }
        if (k->maxntid[0] && threads > (uint64_t)k->maxntid[0] * k->maxntid[1] * k->maxntid[2]) {
            sb_printf(err, "emu: kernel '%s' allows at most %u x %u x %u threads (.maxntid)",
                      k->name, k->maxntid[0], k->maxntid[1], k->maxntid[2]);
            return -1;
        }
    }
    size_t dyn_off = (k->static_smem + k->dyn_smem_align - 1) / k->dyn_smem_align * k->dyn_smem_align;
    if (cfg->dyn_smem > EMU_MAX_SMEM || dyn_off + cfg->dyn_smem > EMU_MAX_SMEM) {
        sb_printf(err, "emu: kernel '%s': %zu bytes of static and %zu of dynamic shared memory "
                  "exceed the %d bytes a CTA can have", k->name, k->static_smem, cfg->dyn_smem,
                  EMU_MAX_SMEM);
        return -1;
    }
    if (cfg->nregions < 0 || (cfg->nregions && !cfg->regions)) {
        sb_printf(err, "emu: bad region list");
        return -1;
    }
    return 0;
}

/* The parameter buffer and the regions of the launch. */
static int prepare(Launch *L, void **args, StrBuf *err)
{
    const Kernel *k = L->k;
    /* aligned like the parameters' .align (tensor maps: 64) */
    size_t pbytes = (k->param_bytes + 16 + 127) / 128 * 128;
    L->params = aligned_alloc(128, pbytes);
    if (!L->params)
        return EMU_OUT_OF_MEMORY;
    memset(L->params, 0, pbytes);
    for (int i = 0; i < k->nparams; i++) {
        if (!args || !args[i]) {
            sb_printf(err, "emu: kernel '%s': no value for parameter %d (%s)", k->name, i,
                      k->param_names[i]);
            return EMU_ERROR;
        }
        memcpy(L->params + k->params[i].offset, args[i], k->params[i].size);
    }
    return build_regions(L, err);
}

/* Runs the CTAs on the host threads; the first failure's message goes to err. */
static int run_grid(Launch *L, StrBuf *err)
{
    const EmuLaunch *cfg = L->cfg;
    int nth = cfg->host_threads > 1 ? cfg->host_threads : 1;
    if ((uint64_t)nth > L->nctas)
        nth = (int)L->nctas;
    if (nth > 64)
        nth = 64;
    pthread_mutex_init(&L->fault_lock, NULL);
    sb_init(&L->fault);
    Worker wk[64];
    pthread_t th[64];
    for (int i = 0; i < nth; i++)
        wk[i] = (Worker){.L = L};
    int started = 1;
    for (int i = 1; i < nth; i++) {
        if (pthread_create(&th[i], NULL, worker_main, &wk[i]) != 0)
            break;
        started++;
    }
    worker_main(&wk[0]);
    for (int i = 1; i < started; i++)
        pthread_join(th[i], NULL);
    EmuStats st = {0};
    for (int i = 0; i < started; i++) {
        st.warp_insns += wk[i].insns;
        st.thread_insns += wk[i].thread_insns;
        st.ctas += wk[i].ctas;
    }
    int rc = atomic_load(&L->out_of_memory) ? EMU_OUT_OF_MEMORY : atomic_load(&L->failed) ? EMU_ERROR : EMU_OK;
    if (rc == EMU_ERROR && L->fault.data)
        sb_puts(err, L->fault.data);
    st.fault_line = rc == EMU_ERROR ? L->fault_line : 0;
    if (cfg->stats)
        *cfg->stats = st;
    sb_free(&L->fault);
    pthread_mutex_destroy(&L->fault_lock);
    return rc;
}

/* emu_launch's work: the checks, the parameters and regions, the grid. */
static int launch(EmuModule *m, const char *kernel, void **args, const EmuLaunch *cfg, StrBuf *err)
{
    const Kernel *k = find_kernel(m, kernel);
    if (!k) {
        sb_printf(err, "emu: no kernel named '%s' in the module", kernel);
        return EMU_ERROR;
    }
    if (check_config(k, cfg, err))
        return EMU_ERROR;
    Launch L;
    memset(&L, 0, sizeof L);
    L.m = m;
    L.k = k;
    L.cfg = cfg;
    L.nthreads = cfg->block[0] * cfg->block[1] * cfg->block[2];
    L.nwarps = (L.nthreads + WARP_SIZE - 1) / WARP_SIZE;
    L.nctas = (uint64_t)cfg->grid[0] * cfg->grid[1] * cfg->grid[2];
    size_t dyn_off = (k->static_smem + k->dyn_smem_align - 1) / k->dyn_smem_align * k->dyn_smem_align;
    L.smem_bytes = cfg->dyn_smem ? dyn_off + cfg->dyn_smem : k->static_smem;
    L.max_insns = cfg->max_warp_insns ? cfg->max_warp_insns : 1ull << 36;
    int rc = prepare(&L, args, err);
    if (rc == EMU_OK)
        rc = run_grid(&L, err);
    free(L.params);
    free(L.regions);
    return rc;
}

typedef struct {
    EmuModule *m;
    const char *kernel;
    void **args;
    const EmuLaunch *cfg;
    StrBuf *err;
    int rc;
} LaunchCall;

static void launch_guarded(void *arg)
{
    LaunchCall *l = arg;
    l->rc = launch(l->m, l->kernel, l->args, l->cfg, l->err);
}

/* The host threads guard their own working memory (run_ctas); this guard
 * catches the message growing in err. */
int emu_launch(EmuModule *m, const char *kernel, void **args, const EmuLaunch *cfg, StrBuf *err)
{
    LaunchCall l = { m, kernel, args, cfg, err, EMU_ERROR };
    if (!oom_run(launch_guarded, &l))
        l.rc = EMU_OUT_OF_MEMORY;
    if (l.rc != EMU_OUT_OF_MEMORY)
        return l.rc;
    if (err->failed) { /* the message itself ran out: start it again */
        sb_free(err);
        sb_init(err);
    }
    sb_printf(err, "emu: kernel '%s': out of host memory for the emulator's working memory", kernel);
    return EMU_OUT_OF_MEMORY;
}
