/* Integer dtypes (i8, u8, i32, u32, i64) and the bitwise and shift operators:
 * every operator on every dtype, run by the interpreter and by the emulator
 * on the generated PTX, against C's own arithmetic on the same C types (the
 * cases C leaves undefined take the language's rule, dsl/README.md §10.2),
 * over random bit patterns and the edge values (0, -1, the extremes, shift
 * counts past the width, zero divisors, MIN / -1). Sizes are odd. */
#include "emu_run.h"
#include "testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

enum { N = 2051 };

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_REM, OP_AND, OP_OR, OP_XOR, OP_SHL, OP_SHR, OP_MIN, OP_MAX,
               OP_NEG, OP_NOT, OP_ABS, OP_LT, OP_EQ, OP_GE, OP_COUNT } Op;

static const char *const op_expr[OP_COUNT] = {
    "a + b", "a - b", "a * b", "a / b", "a % b", "a & b", "a | b", "a ^ b", "a << b", "a >> b", "min(a, b)",
    "max(a, b)", "-a", "~a", "abs(a)", "T(a < b)", "T(a == b)", "T(a >= b)",
};

/* The reference, in C's arithmetic on the C type CT of the dtype (unsigned
 * arithmetic for the wrapping of +, -, *, negation). */
static bool is_neg(int64_t v) { return v < 0; } /* a call: no always-false warnings on unsigned types */

#define REFERENCE(NAME, CT, UT, BITS, MIN, SIGNED)                                                                        \
    static int64_t NAME(Op op, int64_t a64, int64_t b64)                                                          \
    {                                                                                                             \
        CT a = (CT)a64, b = (CT)b64;                                                                              \
        UT ua = (UT)a, ub = (UT)b;                                                                                \
        bool sg = SIGNED;                                                                                         \
        switch (op) {                                                                                             \
        case OP_ADD: return (CT)(UT)(ua + ub);                                                                    \
        case OP_SUB: return (CT)(UT)(ua - ub);                                                                    \
        case OP_MUL: return (CT)(UT)(ua * ub);                                                                    \
        case OP_DIV: return b == 0 ? (CT)-1 : (sg && a == (CT)(MIN) && b == (CT)-1) ? a : (CT)(a / b);           \
        case OP_REM: return b == 0 ? a : (sg && b == (CT)-1) ? 0 : (CT)(a % b);                                   \
        case OP_AND: return (CT)(a & b);                                                                          \
        case OP_OR: return (CT)(a | b);                                                                           \
        case OP_XOR: return (CT)(a ^ b);                                                                          \
        case OP_SHL: return ub >= (BITS) ? 0 : (CT)(UT)(ua << ub);                                                \
        case OP_SHR: return ub >= (BITS) ? (sg && is_neg(a) ? (CT)-1 : 0) : (CT)(a >> ub);                            \
        case OP_MIN: return a < b ? a : b;                                                                        \
        case OP_MAX: return a > b ? a : b;                                                                        \
        case OP_NEG: return (CT)(UT)(0 - ua);                                                                     \
        case OP_NOT: return (CT)~a;                                                                               \
        case OP_ABS: return sg && is_neg(a) ? (CT)(UT)(0 - ua) : a;                                                   \
        case OP_LT: return a < b;                                                                                 \
        case OP_EQ: return a == b;                                                                                \
        case OP_GE: return a >= b;                                                                                \
        default: return 0;                                                                                        \
        }                                                                                                         \
    }

REFERENCE(ref_i8, int8_t, uint8_t, 8, INT8_MIN, true)
REFERENCE(ref_u8, uint8_t, uint8_t, 8, 0, false)
REFERENCE(ref_i32, int32_t, uint32_t, 32, INT32_MIN, true)
REFERENCE(ref_u32, uint32_t, uint32_t, 32, 0, false)
REFERENCE(ref_i64, int64_t, uint64_t, 64, INT64_MIN, true)

static int64_t reference(DType dt, Op op, int64_t a, int64_t b)
{
    switch (dt) {
    case DT_I8: return ref_i8(op, a, b);
    case DT_U8: return ref_u8(op, a, b);
    case DT_I32: return ref_i32(op, a, b);
    case DT_U32: return ref_u32(op, a, b);
    default: return ref_i64(op, a, b);
    }
}

static int64_t get_int(const HostTensor *t, int64_t i)
{
    switch (t->dt) {
    case DT_I8: return ((const int8_t *)t->data)[i];
    case DT_U8: return ((const uint8_t *)t->data)[i];
    case DT_I32: return ((const int32_t *)t->data)[i];
    case DT_U32: return ((const uint32_t *)t->data)[i];
    default: return ((const int64_t *)t->data)[i];
    }
}

static void set_int(HostTensor *t, int64_t i, int64_t v)
{
    switch (t->dt) {
    case DT_I8: ((int8_t *)t->data)[i] = (int8_t)v; break;
    case DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case DT_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case DT_U32: ((uint32_t *)t->data)[i] = (uint32_t)v; break;
    default: ((int64_t *)t->data)[i] = v; break;
    }
}

/* Operands: edge values against each other, then random bit patterns, with
 * small counts for the shifts (0 ... width + 3) in part of them. */
static void fill(HostTensor *a, HostTensor *b, Rng *rng)
{
    int bits = dtype_bits(a->dt);
    int64_t lo = dtype_is_signed(a->dt) ? (int64_t)(0 - (UINT64_C(1) << (bits - 1))) : 0; /* no signed overflow */
    int64_t edge[] = { 0, 1, -1, 2, -2, 3, 7, lo, lo + 1, (int64_t)((uint64_t)lo - 1), ~lo, bits, bits - 1, bits + 1, 100 };
    int ne = (int)(sizeof edge / sizeof edge[0]);
    for (int64_t i = 0; i < N; i++) {
        int64_t x, y;
        if (i < ne * ne) {
            x = edge[i / ne];
            y = edge[i % ne];
        } else {
            x = (int64_t)rng_u64(rng);
            y = (int64_t)rng_u64(rng);
            if (i % 3 == 0)
                y = (int64_t)(rng_u64(rng) % (uint64_t)(bits + 4));
            if (i % 7 == 0)
                y = (int64_t)(rng_u64(rng) % 16) - 8;
        }
        set_int(a, i, x); /* set_int wraps to the dtype */
        set_int(b, i, y);
    }
}

static int run_op(DType dt, Op op)
{
    char src[512];
    snprintf(src, sizeof src,
             "kernel k<T: type>(A: T[N], B: T[N], C: out T[N]) grid (cdiv(N, 256)) {\n"
             "    let i = program_id(0) * 256;\n"
             "    let a = A[i : +256];\n"
             "    let b = B[i : +256];\n"
             "    C[i : +256] = %s;\n"
             "}\n",
             op_expr[op]);
    Define def = { "T", dtype_name(dt) };
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("int.tsr", src, &def, 1, &diags);
    if (!m)
        fail_msg("%s does not compile:\n%s", src, diags.data ? diags.data : "");
    sb_free(&diags);
    int64_t shape[1] = { N };
    Rng rng;
    rng_seed(&rng, 11 + (uint64_t)op);
    HostTensor a = tensor_new(dt, 1, shape), b = tensor_new(dt, 1, shape);
    fill(&a, &b, &rng);
    int misses = 0;
    for (int d = 0; d < 2; d++) {
        HostTensor c = tensor_new(dt, 1, shape);
        KernelArg args[3] = { arg_tensor(a), arg_tensor(b), arg_tensor(c) };
        StrBuf err;
        sb_init(&err);
        bool ok;
        if (d == 0) {
            ok = interp_launch(m->funcs.data[0], args, 3, 2, &err);
        } else {
            EmuRunOptions o = { 0 };
            o.check_uninit = true;
            o.host_threads = 2;
            ok = emu_run_kernel(m->funcs.data[0], args, 3, &o, &err);
        }
        if (!ok)
            fail_msg("%s on %s %s: %s", op_expr[op], dtype_name(dt), d ? "emu" : "interp", err.data);
        sb_free(&err);
        for (int64_t i = 0; i < N; i++) {
            int64_t x = get_int(&a, i), y = get_int(&b, i), want = reference(dt, op, x, y);
            int64_t got = get_int(&c, i);
            if (got != want && ++misses <= 10)
                print_error("%s %s(%s): a = %lld, b = %lld: got %lld, want %lld\n", d ? "emu" : "interp", op_expr[op],
                            dtype_name(dt), (long long)x, (long long)y, (long long)got, (long long)want);
        }
        tensor_free(&c);
    }
    tensor_free(&a);
    tensor_free(&b);
    tir_module_free(m);
    return misses;
}

static void operators(void **state)
{
    (void)state;
    static const DType dts[] = { DT_I8, DT_U8, DT_I32, DT_U32, DT_I64 };
    int misses = 0;
    for (size_t t = 0; t < sizeof dts / sizeof dts[0]; t++)
        for (int op = 0; op < OP_COUNT; op++)
            misses += run_op(dts[t], (Op)op);
    assert_int_equal(misses, 0);
}

/* The value of a conversion to an integer dtype: integers wrap (C's
 * conversion to the unsigned type of that width, then to the signed one),
 * floats truncate and saturate, NaN gives 0. */
static int64_t convert_ref(double v, bool from_float, DType to)
{
    int bits = dtype_bits(to);
    double lo = dtype_is_signed(to) ? -ldexp(1, bits - 1) : 0, hi = dtype_is_signed(to) ? ldexp(1, bits - 1) : ldexp(1, bits);
    if (from_float) {
        if (isnan(v))
            return 0;
        double t = trunc(v);
        if (t <= lo)
            return (int64_t)lo;
        if (t >= hi)
            return to == DT_I64 ? INT64_MAX : (int64_t)(hi - 1);
        return (int64_t)t;
    }
    return (int64_t)v; /* v holds an integer here; wrapped by the caller */
}

static int64_t wrap_ref(int64_t v, DType to)
{
    switch (to) {
    case DT_I8: return (int8_t)(uint8_t)(uint64_t)v;
    case DT_U8: return (uint8_t)(uint64_t)v;
    case DT_I32: return (int32_t)(uint32_t)(uint64_t)v;
    case DT_U32: return (uint32_t)(uint64_t)v;
    default: return v;
    }
}

/* Conversions between every integer dtype and from and to f32 and f16. */
static void conversions(void **state)
{
    (void)state;
    static const DType dts[] = { DT_I8, DT_U8, DT_I32, DT_U32, DT_I64, DT_F32, DT_F16 };
    static const double fedge[] = { 0.0, -0.0, 0.5, -0.5, 1.99, -1.99, 127.5, 128.0, -129.0, 255.9, 256.0, 65504.0,
                                    2147483647.0, 2147483648.0, -2147483649.0, 4294967296.0, 1e20, -1e20,
                                    9.3e18, -9.3e18, INFINITY, -INFINITY, NAN };
    int misses = 0;
    for (size_t f = 0; f < sizeof dts / sizeof dts[0]; f++)
        for (size_t t = 0; t < sizeof dts / sizeof dts[0]; t++) {
            DType from = dts[f], to = dts[t];
            if (from == to || (dtype_is_float(from) && dtype_is_float(to)))
                continue;
            char src[256];
            snprintf(src, sizeof src,
                     "kernel k(A: %s[N], C: out %s[N]) grid (cdiv(N, 256)) {\n"
                     "    let i = program_id(0) * 256;\n"
                     "    C[i : +256] = %s(A[i : +256]);\n}\n",
                     dtype_name(from), dtype_name(to), dtype_name(to));
            StrBuf diags;
            sb_init(&diags);
            TirModule *m = compile_string("cvt.tsr", src, NULL, 0, &diags);
            if (!m)
                fail_msg("%s does not compile:\n%s", src, diags.data ? diags.data : "");
            sb_free(&diags);
            int64_t shape[1] = { N };
            Rng rng;
            rng_seed(&rng, 5);
            HostTensor a = tensor_new(from, 1, shape), c = tensor_new(to, 1, shape);
            for (int64_t i = 0; i < N; i++) {
                if (dtype_is_float(from))
                    tensor_set(&a, i, i < (int64_t)(sizeof fedge / sizeof fedge[0]) ? fedge[i] : rng_normal(&rng) * 300.0);
                else
                    set_int(&a, i, i < 40 ? (int64_t)i - 20 : (int64_t)rng_u64(&rng));
            }
            for (int d = 0; d < 2; d++) {
                KernelArg args[2] = { arg_tensor(a), arg_tensor(c) };
                StrBuf err;
                sb_init(&err);
                EmuRunOptions o = { 0 };
                o.check_uninit = true;
                bool ok = d == 0 ? interp_launch(m->funcs.data[0], args, 2, 1, &err)
                                 : emu_run_kernel(m->funcs.data[0], args, 2, &o, &err);
                if (!ok)
                    fail_msg("%s on %s: %s", src, d ? "emu" : "interp", err.data);
                sb_free(&err);
                for (int64_t i = 0; i < N; i++) {
                    bool bad;
                    double got, want;
                    if (dtype_is_float(to)) {
                        int64_t x = get_int(&a, i);
                        want = (double)round_to_dtype((float)x, to); /* C's int to float: nearest */
                        got = tensor_get(&c, i);
                        bad = got != want;
                    } else {
                        want = dtype_is_float(from) ? (double)convert_ref(tensor_get(&a, i), true, to)
                                                    : (double)wrap_ref(get_int(&a, i), to);
                        int64_t g = get_int(&c, i), w = dtype_is_float(from) ? convert_ref(tensor_get(&a, i), true, to)
                                                                             : wrap_ref(get_int(&a, i), to);
                        got = (double)g;
                        bad = g != w;
                    }
                    if (bad && ++misses <= 10)
                        print_error("%s %s -> %s: element %lld: got %.17g, want %.17g\n", d ? "emu" : "interp",
                                    dtype_name(from), dtype_name(to), (long long)i, got, want);
                }
            }
            tensor_free(&a);
            tensor_free(&c);
            tir_module_free(m);
        }
    assert_int_equal(misses, 0);
}

/* The dropout example on the emulator gives the interpreter's results bit for
 * bit (test_examples_interp checks the interpreter against C's Philox). */
static void dropout_on_emu(void **state)
{
    (void)state;
    Define def = { "T", "f32" };
    TirModule *m = compile_file_or_fail("dsl/examples/dropout.tsr", &def, 1);
    TirFunc *f = module_func(m, "dropout");
    int64_t shape[1] = { 5001 };
    Rng rng;
    rng_seed(&rng, 3);
    HostTensor x = tensor_new(DT_F32, 1, shape), y[2] = { tensor_new(DT_F32, 1, shape), tensor_new(DT_F32, 1, shape) };
    tensor_fill_normal(&x, &rng, 1.0);
    for (int d = 0; d < 2; d++) {
        tensor_poison(&y[d]);
        KernelArg args[4] = { arg_tensor(x), arg_tensor(y[d]), arg_scalar(-123456), arg_scalar(0.3) };
        StrBuf err;
        sb_init(&err);
        EmuRunOptions o = { 0 };
        o.check_uninit = o.check_races = true;
        o.host_threads = 2;
        if (!(d == 0 ? interp_launch(f, args, 4, 2, &err) : emu_run_kernel(f, args, 4, &o, &err)))
            fail_msg("dropout on %s: %s", d ? "emu" : "interp", err.data);
        sb_free(&err);
    }
    assert_memory_equal(y[0].data, y[1].data, (size_t)shape[0] * sizeof(float));
    tensor_free(&x);
    tensor_free(&y[0]);
    tensor_free(&y[1]);
    tir_module_free(m);
}

/* Scalar parameters of i8, u8, u32 and i64 reach the kernel as the values
 * given (u32 past 2^31, i64 past 2^32 and negative), on every device; a
 * value outside the dtype is a launch error. */
static void integer_scalars(void **state)
{
    (void)state;
    TirModule *m = compile_file_or_fail("tests/programs/ints.tsr", NULL, 0);
    TirFunc *f = module_func(m, "int_scalars");
    int64_t shape[1] = { 301 };
    HostTensor x = tensor_new(DT_I64, 1, shape);
    for (int64_t i = 0; i < shape[0]; i++)
        ((int64_t *)x.data)[i] = i * 1000003 - 150000000;
    const double a = -100, b = 250, c = 4000000000.0, d = -123456789012.0;
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor y = tensor_new(DT_I64, 1, shape);
        tensor_poison(&y);
        KernelArg args[6] = { arg_tensor(x), arg_tensor(y), arg_scalar(a), arg_scalar(b), arg_scalar(c), arg_scalar(d) };
        StrBuf err;
        sb_init(&err);
        if (!run_kernel_at(f, args, 6, place, &err))
            fail_msg("int_scalars on %s: %s", run_places[place], err.data);
        for (int64_t i = 0; i < shape[0]; i++) {
            int64_t want = ((int64_t *)x.data)[i] * -100 + 250 + 4000000000LL - 123456789012LL;
            if (((int64_t *)y.data)[i] != want)
                fail_msg("int_scalars on %s: Y[%lld] is %lld, want %lld", run_places[place], (long long)i,
                         (long long)((int64_t *)y.data)[i], (long long)want);
        }
        if (place == 0) { /* out of the dtype's range: refused before anything runs */
            static const struct {
                int arg;
                double v;
                const char *msg;
            } bad[] = { { 2, 128, "'a' must be an integer in the range of i8, not 128" },
                        { 3, -1, "'b' must be an integer in the range of u8, not -1" },
                        { 4, 4294967296.0, "'c' must be an integer in the range of u32, not 4.29497e+09" },
                        { 5, 0.5, "'d' must be an integer in the range of i64, not 0.5" } };
            for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
                KernelArg args2[6];
                memcpy(args2, args, sizeof args2);
                args2[bad[k].arg] = arg_scalar(bad[k].v);
                sb_free(&err);
                sb_init(&err);
                assert_false(run_kernel_at(f, args2, 6, place, &err));
                if (!strstr(err.data, bad[k].msg))
                    fail_msg("%s", err.data);
            }
        }
        sb_free(&err);
        tensor_free(&y);
    }
    tensor_free(&x);
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(operators), cmocka_unit_test(conversions),
                                        cmocka_unit_test(dropout_on_emu), cmocka_unit_test(integer_scalars) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
