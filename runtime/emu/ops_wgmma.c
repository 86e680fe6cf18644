/* Warpgroup instructions (sm_90a): setmaxnreg, and warpgroup MMA:
 * wgmma.fence, wgmma.commit_group, wgmma.wait_group N and
 * wgmma.mma_async.sync.aligned.m64nNk16 with f16/bf16 inputs and f32 or f16
 * accumulators (m64nNk32 with e4m3/e5m2, m64nNk8 with tf32 and f32
 * accumulators, m64nNk32 with s8/u8 and s32 accumulators: K-major only), A
 * from registers or a shared-memory descriptor, B from a descriptor, in the canonical layouts
 * of the PTX ISA (K-major or MN-major, swizzle none/32B/64B/128B on absolute
 * shared addresses).
 *
 * Asynchrony. An mma_async is only recorded when issued (descriptors and
 * scale-d are captured); it is computed when a wait_group retires its group,
 * the latest moment the ISA allows, so that a missing wait reads stale values.
 * Until then its accumulator and A registers are busy: with check_uninit, a
 * read of them is reported at once and a write when the wait comes; with
 * check_races, a write to the shared bytes it reads is reported at once.
 *
 * Each warp of the warpgroup computes its own 16 rows (rows 16*(warp%4)..
 * of A and D; B is shared), so the four warps need not meet. That all four
 * execute the same sequence of warpgroup instructions is checked instead:
 * every warpgroup keeps a short log of the instructions by sequence number,
 * and at the end of the CTA the counts must agree.
 *
 * Precision as mma.sync (ops_mma.c): exact products summed in double, one
 * rounding to the accumulator type.
 *
 * setmaxnreg.{inc,dec}: each warp holds a register count per thread, first
 * the count the kernel's directives fix at entry (.maxnreg, or 65536 over
 * .maxntid x .minnctapersm, as ptxas computes it); .dec returns registers to
 * the CTA's pool, .inc takes them and waits while the pool is short. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"
#include "oom.h"

enum { WG_FENCE, WG_COMMIT, WG_WAIT, WG_MMA, WG_SETMAXNREG };
enum { WG_WARPS = 4, WG_LOG = 64 };
enum { IN_F16, IN_BF16, IN_E4M3, IN_E5M2, IN_TF32, IN_S8, IN_U8 };
/* bytes per element and K per instruction of an input kind (32 bytes of K) */
static unsigned in_size(int kind) { return kind == IN_TF32 ? 4 : kind >= IN_E4M3 ? 1 : 2; }
static unsigned in_k(int kind) { return 32 / in_size(kind); }
/* Insn.flags of wgmma.mma_async */
enum { WGF_NEG_A = 1, WGF_NEG_B = 2, WGF_TRANS_A = 4, WGF_TRANS_B = 8, WGF_RS = 16, WGF_SATFINITE = 32 };
#define WG_UNCOMMITTED UINT32_MAX

typedef struct {
    const Insn *in;
    uint64_t desc_a, desc_b;
    bool scale_d;
    uint32_t group;
} WgOp;

typedef struct {
    WgOp *ops; /* in flight, in issue order */
    int nops, cap;
    uint32_t groups;  /* groups committed */
    bool fence_seen;  /* a wgmma.fence since the warp's start */
    int32_t *touch;   /* per register slot since the last fence (check_uninit): WG_WRITTEN
                         by another instruction, and the shape key of the last wgmma whose
                         accumulator it is */
    uint32_t seq;     /* warpgroup instructions executed */
    uint16_t *busy;   /* per register slot: wgmmas in flight using it (check_uninit) */
    unsigned regs;    /* registers per thread (setmaxnreg) */
    uint32_t *saved;  /* rdef of a slot when it became busy */
} WgWarp;

typedef struct {
    uint32_t seq;
    int warp;
    const Insn *in;
} WgLogEnt;

struct WgState {
    unsigned pool; /* registers released by setmaxnreg.dec, free for .inc */
    WgWarp *w;     /* per warp */
    WgLogEnt *log; /* per warpgroup: WG_LOG entries, by seq % WG_LOG */
    int nwarps, ngroups, nregs;
};

/* ---- state ------------------------------------------------------------------- */

/* The cleanup of a state being built when memory runs out (oom.h). */
static void free_partial(void *s) { emu_wg_free(s); }

struct WgState *emu_wg_new(Cta *c)
{
    struct WgState *s = tsr_xcalloc(1, sizeof *s);
    int slot = oom_defer(free_partial, s);
    s->ngroups = (c->nwarps + WG_WARPS - 1) / WG_WARPS;
    s->nregs = c->k->nregs;
    s->w = tsr_xcalloc((size_t)c->nwarps, sizeof *s->w);
    s->nwarps = c->nwarps; /* counted once the array exists */
    s->log = tsr_xcalloc((size_t)s->ngroups * WG_LOG, sizeof *s->log);
    if (c->rdef)
        for (int i = 0; i < s->nwarps; i++) {
            s->w[i].busy = tsr_xcalloc((size_t)s->nregs, sizeof *s->w[i].busy);
            s->w[i].saved = tsr_xcalloc((size_t)s->nregs, sizeof *s->w[i].saved);
            s->w[i].touch = tsr_xcalloc((size_t)s->nregs, sizeof *s->w[i].touch);
            c->warps[i].wg_touch = s->w[i].touch;
        }
    oom_undefer(slot);
    return s;
}

void emu_wg_free(struct WgState *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nwarps; i++) {
        free(s->w[i].ops);
        free(s->w[i].busy);
        free(s->w[i].saved);
        free(s->w[i].touch);
    }
    free(s->w);
    free(s->log);
    free(s);
}

/* Registers per thread at entry, as ptxas fixes them (0: unknown). */
static unsigned entry_regs(const Kernel *k)
{
    if (k->maxnreg)
        return k->maxnreg / 8 * 8;
    unsigned t = k->maxntid[0] * k->maxntid[1] * k->maxntid[2];
    if (!t)
        t = k->reqntid[0] * k->reqntid[1] * k->reqntid[2];
    if (!t || !k->minnctapersm)
        return 0;
    unsigned r = 65536 / (t * k->minnctapersm) / 8 * 8;
    return r > 255 ? 248 : r;
}

void emu_wg_reset(Cta *c)
{
    struct WgState *s = c->wg;
    s->pool = 0;
    for (int i = 0; i < s->nwarps; i++) {
        WgWarp *ww = &s->w[i];
        ww->nops = 0;
        ww->groups = 0;
        ww->fence_seen = false;
        ww->seq = 0;
        ww->regs = entry_regs(c->k);
        if (ww->busy) {
            memset(ww->busy, 0, sizeof *ww->busy * (size_t)s->nregs);
            memset(ww->touch, 0, sizeof *ww->touch * (size_t)s->nregs);
        }
    }
    memset(s->log, 0, sizeof *s->log * (size_t)s->ngroups * WG_LOG);
}

static WgWarp *wgw(Warp *w) { return &w->cta->wg->w[w->id]; }

bool emu_wg_busy(const Warp *w, int slot)
{
    const struct WgState *s = w->cta->wg;
    return s && s->w[w->id].busy && slot >= 0 && slot < s->nregs && s->w[w->id].busy[slot];
}

/* The newest op in flight that uses register slot `slot`. */
static const WgOp *op_using(const Warp *w, int slot)
{
    const WgWarp *ww = &w->cta->wg->w[w->id];
    const Kernel *k = w->cta->k;
    for (int i = ww->nops - 1; i >= 0; i--) {
        const Insn *in = ww->ops[i].in;
        for (int v = 0; v < 2; v++) {
            const Operand *o = &in->op[v];
            if (o->kind != OK_VEC)
                continue;
            for (int j = 0; j < o->nelem; j++)
                if (k->vec[o->idx + j].kind == OK_REG && k->vec[o->idx + j].idx == slot)
                    return &ww->ops[i];
        }
    }
    return NULL;
}

int emu_wg_report_busy(Warp *w, const Insn *in, const Operand *o, uint32_t lanes)
{
    const WgOp *op = op_using(w, o->idx);
    char buf[64];
    return emu_fault(w, in, lanes ? __builtin_ctz(lanes) : -1,
                     "read of register %s, which the wgmma.mma_async at line %d uses, before the "
                     "wgmma.wait_group that completes it",
                     emu_dec_reg_name(w->cta->k, o, buf, sizeof buf), op ? op->in->line : 0);
}

/* ---- warpgroup collectives ------------------------------------------------------ */

/* Checks that the whole warp executes a warpgroup instruction, that its
 * warpgroup is complete, and that the other warps of the group executed the
 * same instruction as their instruction of the same sequence number. */
static int collective(Warp *w, const Insn *in, uint32_t mask)
{
    Cta *c = w->cta;
    if (mask != FULL_MASK)
        return emu_fault(w, in, -1,
                         "executed by lanes 0x%08x of the warp: a warpgroup instruction needs all "
                         "128 threads of the warpgroup (divergent code or a false guard?)",
                         mask);
    int g = w->id / WG_WARPS;
    if ((g + 1) * WG_WARPS > c->nwarps)
        return emu_fault(w, in, -1,
                         "warpgroup %d is incomplete: the block has %d warps, a warpgroup needs 4",
                         g, c->nwarps);
    WgWarp *ww = wgw(w);
    uint32_t seq = ww->seq++;
    WgLogEnt *e = &c->wg->log[(size_t)g * WG_LOG + seq % WG_LOG];
    if (e->in && e->seq == seq) {
        if (e->in != in)
            return emu_fault(w, in, -1,
                             "the warps of warpgroup %d execute different warpgroup instructions: "
                             "warp %d executed '%s' (line %d) where this one executes this: "
                             "wgmma in divergent code?",
                             g, e->warp, e->in->text, e->in->line);
    } else if (!e->in || e->seq < seq) {
        *e = (WgLogEnt){seq, w->id, in};
    }
    return 0;
}

int emu_wg_cta_end(Cta *c)
{
    struct WgState *s = c->wg;
    for (int g = 0; g < s->ngroups; g++) {
        int n = s->nwarps - g * WG_WARPS < WG_WARPS ? s->nwarps - g * WG_WARPS : WG_WARPS;
        for (int i = 1; i < n; i++) {
            int a = g * WG_WARPS, b = a + i;
            if (s->w[a].seq != s->w[b].seq)
                return emu_fault(&c->warps[b], NULL, -1,
                                 "wgmma executed by part of warpgroup %d: warp %d executed %u "
                                 "warpgroup instructions (wgmma.*), warp %d executed %u",
                                 g, a, s->w[a].seq, b, s->w[b].seq);
        }
    }
    return 0;
}

int emu_wg_warp_exit(Warp *w)
{
    WgWarp *ww = wgw(w);
    if (!ww->nops)
        return 0;
    return emu_fault(w, NULL, -1,
                     "the warp exits with %d wgmma.mma_async in flight (the first at line %d): a "
                     "wgmma.commit_group and wgmma.wait_group are missing",
                     ww->nops, ww->ops[0].in->line);
}

/* ---- operands in shared memory ----------------------------------------------------- */

typedef struct {
    uint32_t start, lbo, sbo; /* bytes */
    unsigned chunks;          /* 16-byte chunks of a swizzle row: 0 (none), 2, 4, 8 */
    bool mn_major;
} Desc;

static int decode_desc(Warp *w, const Insn *in, uint64_t v, bool mn_major, char which, Desc *d)
{
    static const unsigned chunks[4] = {0, 8, 4, 2}; /* none, 128B, 64B, 32B */
    d->start = (uint32_t)(v & 0x3fff) << 4;
    d->lbo = (uint32_t)((v >> 16) & 0x3fff) << 4;
    d->sbo = (uint32_t)((v >> 32) & 0x3fff) << 4;
    d->chunks = chunks[v >> 62];
    d->mn_major = mn_major;
    unsigned base = (unsigned)(v >> 49) & 7;
    if (base)
        return emu_fault(w, in, -1,
                         "descriptor of %c has base offset %u: only 0 (swizzle patterns aligned "
                         "to their repeat) is modelled",
                         which, base);
    return 0;
}

/* The shared address of element (r, k) of an operand: r runs along M (A) or N
 * (B), k along K. The canonical layouts of the PTX ISA ("Shared memory matrix
 * layout"), with T elements per 16 bytes and c 16-byte chunks per swizzle row:
 *   K-major, none:      ((8,m),(T,2k)):((1T,SBO),(1,LBO))
 *   K-major, swizzled:  ((8,m),(T,2k)):((cT,SBO),(1,T))
 *   MN-major, none:     ((T,1,m),(8,k)):((1,T,SBO),(1T,LBO))
 *   MN-major, swizzled: ((T,c,m),(8,k)):((1,T,LBO),(cT,SBO))
 * then the swizzle, which XORs address bits 7.. into the chunk bits 4... */
static uint32_t elem_addr(const Desc *d, unsigned r, unsigned k, unsigned es)
{
    unsigned T = 16 / es, c = d->chunks;
    uint32_t off;
    if (!d->mn_major)
        off = c ? (r % 8) * c * 16 + (r / 8) * d->sbo + k * es
                : (r % 8) * 16 + (r / 8) * d->sbo + (k % T) * es + (k / T) * d->lbo;
    else
        off = c ? (r % T) * es + (r / T % c) * 16 + (r / (c * T)) * d->lbo + (k % 8) * c * 16 +
                      (k / 8) * d->sbo
                : (r % T) * es + (r / T) * d->sbo + (k % 8) * 16 + (k / 8) * d->lbo;
    uint32_t a = d->start + off;
    if (c)
        a ^= ((a >> 7) & (c - 1)) << 4;
    return a;
}

/* Visits the shared bytes of rows [r0, r0+nr) x K of an operand: checks bounds
 * and, with delta != 0, marks them as read by a wgmma in flight (race.c). */
static int walk_operand(Warp *w, const Insn *in, const Desc *d, char which, unsigned r0,
                        unsigned nr, unsigned K, unsigned es, int delta)
{
    Cta *c = w->cta;
    for (unsigned r = r0; r < r0 + nr; r++)
        for (unsigned k = 0; k < K; k++) {
            uint32_t a = elem_addr(d, r, k, es);
            if (a + es > c->smem_size)
                return emu_fault(w, in, -1,
                                 "element (%u, %u) of %c lies at shared offset 0x%x, outside the "
                                 "%zu bytes of shared memory (descriptor start 0x%x, LBO %u, SBO %u)",
                                 r, k, which, a, c->smem_size, d->start, d->lbo, d->sbo);
            if (delta > 0 && c->race && emu_race_async_proxy_read(w, in, a, es))
                return -1;
            if (delta && c->race)
                emu_race_async_read(c, a, es, delta, in->line);
        }
    return 0;
}

static double in_elem(int kind, uint32_t v)
{
    switch (kind) {
    case IN_F16: return emu_f16_to_f32((uint16_t)v);
    case IN_BF16: return emu_bf16_to_f32((uint16_t)v);
    case IN_E4M3: return emu_fp_to_double(FMT_E4M3, v & 0xff);
    case IN_E5M2: return emu_fp_to_double(FMT_E5M2, v & 0xff);
    case IN_TF32: return f32_of(v & 0xffffe000u); /* the low 13 bits are ignored, as by mma.sync */
    case IN_S8: return (int8_t)(v & 0xff);
    default: return v & 0xff;
    }
}

/* Reads rows [r0, r0+nr) x K of an operand into out[r - r0][k], recording the
 * reads for the race checker (as reads by lane 0 of the warp, at `at`). */
static int load_operand(Warp *w, const Insn *at, const Desc *d, unsigned r0, unsigned nr,
                        unsigned K, int kind, double sign, double *out)
{
    Cta *c = w->cta;
    unsigned es = in_size(kind);
    for (unsigned r = 0; r < nr; r++)
        for (unsigned k = 0; k < K; k++) {
            uint32_t a = elem_addr(d, r0 + r, k, es);
            if (c->race && emu_race_access(w, at, 0, a, es, NULL, w->icount))
                return -1;
            if (emu_smem_read(w, at, 0, a, es))
                return -1;
            uint32_t v = 0;
            memcpy(&v, c->smem + a, es); /* little-endian, as the GPU */
            out[r * K + k] = sign * in_elem(kind, v);
        }
    return 0;
}

/* ---- fragments in registers ------------------------------------------------------- */

/* The register slot of element i of a vector operand (-1: a sink). */
static int vslot(const Warp *w, const Operand *v, int i)
{
    const Operand *e = &w->cta->k->vec[v->idx + i];
    return e->kind == OK_REG ? e->idx : -1;
}

/* Accumulator register i of a lane holds D[row][col] (ISA: "Matrix fragments
 * for wgmma.mma_async", the m64nNk16 D layout); rows relative to the warp. With
 * f16 accumulators register i packs elements 2i and 2i+1 of this layout. */
static void acc_pos(unsigned lane, unsigned i, unsigned *row, unsigned *col)
{
    *row = lane / 4 + 8 * ((i >> 1) & 1);
    *col = 8 * (i >> 2) + 2 * (lane % 4) + (i & 1);
}

/* A in registers: 16-bit element j (register j/2, half j%2) of a lane is
 * A[row][k] with the accumulator's pattern over 16 columns; 8-bit element j
 * (register j/4, byte j%4) the same with k scaled by 2 (mma.sync's m16n8k32
 * A fragment per warp). */
static void a_pos(unsigned lane, unsigned j, unsigned es, unsigned *row, unsigned *k)
{
    unsigned per = 4 / es; /* elements per register */
    *row = lane / 4 + 8 * ((j / per) & 1);
    *k = per * (lane % 4) + j % per + 8 * per / 2 * (j / per / 2);
}

/* ---- execution ------------------------------------------------------------------------ */

static int exec_fence(Warp *w, const Insn *in, uint32_t mask)
{
    if (collective(w, in, mask))
        return -1;
    WgWarp *ww = wgw(w);
    ww->fence_seen = true;
    if (ww->touch)
        memset(ww->touch, 0, sizeof *ww->touch * (size_t)w->cta->wg->nregs);
    return 0;
}

static int exec_commit(Warp *w, const Insn *in, uint32_t mask)
{
    if (collective(w, in, mask))
        return -1;
    WgWarp *ww = wgw(w);
    for (int i = 0; i < ww->nops; i++)
        if (ww->ops[i].group == WG_UNCOMMITTED)
            ww->ops[i].group = ww->groups;
    ww->groups++;
    return 0;
}

/* A uniform 64-bit operand of the warp (descriptors). */
static int uniform64(Warp *w, const Insn *in, const Operand *o, const char *what, uint64_t *out)
{
    if (check_src(w, in, o, FULL_MASK))
        return -1;
    const uint64_t *v = opv(w, in, o);
    for (unsigned l = 1; l < WARP_SIZE; l++)
        if (v[l] != v[0])
            return emu_fault(w, in, (int)l, "%s differs between the lanes of the warp", what);
    *out = v[0];
    return 0;
}

/* Register slots of the op: accumulators (op[0]) and, for A in registers,
 * op[1]. */
static void op_slots(const Warp *w, const Insn *in, int *slots, int *n)
{
    *n = 0;
    for (int v = 0; v < ((in->flags & WGF_RS) ? 2 : 1); v++)
        for (int j = 0; j < in->op[v].nelem; j++) {
            int s = vslot(w, &in->op[v], j);
            if (s >= 0)
                slots[(*n)++] = s;
        }
}

/* The ISA's wgmma.fence rule: a fence separates a thread's access to a
 * register from a wgmma that uses it as accumulator or A fragment, except
 * accumulators carried between wgmmas of the same shape. Checked no
 * stricter than what can change a result: a write the wgmma then reads (an
 * A fragment, an accumulator with scale-d true), and accumulators passed
 * between wgmmas of different shapes. Reads by threads, and writes to
 * accumulators a wgmma does not read, are let pass: nvcc emits both between
 * the fence and the first wgmma (zeroing, then copying, the accumulators),
 * and ptxas orders them. Then the op's accumulators belong to its shape. */
static int check_fenced(Warp *w, const Insn *in, bool scale_d)
{
    WgWarp *ww = wgw(w);
    int slots[132], ns, nacc = in->op[0].nelem;
    op_slots(w, in, slots, &ns);
    int32_t key = 1 + in->sub + 256 * (int32_t)in_k(in->mode);
    for (int i = 0; i < ns; i++) {
        int32_t t = ww->touch[slots[i]], shape = t & ~WG_WRITTEN;
        bool acc = i < nacc, reads = !acc || scale_d;
        const char *why = (t & WG_WRITTEN) && reads ? "written by another instruction"
                          : acc && shape && shape != key ? "the accumulator of a wgmma of another shape"
                                                         : NULL;
        if (!why)
            continue;
        Operand o = {.kind = OK_REG, .idx = slots[i]};
        char buf[64];
        return emu_fault(w, in, -1,
                         "register %s (%s) was %s since the last wgmma.fence: a wgmma.fence must "
                         "order that access before this wgmma.mma_async",
                         emu_dec_reg_name(w->cta->k, &o, buf, sizeof buf),
                         acc ? "an accumulator" : "an A fragment", why);
    }
    for (int i = 0; i < nacc; i++)
        ww->touch[slots[i]] = key;
    return 0;
}

static int exec_mma_async(Warp *w, const Insn *in, uint32_t mask)
{
    if (collective(w, in, mask))
        return -1;
    WgWarp *ww = wgw(w);
    if (!ww->fence_seen)
        return emu_fault(w, in, -1,
                         "wgmma.mma_async without a wgmma.fence before it: the first wgmma of a "
                         "warpgroup needs one (ptxas injects one: C7519)");
    WgOp op = {.in = in, .group = WG_UNCOMMITTED};
    if (!(in->flags & WGF_RS) && uniform64(w, in, &in->op[1], "the descriptor of A", &op.desc_a))
        return -1;
    if (uniform64(w, in, &in->op[2], "the descriptor of B", &op.desc_b))
        return -1;
    const Operand *sd = &in->op[3];
    if (sd->kind == OK_PRED && w->pdef && emu_check_pdef(w, in, sd, mask))
        return -1;
    uint32_t sv = pred_val(w, sd);
    if (sv != 0 && sv != FULL_MASK)
        return emu_fault(w, in, -1, "scale-d differs between the lanes of the warp");
    op.scale_d = sv != 0;
    if (ww->touch && check_fenced(w, in, op.scale_d))
        return -1;
    unsigned N = in->sub * 8u, r0 = (unsigned)(w->id % WG_WARPS) * 16;
    Desc da, db;
    if (decode_desc(w, in, op.desc_b, in->flags & WGF_TRANS_B, 'B', &db) ||
        walk_operand(w, in, &db, 'B', 0, N, in_k(in->ty2), in_size(in->ty2), 1))
        return -1;
    if (!(in->flags & WGF_RS) &&
        (decode_desc(w, in, op.desc_a, in->flags & WGF_TRANS_A, 'A', &da) ||
         walk_operand(w, in, &da, 'A', r0, 16, in_k(in->mode), in_size(in->mode), 1)))
        return -1;
    /* registers it reads must be written, unless a wgmma in flight writes them */
    int slots[132], ns;
    op_slots(w, in, slots, &ns);
    if (w->rdef) {
        int nacc = in->op[0].nelem;
        for (int i = 0; i < ns; i++) {
            bool acc = i < nacc;
            if (ww->busy[slots[i]] || (acc && !op.scale_d) || w->rdef[slots[i]] == FULL_MASK)
                continue;
            Operand o = {.kind = OK_REG, .idx = slots[i]};
            return emu_check_def(w, in, &o, FULL_MASK);
        }
        for (int i = 0; i < ns; i++) {
            if (!ww->busy[slots[i]]++) {
                ww->saved[slots[i]] = w->rdef[slots[i]];
                w->rdef[slots[i]] = 0;
            }
        }
    }
    ww->ops = emu_grow(ww->ops, &ww->cap, ww->nops + 1, sizeof *ww->ops, 8);
    ww->ops[ww->nops++] = op;
    return 0;
}

/* An s32 accumulator from the exact sum: clamped to the int32 range with
 * .satfinite, else wrapped modulo 2^32 (two's complement). */
static uint64_t int_result(double sum, bool satfinite)
{
    int64_t v = (int64_t)sum;
    if (satfinite)
        v = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v;
    return (uint32_t)v;
}

/* Computes op for this warp's 16 rows and writes its accumulators. `at` is
 * the wait_group that completes it. */
static int complete(Warp *w, const Insn *at, const WgOp *op)
{
    const Insn *in = op->in;
    unsigned N = in->sub * 8u, r0 = (unsigned)(w->id % WG_WARPS) * 16;
    int ka = in->mode, kb = in->ty2;
    unsigned K = in_k(ka), esa = in_size(ka), esb = in_size(kb);
    double A[16 * 32], Bt[256 * 32], sa = (in->flags & WGF_NEG_A) ? -1 : 1;
    double sb = (in->flags & WGF_NEG_B) ? -1 : 1;
    Desc da, db;
    if (decode_desc(w, in, op->desc_b, in->flags & WGF_TRANS_B, 'B', &db) ||
        walk_operand(w, in, &db, 'B', 0, N, K, esb, -1) ||
        load_operand(w, at, &db, 0, N, K, kb, sb, Bt))
        return -1;
    if (in->flags & WGF_RS) {
        unsigned per = 4 / esa, bits = 8 * esa;
        for (unsigned j = 0; j < 4 * per; j++) {
            const uint64_t *v = opv(w, in, &w->cta->k->vec[in->op[1].idx + j / per]);
            for (unsigned l = 0; l < WARP_SIZE; l++) {
                unsigned r, k;
                a_pos(l, j, esa, &r, &k);
                A[r * K + k] =
                    sa * in_elem(ka, (uint32_t)((v[l] >> (bits * (j % per))) & width_mask(bits)));
            }
        }
    } else if (decode_desc(w, in, op->desc_a, in->flags & WGF_TRANS_A, 'A', &da) ||
               walk_operand(w, in, &da, 'A', r0, 16, K, esa, -1) ||
               load_operand(w, at, &da, r0, 16, K, ka, sa, A)) {
        return -1;
    }
    bool f32 = in->ty != TY_F16; /* f32 or s32: one element a register */
    unsigned nreg = f32 ? N / 2 : N / 4;
    for (unsigned i = 0; i < nreg; i++) {
        int s = vslot(w, &in->op[0], (int)i);
        uint64_t *d = s >= 0 ? w->r + (size_t)s * WARP_SIZE : NULL;
        for (unsigned l = 0; l < WARP_SIZE; l++) {
            uint64_t out = 0;
            for (unsigned h = 0; h < (f32 ? 1u : 2u); h++) {
                unsigned row, col;
                acc_pos(l, f32 ? i : 2 * i + h, &row, &col);
                double sum = 0;
                if (op->scale_d && d) {
                    uint64_t cv = d[l];
                    /* each branch a double: a float would round an int32 */
                    sum = in->ty == TY_S32 ? (double)(int32_t)cv
                          : f32            ? (double)f32_of(cv)
                                           : (double)emu_f16_to_f32((uint16_t)(cv >> (16 * h)));
                }
                const double *a = &A[row * K], *b = &Bt[col * K];
                for (unsigned k = 0; k < K; k++)
                    sum += a[k] * b[k]; /* integers: exact (below 2^53) */
                uint64_t bits = in->ty == TY_S32
                                    ? int_result(sum, in->flags & WGF_SATFINITE)
                                    : emu_fp_from_double(f32 ? FMT_F32 : FMT_F16, sum, 0, RND_RN, false);
                out |= bits << (16 * h);
            }
            if (d)
                d[l] = out;
        }
    }
    return 0;
}

/* The oldest wgmma in flight that uses register slot `slot`. */
static const Insn *first_user(Warp *w, int slot)
{
    WgWarp *ww = wgw(w);
    for (int i = 0; i < ww->nops; i++) {
        int slots[132], ns;
        op_slots(w, ww->ops[i].in, slots, &ns);
        for (int j = 0; j < ns; j++)
            if (slots[j] == slot)
                return ww->ops[i].in;
    }
    return NULL;
}

/* An instruction between `from` and `to` in the code that writes register
 * slot `slot` as its destination (op[0]), or NULL: names the culprit of a
 * write to a busy register (the emulator does not track writers). */
static const Insn *writer_between(const Kernel *k, const Insn *from, const Insn *to, int slot)
{
    if (!from)
        return NULL;
    for (const Insn *in = from + 1; in < to && in < k->code + k->ncode; in++) {
        const Operand *d = &in->op[0];
        if (in->ctl != CTL_EXEC || in->exec == exec_mma_async)
            continue;
        if (d->kind == OK_REG && d->idx == slot)
            return in;
        for (int j = 0; d->kind == OK_VEC && j < d->nelem; j++)
            if (k->vec[d->idx + j].kind == OK_REG && k->vec[d->idx + j].idx == slot)
                return in;
    }
    return NULL;
}

/* The slots of a completed op are free again when no other op uses them: a
 * write to them in the meantime is reported, then they count as written (the
 * accumulators) or get their old state back (A). */
static int release_slots(Warp *w, const Insn *at, const WgOp *op)
{
    if (!w->rdef)
        return 0;
    WgWarp *ww = wgw(w);
    int slots[132], ns, nacc = op->in->op[0].nelem;
    op_slots(w, op->in, slots, &ns);
    for (int i = 0; i < ns; i++) {
        int s = slots[i];
        if (--ww->busy[s])
            continue;
        if (w->rdef[s]) {
            Operand o = {.kind = OK_REG, .idx = s};
            char buf[64], where[160] = "";
            const Insn *wr = writer_between(w->cta->k, first_user(w, s), at, s);
            if (wr)
                snprintf(where, sizeof where, " (by line %d, %s)", wr->line, wr->text);
            return emu_fault(w, at, __builtin_ctz(w->rdef[s]),
                             "register %s, which the wgmma.mma_async at line %d uses, was written%s "
                             "before this wgmma.wait_group completed it",
                             emu_dec_reg_name(w->cta->k, &o, buf, sizeof buf), op->in->line, where);
        }
        w->rdef[s] = i < nacc ? FULL_MASK : ww->saved[s];
    }
    return 0;
}

static int exec_wait(Warp *w, const Insn *in, uint32_t mask)
{
    if (collective(w, in, mask))
        return -1;
    WgWarp *ww = wgw(w);
    uint32_t n = (uint32_t)in->op[0].val;
    int done = 0;
    while (done < ww->nops && ww->ops[done].group != WG_UNCOMMITTED &&
           ww->ops[done].group + n < ww->groups)
        done++;
    for (int i = 0; i < done; i++)
        if (complete(w, in, &ww->ops[i]))
            return -1;
    for (int i = 0; i < done; i++)
        if (release_slots(w, in, &ww->ops[i]))
            return -1;
    if (done) {
        memmove(ww->ops, ww->ops + done, sizeof *ww->ops * (size_t)(ww->nops - done));
        ww->nops -= done;
    }
    return 0;
}

/* setmaxnreg.{inc,dec}.sync.aligned.u32 N (CTL_WAIT: returns a RUN_* code). */
static int exec_setmaxnreg(Warp *w, const Insn *in, uint32_t mask)
{
    Cta *c = w->cta;
    WgWarp *ww = wgw(w);
    unsigned n = (unsigned)in->op[0].val;
    bool inc = in->flags;
    if (!ww->regs)
        return emu_fault(w, in, -1,
                         "the register count at entry is unknown: the kernel needs .maxnreg, or "
                         ".maxntid with .minnctapersm (ptxas ignores setmaxnreg otherwise: C7508)"),
               RUN_ERROR;
    if (ww->regs * 32u * (unsigned)c->nwarps > 65536)
        return emu_fault(w, in, -1,
                         "%u registers per thread for %d warps exceed the 65536 of a CTA",
                         ww->regs, c->nwarps),
               RUN_ERROR;
    if (inc ? n < ww->regs : n > ww->regs)
        return emu_fault(w, in, -1, "setmaxnreg.%s to %u registers from %u",
                         inc ? "inc" : "dec", n, ww->regs),
               RUN_ERROR;
    unsigned delta = (inc ? n - ww->regs : ww->regs - n) * 32;
    if (inc && delta > c->wg->pool) {
        w->state = WS_REGS;
        w->bar_insn = in;
        w->bar_mask = mask;
        return RUN_BLOCKED;
    }
    if (collective(w, in, mask))
        return RUN_ERROR;
    if (inc) {
        c->wg->pool -= delta;
    } else {
        c->wg->pool += delta;
        for (int i = 0; i < c->nwarps; i++)
            if (c->warps[i].state == WS_REGS)
                c->warps[i].state = WS_RUN;
    }
    ww->regs = n;
    w->stack[w->sp].pc++;
    return RUN_YIELD;
}

void emu_wg_describe(Cta *c, StrBuf *sb)
{
    for (int i = 0; i < c->nwarps; i++) {
        const Warp *w = &c->warps[i];
        if (w->state == WS_REGS)
            sb_printf(sb,
                      "\n  warp %d waits in %s (line %d) to go from %u to %lld registers per "
                      "thread; the pool has %u free registers",
                      i, w->bar_insn->text, w->bar_insn->line, c->wg->w[i].regs,
                      (long long)w->bar_insn->op[0].val, c->wg->pool);
    }
}

/* ---- decoding ---------------------------------------------------------------------------- */

static int need_sync_aligned(Decoder *d, const RawStmt *s, const Mods *m, uint32_t cats)
{
    if (emu_dec_allow(d, s, m, cats, MF_SYNC | MF_ALIGNED))
        return -1;
    if (!(m->flags & MF_SYNC) || !(m->flags & MF_ALIGNED))
        return emu_dec_error(d, s, "needs .sync.aligned");
    return 0;
}

/* An immediate operand that must be one of two values. */
static int imm_choice(Decoder *d, const RawStmt *s, const RawOp *r, const char *what, int64_t a,
                      int64_t b, int64_t *out)
{
    if (r->kind != RO_INT || (r->ival != a && r->ival != b))
        return emu_dec_error(d, s, "%s must be the immediate %lld or %lld", what, (long long)a,
                             (long long)b);
    *out = r->ival;
    return 0;
}

/* The input kind of a type (-1: none wgmma takes). */
static int in_kind(int ty)
{
    switch (ty) {
    case TY_F16: return IN_F16;
    case TY_BF16: return IN_BF16;
    case TY_E4M3: return IN_E4M3;
    case TY_E5M2: return IN_E5M2;
    case TY_TF32: return IN_TF32;
    case TY_S8: return IN_S8;
    case TY_U8: return IN_U8;
    default: return -1;
    }
}

/* Input families: the pairs of A and B types an instruction may have. */
enum { FAM_16, FAM_F8, FAM_TF32, FAM_INT };
static int family(int kind)
{
    return kind <= IN_BF16 ? FAM_16 : kind <= IN_E5M2 ? FAM_F8 : kind == IN_TF32 ? FAM_TF32 : FAM_INT;
}

/* wgmma.mma_async.sync.aligned.m64nNkK.dtype.atype.btype (as ptxas takes them):
 *   f16/bf16 (k16; d f32, or f16 with f16 inputs; A and B MN- or K-major):
 *     d, a-desc, b-desc, scale-d, imm-scale-a, imm-scale-b, imm-trans-a, imm-trans-b
 *     d, {a0..a3}, b-desc, scale-d, imm-scale-a, imm-scale-b, imm-trans-b
 *   e4m3/e5m2 (k32; d f32 or f16), tf32 (k8; d f32): K-major only
 *     d, a-desc, b-desc, scale-d, imm-scale-a, imm-scale-b
 *     d, {a0..a3}, b-desc, scale-d, imm-scale-a, imm-scale-b
 *   s8/u8 (k32; d s32, .satfinite optional; N 8, 16, 24 or a multiple of 16): K-major only
 *     d, a-desc, b-desc, scale-d
 *     d, {a0..a3}, b-desc, scale-d */
static int decode_mma_async(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_SHAPE), MF_SYNC | MF_ALIGNED | MF_SATFINITE))
        return -1;
    if (!(m->flags & MF_SYNC) || !(m->flags & MF_ALIGNED))
        return emu_dec_error(d, s, "needs .sync.aligned");
    if (m->shape != SHAPE_MNK || m->mnk[0] != 64)
        return emu_dec_error(d, s, "needs a shape .m64nNkK");
    unsigned N = m->mnk[1], K = m->mnk[2];
    if (N < 8 || N > 256 || N % 8)
        return emu_dec_error(d, s, "N = %u: it must be a multiple of 8 from 8 to 256", N);
    if (m->ntype != 3)
        return emu_dec_error(d, s, "needs three types (d, a, b)");
    int dt = m->type[0], at = m->type[1], bt = m->type[2];
    int ka = in_kind(at), kb = in_kind(bt);
    if (ka < 0 || kb < 0 || family(ka) != family(kb) || (family(ka) == FAM_16 && ka != kb) ||
        (family(ka) == FAM_TF32 && ka != kb))
        return emu_dec_error(d, s, "inputs .%s/.%s are not supported (f16, bf16, tf32, e4m3/e5m2 and "
                             "s8/u8 pairs are)", emu_types[at].name, emu_types[bt].name);
    int fam = family(ka);
    if (K != in_k(ka))
        return emu_dec_error(d, s, "K = %u: .%s inputs need k%u", K, emu_types[at].name, in_k(ka));
    bool dt_ok = fam == FAM_INT    ? dt == TY_S32
                 : fam == FAM_TF32 ? dt == TY_F32
                                   : dt == TY_F32 || (dt == TY_F16 && (ka == IN_F16 || fam == FAM_F8));
    if (!dt_ok)
        return emu_dec_error(d, s, "accumulator .%s is not allowed with .%s inputs",
                             emu_types[dt].name, emu_types[at].name);
    if ((m->flags & MF_SATFINITE) && fam != FAM_INT)
        return emu_dec_error(d, s, ".satfinite is for s8/u8 inputs");
    if (fam == FAM_INT && N > 24 && N % 16)
        return emu_dec_error(d, s, "N = %u: with s8/u8 inputs N must be 8, 16, 24 or a multiple of 16",
                             N);
    /* only f16/bf16 have the transpose immediates; integers have no scales */
    bool rs = s->nops >= 2 && s->ops[1].kind == RO_VEC, trans = fam == FAM_16, scales = fam != FAM_INT;
    int nops = 4 + (scales ? 2 : 0) + (trans ? (rs ? 1 : 2) : 0);
    if (emu_dec_nops(d, s, nops, nops))
        return -1;
    unsigned nd = dt == TY_F16 ? N / 4 : N / 2;
    if (emu_dec_vec(d, s, &s->ops[0], (int)nd, dt == TY_F32 ? TY_F32 : TY_B32, true, false,
                    &in->op[0]))
        return -1;
    if (rs ? emu_dec_vec(d, s, &s->ops[1], 4, TY_B32, false, false, &in->op[1])
           : emu_dec_src(d, s, &s->ops[1], TY_B64, &in->op[1]))
        return -1;
    if (emu_dec_src(d, s, &s->ops[2], TY_B64, &in->op[2]))
        return -1;
    const RawOp *sd = &s->ops[3];
    if (sd->kind == RO_INT) {
        if (sd->ival != 0 && sd->ival != 1)
            return emu_dec_error(d, s, "scale-d must be a predicate, 0 or 1");
        in->op[3] = (Operand){.kind = OK_IMM, .val = sd->ival};
    } else if (emu_dec_pred(d, s, sd, true, &in->op[3])) {
        return -1;
    }
    int64_t sa = 1, sb = 1, ta = 0, tb = 0;
    if ((scales && (imm_choice(d, s, &s->ops[4], "imm-scale-a", 1, -1, &sa) ||
                    imm_choice(d, s, &s->ops[5], "imm-scale-b", 1, -1, &sb))) ||
        (trans && !rs && imm_choice(d, s, &s->ops[6], "imm-trans-a", 0, 1, &ta)) ||
        (trans && imm_choice(d, s, &s->ops[rs ? 6 : 7], "imm-trans-b", 0, 1, &tb)))
        return -1;
    in->nops = 4;
    in->flags = (sa < 0 ? WGF_NEG_A : 0) | (sb < 0 ? WGF_NEG_B : 0) | (ta ? WGF_TRANS_A : 0) |
                (tb ? WGF_TRANS_B : 0) | (rs ? WGF_RS : 0) |
                ((m->flags & MF_SATFINITE) ? WGF_SATFINITE : 0);
    in->ty = (uint8_t)dt;
    in->sub = (uint8_t)(N / 8);
    in->mode = (uint8_t)ka;
    in->ty2 = (uint8_t)kb;
    in->exec = exec_mma_async;
    return 0;
}

/* setmaxnreg.{inc,dec}.sync.aligned.u32 N */
static int decode_setmaxnreg(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_ATOM), MF_SYNC | MF_ALIGNED) ||
        emu_dec_type(d, s, m, TYB(TY_U32), &ty))
        return -1;
    if (!(m->flags & MF_SYNC) || !(m->flags & MF_ALIGNED) ||
        (m->atom != ATOM_INC && m->atom != ATOM_DEC))
        return emu_dec_error(d, s, "needs .inc or .dec and .sync.aligned");
    if (d->raw->sm != 90 || !d->raw->sm_a)
        return emu_dec_error(d, s, "setmaxnreg needs .target sm_90a");
    if (emu_dec_nops(d, s, 1, 1))
        return -1;
    const RawOp *r = &s->ops[0];
    if (r->kind != RO_INT || r->ival < 24 || r->ival > 256 || r->ival % 8)
        return emu_dec_error(d, s, "the register count must be an immediate multiple of 8 from "
                                   "24 to 256");
    d->k->uses_wgmma = true;
    in->op[0] = (Operand){.kind = OK_IMM, .val = r->ival};
    in->flags = m->atom == ATOM_INC;
    in->ctl = CTL_WAIT;
    in->exec = exec_setmaxnreg;
    return 0;
}

static int decode_wgmma(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (d->raw->sm != 90 || !d->raw->sm_a)
        return emu_dec_error(d, s, "wgmma needs .target sm_90a");
    d->k->uses_wgmma = true;
    if (d->op_arg == WG_MMA)
        return decode_mma_async(d, s, m, in);
    if (need_sync_aligned(d, s, m, 0))
        return -1;
    if (d->op_arg == WG_WAIT) {
        if (emu_dec_nops(d, s, 1, 1))
            return -1;
        if (s->ops[0].kind != RO_INT || s->ops[0].ival < 0 || s->ops[0].ival > 7)
            return emu_dec_error(d, s, "the group count must be an immediate from 0 to 7");
        in->op[0] = (Operand){.kind = OK_IMM, .val = s->ops[0].ival};
        in->exec = exec_wait;
        return 0;
    }
    if (emu_dec_nops(d, s, 0, 0))
        return -1;
    in->exec = d->op_arg == WG_FENCE ? exec_fence : exec_commit;
    return 0;
}

const OpDesc emu_ops_wgmma[] = {
    {"wgmma.fence", decode_wgmma, WG_FENCE},
    {"wgmma.commit_group", decode_wgmma, WG_COMMIT},
    {"wgmma.wait_group", decode_wgmma, WG_WAIT},
    {"wgmma.mma_async", decode_wgmma, WG_MMA},
    {"setmaxnreg", decode_setmaxnreg, WG_SETMAXNREG},
    {NULL, NULL, 0},
};
