/* What the emulator catches that a GPU would let pass or report vaguely:
 * out-of-bounds and misaligned accesses (with kernel, line, thread and
 * address in the message), writes to read-only buffers, reads of registers
 * never written and of shared memory never written, shared-memory races (and their absence where barriers order
 * the accesses), reads of cp.async destinations before the wait, deadlocks,
 * divergent collectives, runaway loops, trap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "emu/emu_test.h"

#define HEADER ".version 8.0\n.target sm_80\n.address_size 64\n"

/* out[tid + off] = tid, for a given offset */
static const char *const store_ptx = HEADER
    ".visible .entry store(.param .u64 out, .param .u32 off)\n"
    "{\n"
    "  .reg .b32 %r<4>;\n  .reg .b64 %rd<4>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  ld.param.u32 %r2, [off];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  add.s32 %r3, %r1, %r2;\n"
    "  mul.wide.s32 %rd2, %r3, 4;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  st.global.u32 [%rd3], %r1;\n"
    "  ret;\n"
    "}\n"
    ".visible .entry load(.param .u64 in, .param .u64 out, .param .u32 off)\n"
    "{\n"
    "  .reg .b32 %r<4>;\n  .reg .b64 %rd<6>;\n"
    "  ld.param.u64 %rd1, [in];\n"
    "  ld.param.u64 %rd4, [out];\n"
    "  ld.param.u32 %r2, [off];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  cvt.u64.u32 %rd2, %r2;\n"
    "  add.s64 %rd3, %rd1, %rd2;\n"
    "  ld.global.u32 %r3, [%rd3];\n"
    "  st.global.u32 [%rd4], %r3;\n"
    "  ret;\n"
    "}\n";

static void test_global_bounds(void **state)
{
    EmuModule *m = et_load(store_ptx);
    uint32_t buf[64];
    void *p = buf;
    int off = 0;
    void *args[] = {&p, &off};
    EmuRegion r = {buf, sizeof buf, true};
    et_run(m, "store", args, &r, 1, ET_CONFIG(1, 64));
    off = 1; /* thread 63 writes one element past the end */
    et_run_fails(m, "store", args, &r, 1, ET_CONFIG(1, 64), "kernel 'store'", "line 14",
                 "st.global.u32", "out-of-bounds global write of 4 bytes",
                 "0 bytes past the end of buffer", "tid (63,0,0)", "ctaid (0,0,0)", NULL);
    off = -1;
    et_run_fails(m, "store", args, &r, 1, ET_CONFIG(1, 64), "tid (0,0,0)", "4 bytes before",
                 NULL);
    EmuRegion ro = {buf, sizeof buf, false};
    off = 0;
    et_run_fails(m, "store", args, &ro, 1, ET_CONFIG(1, 64), "read-only", NULL);
    /* overlapping regions: read-only as a whole, writable in its second half */
    EmuRegion both[] = {{buf, sizeof buf, false}, {buf + 32, sizeof buf / 2, true}};
    off = 32;
    et_run(m, "store", args, both, 2, ET_CONFIG(1, 32));
    off = 31;
    et_run_fails(m, "store", args, both, 2, ET_CONFIG(1, 32), "read-only", "tid (0,0,0)", NULL);
    uint32_t out = 0;
    void *pi = buf, *po = &out;
    void *args2[] = {&pi, &po, &off};
    EmuRegion r2[] = {{buf, sizeof buf, false}, {&out, 4, true}};
    off = 2;
    et_run_fails(m, "load", args2, r2, 2, ET_CONFIG(1, 1), "misaligned global read of 4 bytes",
                 NULL);
    off = 256;
    et_run_fails(m, "load", args2, r2, 2, ET_CONFIG(1, 1), "out-of-bounds global read", NULL);
    emu_module_free(m);
}

/* With line information (.file/.loc, as `tessera compile --line-info` and
 * nvcc -lineinfo write it) a report names the source line too. */
static const char *const shared_ptx = HEADER
    ".file 1 \"k.tsr\"\n"
    ".visible .entry k(.param .u32 off)\n"
    "{\n"
    "  .reg .b32 %r<4>;\n"
    "  .shared .align 4 .b8 sm[128];\n"
    "  .loc 1 5 3\n"
    "  ld.param.u32 %r1, [off];\n"
    "  mov.u32 %r2, sm;\n"
    "  add.s32 %r2, %r2, %r1;\n"
    "  .loc 1 7 12\n"
    "  st.shared.u32 [%r2], 1;\n"
    "  ret;\n"
    "}\n";

static void test_shared_bounds(void **state)
{
    EmuModule *m = et_load(shared_ptx);
    uint32_t off = 124;
    void *args[] = {&off};
    et_run(m, "k", args, NULL, 0, ET_CONFIG(1, 1));
    off = 128;
    et_run_fails(m, "k", args, NULL, 0, ET_CONFIG(1, 1), "out-of-bounds shared write",
                 "offset 0x80", "128 bytes of shared memory", "(st.shared.u32), source line 7:", NULL);
    EtConfig c = ET_CONFIG(1, 1);
    c.dyn_smem = 64; /* dynamic shared memory widens the window */
    et_run(m, "k", args, NULL, 0, c);
    emu_module_free(m);
}

static const char *const uninit_ptx = HEADER
    ".visible .entry k(.param .u64 out)\n"
    "{\n"
    "  .reg .pred %p<3>;\n  .reg .b32 %r<6>;\n  .reg .b64 %rd<2>;\n  .reg .b16 %rs<3>;\n"
    "  ld.param.u64 %rd1, [out];\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  setp.lt.u32 %p1, %r1, 5;\n"
    "  @%p1 mov.u32 %r2, 7;\n"
    /* packing a never-written half is not a use; storing the packed value is */
    "  mov.b32 %r4, {%rs1, %rs2};\n"
    "  mov.b32 {%rs1, _}, %r1;\n"
    "  add.s32 %r3, %r2, 1;\n"
    "  st.global.u32 [%rd1], %r3;\n"
    "  ret;\n"
    "}\n";

static void test_uninitialized(void **state)
{
    EmuModule *m = et_load(uninit_ptx);
    uint32_t out;
    void *p = &out;
    void *args[] = {&p};
    EmuRegion r = {&out, 4, true};
    EtConfig c = ET_CONFIG(1, 32);
    c.uninit = true;
    et_run_fails(m, "k", args, &r, 1, c, "line 16", "add.s32",
                 "read of register %r2, which was never written", "tid (5,0,0)", NULL);
    c.block[0] = 5; /* all lanes write %r2 */
    et_run(m, "k", args, &r, 1, c);
    c.block[0] = 32;
    c.uninit = false; /* the check is switchable */
    et_run(m, "k", args, &r, 1, c);
    emu_module_free(m);
}

/* Shared memory no instruction has written since the block began: thread t
 * stores word t of a buffer of n (t < n), then every thread reads word
 * t + shift (ld.shared), and ldmatrix reads the 8 rows of 16 bytes at the
 * buffer's start. */
static const char *const smem_uninit_ptx = HEADER
    ".visible .entry k(.param .u64 out, .param .u32 n, .param .u32 shift)\n"
    "{\n"
    "  .reg .pred %p<3>;\n  .reg .b32 %r<12>;\n  .reg .b64 %rd<4>;\n"
    "  .shared .align 16 .b8 buf[256];\n"
    "  ld.param.u64 %rd1, [out];\n  ld.param.u32 %r2, [n];\n  ld.param.u32 %r3, [shift];\n"
    "  mov.u32 %r1, %tid.x;\n  mov.u32 %r4, buf;\n"
    "  shl.b32 %r5, %r1, 2;\n  add.u32 %r6, %r4, %r5;\n"
    "  setp.lt.u32 %p1, %r1, %r2;\n"
    "  @%p1 st.shared.u32 [%r6], %r1;\n"
    "  bar.sync 0;\n"
    "  setp.eq.u32 %p2, %r3, 99;\n"
    "  @%p2 bra $lm;\n"
    "  add.u32 %r7, %r1, %r3;\n  and.b32 %r7, %r7, 63;\n  shl.b32 %r7, %r7, 2;\n  add.u32 %r7, %r4, %r7;\n"
    "  ld.shared.u32 %r8, [%r7];\n"
    "  st.global.u32 [%rd1], %r8;\n"
    "  ret;\n"
    "$lm:\n"
    "  and.b32 %r9, %r1, 7;\n  shl.b32 %r9, %r9, 4;\n  add.u32 %r9, %r4, %r9;\n"
    "  ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%r10}, [%r9];\n"
    "  st.global.u32 [%rd1], %r10;\n"
    "  ret;\n"
    "}\n";

static void test_uninit_shared(void **state)
{
    EmuModule *m = et_load(smem_uninit_ptx);
    uint32_t out, n = 32, shift = 0;
    void *p = &out;
    void *args[] = {&p, &n, &shift};
    EmuRegion r = {&out, 4, true};
    EtConfig c = ET_CONFIG(1, 32);
    c.uninit = true;
    et_run(m, "k", args, &r, 1, c); /* each thread reads the word it wrote */
    shift = 1;
    n = 20; /* word 20 is read by thread 19 and never written */
    et_run_fails(m, "k", args, &r, 1, c, "(ld.shared.u32): reads shared memory at offset 0x50, which nothing has "
                 "written since the block began (uninitialised)", "tid (19,0,0)", NULL);
    shift = 99; /* ldmatrix: rows 0-7, 16 bytes each = words 0-31 */
    n = 32;
    et_run(m, "k", args, &r, 1, c);
    n = 30;
    et_run_fails(m, "k", args, &r, 1, c, "ldmatrix", "reads shared memory at offset 0x78", NULL);
    c.uninit = false; /* the check is switchable */
    et_run(m, "k", args, &r, 1, c);
    emu_module_free(m);
}

/* Packed halves (issue 11): LLVM packs a written f16 with a never-written
 * one and takes the written half back out; "never written" is tracked per
 * byte through moves, packs and unpacks, so using the written half is not
 * reported, while using the other half, or the packed value itself, is. */
#define PACKED_KERNEL(name, use)                                                                  \
    ".visible .entry " name "(.param .u64 out)\n{\n"                                              \
    "  .reg .b16 %rs<6>;\n  .reg .b32 %r<6>;\n  .reg .b64 %rd<4>;\n"                            \
    "  ld.param.u64 %rd1, [out];\n"                                                              \
    "  mov.u16 %rs1, 3;\n"                                                                       \
    "  mov.b32 %r1, {%rs1, %rs2};\n"                                                             \
    "  mov.b32 {%rs3, %rs4}, %r1;\n"                                                             \
    "  mov.b64 %rd2, {%r1, %r1};\n"                                                              \
    "  mov.b64 {%r4, %r5}, %rd2;\n"                                                              \
    "  mov.b32 {_, %rs5}, %r5;\n"                                                                \
    use "  ret;\n}\n"
static const char *const packed_ptx = HEADER
    PACKED_KERNEL("low_half", "  mov.b32 %r2, {%rs3, %rs3};\n  st.global.u32 [%rd1], %r2;\n")
    PACKED_KERNEL("high_half", "  mov.b32 %r2, {%rs3, %rs4};\n  st.global.u32 [%rd1], %r2;\n")
    PACKED_KERNEL("whole", "  add.s32 %r3, %r1, 1;\n  st.global.u32 [%rd1], %r3;\n")
    PACKED_KERNEL("unpacked", "  cvt.u32.u16 %r3, %rs4;\n  st.global.u32 [%rd1], %r3;\n")
    PACKED_KERNEL("through_b64", "  cvt.u32.u16 %r3, %rs5;\n  st.global.u32 [%rd1], %r3;\n");

static void test_uninit_packed(void **state)
{
    (void)state;
    EmuModule *m = et_load(packed_ptx);
    uint32_t out = 0;
    void *p = &out;
    void *args[] = {&p};
    EmuRegion r = {&out, 4, true};
    EtConfig c = ET_CONFIG(1, 32);
    c.uninit = true;
    et_run(m, "low_half", args, &r, 1, c);
    assert_int_equal(out, 3u | 3u << 16);
    et_run_fails(m, "high_half", args, &r, 1, c, "st.global.u32",
                 "read of register %r2, part of which was never written", NULL);
    et_run_fails(m, "whole", args, &r, 1, c, "add.s32",
                 "read of register %r1, part of which was never written", NULL);
    et_run_fails(m, "unpacked", args, &r, 1, c, "cvt.u32.u16",
                 "read of register %rs4, which was never written", NULL);
    et_run_fails(m, "through_b64", args, &r, 1, c, "cvt.u32.u16",
                 "read of register %rs5, which was never written", NULL);
    emu_module_free(m);
}

/* Thread t writes sm[t] and reads sm[t ^ x]; sync says whether a barrier
 * separates the two. With x = 32 the partner is in another warp. */
static const char *const race_ptx = HEADER
    ".visible .entry k(.param .u32 x, .param .u32 sync)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<10>;\n"
    "  .shared .align 4 .b8 sm[512];\n"
    "  ld.param.u32 %r1, [x];\n"
    "  ld.param.u32 %r2, [sync];\n"
    "  mov.u32 %r3, %tid.x;\n"
    "  shl.b32 %r4, %r3, 2;\n"
    "  mov.u32 %r5, sm;\n"
    "  add.s32 %r6, %r5, %r4;\n"
    "  st.shared.u32 [%r6], %r3;\n"
    "  setp.ne.u32 %p1, %r2, 0;\n"
    "  @%p1 bar.sync 0;\n"
    "  xor.b32 %r7, %r3, %r1;\n"
    "  shl.b32 %r7, %r7, 2;\n"
    "  add.s32 %r7, %r5, %r7;\n"
    "  ld.shared.u32 %r8, [%r7];\n"
    "  ret;\n"
    "}\n";

static void test_races(void **state)
{
    EmuModule *m = et_load(race_ptx);
    uint32_t x, sync;
    void *args[] = {&x, &sync};
    EtConfig c = ET_CONFIG(1, 64);
    c.races = true;
    x = 32, sync = 0;
    et_run_fails(m, "k", args, NULL, 0, c, "shared-memory race", "this write and a read by",
                 "line 21", "not ordered by a barrier", NULL);
    sync = 1;
    et_run(m, "k", args, NULL, 0, c);
    x = 1, sync = 0; /* the same warp: ordered by program order */
    et_run(m, "k", args, NULL, 0, c);
    c.races = false; /* off: the race goes unnoticed, as on a GPU */
    x = 32;
    et_run(m, "k", args, NULL, 0, c);
    emu_module_free(m);
}

/* A write after a read in another warp, and lanes of one instruction that
 * write different values to one word. */
static const char *const race2_ptx = HEADER
    ".visible .entry war(.param .u32 sync)\n"
    "{\n"
    "  .reg .pred %p<3>;\n  .reg .b32 %r<10>;\n"
    "  .shared .align 4 .b8 sm[64];\n"
    "  ld.param.u32 %r2, [sync];\n"
    "  mov.u32 %r3, %tid.x;\n"
    "  setp.eq.u32 %p1, %r3, 0;\n"
    "  @%p1 ld.shared.u32 %r4, [sm];\n"
    "  setp.ne.u32 %p2, %r2, 0;\n"
    "  @%p2 bar.sync 0;\n"
    "  setp.eq.u32 %p1, %r3, 32;\n"
    "  @%p1 st.shared.u32 [sm], 5;\n"
    "  ret;\n"
    "}\n"
    ".visible .entry same(.param .u32 diff)\n"
    "{\n"
    "  .reg .b32 %r<4>;\n"
    "  .shared .align 4 .b8 sm[64];\n"
    "  ld.param.u32 %r1, [diff];\n"
    "  mov.u32 %r2, %tid.x;\n"
    "  and.b32 %r3, %r2, %r1;\n"
    "  st.shared.u32 [sm+4], %r3;\n"
    "  ret;\n"
    "}\n";

static void test_races_more(void **state)
{
    EmuModule *m = et_load(race2_ptx);
    uint32_t sync = 0;
    void *args[] = {&sync};
    EtConfig c = ET_CONFIG(1, 64);
    c.races = true;
    et_run_fails(m, "war", args, NULL, 0, c, "this write and a read by thread tid (0,0,0)", NULL);
    sync = 1;
    et_run(m, "war", args, NULL, 0, c);
    uint32_t diff = 0; /* every lane writes 0: no conflict */
    void *args2[] = {&diff};
    c.block[0] = 32;
    et_run(m, "same", args2, NULL, 0, c);
    diff = 1;
    et_run_fails(m, "same", args2, NULL, 0, c, "writes a different value to the same byte", NULL);
    emu_module_free(m);
}

/* Reading a cp.async destination before waiting for it. */
static const char *const cp_early_ptx = HEADER
    ".visible .entry k(.param .u64 src, .param .u32 wait)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<6>;\n  .reg .b64 %rd<2>;\n"
    "  .shared .align 16 .b8 sm[64];\n"
    "  ld.param.u64 %rd1, [src];\n"
    "  ld.param.u32 %r1, [wait];\n"
    "  cp.async.cg.shared.global [sm], [%rd1], 16;\n"
    "  cp.async.commit_group;\n"
    "  setp.ne.u32 %p1, %r1, 0;\n"
    "  @%p1 cp.async.wait_group 0;\n"
    "  ld.shared.u32 %r2, [sm+4];\n"
    "  ret;\n"
    "}\n";

static void test_cp_async_early_read(void **state)
{
    EmuModule *m = et_load(cp_early_ptx);
    uint8_t src[16] = {0};
    void *p = src;
    uint32_t wait = 0;
    void *args[] = {&p, &wait};
    EmuRegion r = {src, sizeof src, false};
    EtConfig c = ET_CONFIG(1, 1);
    c.races = true;
    et_run_fails(m, "k", args, &r, 1, c, "a cp.async (line 12) has not yet written",
                 "wait_group", NULL);
    wait = 1;
    et_run(m, "k", args, &r, 1, c);
    emu_module_free(m);
}

static const char *const deadlock_ptx = HEADER
    ".visible .entry named()\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<3>;\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  setp.lt.u32 %p1, %r1, 32;\n"
    "  @%p1 bar.sync 1, 96;\n"
    "  ret;\n"
    "}\n"
    ".visible .entry diverged()\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<3>;\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  setp.lt.u32 %p1, %r1, 16;\n"
    "  @%p1 bra SKIP;\n"
    "  bar.sync 0;\n"
    "SKIP:\n"
    "  ret;\n"
    "}\n"
    ".visible .entry counts()\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<3>;\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  setp.lt.u32 %p1, %r1, 32;\n"
    "  @%p1 bar.sync 2, 64;\n"
    "  @!%p1 bar.sync 2, 96;\n"
    "  ret;\n"
    "}\n";

static void test_deadlocks(void **state)
{
    EmuModule *m = et_load(deadlock_ptx);
    et_run_fails(m, "named", NULL, NULL, 0, ET_CONFIG(1, 64), "deadlock",
                 "warp 0 waits at barrier 1 (line 10", "1 of 3 warps arrived", NULL);
    et_run_fails(m, "diverged", NULL, NULL, 0, ET_CONFIG(1, 32), "diverged warp",
                 "active lanes 0xffff0000", NULL);
    et_run_fails(m, "counts", NULL, NULL, 0, ET_CONFIG(1, 64), "different thread counts",
                 NULL);
    emu_module_free(m);
}

static const char *const misc_ptx = HEADER
    ".visible .entry shfl_diverged()\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<3>;\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  setp.lt.u32 %p1, %r1, 8;\n"
    "  @%p1 bra SKIP;\n"
    "  shfl.sync.bfly.b32 %r2, %r1, 1, 31, -1;\n"
    "SKIP:\n"
    "  ret;\n"
    "}\n"
    ".visible .entry forever()\n"
    "{\n"
    "LOOP:\n"
    "  bra.uni LOOP;\n"
    "}\n"
    ".visible .entry boom()\n"
    "{\n"
    "  trap;\n"
    "}\n"
    ".visible .entry mma_partial()\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<12>;\n  .reg .f32 %f<8>;\n"
    "  mov.u32 %r1, %tid.x;\n"
    "  setp.lt.u32 %p1, %r1, 16;\n"
    "  @%p1 bra SKIP;\n"
    "  mov.b32 %r2, 0;\n  mov.f32 %f1, 0f00000000;\n"
    "  mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%f2, %f3, %f4, %f5}, "
    "{%r2, %r2, %r2, %r2}, {%r2, %r2}, {%f1, %f1, %f1, %f1};\n"
    "SKIP:\n"
    "  ret;\n"
    "}\n";

static void test_misc_errors(void **state)
{
    EmuModule *m = et_load(misc_ptx);
    et_run_fails(m, "shfl_diverged", NULL, NULL, 0, ET_CONFIG(1, 32), "membermask 0xffffffff",
                 "0x000000ff", NULL);
    EtConfig c = ET_CONFIG(2, 64);
    c.max_insns = 100000;
    et_run_fails(m, "forever", NULL, NULL, 0, c, "more than 100000 warp instructions", NULL);
    et_run_fails(m, "boom", NULL, NULL, 0, ET_CONFIG(1, 1), "trap executed", NULL);
    et_run_fails(m, "mma_partial", NULL, NULL, 0, ET_CONFIG(1, 32), "needs all 32 lanes", NULL);
    emu_module_free(m);
}

static void test_launch_errors(void **state)
{
    EmuModule *m = et_load(store_ptx);
    uint32_t buf[4];
    void *p = buf;
    int off = 0;
    void *args[] = {&p, &off};
    EmuRegion r = {buf, sizeof buf, true};
    et_run_fails(m, "nope", args, &r, 1, ET_CONFIG(1, 1), "no kernel named 'nope'", NULL);
    et_run_fails(m, "store", args, &r, 1, ET_CONFIG(1, 2048), "block of 2048", NULL);
    void *args1[] = {&p, NULL};
    et_run_fails(m, "store", args1, &r, 1, ET_CONFIG(1, 1), "no value for parameter 1 (off)",
                 NULL);
    EtConfig c = ET_CONFIG(1, 1);
    c.dyn_smem = 1 << 20;
    et_run_fails(m, "store", args, &r, 1, c, "shared memory", NULL);
    emu_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global_bounds),   cmocka_unit_test(test_shared_bounds),
        cmocka_unit_test(test_uninitialized),   cmocka_unit_test(test_uninit_packed),
        cmocka_unit_test(test_uninit_shared),   cmocka_unit_test(test_races),
        cmocka_unit_test(test_races_more),      cmocka_unit_test(test_cp_async_early_read),
        cmocka_unit_test(test_deadlocks),       cmocka_unit_test(test_misc_errors),
        cmocka_unit_test(test_launch_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
