/* PTX written elsewhere through the public API on emu (tessera.h, "PTX
 * written elsewhere"): nvcc's wgmma GEMMs of tests/emu/hopper_gemm.cu
 * loaded with tsr_module_load_ptx, one fed by TMA from maps of
 * tsr_tensor_map_encode, and CuTe's TMA-fed mbarrier pipeline of
 * tests/emu/cute_tma.cu (skipped without CUTLASS's headers), checked
 * against the host's product with the emulator's race and
 * uninitialized-register checks on; and every misuse a
 * status with a message: declarations that do not match the PTX, a missing
 * kernel, PTX that does not parse, no PTX on interp, maps that break the
 * rules, bytes that are not a map, a map copied to local memory by the
 * kernel, arguments of the wrong kind or range, bad block sizes, writes to
 * memory declared read-only, the two launch paths mixed up. The cuda side
 * (cuTensorMapEncodeTiled, a map of another device) is in
 * test_runtime_cuda. */
#include "hopper_gemm.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static tsr_context *context(tsr_device_kind kind)
{
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = kind;
    o.cache = TSR_CACHE_OFF;
    o.flags = TSR_EMU_CHECK_RACES | TSR_EMU_CHECK_UNINIT;
    o.host_threads = 1;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    return ctx;
}

#define EXPECT(call, status, text)                                                                                \
    do {                                                                                                          \
        tsr_status s_ = (call);                                                                                   \
        if (s_ != (status) || !strstr(tsr_context_error(ctx), (text)))                                            \
            fail_msg("%s: %s (%s), want %s with \"%s\"", #call, tsr_status_name(s_), tsr_context_error(ctx),      \
                     tsr_status_name(status), (text));                                                            \
    } while (0)

static DLTensor tensor2(void *data, int64_t *shape, DLDataType dt)
{
    return (DLTensor){ data, { kDLCPU, 0 }, 2, dt, shape, NULL, 0 };
}

static const DLDataType f16 = { kDLFloat, 16, 1 }, f32 = { kDLFloat, 32, 1 };

typedef struct {
    uint16_t *A, *Bt;
    float *D;
    int64_t a_shape[2], b_shape[2], d_shape[2];
    DLTensor a, b, d;
} Gemm;

static void gemm_new(Gemm *g)
{
    g->A = aligned_alloc(64, HG_ROWS * 64 * 2);
    g->Bt = aligned_alloc(64, 64 * 64 * 2);
    g->D = aligned_alloc(64, 64 * 64 * 4);
    hopper_gemm_inputs(g->A, g->Bt);
    g->a_shape[0] = HG_ROWS;
    g->b_shape[0] = g->d_shape[0] = 64;
    g->a_shape[1] = g->b_shape[1] = g->d_shape[1] = 64;
    g->a = tensor2(g->A, g->a_shape, f16);
    g->b = tensor2(g->Bt, g->b_shape, f16);
    g->d = tensor2(g->D, g->d_shape, f32);
}

static void gemm_free(Gemm *g)
{
    free(g->A);
    free(g->Bt);
    free(g->D);
}

static const tsr_launch_dims one_block = { { 1, 1, 1 }, { 128, 1, 1 }, 0 };

/* Both GEMMs right, through the public API. */
static void nvcc_gemms(void **state)
{
    (void)state;
    char why[256];
    char *ptx = hopper_gemm_ptx(why, sizeof why);
    if (!ptx)
        TEST_SKIP("%s: the nvcc kernels are not run through tsr_module_load_ptx", why);
    tsr_context *ctx = context(TSR_DEVICE_EMU);
    tsr_module *m;
    if (tsr_module_load_ptx(ctx, ptx, strlen(ptx), hopper_gemm_kernels, 2, &m) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    assert_int_equal(tsr_module_kernel_count(m), 2);
    assert_string_equal(tsr_module_ir(m, "hopper_gemm", TSR_IR_PTX), ptx);
    tsr_kernel *plain, *tma;
    assert_int_equal(tsr_module_get_kernel(m, "hopper_gemm", &plain), TSR_OK);
    assert_int_equal(tsr_module_get_kernel(m, "hopper_tma_gemm", &tma), TSR_OK);
    assert_int_equal(tsr_kernel_param_count(tma), 4);
    assert_string_equal(tsr_kernel_name(tma), "hopper_tma_gemm");
    Gemm g;
    gemm_new(&g);
    memset(g.D, 0xff, 64 * 64 * 4);
    tsr_ptx_arg pa[3] = { { .tensor = &g.a }, { .tensor = &g.b }, { .tensor = &g.d } };
    if (tsr_kernel_launch_ptx(plain, &one_block, pa, 3, NULL) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    assert_int_equal(hopper_gemm_mismatches(g.A, 0, g.Bt, g.D), 0);

    tsr_tensor_map ma, mb;
    uint32_t box[2] = { 64, 64 };
    assert_int_equal(tsr_tensor_map_encode(ctx, &g.a, 2, box, TSR_TMA_SWIZZLE_128B, &ma), TSR_OK);
    assert_int_equal(tsr_tensor_map_encode(ctx, &g.b, 2, box, TSR_TMA_SWIZZLE_128B, &mb), TSR_OK);
    for (int a_row = 0; a_row <= 40; a_row += 40) {
        memset(g.D, 0xff, 64 * 64 * 4);
        tsr_ptx_arg ta[4] = { { .map = &ma }, { .map = &mb }, { .tensor = &g.d }, { .i = a_row } };
        if (tsr_kernel_launch_ptx(tma, &one_block, ta, 4, NULL) != TSR_OK)
            fail_msg("%s", tsr_context_error(ctx));
        assert_int_equal(hopper_gemm_mismatches(g.A, a_row, g.Bt, g.D), 0);
    }
    gemm_free(&g);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
    free(ptx);
}

/* tests/emu/cute_tma.cu: CuTe's TMA pipeline (make_tma_copy's copies into a
 * ring of two mbarrier stages, GMMA from the 128B-swizzled tiles, K = 256 in
 * four tiles) with maps of tsr_tensor_map_encode, against the host's
 * product; race and uninitialized-register checks on. */
static void cute_tma_pipeline(void **state)
{
    (void)state;
    enum { K = 256 };
    char why[256];
    char *ptx = hopper_ptx("cute_tma", true, why, sizeof why);
    if (!ptx)
        TEST_SKIP("%s: the CuTe TMA pipeline is not run", why);
    tsr_context *ctx = context(TSR_DEVICE_EMU);
    static const tsr_ptx_param_kind kinds[] = { TSR_PTX_TENSOR_MAP, TSR_PTX_TENSOR_MAP, TSR_PTX_TENSOR_OUT };
    const tsr_ptx_kernel decl = { "cute_tma_gemm", kinds, 3 };
    tsr_module *m;
    tsr_kernel *k;
    if (tsr_module_load_ptx(ctx, ptx, strlen(ptx), &decl, 1, &m) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    assert_int_equal(tsr_module_get_kernel(m, "cute_tma_gemm", &k), TSR_OK);
    uint16_t *A = aligned_alloc(64, 64 * K * 2), *Bt = aligned_alloc(64, 64 * K * 2);
    float *D = aligned_alloc(64, 64 * 64 * 4);
    hopper_small_halves(A, 64 * K, 21);
    hopper_small_halves(Bt, 64 * K, 22);
    memset(D, 0xff, 64 * 64 * 4);
    int64_t ab_shape[2] = { 64, K }, d_shape[2] = { 64, 64 };
    DLTensor a = tensor2(A, ab_shape, f16), b = tensor2(Bt, ab_shape, f16), d = tensor2(D, d_shape, f32);
    tsr_tensor_map ma, mb;
    uint32_t box[2] = { 64, 64 }; /* a stage of one operand: 64 rows of 64 halves */
    assert_int_equal(tsr_tensor_map_encode(ctx, &a, 2, box, TSR_TMA_SWIZZLE_128B, &ma), TSR_OK);
    assert_int_equal(tsr_tensor_map_encode(ctx, &b, 2, box, TSR_TMA_SWIZZLE_128B, &mb), TSR_OK);
    tsr_ptx_arg args[3] = { { .map = &ma }, { .map = &mb }, { .tensor = &d } };
    if (tsr_kernel_launch_ptx(k, &one_block, args, 3, NULL) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    assert_int_equal(hopper_nt_mismatches(A, 64, Bt, D, K), 0);
    free(A);
    free(Bt);
    free(D);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
    free(ptx);
}

/* Loading: declarations against the PTX, the devices. */
static void load_errors(void **state)
{
    (void)state;
    char why[256];
    char *ptx = hopper_gemm_ptx(why, sizeof why);
    if (!ptx)
        TEST_SKIP("%s", why);
    tsr_context *ctx = context(TSR_DEVICE_EMU);
    tsr_module *m = (tsr_module *)1;
    static const tsr_ptx_param_kind swapped[] = { TSR_PTX_TENSOR_IN, TSR_PTX_TENSOR_MAP, TSR_PTX_TENSOR_OUT,
                                                  TSR_PTX_I32 };
    tsr_ptx_kernel d = { "hopper_tma_gemm", swapped, 4 };
    EXPECT(tsr_module_load_ptx(ctx, ptx, strlen(ptx), &d, 1, &m), TSR_ERR_INVALID_ARGUMENT,
           "parameter 0 of kernel 'hopper_tma_gemm' is 128 bytes aligned to 64 in the PTX; TSR_PTX_TENSOR_IN is 8 bytes");
    assert_null(m);
    d.nparams = 3;
    EXPECT(tsr_module_load_ptx(ctx, ptx, strlen(ptx), &d, 1, &m), TSR_ERR_INVALID_ARGUMENT,
           "takes 4 parameters in the PTX, 3 are declared");
    d.name = "gemm";
    EXPECT(tsr_module_load_ptx(ctx, ptx, strlen(ptx), &d, 1, &m), TSR_ERR_NOT_FOUND,
           "the PTX has no kernel 'gemm' (it has 'hopper_gemm', 'hopper_tma_gemm')");
    tsr_ptx_param_kind odd = (tsr_ptx_param_kind)42;
    tsr_ptx_kernel e = { "hopper_gemm", &odd, 1 };
    EXPECT(tsr_module_load_ptx(ctx, ptx, strlen(ptx), &e, 1, &m), TSR_ERR_INVALID_ARGUMENT,
           "has kind 42, which is not a tsr_ptx_param_kind");
    EXPECT(tsr_module_load_ptx(ctx, ptx, strlen(ptx), NULL, 0, &m), TSR_ERR_INVALID_ARGUMENT, "0 kernels declared");
    static const char broken[] = ".version 8.0\n.target sm_90a\n.address_size 64\n.visible .entry k()\n{\nfrobnicate;\n}\n";
    tsr_ptx_kernel k = { "k", NULL, 0 };
    EXPECT(tsr_module_load_ptx(ctx, broken, strlen(broken), &k, 1, &m), TSR_ERR_DEVICE, "ptx:6: error");
    tsr_context_destroy(ctx);
    ctx = context(TSR_DEVICE_INTERP);
    EXPECT(tsr_module_load_ptx(ctx, ptx, strlen(ptx), hopper_gemm_kernels, 2, &m), TSR_ERR_UNSUPPORTED,
           "the interp device runs no PTX");
    Gemm g;
    gemm_new(&g);
    tsr_tensor_map map;
    uint32_t box[2] = { 64, 64 };
    EXPECT(tsr_tensor_map_encode(ctx, &g.a, 2, box, TSR_TMA_SWIZZLE_128B, &map), TSR_ERR_UNSUPPORTED,
           "the interp device runs no TMA");
    gemm_free(&g);
    tsr_context_destroy(ctx);
    free(ptx);
}

/* Maps that break cuTensorMapEncodeTiled's rules. */
static void map_errors(void **state)
{
    (void)state;
    tsr_context *ctx = context(TSR_DEVICE_EMU);
    Gemm g;
    gemm_new(&g);
    tsr_tensor_map map;
    uint32_t box[2] = { 128, 64 }, ok[2] = { 64, 64 }, big[2] = { 64, 512 };
    EXPECT(tsr_tensor_map_encode(ctx, &g.a, 2, box, TSR_TMA_SWIZZLE_128B, &map), TSR_ERR_INVALID_ARGUMENT,
           "inner box extent (256 bytes) exceeds the swizzle span of 128 bytes");
    EXPECT(tsr_tensor_map_encode(ctx, &g.a, 2, big, TSR_TMA_SWIZZLE_NONE, &map), TSR_ERR_INVALID_ARGUMENT,
           "box[1] = 512 is outside 1..256");
    EXPECT(tsr_tensor_map_encode(ctx, &g.a, 1, ok, TSR_TMA_SWIZZLE_NONE, &map), TSR_ERR_INVALID_ARGUMENT,
           "the box's rank is not the tensor's");
    EXPECT(tsr_tensor_map_encode(ctx, &g.a, 2, ok, (tsr_tma_swizzle)9, &map), TSR_ERR_INVALID_ARGUMENT,
           "unknown swizzle");
    DLTensor shifted = g.a;
    shifted.byte_offset = 8;
    g.a_shape[0] = 40;
    EXPECT(tsr_tensor_map_encode(ctx, &shifted, 2, ok, TSR_TMA_SWIZZLE_NONE, &map), TSR_ERR_INVALID_ARGUMENT,
           "is not 16-byte aligned");
    int64_t strides[2] = { 36, 1 };
    DLTensor padded = g.a;
    padded.strides = strides;
    EXPECT(tsr_tensor_map_encode(ctx, &padded, 2, ok, TSR_TMA_SWIZZLE_NONE, &map), TSR_ERR_INVALID_ARGUMENT,
           "dimension 0 has stride 36 elements");
    DLTensor other = g.a;
    other.device.device_type = kDLCUDA;
    EXPECT(tsr_tensor_map_encode(ctx, &other, 2, ok, TSR_TMA_SWIZZLE_NONE, &map), TSR_ERR_LAUNCH,
           "the tensor is on kDLCUDA:0, but the context runs on emu");
    DLTensor c64 = g.a;
    c64.dtype = (DLDataType){ kDLComplex, 64, 1 };
    EXPECT(tsr_tensor_map_encode(ctx, &c64, 2, ok, TSR_TMA_SWIZZLE_NONE, &map), TSR_ERR_INVALID_ARGUMENT,
           "TMA has no");
    gemm_free(&g);
    tsr_context_destroy(ctx);
}

/* A kernel that copies its map parameter into local memory (what a
 * parameter that is not a grid constant gets) and hands TMA that copy. */
static const char local_copy_ptx[] =
    ".version 8.0\n.target sm_90a\n.address_size 64\n"
    ".visible .entry k(.param .align 64 .b8 k_map[128])\n{\n"
    ".local .align 64 .b8 copy[128];\n.shared .align 1024 .b8 tile[8192];\n.shared .align 8 .b64 bar;\n"
    ".reg .b64 %rd<8>;\n.reg .b32 %r<8>;\n.reg .pred %p<3>;\n"
    "mov.u32 %r1, %tid.x;\nsetp.eq.u32 %p1, %r1, 0;\n@!%p1 bra DONE;\n"
    "ld.param.v2.u64 {%rd1, %rd2}, [k_map];\nst.local.v2.u64 [copy], {%rd1, %rd2};\n"
    "mov.u32 %r2, bar;\nmov.u32 %r3, tile;\nmov.u32 %r4, 0;\n"
    "mbarrier.init.shared::cta.b64 [%r2], 1;\n"
    "mov.u64 %rd3, copy;\ncvta.local.u64 %rd4, %rd3;\n"
    "mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r2], 8192;\n"
    "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%r3], [%rd4, {%r4, %r4}], [%r2];\n"
    "W:\nmbarrier.try_wait.parity.shared::cta.b64 %p2, [%r2], 0;\n@!%p2 bra W;\n"
    "DONE:\nret;\n}\n";

/* Launch checks, and faults the emulator finds. */
static void launch_errors(void **state)
{
    (void)state;
    char why[256];
    char *ptx = hopper_gemm_ptx(why, sizeof why);
    if (!ptx)
        TEST_SKIP("%s", why);
    tsr_context *ctx = context(TSR_DEVICE_EMU);
    tsr_module *m;
    assert_int_equal(tsr_module_load_ptx(ctx, ptx, strlen(ptx), hopper_gemm_kernels, 2, &m), TSR_OK);
    tsr_kernel *plain, *tma;
    tsr_module_get_kernel(m, "hopper_gemm", &plain);
    tsr_module_get_kernel(m, "hopper_tma_gemm", &tma);
    Gemm g;
    gemm_new(&g);
    tsr_tensor_map ma;
    uint32_t box[2] = { 64, 64 };
    assert_int_equal(tsr_tensor_map_encode(ctx, &g.a, 2, box, TSR_TMA_SWIZZLE_128B, &ma), TSR_OK);
    tsr_tensor_map garbage = ma;
    garbage.opaque[3] ^= 1;
    tsr_ptx_arg ta[4] = { { .map = &ma }, { .map = &garbage }, { .tensor = &g.d }, { .i = 0 } };
    EXPECT(tsr_kernel_launch_ptx(tma, &one_block, ta, 4, NULL), TSR_ERR_LAUNCH,
           "argument 1 is declared TSR_PTX_TENSOR_MAP: give a tensor map made by tsr_tensor_map_encode in .map (these "
           "bytes are not one)");
    ta[1].map = &ma;
    ta[3].i = (int64_t)1 << 33;
    EXPECT(tsr_kernel_launch_ptx(tma, &one_block, ta, 4, NULL), TSR_ERR_LAUNCH, "argument 3 (8589934592) does not fit");
    ta[3].i = 0;
    ta[2].tensor = NULL;
    EXPECT(tsr_kernel_launch_ptx(tma, &one_block, ta, 4, NULL), TSR_ERR_LAUNCH,
           "argument 2 is declared TSR_PTX_TENSOR_OUT: give its DLTensor in .tensor");
    EXPECT(tsr_kernel_launch_ptx(tma, &one_block, ta, 3, NULL), TSR_ERR_INVALID_ARGUMENT, "takes 4 arguments; 3 given");
    tsr_launch_dims zero = { { 1, 1, 1 }, { 0, 1, 1 }, 0 }, huge = { { 1, 1, 1 }, { 128, 1, 1 }, 1 << 20 };
    tsr_ptx_arg pa[3] = { { .tensor = &g.a }, { .tensor = &g.b }, { .tensor = &g.d } };
    EXPECT(tsr_kernel_launch_ptx(plain, &zero, pa, 3, NULL), TSR_ERR_LAUNCH, "a block of 0 x 1 x 1 threads");
    EXPECT(tsr_kernel_launch_ptx(plain, &huge, pa, 3, NULL), TSR_ERR_LAUNCH, "1048576 bytes of dynamic shared memory");
    /* D declared read-only: the emulator refuses the stores. */
    static const tsr_ptx_param_kind all_in[] = { TSR_PTX_TENSOR_IN, TSR_PTX_TENSOR_IN, TSR_PTX_TENSOR_IN };
    tsr_ptx_kernel ro = { "hopper_gemm", all_in, 3 };
    tsr_module *m2;
    assert_int_equal(tsr_module_load_ptx(ctx, ptx, strlen(ptx), &ro, 1, &m2), TSR_OK);
    tsr_kernel *k2;
    tsr_module_get_kernel(m2, NULL, &k2);
    EXPECT(tsr_kernel_launch_ptx(k2, &one_block, pa, 3, NULL), TSR_ERR_DEVICE, "read-only");
    /* The two launch paths are not interchangeable. */
    EXPECT(tsr_kernel_launch(plain, NULL), TSR_ERR_INVALID_ARGUMENT,
           "kernel 'hopper_gemm' was loaded from PTX: launch it with tsr_kernel_launch_ptx");
    EXPECT(tsr_kernel_set_scalar(plain, 0, 1.0), TSR_ERR_INVALID_ARGUMENT, "was loaded from PTX");
    tsr_param_info info;
    EXPECT(tsr_kernel_param_info(plain, 0, &info), TSR_ERR_UNSUPPORTED, "its parameters are the ones declared");
    static const char dsl[] = "kernel z(X: f32[N], Y: out f32[N]) grid (1) { Y[0 : +128] = X[0 : +128]; }\n";
    tsr_module *dm;
    if (tsr_module_compile(ctx, dsl, strlen(dsl), NULL, &dm) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    tsr_kernel *dk;
    tsr_module_get_kernel(dm, NULL, &dk);
    EXPECT(tsr_kernel_launch_ptx(dk, &one_block, NULL, 0, NULL), TSR_ERR_INVALID_ARGUMENT,
           "kernel 'z' is compiled from the DSL");
    /* A map read from a local copy. */
    static const tsr_ptx_param_kind one_map[] = { TSR_PTX_TENSOR_MAP };
    tsr_ptx_kernel lk = { "k", one_map, 1 };
    tsr_module *lm;
    if (tsr_module_load_ptx(ctx, local_copy_ptx, strlen(local_copy_ptx), &lk, 1, &lm) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    tsr_kernel *lkk;
    tsr_module_get_kernel(lm, NULL, &lkk);
    tsr_ptx_arg la[1] = { { .map = &ma } };
    tsr_launch_dims warp = { { 1, 1, 1 }, { 32, 1, 1 }, 0 };
    EXPECT(tsr_kernel_launch_ptx(lkk, &warp, la, 1, NULL), TSR_ERR_DEVICE, "must be a grid constant");
    gemm_free(&g);
    tsr_module_destroy(lm);
    tsr_module_destroy(dm);
    tsr_module_destroy(m2);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
    free(ptx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nvcc_gemms),
        cmocka_unit_test(cute_tma_pipeline),
        cmocka_unit_test(load_errors),
        cmocka_unit_test(map_errors),
        cmocka_unit_test(launch_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
