/* Execution in the emulator (sched.c, memory.c, ops_warp.c, ops_mem.c):
 * divergence and reconvergence, exits, barriers (named, arrive, red), warp
 * collectives (shfl with clamps and segments, vote, redux, match, elect),
 * atomics from several host threads, loads and stores in every state space,
 * address arithmetic at the address register's width,
 * cp.async groups and their asynchrony, special registers, module
 * variables, parameters. Each kernel is hand-written PTX; results are
 * compared with what the PTX ISA says they must be. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "emu/emu_test.h"

#define HEADER ".version 8.0\n.target sm_90\n.address_size 64\n"

/* ---- divergence ---------------------------------------------------------------- */

static const char *const diverge_ptx = HEADER
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<4>;\n  .reg .b32 %r<10>;\n  .reg .b64 %rd<4>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  mul.wide.u32 %rd2, %r1, 16;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  and.b32 %r2, %r1, 1;\n"
    "  setp.eq.s32 %p1, %r2, 0;\n"
    "  @%p1 bra EVEN;\n"
    "  activemask.b32 %r3;\n"
    "  and.b32 %r4, %r1, 2;\n"
    "  setp.eq.s32 %p2, %r4, 0;\n"
    "  @%p2 bra ODD_A;\n"
    "  activemask.b32 %r5;\n"
    "  bra ODD_JOIN;\n"
    "ODD_A:\n"
    "  activemask.b32 %r5;\n"
    "ODD_JOIN:\n"
    "  bra JOIN;\n"
    "EVEN:\n"
    "  activemask.b32 %r3;\n"
    "  mov.u32 %r5, 0;\n"
    "JOIN:\n"
    "  activemask.b32 %r6;\n"
    "  st.global.v4.u32 [%rd3], {%r3, %r5, %r6, %r1};\n"
    "  ret;\n"
    "}\n";

static void test_divergence(void **state)
{
    EmuModule *m = et_load(diverge_ptx);
    uint32_t out[64][4];
    memset(out, 0, sizeof out);
    void *p = out;
    void *args[] = {&p};
    EmuRegion r = {out, sizeof out, true};
    et_run(m, "k", args, &r, 1, ET_CONFIG(1, 64));
    for (int t = 0; t < 64; t++) {
        bool odd = t & 1;
        assert_int_equal(out[t][0], odd ? 0xaaaaaaaau : 0x55555555u);
        uint32_t r5 = !odd ? 0 : (t & 2) ? 0x88888888u : 0x22222222u;
        assert_int_equal(out[t][1], r5);
        assert_int_equal(out[t][2], 0xffffffffu); /* reconverged */
        assert_int_equal(out[t][3], t);
    }
    emu_module_free(m);
}

/* A loop whose trip count depends on the lane, a break out of it, and
 * lanes that exit early: every lane computes sum(0..tid%7), and the lanes
 * that stay see all the others again after the loop. */
static const char *const loop_ptx = HEADER
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<4>;\n  .reg .b32 %r<12>;\n  .reg .b64 %rd<4>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  mul.wide.u32 %rd2, %r1, 8;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  rem.u32 %r2, %r1, 7;\n"
    "  mov.u32 %r3, 0;\n"
    "  mov.u32 %r4, 0;\n"
    "LOOP:\n"
    "  setp.ge.u32 %p1, %r3, %r2;\n"
    "  @%p1 bra DONE;\n"
    "  add.s32 %r4, %r4, %r3;\n"
    "  add.s32 %r3, %r3, 1;\n"
    "  setp.eq.u32 %p2, %r3, 100;\n"   /* never: a second exit edge */
    "  @%p2 bra DONE;\n"
    "  bra.uni LOOP;\n"
    "DONE:\n"
    "  and.b32 %r5, %r1, 3;\n"
    "  setp.eq.s32 %p3, %r5, 3;\n"
    "  @%p3 bra LEAVE;\n"
    "  activemask.b32 %r6;\n"
    "  st.global.v2.u32 [%rd3], {%r4, %r6};\n"
    "  ret;\n"
    "LEAVE:\n"
    "  st.global.v2.u32 [%rd3], {%r4, %r1};\n"
    "  exit;\n"
    "}\n";

static void test_loops_and_exit(void **state)
{
    EmuModule *m = et_load(loop_ptx);
    uint32_t out[40][2];
    memset(out, 0xee, sizeof out);
    void *p = out;
    void *args[] = {&p};
    EmuRegion r = {out, sizeof out, true};
    et_run(m, "k", args, &r, 1, ET_CONFIG(1, 40)); /* a full warp and a partial one */
    for (int t = 0; t < 40; t++) {
        int n = t % 7;
        assert_int_equal(out[t][0], n * (n - 1) / 2);
        if ((t & 3) == 3) {
            assert_int_equal(out[t][1], t);
        } else {
            uint32_t live = t < 32 ? 0x77777777u : 0x77u;
            assert_int_equal(out[t][1], live);
        }
    }
    emu_module_free(m);
}

/* ---- barriers -------------------------------------------------------------------- */

/* Each thread writes its id to shared memory, synchronises and reads the
 * value of the thread 37 places further on (another warp); then a named
 * barrier pair lets warps 0-1 produce for warps 2-3 (bar.arrive / bar.sync),
 * and bar.red counts and combines predicates. */
static const char *const barrier_ptx = HEADER
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<6>;\n  .reg .b32 %r<20>;\n  .reg .b64 %rd<4>;\n"
    "  .shared .align 4 .b8 buf[512];\n"
    "  .shared .align 4 .b8 msg[512];\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  mul.wide.u32 %rd2, %r1, 16;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  shl.b32 %r2, %r1, 2;\n"
    "  mov.u32 %r3, buf;\n"
    "  add.s32 %r4, %r3, %r2;\n"
    "  st.shared.u32 [%r4], %r1;\n"
    "  bar.sync 0;\n"
    "  add.s32 %r5, %r1, 37;\n"
    "  and.b32 %r5, %r5, 127;\n"
    "  shl.b32 %r5, %r5, 2;\n"
    "  add.s32 %r5, %r3, %r5;\n"
    "  ld.shared.u32 %r6, [%r5];\n"
    /* producers (warps 0, 1) write msg, then arrive on barrier 1 */
    "  mov.u32 %r7, msg;\n"
    "  setp.lt.u32 %p1, %r1, 64;\n"
    "  @!%p1 bra CONSUMER;\n"
    "  mul.lo.s32 %r8, %r1, 3;\n"
    "  add.s32 %r9, %r7, %r2;\n"
    "  st.shared.u32 [%r9], %r8;\n"
    "  bar.arrive 1, 128;\n"
    "  mov.u32 %r10, 0;\n"
    "  bra JOIN;\n"
    "CONSUMER:\n"
    "  barrier.sync 1, 128;\n"
    "  sub.s32 %r11, %r2, 256;\n"
    "  add.s32 %r11, %r7, %r11;\n"
    "  ld.shared.u32 %r10, [%r11];\n"
    "JOIN:\n"
    "  and.b32 %r12, %r1, 5;\n"
    "  setp.ne.s32 %p2, %r12, 0;\n"
    "  bar.red.popc.u32 %r13, 0, %p2;\n"
    "  setp.lt.u32 %p3, %r1, 200;\n"
    "  bar.red.and.pred %p4, 0, %p3;\n"
    "  setp.eq.u32 %p5, %r1, 77;\n"
    "  bar.red.or.pred %p5, 0, %p5;\n"
    "  selp.u32 %r14, 1, 0, %p4;\n"
    "  selp.u32 %r15, 2, 0, %p5;\n"
    "  or.b32 %r14, %r14, %r15;\n"
    "  st.global.v4.u32 [%rd3], {%r6, %r10, %r13, %r14};\n"
    "  ret;\n"
    "}\n";

static void test_barriers(void **state)
{
    EmuModule *m = et_load(barrier_ptx);
    uint32_t out[128][4];
    void *p = out;
    void *args[] = {&p};
    EmuRegion r = {out, sizeof out, true};
    for (int races = 0; races < 2; races++) {
        memset(out, 0, sizeof out);
        EtConfig c = ET_CONFIG(1, 128);
        c.races = races;
        c.uninit = true;
        et_run(m, "k", args, &r, 1, c);
        int popc = 0;
        for (int t = 0; t < 128; t++)
            popc += (t & 5) != 0;
        for (int t = 0; t < 128; t++) {
            assert_int_equal(out[t][0], (t + 37) & 127);
            assert_int_equal(out[t][1], t < 64 ? 0 : (t - 64) * 3);
            assert_int_equal(out[t][2], popc);
            assert_int_equal(out[t][3], 1 | 2);
        }
    }
    emu_module_free(m);
}

/* A warp that exits before a CTA-wide barrier no longer counts. */
static const char *const exit_barrier_ptx = HEADER
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<4>;\n  .reg .b64 %rd<4>;\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  setp.ge.u32 %p1, %r1, 64;\n"
    "  @%p1 exit;\n"
    "  bar.sync 0;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  mul.wide.u32 %rd2, %r1, 4;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  st.global.u32 [%rd3], 7;\n"
    "  ret;\n"
    "}\n";

static void test_exit_before_barrier(void **state)
{
    EmuModule *m = et_load(exit_barrier_ptx);
    uint32_t out[96] = {0};
    void *p = out;
    void *args[] = {&p};
    EmuRegion r = {out, sizeof out, true};
    et_run(m, "k", args, &r, 1, ET_CONFIG(1, 96));
    for (int t = 0; t < 96; t++)
        assert_int_equal(out[t], t < 64 ? 7 : 0);
    emu_module_free(m);
}

/* ---- warp collectives ------------------------------------------------------------- */

static const char *const shfl_ptx = HEADER
    ".visible .entry k(.param .u64 out, .param .u32 b, .param .u32 c)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<20>;\n  .reg .b64 %rd<4>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  ld.param.u32 %r2, [b];\n"
    "  ld.param.u32 %r3, [c];\n"
    "  mov.u32 %r1, %laneid;\n"
    "  mul.lo.s32 %r4, %r1, 100;\n"
    "  mul.wide.u32 %rd2, %r1, 32;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  shfl.sync.up.b32 %r5|%p1, %r4, %r2, %r3, -1;\n"
    "  selp.u32 %r6, 1, 0, %p1;\n"
    "  shfl.sync.down.b32 %r7|%p1, %r4, %r2, %r3, -1;\n"
    "  selp.u32 %r8, 1, 0, %p1;\n"
    "  shfl.sync.bfly.b32 %r9|%p1, %r4, %r2, %r3, -1;\n"
    "  selp.u32 %r10, 1, 0, %p1;\n"
    "  shfl.sync.idx.b32 %r11|%p1, %r4, %r2, %r3, -1;\n"
    "  selp.u32 %r12, 1, 0, %p1;\n"
    "  st.global.v4.u32 [%rd3], {%r5, %r6, %r7, %r8};\n"
    "  st.global.v4.u32 [%rd3+16], {%r9, %r10, %r11, %r12};\n"
    "  ret;\n"
    "}\n";

/* The ISA's pseudocode for lane `lane`: the source lane and the predicate. */
static void shfl_ref(int mode, uint32_t lane, uint32_t b, uint32_t c, uint32_t *src, bool *p)
{
    uint32_t bval = b & 31, cval = c & 31, seg = (c >> 8) & 31;
    uint32_t maxl = (lane & seg) | (cval & ~seg), minl = lane & seg;
    int j;
    bool pv;
    switch (mode) {
    case 0: j = (int)lane - (int)bval; pv = j >= (int)maxl; break;
    case 1: j = (int)(lane + bval); pv = j <= (int)maxl; break;
    case 2: j = (int)(lane ^ bval); pv = j <= (int)maxl; break;
    default: j = (int)(minl | (bval & ~seg)); pv = j <= (int)maxl; break;
    }
    *src = pv ? (uint32_t)j : lane;
    *p = pv;
}

static void test_shfl(void **state)
{
    EmuModule *m = et_load(shfl_ptx);
    static const uint32_t bs[] = {0, 1, 2, 5, 16, 31, 33};
    static const uint32_t cs[] = {0x1f, 0, 0x101f, 0x1810, 0x1c07, 0x0f, 0x3};
    for (size_t i = 0; i < TSR_ARRAY_LEN(bs); i++)
        for (size_t j = 0; j < TSR_ARRAY_LEN(cs); j++) {
            uint32_t out[32][8];
            void *p = out;
            uint32_t b = bs[i], c = cs[j];
            void *args[] = {&p, &b, &c};
            EmuRegion r = {out, sizeof out, true};
            et_run(m, "k", args, &r, 1, ET_CONFIG(1, 32));
            for (uint32_t l = 0; l < 32; l++)
                for (int mode = 0; mode < 4; mode++) {
                    uint32_t src;
                    bool pv;
                    shfl_ref(mode, l, b, c, &src, &pv);
                    assert_int_equal(out[l][2 * mode], src * 100);
                    assert_int_equal(out[l][2 * mode + 1], pv);
                }
        }
    emu_module_free(m);
}

/* vote, redux, match and elect, in a full warp and in the lanes < 20 */
static const char *const vote_ptx = HEADER
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<8>;\n  .reg .b32 %r<24>;\n  .reg .b64 %rd<4>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  mov.u32 %r1, %laneid;\n"
    "  mul.wide.u32 %rd2, %r1, 48;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  and.b32 %r2, %r1, 3;\n"
    "  setp.eq.s32 %p1, %r2, 0;\n"
    "  vote.sync.ballot.b32 %r3, %p1, -1;\n"
    "  vote.sync.any.pred %p2, %p1, -1;\n"
    "  vote.sync.all.pred %p3, %p1, -1;\n"
    "  vote.sync.uni.pred %p4, %p1, -1;\n"
    "  selp.u32 %r4, 1, 0, %p2;\n"
    "  selp.u32 %r5, 2, 0, %p3;\n"
    "  selp.u32 %r6, 4, 0, %p4;\n"
    "  or.b32 %r4, %r4, %r5;\n"
    "  or.b32 %r4, %r4, %r6;\n"
    "  redux.sync.add.u32 %r7, %r1, -1;\n"
    "  redux.sync.max.s32 %r8, %r2, -1;\n"
    "  shr.u32 %r9, %r1, 3;\n"
    "  match.any.sync.b32 %r10, %r9, -1;\n"
    "  elect.sync %r11|%p5, -1;\n"
    "  selp.u32 %r12, 1, 0, %p5;\n"
    "  mov.u32 %r13, 0;\n"
    "  mov.u32 %r14, 0;\n"
    "  mov.u32 %r15, 0;\n"
    "  setp.lt.u32 %p6, %r1, 20;\n"
    "  @!%p6 bra SKIP;\n"
    "  activemask.b32 %r16;\n"
    "  vote.sync.ballot.b32 %r13, %p1, %r16;\n"
    "  redux.sync.or.b32 %r14, %r1, %r16;\n"
    "  not.pred %p7, %p1;\n"
    "  vote.sync.all.pred %p7, !%p7, %r16;\n"
    "  selp.u32 %r15, 1, 0, %p7;\n"
    "SKIP:\n"
    "  st.global.v4.u32 [%rd3], {%r3, %r4, %r7, %r8};\n"
    "  st.global.v4.u32 [%rd3+16], {%r10, %r11, %r12, %r13};\n"
    "  st.global.v2.u32 [%rd3+32], {%r14, %r15};\n"
    "  ret;\n"
    "}\n";

static void test_vote_redux_match(void **state)
{
    EmuModule *m = et_load(vote_ptx);
    uint32_t out[32][12];
    void *p = out;
    void *args[] = {&p};
    EmuRegion r = {out, sizeof out, true};
    EtConfig c = ET_CONFIG(1, 32);
    c.uninit = true;
    et_run(m, "k", args, &r, 1, c);
    for (uint32_t l = 0; l < 32; l++) {
        assert_int_equal(out[l][0], 0x11111111u);
        assert_int_equal(out[l][1], 1); /* any, not all, not uniform */
        assert_int_equal(out[l][2], 31 * 32 / 2);
        assert_int_equal(out[l][3], 3);
        assert_int_equal(out[l][4], 0xffu << (8 * (l / 8)));
        assert_int_equal(out[l][5], 0);
        assert_int_equal(out[l][6], l == 0);
        if (l < 20) {
            assert_int_equal(out[l][7], 0x11111u);
            assert_int_equal(out[l][8], 31);
            assert_int_equal(out[l][9], 0); /* not all lanes < 20 are 0 mod 4 */
        } else {
            assert_int_equal(out[l][7], 0);
        }
    }
    emu_module_free(m);
}

/* ---- atomics ---------------------------------------------------------------------- */

static const char *const atom_ptx = HEADER
    ".visible .entry k(.param .u64 g)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<16>;\n  .reg .b64 %rd<8>;\n  .reg .f32 %f<4>;\n"
    "  .shared .align 4 .u32 counter;\n"
    "  ld.param.u64 %rd1, [g];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  mov.u32 %r2, %ctaid.x;\n"
    "  setp.eq.u32 %p1, %r1, 0;\n"
    "  @%p1 st.shared.u32 [counter], 0;\n"
    "  bar.sync 0;\n"
    "  atom.shared.add.u32 %r3, [counter], 1;\n"
    "  atom.global.add.u32 %r4, [%rd1], 1;\n"
    "  red.global.add.u64 [%rd1+8], 3;\n"
    "  atom.global.max.s32 %r5, [%rd1+16], %r1;\n"
    "  neg.s32 %r6, %r1;\n"
    "  atom.global.min.s32 %r5, [%rd1+20], %r6;\n"
    "  atom.global.inc.u32 %r5, [%rd1+24], 9;\n"
    "  atom.global.or.b32 %r5, [%rd1+28], %r1;\n"
    "  cvt.rn.f32.u32 %f1, %r1;\n"
    "  atom.global.add.f32 %f2, [%rd1+32], %f1;\n"
    "  atom.global.exch.b32 %r5, [%rd1+36], %r1;\n"
    "  mov.u32 %r7, 0x3c003c00;\n"
    "  atom.global.add.noftz.f16x2 %r5, [%rd1+40], %r7;\n"
    /* a CAS lock-free increment */
    "RETRY:\n"
    "  ld.global.u32 %r8, [%rd1+44];\n"
    "  add.s32 %r9, %r8, 2;\n"
    "  atom.global.cas.b32 %r10, [%rd1+44], %r8, %r9;\n"
    "  setp.ne.s32 %p1, %r10, %r8;\n"
    "  @%p1 bra RETRY;\n"
    "  bar.sync 0;\n"
    "  ld.shared.u32 %r11, [counter];\n"
    "  mul.wide.u32 %rd2, %r2, 4;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  setp.eq.u32 %p1, %r1, 0;\n"
    "  @%p1 st.global.u32 [%rd3+64], %r11;\n"
    "  ret;\n"
    "}\n";

static void test_atomics(void **state)
{
    EmuModule *m = et_load(atom_ptx);
    for (int threads = 1; threads <= 2; threads++) {
        uint32_t g[16 + 64];
        memset(g, 0, sizeof g);
        g[5] = 0; /* min starts at 0 */
        void *p = g;
        void *args[] = {&p};
        EmuRegion r = {g, sizeof g, true};
        EtConfig c = ET_CONFIG(48, 96);
        c.host_threads = threads;
        et_run(m, "k", args, &r, 1, c);
        unsigned n = 48 * 96;
        assert_int_equal(g[0], n);
        uint64_t red;
        memcpy(&red, &g[2], 8);
        assert_int_equal(red, 3ull * n);
        assert_int_equal(g[4], 95);
        assert_int_equal((int32_t)g[5], -95);
        assert_int_equal(g[6], n % 10); /* inc wraps to 0 past 9 */
        assert_int_equal(g[7], 127);
        float f;
        memcpy(&f, &g[8], 4);
        assert_true(f == 48.0f * 95 * 96 / 2);
        assert_true(g[9] < 96);
        /* 4608 additions of 1.0 in f16: exact up to 2048, then by 2 (ties to even stick) */
        assert_int_equal(g[10] & 0xffff, 0x6800);
        assert_int_equal(g[11], 2 * n);
        for (int b = 0; b < 48; b++)
            assert_int_equal(g[16 + b], 96);
    }
    emu_module_free(m);
}

/* ---- memory spaces ------------------------------------------------------------------ */

static const char *const spaces_ptx = HEADER
    ".global .align 4 .u32 gcount = 5;\n"
    ".const .align 4 .b32 table[4] = {10, 20, 30, 40};\n"
    ".extern .shared .align 16 .b8 dyn[];\n"
    ".visible .entry k(.param .u64 out, .param .align 8 .b8 pk[16])\n"
    "{\n"
    "  .local .align 8 .b8 depot[32];\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<24>;\n  .reg .b64 %rd<16>;\n  .reg .f32 %f<4>;\n"
    "  .shared .align 16 .b8 st[256];\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  ld.param.v2.u32 {%r20, %r21}, [pk];\n"
    "  ld.param.u64 %rd9, [pk+8];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  mul.wide.u32 %rd2, %r1, 64;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    /* local memory through generic pointers, as nvcc emits it */
    "  mov.u64 %rd4, depot;\n"
    "  cvta.local.u64 %rd5, %rd4;\n"
    "  add.s32 %r2, %r1, 1;\n"
    "  st.u32 [%rd5+4], %r2;\n"
    "  st.local.u32 [%rd4+8], %r1;\n"
    "  ld.local.u32 %r3, [depot+4];\n"
    "  ld.u32 %r4, [%rd5+8];\n"
    /* const table and a global variable */
    "  and.b32 %r5, %r1, 3;\n"
    "  mul.wide.u32 %rd6, %r5, 4;\n"
    "  mov.u64 %rd7, table;\n"
    "  add.s64 %rd7, %rd7, %rd6;\n"
    "  ld.const.u32 %r6, [%rd7];\n"
    "  ld.global.u32 %r7, [gcount];\n"
    /* vector stores to static shared, vector loads back, through generic too */
    "  setp.lt.u32 %p1, %r1, 16;\n"
    "  @!%p1 bra NOVEC;\n"
    "  shl.b32 %r8, %r1, 4;\n"
    "  mov.u32 %r9, st;\n"
    "  add.s32 %r9, %r9, %r8;\n"
    "  st.shared.v4.b32 [%r9], {%r1, %r2, %r3, %r4};\n"
    "NOVEC:\n"
    "  bar.sync 0;\n"
    "  and.b32 %r10, %r1, 15;\n"
    "  shl.b32 %r10, %r10, 4;\n"
    "  mov.u32 %r9, st;\n"
    "  add.s32 %r9, %r9, %r10;\n"
    "  ld.shared.v2.u32 {%r11, %r12}, [%r9+8];\n"
    "  cvt.u64.u32 %rd8, %r9;\n"
    "  cvta.shared.u64 %rd8, %rd8;\n"
    "  ld.u32 %r13, [%rd8+4];\n"
    "  isspacep.shared %p1, %rd8;\n"
    "  selp.u32 %r14, 1, 0, %p1;\n"
    /* dynamic shared memory */
    "  mov.u32 %r15, dyn;\n"
    "  shl.b32 %r16, %r1, 2;\n"
    "  add.s32 %r15, %r15, %r16;\n"
    "  st.shared.u32 [%r15], %r2;\n"
    "  ld.shared.u32 %r17, [%r15];\n"
    "  mov.u32 %r18, %dynamic_smem_size;\n"
    "  st.global.v4.u32 [%rd3], {%r3, %r4, %r6, %r7};\n"
    "  st.global.v4.u32 [%rd3+16], {%r11, %r12, %r13, %r14};\n"
    "  st.global.v4.u32 [%rd3+32], {%r17, %r18, %r20, %r21};\n"
    "  st.global.u64 [%rd3+48], %rd9;\n"
    "  setp.eq.u32 %p1, %r1, 0;\n"
    "  @%p1 st.global.u32 [gcount], 9;\n"
    "  ret;\n"
    "}\n";

static void test_memory_spaces(void **state)
{
    EmuModule *m = et_load(spaces_ptx);
    EmuKernelInfo ki;
    StrBuf err;
    sb_init(&err);
    assert_int_equal(emu_kernel_info(m, "k", &ki, &err), 0);
    assert_int_equal(ki.nparams, 2);
    assert_int_equal(ki.params[1].size, 16);
    assert_int_equal(ki.params[1].align, 8);
    assert_int_equal(ki.params[1].offset, 8);
    assert_int_equal(ki.static_smem, 256);
    assert_int_equal(ki.local_bytes, 32);
    uint32_t out[64][16];
    struct {
        uint32_t a, b;
        uint64_t c;
    } pk = {11, 22, 0x1234567890ull};
    void *p = out;
    void *args[] = {&p, &pk};
    EmuRegion r = {out, sizeof out, true};
    for (int launch = 0; launch < 2; launch++) {
        EtConfig c = ET_CONFIG(1, 64);
        c.dyn_smem = 256;
        c.uninit = true;
        et_run(m, "k", args, &r, 1, c);
        for (uint32_t t = 0; t < 64; t++) {
            uint32_t *o = out[t];
            assert_int_equal(o[0], t + 1);
            assert_int_equal(o[1], t);
            assert_int_equal(o[2], 10 * ((t & 3) + 1));
            assert_int_equal(o[3], launch ? 9 : 5); /* the module variable persists */
            uint32_t s = t & 15;
            /* thread s stored {s, s+1, s+1, s}; words 2, 3 and 1 are read back */
            assert_int_equal(o[4], s + 1);
            assert_int_equal(o[5], s);
            assert_int_equal(o[6], s + 1);
            assert_int_equal(o[7], 1);
            assert_int_equal(o[8], t + 1);
            assert_int_equal(o[9], 256);
            assert_int_equal(o[10], 11);
            assert_int_equal(o[11], 22);
            uint64_t v;
            memcpy(&v, &o[12], 8);
            assert_int_equal(v, 0x1234567890ull);
        }
    }
    sb_free(&err);
    emu_module_free(m);
}

/* ---- address arithmetic ----------------------------------------------------------- */

/* [reg+imm] is computed at the register's width: with a 32-bit shared
 * address it wraps at 2^32. LLVM 19 emits such code (a base that is
 * "negative" for some threads plus a larger immediate, found by fuzz-diff:
 * tests/programs/diffgen/shared_offset_wrap.tsr) and ptxas 13 folds
 * `mov.u32 %r, -96; st.shared.u32 [%r+772]` into STS [0x2a4]. Thread t
 * stores t + 1 at dyn + 4 t through base dyn + 4 t - 96 and offset 96, and
 * reads its neighbour's word back through a 64-bit generic address with a
 * negative offset. A store whose wrapped address is outside the window is
 * still a fault. */
static const char *const wrap_ptx = HEADER
    ".extern .shared .align 16 .b8 dyn[];\n"
    ".visible .entry k(.param .u64 out, .param .u32 bad)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<12>;\n  .reg .b64 %rd<8>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  ld.param.u32 %r9, [bad];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  add.s32 %r2, %r1, 1;\n"
    "  shl.b32 %r3, %r1, 2;\n"
    "  mov.u32 %r4, dyn;\n"
    "  add.s32 %r5, %r4, %r3;\n"
    "  add.s32 %r6, %r5, -96;\n"
    "  st.shared.u32 [%r6+96], %r2;\n"
    "  bar.sync 0;\n"
    "  setp.ne.u32 %p1, %r9, 0;\n"
    "  @%p1 st.shared.u32 [%r6+4096], %r2;\n"
    "  xor.b32 %r7, %r1, 1;\n"
    "  shl.b32 %r7, %r7, 2;\n"
    "  add.s32 %r7, %r4, %r7;\n"
    "  cvt.u64.u32 %rd2, %r7;\n"
    "  cvta.shared.u64 %rd2, %rd2;\n"
    "  add.s64 %rd3, %rd2, 8;\n"
    "  ld.u32 %r8, [%rd3+-8];\n"
    "  mul.wide.u32 %rd4, %r1, 4;\n"
    "  add.s64 %rd5, %rd1, %rd4;\n"
    "  st.global.u32 [%rd5], %r8;\n"
    "  ret;\n"
    "}\n";

static void test_address_wrap(void **state)
{
    EmuModule *m = et_load(wrap_ptx);
    uint32_t out[64];
    memset(out, 0, sizeof out);
    void *p = out;
    uint32_t bad = 0;
    void *args[] = {&p, &bad};
    EmuRegion r = {out, sizeof out, true};
    EtConfig c = ET_CONFIG(1, 64);
    c.dyn_smem = 256;
    c.races = true;
    c.uninit = true;
    et_run(m, "k", args, &r, 1, c);
    for (uint32_t t = 0; t < 64; t++)
        assert_int_equal(out[t], (t ^ 1) + 1);
    bad = 1;
    et_run_fails(m, "k", args, &r, 1, c, "out-of-bounds shared write", NULL);
    emu_module_free(m);
}

/* ---- cp.async --------------------------------------------------------------------- */

/* Thread t copies 16 bytes from src + 16 t (only t % 16 of them for odd t:
 * the rest is zero-filled) into shared memory, reads the destination before
 * waiting (it must still hold what was there: 0x55 bytes), waits, reads again. */
static const char *const cp_async_ptx = HEADER
    ".visible .entry k(.param .u64 src, .param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<16>;\n  .reg .b64 %rd<8>;\n"
    "  .shared .align 16 .b8 sm[1024];\n"
    "  ld.param.u64 %rd1, [src];\n"
    "  ld.param.u64 %rd2, [out];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  shl.b32 %r2, %r1, 4;\n"
    "  mov.u32 %r3, sm;\n"
    "  add.s32 %r3, %r3, %r2;\n"
    "  st.shared.v4.u32 [%r3], {0x55555555, 0x55555555, 0x55555555, 0x55555555};\n"
    "  cvt.u64.u32 %rd3, %r2;\n"
    "  add.s64 %rd4, %rd1, %rd3;\n"
    "  and.b32 %r4, %r1, 1;\n"
    "  setp.eq.s32 %p1, %r4, 0;\n"
    "  and.b32 %r5, %r1, 15;\n"
    "  selp.u32 %r5, 16, %r5, %p1;\n"
    "  cp.async.cg.shared.global [%r3], [%rd4], 16, %r5;\n"
    "  cp.async.commit_group;\n"
    "  ld.shared.u32 %r6, [%r3];\n"
    "  cp.async.wait_group 0;\n"
    "  ld.shared.v4.u32 {%r7, %r8, %r9, %r10}, [%r3];\n"
    "  mul.wide.u32 %rd5, %r1, 20;\n"
    "  add.s64 %rd6, %rd2, %rd5;\n"
    "  st.global.u32 [%rd6], %r6;\n"
    "  st.global.u32 [%rd6+4], %r7;\n"
    "  st.global.u32 [%rd6+8], %r8;\n"
    "  st.global.u32 [%rd6+12], %r9;\n"
    "  st.global.u32 [%rd6+16], %r10;\n"
    "  ret;\n"
    "}\n";

static void test_cp_async(void **state)
{
    EmuModule *m = et_load(cp_async_ptx);
    uint8_t src[64 * 16];
    for (int i = 0; i < (int)sizeof src; i++)
        src[i] = (uint8_t)(i * 7 + 1);
    uint32_t out[64][5];
    void *ps = src, *po = out;
    void *args[] = {&ps, &po};
    EmuRegion r[] = {{src, sizeof src, false}, {out, sizeof out, true}};
    et_run(m, "k", args, r, 2, ET_CONFIG(1, 64));
    for (int t = 0; t < 64; t++) {
        assert_int_equal(out[t][0], 0x55555555u); /* before the wait: the old contents */
        int n = (t & 1) ? t % 16 : 16;
        uint8_t want[16] = {0};
        memcpy(want, src + 16 * t, (size_t)n);
        assert_memory_equal(&out[t][1], want, 16);
    }
    emu_module_free(m);
}

/* Two groups: wait_group 1 completes the first only; wait_all the rest; the
 * ignore-src form zero-fills. */
static const char *const cp_groups_ptx = HEADER
    ".visible .entry k(.param .u64 src, .param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<16>;\n  .reg .b64 %rd<8>;\n"
    "  .shared .align 16 .b8 sm[64];\n"
    "  ld.param.u64 %rd1, [src];\n"
    "  ld.param.u64 %rd2, [out];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  setp.ne.u32 %p1, %r1, 0;\n"
    "  @%p1 bra END;\n"
    "  st.shared.v4.u32 [sm], {1, 1, 1, 1};\n"
    "  st.shared.v4.u32 [sm+16], {2, 2, 2, 2};\n"
    "  st.shared.v4.u32 [sm+32], {3, 3, 3, 3};\n"
    "  cp.async.ca.shared.global [sm], [%rd1], 8;\n"
    "  cp.async.commit_group;\n"
    "  cp.async.ca.shared.global [sm+16], [%rd1+16], 4;\n"
    "  cp.async.commit_group;\n"
    "  setp.eq.u32 %p1, %r1, 0;\n"
    "  cp.async.cg.shared.global.L2::128B [sm+32], [%rd1+32], 16, %p1;\n"
    "  cp.async.wait_group 1;\n"
    "  ld.shared.v2.u32 {%r2, %r3}, [sm];\n"
    "  ld.shared.u32 %r4, [sm+16];\n"
    "  cp.async.wait_all;\n"
    "  ld.shared.u32 %r5, [sm+16];\n"
    "  ld.shared.u32 %r6, [sm+32];\n"
    "  st.global.v4.u32 [%rd2], {%r2, %r3, %r4, %r5};\n"
    "  st.global.u32 [%rd2+16], %r6;\n"
    "END:\n"
    "  ret;\n"
    "}\n";

static void test_cp_async_groups(void **state)
{
    EmuModule *m = et_load(cp_groups_ptx);
    uint32_t src[16];
    for (int i = 0; i < 16; i++)
        src[i] = 100 + (uint32_t)i;
    uint32_t out[5] = {0};
    void *ps = src, *po = out;
    void *args[] = {&ps, &po};
    EmuRegion r[] = {{src, sizeof src, false}, {out, sizeof out, true}};
    et_run(m, "k", args, r, 2, ET_CONFIG(1, 32));
    assert_int_equal(out[0], 100);
    assert_int_equal(out[1], 101);
    assert_int_equal(out[2], 2);   /* second group not waited for yet */
    assert_int_equal(out[3], 104);
    assert_int_equal(out[4], 0);   /* ignore-src: zero-filled */
    emu_module_free(m);
}

/* ---- special registers ------------------------------------------------------------- */

static const char *const sreg_ptx = HEADER
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .b32 %r<20>;\n  .reg .b64 %rd<4>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  mov.u32 %r1, %tid.x;\n  mov.u32 %r2, %tid.y;\n  mov.u32 %r3, %tid.z;\n"
    "  mov.u32 %r4, %ctaid.x;\n  mov.u32 %r5, %ctaid.y;\n  mov.u32 %r6, %ctaid.z;\n"
    "  mov.u32 %r7, %ntid.x;\n  mov.u32 %r8, %ntid.y;\n  mov.u32 %r9, %nctaid.x;\n"
    "  mov.u32 %r10, %nctaid.y;\n  mov.u32 %r11, %laneid;\n  mov.u32 %r12, %warpid;\n"
    "  mov.u32 %r13, %lanemask_lt;\n"
    /* linear index: ((ctaid.z*ny + ctaid.y)*nx + ctaid.x)*64 + (tid.z*ntid.y + tid.y)*ntid.x + tid.x */
    "  mad.lo.s32 %r14, %r6, %r10, %r5;\n"
    "  mad.lo.s32 %r14, %r14, %r9, %r4;\n"
    "  mad.lo.s32 %r15, %r3, %r8, %r2;\n"
    "  mad.lo.s32 %r15, %r15, %r7, %r1;\n"
    "  mad.lo.s32 %r16, %r14, 64, %r15;\n"
    "  mul.wide.u32 %rd2, %r16, 16;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  st.global.v4.u32 [%rd3], {%r15, %r11, %r12, %r13};\n"
    "  ret;\n"
    "}\n";

static void test_special_registers(void **state)
{
    EmuModule *m = et_load(sreg_ptx);
    enum { N = 2 * 3 * 2 * 64 };
    uint32_t (*out)[4] = calloc(N, sizeof *out);
    void *p = out;
    void *args[] = {&p};
    EmuRegion r = {out, sizeof(uint32_t[4]) * N, true};
    EtConfig c = {.grid = {2, 3, 2}, .block = {8, 4, 2}};
    et_run(m, "k", args, &r, 1, c);
    for (int i = 0; i < N; i++) {
        int t = i % 64;
        assert_int_equal(out[i][0], t);
        assert_int_equal(out[i][1], t % 32);
        assert_int_equal(out[i][2], t / 32);
        assert_int_equal(out[i][3], (1u << (t % 32)) - 1);
    }
    free(out);
    emu_module_free(m);
}

/* Clocks advance; fences, hints and prefetches are accepted and change nothing. */
static const char *const misc_ptx = HEADER
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<8>;\n  .reg .b64 %rd<6>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  mov.u32 %r1, %clock;\n"
    "  mov.u64 %rd2, %clock64;\n"
    "  membar.gl;\n  fence.acq_rel.gpu;\n  fence.sc.cta;\n  fence.proxy.async.shared::cta;\n"
    "  nanosleep.u32 100;\n  prefetch.global.L2::evict_last [%rd1];\n"
    "  griddepcontrol.wait;\n  griddepcontrol.launch_dependents;\n"
    "  bar.warp.sync -1;\n"
    "  mov.u32 %r2, %clock;\n"
    "  mov.u64 %rd3, %clock64;\n"
    "  sub.s32 %r3, %r2, %r1;\n"
    "  sub.s64 %rd4, %rd3, %rd2;\n"
    "  cvt.u32.u64 %r4, %rd4;\n"
    "  mov.u32 %r5, %tid.x;\n"
    "  setp.eq.u32 %p1, %r5, 0;\n"
    "  @%p1 st.global.v2.u32 [%rd1], {%r3, %r4};\n"
    "  ret;\n"
    "}\n";

static void test_clocks_and_fences(void **state)
{
    EmuModule *m = et_load(misc_ptx);
    uint32_t out[2] = {0, 0};
    void *p = out;
    void *args[] = {&p};
    EmuRegion r = {out, sizeof out, true};
    et_run(m, "k", args, &r, 1, ET_CONFIG(1, 32));
    assert_true(out[0] > 0 && out[0] < 1000);
    assert_true(out[1] > 0 && out[1] < 1000);
    emu_module_free(m);
}

/* The same grid on one and on two host threads gives the same results and
 * the same instruction counts. */
static void test_host_threads(void **state)
{
    EmuModule *m = et_load(sreg_ptx);
    enum { N = 2 * 3 * 2 * 64 };
    uint32_t (*a)[4] = calloc(N, sizeof *a), (*b)[4] = calloc(N, sizeof *b);
    EmuStats sa, sb;
    void *pa = a, *pb = b;
    void *args_a[] = {&pa}, *args_b[] = {&pb};
    EmuRegion ra = {a, sizeof(uint32_t[4]) * N, true}, rb = {b, sizeof(uint32_t[4]) * N, true};
    EtConfig c = {.grid = {2, 3, 2}, .block = {8, 4, 2}};
    assert_int_equal(et_launch(m, "k", args_a, &ra, 1, c, NULL, &sa), 0);
    c.host_threads = 2;
    assert_int_equal(et_launch(m, "k", args_b, &rb, 1, c, NULL, &sb), 0);
    assert_memory_equal(a, b, sizeof(uint32_t[4]) * N);
    assert_int_equal(sa.warp_insns, sb.warp_insns);
    assert_int_equal(sa.thread_insns, sb.thread_insns);
    assert_int_equal(sa.ctas, 12);
    assert_int_equal(sb.ctas, 12);
    free(a);
    free(b);
    emu_module_free(m);
}

/* ---- function calls ---------------------------------------------------------------- */

/* nvcc's calling sequence: .param variables of the caller, st.param, call,
 * ld.param. twice(x) calls add1 twice; clamp returns early from inside a
 * divergent branch; only odd threads call twice. */
static const char *const call_ptx = HEADER
    ".func (.param .b32 add1_ret) add1(.param .b32 add1_x)\n"
    "{\n"
    "  .reg .b32 %r<3>;\n"
    "  ld.param.u32 %r1, [add1_x];\n"
    "  add.s32 %r2, %r1, 1;\n"
    "  st.param.b32 [add1_ret], %r2;\n"
    "  ret;\n"
    "}\n"
    ".func (.param .b32 twice_ret) twice(.param .b32 twice_x)\n"
    "{\n"
    "  .reg .b32 %r<4>;\n"
    "  ld.param.u32 %r1, [twice_x];\n"
    "  {\n"
    "  .param .b32 p0;\n  .param .b32 r0;\n"
    "  st.param.b32 [p0], %r1;\n"
    "  call.uni (r0), add1, (p0);\n"
    "  ld.param.b32 %r2, [r0];\n"
    "  }\n"
    "  {\n"
    "  .param .b32 p0;\n  .param .b32 r0;\n"
    "  st.param.b32 [p0], %r2;\n"
    "  call.uni (r0), add1, (p0);\n"
    "  ld.param.b32 %r3, [r0];\n"
    "  }\n"
    "  st.param.b32 [twice_ret], %r3;\n"
    "  ret;\n"
    "}\n"
    ".func (.param .b32 clamp_ret) clamp(.param .b32 clamp_x)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<3>;\n"
    "  ld.param.u32 %r1, [clamp_x];\n"
    "  setp.gt.u32 %p1, %r1, 20;\n"
    "  @!%p1 bra SMALL;\n"
    "  st.param.b32 [clamp_ret], 20;\n"
    "  ret;\n"
    "SMALL:\n"
    "  activemask.b32 %r2;\n"
    "  st.param.b32 [clamp_ret], %r2;\n"
    "  ret;\n"
    "}\n"
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<10>;\n  .reg .b64 %rd<4>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  mul.wide.u32 %rd2, %r1, 16;\n  add.s64 %rd3, %rd1, %rd2;\n"
    "  mov.u32 %r2, 0;\n"
    "  and.b32 %r3, %r1, 1;\n  setp.eq.u32 %p1, %r3, 1;\n"
    "  {\n"
    "  .param .b32 a0;\n  .param .b32 r0;\n"
    "  st.param.b32 [a0], %r1;\n"
    "  @%p1 call.uni (r0), twice, (a0);\n"
    "  @%p1 ld.param.b32 %r2, [r0];\n"
    "  }\n"
    "  activemask.b32 %r4;\n"
    "  {\n"
    "  .param .b32 a0;\n  .param .b32 r0;\n"
    "  st.param.b32 [a0], %r1;\n"
    "  call.uni (r0), clamp, (a0);\n"
    "  ld.param.b32 %r5, [r0];\n"
    "  }\n"
    "  st.global.v2.u32 [%rd3], {%r2, %r4};\n"
    "  st.global.u32 [%rd3+8], %r5;\n"
    "  ret;\n"
    "}\n";

static void test_calls(void **state)
{
    EmuModule *m = et_load(call_ptx);
    uint32_t out[32][4];
    void *p = out;
    void *args[] = {&p};
    EmuRegion r = {out, sizeof out, true};
    EtConfig c = ET_CONFIG(1, 32);
    c.uninit = true;
    et_run(m, "k", args, &r, 1, c);
    for (int t = 0; t < 32; t++) {
        assert_int_equal(out[t][0], (t & 1) ? t + 2 : 0);
        assert_int_equal(out[t][1], 0xffffffffu); /* all lanes together again after the call */
        assert_int_equal(out[t][2], t > 20 ? 20u : 0x001fffffu); /* lanes 0..20 take the branch */
    }
    emu_module_free(m);
}

static const char *const recursive_ptx = HEADER
    ".func f(.param .b32 f_x)\n"
    "{\n"
    "  .param .b32 p0;\n"
    "  call.uni f, (p0);\n"
    "  ret;\n"
    "}\n"
    ".visible .entry k()\n"
    "{\n"
    "  .param .b32 p0;\n"
    "  call.uni f, (p0);\n"
    "  ret;\n"
    "}\n";

/* printf and assert as nvcc calls them */
static const char *const builtin_ptx = HEADER
    ".extern .func (.param .b32 func_retval0) vprintf(.param .b64 vprintf_param_0, "
    ".param .b64 vprintf_param_1);\n"
    ".extern .func __assertfail(.param .b64 m, .param .b64 f, .param .b32 l, .param .b64 fn, "
    ".param .b64 cs);\n"
    ".global .align 1 .b8 msg[7] = {120, 32, 62, 32, 48, 0};\n"
    ".global .align 1 .b8 file[5] = {97, 46, 99, 117, 0};\n"
    ".visible .entry k(.param .u32 fail)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<4>;\n  .reg .b64 %rd<4>;\n"
    "  ld.param.u32 %r1, [fail];\n"
    "  mov.u64 %rd1, msg;\n  cvta.global.u64 %rd1, %rd1;\n"
    "  mov.u64 %rd2, file;\n  cvta.global.u64 %rd2, %rd2;\n"
    "  { .param .b64 p0; .param .b64 p1; .param .b32 r0;\n"
    "  st.param.b64 [p0], %rd1;\n  st.param.b64 [p1], 0;\n"
    "  call.uni (r0), vprintf, (p0, p1);\n  ld.param.b32 %r2, [r0]; }\n"
    "  setp.ne.u32 %p1, %r1, 0;\n"
    "  @!%p1 bra DONE;\n"
    "  { .param .b64 a; .param .b64 b; .param .b32 c; .param .b64 d; .param .b64 e;\n"
    "  st.param.b64 [a], %rd1;\n  st.param.b64 [b], %rd2;\n  st.param.b32 [c], 42;\n"
    "  call.uni __assertfail, (a, b, c, d, e); }\n"
    "DONE:\n"
    "  ret;\n"
    "}\n";

static void test_call_errors_and_builtins(void **state)
{
    char *msg = et_load_error(recursive_ptx);
    assert_non_null(strstr(msg, "function 'f' is called recursively"));
    free(msg);
    EmuModule *m = et_load(builtin_ptx);
    uint32_t fail = 0;
    void *args[] = {&fail};
    et_run(m, "k", args, NULL, 0, ET_CONFIG(1, 32));
    fail = 1;
    et_run_fails(m, "k", args, NULL, 0, ET_CONFIG(1, 32), "assertion failed: x > 0 (a.cu:42)",
                 NULL);
    emu_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_divergence),       cmocka_unit_test(test_loops_and_exit),
        cmocka_unit_test(test_barriers),         cmocka_unit_test(test_exit_before_barrier),
        cmocka_unit_test(test_shfl),             cmocka_unit_test(test_vote_redux_match),
        cmocka_unit_test(test_atomics),          cmocka_unit_test(test_memory_spaces),
        cmocka_unit_test(test_cp_async),         cmocka_unit_test(test_cp_async_groups),
        cmocka_unit_test(test_special_registers), cmocka_unit_test(test_host_threads),
        cmocka_unit_test(test_calls),            cmocka_unit_test(test_call_errors_and_builtins),
        cmocka_unit_test(test_clocks_and_fences), cmocka_unit_test(test_address_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
