/* Alignment variants through the public API on emu: a tensor that is not
 * 16-byte aligned is accessed element by element while the others keep
 * their vectors. The emulator rejects a misaligned vector access, so a
 * wrong variant fails the launch, and the results are checked. */
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

int main(void)
{
    suite_default_cache_dir();
    const struct CMUnitTest tests[] = { cmocka_unit_test(misaligned_tensor) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
