/* Variants through the public API on emu: a tensor that is not 16-byte
 * aligned is accessed element by element while the others keep their
 * vectors, and a symbolic last dim gets vectors only when the launch's size
 * is a multiple of 8. The emulator rejects a misaligned vector access, and
 * a vector that assumed a whole last dim would lose the elements of a
 * partial one, so the results show a wrong variant. */
#include "rt_suite.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* Rows of 64 f16: 16-byte vectors when the data allows. */
static const char src[] = "kernel add(A: f16[M, 64], B: f16[M, 64], C: out f16[M, 64]) grid (cdiv(M, 16)) warps 4 {\n"
                          "    let i = program_id(0) * 16;\n"
                          "    C[i : +16, :] = A[i : +16, :] + B[i : +16, :];\n"
                          "}\n";

static void misaligned_tensor(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(TSR_DEVICE_EMU);
    tsr_module *m = suite_compile(ctx, src, NULL, 0);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m, "add", &k), TSR_OK);
    enum { M = 37, N = M * 64 };
    int64_t shape[1] = { N + 8 };
    HostTensor a = tensor_new(DT_F16, 1, shape), b = tensor_new(DT_F16, 1, shape), c = tensor_new(DT_F16, 1, shape);
    Rng rng;
    rng_seed(&rng, 5);
    tensor_fill_normal(&a, &rng, 1);
    tensor_fill_normal(&b, &rng, 1);
    tensor_poison(&c);
    DevTensor da, db, dc;
    dev_upload(ctx, &a, &da);
    dev_upload(ctx, &b, &db);
    dev_upload(ctx, &c, &dc);
    for (int shift = 0; shift < 3; shift++) {
        /* B starts `shift` elements in: 2-byte aligned only when shift is odd. */
        DLTensor ta = da.t, tb = db.t, tc = dc.t;
        int64_t dims[2] = { M, 64 }, strides[2] = { 64, 1 };
        ta.ndim = tb.ndim = tc.ndim = 2;
        ta.shape = tb.shape = tc.shape = dims;
        ta.strides = tb.strides = tc.strides = strides;
        tb.byte_offset = (uint64_t)shift * 2;
        assert_int_equal(tsr_kernel_set_tensor(k, 0, &ta), TSR_OK);
        assert_int_equal(tsr_kernel_set_tensor(k, 1, &tb), TSR_OK);
        assert_int_equal(tsr_kernel_set_tensor(k, 2, &tc), TSR_OK);
        if (tsr_kernel_launch(k, NULL) != TSR_OK || tsr_stream_synchronize(ctx, NULL) != TSR_OK)
            fail_msg("shift %d: %s %s", shift, tsr_kernel_error(k), tsr_context_error(ctx));
        dev_download(ctx, &dc, &c);
        for (int i = 0; i < N; i++) {
            double want = tensor_get(&a, i) + tensor_get(&b, i + shift);
            double got = tensor_get(&c, i);
            if (!(got == (double)round_to_dtype((float)want, DT_F16)))
                fail_msg("shift %d: C[%d] = %g, expected %g", shift, i, got, want);
        }
    }
    dev_free(ctx, &da);
    dev_free(ctx, &db);
    dev_free(ctx, &dc);
    tensor_free(&a);
    tensor_free(&b);
    tensor_free(&c);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

/* A vector of N: 16-byte vectors when N % 8 == 0, element by element
 * otherwise (alignment alone does not tell: there is no row stride). */
static const char rows_src[] = "kernel rows(A: f16[N], C: out f16[N]) grid (cdiv(N, 256)) warps 4 {\n"
                               "    let j = program_id(0) * 256;\n"
                               "    C[j : +256] = A[j : +256] * 2.0;\n"
                               "}\n";

static void symbolic_last_dim(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(TSR_DEVICE_EMU);
    tsr_module *m = suite_compile(ctx, rows_src, NULL, 0);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m, "rows", &k), TSR_OK);
    static const int64_t widths[] = { 1000, 1001, 8, 77, 200 };
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int64_t shape[1] = { widths[w] };
        HostTensor a = tensor_new(DT_F16, 1, shape), c = tensor_new(DT_F16, 1, shape);
        Rng rng;
        rng_seed(&rng, 7 + w);
        tensor_fill_normal(&a, &rng, 1);
        tensor_poison(&c);
        DevTensor da, dc;
        dev_upload(ctx, &a, &da);
        dev_upload(ctx, &c, &dc);
        assert_int_equal(tsr_kernel_set_tensor(k, 0, &da.t), TSR_OK);
        assert_int_equal(tsr_kernel_set_tensor(k, 1, &dc.t), TSR_OK);
        if (tsr_kernel_launch(k, NULL) != TSR_OK || tsr_stream_synchronize(ctx, NULL) != TSR_OK)
            fail_msg("N=%lld: %s %s", (long long)widths[w], tsr_kernel_error(k), tsr_context_error(ctx));
        dev_download(ctx, &dc, &c);
        for (int64_t i = 0; i < tensor_numel(&a); i++)
            if (!(tensor_get(&c, i) == 2.0 * tensor_get(&a, i)))
                fail_msg("N=%lld: element %lld is %g, expected %g", (long long)widths[w], (long long)i,
                         tensor_get(&c, i), 2.0 * tensor_get(&a, i));
        dev_free(ctx, &da);
        dev_free(ctx, &dc);
        tensor_free(&a);
        tensor_free(&c);
    }
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

int main(void)
{
    suite_default_cache_dir();
    const struct CMUnitTest tests[] = { cmocka_unit_test(misaligned_tensor), cmocka_unit_test(symbolic_last_dim) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
