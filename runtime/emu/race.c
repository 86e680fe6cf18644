/* The shared-memory race detector. Happens-before is tracked with vector
 * clocks over the warps of a CTA: a barrier joins the clocks of the warps that
 * arrive (bar.arrive releases, bar.sync and bar.red also acquire). Every byte
 * of shared memory remembers its last write (warp, clock, lane, line) and,
 * per warp, its last read. Two accesses race when they come from different
 * warps, at least one writes, and no barrier orders them.
 *
 * Lanes of one warp: the emulator runs them in lock step, and code generated
 * for sm_80/sm_90 relies on warp-synchronous execution after reconvergence, so
 * accesses from the same warp are ordered by program order; the one exception
 * is two lanes writing different values to the same byte in one instruction,
 * whose outcome is undefined. Atomics are not checked. A read or write of
 * bytes that an uncompleted cp.async will write is reported too: the kernel
 * lacks a cp.async.wait_group before it. So is a read through the async
 * proxy (a wgmma's shared operands) of bytes whose last store was not
 * followed by a fence.proxy.async of the storing warp. */
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"
#include "oom.h"

struct RaceState {
    size_t size;
    int nwarps;
    uint32_t *wr_clock; /* per byte; 0: never written */
    uint8_t *wr_warp, *wr_lane;
    uint32_t *wr_serial;
    int32_t *wr_line;
    uint32_t *rd_clock; /* [warp * size + byte]; 0: not read */
    int32_t *rd_line;
    uint8_t *rd_lane;
    uint16_t *pending;  /* cp.async copies in flight per byte */
    uint16_t *async_rd; /* wgmmas in flight that read the byte */
    int32_t *async_line; /* the line of the last of them */
    uint8_t *unfenced;  /* written by the generic proxy, no fence.proxy.async since */
    uint16_t *async_wr; /* asynchronous copies (TMA) that will write the byte */
    int32_t *mbar_line; /* the init line of a live mbarrier there; 0: none */
    int32_t *async_wr_line;
};

/* The cleanup of a state being built when memory runs out (oom.h). */
static void free_partial(void *r) { emu_race_free(r); }

RaceState *emu_race_new(size_t size, int nwarps)
{
    RaceState *r = tsr_xcalloc(1, sizeof *r);
    int slot = oom_defer(free_partial, r);
    size_t n = size ? size : 1;
    r->size = size;
    r->nwarps = nwarps;
    r->wr_clock = tsr_xcalloc(n, sizeof *r->wr_clock);
    r->wr_warp = tsr_xcalloc(n, 1);
    r->wr_lane = tsr_xcalloc(n, 1);
    r->wr_serial = tsr_xcalloc(n, sizeof *r->wr_serial);
    r->wr_line = tsr_xcalloc(n, sizeof *r->wr_line);
    r->rd_clock = tsr_xcalloc(n * (size_t)nwarps, sizeof *r->rd_clock);
    r->rd_line = tsr_xcalloc(n * (size_t)nwarps, sizeof *r->rd_line);
    r->rd_lane = tsr_xcalloc(n * (size_t)nwarps, 1);
    r->pending = tsr_xcalloc(n, sizeof *r->pending);
    r->async_rd = tsr_xcalloc(n, sizeof *r->async_rd);
    r->async_line = tsr_xcalloc(n, sizeof *r->async_line);
    r->unfenced = tsr_xcalloc(n, 1);
    r->async_wr = tsr_xcalloc(n, sizeof *r->async_wr);
    r->mbar_line = tsr_xcalloc(n, sizeof *r->mbar_line);
    r->async_wr_line = tsr_xcalloc(n, sizeof *r->async_wr_line);
    oom_undefer(slot);
    return r;
}

void emu_race_free(RaceState *r)
{
    if (!r)
        return;
    free(r->wr_clock);
    free(r->wr_warp);
    free(r->wr_lane);
    free(r->wr_serial);
    free(r->wr_line);
    free(r->rd_clock);
    free(r->rd_line);
    free(r->rd_lane);
    free(r->pending);
    free(r->async_rd);
    free(r->async_line);
    free(r->unfenced);
    free(r->async_wr);
    free(r->mbar_line);
    free(r->async_wr_line);
    free(r);
}

void emu_race_reset(RaceState *r, int nwarps)
{
    size_t n = r->size;
    memset(r->wr_clock, 0, n * sizeof *r->wr_clock);
    memset(r->rd_clock, 0, n * (size_t)nwarps * sizeof *r->rd_clock);
    memset(r->pending, 0, n * sizeof *r->pending);
    memset(r->async_rd, 0, n * sizeof *r->async_rd);
    memset(r->unfenced, 0, n);
    memset(r->async_wr, 0, n * sizeof *r->async_wr);
    memset(r->mbar_line, 0, n * sizeof *r->mbar_line);
}

void emu_race_mbarrier(Cta *c, uint32_t off, int line)
{
    for (unsigned i = 0; i < 8; i++)
        c->race->mbar_line[off + i] = line;
}

void emu_race_async_write_pending(Cta *c, uint32_t off, unsigned size, int delta, int line)
{
    RaceState *r = c->race;
    for (unsigned i = 0; i < size; i++) {
        r->async_wr[off + i] = (uint16_t)(r->async_wr[off + i] + delta);
        r->async_wr_line[off + i] = line;
    }
}

static void other_thread(Cta *c, int warp, int lane, StrBuf *sb)
{
    unsigned tid[3];
    emu_thread_coords(&c->warps[warp], (unsigned)lane, tid);
    sb_printf(sb, "thread tid (%u,%u,%u)", tid[0], tid[1], tid[2]);
}

void emu_race_proxy_fence(Warp *w)
{
    RaceState *r = w->cta->race;
    for (size_t x = 0; x < r->size; x++)
        if (r->unfenced[x] && r->wr_warp[x] == w->id)
            r->unfenced[x] = 0;
}

int emu_race_async_proxy_read(Warp *w, const Insn *in, uint32_t off, unsigned size)
{
    RaceState *r = w->cta->race;
    for (unsigned i = 0; i < size; i++) {
        uint32_t x = off + i;
        if (!r->unfenced[x])
            continue;
        StrBuf sb;
        sb_init(&sb);
        other_thread(w->cta, r->wr_warp[x], r->wr_lane[x], &sb);
        emu_fault(w, in, -1,
                  "reads shared memory at offset 0x%x through the async proxy, but the store of "
                  "%s (line %d) to it has no fence.proxy.async after it",
                  x, sb.data, r->wr_line[x]);
        sb_free(&sb);
        return -1;
    }
    return 0;
}

void emu_race_async_read(Cta *c, uint32_t off, unsigned size, int delta, int line)
{
    RaceState *r = c->race;
    for (unsigned i = 0; i < size; i++) {
        r->async_rd[off + i] = (uint16_t)(r->async_rd[off + i] + delta);
        r->async_line[off + i] = line;
    }
}

void emu_race_cp_async_issue(Cta *c, uint32_t off, unsigned size, int delta)
{
    for (unsigned i = 0; i < size; i++)
        c->race->pending[off + i] = (uint16_t)(c->race->pending[off + i] + delta);
}

static int report(Warp *w, const Insn *in, int lane, uint32_t off, bool write, bool other_write,
                  int owarp, int olane, int oline)
{
    StrBuf sb;
    sb_init(&sb);
    other_thread(w->cta, owarp, olane, &sb);
    emu_fault(w, in, lane,
              "shared-memory race at offset 0x%x: this %s and a %s by %s (line %d) are not "
              "ordered by a barrier",
              off, write ? "write" : "read", other_write ? "write" : "read", sb.data, oline);
    sb_free(&sb);
    return -1;
}

static int report_pending(Warp *w, const Insn *in, int lane, uint32_t off, bool write)
{
    Cta *c = w->cta;
    int line = 0;
    for (int i = 0; i < c->nwarps && !line; i++)
        for (int j = 0; j < c->warps[i].ncp; j++) {
            const CpAsync *cp = &c->warps[i].cp[j];
            if (off >= cp->dst && off < cp->dst + cp->size) {
                line = cp->line;
                break;
            }
        }
    return emu_fault(w, in, lane,
                     "%s of shared memory at offset 0x%x that a cp.async (line %d) has not yet "
                     "written: a cp.async.wait_group or wait_all is missing before it",
                     write ? "write" : "read", off, line);
}

int emu_race_access(Warp *w, const Insn *in, int lane, uint32_t off, unsigned size, const uint8_t *value,
                uint64_t serial)
{
    Cta *c = w->cta;
    RaceState *r = c->race;
    int me = w->id;
    bool write = value != NULL;
    int line = in ? in->line : 0;
    for (unsigned i = 0; i < size; i++) {
        uint32_t x = off + i;
        if (r->pending[x])
            return report_pending(w, in, lane, x, write);
        if (r->mbar_line[x])
            return emu_fault(w, in, lane,
                             "%s of the mbarrier at shared offset 0x%x (initialised at line %d): "
                             "only mbarrier instructions may access it until mbarrier.inval",
                             write ? "write" : "read", x & ~7u, r->mbar_line[x]);
        if (r->async_wr[x])
            return emu_fault(w, in, lane,
                             "%s of shared memory at offset 0x%x, which the asynchronous copy at "
                             "line %d has not written yet: wait on its mbarrier first",
                             write ? "write" : "read", x, r->async_wr_line[x]);
        if (write && r->async_rd[x])
            return emu_fault(w, in, lane,
                             "write to shared memory at offset 0x%x, which the asynchronous read "
                             "(wgmma or bulk copy) at line %d has not finished: wait for it first",
                             x, r->async_line[x]);
        uint32_t wc = r->wr_clock[x];
        int ww = r->wr_warp[x];
        if (wc && ww != me && w->vc[ww] < wc)
            return report(w, in, lane, x, write, true, ww, r->wr_lane[x], r->wr_line[x]);
        if (!write) {
            size_t k = (size_t)me * r->size + x;
            r->rd_clock[k] = w->vc[me];
            r->rd_line[k] = line;
            r->rd_lane[k] = (uint8_t)lane;
            continue;
        }
        if (wc && ww == me && r->wr_serial[x] == (uint32_t)serial && r->wr_lane[x] != lane &&
            c->smem[x] != value[i]) {
            unsigned tid[3];
            emu_thread_coords(w, r->wr_lane[x], tid);
            return emu_fault(w, in, lane,
                             "shared-memory race at offset 0x%x: thread tid (%u,%u,%u) writes a "
                             "different value to the same byte in the same instruction",
                             x, tid[0], tid[1], tid[2]);
        }
        for (int v = 0; v < r->nwarps; v++) {
            if (v == me)
                continue;
            size_t k = (size_t)v * r->size + x;
            uint32_t rc = r->rd_clock[k];
            if (rc && w->vc[v] < rc)
                return report(w, in, lane, x, true, false, v, r->rd_lane[k], r->rd_line[k]);
        }
        r->wr_clock[x] = w->vc[me];
        r->wr_warp[x] = (uint8_t)me;
        r->wr_lane[x] = (uint8_t)lane;
        r->wr_serial[x] = (uint32_t)serial;
        r->wr_line[x] = line;
        r->unfenced[x] = 1;
    }
    return 0;
}

int emu_race_async_write(Cta *c, const uint32_t *vc, int warp, const Insn *in, uint32_t off,
                         unsigned size)
{
    RaceState *r = c->race;
    Warp *w = &c->warps[warp];
    for (unsigned i = 0; i < size; i++) {
        uint32_t x = off + i;
        uint32_t wc = r->wr_clock[x];
        int ww = r->wr_warp[x];
        bool bad = wc && ww != warp && vc[ww] < wc;
        int ow = ww, ol = r->wr_lane[x], oline = r->wr_line[x];
        for (int v = 0; v < r->nwarps && !bad; v++) {
            size_t k = (size_t)v * r->size + x;
            if (v != warp && r->rd_clock[k] && vc[v] < r->rd_clock[k]) {
                bad = true;
                ow = v;
                ol = r->rd_lane[k];
                oline = r->rd_line[k];
            }
        }
        if (bad) {
            StrBuf sb;
            sb_init(&sb);
            other_thread(c, ow, ol, &sb);
            emu_fault(w, in, -1,
                      "shared-memory race at offset 0x%x: the asynchronous copy issued here "
                      "writes it, and an access by %s (line %d) is not ordered before the issue",
                      x, sb.data, oline);
            sb_free(&sb);
            return -1;
        }
        r->wr_clock[x] = 0;
        r->unfenced[x] = 0;
        for (int v = 0; v < r->nwarps; v++)
            r->rd_clock[(size_t)v * r->size + x] = 0;
    }
    return 0;
}

void emu_race_barrier_arrive(Cta *c, Barrier *b, Warp *w, bool waits)
{
    for (int i = 0; i < c->nwarps; i++)
        if (w->vc[i] > b->vc[i])
            b->vc[i] = w->vc[i];
    if (!waits)
        w->vc[w->id]++;
}

void emu_race_barrier_complete(Cta *c, Barrier *b, uint64_t warps)
{
    for (int i = 0; i < c->nwarps; i++) {
        if (!((warps >> i) & 1))
            continue;
        Warp *w = &c->warps[i];
        for (int j = 0; j < c->nwarps; j++)
            if (b->vc[j] > w->vc[j])
                w->vc[j] = b->vc[j];
        w->vc[i]++;
    }
    memset(b->vc, 0, sizeof(uint32_t) * (size_t)c->nwarps);
}
