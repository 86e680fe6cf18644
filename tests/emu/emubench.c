/* Micro-benchmark of the PTX emulator: instructions per second on three
 * kernels that stand for what the compiler's tests run (`make emu-bench`):
 *   alu   scalar integer and float arithmetic in a loop with a divergent branch
 *   smem  shared-memory stores and loads between barriers, shuffles
 *   tile  a flash-attention-like inner loop: ldmatrix, mma.sync, shfl max,
 *         ex2, cvt to f16x2, fma
 *   wgmma a Hopper GEMM loop: fence, four chained m64n128k16 wgmma.mma_async
 *         from 128B-swizzled shared tiles, commit, wait, a rescale
 * each on one and on two host threads. Prints warp and thread instructions
 * per second; runtime/emu/README.md records the figures. Not a test. */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu/emu.h"

static const char *const alu_ptx =
    ".version 8.0\n.target sm_80\n.address_size 64\n"
    ".visible .entry alu(.param .u64 out, .param .u32 iters)\n"
    "{\n"
    "  .reg .pred %p<4>;\n  .reg .b32 %r<16>;\n  .reg .f32 %f<8>;\n  .reg .b64 %rd<4>;\n"
    "  ld.param.u64 %rd1, [out];\n  ld.param.u32 %r1, [iters];\n"
    "  mov.u32 %r2, %tid.x;\n  mov.u32 %r3, %ctaid.x;\n  mad.lo.s32 %r4, %r3, 128, %r2;\n"
    "  cvt.rn.f32.u32 %f1, %r4;\n  mov.f32 %f2, 0f3F800000;\n  mov.u32 %r5, 0;\n  mov.u32 %r6, %r4;\n"
    "LOOP:\n"
    "  fma.rn.f32 %f2, %f2, 0f3F7FFFFE, %f1;\n"
    "  mul.f32 %f3, %f2, 0f3A800000;\n"
    "  add.f32 %f1, %f1, %f3;\n"
    "  shl.b32 %r7, %r6, 3;\n"
    "  xor.b32 %r6, %r6, %r7;\n"
    "  shr.u32 %r8, %r6, 5;\n"
    "  xor.b32 %r6, %r6, %r8;\n"
    "  and.b32 %r9, %r6, 7;\n"
    "  setp.eq.s32 %p1, %r9, 0;\n"
    "  @%p1 bra SKIP;\n"
    "  add.s32 %r10, %r6, %r5;\n"
    "  max.s32 %r6, %r10, %r6;\n"
    "SKIP:\n"
    "  add.s32 %r5, %r5, 1;\n"
    "  setp.lt.u32 %p2, %r5, %r1;\n"
    "  @%p2 bra LOOP;\n"
    "  mul.wide.u32 %rd2, %r4, 8;\n  add.s64 %rd3, %rd1, %rd2;\n"
    "  mov.b32 %r11, %f2;\n  st.global.v2.u32 [%rd3], {%r11, %r6};\n"
    "  ret;\n"
    "}\n";

static const char *const smem_ptx =
    ".version 8.0\n.target sm_80\n.address_size 64\n"
    ".visible .entry smem(.param .u64 out, .param .u32 iters)\n"
    "{\n"
    "  .reg .pred %p<4>;\n  .reg .b32 %r<16>;\n  .reg .f32 %f<8>;\n  .reg .b64 %rd<4>;\n"
    "  .shared .align 16 .b8 buf[2048];\n"
    "  ld.param.u64 %rd1, [out];\n  ld.param.u32 %r1, [iters];\n"
    "  mov.u32 %r2, %tid.x;\n  shl.b32 %r3, %r2, 2;\n  mov.u32 %r4, buf;\n  add.s32 %r5, %r4, %r3;\n"
    "  xor.b32 %r6, %r3, 256;\n  add.s32 %r6, %r4, %r6;\n"
    "  cvt.rn.f32.u32 %f1, %r2;\n  mov.u32 %r7, 0;\n"
    "LOOP:\n"
    "  st.shared.f32 [%r5], %f1;\n"
    "  bar.sync 0;\n"
    "  ld.shared.f32 %f2, [%r6];\n"
    "  shfl.sync.bfly.b32 %f3, %f2, 1, 31, -1;\n"
    "  add.f32 %f1, %f2, %f3;\n"
    "  mul.f32 %f1, %f1, 0f3F000000;\n"
    "  bar.sync 0;\n"
    "  add.s32 %r7, %r7, 1;\n"
    "  setp.lt.u32 %p1, %r7, %r1;\n"
    "  @%p1 bra LOOP;\n"
    "  mov.u32 %r8, %ctaid.x;\n  mad.lo.s32 %r9, %r8, 128, %r2;\n"
    "  mul.wide.u32 %rd2, %r9, 4;\n  add.s64 %rd3, %rd1, %rd2;\n  st.global.f32 [%rd3], %f1;\n"
    "  ret;\n"
    "}\n";

static const char *const tile_ptx =
    ".version 8.0\n.target sm_80\n.address_size 64\n"
    ".visible .entry tile(.param .u64 out, .param .u32 iters)\n"
    "{\n"
    "  .reg .pred %p<4>;\n  .reg .b32 %r<40>;\n  .reg .f32 %f<40>;\n  .reg .b64 %rd<4>;\n"
    "  .shared .align 16 .b8 sa[4096];\n"
    "  ld.param.u64 %rd1, [out];\n  ld.param.u32 %r1, [iters];\n"
    "  mov.u32 %r2, %tid.x;\n  and.b32 %r3, %r2, 31;\n"
    /* fill shared memory with f16 values */
    "  shl.b32 %r4, %r2, 4;\n  mov.u32 %r5, sa;\n  add.s32 %r6, %r5, %r4;\n"
    "  mov.u32 %r7, 0x3c003800;\n"
    "  st.shared.v4.u32 [%r6], {%r7, %r7, %r7, %r7};\n"
    "  add.s32 %r6, %r6, 2048;\n  st.shared.v4.u32 [%r6], {%r7, %r7, %r7, %r7};\n"
    "  bar.sync 0;\n"
    "  shl.b32 %r8, %r3, 4;\n  add.s32 %r9, %r5, %r8;\n"
    "  mov.f32 %f1, 0f00000000;\n  mov.f32 %f2, 0f00000000;\n  mov.f32 %f3, 0f00000000;\n"
    "  mov.f32 %f4, 0f00000000;\n  mov.f32 %f20, 0f00000000;\n  mov.u32 %r10, 0;\n"
    "LOOP:\n"
    "  ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r11, %r12, %r13, %r14}, [%r9];\n"
    "  ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%r15, %r16}, [%r9+512];\n"
    "  mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%f1, %f2, %f3, %f4}, "
    "{%r11, %r12, %r13, %r14}, {%r15, %r16}, {%f1, %f2, %f3, %f4};\n"
    "  ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%r17, %r18}, [%r9+1024];\n"
    "  mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%f5, %f6, %f7, %f8}, "
    "{%r11, %r12, %r13, %r14}, {%r17, %r18}, {%f1, %f2, %f3, %f4};\n"
    "  max.f32 %f9, %f5, %f6;\n"
    "  shfl.sync.bfly.b32 %f10, %f9, 1, 31, -1;\n"
    "  max.f32 %f9, %f9, %f10;\n"
    "  shfl.sync.bfly.b32 %f10, %f9, 2, 31, -1;\n"
    "  max.f32 %f9, %f9, %f10;\n"
    "  sub.f32 %f11, %f5, %f9;\n  sub.f32 %f12, %f6, %f9;\n"
    "  mul.f32 %f11, %f11, 0f3FB8AA3B;\n  mul.f32 %f12, %f12, 0f3FB8AA3B;\n"
    "  ex2.approx.ftz.f32 %f13, %f11;\n  ex2.approx.ftz.f32 %f14, %f12;\n"
    "  cvt.rn.f16x2.f32 %r19, %f14, %f13;\n"
    "  add.f32 %f15, %f13, %f14;\n"
    "  fma.rn.f32 %f20, %f20, 0f3F7FF000, %f15;\n"
    "  mul.f32 %f1, %f1, 0f3F000000;\n  mul.f32 %f2, %f2, 0f3F000000;\n"
    "  mul.f32 %f3, %f3, 0f3F000000;\n  mul.f32 %f4, %f4, 0f3F000000;\n"
    "  add.s32 %r10, %r10, 1;\n"
    "  setp.lt.u32 %p1, %r10, %r1;\n"
    "  @%p1 bra LOOP;\n"
    "  mov.u32 %r20, %ctaid.x;\n  mad.lo.s32 %r21, %r20, 128, %r2;\n"
    "  mul.wide.u32 %rd2, %r21, 8;\n  add.s64 %rd3, %rd1, %rd2;\n"
    "  mov.b32 %r22, %f20;\n  st.global.v2.u32 [%rd3], {%r22, %r19};\n"
    "  ret;\n"
    "}\n";

#define ACC "%f0, %f1, %f2, %f3, %f4, %f5, %f6, %f7, %f8, %f9, %f10, %f11, %f12, %f13, %f14, %f15, %f16, %f17, %f18, %f19, %f20, %f21, %f22, %f23, %f24, %f25, %f26, %f27, %f28, %f29, %f30, %f31, %f32, %f33, %f34, %f35, %f36, %f37, %f38, %f39, %f40, %f41, %f42, %f43, %f44, %f45, %f46, %f47, %f48, %f49, %f50, %f51, %f52, %f53, %f54, %f55, %f56, %f57, %f58, %f59, %f60, %f61, %f62, %f63"
#define WG4 \
    "  add.s64 %rd2, %rd5, 0;\n  add.s64 %rd3, %rd6, 0;\n" \
    "  wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" ACC "}, %rd2, %rd3, 0, 1, 1, 0, 0;\n" \
    "  add.s64 %rd2, %rd5, 2;\n  add.s64 %rd3, %rd6, 2;\n" \
    "  wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" ACC "}, %rd2, %rd3, 1, 1, 1, 0, 0;\n" \
    "  add.s64 %rd2, %rd5, 4;\n  add.s64 %rd3, %rd6, 4;\n" \
    "  wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" ACC "}, %rd2, %rd3, 1, 1, 1, 0, 0;\n" \
    "  add.s64 %rd2, %rd5, 6;\n  add.s64 %rd3, %rd6, 6;\n" \
    "  wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" ACC "}, %rd2, %rd3, 1, 1, 1, 0, 0;\n"

static const char *const wgmma_ptx =
    ".version 8.0\n.target sm_90a\n.address_size 64\n"
    ".visible .entry wgmma(.param .u64 out, .param .u32 iters)\n"
    "{\n"
    "  .reg .pred %p<4>;\n  .reg .b32 %r<40>;\n  .reg .f32 %f<70>;\n  .reg .b64 %rd<8>;\n"
    "  .shared .align 1024 .b8 sm[24576];\n"
    "  ld.param.u64 %rd1, [out];\n  ld.param.u32 %r1, [iters];\n"
    "  mov.u32 %r2, %tid.x;\n  mov.u32 %r5, sm;\n  mov.u32 %r7, 0x3c003800;\n  mov.u32 %r10, 0;\n"
    /* fill A (64 rows of 128 B) and B (128 rows of 128 B) with f16 0.5 and 1 */
    "FILL:\n"
    "  mad.lo.s32 %r4, %r10, 128, %r2;\n  shl.b32 %r4, %r4, 4;\n  add.s32 %r6, %r5, %r4;\n"
    "  st.shared.v4.u32 [%r6], {%r7, %r7, %r7, %r7};\n"
    "  add.s32 %r10, %r10, 1;\n  setp.lt.u32 %p1, %r10, 12;\n  @%p1 bra FILL;\n"
    "  fence.proxy.async.shared::cta;\n  bar.sync 0;\n"
    "  shr.u32 %r8, %r5, 4;\n  cvt.u64.u32 %rd4, %r8;\n"
    "  mov.b64 %rd5, 0x4000004000010000;\n  add.s64 %rd5, %rd5, %rd4;\n"
    "  add.s64 %rd6, %rd5, 512;\n  mov.u32 %r10, 0;\n"
    "LOOP:\n"
    "  wgmma.fence.sync.aligned;\n"
    WG4
    "  wgmma.commit_group.sync.aligned;\n  wgmma.wait_group.sync.aligned 0;\n"
    "  mul.f32 %f0, %f0, 0f3D000000;\n  mul.f32 %f63, %f63, 0f3D000000;\n"
    "  add.s32 %r10, %r10, 1;\n  setp.lt.u32 %p1, %r10, %r1;\n  @%p1 bra LOOP;\n"
    "  mov.u32 %r20, %ctaid.x;\n  mad.lo.s32 %r21, %r20, 128, %r2;\n"
    "  mul.wide.u32 %rd2, %r21, 8;\n  add.s64 %rd3, %rd1, %rd2;\n"
    "  mov.b32 %r22, %f0;\n  mov.b32 %r23, %f63;\n  st.global.v2.u32 [%rd3], {%r22, %r23};\n"
    "  ret;\n"
    "}\n";

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bench(const char *name, const char *ptx, unsigned ctas, unsigned iters, int threads,
                 double *cpu_out)
{
    StrBuf err;
    sb_init(&err);
    EmuModule *m;
    if (emu_module_load(ptx, strlen(ptx), &m, &err)) {
        fprintf(stderr, "emubench: %s\n", err.data);
        return -1;
    }
    size_t n = (size_t)ctas * 128 * 8;
    void *out = calloc(n, 1);
    EmuRegion r = {out, n, true};
    EmuStats st;
    EmuLaunch L = {.grid = {ctas, 1, 1}, .block = {128, 1, 1}, .regions = &r, .nregions = 1,
                   .host_threads = threads, .stats = &st};
    void *args[] = {&out, &iters};
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    int rc = emu_launch(m, name, args, &L, &err);
    double wall = clock_s(CLOCK_MONOTONIC) - w0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    /* per CPU second (what one core does, whatever else the machine runs),
       and per wall second (what the host threads did together) */
    if (rc)
        fprintf(stderr, "emubench: %s\n", err.data);
    else
        printf("%-5s %d thread%s %7.1f M warp insns %8.1f M thread insns | cpu %5.2f s: "
               "%6.2f M warp, %6.1f M thread insns/s | wall %5.2f s: %6.2f M warp insns/s\n",
               name, threads, threads > 1 ? "s" : " ", st.warp_insns / 1e6, st.thread_insns / 1e6,
               cpu, st.warp_insns / cpu / 1e6, st.thread_insns / cpu / 1e6, wall,
               st.warp_insns / wall / 1e6);
    if (cpu_out)
        *cpu_out = cpu;
    free(out);
    sb_free(&err);
    emu_module_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    int rc = 0;
    for (int threads = 1; threads <= 2; threads++) {
        rc |= bench("alu", alu_ptx, 16, (unsigned)(2000 * scale), threads, NULL);
        rc |= bench("smem", smem_ptx, 16, (unsigned)(1000 * scale), threads, NULL);
        rc |= bench("tile", tile_ptx, 16, (unsigned)(200 * scale), threads, NULL);
        double cpu = 0;
        unsigned iters = (unsigned)(20 * scale);
        rc |= bench("wgmma", wgmma_ptx, 16, iters, threads, &cpu);
        /* per warpgroup instruction: 64 x 128 x 16 multiply-adds */
        double n = 16.0 * iters * 4;
        if (cpu > 0)
            printf("      %.0f wgmma.mma_async m64n128k16 per CPU second = %.2f emulated GFLOP/s\n",
                   n / cpu, n * 2 * 64 * 128 * 16 / cpu / 1e9);
    }
    return rc ? 1 : 0;
}
