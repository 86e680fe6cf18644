/* The TIR interpreter (runtime/interp.c), which defines what programs mean:
 * the bounds rule, arbitrary strides, launch-time checks of arguments and
 * grids, element semantics (i32 wrap and division by zero, f16 rounding at
 * each step, f32 accumulation in dot), and the same results on any number of
 * host threads. */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static TirModule *compile(const char *text)
{
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("i.tsr", text, NULL, 0, &diags);
    if (!m)
        fail_msg("does not compile:\n%s", diags.data);
    sb_free(&diags);
    return m;
}

static bool launch(TirFunc *f, KernelArg *args, int n, int threads, char **err_out)
{
    StrBuf err;
    sb_init(&err);
    bool ok = interp_launch(f, args, n, threads, &err);
    *err_out = sb_take(&err);
    return ok;
}

static void launch_ok(TirFunc *f, KernelArg *args, int n, int threads)
{
    char *err;
    if (!launch(f, args, n, threads, &err))
        fail_msg("launch failed: %s", err);
    free(err);
}

static void launch_fails(TirFunc *f, KernelArg *args, int n, const char *want)
{
    char *err;
    if (launch(f, args, n, 1, &err))
        fail_msg("launch succeeded; expected: %s", want);
    if (strcmp(err, want) != 0)
        fail_msg("expected '%s', got '%s'", want, err);
    free(err);
}

/* Loads past the end read 0; stores past the end are not written; partial
 * tiles at both ends of a tensor. */
static void bounds_rule(void **state)
{
    (void)state;
    TirModule *m = compile("kernel k(X: f32[N], Y: out f32[N]) grid (cdiv(N, 8) + 1)\n"
                           "{\n"
                           "    let i = program_id(0) * 8 - 4;\n"
                           "    Y[i : +8] = X[i : +8] + 100.0;\n"
                           "}\n");
    int64_t shape[1] = { 13 };
    HostTensor x = tensor_new(DT_F32, 1, shape), y = tensor_new(DT_F32, 1, shape);
    for (int i = 0; i < 13; i++)
        tensor_set(&x, i, i);
    tensor_poison(&y);
    KernelArg args[2] = { arg_tensor(x), arg_tensor(y) };
    launch_ok(m->funcs.data[0], args, 2, 1);
    for (int i = 0; i < 13; i++)
        assert_float_equal(tensor_get(&y, i), i + 100.0, 0);
    /* what a tile read past the end holds: 0, so the sum is 100 there */
    TirModule *m2 = compile("kernel k(X: f32[N], Y: out f32[16]) grid (1) { Y[0 : +16] = X[-3 : +16] + 100.0; }");
    int64_t s16[1] = { 16 };
    HostTensor y2 = tensor_new(DT_F32, 1, s16);
    KernelArg args2[2] = { arg_tensor(x), arg_tensor(y2) };
    launch_ok(m2->funcs.data[0], args2, 2, 1);
    for (int i = 0; i < 16; i++)
        assert_float_equal(tensor_get(&y2, i), (i < 3 || i >= 16) ? 100.0 : i - 3 + 100.0, 0);
    tensor_free(&x);
    tensor_free(&y);
    tensor_free(&y2);
    tir_module_free(m);
    tir_module_free(m2);
}

/* Strides may be anything: transposed, negative, zero (broadcast), padded;
 * and a huge stride on a dim whose index is outside is never multiplied. */
static void strides(void **state)
{
    (void)state;
    TirModule *m = compile("kernel k(A: f32[R, C], B: out f32[R, C]) grid (1)\n"
                           "{ B[0 : +4, 0 : +4] = A[0 : +4, 0 : +4] * 2.0; B[2147483647, 0 : +4] = A[-2147483647 - 1, 0 : +4]; }");
    float data[16], out[64];
    for (int i = 0; i < 16; i++)
        data[i] = (float)i;
    for (int i = 0; i < 64; i++)
        out[i] = -1;
    HostTensor a = { data, DT_F32, 2, { 4, 4 }, { 1, 4 } };                 /* transposed view */
    HostTensor b = { out + 63, DT_F32, 2, { 4, 4 }, { -16, -1 } };          /* reversed, padded rows */
    KernelArg args[2] = { arg_tensor(a), arg_tensor(b) };
    launch_ok(m->funcs.data[0], args, 2, 1);
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            assert_float_equal(out[63 - 16 * r - c], 2.0f * data[c * 4 + r], 0);
    assert_float_equal(out[0], -1, 0); /* padding untouched */
    /* a zero stride repeats a row; a huge stride on a dim of size 1 is fine
     * (B[7, 0] is outside: 7 * 2^60 would overflow) */
    HostTensor z = { data, DT_F32, 2, { 4, 4 }, { 0, 1 } };
    HostTensor o2 = { out, DT_F32, 2, { 1, 16 }, { INT64_C(1) << 60, 1 } };
    TirModule *m3 = compile("kernel k(A: f32[R, C], B: out f32[Q, S]) grid (1)\n"
                            "{ B[0 : +2, 0 : +4] = colsum(A[0 : +4, 0 : +4])[None, :]; B[7, 0] = 5.0; }");
    KernelArg args3[2] = { arg_tensor(z), arg_tensor(o2) };
    launch_ok(m3->funcs.data[0], args3, 2, 1);
    for (int c = 0; c < 4; c++)
        assert_float_equal(out[c], 4.0f * data[c], 0);
    tir_module_free(m);
    tir_module_free(m3);
}

static void launch_checks(void **state)
{
    (void)state;
    TirModule *m = compile("kernel k(X: f32[N, 8], Y: out f32[N, 8], n: i32) grid (cdiv(N, n), n) { }");
    TirFunc *f = m->funcs.data[0];
    int64_t s2[2] = { 4, 8 }, s3[3] = { 1, 4, 8 }, bad[2] = { 4, 7 };
    HostTensor x = tensor_new(DT_F32, 2, s2), y = tensor_new(DT_F32, 2, s2), xi = tensor_new(DT_I32, 2, s2),
               x3 = tensor_new(DT_F32, 3, s3), xb = tensor_new(DT_F32, 2, bad);
    KernelArg args[3] = { arg_tensor(x), arg_tensor(y), arg_scalar(2) };
    launch_ok(f, args, 3, 1);
    launch_fails(f, args, 2, "kernel 'k' takes 3 arguments, 2 given");
    args[2] = arg_scalar(3e9);
    launch_fails(f, args, 3, "scalar argument 'n' must be an integer in the range of i32, not 3e+09");
    args[2] = arg_scalar(2.5);
    launch_fails(f, args, 3, "scalar argument 'n' must be an integer in the range of i32, not 2.5");
    args[2] = arg_scalar(NAN);
    launch_fails(f, args, 3, "scalar argument 'n' must be an integer in the range of i32, not nan");
    args[2] = arg_scalar(-1);
    launch_fails(f, args, 3, "grid size 0 of kernel 'k' is -4, outside 0..2147483647");
    args[2] = arg_scalar(70000);
    launch_fails(f, args, 3, "grid size 1 of kernel 'k' is 70000, outside 0..65535");
    args[2] = arg_tensor(x);
    launch_fails(f, args, 3, "argument 'n' must be a scalar");
    args[2] = arg_scalar(2);
    args[0] = arg_scalar(1);
    launch_fails(f, args, 3, "argument 'X' must be a tensor");
    args[0] = arg_tensor(xi);
    launch_fails(f, args, 3, "tensor 'X' must have dtype f32, not i32");
    args[0] = arg_tensor(x3);
    launch_fails(f, args, 3, "tensor 'X' must have 2 dimensions, not 3");
    args[0] = arg_tensor(xb);
    launch_fails(f, args, 3, "dimension 1 of tensor 'X' must be 8, not 7");
    HostTensor nul = x;
    nul.data = NULL;
    args[0] = arg_tensor(nul);
    launch_fails(f, args, 3, "tensor 'X' has a null data pointer");
    args[0] = arg_tensor(x);
    args[1].tensor.shape[0] = 5;
    launch_fails(f, args, 3, "dimension 'N' is 4 in tensor 'X' but 5 in tensor 'Y' (dimension 0)");
    args[1].tensor.shape[0] = -1;
    launch_fails(f, args, 3, "dimension 0 of tensor 'Y' is -1, outside 0..2^31-1");
    /* an empty grid runs nothing and succeeds */
    args[1] = arg_tensor(y);
    args[0].tensor.shape[0] = 0;
    args[1].tensor.shape[0] = 0;
    launch_ok(f, args, 3, 1);
    tensor_free(&x);
    tensor_free(&y);
    tensor_free(&xi);
    tensor_free(&x3);
    tensor_free(&xb);
    tir_module_free(m);
}

static void element_semantics(void **state)
{
    (void)state;
    TirModule *m = compile("kernel k(I: i32[8], O: out i32[8], H: f16[4], OH: out f16[4], F: out f32[4]) grid (1)\n"
                           "{\n"
                           "    let a = I[0 : +8];\n"
                           "    O[0 : +8] = a / I[1] + a % I[1] + a * 65536 * 65536 + i32(H[0] * 1000.0) * 0;\n"
                           "    OH[0 : +4] = H[0 : +4] * H[0 : +4] * H[0 : +4];\n"
                           "    F[0] = f32(i32(f32(I[2]) * 1e10));\n"          /* saturates */
                           "    F[1] = f32(-I[3] / i32(0) + I[3] % i32(0));\n" /* division by zero: -1, rem: dividend */
                           "    F[2] = reduce_sum(f32(arange<8>(2147483647)) * 0.0 + 1.0);\n"
                           "    F[3] = f32(reduce_sum(arange<4>(2147483646)));\n" /* wraps */
                           "}\n");
    int64_t s8[1] = { 8 }, s4[1] = { 4 };
    HostTensor i = tensor_new(DT_I32, 1, s8), o = tensor_new(DT_I32, 1, s8), h = tensor_new(DT_F16, 1, s4),
               oh = tensor_new(DT_F16, 1, s4), fo = tensor_new(DT_F32, 1, s4);
    int32_t iv[8] = { 7, 0, 5, 9, -7, INT32_MIN, 3, -1 };
    memcpy(i.data, iv, sizeof iv);
    float hv[4] = { 0.1f, 3.3f, -10.7f, 60.0f };
    for (int k = 0; k < 4; k++)
        tensor_set(&h, k, hv[k]);
    KernelArg args[5] = { arg_tensor(i), arg_tensor(o), arg_tensor(h), arg_tensor(oh), arg_tensor(fo) };
    launch_ok(m->funcs.data[0], args, 5, 1);
    /* a / 0 = -1 and a % 0 = a (what div.s32 and rem.s32 give); a * 2^32 wraps to 0 */
    const int32_t *ov = o.data;
    for (int k = 0; k < 8; k++)
        assert_int_equal(ov[k], (int32_t)((uint32_t)iv[k] - 1u)); /* -1 + a, wrapping like i32 */
    for (int k = 0; k < 4; k++) {
        float x = (float)tensor_get(&h, k);
        float want = round_to_dtype(round_to_dtype(x * x, DT_F16) * x, DT_F16);
        assert_true((float)tensor_get(&oh, k) == want); /* rounded after each multiply */
    }
    assert_float_equal(tensor_get(&fo, 0), 2147483647.0, 0);
    assert_float_equal(tensor_get(&fo, 1), -1.0 + 9.0, 0);
    assert_float_equal(tensor_get(&fo, 2), 8.0, 0);
    /* 2147483646 + 2147483647 + INT32_MIN + (INT32_MIN + 1), wrapping */
    assert_float_equal(tensor_get(&fo, 3), (float)(int32_t)(2147483646u + 2147483647u + 2147483648u + 2147483649u), 0);
    tensor_free(&i);
    tensor_free(&o);
    tensor_free(&h);
    tensor_free(&oh);
    tensor_free(&fo);
    tir_module_free(m);
}

/* cdiv at run time is the exact ceiling the constant fold computes, for any
 * signs and at the ends of i32's range; a zero divisor gives a / 0 == -1. */
static void cdiv_at_run_time(void **state)
{
    (void)state;
    TirModule *m = compile("kernel k(A: i32[16], B: i32[16], O: out i32[16]) grid (1)\n"
                           "{ O[0 : +16] = cdiv(A[0 : +16], B[0 : +16]); }\n");
    int64_t s16[1] = { 16 };
    HostTensor a = tensor_new(DT_I32, 1, s16), b = tensor_new(DT_I32, 1, s16), o = tensor_new(DT_I32, 1, s16);
    const int32_t av[16] = { 7, -7, 7, -7, 6, -6, 0, 1, -1, INT32_MAX, INT32_MIN, INT32_MIN, INT32_MAX, 5, -5, 3 };
    const int32_t bv[16] = { 2, 2, -2, -2, 3, 3, 4, 4, 4, 2, 2, -2, -1, 0, 0, INT32_MIN };
    memcpy(a.data, av, sizeof av);
    memcpy(b.data, bv, sizeof bv);
    KernelArg args[3] = { arg_tensor(a), arg_tensor(b), arg_tensor(o) };
    launch_ok(m->funcs.data[0], args, 3, 1);
    const int32_t *ov = o.data;
    for (int k = 0; k < 16; k++) {
        int64_t want = bv[k] == 0 ? -1 : tsr_cdiv(av[k], bv[k]);
        if (ov[k] != want)
            fail_msg("cdiv(%d, %d) = %d, expected %lld", av[k], bv[k], ov[k], (long long)want);
    }
    assert_int_equal(ov[0], 4);
    assert_int_equal(ov[1], -3);
    assert_int_equal(ov[2], -3);
    assert_int_equal(ov[3], 4);
    tensor_free(&a);
    tensor_free(&b);
    tensor_free(&o);
    tir_module_free(m);
}

/* Shapes and selection: transpose, where, broadcasting through expand_dims,
 * integer reductions. */
static void shapes_and_select(void **state)
{
    (void)state;
    TirModule *m = compile("kernel k(A: i32[4, 8], T: out i32[8, 4], S: out i32[4, 8], R: out i32[3, 4]) grid (1)\n"
                           "{\n"
                           "    let a = A[:, :];\n"
                           "    T[:, :] = transpose(a);\n"
                           "    S[:, :] = where(a > 0, a, -a * 10) + arange<8>(100)[None, :];\n"
                           "    R[0, :] = rowmax(a);\n"
                           "    R[1, :] = rowmin(a);\n"
                           "    R[2, :] = rowsum(a);\n"
                           "}\n");
    int64_t sa[2] = { 4, 8 }, st[2] = { 8, 4 }, sr[2] = { 3, 4 };
    HostTensor a = tensor_new(DT_I32, 2, sa), t = tensor_new(DT_I32, 2, st), s = tensor_new(DT_I32, 2, sa),
               r = tensor_new(DT_I32, 2, sr);
    int32_t *av = a.data;
    for (int k = 0; k < 32; k++)
        av[k] = (k * 7) % 11 - 5;
    KernelArg args[4] = { arg_tensor(a), arg_tensor(t), arg_tensor(s), arg_tensor(r) };
    launch_ok(m->funcs.data[0], args, 4, 1);
    const int32_t *tv = t.data, *sv = s.data, *rv = r.data;
    for (int i = 0; i < 4; i++) {
        int32_t mx = INT32_MIN, mn = INT32_MAX, sum = 0;
        for (int j = 0; j < 8; j++) {
            int32_t x = av[i * 8 + j];
            assert_int_equal(tv[j * 4 + i], x);
            assert_int_equal(sv[i * 8 + j], (x > 0 ? x : -x * 10) + 100 + j);
            mx = x > mx ? x : mx;
            mn = x < mn ? x : mn;
            sum += x;
        }
        assert_int_equal(rv[i], mx);
        assert_int_equal(rv[4 + i], mn);
        assert_int_equal(rv[8 + i], sum);
    }
    tensor_free(&a);
    tensor_free(&t);
    tensor_free(&s);
    tensor_free(&r);
    tir_module_free(m);
}

/* dot of f16 tiles accumulates in f32: the sum of 256 products 1 * (1 + 2^-10)
 * is not rounded to f16 on the way. */
static void dot_accumulates_in_f32(void **state)
{
    (void)state;
    TirModule *m = compile("kernel k(A: f16[16, 256], B: f16[256, 16], C: out f32[16, 16]) grid (1)\n"
                           "{ C[:, :] = dot(A[:, :], B[:, :]); }");
    int64_t sa[2] = { 16, 256 }, sb[2] = { 256, 16 }, sc[2] = { 16, 16 };
    HostTensor a = tensor_new(DT_F16, 2, sa), b = tensor_new(DT_F16, 2, sb), c = tensor_new(DT_F32, 2, sc);
    for (int64_t k = 0; k < 16 * 256; k++) {
        tensor_set(&a, k, 1.0);
        tensor_set(&b, k, 1.0 + 1.0 / 1024);
    }
    KernelArg args[3] = { arg_tensor(a), arg_tensor(b), arg_tensor(c) };
    launch_ok(m->funcs.data[0], args, 3, 1);
    for (int64_t k = 0; k < 256; k++)
        assert_float_equal(tensor_get(&c, k), 256.0 * (1.0 + 1.0 / 1024), 1e-4);
    tensor_free(&a);
    tensor_free(&b);
    tensor_free(&c);
    tir_module_free(m);
}

/* Every program instance runs exactly once, whatever the number of threads. */
static void threads_agree(void **state)
{
    (void)state;
    TirModule *m = compile("kernel k(X: f32[N, 32], Y: out f32[N, 32]) grid (cdiv(N, 4), 2)\n"
                           "{\n"
                           "    let r = program_id(0) * 4;\n"
                           "    let c = program_id(1) * 16;\n"
                           "    var acc = X[r : +4, c : +16];\n"
                           "    for i in 0 .. 5 { acc = acc * 0.5 + rowmax(acc)[:, None]; }\n"
                           "    Y[r : +4, c : +16] = acc + f32(num_programs(0) * 1000);\n"
                           "}\n");
    int64_t shape[2] = { 103, 32 };
    HostTensor x = tensor_new(DT_F32, 2, shape), y1 = tensor_new(DT_F32, 2, shape), y4 = tensor_new(DT_F32, 2, shape);
    Rng rng;
    rng_seed(&rng, 3);
    tensor_fill_normal(&x, &rng, 1.0);
    tensor_poison(&y1);
    tensor_poison(&y4);
    KernelArg a1[2] = { arg_tensor(x), arg_tensor(y1) }, a4[2] = { arg_tensor(x), arg_tensor(y4) };
    launch_ok(m->funcs.data[0], a1, 2, 1);
    launch_ok(m->funcs.data[0], a4, 2, 4);
    assert_memory_equal(y1.data, y4.data, (size_t)(103 * 32) * sizeof(float));
    for (int64_t k = 0; k < 103 * 32; k++)
        assert_false(isnan(tensor_get(&y1, k)));
    tensor_free(&x);
    tensor_free(&y1);
    tensor_free(&y4);
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bounds_rule),       cmocka_unit_test(strides),
        cmocka_unit_test(launch_checks),     cmocka_unit_test(element_semantics),
        cmocka_unit_test(cdiv_at_run_time),
        cmocka_unit_test(shapes_and_select), cmocka_unit_test(dot_accumulates_in_f32),
        cmocka_unit_test(threads_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
