/* Addresses: every access a kernel makes is resolved here to host memory and
 * checked. Global (and generic) addresses are host addresses that must lie in
 * a buffer registered for the launch or in a module variable; shared, local
 * and parameter addresses are offsets into the CTA's shared memory, the
 * thread's local memory and the parameter buffer. A generic address is shared
 * when it falls in the CTA's shared window (the host buffer that holds it),
 * local when it falls in the thread's local window. Accesses must be naturally
 * aligned, as on the GPU. */
#include <string.h>

#include "emu_internal.h"

static bool region_holds(const Region *r, uintptr_t a, size_t size)
{
    return a >= r->base && a < r->end && size <= r->end - a;
}

/* The region holding [a, a+size): a writable one when `write` and there is
 * one (regions may overlap: a buffer registered twice, one inside another),
 * else any. */
static const Region *find_region(Cta *c, uintptr_t a, size_t size, bool write)
{
    const Launch *L = c->L;
    if (c->last_region < L->nregions) {
        const Region *r = &L->regions[c->last_region];
        if (region_holds(r, a, size) && (r->writable || !write))
            return r;
    }
    int lo = 0, hi = L->nregions - 1, found = -1;
    while (lo <= hi) { /* the last region with base <= a */
        int mid = (lo + hi) / 2;
        if (L->regions[mid].base <= a) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (found >= 0 && region_holds(&L->regions[found], a, size) &&
        (L->regions[found].writable || !write)) {
        c->last_region = found;
        return &L->regions[found];
    }
    const Region *any = NULL;
    for (int i = 0; i < L->nregions; i++) {
        const Region *r = &L->regions[i];
        if (!region_holds(r, a, size))
            continue;
        if (r->writable || !write) {
            c->last_region = i;
            return r;
        }
        any = r;
    }
    return any;
}

/* Describes where an address lies relative to the nearest registered buffer. */
static void describe_miss(Cta *c, uintptr_t a, StrBuf *sb)
{
    const Launch *L = c->L;
    const Region *best = NULL;
    uintptr_t dist = UINTPTR_MAX;
    for (int i = 0; i < L->nregions; i++) {
        const Region *r = &L->regions[i];
        uintptr_t d = a < r->base ? r->base - a : a >= r->end ? a - r->end + 1 : 0;
        if (d < dist) {
            dist = d;
            best = r;
        }
    }
    if (!best) {
        sb_puts(sb, "no buffers are registered");
        return;
    }
    if (a < best->base)
        sb_printf(sb, "%zu bytes before", (size_t)(best->base - a));
    else if (a >= best->end)
        sb_printf(sb, "%zu bytes past the end of", (size_t)(a - best->end));
    else
        sb_puts(sb, "overlapping the end of");
    if (best->name)
        sb_printf(sb, " module variable '%s'", best->name);
    else
        sb_printf(sb, " buffer [0x%llx, +%zu)", (unsigned long long)best->base,
                  (size_t)(best->end - best->base));
}

static uint8_t *global_access(Warp *w, const Insn *in, int lane, int space, uint64_t addr,
                              unsigned size, bool write)
{
    Cta *c = w->cta;
    const Region *r = find_region(c, (uintptr_t)addr, size, write);
    const char *what = write ? "write" : "read";
    if (!r) {
        StrBuf sb;
        sb_init(&sb);
        describe_miss(c, (uintptr_t)addr, &sb);
        emu_fault(w, in, lane, "out-of-bounds %s %s of %u bytes at 0x%llx (%s)",
                  emu_space_names[space], what, size, (unsigned long long)addr, sb.data);
        sb_free(&sb);
        return NULL;
    }
    if (write && !r->writable) {
        emu_fault(w, in, lane, "write of %u bytes at 0x%llx to read-only %s%s%s", size,
                  (unsigned long long)addr, r->name ? "variable '" : "buffer",
                  r->name ? r->name : "", r->name ? "'" : "");
        return NULL;
    }
    if (space == SP_CONST && r->writable) {
        emu_fault(w, in, lane, "const-space access at 0x%llx outside the module's .const data",
                  (unsigned long long)addr);
        return NULL;
    }
    return (uint8_t *)(uintptr_t)addr;
}

uint8_t *emu_resolve(Warp *w, const Insn *in, int lane, int space, uint64_t addr, unsigned size,
                     bool write, int *out_space)
{
    Cta *c = w->cta;
    const Launch *L = c->L;
    if (size && !(size & (size - 1)) && (addr & (size - 1))) {
        emu_fault(w, in, lane, "misaligned %s %s of %u bytes at 0x%llx", emu_space_names[space],
                  write ? "write" : "read", size, (unsigned long long)addr);
        return NULL;
    }
    uint8_t *lbase = c->local + (size_t)lane_tid_linear(w, (unsigned)lane) * c->local_size;
    if (space == SP_GENERIC) {
        if (addr - (uintptr_t)c->smem < c->smem_size) {
            space = SP_SHARED;
            addr -= (uintptr_t)c->smem;
        } else if (addr - (uintptr_t)lbase < c->local_size) {
            space = SP_LOCAL;
            addr -= (uintptr_t)lbase;
        } else if (addr - (uintptr_t)L->params < L->k->param_bytes) {
            space = SP_PARAM;
            addr -= (uintptr_t)L->params;
        } else {
            space = SP_GLOBAL;
        }
    }
    *out_space = space;
    switch (space) {
    case SP_SHARED:
        if (addr >= c->smem_size || size > c->smem_size - addr) {
            emu_fault(w, in, lane, "out-of-bounds shared %s of %u bytes at offset 0x%llx (the CTA "
                      "has %zu bytes of shared memory)", write ? "write" : "read", size,
                      (unsigned long long)addr, c->smem_size);
            return NULL;
        }
        return c->smem + addr;
    case SP_LOCAL:
        if (addr >= c->local_size || size > c->local_size - addr) {
            emu_fault(w, in, lane, "out-of-bounds local %s of %u bytes at offset 0x%llx (the "
                      "thread has %zu bytes of local memory)", write ? "write" : "read", size,
                      (unsigned long long)addr, c->local_size);
            return NULL;
        }
        return lbase + addr;
    case SP_PARAM:
        if (write) {
            emu_fault(w, in, lane, "write to kernel parameter space");
            return NULL;
        }
        if (addr >= L->k->param_bytes || size > L->k->param_bytes - addr) {
            emu_fault(w, in, lane, "out-of-bounds parameter read of %u bytes at offset %llu (the "
                      "kernel has %zu bytes of parameters)", size, (unsigned long long)addr,
                      L->k->param_bytes);
            return NULL;
        }
        return L->params + addr;
    default: return global_access(w, in, lane, space, addr, size, write);
    }
}

int emu_cp_async_complete(Warp *w, const Insn *in, uint32_t upto)
{
    Cta *c = w->cta;
    int kept = 0;
    for (int i = 0; i < w->ncp; i++) {
        CpAsync *cp = &w->cp[i];
        if (cp->group >= upto) {
            w->cp[kept++] = *cp;
            continue;
        }
        uint8_t buf[16];
        if (cp->src_size)
            memcpy(buf, cp->src, cp->src_size);
        memset(buf + cp->src_size, 0, (size_t)(cp->size - cp->src_size));
        if (c->race) {
            emu_race_cp_async_issue(c, cp->dst, cp->size, -1);
            if (emu_race_access(w, in, cp->lane, cp->dst, cp->size, buf, w->icount))
                return -1;
        }
        memcpy(c->smem + cp->dst, buf, cp->size);
        emu_smem_written(c, cp->dst, cp->size);
    }
    w->ncp = kept;
    return 0;
}

const char *emu_read_string(Warp *w, unsigned lane, uint64_t addr, char *buf, size_t n)
{
    Cta *c = w->cta;
    size_t i = 0;
    for (; i + 1 < n; i++, addr++) {
        const uint8_t *p;
        uint8_t *lbase = c->local + (size_t)lane_tid_linear(w, lane) * c->local_size;
        if (addr - (uintptr_t)c->smem < c->smem_size)
            p = (const uint8_t *)(uintptr_t)addr;
        else if (addr - (uintptr_t)lbase < c->local_size)
            p = (const uint8_t *)(uintptr_t)addr;
        else if (find_region(c, (uintptr_t)addr, 1, false))
            p = (const uint8_t *)(uintptr_t)addr;
        else
            break;
        if (!(buf[i] = (char)*p))
            return buf;
    }
    if (i == 0)
        return "?";
    buf[i] = 0;
    return buf;
}

void emu_smem_written(Cta *c, uint32_t off, size_t size)
{
    if (c->sdef)
        memset(c->sdef + off, 1, size);
}

int emu_smem_read(Warp *w, const Insn *in, int lane, uint32_t off, size_t size)
{
    const uint8_t *def = w->cta->sdef;
    for (size_t i = 0; def && i < size; i++)
        if (!def[off + i])
            return emu_fault(w, in, lane,
                             "reads shared memory at offset 0x%zx, which nothing has written since the block "
                             "began (uninitialised)",
                             (size_t)off + i);
    return 0;
}
