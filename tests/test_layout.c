/* Distributed layouts (ir/layout.c): coverage of every element,
 * replication, the mma.sync fragment tables of the PTX ISA, and the algebra
 * (slice, expand, transpose, broadcast, register-local conversion), and the
 * layouts of dots on the CUDA cores. */
#include "layout.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Every warp count the language takes (powers of two, and three times
 * them: ir/layout.h's wrep). */
static const int warp_counts[] = { 1, 2, 3, 4, 6, 8, 12, 16, 24 };
#define FOR_WARPS(w) for (int wi_ = 0, w; wi_ < (int)(sizeof warp_counts / sizeof *warp_counts) && (w = warp_counts[wi_], 1); wi_++)

/* Coordinates of register r of thread (lane, warp): the warp's low bits
 * set coordinate bits, its high part (warp >> nwarp) numbers wrep_dim's
 * repetition. */
static void coord_of(const Layout *l, int r, int lane, int warp, int *c)
{
    layout_coord_of_reg(l, r, c);
    if (layout_wrep(l) > 1 && l->wrep_dim >= 0)
        c[l->wrep_dim] += (warp >> l->nwarp) << l->log2shape[l->wrep_dim];
    for (int i = 0; i < LAYOUT_LANE_BITS; i++)
        if (l->lane[i].dim >= 0 && ((lane >> i) & 1))
            c[l->lane[i].dim] |= 1 << l->lane[i].bit;
    for (int i = 0; i < l->nwarp; i++)
        if (l->warp[i].dim >= 0 && ((warp >> i) & 1))
            c[l->warp[i].dim] |= 1 << l->warp[i].bit;
}

/* Every element is held by the same number of (thread, register) pairs:
 * the replication factor of the lanes and warps that set no bit. */
static void check_cover(const Layout *l, int rows, int cols)
{
    int nwarps = layout_wrep(l) << l->nwarp, *count = calloc((size_t)rows * (size_t)cols, sizeof(int));
    for (int w = 0; w < nwarps; w++)
        for (int lane = 0; lane < 32; lane++)
            for (int r = 0; r < layout_nregs(l); r++) {
                int c[2] = { 0, 0 };
                coord_of(l, r, lane, w, c);
                int i = l->rank == 2 ? c[0] : 0, j = l->rank == 2 ? c[1] : c[0];
                assert_true(i < rows && j < cols);
                count[i * cols + j]++;
            }
    int repl = 1 << (__builtin_popcount(layout_lane_repl(l)) + __builtin_popcount(layout_warp_repl(l)));
    if (layout_wrep_replicated(l))
        repl *= layout_wrep(l);
    for (int k = 0; k < rows * cols; k++)
        assert_int_equal(count[k], repl);
    free(count);
}

static void blocked_covers(void **state)
{
    (void)state;
    static const int shapes[][2] = { { 64, 64 }, { 16, 16 }, { 128, 32 }, { 4, 256 }, { 1, 8 }, { 256, 1 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        FOR_WARPS(warps)
            for (int vec = 1; vec <= 8; vec *= 2) {
                Layout l = layout_blocked(2, shapes[s], warps, vec);
                check_cover(&l, shapes[s][0], shapes[s][1]);
                /* the vector's elements are consecutive in the last dim */
                assert_true(layout_contig_regs(&l) >= (vec < shapes[s][1] ? vec : shapes[s][1]));
            }
    int n[1] = { 8 };
    Layout small = layout_blocked(1, n, 4, 4); /* 8 elements over 128 threads: replicated */
    check_cover(&small, 1, 8);
    assert_true(layout_lane_repl(&small) != 0 && layout_warp_repl(&small) != 0);
}

/* Dims that are multiples of 16 but no powers of two repeat their power of
 * two in registers: every layout still covers its tile, reg_of inverts
 * coord_of_reg, and a transpose (which keeps the registers) and a
 * register-local conversion agree on where each element is. */
static void repeated_dims(void **state)
{
    (void)state;
    static const int shapes[][2] = { { 48, 80 }, { 176, 16 }, { 16, 176 }, { 80, 48 }, { 192, 112 }, { 192, 128 },
                                     { 96, 64 }, { 384, 64 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1];
        FOR_WARPS(warps) {
            Layout ls[4];
            int wm, wn;
            layout_mma_warps(M, N, warps, &wm, &wn);
            ls[0] = layout_blocked(2, shapes[s], warps, 4);
            ls[1] = layout_mma_acc(M, N, warps, wm, wn);
            ls[2] = layout_mma_a(M, N, warps, wm, wn); /* [M, K = N] */
            ls[3] = layout_mma_b(M, N, warps, wm, wn); /* [K = M, N] */
            for (int k = 0; k < 4; k++) {
                Layout *l = &ls[k];
                check_cover(l, M, N);
                Layout t = layout_transpose(l);
                check_cover(&t, N, M);
                for (int r = 0; r < layout_nregs(l); r++) {
                    int c[2], ct[2];
                    layout_coord_of_reg(l, r, c);
                    assert_int_equal(layout_reg_of(l, c), r);
                    layout_coord_of_reg(&t, r, ct);
                    assert_int_equal(ct[0], c[1]);
                    assert_int_equal(ct[1], c[0]);
                }
                /* the transposed twice is the layout; local maps exist
                 * between the two orders of the repetitions */
                Layout tt = layout_transpose(&t);
                assert_true(layout_eq(&tt, l));
                int *map = malloc(sizeof(int) * (size_t)layout_nregs(l));
                Layout back = layout_transpose(&tt);
                back = layout_transpose(&back);
                assert_true(layout_local_map(l, &back, map));
                free(map);
                /* reductions keep the other dim's repetitions */
                for (int axis = 0; axis < 2; axis++) {
                    Layout sl = layout_slice(l, axis);
                    check_cover(&sl, 1, shapes[s][1 - axis]);
                }
            }
        }
    }
    /* 12 warps (FlashAttention-3's three consumer warpgroups) on a 192-row
     * accumulator: warp w holds rows 16w .. 16w + 15 (warpgroup g the 64-row
     * slab g, as wgmma writes it); 128 rows (no factor 3) leave the three
     * groups of 4 warps replicas. */
    int wm, wn;
    layout_mma_warps(192, 128, 12, &wm, &wn);
    assert_int_equal(wm, 12);
    assert_int_equal(wn, 1);
    Layout acc = layout_mma_acc(192, 128, 12, wm, wn);
    assert_int_equal(acc.nwarp, 2);
    assert_int_equal(layout_wrep(&acc), 3);
    assert_int_equal(acc.wrep_dim, 0);
    assert_int_equal(layout_nregs(&acc), 64);
    for (int w = 0; w < 12; w++)
        for (int lane = 0; lane < 32; lane++)
            for (int r = 0; r < layout_nregs(&acc); r++) {
                int c[2] = { 0, 0 };
                coord_of(&acc, r, lane, w, c);
                assert_int_equal(c[0] / 16, w);
            }
    Layout rows = layout_slice(&acc, 1), cols = layout_slice(&acc, 0);
    assert_int_equal(rows.wrep_dim, 0);
    assert_true(layout_wrep_replicated(&cols));
    assert_int_equal(layout_warp_slots(&acc, 0), 12);
    assert_int_equal(layout_warp_slots(&acc, 1), 1);
    layout_mma_warps(128, 128, 12, &wm, &wn);
    assert_int_equal(wm * wn, 4);
    Layout rep4 = layout_mma_acc(128, 128, 12, wm, wn);
    assert_true(layout_wrep_replicated(&rep4));
    assert_int_equal((int)layout_warp_owner_mask(&rep4), (int)(~0u << 2));
    int odd[1] = { 80 };
    Layout one = layout_blocked(1, odd, 4, 8); /* 16 elements' bits, 5 times: replicated */
    check_cover(&one, 1, 80);
    assert_int_equal(layout_rep(&one, 0), 5);
}

/* Dots on the CUDA cores: the result covers its tile; each thread's operand
 * registers hold, over all of K, exactly the rows (A) and columns (B) of its
 * result elements; layout_fma_regs counts what the layouts take. */
static void fma_dot_layouts(void **state)
{
    (void)state;
    static const int shapes[][3] = { { 8, 8, 8 }, { 64, 64, 16 }, { 32, 4, 16 }, { 1, 16, 32 }, { 128, 8, 1 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        FOR_WARPS(warps) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            Layout c = layout_fma_acc(M, N, warps), a = layout_fma_operand(&c, K, false),
                   b = layout_fma_operand(&c, K, true);
            check_cover(&c, M, N);
            check_cover(&a, M, K);
            check_cover(&b, K, N);
            assert_int_equal(layout_fma_regs(M, N, K, warps), layout_nregs(&c) + layout_nregs(&a) + layout_nregs(&b));
            for (int w = 0; w < warps; w++)
                for (int lane = 0; lane < 32; lane++)
                    for (int r = 0; r < layout_nregs(&c); r++) {
                        int cc[2] = { 0, 0 };
                        coord_of(&c, r, lane, w, cc);
                        for (int k = 0; k < K; k++) {
                            int rc[2] = { 0, 0 }, ka[2], kb[2], ca[2] = { 0, 0 }, cb[2] = { 0, 0 };
                            layout_coord_of_reg(&c, r, rc);
                            ka[0] = rc[0], ka[1] = k, kb[0] = k, kb[1] = rc[1];
                            coord_of(&a, layout_reg_of(&a, ka), lane, w, ca);
                            coord_of(&b, layout_reg_of(&b, kb), lane, w, cb);
                            assert_int_equal(ca[0], cc[0]);
                            assert_int_equal(ca[1], k);
                            assert_int_equal(cb[0], k);
                            assert_int_equal(cb[1], cc[1]);
                        }
                    }
        }
    assert_int_equal(layout_fma_regs(64, 64, 16, 4), 224); /* the example in dsl/README.md */
    assert_false(layout_mma_fits(DT_F32, 64, 64, 16));
    assert_false(layout_mma_fits(DT_F16, 64, 64, 8));
    assert_true(layout_mma_fits(DT_BF16, 16, 8, 16));
}

/* The fragment tables of mma.sync.m16n8k16 (PTX ISA; DESIGN.md): g = lane >> 2, t = lane & 3. */
static void mma_fragments_match_the_isa(void **state)
{
    (void)state;
    Layout acc = layout_mma_acc(16, 8, 1, 1, 1), a = layout_mma_a(16, 16, 1, 1, 1), b = layout_mma_b(16, 8, 1, 1, 1);
    for (int lane = 0; lane < 32; lane++) {
        int g = lane >> 2, t = lane & 3, c[2];
        /* C/D: c_i at row g + 8 (i >= 2), col 2t + (i & 1) */
        for (int i = 0; i < 4; i++) {
            int want[2] = { g + 8 * (i >> 1), 2 * t + (i & 1) };
            int r = layout_reg_of(&acc, (int[]){ want[0] & 8, want[1] & 1 });
            coord_of(&acc, r, lane, 0, c);
            assert_int_equal(c[0], want[0]);
            assert_int_equal(c[1], want[1]);
        }
        /* A: reg q (two halves h): row g + 8 (q & 1), col 2t + h + 8 (q >> 1) */
        for (int q = 0; q < 4; q++)
            for (int h = 0; h < 2; h++) {
                int want[2] = { g + 8 * (q & 1), 2 * t + h + 8 * (q >> 1) };
                int r = layout_reg_of(&a, (int[]){ want[0] & 8, want[1] & 9 });
                coord_of(&a, r, lane, 0, c);
                assert_int_equal(c[0], want[0]);
                assert_int_equal(c[1], want[1]);
            }
        /* B: element i at k = 2t + (i & 1) + 8 (i >= 2), n = g */
        for (int i = 0; i < 4; i++) {
            int want[2] = { 2 * t + (i & 1) + 8 * (i >> 1), g };
            int r = layout_reg_of(&b, (int[]){ want[0] & 9, 0 });
            coord_of(&b, r, lane, 0, c);
            assert_int_equal(c[0], want[0]);
            assert_int_equal(c[1], want[1]);
        }
    }
    /* Bigger dots tile their warps and repeat fragments over registers. */
    int wm, wn;
    layout_mma_warps(64, 64, 4, &wm, &wn);
    assert_int_equal(wm, 4);
    assert_int_equal(wn, 1);
    layout_mma_warps(32, 128, 8, &wm, &wn);
    assert_int_equal(wm, 2);
    assert_int_equal(wn, 4);
    Layout big = layout_mma_acc(64, 128, 4, 4, 1);
    check_cover(&big, 64, 128);
    Layout ba = layout_mma_a(64, 32, 8, 2, 4); /* A is replicated over the warps along N */
    check_cover(&ba, 64, 32);
    assert_true(layout_warp_repl(&ba) != 0);
}

static void algebra(void **state)
{
    (void)state;
    Layout acc = layout_mma_acc(64, 64, 4, 4, 1);
    /* A row reduction's result is held by the 4 threads of a quad. */
    Layout rows = layout_slice(&acc, 1);
    assert_int_equal(rows.rank, 1);
    assert_int_equal(layout_lane_repl(&rows), 0x3u);
    check_cover(&rows, 1, 64);
    /* expand then squeeze is the identity; transpose twice too */
    Layout e = layout_expand(&rows, 1), s = layout_squeeze(&e, 1);
    assert_true(layout_eq(&s, &rows));
    Layout t = layout_transpose(&acc), tt = layout_transpose(&t);
    assert_true(layout_eq(&tt, &acc));
    /* Broadcasting a row vector into the accumulator needs no data movement. */
    int src_shape[2] = { 64, 1 };
    Layout need = layout_broadcast_src(&acc, 2, src_shape);
    int map[1 << LAYOUT_MAX_REG];
    assert_true(layout_local_map(&e, &need, map));
    /* The accumulator's P feeds the next dot's A operand in registers (the
     * FlashAttention-2 trick) when warps split only rows... */
    Layout pa = layout_mma_a(64, 64, 4, 4, 1);
    assert_true(layout_local_map(&acc, &pa, map));
    for (int r = 0; r < layout_nregs(&pa); r++) {
        int c1[2], c2[2];
        coord_of(&pa, r, 5, 2, c1);
        coord_of(&acc, map[r], 5, 2, c2);
        assert_memory_equal(c1, c2, sizeof c1);
    }
    /* ...but not when warps split the columns too. */
    Layout acc2 = layout_mma_acc(32, 64, 4, 2, 2), pa2 = layout_mma_a(32, 64, 4, 2, 2);
    assert_false(layout_local_map(&acc2, &pa2, map));
    Layout bl = layout_blocked(2, (int[]){ 64, 64 }, 4, 8);
    assert_false(layout_local_map(&bl, &acc, map));
}

static void shared_layouts(void **state)
{
    (void)state;
    Layout s = layout_shared(64, 64, 2, false); /* 128-byte rows: 8 chunks, phase per row */
    assert_int_equal(s.max_phase, 8);
    assert_int_equal(s.per_phase, 1);
    assert_int_equal(layout_shared_pitch(&s), 128);
    Layout n = layout_shared(64, 32, 2, false); /* 64-byte rows: 4 chunks, a phase every 2 rows */
    assert_int_equal(n.max_phase, 4);
    assert_int_equal(n.per_phase, 2);
    Layout t = layout_transpose(&s);
    assert_true(t.transposed);
    assert_false(layout_eq(&t, &s));
    Layout back = layout_transpose(&t);
    assert_true(layout_eq(&back, &s));
    int map[64];
    assert_false(layout_local_map(&s, &s, map)); /* shared tiles are never register-local */
    StrBuf sb;
    sb_init(&sb);
    layout_print(&sb, &t);
    assert_string_equal(sb.data, "#shared{transposed, swizzle 1/8}");
    sb_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocked_covers),
        cmocka_unit_test(repeated_dims),
        cmocka_unit_test(mma_fragments_match_the_isa),
        cmocka_unit_test(algebra),
        cmocka_unit_test(shared_layouts),
        cmocka_unit_test(fma_dot_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
