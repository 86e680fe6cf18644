/* Distributed layouts: how a tile's elements are spread over the registers,
 * lanes and warps of a thread block.
 *
 * A tile dim is a power of two times an odd repetition factor rep[d] (1 for
 * a power of two; 5 for 80 = 5 x 16). Within the power-of-two part, the
 * base of 2^log2shape[d] elements, an element's coordinates are bit strings
 * and a layout can say, for each input bit of (register index, lane, warp),
 * which coordinate bit it sets -- or none: a lane or warp bit that sets no
 * coordinate means those threads hold the same elements (replication). Every
 * coordinate bit is set by exactly one input bit. The base repeats rep[d]
 * times along dim d, in registers: register r = q * 2^nreg + (low bits),
 * where q = q[0] * rep[1] + q[1] numbers the repetition (see rep_swapped),
 * and the element
 * held by thread (lane, warp) in register r has coordinates
 *     coord[d] = q[d] * 2^log2shape[d] + OR over input bits b of r's low
 *                bits, the lane and the warp that set (d, k): bit(b) << k.
 * A warp count that is no power of two (12 = 3 x 4) has an odd factor
 * wrep: warp w = wq * 2^nwarp + (its low bits, which the warp bits read),
 * and wq numbers the repetition of the dim wrep_dim (whose rep[d] is wrep:
 * that dim's repetition is held by warps, not registers), or nothing
 * (wrep_dim -1: the wrep groups of warps hold replicas).
 * Blocked layouts (for memory access), the tensor-core fragments of
 * mma.sync.m16n8k16 (accumulator, A and B operands), their reductions
 * (slices) and broadcasts are all of this form, so one set of rules decides
 * conversions, reductions and broadcasting for all of them. */
#ifndef TSR_LAYOUT_H
#define TSR_LAYOUT_H

#include "dtype.h"
#include "util.h"

enum { LAYOUT_MAX_REG = 14, LAYOUT_LANE_BITS = 5, LAYOUT_MAX_WARP = 4, LAYOUT_MAX_RANK = 2 };

typedef struct {
    int8_t dim; /* -1: sets no coordinate bit */
    int8_t bit;
} LBit;

typedef enum {
    LAYOUT_BLOCKED,
    LAYOUT_MMA_ACC,
    LAYOUT_MMA_A,
    LAYOUT_MMA_B,
    LAYOUT_DERIVED, /* made from another by slice/expand/transpose/broadcast */
    LAYOUT_SHARED,  /* not in registers: a tile in shared memory (see below) */
} LayoutKind;

typedef struct {
    LayoutKind kind;
    int rank;
    int log2shape[LAYOUT_MAX_RANK];
    int rep[LAYOUT_MAX_RANK]; /* odd; 0 reads as 1 (see layout_rep) */
    /* q = q[1] * rep[0] + q[0] instead (a transposed layout keeps its
     * registers); matters only when both dims repeat. */
    bool rep_swapped;
    int nreg;
    LBit reg[LAYOUT_MAX_REG];
    LBit lane[LAYOUT_LANE_BITS];
    int nwarp;
    LBit warp[LAYOUT_MAX_WARP];
    /* The odd factor of the warp count (0 reads as 1: a power of two) and
     * the dim whose repetition the warp's high part wq numbers (-1: none,
     * replicas); both 0 when the count is a power of two. */
    int wrep;
    int8_t wrep_dim;
    /* LAYOUT_SHARED: the 2-D tile is stored row by row -- rows are the
     * logical dim 0, or dim 1 when `transposed` -- and the 16-byte chunks of
     * row r are permuted: chunk c is stored at c ^ ((r / per_phase) %
     * max_phase), so the 8 rows an ldmatrix reads, and the chunks a warp
     * copies, fall in distinct banks.
     * `canonical`: the layout the tensor cores of sm_90a read through
     * shared-memory descriptors. Rows wider than 128 bytes are cut into
     * panels of 128-byte rows, stored one after the other (panel p holds
     * columns [128p, 128p + 128) bytes of every row; rows of a width that
     * is no power of two, in the widest panels of 32, 64 or 128 bytes that
     * divide it, layout_shared_row_bytes); within a panel the
     * chunk swizzle above is the hardware's 128B/64B/32B swizzle on absolute
     * addresses, provided the tile starts at a multiple of 8 rows' bytes
     * (layout_shared_align). */
    bool transposed;
    bool canonical;
    int esize;
    int per_phase, max_phase;
    /* The layout would need more than 2^LAYOUT_MAX_REG registers per thread;
     * its extra bits were dropped. A legal program can ask for this (a huge
     * tile on few warps): tir_intern_layout notes it on the function and the
     * compile driver reports it at the value's source position. */
    bool too_big;
} Layout;

/* A blocked layout: `vec` consecutive elements of the last dim per
 * register group, then lanes and warps over the remaining bits, fastest dim
 * first; leftover bits go to registers. */
Layout layout_blocked(int rank, const int *shape, int nwarps, int vec);
/* How warps tile an M x N dot: wm along M, wn along N (wm * wn <= warps;
 * leftover warps replicate). With an odd factor in the warp count, wm is
 * the whole count when M has 16 rows for each warp exactly (a 64-row slab
 * per warpgroup for 12 warps and M = 192); otherwise wm and wn come from
 * the count's power of two and the odd factor replicates. */
void layout_mma_warps(int M, int N, int nwarps, int *wm, int *wn);
/* mma.sync.m16n8k16 fragments of a dot (M x N result, K reduction) over
 * nwarps warps arranged wm x wn. Register bit order (low to high):
 *   acc [M,N]: col bit0, row bit3, then n-tiles, then m-tiles
 *   A   [M,K]: k bit0, row bit3, k bit3, then k-tiles, then m-tiles
 *   B   [K,N]: k bit0, k bit3, then k-tiles, then n-tiles */
Layout layout_mma_acc(int M, int N, int nwarps, int wm, int wn);
Layout layout_mma_a(int M, int K, int nwarps, int wm, int wn);
Layout layout_mma_b(int K, int N, int nwarps, int wm, int wn);
/* The same for 8-bit operands (e4m3, e5m2), mma.sync.m16n8k32: four
 * consecutive k elements a register (one b32), lanes over k bits 2 and 3.
 *   A [M,K]: k bits 0 and 1, row bit3, k bit4, then k-tiles, then m-tiles
 *   B [K,N]: k bits 0 and 1, k bit4, then k-tiles, then n-tiles
 * (the accumulator is layout_mma_acc). */
Layout layout_mma_a8(int M, int K, int nwarps, int wm, int wn);
Layout layout_mma_b8(int K, int N, int nwarps, int wm, int wn);

/* Whether a dot of [M,K] by [K,N] with operands of dtype dt fits the
 * mma.sync tensor cores (f16/bf16, M and K multiples of 16, N of 8; fp8
 * with K a multiple of 32, on targets that have it). The
 * others multiply-add in f32 on the CUDA cores, with these layouts: */
bool layout_mma_fits(DType dt, int M, int N, int K);
/* The result [M,N]: lanes and warps alternate between the dims, so that
 * each thread holds few rows and few columns. */
Layout layout_fma_acc(int M, int N, int nwarps);
/* Operand A [M,K] (b_operand false) or B [K,N] (true) of a result in layout
 * acc: each thread holds the rows (A) or columns (B) of its result elements,
 * over the whole of K, in registers; threads that share them replicate. */
Layout layout_fma_operand(const Layout *acc, int K, bool b_operand);
/* Registers per thread (elements) the three layouts of such a dot take. */
int layout_fma_regs(int M, int N, int K, int nwarps);

/* A swizzled shared-memory tile of shape rows x cols (stored orientation)
 * with elements of esize bytes; transposed: the value is its transpose. */
Layout layout_shared(int rows, int cols, int esize, bool transposed);
/* Byte offset of stored element (row, col) of a shared layout, for a col
 * that starts a 16-byte chunk or lies within one. */
int layout_shared_pitch(const Layout *l); /* bytes per stored row */
/* The same tile in the canonical layout of sm_90a's tensor cores (see
 * Layout.canonical); rows of cols * esize bytes, a multiple of 32, and a
 * multiple of 8 rows. A row that is no power of two of bytes (160) is cut
 * into the widest panels that divide it (32 bytes), with their swizzle. */
Layout layout_shared_canonical(int rows, int cols, int esize, bool transposed);
/* Bytes of one stored row within a panel (the whole row unless canonical
 * and wider than 128 bytes), and the bytes of a panel (every row). */
int layout_shared_row_bytes(const Layout *l);
int layout_shared_panel_bytes(const Layout *l);
/* The alignment, in bytes, a shared tile's start needs. */
int layout_shared_align(const Layout *l);

/* The layout of a reduction's result along `axis`. */
Layout layout_slice(const Layout *l, int axis);
/* Adds a dim of size 1 at `axis`. */
Layout layout_expand(const Layout *l, int axis);
/* Removes a dim of size 1 at `axis` (inverse of expand). */
Layout layout_squeeze(const Layout *l, int axis);
Layout layout_transpose(const Layout *l);
/* The layout of a tile of shape `to` that holds, register for register, the
 * elements of a tile of shape `from` in layout l, when the two shapes differ
 * only in dims of size 1 (a reshape that moves no data); false otherwise. */
bool layout_reshape_units(const Layout *l, const int *from, int rank_from, const int *to, int rank_to, Layout *out);
/* The layout an operand of shape src_shape must have to be broadcast into
 * `dst` in registers: dims where src_shape is 1 lose their bits. */
Layout layout_broadcast_src(const Layout *dst, int rank, const int *src_shape);

bool layout_eq(const Layout *a, const Layout *b);
/* The repetition factor of dim d, and the dim's extent. */
static inline int layout_rep(const Layout *l, int d) { return l->rep[d] > 1 ? l->rep[d] : 1; }
static inline int layout_extent(const Layout *l, int d) { return layout_rep(l, d) << l->log2shape[d]; }
/* Repetitions (registers of the same low bits) of every dim together. */
/* The odd factor of the warp count, and the repetitions of dim d held in
 * registers (all but those the warps' high part numbers). */
static inline int layout_wrep(const Layout *l) { return l->wrep > 1 ? l->wrep : 1; }
static inline int layout_reg_rep(const Layout *l, int d)
{
    return layout_wrep(l) > 1 && l->wrep_dim == d ? 1 : layout_rep(l, d);
}
/* Whether the wrep groups of warps hold replicas (an odd warp factor that
 * numbers no dim's repetition). */
static inline bool layout_wrep_replicated(const Layout *l) { return layout_wrep(l) > 1 && l->wrep_dim < 0; }
/* The warp-index mask of layout_warp_repl, widened to every bit above the
 * low ones when the groups replicate: (warp & mask) == 0 picks one owner. */
unsigned layout_warp_owner_mask(const Layout *l);
static inline int layout_nreps(const Layout *l)
{
    int n = 1;
    for (int d = 0; d < l->rank; d++)
        n *= layout_reg_rep(l, d);
    return n;
}
static inline int layout_nregs(const Layout *l) { return layout_nreps(l) << l->nreg; }
/* The register that holds the element whose coordinate bits set by
 * registers are `coord` (bits set by lanes and warps must be clear). */
int layout_reg_of(const Layout *l, const int *coord);
/* The register-part coordinates of register r. */
void layout_coord_of_reg(const Layout *l, int r, int *coord);
/* When every thread already holds, in `src`, each element it needs in `dst`
 * at a register known at compile time, fills map[r_dst] = r_src and returns
 * true. Dims listed in drop (bit mask) are ignored in dst (broadcasting). */
bool layout_local_map(const Layout *src, const Layout *dst, int *map);
/* Lanes (bit mask over lane bits) and warps that replicate data. */
unsigned layout_lane_repl(const Layout *l);
unsigned layout_warp_repl(const Layout *l);
/* Warp slots along `axis`: the warps whose partial results a reduction
 * along it combines (2^(low warp bits along it), times wrep when the warps'
 * high part numbers that dim); 1 when every warp holds the whole axis. */
int layout_warp_slots(const Layout *l, int axis);
/* Splits a tile dim into its power of two (log2) and odd factor. */
void layout_split_dim(int n, int *log2, int *rep);
/* Number of consecutive registers (from register 0) that hold consecutive
 * elements of the last dim: the widest vector an access can use. */
int layout_contig_regs(const Layout *l);
void layout_print(StrBuf *out, const Layout *l);

#endif
