/* Bulk asynchronous copies (sm_90): cp.async.bulk.tensor (1d-5d, tile mode)
 * global -> shared completing on an mbarrier and shared -> global in bulk
 * groups, the non-tensor cp.async.bulk in both directions, the reductions
 * cp.reduce.async.bulk{.tensor} into global memory (stores that combine),
 * cp.async.bulk.commit_group / wait_group{.read}, the tensor prefetches, and
 * the emulator's tensor maps (emu_tensor_map_encode).
 *
 * Copies land as late as the ISA allows. A load is only recorded when issued
 * (its map, coordinates and mbarrier); it lands, and completes its bytes on
 * the mbarrier, when a wait on that mbarrier would fail without it, when
 * every warp of the CTA waits, or at the end of the CTA. A store reads shared
 * memory and writes global memory when a wait_group of its thread retires its
 * group (bulk groups are per thread), or when the warp exits. With check_races, the destination of a load
 * cannot be touched before it lands, the source of a store cannot be written
 * before its wait_group, and a store's source needs a fence.proxy.async after
 * the generic stores that wrote it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"
#include "oom.h"

/* ---- tensor maps ----------------------------------------------------------------- */

enum { TMAP_MAGIC = 0x544d5354u /* "TSMT" */, TMAP_VERSION = 1 };

/* The record (little-endian), 128 bytes. */
typedef struct {
    uint32_t magic;
    uint8_t version, dtype, rank, swizzle;
    uint8_t oob_fill, esize, pad0[6];
    uint64_t global;
    uint64_t dims[5];
    uint64_t strides[4]; /* bytes, dims 1..rank-1 */
    uint16_t box[5];
    uint8_t estride[5];
    uint8_t pad1[9];
    uint32_t check;      /* FNV-1a of the 124 bytes before it */
} TmapRec;
_Static_assert(sizeof(TmapRec) == EMU_TENSOR_MAP_BYTES, "tensor map record size");

static const uint8_t dtype_size[EMU_TMAP_DTYPE_COUNT] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4};

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static bool dtype_float(int t)
{
    return t >= EMU_TMAP_F16 && t != EMU_TMAP_DTYPE_COUNT;
}

/* The swizzle span in bytes (0: none). */
static unsigned swizzle_span(int sw)
{
    return sw == EMU_TMAP_SWIZZLE_32B ? 32 : sw == EMU_TMAP_SWIZZLE_64B ? 64
         : sw == EMU_TMAP_SWIZZLE_128B ? 128 : 0;
}

int emu_tensor_map_encode(void *map, const EmuTensorMapDesc *d, StrBuf *err)
{
#define BAD(...) return sb_printf(err, "tensor map: " __VA_ARGS__), -1
    if (!map)
        BAD("no destination");
    if (d->dtype < 0 || d->dtype >= EMU_TMAP_DTYPE_COUNT)
        BAD("unknown data type %d", d->dtype);
    if (d->rank < 1 || d->rank > 5)
        BAD("rank %u is outside 1..5", d->rank);
    if (!d->global || (uintptr_t)d->global % 16)
        BAD("the global address %p is not 16-byte aligned", d->global);
    if (d->interleave)
        BAD("interleaved layouts are not supported");
    if (d->swizzle < EMU_TMAP_SWIZZLE_NONE || d->swizzle > EMU_TMAP_SWIZZLE_128B)
        BAD("unknown swizzle %d", d->swizzle);
    if (d->oob_fill != EMU_TMAP_OOB_ZERO && d->oob_fill != EMU_TMAP_OOB_NAN)
        BAD("unknown out-of-bounds fill %d", d->oob_fill);
    if (d->oob_fill == EMU_TMAP_OOB_NAN && !dtype_float(d->dtype))
        BAD("NaN fill needs a floating-point type");
    unsigned es = dtype_size[d->dtype];
    TmapRec r;
    memset(&r, 0, sizeof r);
    for (unsigned i = 0; i < d->rank; i++) {
        if (d->dims[i] < 1 || d->dims[i] > (1ull << 32))
            BAD("dims[%u] = %llu is outside 1..2^32", i, (unsigned long long)d->dims[i]);
        if (d->box[i] < 1 || d->box[i] > 256)
            BAD("box[%u] = %u is outside 1..256", i, d->box[i]);
        uint32_t e = d->elem_strides[i] ? d->elem_strides[i] : 1;
        if (e > 8)
            BAD("elem_strides[%u] = %u is outside 1..8", i, e);
        r.dims[i] = d->dims[i];
        r.box[i] = (uint16_t)d->box[i];
        /* cuTensorMapEncodeTiled: without interleave the first traversal
         * stride is checked but ignored ("TMA doesn't support the stride for
         * dimension zero"): the box is read densely along dimension 0 */
        r.estride[i] = (uint8_t)(i ? e : 1);
        if (i) {
            uint64_t st = d->strides[i - 1];
            if (st % 16 || st >= (1ull << 40))
                BAD("strides[%u] = %llu is not a multiple of 16 below 2^40", i - 1,
                    (unsigned long long)st);
            r.strides[i - 1] = st;
        }
    }
    if (d->box[0] * es % 16)
        BAD("the inner box extent (%u elements of %u bytes) is not a multiple of 16 bytes",
            d->box[0], es);
    unsigned span = swizzle_span(d->swizzle);
    if (span && d->box[0] * es > span)
        BAD("the inner box extent (%u bytes) exceeds the swizzle span of %u bytes",
            d->box[0] * es, span);
    r.magic = TMAP_MAGIC;
    r.version = TMAP_VERSION;
    r.dtype = (uint8_t)d->dtype;
    r.rank = (uint8_t)d->rank;
    r.swizzle = (uint8_t)d->swizzle;
    r.oob_fill = (uint8_t)d->oob_fill;
    r.esize = (uint8_t)es;
    r.global = (uint64_t)(uintptr_t)d->global;
    r.check = fnv((const uint8_t *)&r, offsetof(TmapRec, check));
    memcpy(map, &r, sizeof r);
    return 0;
#undef BAD
}

/* Reads and checks the map a lane names (a generic address: a grid-constant
 * parameter after cvta.param, global or constant memory; or a .param one). */
static int read_map(Warp *w, const Insn *in, unsigned lane, int aspace, uint64_t addr,
                    TmapRec *out)
{
    int space, space2;
    if (!emu_resolve(w, in, (int)lane, aspace, addr, 1, false, &space))
        return -1;
    if (space == SP_LOCAL)
        return emu_fault(w, in, (int)lane,
                         "the tensor map is in local memory: a kernel parameter holding one must "
                         "be a grid constant (__grid_constant__, LLVM nvvm.grid_constant)");
    if (space == SP_SHARED)
        return emu_fault(w, in, (int)lane, "the tensor map is in shared memory");
    if (addr % 64)
        return emu_fault(w, in, (int)lane, "the tensor map address 0x%llx is not 64-byte aligned",
                         (unsigned long long)addr);
    const uint8_t *p = emu_resolve(w, in, (int)lane, aspace, addr, 64, false, &space);
    if (!p || !emu_resolve(w, in, (int)lane, aspace, addr + 64, 64, false, &space2))
        return -1;
    memcpy(out, p, sizeof *out);
    if (out->magic != TMAP_MAGIC || out->version != TMAP_VERSION ||
        out->check != fnv(p, offsetof(TmapRec, check)))
        return emu_fault(w, in, (int)lane,
                         "the 128 bytes at 0x%llx are not a tensor map made by "
                         "emu_tensor_map_encode (one from the CUDA driver cannot be read here)",
                         (unsigned long long)addr);
    return 0;
}

/* ---- copies ------------------------------------------------------------------------ */

enum { T_LOAD_TENSOR, T_LOAD_BULK, T_STORE_TENSOR, T_STORE_BULK, T_PREFETCH_TENSOR,
       T_PREFETCH_BULK, T_COMMIT, T_WAIT, T_REDUCE_TENSOR, T_REDUCE_BULK };
#define NO_GROUP UINT32_MAX

typedef struct {
    const Insn *in;
    int warp, lane;        /* the issuing thread */
    bool store;
    TmapRec map;           /* tensor copies */
    int32_t coords[5];
    uint64_t global;       /* bulk copies */
    uint32_t size;         /* bytes moved through shared memory */
    uint32_t smem;         /* destination of a load, source of a store */
    uint32_t mbar;         /* loads */
    uint32_t group;        /* stores: the bulk group, NO_GROUP until committed */
    uint32_t *vc;          /* race detector: the issuer's clock at the issue */
} Copy;

struct TmaState {
    Copy *c;
    int n, cap;
    uint32_t *groups;      /* per thread (warp * 32 + lane): bulk groups committed, as the ISA
                              counts them */
};

/* The cleanup of a state being built when memory runs out (oom.h). */
static void free_partial(void *s) { emu_tma_free(s); }

struct TmaState *emu_tma_new(Cta *c)
{
    struct TmaState *s = tsr_xcalloc(1, sizeof *s);
    int slot = oom_defer(free_partial, s);
    s->groups = tsr_xcalloc((size_t)c->nwarps * WARP_SIZE, sizeof *s->groups);
    oom_undefer(slot);
    return s;
}

static void drop(struct TmaState *s, int i)
{
    free(s->c[i].vc);
    memmove(&s->c[i], &s->c[i + 1], sizeof *s->c * (size_t)(s->n - i - 1));
    s->n--;
}

void emu_tma_free(struct TmaState *s)
{
    if (!s)
        return;
    while (s->n)
        drop(s, s->n - 1);
    free(s->c);
    free(s->groups);
    free(s);
}

void emu_tma_reset(Cta *c)
{
    while (c->tma->n)
        drop(c->tma, c->tma->n - 1);
    memset(c->tma->groups, 0, sizeof *c->tma->groups * (size_t)c->nwarps * WARP_SIZE);
}

/* Elements per dimension the box holds (traversal strides skip elements). */
static unsigned box_count(const TmapRec *m, unsigned d)
{
    return (m->box[d] + m->estride[d] - 1) / m->estride[d];
}

static uint32_t box_bytes(const TmapRec *m)
{
    uint32_t n = m->esize;
    for (unsigned d = 0; d < m->rank; d++)
        n *= box_count(m, d);
    return n;
}

/* The shared address of byte `off` of the box written from `base`. */
static uint32_t swizzled(const TmapRec *m, uint32_t base, uint32_t off)
{
    uint32_t a = base + off;
    unsigned span = swizzle_span(m->swizzle);
    if (span)
        a ^= ((a >> 7) & (span / 16 - 1)) << 4;
    return a;
}

/* Visits the elements of a tensor copy's box in shared-memory order: fn
 * gets the element's shared address and its global address (0 when out of
 * bounds). */
typedef int (*ElemFn)(Warp *w, const Copy *cp, uint32_t saddr, uint64_t gaddr);

static int each_elem(Warp *w, const Copy *cp, ElemFn fn)
{
    const TmapRec *m = &cp->map;
    unsigned n[5] = {1, 1, 1, 1, 1}, i[5] = {0};
    uint32_t total = 1;
    for (unsigned d = 0; d < m->rank; d++) {
        n[d] = box_count(m, d);
        total *= n[d];
    }
    for (uint32_t lin = 0; lin < total; lin++) {
        uint32_t rest = lin;
        bool in = true;
        uint64_t g = m->global;
        for (unsigned d = 0; d < m->rank; d++) {
            i[d] = rest % n[d];
            rest /= n[d];
            int64_t c = (int64_t)cp->coords[d] + (int64_t)i[d] * m->estride[d];
            if (c < 0 || (uint64_t)c >= m->dims[d])
                in = false;
            else
                g += (uint64_t)c * (d ? m->strides[d - 1] : m->esize);
        }
        if (fn(w, cp, swizzled(m, cp->smem, lin * m->esize), in ? g : 0))
            return -1;
    }
    return 0;
}

/* Resolves [addr, addr+size) chunk by chunk (emu_resolve wants accesses
 * aligned to their size; bulk ranges are 16-byte aligned). */
static uint8_t *resolve_range(Warp *w, const Insn *in, int lane, int space, uint64_t addr,
                              uint32_t size, bool write, int *out_space)
{
    unsigned chunk = addr % 16 || size % 16 ? 1 : 16;
    uint8_t *first = NULL;
    for (uint32_t off = 0; off < size; off += chunk) {
        uint8_t *p = emu_resolve(w, in, lane, space, addr + off, chunk, write, out_space);
        if (!p)
            return NULL;
        if (!off)
            first = p;
    }
    return first;
}

static const uint8_t *global_src(Warp *w, const Copy *cp, uint64_t g, unsigned size)
{
    int space;
    return size <= 8 ? emu_resolve(w, cp->in, -1, SP_GLOBAL, g, size, false, &space)
                     : resolve_range(w, cp->in, -1, SP_GLOBAL, g, size, false, &space);
}

static int load_elem(Warp *w, const Copy *cp, uint32_t saddr, uint64_t g)
{
    uint8_t *dst = w->cta->smem + saddr;
    unsigned es = cp->map.esize;
    emu_smem_written(w->cta, saddr, es); /* (inside the tensor, or its fill) */
    if (g) {
        const uint8_t *src = global_src(w, cp, g, es);
        if (!src)
            return -1;
        memcpy(dst, src, es);
    } else if (cp->map.oob_fill == EMU_TMAP_OOB_NAN) {
        uint64_t nan = es == 2 ? 0x7fffu : es == 4 ? 0x7fffffffu : 0x7fffffffffffffffull;
        memcpy(dst, &nan, es);
    } else {
        memset(dst, 0, es);
    }
    return 0;
}

/* ---- cp.reduce.async.bulk ---------------------------------------------------------- */

/* Whether ptxas takes the reduction op (ATOM_*) on type ty (as checked by
 * assembling each pair for sm_90a). */
static bool reduce_ok(int op, int ty)
{
    switch (op) {
    case ATOM_ADD:
        return ty == TY_U32 || ty == TY_S32 || ty == TY_U64 || ty == TY_F32 || ty == TY_F64 ||
               ty == TY_F16 || ty == TY_BF16;
    case ATOM_MIN:
    case ATOM_MAX:
        return ty == TY_U32 || ty == TY_S32 || ty == TY_U64 || ty == TY_S64 || ty == TY_F16 ||
               ty == TY_BF16;
    case ATOM_INC:
    case ATOM_DEC: return ty == TY_U32;
    default: return ty == TY_B32 || ty == TY_B64 || ty == TY_U32 || ty == TY_S32 || ty == TY_U64 ||
                    ty == TY_S64; /* and, or, xor: bits */
    }
}

/* The type of a tensor map's elements for a reduction (TY_NONE: none). */
static int map_type(int dtype)
{
    switch (dtype) {
    case EMU_TMAP_U32: return TY_U32;
    case EMU_TMAP_S32: return TY_S32;
    case EMU_TMAP_U64: return TY_U64;
    case EMU_TMAP_S64: return TY_S64;
    case EMU_TMAP_F16: return TY_F16;
    case EMU_TMAP_BF16: return TY_BF16;
    case EMU_TMAP_F32: return TY_F32;
    case EMU_TMAP_F64: return TY_F64;
    default: return TY_NONE;
    }
}

/* dst = dst op src for n bytes of elements of type ty (a reduction's
 * Insn.ty2 op). */
static void reduce_bytes(const Insn *in, int ty, uint8_t *dst, const uint8_t *src, uint32_t n)
{
    unsigned es = (unsigned)ty_size(ty);
    int fmt = ty == TY_F32 ? FMT_F32 : ty == TY_F64 ? FMT_F64 : ty == TY_F16 ? FMT_F16
              : ty == TY_BF16 ? FMT_BF16 : FMT_COUNT;
    for (uint32_t off = 0; off + es <= n; off += es) {
        uint64_t old = 0, v = 0;
        memcpy(&old, dst + off, es);
        memcpy(&v, src + off, es);
        uint64_t r = emu_atom_apply(in->ty2, 8 * (int)es, fmt, ty_signed(ty), old, v, 0);
        memcpy(dst + off, &r, es);
    }
}

static int store_elem(Warp *w, const Copy *cp, uint32_t saddr, uint64_t g)
{
    if (!g)
        return 0; /* out-of-bounds elements are not written */
    if (emu_smem_read(w, cp->in, -1, saddr, cp->map.esize))
        return -1;
    int space;
    uint8_t *dst = emu_resolve(w, cp->in, -1, SP_GLOBAL, g, cp->map.esize, true, &space);
    if (!dst)
        return -1;
    if (cp->in->ty2) /* cp.reduce.async.bulk.tensor */
        reduce_bytes(cp->in, map_type(cp->map.dtype), dst, w->cta->smem + saddr, cp->map.esize);
    else
        memcpy(dst, w->cta->smem + saddr, cp->map.esize);
    return 0;
}

/* The shared bytes a copy covers: the box is dense from its start, and the
 * swizzle only permutes 16-byte chunks inside 128-byte lines. */
static uint32_t shared_extent(const Copy *cp)
{
    bool sw = (cp->in->sub == T_LOAD_TENSOR || cp->in->sub == T_STORE_TENSOR) && cp->map.swizzle;
    return sw ? (cp->size + 127) / 128 * 128 : cp->size;
}

static void mark_range(Cta *c, const Copy *cp, int delta)
{
    if (!c->race)
        return;
    if (cp->store)
        emu_race_async_read(c, cp->smem, shared_extent(cp), delta, cp->in->line);
    else
        emu_race_async_write_pending(c, cp->smem, shared_extent(cp), delta, cp->in->line);
}

/* Performs a copy (its issuing warp reports errors). */
static int perform(Cta *c, const Copy *cp)
{
    Warp *w = &c->warps[cp->warp];
    mark_range(c, cp, -1);
    if (!cp->store && c->race &&
        emu_race_async_write(c, cp->vc, cp->warp, cp->in, cp->smem, shared_extent(cp)))
        return -1;
    if (cp->in->sub == T_LOAD_TENSOR || cp->in->sub == T_STORE_TENSOR) {
        if (each_elem(w, cp, cp->store ? store_elem : load_elem))
            return -1;
    } else if (cp->store) {
        int space;
        uint8_t *dst = resolve_range(w, cp->in, -1, SP_GLOBAL, cp->global, cp->size, true, &space);
        if (!dst || emu_smem_read(w, cp->in, -1, cp->smem, cp->size))
            return -1;
        if (cp->in->ty2) /* cp.reduce.async.bulk */
            reduce_bytes(cp->in, cp->in->ty, dst, c->smem + cp->smem, cp->size);
        else
            memcpy(dst, c->smem + cp->smem, cp->size);
    } else {
        const uint8_t *src = global_src(w, cp, cp->global, cp->size);
        if (!src)
            return -1;
        memcpy(c->smem + cp->smem, src, cp->size);
        emu_smem_written(c, cp->smem, cp->size);
    }
    if (!cp->store && emu_mbar_complete_tx(c, cp->mbar, cp->size))
        return emu_fault(w, cp->in, -1,
                         "the mbarrier at shared offset 0x%x of this copy is no longer valid",
                         cp->mbar);
    return 0;
}

int emu_tma_land(Cta *c, uint32_t mbar)
{
    struct TmaState *s = c->tma;
    int landed = 0;
    for (int i = 0; i < s->n;) {
        Copy cp = s->c[i];
        if (cp.store || (mbar != UINT32_MAX && cp.mbar != mbar)) {
            i++;
            continue;
        }
        s->c[i].vc = NULL;
        drop(s, i);
        int rc = perform(c, &cp);
        free(cp.vc);
        if (rc)
            return -1;
        landed++;
    }
    return landed;
}

/* Performs the stores of the warp's thread `lane` (every thread's: -1) of
 * groups < upto (every one when UINT32_MAX). */
static int flush_stores(Warp *w, int lane, uint32_t upto)
{
    struct TmaState *s = w->cta->tma;
    for (int i = 0; i < s->n;) {
        Copy cp = s->c[i];
        bool due = cp.store && cp.warp == w->id && (lane < 0 || cp.lane == lane) &&
                   (upto == UINT32_MAX || (cp.group != NO_GROUP && cp.group < upto));
        if (!due) {
            i++;
            continue;
        }
        s->c[i].vc = NULL;
        drop(s, i);
        int rc = perform(w->cta, &cp);
        free(cp.vc);
        if (rc)
            return -1;
    }
    return 0;
}

int emu_tma_warp_exit(Warp *w) { return flush_stores(w, -1, UINT32_MAX); }

/* ---- issue ------------------------------------------------------------------------- */

/* op[0]: shared address (destination of a load, source of a store); op[1]:
 * the map or the global address; op[2]: coordinates or the size; op[3]: the
 * mbarrier. */
static int lane_smem(Warp *w, const Insn *in, unsigned lane, const Operand *o, uint32_t size,
                     uint32_t *off)
{
    int space;
    uint64_t a = addr_of(w, o, lane);
    uint8_t *p = size > 8 ? resolve_range(w, in, (int)lane, in->space, a, size, false, &space)
                          : emu_resolve(w, in, (int)lane, in->space, a, size ? size : 1, false,
                                        &space);
    if (!p)
        return -1;
    if (space != SP_SHARED)
        return emu_fault(w, in, (int)lane, "the address 0x%llx is not in shared memory",
                         (unsigned long long)a);
    *off = (uint32_t)(p - w->cta->smem);
    return 0;
}

static int issue_lane(Warp *w, const Insn *in, unsigned lane, Copy *cp)
{
    Cta *c = w->cta;
    bool tensor = in->sub == T_LOAD_TENSOR || in->sub == T_STORE_TENSOR ||
                  in->sub == T_PREFETCH_TENSOR;
    if (tensor) {
        if (read_map(w, in, lane, SP_GENERIC, addr_of(w, &in->op[1], lane), &cp->map))
            return -1;
        if (cp->map.rank != in->mode)
            return emu_fault(w, in, (int)lane, "a %ud copy with a tensor map of rank %u",
                             in->mode, cp->map.rank);
        for (unsigned d = 0; d < in->mode; d++)
            cp->coords[d] = (int32_t)opv(w, in, &c->k->vec[in->op[2].idx + d])[lane];
        cp->size = box_bytes(&cp->map);
        int rty = map_type(cp->map.dtype);
        if (in->ty2 && (rty == TY_NONE || !reduce_ok(in->ty2, rty)))
            return emu_fault(w, in, (int)lane,
                             "the reduction cannot take the tensor map's element type (%s)",
                             rty == TY_NONE ? "not a 32/64-bit integer or a float" : emu_types[rty].name);
    } else {
        cp->global = addr_of(w, &in->op[1], lane);
        cp->size = (uint32_t)opv(w, in, &in->op[2])[lane];
        cp->store = in->sub == T_STORE_BULK;
        if (!cp->size || cp->size % 16)
            return emu_fault(w, in, (int)lane, "size %u is not a positive multiple of 16",
                             cp->size);
        if (cp->global % 16)
            return emu_fault(w, in, (int)lane, "the global address 0x%llx is not 16-byte aligned",
                             (unsigned long long)cp->global);
        int space;
        if (!resolve_range(w, in, (int)lane, SP_GLOBAL, cp->global, cp->size, cp->store, &space))
            return -1;
    }
    if (in->sub == T_PREFETCH_TENSOR || in->sub == T_PREFETCH_BULK)
        return 0;
    if (lane_smem(w, in, lane, &in->op[0], cp->size, &cp->smem))
        return -1;
    unsigned span = tensor ? swizzle_span(cp->map.swizzle) : 0;
    unsigned align = !tensor ? 16 : span == 128 ? 1024 : span == 64 ? 512 : span == 32 ? 256 : 128;
    if (cp->smem % align)
        return emu_fault(w, in, (int)lane,
                         "the shared address 0x%x is not %u-byte aligned%s", cp->smem, align,
                         span ? " (the swizzle pattern repeats every 8 lines)" : "");
    if (shared_extent(cp) > c->smem_size - cp->smem)
        return emu_fault(w, in, (int)lane,
                         "the copy of %u bytes at shared offset 0x%x exceeds the %zu bytes of "
                         "shared memory", cp->size, cp->smem, c->smem_size);
    if (in->flags) { /* .multicast::cluster: the CTAs of the mask, by rank in the cluster */
        unsigned cta_mask = (unsigned)opv(w, in, &in->op[4])[lane] & 0xffff;
        if (cta_mask != 1)
            return emu_fault(w, in, (int)lane,
                             "ctaMask 0x%x of .multicast::cluster names CTAs other than rank 0: "
                             "the emulator runs clusters of one CTA (%%cluster_nctarank is 1), "
                             "so only the mask 0x1 (this CTA) is supported", cta_mask);
    }
    if (!cp->store) {
        uint32_t moff;
        if (lane_smem(w, in, lane, &in->op[3], 8, &moff))
            return -1;
        cp->mbar = moff;
        if (!c->mbar || !emu_mbar_live(c, moff))
            return emu_fault(w, in, (int)lane,
                             "no mbarrier at shared offset 0x%x: mbarrier.init is missing", moff);
    } else if (c->race && emu_race_async_proxy_read(w, in, cp->smem, shared_extent(cp))) {
        return -1;
    }
    return 0;
}

static int exec_copy(Warp *w, const Insn *in, uint32_t mask)
{
    Cta *c = w->cta;
    struct TmaState *s = c->tma;
    for (int i = 0; i < in->nops; i++)
        if (check_src(w, in, &in->op[i], mask))
            return -1;
    FOR_LANES(l, mask) {
        Copy cp = {.in = in, .warp = w->id, .lane = (int)l, .group = NO_GROUP,
                   .store = in->sub == T_STORE_TENSOR || in->sub == T_STORE_BULK};
        if (issue_lane(w, in, l, &cp))
            return -1;
        if (in->sub == T_PREFETCH_TENSOR || in->sub == T_PREFETCH_BULK)
            continue;
        /* room first: the clock below is owned by the table once allocated */
        s->c = emu_grow(s->c, &s->cap, s->n + 1, sizeof *s->c, 16);
        if (c->race) {
            cp.vc = tsr_xmalloc(sizeof *cp.vc * (size_t)c->nwarps);
            memcpy(cp.vc, w->vc, sizeof *cp.vc * (size_t)c->nwarps);
        }
        mark_range(c, &cp, 1);
        s->c[s->n++] = cp;
    }
    return 0;
}

/* cp.async.bulk.commit_group: each thread's uncommitted stores form its
 * next group (groups are per thread in the ISA). */
static int exec_commit(Warp *w, const Insn *in, uint32_t mask)
{
    struct TmaState *s = w->cta->tma;
    uint32_t *g = s->groups + (size_t)w->id * WARP_SIZE;
    for (int i = 0; i < s->n; i++) {
        Copy *cp = &s->c[i];
        if (cp->store && cp->warp == w->id && (mask >> cp->lane & 1) && cp->group == NO_GROUP)
            cp->group = g[cp->lane];
    }
    FOR_LANES(l, mask)
    g[l]++;
    return 0;
}

/* cp.async.bulk.wait_group{.read} N: all but the thread's newest N groups
 * complete. */
static int exec_wait(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t n = (uint32_t)in->op[0].val;
    const uint32_t *g = w->cta->tma->groups + (size_t)w->id * WARP_SIZE;
    FOR_LANES(l, mask)
    if (flush_stores(w, (int)l, g[l] > n ? g[l] - n : 0))
        return -1;
    return 0;
}

/* ---- decoding ----------------------------------------------------------------------- */

/* The modifiers after the opcode's name, each checked against the form. */
typedef struct {
    int dims, dst, src;
    bool tile, mbar_tx, bulk_group, hint, l2, read, multicast, noftz;
    int red, rty; /* cp.reduce: the operation (ATOM_*) and the type (TY_NONE: none given) */
} TmaMods;

/* A reduction's operation by name (ATOM_NONE: not one). */
static int red_op(const char *m)
{
    static const char *const names[] = {[ATOM_ADD] = "add", [ATOM_INC] = "inc", [ATOM_DEC] = "dec",
                                        [ATOM_MIN] = "min", [ATOM_MAX] = "max", [ATOM_AND] = "and",
                                        [ATOM_OR] = "or",   [ATOM_XOR] = "xor"};
    for (int i = 1; i < (int)TSR_ARRAY_LEN(names); i++)
        if (names[i] && !strcmp(m, names[i]))
            return i;
    return ATOM_NONE;
}


static int space_of(const char *m)
{
    if (!strcmp(m, "shared::cluster") || !strcmp(m, "shared::cta"))
        return SP_SHARED;
    if (!strcmp(m, "global"))
        return SP_GLOBAL;
    return SP_NONE;
}

static int parse_mods(Decoder *d, const RawStmt *s, TmaMods *t)
{
    memset(t, 0, sizeof *t);
    t->rty = TY_NONE;
    const char *p = s->opcode + strlen(d->opname);
    while (*p == '.') {
        const char *q = strchr(p + 1, '.');
        size_t n = q ? (size_t)(q - p - 1) : strlen(p + 1);
        char m[48];
        if (n >= sizeof m)
            return emu_dec_error(d, s, "unknown modifier");
        memcpy(m, p + 1, n);
        m[n] = 0;
        int sp = space_of(m);
        if (n == 2 && m[1] == 'd' && m[0] >= '1' && m[0] <= '5')
            t->dims = m[0] - '0';
        else if (sp != SP_NONE && !t->dst)
            t->dst = sp;
        else if (sp != SP_NONE && !t->src)
            t->src = sp;
        else if (!strcmp(m, "tile"))
            t->tile = true;
        else if (!strncmp(m, "im2col", 6) || !strncmp(m, "tile::", 6))
            return emu_dec_error(d, s, "the load mode '.%s' is not supported (only .tile, the "
                                 "default)", m);
        else if (!strcmp(m, "mbarrier::complete_tx::bytes"))
            t->mbar_tx = true;
        else if (!strcmp(m, "bulk_group"))
            t->bulk_group = true;
        else if (!strcmp(m, "L2::cache_hint"))
            t->hint = true;
        else if (!strcmp(m, "L2"))
            t->l2 = true;
        else if (!strcmp(m, "read"))
            t->read = true;
        else if (!strcmp(m, "multicast::cluster"))
            t->multicast = true;
        else if (!strcmp(m, "noftz"))
            t->noftz = true;
        else if (!t->red && red_op(m))
            t->red = red_op(m);
        else if (t->rty == TY_NONE && emu_ptx_type(m) != TY_NONE)
            t->rty = emu_ptx_type(m);
        else
            return emu_dec_error(d, s, "modifier '.%s' is not supported here", m);
        p += n + 1;
    }
    return 0;
}

/* [map, {c0, ...}] */
static int dec_tensor_operand(Decoder *d, const RawStmt *s, const RawOp *r, unsigned dims,
                              Insn *in)
{
    if (r->kind != RO_ADDR || (unsigned)r->nelems != dims)
        return emu_dec_error(d, s, "expected [tensor-map, {%u coordinates}]", dims);
    RawOp base = *r, coords = {.kind = RO_VEC, .elems = r->elems, .nelems = r->nelems};
    base.elems = NULL;
    base.nelems = 0;
    int space = SP_GENERIC;
    return emu_dec_addr(d, s, &base, &space, &in->op[1]) ||
           emu_dec_vec(d, s, &coords, (int)dims, TY_B32, false, false, &in->op[2]);
}

/* cp.reduce.async.bulk{.tensor}: the operation and type (a tensor's from
 * its map) as ptxas takes them, into Insn.ty2 and Insn.ty. Only the global
 * destination (.bulk_group) is modelled. */
static int decode_reduction(Decoder *d, const RawStmt *s, const TmaMods *t, bool tensor, Insn *in)
{
    if (t->dst == SP_SHARED)
        return emu_dec_error(d, s, "a reduction into .shared::cluster (another CTA's shared memory) "
                             "is not supported: the emulator's clusters have one CTA");
    if (!t->red)
        return emu_dec_error(d, s, "needs an operation (.add, .min, .max, .inc, .dec, .and, .or, .xor)");
    if (tensor && t->rty != TY_NONE)
        return emu_dec_error(d, s, "a tensor reduction takes its type from the tensor map");
    if (!tensor && (t->rty == TY_NONE || !reduce_ok(t->red, t->rty)))
        return emu_dec_error(d, s, "the operation does not take type .%s",
                             t->rty == TY_NONE ? "(none)" : emu_types[t->rty].name);
    bool half = t->rty == TY_F16 || t->rty == TY_BF16;
    if (!tensor && half && t->red == ATOM_ADD && !t->noftz)
        return emu_dec_error(d, s, "a half-precision .add needs .noftz");
    if (t->noftz && !(half && t->red == ATOM_ADD))
        return emu_dec_error(d, s, ".noftz is for .add on .f16/.bf16");
    in->ty2 = (uint8_t)t->red;
    in->ty = (uint8_t)(tensor ? TY_NONE : t->rty);
    return 0;
}

/* The operands of each form (without the optional cache hint):
 *   load tensor   [dst], [map, {c..}], [mbar]     store tensor  [map, {c..}], [src]
 *   load bulk     [dst], [src], size, [mbar]      store bulk    [dst], [src], size
 *   prefetch tensor [map, {c..}]                  prefetch bulk [src], size */
static int decode_copy(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    (void)m;
    TmaMods t;
    if (parse_mods(d, s, &t))
        return -1;
    if (d->raw->sm < 90)
        return emu_dec_error(d, s, "bulk copies need sm_90 or later");
    bool reduce = d->op_arg == T_REDUCE_TENSOR || d->op_arg == T_REDUCE_BULK;
    bool tensor = d->op_arg == T_LOAD_TENSOR || d->op_arg == T_PREFETCH_TENSOR || d->op_arg == T_REDUCE_TENSOR;
    bool prefetch = d->op_arg == T_PREFETCH_TENSOR || d->op_arg == T_PREFETCH_BULK;
    bool store = !prefetch && t.dst == SP_GLOBAL;
    int kind = prefetch ? d->op_arg : tensor ? (store ? T_STORE_TENSOR : T_LOAD_TENSOR)
                                             : (store ? T_STORE_BULK : T_LOAD_BULK);
    if (reduce && decode_reduction(d, s, &t, tensor, in))
        return -1;
    if (!reduce && (t.red || t.rty != TY_NONE || t.noftz))
        return emu_dec_error(d, s, "a reduction's operation or type on a copy");
    /* .tile is the default load mode (the ISA's .load_mode is optional;
     * CuTe's and nvcc's copies leave it out) */
    if (tensor && !t.dims)
        return emu_dec_error(d, s, "needs .1d to .5d");
    if (!tensor && (t.dims || t.tile))
        return emu_dec_error(d, s, "dimensions and .tile are for tensor copies");
    const char *need = NULL;
    if (prefetch && (!t.l2 || t.dst != SP_GLOBAL || t.src || t.mbar_tx || t.bulk_group))
        need = "a prefetch needs .L2.global";
    else if (!prefetch && store && (t.src != SP_SHARED || !t.bulk_group || t.mbar_tx || t.l2))
        need = "a store needs .global.shared::cta and .bulk_group";
    else if (!prefetch && !store &&
             (t.dst != SP_SHARED || t.src != SP_GLOBAL || !t.mbar_tx || t.bulk_group || t.l2))
        need = "a load needs .shared::cluster.global (or .shared::cta.global) and "
               ".mbarrier::complete_tx::bytes";
    else if (t.multicast && (prefetch || store))
        need = ".multicast::cluster is for loads";
    if (need)
        return emu_dec_error(d, s, "%s", need);
    static const int nops_of[] = {[T_LOAD_TENSOR] = 3, [T_LOAD_BULK] = 4, [T_STORE_TENSOR] = 2,
                                  [T_STORE_BULK] = 3, [T_PREFETCH_TENSOR] = 1,
                                  [T_PREFETCH_BULK] = 2};
    int nops = nops_of[kind] + t.multicast + t.hint;
    if (emu_dec_nops(d, s, nops, nops))
        return -1;
    int sp = SP_SHARED, gs = SP_GLOBAL, rc = 0;
    const RawOp *o = s->ops;
    switch (kind) {
    case T_LOAD_TENSOR:
        rc = emu_dec_addr(d, s, &o[0], &sp, &in->op[0]) ||
             dec_tensor_operand(d, s, &o[1], (unsigned)t.dims, in) ||
             emu_dec_addr(d, s, &o[2], &sp, &in->op[3]);
        break;
    case T_STORE_TENSOR:
        rc = dec_tensor_operand(d, s, &o[0], (unsigned)t.dims, in) ||
             emu_dec_addr(d, s, &o[1], &sp, &in->op[0]);
        break;
    case T_LOAD_BULK:
        rc = emu_dec_addr(d, s, &o[0], &sp, &in->op[0]) ||
             emu_dec_addr(d, s, &o[1], &gs, &in->op[1]) ||
             emu_dec_src(d, s, &o[2], TY_U32, &in->op[2]) ||
             emu_dec_addr(d, s, &o[3], &sp, &in->op[3]);
        break;
    case T_STORE_BULK:
        rc = emu_dec_addr(d, s, &o[0], &gs, &in->op[1]) ||
             emu_dec_addr(d, s, &o[1], &sp, &in->op[0]) ||
             emu_dec_src(d, s, &o[2], TY_U32, &in->op[2]);
        break;
    case T_PREFETCH_TENSOR:
        rc = dec_tensor_operand(d, s, &o[0], (unsigned)t.dims, in);
        break;
    default:
        rc = emu_dec_addr(d, s, &o[0], &gs, &in->op[1]) ||
             emu_dec_src(d, s, &o[1], TY_U32, &in->op[2]);
        break;
    }
    Operand hint;
    if (rc || (t.multicast && emu_dec_src(d, s, &o[nops_of[kind]], TY_U16, &in->op[4])) ||
        (t.hint && emu_dec_src(d, s, &o[nops - 1], TY_B64, &hint)))
        return -1;
    if (sp != SP_SHARED || gs != SP_GLOBAL)
        return emu_dec_error(d, s, "an operand is in the wrong state space");
    d->k->uses_tma = true;
    in->nops = t.multicast ? 5 : 4;
    in->flags = t.multicast;
    if (!reduce)
        in->ty2 = 0;
    in->sub = (uint8_t)kind;
    in->mode = (uint8_t)t.dims;
    in->space = SP_SHARED;
    in->exec = exec_copy;
    return 0;
}

static int decode_group(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    (void)m;
    TmaMods t;
    if (parse_mods(d, s, &t))
        return -1;
    if (t.dims || t.dst || t.tile || t.mbar_tx || t.bulk_group || t.hint || t.l2 ||
        (t.read && d->op_arg != T_WAIT))
        return emu_dec_error(d, s, "unexpected modifier");
    d->k->uses_tma = true;
    if (d->op_arg == T_COMMIT) {
        if (emu_dec_nops(d, s, 0, 0))
            return -1;
        in->exec = exec_commit;
        return 0;
    }
    if (emu_dec_nops(d, s, 1, 1))
        return -1;
    if (s->ops[0].kind != RO_INT || s->ops[0].ival < 0 || s->ops[0].ival > 63)
        return emu_dec_error(d, s, "the group count must be an immediate from 0 to 63");
    in->op[0] = (Operand){.kind = OK_IMM, .val = s->ops[0].ival};
    in->exec = exec_wait;
    return 0;
}

/* prefetch{.param}.tensormap [a]: checks the map. */
static int exec_prefetch_map(Warp *w, const Insn *in, uint32_t mask)
{
    if (check_src(w, in, &in->op[0], mask))
        return -1;
    FOR_LANES(l, mask) {
        TmapRec m;
        if (read_map(w, in, l, in->space, addr_of(w, &in->op[0], l), &m))
            return -1;
    }
    return 0;
}

static int decode_prefetch_map(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, 0, 0) || emu_dec_nops(d, s, 1, 1))
        return -1;
    int space = d->op_arg ? SP_PARAM : SP_GENERIC;
    if (emu_dec_addr(d, s, &s->ops[0], &space, &in->op[0]))
        return -1;
    if (space != SP_PARAM && space != SP_GENERIC)
        return emu_dec_error(d, s, "a tensor map of a kernel is a .param");
    in->nops = 1;
    in->space = (uint8_t)space;
    in->exec = exec_prefetch_map;
    return 0;
}

const OpDesc emu_ops_tma[] = {
    {"prefetch.tensormap", decode_prefetch_map, 0},
    {"prefetch.param.tensormap", decode_prefetch_map, 1},
    {"cp.async.bulk.tensor", decode_copy, T_LOAD_TENSOR | OP_RAW_MODS},
    {"cp.async.bulk", decode_copy, T_LOAD_BULK | OP_RAW_MODS},
    {"cp.async.bulk.prefetch.tensor", decode_copy, T_PREFETCH_TENSOR | OP_RAW_MODS},
    {"cp.async.bulk.prefetch", decode_copy, T_PREFETCH_BULK | OP_RAW_MODS},
    {"cp.async.bulk.commit_group", decode_group, T_COMMIT | OP_RAW_MODS},
    {"cp.async.bulk.wait_group", decode_group, T_WAIT | OP_RAW_MODS},
    {"cp.reduce.async.bulk.tensor", decode_copy, T_REDUCE_TENSOR | OP_RAW_MODS},
    {"cp.reduce.async.bulk", decode_copy, T_REDUCE_BULK | OP_RAW_MODS},
    {NULL, NULL, 0},
};
