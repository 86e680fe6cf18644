/* Distributed layouts (see layout.h). */
#include "layout.h"

static int ilog2(int v)
{
    int k = 0;
    while ((1 << k) < v)
        k++;
    return k;
}

void layout_split_dim(int n, int *log2, int *rep)
{
    int k = 0;
    while (n > 1 && n % 2 == 0) {
        n /= 2;
        k++;
    }
    *log2 = k;
    *rep = n;
}

/* log2 of the power of two in n (a warp count's low part). */
static int wbits(int n) { return ilog2(n & -n); }

static LBit bit(int dim, int b)
{
    LBit x = { (int8_t)dim, (int8_t)b };
    return x;
}

static const LBit none = { -1, 0 };

static Layout empty(LayoutKind kind, int rank, const int *shape, int nwarps)
{
    Layout l = { 0 };
    l.kind = kind;
    l.rank = rank;
    for (int d = 0; d < rank; d++)
        layout_split_dim(shape[d], &l.log2shape[d], &l.rep[d]);
    l.nwarp = wbits(nwarps);
    if (nwarps >> l.nwarp > 1) { /* an odd factor: replicas until a dim takes it */
        l.wrep = nwarps >> l.nwarp;
        l.wrep_dim = -1;
    }
    for (int i = 0; i < LAYOUT_LANE_BITS; i++)
        l.lane[i] = none;
    for (int i = 0; i < LAYOUT_MAX_WARP; i++)
        l.warp[i] = none;
    return l;
}

static void push_reg(Layout *l, LBit b)
{
    if (l->nreg >= LAYOUT_MAX_REG)
        l->too_big = true; /* reported by the compile driver, never emitted */
    else
        l->reg[l->nreg++] = b;
}

/* The warps' odd factor numbers the repetition of the first dim that
 * repeats exactly that often (192 rows on 12 warps: 3 x 64); the groups
 * replicate when none does. */
static void place_warp_rep(Layout *l)
{
    for (int d = 0; d < l->rank && layout_wrep(l) > 1 && l->wrep_dim < 0; d++)
        if (layout_rep(l, d) == l->wrep)
            l->wrep_dim = (int8_t)d;
}

/* Gives coordinate bits order[k..n) to the lanes, then the warps, then
 * registers. */
static void deal_bits(Layout *l, const LBit *order, int k, int n)
{
    for (int i = 0; i < LAYOUT_LANE_BITS && k < n; i++)
        l->lane[i] = order[k++];
    for (int i = 0; i < l->nwarp && k < n; i++)
        l->warp[i] = order[k++];
    while (k < n)
        push_reg(l, order[k++]);
}

Layout layout_blocked(int rank, const int *shape, int nwarps, int vec)
{
    Layout l = empty(LAYOUT_BLOCKED, rank, shape, nwarps);
    /* Coordinate bits, fastest first: last dim low to high, then the others. */
    LBit order[32];
    int n = 0;
    for (int d = rank - 1; d >= 0; d--)
        for (int b = 0; b < l.log2shape[d]; b++)
            order[n++] = bit(d, b);
    int k = 0, v = rank ? ilog2(vec) : 0;
    if (rank && v > l.log2shape[rank - 1])
        v = l.log2shape[rank - 1];
    for (int i = 0; i < v; i++)
        push_reg(&l, order[k++]);
    deal_bits(&l, order, k, n);
    place_warp_rep(&l);
    return l;
}

void layout_mma_warps(int M, int N, int nwarps, int *wm, int *wn)
{
    if (nwarps >> wbits(nwarps) > 1) {
        int pow2 = nwarps & -nwarps;
        if (M == 16 * nwarps) { /* every warp 16 rows; wq numbers M's repetition */
            *wm = nwarps;
            *wn = 1;
        } else {
            layout_mma_warps(M, N, pow2, wm, wn);
        }
        return;
    }
    int m = 1;
    while (m * 2 <= nwarps && M % (16 * m * 2) == 0)
        m *= 2;
    int n = 1;
    while (m * n * 2 <= nwarps && N % (8 * n * 2) == 0)
        n *= 2;
    *wm = m;
    *wn = n;
}

/* Lane bits of every m16n8k16 fragment: (lane & 3) is the thread-in-group t,
 * lane >> 2 the group g. */
static void mma_lanes(Layout *l, LBit t0, LBit t1, LBit g0, LBit g1, LBit g2)
{
    l->lane[0] = t0;
    l->lane[1] = t1;
    l->lane[2] = g0;
    l->lane[3] = g1;
    l->lane[4] = g2;
}

/* Warp bits: first log2(wm) along `mdim` from bit `mbit`, then log2(wn)
 * along `ndim` from bit `nbit` (dim -1: replicated). An odd factor of wm
 * (layout_mma_warps: M is 16 rows a warp) numbers M's repetition. */
static void mma_warps(Layout *l, int wm, int wn, int mdim, int mbit, int ndim, int nbit)
{
    int w = 0;
    for (int i = 0; i < wbits(wm); i++)
        l->warp[w++] = mdim < 0 ? none : bit(mdim, mbit + i);
    for (int i = 0; i < wbits(wn); i++)
        l->warp[w++] = ndim < 0 ? none : bit(ndim, nbit + i);
    if (wm >> wbits(wm) > 1) {
        tsr_assert(wm >> wbits(wm) == l->wrep && (mdim < 0 || layout_rep(l, mdim) == l->wrep));
        l->wrep_dim = (int8_t)mdim;
    }
}

Layout layout_mma_acc(int M, int N, int nwarps, int wm, int wn)
{
    int shape[2] = { M, N };
    Layout l = empty(LAYOUT_MMA_ACC, 2, shape, nwarps);
    mma_lanes(&l, bit(1, 1), bit(1, 2), bit(0, 0), bit(0, 1), bit(0, 2));
    push_reg(&l, bit(1, 0));
    push_reg(&l, bit(0, 3));
    mma_warps(&l, wm, wn, 0, 4, 1, 3);
    for (int b = 3 + wbits(wn); b < l.log2shape[1]; b++)
        push_reg(&l, bit(1, b));
    for (int b = 4 + wbits(wm); b < l.log2shape[0]; b++)
        push_reg(&l, bit(0, b));
    return l;
}

Layout layout_mma_a(int M, int K, int nwarps, int wm, int wn)
{
    int shape[2] = { M, K };
    Layout l = empty(LAYOUT_MMA_A, 2, shape, nwarps);
    mma_lanes(&l, bit(1, 1), bit(1, 2), bit(0, 0), bit(0, 1), bit(0, 2));
    push_reg(&l, bit(1, 0));
    push_reg(&l, bit(0, 3));
    push_reg(&l, bit(1, 3));
    mma_warps(&l, wm, wn, 0, 4, -1, 0);
    for (int b = 4; b < l.log2shape[1]; b++)
        push_reg(&l, bit(1, b));
    for (int b = 4 + wbits(wm); b < l.log2shape[0]; b++)
        push_reg(&l, bit(0, b));
    return l;
}

Layout layout_mma_b(int K, int N, int nwarps, int wm, int wn)
{
    int shape[2] = { K, N };
    Layout l = empty(LAYOUT_MMA_B, 2, shape, nwarps);
    mma_lanes(&l, bit(0, 1), bit(0, 2), bit(1, 0), bit(1, 1), bit(1, 2));
    push_reg(&l, bit(0, 0));
    push_reg(&l, bit(0, 3));
    mma_warps(&l, wm, wn, -1, 0, 1, 3);
    for (int b = 4; b < l.log2shape[0]; b++)
        push_reg(&l, bit(0, b));
    for (int b = 3 + wbits(wn); b < l.log2shape[1]; b++)
        push_reg(&l, bit(1, b));
    return l;
}

Layout layout_mma_a8(int M, int K, int nwarps, int wm, int wn)
{
    int shape[2] = { M, K };
    Layout l = empty(LAYOUT_MMA_A, 2, shape, nwarps);
    mma_lanes(&l, bit(1, 2), bit(1, 3), bit(0, 0), bit(0, 1), bit(0, 2));
    push_reg(&l, bit(1, 0));
    push_reg(&l, bit(1, 1));
    push_reg(&l, bit(0, 3));
    push_reg(&l, bit(1, 4));
    mma_warps(&l, wm, wn, 0, 4, -1, 0);
    for (int b = 5; b < l.log2shape[1]; b++)
        push_reg(&l, bit(1, b));
    for (int b = 4 + wbits(wm); b < l.log2shape[0]; b++)
        push_reg(&l, bit(0, b));
    return l;
}

Layout layout_mma_b8(int K, int N, int nwarps, int wm, int wn)
{
    int shape[2] = { K, N };
    Layout l = empty(LAYOUT_MMA_B, 2, shape, nwarps);
    mma_lanes(&l, bit(0, 2), bit(0, 3), bit(1, 0), bit(1, 1), bit(1, 2));
    push_reg(&l, bit(0, 0));
    push_reg(&l, bit(0, 1));
    push_reg(&l, bit(0, 4));
    mma_warps(&l, wm, wn, -1, 0, 1, 3);
    for (int b = 5; b < l.log2shape[0]; b++)
        push_reg(&l, bit(0, b));
    for (int b = 3 + wbits(wn); b < l.log2shape[1]; b++)
        push_reg(&l, bit(1, b));
    return l;
}

bool layout_mma_fits(DType dt, int M, int N, int K)
{
    if (dtype_is_fp8(dt))
        return M % 16 == 0 && N % 8 == 0 && K % 32 == 0;
    return (dt == DT_F16 || dt == DT_BF16) && M % 16 == 0 && N % 8 == 0 && K % 16 == 0;
}

/* The coordinate bits of an FMA dot's result in the order they are given
 * out (lanes, then warps, then registers): columns and rows alternating from
 * the low ones, so that each thread holds few rows and few columns. */
static int fma_order(const Layout *l, LBit *order)
{
    int n = 0;
    for (int b = 0; b < l->log2shape[0] || b < l->log2shape[1]; b++) {
        if (b < l->log2shape[1])
            order[n++] = bit(1, b);
        if (b < l->log2shape[0])
            order[n++] = bit(0, b);
    }
    return n;
}

Layout layout_fma_acc(int M, int N, int nwarps)
{
    int shape[2] = { M, N };
    Layout l = empty(LAYOUT_BLOCKED, 2, shape, nwarps);
    LBit order[64];
    deal_bits(&l, order, 0, fma_order(&l, order));
    place_warp_rep(&l);
    return l;
}

Layout layout_fma_operand(const Layout *acc, int K, bool b_operand)
{
    int keep = b_operand ? 1 : 0, kdim = b_operand ? 0 : 1;
    Layout l = *acc;
    l.kind = LAYOUT_DERIVED;
    layout_split_dim(K, &l.log2shape[kdim], &l.rep[kdim]);
    for (int i = 0; i < LAYOUT_LANE_BITS; i++)
        if (l.lane[i].dim != keep)
            l.lane[i] = none;
    for (int i = 0; i < l.nwarp; i++)
        if (l.warp[i].dim != keep)
            l.warp[i] = none;
    if (layout_wrep(&l) > 1 && l.wrep_dim != keep)
        l.wrep_dim = -1;
    /* Registers: K's bits first for A (its contiguous dim), after the
     * result's column bits for B. */
    l.nreg = 0;
    if (!b_operand)
        for (int b = 0; b < l.log2shape[kdim]; b++)
            push_reg(&l, bit(kdim, b));
    for (int i = 0; i < acc->nreg; i++)
        if (acc->reg[i].dim == keep)
            push_reg(&l, acc->reg[i]);
    if (b_operand)
        for (int b = 0; b < l.log2shape[kdim]; b++)
            push_reg(&l, bit(kdim, b));
    return l;
}

int layout_fma_regs(int M, int N, int K, int nwarps)
{
    /* Counted from the bits, before any layout is built: a dot too big for
     * the registers must be reported, not stop the compiler in push_reg. */
    int shape[2] = { M, N };
    Layout c = empty(LAYOUT_BLOCKED, 2, shape, nwarps);
    LBit order[64];
    int n = fma_order(&c, order), reg_bits[2] = { 0, 0 };
    for (int k = LAYOUT_LANE_BITS + c.nwarp; k < n; k++)
        reg_bits[order[k].dim]++;
    place_warp_rep(&c);
    int64_t rows = (int64_t)layout_reg_rep(&c, 0) << reg_bits[0], cols = (int64_t)layout_reg_rep(&c, 1)
                                                                          << reg_bits[1];
    int64_t total = rows * cols + rows * K + (int64_t)K * cols;
    return total > INT32_MAX ? INT32_MAX : (int)total;
}

/* Rewrites every input bit with f; registers mapped to none are dropped. */
static Layout remap(const Layout *l, LBit (*f)(LBit, int), int arg)
{
    Layout r = *l;
    r.kind = LAYOUT_DERIVED;
    r.nreg = 0;
    for (int i = 0; i < l->nreg; i++) {
        LBit b = f(l->reg[i], arg);
        if (b.dim >= 0)
            r.reg[r.nreg++] = b;
    }
    for (int i = 0; i < LAYOUT_LANE_BITS; i++)
        r.lane[i] = l->lane[i].dim < 0 ? none : f(l->lane[i], arg);
    for (int i = 0; i < l->nwarp; i++)
        r.warp[i] = l->warp[i].dim < 0 ? none : f(l->warp[i], arg);
    if (layout_wrep(l) > 1 && l->wrep_dim >= 0)
        r.wrep_dim = f(bit(l->wrep_dim, 0), arg).dim;
    return r;
}

static LBit drop_dim(LBit b, int axis)
{
    if (b.dim == axis)
        return none;
    if (b.dim > axis)
        b.dim--;
    return b;
}

static LBit shift_dim(LBit b, int axis)
{
    if (b.dim >= axis)
        b.dim++;
    return b;
}

static LBit swap_dims(LBit b, int unused)
{
    (void)unused;
    if (b.dim >= 0)
        b.dim = (int8_t)(1 - b.dim);
    return b;
}

Layout layout_slice(const Layout *l, int axis)
{
    Layout r = remap(l, drop_dim, axis);
    for (int d = axis; d + 1 < l->rank; d++) {
        r.log2shape[d] = l->log2shape[d + 1];
        r.rep[d] = l->rep[d + 1];
    }
    r.log2shape[l->rank - 1] = 0;
    r.rep[l->rank - 1] = 0;
    r.rank = l->rank - 1;
    return r;
}

Layout layout_expand(const Layout *l, int axis)
{
    Layout r = remap(l, shift_dim, axis);
    for (int d = l->rank; d > axis; d--) {
        r.log2shape[d] = l->log2shape[d - 1];
        r.rep[d] = l->rep[d - 1];
    }
    r.log2shape[axis] = 0;
    r.rep[axis] = 0;
    r.rank = l->rank + 1;
    return r;
}

Layout layout_squeeze(const Layout *l, int axis)
{
    tsr_assert(l->log2shape[axis] == 0 && layout_rep(l, axis) == 1);
    return layout_slice(l, axis);
}

bool layout_reshape_units(const Layout *l, const int *from, int rank_from, const int *to, int rank_to, Layout *out)
{
    int a[LAYOUT_MAX_RANK], b[LAYOUT_MAX_RANK], na = 0, nb = 0;
    for (int d = 0; d < rank_from; d++)
        if (from[d] != 1)
            a[na++] = from[d];
    for (int d = 0; d < rank_to; d++)
        if (to[d] != 1)
            b[nb++] = to[d];
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i])
            return false;
    Layout r = *l;
    for (int d = rank_from - 1; d >= 0; d--)
        if (from[d] == 1)
            r = layout_squeeze(&r, d);
    for (int d = 0; d < rank_to; d++)
        if (to[d] == 1)
            r = layout_expand(&r, d);
    *out = r;
    return true;
}

Layout layout_shared(int rows, int cols, int esize, bool transposed)
{
    int shape[2] = { transposed ? cols : rows, transposed ? rows : cols };
    Layout l = empty(LAYOUT_SHARED, 2, shape, 1);
    l.nwarp = 0;
    l.transposed = transposed;
    l.esize = esize;
    int chunks = cols * esize / 16;
    /* Enough rows share a phase that a phase spans 128 bytes of chunks. A
     * row of a number of chunks that is no power of two (80 f16 columns:
     * 10) swizzles within its largest power of two (2), so that no chunk
     * leaves its row. */
    int pow2 = chunks > 0 ? chunks & -chunks : 1;
    l.max_phase = pow2 >= 8 ? 8 : pow2 > 1 ? pow2 : 1;
    l.per_phase = chunks >= 8 ? 1 : 8 / (chunks > 0 ? chunks : 1);
    return l;
}

int layout_shared_pitch(const Layout *l)
{
    int cols_dim = l->transposed ? 0 : 1;
    return layout_extent(l, cols_dim) * l->esize;
}

Layout layout_shared_canonical(int rows, int cols, int esize, bool transposed)
{
    /* The swizzle of a row of min(cols * esize, 128) bytes, which
     * layout_shared already picks: 8 phases of one row for 128-byte rows
     * (address bits 4-6 ^= bits 7-9), 4 of two rows for 64, 2 of four for 32
     * (bits 4-5 ^= 7-8, bit 4 ^= 7): the three swizzle modes. */
    Layout l = layout_shared(rows, cols, esize, transposed);
    l.canonical = true;
    /* A row of a width that is no power of two (80 f16 columns: 160 bytes)
     * is cut into the widest panels that divide it (32 bytes), with their
     * swizzle. */
    int row = layout_shared_row_bytes(&l);
    if (row < 128) {
        Layout p = layout_shared(rows, row / esize, esize, transposed);
        l.per_phase = p.per_phase;
        l.max_phase = p.max_phase;
    }
    return l;
}

int layout_shared_row_bytes(const Layout *l)
{
    int pitch = layout_shared_pitch(l);
    if (!l->canonical)
        return pitch;
    int row = pitch & -pitch; /* the largest power of two dividing it */
    return row > 128 ? 128 : row;
}

int layout_shared_panel_bytes(const Layout *l)
{
    int rows_dim = l->transposed ? 1 : 0;
    return layout_extent(l, rows_dim) * layout_shared_row_bytes(l);
}

int layout_shared_align(const Layout *l)
{
    int a = l->canonical ? 8 * layout_shared_row_bytes(l) : 128;
    return a < 128 ? 128 : a;
}

Layout layout_transpose(const Layout *l)
{
    tsr_assert(l->rank == 2);
    if (l->kind == LAYOUT_SHARED) {
        Layout r = *l;
        r.transposed = !l->transposed;
        r.log2shape[0] = l->log2shape[1];
        r.log2shape[1] = l->log2shape[0];
        r.rep[0] = l->rep[1];
        r.rep[1] = l->rep[0];
        return r;
    }
    Layout r = remap(l, swap_dims, 0);
    r.log2shape[0] = l->log2shape[1];
    r.log2shape[1] = l->log2shape[0];
    r.rep[0] = l->rep[1];
    r.rep[1] = l->rep[0];
    r.rep_swapped = !l->rep_swapped;
    return r;
}

Layout layout_broadcast_src(const Layout *dst, int rank, const int *src_shape)
{
    Layout r = *dst;
    for (int d = 0; d < rank; d++) {
        if (src_shape[d] != 1 || layout_extent(dst, d) == 1)
            continue;
        /* drop the bits of dim d but keep the dim (size 1) */
        Layout t = layout_slice(&r, d);
        r = layout_expand(&t, d);
    }
    r.kind = LAYOUT_DERIVED;
    return r;
}

/* The dim whose repetition is the k-th from the outside in q. */
static int rep_dim(const Layout *l, int k) { return l->rank == 2 && l->rep_swapped ? 1 - k : k; }

/* Whether the two layouts number their repetitions alike. */
static bool reps_eq(const Layout *a, const Layout *b)
{
    for (int d = 0; d < a->rank; d++)
        if (layout_rep(a, d) != layout_rep(b, d))
            return false;
    bool both = a->rank == 2 && layout_rep(a, 0) > 1 && layout_rep(a, 1) > 1;
    return !both || a->rep_swapped == b->rep_swapped;
}

/* Whether the warps' odd factors, and the dims they number, are alike. */
static bool wreps_eq(const Layout *a, const Layout *b)
{
    return layout_wrep(a) == layout_wrep(b) && (layout_wrep(a) == 1 || a->wrep_dim == b->wrep_dim);
}

static bool lbit_eq(LBit a, LBit b) { return a.dim == b.dim && (a.dim < 0 || a.bit == b.bit); }

bool layout_eq(const Layout *a, const Layout *b)
{
    if ((a->kind == LAYOUT_SHARED) != (b->kind == LAYOUT_SHARED))
        return false;
    if (a->kind == LAYOUT_SHARED)
        return a->rank == b->rank && layout_extent(a, 0) == layout_extent(b, 0) &&
               layout_extent(a, 1) == layout_extent(b, 1) &&
               a->transposed == b->transposed && a->esize == b->esize && a->per_phase == b->per_phase &&
               a->max_phase == b->max_phase && a->canonical == b->canonical;
    if (a->rank != b->rank || a->nreg != b->nreg || a->nwarp != b->nwarp)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->log2shape[d] != b->log2shape[d])
            return false;
    if (!reps_eq(a, b) || !wreps_eq(a, b))
        return false;
    for (int i = 0; i < a->nreg; i++)
        if (!lbit_eq(a->reg[i], b->reg[i]))
            return false;
    for (int i = 0; i < LAYOUT_LANE_BITS; i++)
        if (!lbit_eq(a->lane[i], b->lane[i]))
            return false;
    for (int i = 0; i < a->nwarp; i++)
        if (!lbit_eq(a->warp[i], b->warp[i]))
            return false;
    return true;
}

int layout_reg_of(const Layout *l, const int *coord)
{
    /* Coordinate bits no input bit sets are ignored (a broadcast dim of
     * size 1 is read at any coordinate), and so are repetitions past rep. */
    int q = 0;
    for (int k = 0; k < l->rank; k++) {
        int d = rep_dim(l, k);
        q = q * layout_reg_rep(l, d) + (coord[d] >> l->log2shape[d]) % layout_reg_rep(l, d);
    }
    int r = q << l->nreg;
    for (int i = 0; i < l->nreg; i++)
        if ((coord[l->reg[i].dim] >> l->reg[i].bit) & 1)
            r |= 1 << i;
    return r;
}

void layout_coord_of_reg(const Layout *l, int r, int *coord)
{
    int q = r >> l->nreg;
    for (int k = l->rank - 1; k >= 0; k--) {
        int d = rep_dim(l, k);
        coord[d] = (q % layout_reg_rep(l, d)) << l->log2shape[d];
        q /= layout_reg_rep(l, d);
    }
    for (int i = 0; i < l->nreg; i++)
        if ((r >> i) & 1)
            coord[l->reg[i].dim] |= 1 << l->reg[i].bit;
}

bool layout_local_map(const Layout *src, const Layout *dst, int *map)
{
    if (src->kind == LAYOUT_SHARED || dst->kind == LAYOUT_SHARED)
        return false;
    if (src->rank != dst->rank || src->nwarp != dst->nwarp || !wreps_eq(src, dst))
        return false;
    /* (the order of the repetitions may differ: the map says where each is) */
    for (int d = 0; d < src->rank; d++)
        if (src->log2shape[d] != dst->log2shape[d] || layout_rep(src, d) != layout_rep(dst, d))
            return false;
    for (int i = 0; i < LAYOUT_LANE_BITS; i++)
        if (!lbit_eq(src->lane[i], dst->lane[i]))
            return false;
    for (int i = 0; i < src->nwarp; i++)
        if (!lbit_eq(src->warp[i], dst->warp[i]))
            return false;
    /* Each dst register bit must be a src register bit. */
    for (int i = 0; i < dst->nreg; i++) {
        bool found = false;
        for (int j = 0; j < src->nreg && !found; j++)
            found = lbit_eq(src->reg[j], dst->reg[i]);
        if (!found)
            return false;
    }
    for (int r = 0; r < layout_nregs(dst); r++) {
        int coord[LAYOUT_MAX_RANK];
        layout_coord_of_reg(dst, r, coord);
        map[r] = layout_reg_of(src, coord);
    }
    return true;
}

unsigned layout_lane_repl(const Layout *l)
{
    unsigned m = 0;
    for (int i = 0; i < LAYOUT_LANE_BITS; i++)
        if (l->lane[i].dim < 0)
            m |= 1u << i;
    return m;
}

unsigned layout_warp_repl(const Layout *l)
{
    unsigned m = 0;
    for (int i = 0; i < l->nwarp; i++)
        if (l->warp[i].dim < 0)
            m |= 1u << i;
    return m;
}

unsigned layout_warp_owner_mask(const Layout *l)
{
    unsigned m = layout_warp_repl(l);
    return layout_wrep_replicated(l) ? m | ~0u << l->nwarp : m;
}

int layout_warp_slots(const Layout *l, int axis)
{
    int n = 1;
    for (int i = 0; i < l->nwarp; i++)
        if (l->warp[i].dim == axis)
            n *= 2;
    return layout_wrep(l) > 1 && l->wrep_dim == axis ? n * l->wrep : n;
}

int layout_contig_regs(const Layout *l)
{
    if (l->rank == 0)
        return 1;
    int last = l->rank - 1, n = 0;
    while (n < l->nreg && l->reg[n].dim == last && l->reg[n].bit == n)
        n++;
    return 1 << n;
}

static void print_bits(StrBuf *out, const char *name, const LBit *b, int n)
{
    sb_printf(out, "%s", name);
    for (int i = 0; i < n; i++) {
        if (b[i].dim < 0)
            sb_puts(out, " -");
        else
            sb_printf(out, " %c%d", "ij"[b[i].dim], b[i].bit);
    }
}

void layout_print(StrBuf *out, const Layout *l)
{
    static const char *const kinds[] = { "blocked", "acc", "mma_a", "mma_b", "derived", "shared" };
    if (l->kind == LAYOUT_SHARED) {
        sb_printf(out, "#shared{%s, swizzle %d/%d%s}", l->transposed ? "transposed" : "row-major", l->per_phase,
                  l->max_phase, l->canonical ? ", canonical" : "");
        return;
    }
    sb_printf(out, "#%s{", kinds[l->kind]);
    print_bits(out, "reg", l->reg, l->nreg);
    if (layout_nreps(l) > 1) { /* the repetitions, outermost in the registers */
        sb_puts(out, "; rep");
        for (int d = 0; d < l->rank; d++)
            sb_printf(out, " %d", layout_rep(l, d));
    }
    print_bits(out, "; lane", l->lane, LAYOUT_LANE_BITS);
    print_bits(out, "; warp", l->warp, l->nwarp);
    if (layout_wrep(l) > 1) { /* the warps' odd factor, and the dim it numbers */
        sb_printf(out, " x%d %c", l->wrep, l->wrep_dim < 0 ? '-' : "ij"[l->wrep_dim]);
    }
    sb_putc(out, '}');
}
