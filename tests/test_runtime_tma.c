/* Tensor maps through the runtime on emu (runtime/README.md, "Tensor
 * maps"): which tensors TMA can take and the maps described for them; a
 * kernel whose variant takes a tensor map (tests/support/tma_fixture.h)
 * launched with maps the runtime encodes per launch; tensors TMA cannot
 * take routed to a variant without maps; cache entries whose maps do not fit
 * the kernel rebuilt. The cuda side (cuTensorMapEncodeTiled on the mock
 * driver) is in test_runtime_cuda. */
#include "rt.h"
#include "tensormap.h"
#include "testutil.h"
#include "tma_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

static void fit_and_describe(void **state)
{
    (void)state;
    static _Alignas(64) uint16_t mem[4096];
    HostTensor h = { mem, DT_F16, 3, { 5, 1, 64 }, { 96, 7, 1 } };
    TmaTensor t;
    assert_true(rt_tma_tensor(&h, &t));
    StrBuf why;
    sb_init(&why);
    assert_true(rt_tma_fit(&t, &why));
    int box[3] = { 64, 1, 4 };
    EmuTensorMapDesc d;
    rt_tma_describe(&t, box, TMA_SWIZZLE_128B, &d);
    assert_int_equal(d.rank, 3);
    assert_int_equal(d.dims[0], 64);
    assert_int_equal(d.dims[1], 1);
    assert_int_equal(d.dims[2], 5);
    assert_int_equal(d.strides[0], 128); /* a dim of one element: the dense stride, not 7 x 2 bytes */
    assert_int_equal(d.strides[1], 192);
    assert_int_equal(d.box[2], 4);
    assert_int_equal(d.swizzle, EMU_TMAP_SWIZZLE_128B);
    assert_int_equal(d.dtype, EMU_TMAP_F16);
    assert_true(rt_tma_check(&d, &why));
    static const struct {
        int64_t shape0, stride0;
        size_t offset;
        const char *why;
    } bad[] = {
        { 5, 36, 0, "dimension 0 has stride 36 elements" },  /* 72 bytes */
        { 5, 0, 0, "dimension 0 has stride 0 elements" },    /* broadcast */
        { 5, -64, 0, "dimension 0 has stride -64 elements" }, /* reversed */
        { 0, 64, 0, "dimension 0 has 0 elements" },
        { 5, 64, 8, "is not 16-byte aligned" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        HostTensor b = { (char *)mem + bad[i].offset, DT_F16, 2, { bad[i].shape0, 64 }, { bad[i].stride0, 1 } };
        sb_free(&why);
        sb_init(&why);
        assert_true(rt_tma_tensor(&b, &t));
        assert_false(rt_tma_fit(&t, &why));
        if (!strstr(why.data, bad[i].why))
            fail_msg("case %zu: %s", i, why.data);
    }
    /* A box the rules refuse is reported with the rule. */
    HostTensor ok2 = { mem, DT_F16, 2, { 5, 64 }, { 64, 1 } };
    int wide[2] = { 128, 8 };
    assert_true(rt_tma_tensor(&ok2, &t));
    rt_tma_describe(&t, wide, TMA_SWIZZLE_128B, &d);
    sb_free(&why);
    sb_init(&why);
    assert_false(rt_tma_check(&d, &why));
    assert_non_null(strstr(why.data, "exceeds the swizzle span of 128 bytes"));
    sb_free(&why);
}

static char cache_dir[64];

static tsr_context *emu_context(void)
{
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_EMU;
    o.cache = TSR_CACHE_ON;
    o.cache_dir = cache_dir;
    o.flags = TSR_EMU_CHECK_RACES | TSR_EMU_CHECK_UNINIT;
    o.host_threads = 1;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    return ctx;
}

static void fresh_cache(void)
{
    snprintf(cache_dir, sizeof cache_dir, "/tmp/tsr-tma-XXXXXX");
    assert_non_null(mkdtemp(cache_dir));
}

static void remove_cache(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_dir);
    assert_int_equal(system(cmd), 0);
}

static tsr_kernel *fixture_kernel(tsr_context *ctx, tsr_module **m)
{
    assert_int_equal(tsr_module_compile(ctx, tma_fixture_src, strlen(tma_fixture_src), NULL, m), TSR_OK);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(*m, NULL, &k), TSR_OK);
    return k;
}

/* Launches tma_copy with A of m rows of `stride` elements (at byte offset
 * `shift` of aligned memory) and checks B. */
static void copy_and_check(tsr_kernel *k, int64_t m, int64_t stride, size_t shift)
{
    int64_t rows = m ? m : 1, span = stride > 0 ? stride * rows : 64 - stride * (rows - 1);
    size_t abytes = (size_t)(span * 2 + 64 + 63) / 64 * 64, bbytes = (size_t)(rows * 128 + 64);
    char *amem = aligned_alloc(64, abytes), *bmem = aligned_alloc(64, bbytes);
    uint16_t *a = (uint16_t *)(amem + shift) + (stride < 0 ? -stride * (rows - 1) : 0);
    TmaFixtureData d;
    tma_fixture_data(&d, m, stride, a, bmem);
    tsr_arg args[2] = { { &d.ta, 0 }, { &d.tb, 0 } };
    if (tsr_kernel_launch_args(k, args, 2, NULL) != TSR_OK)
        fail_msg("launch (M %lld, stride %lld): %s", (long long)m, (long long)stride,
                 tsr_kernel_error(k));
    assert_int_equal(tma_fixture_mismatches(&d, d.b), 0);
    free(amem);
    free(bmem);
}

/* The fixture's aligned variant takes A's map: launched with tensors TMA
 * takes (the last block partly past M, zero-filled and not stored), its map
 * encoded by the runtime and read by the emulator's TMA. */
static void emu_launch_with_maps(void **state)
{
    (void)state;
    fresh_cache();
    tma_fixture_install(cache_dir, "sm_90a", NULL, 0);
    tsr_context *ctx = emu_context();
    tsr_module *m;
    tsr_kernel *k = fixture_kernel(ctx, &m);
    tsr_cache_stats st;
    tsr_context_cache_stats(ctx, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(k->var[VARIANT_ALIGNED].ntma, 1);
    assert_non_null(strstr(tsr_module_ir(m, NULL, TSR_IR_PTX), "cp.async.bulk.tensor.2d"));
    copy_and_check(k, 100, 64, 0);
    copy_and_check(k, 100, 64, 0); /* the same description again */
    copy_and_check(k, 64, 72, 16); /* padded rows, another pointer */
    copy_and_check(k, 1, 64, 0);
    tsr_context_cache_stats(ctx, &st);
    assert_int_equal(st.misses, 0); /* no other variant was needed */
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
    remove_cache();
}

/* Tensors TMA cannot take run the variant that accesses them element by
 * element, which Tessera compiles (it asks for no map): a broadcast row
 * (stride 0) and reversed rows, which 16-byte vectors could read, and rows
 * of 36 elements (72 bytes), which they cannot. */
static void emu_fallback_without_maps(void **state)
{
    (void)state;
    fresh_cache();
    tma_fixture_install(cache_dir, "sm_90a", NULL, 0);
    tsr_context *ctx = emu_context();
    tsr_module *m;
    tsr_kernel *k = fixture_kernel(ctx, &m);
    copy_and_check(k, 70, 0, 0);
    copy_and_check(k, 70, -64, 0);
    copy_and_check(k, 70, 36, 0);
    tsr_cache_stats st;
    tsr_context_cache_stats(ctx, &st);
    assert_int_equal(st.misses, 1); /* one variant, unaligned A, for all three */
    int with_maps = 0;
    for (int i = 0; i < MAX_VARIANTS; i++)
        with_maps += k->var[i].used && k->var[i].ntma > 0;
    assert_int_equal(with_maps, 1);
    copy_and_check(k, 100, 64, 0); /* back to the variant with the map */
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
    remove_cache();
}

/* An entry whose maps do not fit the kernel (a rank A does not have, a
 * scalar, an inner box of 8 bytes) is damage: counted, rebuilt by the
 * compiler (no maps), and the launch is right. */
static void emu_entry_with_bad_maps(void **state)
{
    (void)state;
    static const TmaRequest bad[] = {
        { 0, 1, { 64 }, TMA_SWIZZLE_NONE },
        { 2, 1, { 64 }, TMA_SWIZZLE_NONE },
        { 0, 2, { 4, 64 }, TMA_SWIZZLE_NONE },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fresh_cache();
        tma_fixture_install(cache_dir, "sm_90a", &bad[i], 1);
        tsr_context *ctx = emu_context();
        tsr_module *m;
        tsr_kernel *k = fixture_kernel(ctx, &m);
        tsr_cache_stats st;
        tsr_context_cache_stats(ctx, &st);
        assert_int_equal(st.hits, 0);
        assert_int_equal(st.corrupt, 1);
        assert_int_equal(k->var[VARIANT_ALIGNED].ntma, 0);
        copy_and_check(k, 100, 64, 0);
        tsr_module_destroy(m);
        tsr_context_destroy(ctx);
        remove_cache();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fit_and_describe),
        cmocka_unit_test(emu_launch_with_maps),
        cmocka_unit_test(emu_fallback_without_maps),
        cmocka_unit_test(emu_entry_with_bad_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
