/* Running out of memory in the PTX emulator (issue 17): with the n-th
 * allocation failing, for every n, loading PTX (tsr_module_load_ptx) and
 * launching on emu return TSR_ERR_OUT_OF_MEMORY with a message, leak
 * nothing, and the next call gives the same result as before. The launches
 * run with the race and uninitialized-register checks on, so their state is
 * allocated too: flash attention for sm_90a (wgmma, TMA, mbarriers) and
 * sm_80 (cp.async, mma.sync), and a hand-written kernel that grows the SIMT
 * stack past its first size, calls a function and stores through a bulk
 * group; each on one host thread and on two (a failure in one stops the
 * other). Failures are injected by tests/oom/track.c. */
#define _POSIX_C_SOURCE 200809L
#include "tessera.h"
#include "oom/track.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static tsr_context *new_context(const char *target, int host_threads)
{
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_EMU;
    o.cache = TSR_CACHE_OFF;
    o.host_threads = host_threads;
    o.flags = TSR_EMU_CHECK_RACES | TSR_EMU_CHECK_UNINIT;
    o.target = target;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    return ctx;
}

/* One call under test; it writes what it computed to out (out_bytes). */
typedef struct {
    tsr_status (*call)(void *arg);
    void *arg;
    const void *out;
    size_t out_bytes;
} Action;

/* Runs a once to count its allocations and keep its result, then with each
 * allocation failing in turn: TSR_ERR_OUT_OF_MEMORY naming memory, nothing
 * leaked; then once more, which must give the first result. With several
 * host threads the allocations interleave, so the n-th may come after the
 * last one a failed call makes (then the call may succeed). */
static void each_allocation_fails(tsr_context *ctx, const char *what, const Action *a)
{
    oom_track_arm(0);
    tsr_status s = a->call(a->arg);
    long used = oom_track_disarm();
    if (s != TSR_OK)
        fail_msg("%s: %s (%s)", what, tsr_status_name(s), tsr_context_error(ctx));
    print_message("%s: %ld allocations\n", what, used);
    assert_true(used > 3);
    void *want = malloc(a->out_bytes + 1);
    memcpy(want, a->out, a->out_bytes);
    for (long n = 1; n <= used; n++) {
        long before = oom_track_live();
        oom_track_arm(n);
        s = a->call(a->arg);
        long made = oom_track_disarm();
        if (made >= n && (s != TSR_ERR_OUT_OF_MEMORY || !strstr(tsr_context_error(ctx), "memory")))
            fail_msg("%s, allocation %ld of %ld failing: %s (%s)", what, n, used, tsr_status_name(s),
                     tsr_context_error(ctx));
        if (oom_track_live() != before)
            fail_msg("%s, allocation %ld of %ld failing: %ld blocks leaked", what, n, used,
                     oom_track_live() - before);
    }
    memset((void *)a->out, 0, a->out_bytes);
    s = a->call(a->arg);
    if (s != TSR_OK)
        fail_msg("%s after the failures: %s (%s)", what, tsr_status_name(s), tsr_context_error(ctx));
    assert_memory_equal(want, a->out, a->out_bytes);
    free(want);
}

/* ---- flash attention -------------------------------------------------------- */

enum { SQ = 24, SK = 40, HD = 64 };

typedef struct {
    tsr_context *ctx;
    DLTensor q, k, v, o, lse;
    int64_t qs[4], ks[4], ls[3];
} Attn;

static void attn_tensor(Attn *a, DLTensor *t, int64_t *shape, int ndim, int bits, size_t elems)
{
    void *p;
    assert_int_equal(tsr_malloc(a->ctx, elems * (size_t)bits / 8, &p), TSR_OK);
    *t = (DLTensor){ p, { kDLCPU, 0 }, ndim, { kDLFloat, (uint8_t)bits, 1 }, shape, NULL, 0 };
    if (bits == 16) { /* small halves of a fixed pattern */
        uint16_t *h = p;
        for (size_t i = 0; i < elems; i++)
            h[i] = (uint16_t)(0x3000 + (i * 37 % 0x800));
    }
}

static tsr_status attn_call(void *arg)
{
    Attn *a = arg;
    return tsr_attention_forward(a->ctx, &a->q, &a->k, &a->v, &a->o, &a->lse, 0.125f, 1, NULL);
}

static void attention_on(const char *target, int host_threads)
{
    Attn a;
    a.ctx = new_context(target, host_threads);
    int64_t qs[4] = { 1, 2, SQ, HD }, ks[4] = { 1, 1, SK, HD }, ls[3] = { 1, 2, SQ };
    memcpy(a.qs, qs, sizeof qs);
    memcpy(a.ks, ks, sizeof ks);
    memcpy(a.ls, ls, sizeof ls);
    attn_tensor(&a, &a.q, a.qs, 4, 16, 2 * SQ * HD);
    attn_tensor(&a, &a.k, a.ks, 4, 16, SK * HD);
    attn_tensor(&a, &a.v, a.ks, 4, 16, SK * HD);
    attn_tensor(&a, &a.o, a.qs, 4, 16, 2 * SQ * HD);
    attn_tensor(&a, &a.lse, a.ls, 3, 32, 2 * SQ);
    /* the first call compiles the kernel (not under test here) */
    if (attn_call(&a) != TSR_OK)
        fail_msg("attention on %s: %s", target, tsr_context_error(a.ctx));
    char what[64];
    snprintf(what, sizeof what, "attention %s, %d host thread%s", target, host_threads, host_threads > 1 ? "s" : "");
    Action act = { attn_call, &a, a.o.data, 2 * SQ * HD * 2 };
    each_allocation_fails(a.ctx, what, &act);
    tsr_context_destroy(a.ctx);
}

static void attention_sm90a(void **state)
{
    (void)state;
    attention_on("sm_90a", 1);
    attention_on("sm_90a", 2);
}

static void attention_sm80(void **state)
{
    (void)state;
    attention_on("sm_80", 1);
}

/* ---- a hand-written kernel ------------------------------------------------------ */

enum { LEVELS = 20 }; /* nested divergent branches: deeper than the SIMT stack's first 16 */

/* Each lane t of one warp: LEVELS nested branches that let lanes t > i
 * through level i, each joining again below, give f(t) = 2t + 1 (t < LEVELS)
 * or 2 * LEVELS; twice() doubles it (a call); the lane stores it to tile[t]
 * (4 bytes), cp.async copies src word t to tile[32 + t], and thread 0 stores
 * the 256-byte tile to dst by a bulk copy. */
static char *deep_ptx(void)
{
    static char buf[16384];
    size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(buf + n, sizeof buf - n, __VA_ARGS__))
    PUT(".version 8.0\n.target sm_90a\n.address_size 64\n"
        ".func (.param .b32 r) twice(.param .b32 a)\n{\n.reg .b32 %%t<3>;\n"
        "ld.param.b32 %%t1, [a];\nadd.s32 %%t2, %%t1, %%t1;\nst.param.b32 [r], %%t2;\nret;\n}\n"
        ".visible .entry deep(.param .u64 src, .param .u64 dst)\n{\n"
        ".reg .b32 %%r<10>;\n.reg .b64 %%rd<10>;\n.reg .pred %%p<4>;\n"
        ".shared .align 128 .b8 tile[256];\n"
        "ld.param.u64 %%rd1, [src];\nld.param.u64 %%rd2, [dst];\n"
        "mov.u32 %%r1, %%tid.x;\nmov.u32 %%r2, 0;\n");
    for (int i = 0; i < LEVELS; i++)
        PUT("setp.le.u32 %%p1, %%r1, %d;\n@%%p1 bra $E%d;\nadd.s32 %%r2, %%r2, 1;\n", i, i);
    for (int i = LEVELS - 1; i >= 0; i--)
        PUT("$E%d:\nadd.s32 %%r2, %%r2, 1;\n", i);
    PUT("{\n.param .b32 pa;\n.param .b32 pr;\nst.param.b32 [pa], %%r2;\n"
        "call (pr), twice, (pa);\nld.param.b32 %%r3, [pr];\n}\n"
        "mov.u32 %%r4, tile;\nshl.b32 %%r5, %%r1, 2;\nadd.s32 %%r6, %%r4, %%r5;\n"
        "st.shared.u32 [%%r6], %%r3;\n"
        "cvt.u64.u32 %%rd3, %%r5;\nadd.s64 %%rd4, %%rd1, %%rd3;\nadd.s32 %%r7, %%r6, 128;\n"
        "cp.async.ca.shared.global [%%r7], [%%rd4], 4;\ncp.async.commit_group;\ncp.async.wait_group 0;\n"
        "fence.proxy.async.shared::cta;\nbar.sync 0;\nsetp.eq.u32 %%p2, %%r1, 0;\n"
        "@%%p2 cp.async.bulk.global.shared::cta.bulk_group [%%rd2], [%%r4], 256;\n"
        "@%%p2 cp.async.bulk.commit_group;\n@%%p2 cp.async.bulk.wait_group 0;\nret;\n}\n");
#undef PUT
    assert_true(n < sizeof buf);
    return buf;
}

static const tsr_ptx_param_kind deep_params[2] = { TSR_PTX_TENSOR_IN, TSR_PTX_TENSOR_OUT };
static const tsr_ptx_kernel deep_decl = { "deep", deep_params, 2 };

typedef struct {
    tsr_context *ctx;
    const char *ptx;
    tsr_module *m;
} Load;

static tsr_status load_call(void *arg)
{
    Load *l = arg;
    tsr_status s = tsr_module_load_ptx(l->ctx, l->ptx, strlen(l->ptx), &deep_decl, 1, &l->m);
    if (s == TSR_OK)
        tsr_module_destroy(l->m);
    return s;
}

static void load_ptx(void **state)
{
    (void)state;
    tsr_context *ctx = new_context(NULL, 1);
    Load l = { ctx, deep_ptx(), NULL };
    static const char nothing[1];
    Action act = { load_call, &l, nothing, 0 };
    each_allocation_fails(ctx, "tsr_module_load_ptx", &act);
    tsr_context_destroy(ctx);
}

typedef struct {
    tsr_kernel *k;
    DLTensor src, dst;
    int64_t shape[1];
} Deep;

static tsr_status deep_call(void *arg)
{
    Deep *d = arg;
    tsr_ptx_arg args[2] = { { .tensor = &d->src }, { .tensor = &d->dst } };
    tsr_launch_dims dims = { { 1, 1, 1 }, { 32, 1, 1 }, 0 };
    return tsr_kernel_launch_ptx(d->k, &dims, args, 2, NULL);
}

static void deep_kernel(void **state)
{
    (void)state;
    tsr_context *ctx = new_context(NULL, 1);
    const char *ptx = deep_ptx();
    tsr_module *m;
    assert_int_equal(tsr_module_load_ptx(ctx, ptx, strlen(ptx), &deep_decl, 1, &m), TSR_OK);
    Deep d;
    assert_int_equal(tsr_module_get_kernel(m, "deep", &d.k), TSR_OK);
    d.shape[0] = 256;
    void *src, *dst;
    assert_int_equal(tsr_malloc(ctx, 256, &src), TSR_OK);
    assert_int_equal(tsr_malloc(ctx, 256, &dst), TSR_OK);
    for (int i = 0; i < 256; i++)
        ((uint8_t *)src)[i] = (uint8_t)(i * 5 + 3);
    d.src = (DLTensor){ src, { kDLCPU, 0 }, 1, { kDLUInt, 8, 1 }, d.shape, NULL, 0 };
    d.dst = d.src;
    d.dst.data = dst;
    Action act = { deep_call, &d, dst, 256 };
    each_allocation_fails(ctx, "a kernel with calls, deep divergence and bulk copies", &act);
    /* the oracle of the first run (compared by each_allocation_fails) */
    for (unsigned t = 0; t < 32; t++) {
        uint32_t want = 2 * (t < LEVELS ? 2 * t + 1 : 2 * LEVELS), got;
        memcpy(&got, (uint8_t *)dst + 4 * t, 4);
        assert_int_equal(got, want);
    }
    assert_memory_equal((uint8_t *)dst + 128, src, 128);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_ptx),
        cmocka_unit_test(deep_kernel),
        cmocka_unit_test(attention_sm90a),
        cmocka_unit_test(attention_sm80),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
