/* mbarrier: init, inval, arrive (with a count), arrive.expect_tx, expect_tx,
 * complete_tx, test_wait and try_wait (with a state token or .parity), as the
 * PTX ISA defines them ("Parallel Synchronization and Communication
 * Instructions: mbarrier"). The object's state lives in a table of the CTA
 * keyed by its shared offset (the 8 bytes themselves are not touched):
 * current phase, pending and expected arrivals, transaction count.
 *
 * A phase completes when the pending arrivals reach zero and the transaction
 * count is zero; the phase then advances, pending arrivals reset to the
 * expected count and the warps waiting on the object run again. A try_wait
 * that fails in every lane suspends the warp until a phase of that object
 * completes (the ISA lets it block: "potentially blocking"); a test_wait that
 * fails ends the warp's time slice, so spin loops make progress. Arrive
 * releases and a successful wait acquires, for the race detector. */
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

enum { MB_INIT, MB_INVAL, MB_ARRIVE, MB_ARRIVE_TX, MB_EXPECT_TX, MB_COMPLETE_TX, MB_TEST_WAIT,
       MB_TRY_WAIT, MB_TEST_WAIT_PARITY, MB_TRY_WAIT_PARITY };
enum { MB_MAX_COUNT = (1 << 20) - 1, MB_MAX_TX = (1 << 20) - 1 };

typedef struct {
    uint32_t off;
    bool live;
    int init_line, inval_line;
    uint32_t phase;        /* phases completed */
    int32_t pending, expected;
    int64_t tx;            /* transaction count (bytes expected minus bytes completed) */
    uint32_t *vc_cur;      /* race detector: clocks released into the current phase */
    uint32_t *vc_done;     /* ... and into the phases completed */
} Mbar;

struct MbarState {
    Mbar *b;
    int n, cap;
    int nwarps;
};

struct MbarState *emu_mbar_new(Cta *c)
{
    struct MbarState *s = tsr_xcalloc(1, sizeof *s);
    s->nwarps = c->nwarps;
    return s;
}

void emu_mbar_free(struct MbarState *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->cap; i++) {
        free(s->b[i].vc_cur);
        free(s->b[i].vc_done);
    }
    free(s->b);
    free(s);
}

void emu_mbar_reset(Cta *c) { c->mbar->n = 0; }

/* The object at `off`, created when `create`; NULL if there is none. */
static Mbar *find(Cta *c, uint32_t off, bool create)
{
    struct MbarState *s = c->mbar;
    for (int i = 0; i < s->n; i++)
        if (s->b[i].off == off)
            return &s->b[i];
    if (!create)
        return NULL;
    s->b = emu_grow(s->b, &s->cap, s->n + 1, sizeof *s->b, 8);
    Mbar *b = &s->b[s->n++];
    uint32_t *vc = b->vc_cur, *vd = b->vc_done;
    memset(b, 0, sizeof *b);
    b->off = off;
    if (c->race) {
        b->vc_cur = vc ? vc : tsr_xmalloc(sizeof *vc * (size_t)c->nwarps);
        b->vc_done = vd ? vd : tsr_xmalloc(sizeof *vd * (size_t)c->nwarps);
        memset(b->vc_cur, 0, sizeof *vc * (size_t)c->nwarps);
        memset(b->vc_done, 0, sizeof *vd * (size_t)c->nwarps);
    }
    return b;
}

/* The shared offset of the object a lane names (8 bytes, 8-aligned). */
static int lane_mbar(Warp *w, const Insn *in, unsigned lane, bool init, Mbar **out)
{
    Cta *c = w->cta;
    int space;
    uint64_t addr = addr_of(w, &in->op[1], lane);
    uint8_t *p = emu_resolve(w, in, (int)lane, in->space, addr, 8, true, &space);
    if (!p)
        return -1;
    if (space != SP_SHARED)
        return emu_fault(w, in, (int)lane, "the mbarrier is not in shared memory");
    uint32_t off = (uint32_t)(p - c->smem);
    Mbar *b = find(c, off, init);
    if (!init && (!b || !b->live)) {
        if (b && b->inval_line)
            return emu_fault(w, in, (int)lane,
                             "mbarrier at shared offset 0x%x was invalidated (line %d)", off,
                             b->inval_line);
        return emu_fault(w, in, (int)lane,
                         "no mbarrier at shared offset 0x%x: mbarrier.init is missing", off);
    }
    *out = b;
    return 0;
}

/* Wakes the warps waiting on b. */
static void wake(Cta *c, const Mbar *b)
{
    for (int i = 0; i < c->nwarps; i++) {
        Warp *w = &c->warps[i];
        if (w->state == WS_MBAR && (uint32_t)w->bar_id == b->off)
            w->state = WS_RUN;
    }
}

/* Completes phases while their conditions hold. */
static void try_complete(Cta *c, Mbar *b)
{
    if (b->pending || b->tx)
        return;
    b->phase++;
    b->pending = b->expected;
    if (c->race) {
        for (int i = 0; i < c->nwarps; i++)
            if (b->vc_cur[i] > b->vc_done[i])
                b->vc_done[i] = b->vc_cur[i];
        memset(b->vc_cur, 0, sizeof *b->vc_cur * (size_t)c->nwarps);
    }
    wake(c, b);
}

static int add_tx(Warp *w, const Insn *in, unsigned lane, Mbar *b, int64_t delta)
{
    int64_t tx = b->tx + delta;
    if (tx > MB_MAX_TX || tx < -MB_MAX_TX)
        return emu_fault(w, in, (int)lane,
                         "transaction count of the mbarrier at shared offset 0x%x leaves the range "
                         "of +-%d (it would be %lld)",
                         b->off, MB_MAX_TX, (long long)tx);
    b->tx = tx;
    return 0;
}

bool emu_mbar_live(Cta *c, uint32_t off)
{
    const Mbar *b = find(c, off, false);
    return b && b->live;
}

int emu_mbar_complete_tx(Cta *c, uint32_t off, uint32_t bytes)
{
    Mbar *b = find(c, off, false);
    if (!b || !b->live)
        return -1;
    b->tx -= bytes;
    try_complete(c, b);
    return 0;
}

static int arrive(Warp *w, const Insn *in, unsigned lane, Mbar *b, uint32_t count)
{
    if (count < 1 || count > MB_MAX_COUNT)
        return emu_fault(w, in, (int)lane, "arrival count %u is outside 1..%d", count, MB_MAX_COUNT);
    if ((int64_t)count > b->pending)
        return emu_fault(w, in, (int)lane,
                         "%u arrivals on the mbarrier at shared offset 0x%x, which expects only %d "
                         "more in phase %u",
                         count, b->off, b->pending, b->phase);
    if (w->cta->race) {
        for (int i = 0; i < w->cta->nwarps; i++)
            if (w->vc[i] > b->vc_cur[i])
                b->vc_cur[i] = w->vc[i];
    }
    b->pending -= (int32_t)count;
    try_complete(w->cta, b);
    return 0;
}

/* init, inval, arrive{.expect_tx}, expect_tx, complete_tx:
 * op[0] state (arrive), op[1] address, op[2] count or bytes. */
static int exec_mbar(Warp *w, const Insn *in, uint32_t mask)
{
    for (int i = 1; i <= 2; i++)
        if (check_src(w, in, &in->op[i], mask))
            return -1;
    const uint64_t *v = opv(w, in, &in->op[2]);
    uint64_t *state = in->op[0].kind == OK_REG ? opd(w, &in->op[0]) : NULL;
    bool arrived = false;
    FOR_LANES(l, mask) {
        Mbar *b;
        uint32_t arg = (uint32_t)v[l];
        if (lane_mbar(w, in, l, in->sub == MB_INIT, &b))
            return -1;
        switch (in->sub) {
        case MB_INIT:
            if (b->live)
                return emu_fault(w, in, (int)l,
                                 "mbarrier.init of the live mbarrier at shared offset 0x%x "
                                 "(initialised at line %d): mbarrier.inval it first",
                                 b->off, b->init_line);
            if (arg < 1 || arg > MB_MAX_COUNT)
                return emu_fault(w, in, (int)l, "mbarrier count %u is outside 1..%d", arg,
                                 MB_MAX_COUNT);
            b->live = true;
            b->init_line = in->line;
            b->inval_line = 0;
            b->phase = 0;
            b->pending = b->expected = (int32_t)arg;
            b->tx = 0;
            if (w->cta->race)
                emu_race_mbarrier(w->cta, b->off, in->line);
            break;
        case MB_INVAL:
            b->live = false;
            b->inval_line = in->line;
            if (w->cta->race)
                emu_race_mbarrier(w->cta, b->off, 0);
            break;
        case MB_EXPECT_TX:
            if (add_tx(w, in, l, b, arg))
                return -1;
            break;
        case MB_COMPLETE_TX:
            if (add_tx(w, in, l, b, -(int64_t)arg))
                return -1;
            try_complete(w->cta, b);
            break;
        case MB_ARRIVE_TX:
            if (add_tx(w, in, l, b, arg))
                return -1;
            /* fall through */
        default:
            if (state)
                state[l] = b->phase;
            if (arrive(w, in, l, b, in->sub == MB_ARRIVE_TX ? 1 : arg))
                return -1;
            arrived = true;
            break;
        }
    }
    if (arrived && w->cta->race)
        w->vc[w->id]++;
    if (state)
        mark_def(w, &in->op[0], mask);
    return 0;
}

/* Whether the phase a lane waits for has completed: with .parity, the phase
 * of that parity (the current phase has the other parity); with a state
 * token, the phase the token was taken in. */
static bool phase_done(const Insn *in, const Mbar *b, uint64_t arg)
{
    if (in->sub == MB_TEST_WAIT_PARITY || in->sub == MB_TRY_WAIT_PARITY)
        return (b->phase & 1) != (arg & 1);
    return b->phase > (uint32_t)arg;
}

int emu_mbar_wait(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_src(w, in, &in->op[1], mask) || check_src(w, in, &in->op[2], mask))
        return RUN_ERROR;
    const uint64_t *v = opv(w, in, &in->op[2]);
    uint32_t done = 0;
    Mbar *first = NULL;
    FOR_LANES(l, mask) {
        Mbar *b;
        if (lane_mbar(w, in, l, false, &b))
            return RUN_ERROR;
        if (in->sub == MB_TEST_WAIT || in->sub == MB_TRY_WAIT) {
            if (v[l] > b->phase)
                return emu_fault(w, in, (int)l,
                                 "the state operand (phase %llu) does not come from an arrive on "
                                 "this mbarrier (phase %u)",
                                 (unsigned long long)v[l], b->phase),
                       RUN_ERROR;
        }
        if (!phase_done(in, b, v[l]) && w->cta->tma) {
            int landed = emu_tma_land(w->cta, b->off);
            if (landed < 0)
                return RUN_ERROR;
        }
        if (phase_done(in, b, v[l])) {
            done |= 1u << l;
            if (w->cta->race)
                for (int i = 0; i < w->cta->nwarps; i++)
                    if (b->vc_done[i] > w->vc[i])
                        w->vc[i] = b->vc_done[i];
        } else if (!first) {
            first = b;
        }
    }
    bool blocking = in->sub == MB_TRY_WAIT || in->sub == MB_TRY_WAIT_PARITY;
    if (!done && blocking) {
        w->state = WS_MBAR;
        w->bar_id = (int)first->off;
        w->bar_insn = in;
        w->bar_mask = mask;
        return RUN_BLOCKED;
    }
    pred_set(w, in->op[0].idx, mask, done);
    w->stack[w->sp].pc++;
    return done == mask ? RUN_YIELD : RUN_SWITCH;
}

void emu_mbar_describe(Cta *c, StrBuf *sb)
{
    struct MbarState *s = c->mbar;
    for (int i = 0; i < c->nwarps; i++) {
        const Warp *w = &c->warps[i];
        if (w->state != WS_MBAR)
            continue;
        const Mbar *b = find(c, (uint32_t)w->bar_id, false);
        const uint64_t *v = opv((Warp *)w, w->bar_insn, &w->bar_insn->op[2]);
        unsigned l = (unsigned)__builtin_ctz(w->bar_mask);
        bool parity = w->bar_insn->sub == MB_TRY_WAIT_PARITY;
        sb_printf(sb, "\n  warp %d waits on the mbarrier at shared offset 0x%x (line %d, %s) for "
                      "the end of %s %llu",
                  i, b ? b->off : 0, w->bar_insn->line, w->bar_insn->text,
                  parity ? "a phase of parity" : "phase", (unsigned long long)(v[l] & (parity ? 1 : ~0ull)));
    }
    for (int i = 0; i < s->n; i++) {
        const Mbar *b = &s->b[i];
        if (!b->live)
            continue;
        sb_printf(sb, "\n  mbarrier at shared offset 0x%x (init line %d, count %d): phase %u "
                      "(parity %u), %d of %d arrivals pending, %lld transaction bytes pending",
                  b->off, b->init_line, b->expected, b->phase, b->phase & 1, b->pending,
                  b->expected, (long long)b->tx);
    }
}

/* ---- decoding ------------------------------------------------------------------------- */

/* mbarrier.op{.sem}{.scope}{.space}.b64 operands */
static int decode_mbar(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int op = d->op_arg, ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_SPACE) | MCB(MC_SEM) | MCB(MC_SCOPE), 0) ||
        emu_dec_type(d, s, m, TYB(TY_B64), &ty))
        return -1;
    if (d->raw->sm < 80)
        return emu_dec_error(d, s, "mbarrier needs sm_80 or later");
    if ((op == MB_ARRIVE_TX || op == MB_EXPECT_TX || op == MB_COMPLETE_TX ||
         op == MB_TRY_WAIT || op == MB_TRY_WAIT_PARITY) && d->raw->sm < 90)
        return emu_dec_error(d, s, "this mbarrier operation needs sm_90 or later");
    int space = m->nspace ? m->space[0] : SP_GENERIC;
    if (space != SP_SHARED && space != SP_GENERIC)
        return emu_dec_error(d, s, "an mbarrier lives in shared memory");
    d->k->uses_mbarrier = true;
    in->sub = (uint8_t)op;
    in->space = (uint8_t)space;
    bool wait = op >= MB_TEST_WAIT;
    int first = 0;
    if (wait || op == MB_ARRIVE || op == MB_ARRIVE_TX) {
        /* a result first: the predicate of a wait, the state of an arrive */
        if (emu_dec_nops(d, s, op == MB_ARRIVE ? 2 : 3, wait && op >= MB_TRY_WAIT ? 4 : 3))
            return -1;
        if (op == MB_TRY_WAIT_PARITY || op == MB_TRY_WAIT) {
            if (s->nops == 4 && s->ops[3].kind != RO_INT && s->ops[3].kind != RO_NAME)
                return emu_dec_error(d, s, "bad suspend-time hint");
        } else if (op == MB_TEST_WAIT || op == MB_TEST_WAIT_PARITY) {
            if (s->nops != 3)
                return emu_dec_error(d, s, "expected 3 operands");
        }
        int rc = wait ? emu_dec_pred_dst(d, s, &s->ops[0], &in->op[0])
                      : s->ops[0].kind == RO_SINK ? (in->op[0] = (Operand){.kind = OK_SINK}, 0)
                                                  : emu_dec_dst(d, s, &s->ops[0], TY_B64, &in->op[0]);
        if (rc)
            return -1;
        first = 1;
    } else if (emu_dec_nops(d, s, op == MB_INVAL ? 1 : 2, op == MB_INVAL ? 1 : 2)) {
        return -1;
    }
    if (emu_dec_addr(d, s, &s->ops[first], &space, &in->op[1]))
        return -1;
    in->space = (uint8_t)space;
    if (s->nops > first + 1) {
        int aty = op == MB_TEST_WAIT || op == MB_TRY_WAIT ? TY_B64 : TY_B32;
        if (emu_dec_src(d, s, &s->ops[first + 1], aty, &in->op[2]))
            return -1;
    } else if (emu_dec_imm(d, 1, &in->op[2])) { /* arrive without a count: 1 */
        return -1;
    }
    in->nops = 3;
    in->ctl = wait ? CTL_WAIT : CTL_EXEC;
    in->exec = wait ? emu_mbar_wait : exec_mbar;
    return 0;
}

const OpDesc emu_ops_mbar[] = {
    {"mbarrier.init", decode_mbar, MB_INIT},
    {"mbarrier.inval", decode_mbar, MB_INVAL},
    {"mbarrier.arrive", decode_mbar, MB_ARRIVE},
    {"mbarrier.arrive.expect_tx", decode_mbar, MB_ARRIVE_TX},
    {"mbarrier.expect_tx", decode_mbar, MB_EXPECT_TX},
    {"mbarrier.complete_tx", decode_mbar, MB_COMPLETE_TX},
    {"mbarrier.test_wait", decode_mbar, MB_TEST_WAIT},
    {"mbarrier.try_wait", decode_mbar, MB_TRY_WAIT},
    {"mbarrier.test_wait.parity", decode_mbar, MB_TEST_WAIT_PARITY},
    {"mbarrier.try_wait.parity", decode_mbar, MB_TRY_WAIT_PARITY},
    {"mbarrier.arrive_drop", emu_decode_unsupported, 0},
    {"mbarrier.pending_count", emu_decode_unsupported, 0},
    {NULL, NULL, 0},
};
