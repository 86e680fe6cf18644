/* The emulator's floating-point rounding (fp.c), exhaustively where the
 * formats are small: every f16, bf16, e4m3 and e5m2 value round-trips; f32
 * to f16/bf16 rounds like _Float16 and the reference bit trick; the directed
 * modes bracket the exact value; overflow, .satfinite and ties follow the
 * PTX ISA; the fast paths agree with the general one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "emu/emu_internal.h"
#include "emu/emu_test.h"

static void test_small_formats_round_trip(void **state)
{
    static const struct {
        int fmt, bits;
        uint64_t nan;
    } fmts[] = {{FMT_F16, 16, 0x7fff}, {FMT_BF16, 16, 0x7fff}, {FMT_E4M3, 8, 0x7f},
                {FMT_E5M2, 8, 0x7f}};
    static const int modes[] = {RND_RN, RND_RZ, RND_RM, RND_RP, RND_RNA};
    for (size_t f = 0; f < TSR_ARRAY_LEN(fmts); f++)
        for (uint64_t v = 0; v < (1ull << fmts[f].bits); v++) {
            double d = emu_fp_to_double(fmts[f].fmt, v);
            for (size_t m = 0; m < TSR_ARRAY_LEN(modes); m++) {
                uint64_t back = emu_fp_from_double(fmts[f].fmt, d, 0, modes[m], false);
                uint64_t want = d != d ? fmts[f].nan : v;
                if (fmts[f].fmt == FMT_E4M3 && (v & 0x7f) == 0x7f)
                    want = 0x7f; /* e4m3's NaN, either sign */
                if (back != want) {
                    print_error("format %d, 0x%llx (%g), mode %d: back 0x%llx\n", fmts[f].fmt,
                                (unsigned long long)v, d, modes[m], (unsigned long long)back);
                    fail();
                }
            }
        }
    /* landmarks */
    assert_true(emu_fp_to_double(FMT_E4M3, 0x7e) == 448);
    assert_true(emu_fp_to_double(FMT_E5M2, 0x7b) == 57344);
    assert_true(isinf(emu_fp_to_double(FMT_E5M2, 0x7c)));
    assert_true(emu_fp_to_double(FMT_F16, 0x0001) == 0x1p-24);
    assert_true(emu_fp_to_double(FMT_BF16, 0x0001) == 0x1p-133);
}

static uint16_t f16_bits(_Float16 h)
{
    uint16_t v;
    memcpy(&v, &h, 2);
    return v;
}

/* The neighbours of x in a format, from the format's own values. */
static void check_directed(int fmt, double x, const char *what)
{
    uint64_t dn = emu_fp_from_double(fmt, x, 0, RND_RM, false);
    uint64_t up = emu_fp_from_double(fmt, x, 0, RND_RP, false);
    uint64_t tz = emu_fp_from_double(fmt, x, 0, RND_RZ, false);
    double a = emu_fp_to_double(fmt, dn), b = emu_fp_to_double(fmt, up);
    double z = emu_fp_to_double(fmt, tz);
    bool ok = a <= x && b >= x && (a == b ? a == x : true) && z == (x < 0 ? b : a);
    /* nothing representable lies strictly between them */
    if (ok && a != b && !isinf(a) && !isinf(b)) {
        double mid = emu_fp_to_double(fmt, emu_fp_from_double(fmt, (a + b) / 2, 0, RND_RN, false));
        ok = mid == a || mid == b;
    }
    if (!ok) {
        print_error("%s: %a rounds down to %a, up to %a, toward zero to %a\n", what, x, a, b, z);
        fail();
    }
}

static void test_f32_to_half(void **state)
{
    EtRng r = {77};
    for (int i = 0; i < 400000; i++) {
        uint32_t u = (uint32_t)et_rand(&r);
        if (i & 1) /* the exponents f16 can hold, and a little beyond */
            u = (u & 0x807fffffu) | (uint32_t)(0x30 + (i >> 1) % 0x20) << 23;
        float f = f32_of_bits(u);
        uint16_t want = f != f ? 0x7fff : f16_bits((_Float16)f);
        uint64_t got = emu_fp_from_double(FMT_F16, f, 0, RND_RN, false);
        if (got != want || emu_f32_to_f16_rn(u) != want) {
            print_error("f16 of %a (0x%08x): 0x%llx / fast 0x%x, want 0x%x\n", f, u,
                        (unsigned long long)got, emu_f32_to_f16_rn(u), want);
            fail();
        }
        uint32_t b = (u + 0x7fffu + ((u >> 16) & 1)) >> 16;
        uint64_t wbf = f != f ? 0x7fff : b;
        if (emu_fp_from_double(FMT_BF16, f, 0, RND_RN, false) != wbf || emu_f32_to_bf16_rn(u) != wbf) {
            print_error("bf16 of %a: 0x%llx / 0x%x, want 0x%llx\n", f,
                        (unsigned long long)emu_fp_from_double(FMT_BF16, f, 0, RND_RN, false),
                        emu_f32_to_bf16_rn(u), (unsigned long long)wbf);
            fail();
        }
        if (f == f && !isinf(f) && fabsf(f) < 60000) {
            check_directed(FMT_F16, f, "f16");
            check_directed(FMT_BF16, f, "bf16");
            check_directed(FMT_E5M2, f, "e5m2");
        }
    }
}

/* exact + tiny: the residual decides ties and directed rounding */
static void test_residuals(void **state)
{
    /* 1 + 2^-11 is the f16 tie between 1 and 1 + 2^-10 */
    double tie = 1.0 + 0x1p-11;
    assert_int_equal(emu_fp_from_double(FMT_F16, tie, 0, RND_RN, false), 0x3c00);
    assert_int_equal(emu_fp_from_double(FMT_F16, tie, +1, RND_RN, false), 0x3c01);
    assert_int_equal(emu_fp_from_double(FMT_F16, tie, -1, RND_RN, false), 0x3c00);
    /* 1 exactly, a little less: toward zero gives the value below 1 */
    assert_int_equal(emu_fp_from_double(FMT_F16, 1.0, -1, RND_RZ, false), 0x3bff);
    assert_int_equal(emu_fp_from_double(FMT_F16, 1.0, -1, RND_RN, false), 0x3c00);
    assert_int_equal(emu_fp_from_double(FMT_F16, -1.0, -1, RND_RM, false), 0xbc01);
    assert_int_equal(emu_fp_from_double(FMT_F32, 0.0, -1, RND_RM, false), 0x80000001);
    assert_int_equal(emu_fp_from_double(FMT_F32, 0.0, +1, RND_RN, false), 0);
    /* f64 targets too */
    assert_int_equal(emu_fp_from_double(FMT_F64, 1.0, +1, RND_RP, false), f64_bits(nextafter(1.0, 2)));
    assert_int_equal(emu_fp_from_double(FMT_F64, 1.0, -1, RND_RZ, false), f64_bits(nextafter(1.0, 0)));
    /* ties away (tf32's .rna) */
    assert_int_equal(emu_fp_from_double(FMT_TF32, 1.0 + 0x1p-11, 0, RND_RNA, false), 0x3f802000);
    assert_int_equal(emu_fp_from_double(FMT_TF32, 1.0 + 0x1p-11, 0, RND_RN, false), 0x3f800000);
}

static void test_overflow_rules(void **state)
{
    /* f16: 65520 is halfway from 65504 to 2^16 */
    assert_int_equal(emu_fp_from_double(FMT_F16, 65520, 0, RND_RN, false), 0x7c00);
    assert_int_equal(emu_fp_from_double(FMT_F16, 65519, 0, RND_RN, false), 0x7bff);
    assert_int_equal(emu_fp_from_double(FMT_F16, 1e6, 0, RND_RZ, false), 0x7bff);
    assert_int_equal(emu_fp_from_double(FMT_F16, -1e6, 0, RND_RZ, false), 0xfbff);
    assert_int_equal(emu_fp_from_double(FMT_F16, 1e6, 0, RND_RM, false), 0x7bff);
    assert_int_equal(emu_fp_from_double(FMT_F16, -1e6, 0, RND_RM, false), 0xfc00);
    assert_int_equal(emu_fp_from_double(FMT_F16, 1e6, 0, RND_RP, false), 0x7c00);
    assert_int_equal(emu_fp_from_double(FMT_F16, 1e6, 0, RND_RN, true), 0x7bff);
    assert_int_equal(emu_fp_from_double(FMT_F16, INFINITY, 0, RND_RN, true), 0x7bff);
    /* e4m3 has no infinity: overflow is NaN, or 448 with .satfinite */
    assert_int_equal(emu_fp_from_double(FMT_E4M3, 1000, 0, RND_RN, false), 0x7f);
    assert_int_equal(emu_fp_from_double(FMT_E4M3, 1000, 0, RND_RN, true), 0x7e);
    assert_int_equal(emu_fp_from_double(FMT_E4M3, -1000, 0, RND_RN, true), 0xfe);
    assert_int_equal(emu_fp_from_double(FMT_E4M3, 464, 0, RND_RN, true), 0x7e);
    assert_int_equal(emu_fp_from_double(FMT_E5M2, 1e6, 0, RND_RN, true), 0x7b);
    /* subnormals: the smallest f16 is 2^-24; half of it ties to zero */
    assert_int_equal(emu_fp_from_double(FMT_F16, 0x1p-25, 0, RND_RN, false), 0);
    assert_int_equal(emu_fp_from_double(FMT_F16, 0x1.8p-25, 0, RND_RN, false), 1);
    assert_int_equal(emu_fp_from_double(FMT_F16, 0x1p-30, 0, RND_RP, false), 1);
    assert_int_equal(emu_fp_from_double(FMT_F16, -0x1p-30, 0, RND_RZ, false), 0x8000);
    /* integers: 2^24 + 1 to f32 */
    assert_int_equal(emu_fp_round(FMT_F32, 0, (1u << 24) + 1, 0, RND_RN, false), 0x4b800000);
    assert_int_equal(emu_fp_round(FMT_F32, 0, (1u << 24) + 1, 0, RND_RP, false), 0x4b800001);
    assert_int_equal(emu_fp_round(FMT_F32, 1, UINT64_MAX, 0, RND_RZ, false), 0xdf7fffff);
}

static void test_flush(void **state)
{
    assert_int_equal(emu_fp_flush(FMT_F32, 0x00000001), 0);
    assert_int_equal(emu_fp_flush(FMT_F32, 0x807fffff), 0x80000000);
    assert_int_equal(emu_fp_flush(FMT_F32, 0x00800000), 0x00800000);
    assert_int_equal(emu_fp_flush(FMT_F16, 0x83ff), 0x8000);
    assert_int_equal(emu_fp_flush(FMT_F64, 1), 0);
    assert_true(emu_fp_is_subnormal(FMT_BF16, 0x0040));
    assert_false(emu_fp_is_subnormal(FMT_BF16, 0x0080));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_formats_round_trip),
        cmocka_unit_test(test_f32_to_half),
        cmocka_unit_test(test_residuals),
        cmocka_unit_test(test_overflow_rules),
        cmocka_unit_test(test_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
