/* The tensor-map fixture (see tma_fixture.h). */
#include "tma_fixture.h"
#include "jitcache.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

const char tma_fixture_src[] = "kernel tma_copy(A: f16[M, 64], B: out f16[M, 64]) grid (cdiv(M, 64)) warps 4 {\n"
                               "    let r = program_id(0) * 64;\n"
                               "    B[r : +64, :] = A[r : +64, :];\n"
                               "}\n";

const TmaRequest tma_fixture_request = { .param = 0, .rank = 2, .box = { 64, 64 }, .swizzle = TMA_SWIZZLE_128B };

/* The parameters are the ABI's (backend/abi.h): A's pointer and strides,
 * B's, M, then the map. Thread 0 starts the box load (rows ctaid*64..+64,
 * zero-filled past M) on an mbarrier expecting 8192 bytes; every thread
 * waits, then copies elements tid, tid+128, ... of the box from the
 * 128B-swizzled tile (16-byte chunk c of row r at chunk c ^ (r % 8)) to the
 * rows of B below M. */
static const char fixture_ptx[] =
    ".version 8.0\n.target sm_90a\n.address_size 64\n"
    ".extern .shared .align 1024 .b8 tsr_smem[];\n"
    ".visible .entry tma_copy(.param .u64 tma_copy_param_0, .param .u64 tma_copy_param_1,\n"
    "    .param .u64 tma_copy_param_2, .param .u64 tma_copy_param_3, .param .u64 tma_copy_param_4,\n"
    "    .param .u64 tma_copy_param_5, .param .u32 tma_copy_param_6, .param .align 64 .b8 tma_copy_param_7[128])\n"
    ".maxntid 128, 1, 1\n{\n"
    ".reg .b32 %r<30>;\n.reg .b64 %rd<20>;\n.reg .pred %p<5>;\n.reg .b16 %h<3>;\n"
    "mov.u32 %r1, %tid.x;\nmov.u32 %r2, %ctaid.x;\nmov.u32 %r3, tsr_smem;\nadd.u32 %r4, %r3, 8192;\n"
    "setp.eq.u32 %p1, %r1, 0;\n"
    "@%p1 mbarrier.init.shared::cta.b64 [%r4], 1;\n"
    "fence.mbarrier_init.release.cluster;\nbar.sync 0;\n"
    "mov.b64 %rd1, tma_copy_param_7;\ncvta.param.u64 %rd2, %rd1;\n"
    "shl.b32 %r5, %r2, 6;\nmov.u32 %r20, 0;\n"
    "@%p1 mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r4], 8192;\n"
    "@%p1 cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%r3], [%rd2, {%r20, %r5}], [%r4];\n"
    "WAIT:\nmbarrier.try_wait.parity.shared::cta.b64 %p2, [%r4], 0;\n@!%p2 bra WAIT;\n"
    "ld.param.u64 %rd3, [tma_copy_param_3];\nld.param.u64 %rd4, [tma_copy_param_4];\n"
    "ld.param.u32 %r6, [tma_copy_param_6];\nmov.u32 %r7, %r1;\n"
    "LOOP:\n"
    "shr.u32 %r8, %r7, 6;\nand.b32 %r9, %r7, 63;\nadd.u32 %r10, %r5, %r8;\n"
    "setp.lt.u32 %p3, %r10, %r6;\n"
    "shr.u32 %r11, %r9, 3;\nand.b32 %r12, %r8, 7;\nxor.b32 %r13, %r11, %r12;\nshl.b32 %r14, %r13, 4;\n"
    "and.b32 %r15, %r9, 7;\nshl.b32 %r16, %r15, 1;\nshl.b32 %r17, %r8, 7;\n"
    "add.u32 %r18, %r17, %r14;\nadd.u32 %r18, %r18, %r16;\nadd.u32 %r18, %r18, %r3;\n"
    "ld.shared.b16 %h1, [%r18];\n"
    "cvt.u64.u32 %rd5, %r10;\nmul.lo.u64 %rd6, %rd5, %rd4;\ncvt.u64.u32 %rd7, %r9;\nadd.u64 %rd8, %rd6, %rd7;\n"
    "shl.b64 %rd9, %rd8, 1;\nadd.u64 %rd10, %rd3, %rd9;\n"
    "@%p3 st.global.b16 [%rd10], %h1;\n"
    "add.u32 %r7, %r7, 128;\nsetp.lt.u32 %p4, %r7, 4096;\n@%p4 bra LOOP;\n"
    "ret;\n}\n";

void tma_fixture_install(const char *dir, const char *target, const TmaRequest *requests, int n)
{
    JitCache c;
    jit_cache_open(&c, TSR_CACHE_ON, dir);
    JitKeyInput in = { tma_fixture_src, strlen(tma_fixture_src), NULL, 0, "tma_copy", target, 0, 0, false, false, false, false, false };
    char key[65];
    jit_key(&in, key);
    JitEntry e = { (char *)fixture_ptx, 8192 + 8, 128, (TmaRequest *)(requests ? requests : &tma_fixture_request),
                   requests ? n : 1 };
    jit_cache_put(&c, key, &e);
    assert_int_equal(c.stats.writes, 1);
    jit_cache_close(&c);
}

void tma_fixture_data(TmaFixtureData *d, int64_t m, int64_t stride, void *a_mem, void *b_mem)
{
    memset(d, 0, sizeof *d);
    d->m = m;
    d->stride = stride;
    d->a = a_mem;
    d->b = b_mem;
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < 64; c++)
            d->a[r * stride + c] = (uint16_t)(0x3c00 + ((r * 64 + c) % 1024)); /* 1.0, 1.0009.. */
    for (int64_t i = 0; i < m * 64; i++)
        d->b[i] = 0x7e01;
    d->a_shape[0] = d->b_shape[0] = m;
    d->a_shape[1] = d->b_shape[1] = 64;
    d->a_strides[0] = stride;
    d->a_strides[1] = 1;
    DLDataType f16 = { kDLFloat, 16, 1 };
    d->ta = (DLTensor){ d->a, { kDLCPU, 0 }, 2, f16, d->a_shape, d->a_strides, 0 };
    d->tb = (DLTensor){ d->b, { kDLCPU, 0 }, 2, f16, d->b_shape, NULL, 0 };
}

int tma_fixture_mismatches(const TmaFixtureData *d, const uint16_t *b)
{
    int bad = 0;
    for (int64_t r = 0; r < d->m; r++)
        for (int64_t c = 0; c < 64; c++)
            if (b[r * 64 + c] != d->a[r * d->stride + c] && bad++ < 5)
                print_error("B[%lld][%lld] = 0x%04x, want 0x%04x\n", (long long)r, (long long)c, b[r * 64 + c],
                            d->a[r * d->stride + c]);
    return bad;
}
