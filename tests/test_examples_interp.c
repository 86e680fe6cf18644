/* The example programs of dsl/examples/, run by the TIR interpreter on random
 * inputs of odd sizes and checked element by element against plain C
 * references computed in double precision.
 *
 * Tolerances come from the dtypes, not from what the runs happen to give:
 * u(T) is the unit roundoff of T (2^-11 f16, 2^-8 bf16, 2^-24 f32), so
 * rounding a result to T costs at most u(T)·|value|, plus half the smallest
 * subnormal of T near zero. An f32 sum of n terms is off by at most about
 * n·u(f32)·sum|terms| (recursive summation, Higham ch. 4), whatever the order
 * of the additions; each kernel's bound below applies that rule to its sums.
 * Bugs (a tile missed, a row shifted, a mask wrong) give errors of the order
 * of the values themselves, far above these bounds.
 *
 * Outputs live in larger buffers poisoned with NaN (padded rows, transposed
 * layouts): an element left unwritten stays NaN, and the padding must still be
 * NaN afterwards, since the bounds rule says stores past a tensor's end are
 * dropped. Input padding is NaN too, so a read outside a tensor would show. */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const double U32 = 0x1p-24;

static double unit_roundoff(DType dt)
{
    switch (dt) {
    case DT_F16: return 0x1p-11;
    case DT_BF16: return 0x1p-8;
    case DT_F32: return 0x1p-24;
    default: return 0.0;
    }
}

/* Half the smallest subnormal: the absolute rounding error near zero. */
static double half_subnormal(DType dt)
{
    switch (dt) {
    case DT_F16: return 0x1p-25;
    case DT_BF16: return 0x1p-134;
    case DT_F32: return 0x1p-150;
    default: return 0.0;
    }
}

/* Rounding the value ref to dt costs at most this. */
static double round_tol(DType dt, double ref) { return unit_roundoff(dt) * fabs(ref) + half_subnormal(dt); }

/* ------------------------------------------------------------ tensors */

/* A 2-D tensor seen inside a larger buffer: rows padded to rows + pad
 * elements, or stored column by column (a transposed layout) when col_major.
 * The whole buffer starts poisoned; only the logical elements get values. */
typedef struct {
    HostTensor buf; /* 1-D, owns the memory */
    HostTensor t;   /* the view a kernel receives */
} Mat;

static Mat mat_new(DType dt, int64_t rows, int64_t cols, int64_t pad, bool col_major)
{
    Mat m;
    int64_t ld = (col_major ? rows : cols) + pad;
    int64_t n = ld * (col_major ? cols : rows);
    m.buf = tensor_new(dt, 1, &n);
    tensor_poison(&m.buf);
    m.t = m.buf;
    m.t.rank = 2;
    m.t.shape[0] = rows;
    m.t.shape[1] = cols;
    m.t.strides[0] = col_major ? 1 : ld;
    m.t.strides[1] = col_major ? ld : 1;
    return m;
}

static int64_t mat_off(const Mat *m, int64_t i, int64_t j) { return i * m->t.strides[0] + j * m->t.strides[1]; }
static double mat_get(const Mat *m, int64_t i, int64_t j) { return tensor_get(&m->buf, mat_off(m, i, j)); }
static int64_t mat_rows(const Mat *m) { return m->t.shape[0]; }
static int64_t mat_cols(const Mat *m) { return m->t.shape[1]; }

static void mat_fill_normal(Mat *m, Rng *r, double mean, double sd)
{
    for (int64_t i = 0; i < mat_rows(m); i++)
        for (int64_t j = 0; j < mat_cols(m); j++)
            tensor_set(&m->buf, mat_off(m, i, j), mean + sd * rng_normal(r));
}

/* Fails unless every padding element of m is still poisoned. */
static void mat_check_padding(const Mat *m, const char *what)
{
    int64_t poisoned = 0, n = tensor_numel(&m->buf);
    for (int64_t k = 0; k < n; k++)
        poisoned += isnan(tensor_get(&m->buf, k));
    int64_t padding = n - mat_rows(m) * mat_cols(m);
    if (poisoned < padding)
        fail_msg("%s: %lld padding elements were written", what, (long long)(padding - poisoned));
}

static HostTensor vec_new_normal(DType dt, int64_t n, Rng *r, double mean, double sd)
{
    HostTensor t = tensor_new(dt, 1, &n);
    for (int64_t i = 0; i < n; i++)
        tensor_set(&t, i, mean + sd * rng_normal(r));
    return t;
}

static HostTensor vec_new_poisoned(DType dt, int64_t n)
{
    HostTensor t = tensor_new(dt, 1, &n);
    tensor_poison(&t);
    return t;
}

/* ------------------------------------------------------------ checking */

/* The worst element of one output: error over tolerance. */
typedef struct {
    double worst; /* max |got - ref| / tol; > 1 fails */
    double got, ref, tol;
    int64_t at, unwritten;
} Check;

static void check_elem(Check *c, int64_t at, double got, double ref, double tol)
{
    if (isnan(got)) {
        c->unwritten++;
        return;
    }
    double r = fabs(got - ref) / tol;
    if (!(r <= c->worst)) {
        c->worst = r;
        c->got = got;
        c->ref = ref;
        c->tol = tol;
        c->at = at;
    }
}

static void check_done(const Check *c, const char *what)
{
    if (c->unwritten || !(c->worst <= 1.0))
        fail_msg("%s: %lld unwritten; worst element %lld: got %.9g, want %.9g, error %.3g > tolerance %.3g",
                 what, (long long)c->unwritten, (long long)c->at, c->got, c->ref, fabs(c->got - c->ref), c->tol);
}

/* ------------------------------------------------------------ compiling and running */

static TirFunc *compile_example(TirModule **m, const char *file, const char *kernel, const Define *defs, int ndefs)
{
    char path[256];
    snprintf(path, sizeof path, "dsl/examples/%s", file);
    *m = compile_file_or_fail(path, defs, ndefs);
    return module_func(*m, kernel);
}

static void launch_or_fail(TirFunc *f, const KernelArg *args, int nargs)
{
    StrBuf err;
    sb_init(&err);
    if (!interp_launch(f, args, nargs, 0, &err))
        fail_msg("launch of %s failed: %s", f->name, err.data);
    sb_free(&err);
}

/* ------------------------------------------------------------ matmul */

typedef struct {
    int64_t M, N, K;
} MatmulShape;

/* C = A · B with B transposed in memory when b_col_major. Each element's
 * f32 sum adds K exact products (f16 and bf16 products fit in f32) plus one
 * addition per K tile: bound (K + K/BK + 1)·u(f32)·sum|a·b|, then OT's
 * rounding. */
static void run_matmul(TirFunc *f, DType dt, DType ot, int bk, MatmulShape s, bool b_col_major, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    Mat a = mat_new(dt, s.M, s.K, 3, false), b = mat_new(dt, s.K, s.N, 5, b_col_major);
    Mat c = mat_new(ot, s.M, s.N, 7, false);
    mat_fill_normal(&a, &rng, 0.0, 1.0);
    mat_fill_normal(&b, &rng, 0.0, 1.0);
    KernelArg args[3] = { arg_tensor(a.t), arg_tensor(b.t), arg_tensor(c.t) };
    launch_or_fail(f, args, 3);

    double adds = (double)(s.K + (s.K + bk - 1) / bk + 1);
    if (dt == DT_F32)
        adds += (double)s.K; /* f32 products are rounded too */
    Check chk = { 0 };
    for (int64_t i = 0; i < s.M; i++)
        for (int64_t j = 0; j < s.N; j++) {
            double ref = 0.0, mag = 0.0;
            for (int64_t k = 0; k < s.K; k++) {
                double p = mat_get(&a, i, k) * mat_get(&b, k, j);
                ref += p;
                mag += fabs(p);
            }
            double tol = (1.0 + unit_roundoff(ot)) * adds * U32 * mag + round_tol(ot, ref);
            check_elem(&chk, i * s.N + j, mat_get(&c, i, j), ref, tol);
        }
    char what[128];
    snprintf(what, sizeof what, "matmul %s->%s M=%lld N=%lld K=%lld", dtype_name(dt), dtype_name(ot),
             (long long)s.M, (long long)s.N, (long long)s.K);
    check_done(&chk, what);
    mat_check_padding(&c, what);
    tensor_free(&a.buf);
    tensor_free(&b.buf);
    tensor_free(&c.buf);
}

static const MatmulShape matmul_shapes[] = { { 1, 1, 1 }, { 113, 203, 77 }, { 203, 113, 1023 }, { 64, 128, 96 } };

static void check_matmul(DType dt)
{
    const DType outs[2] = { dt, DT_F32 };
    for (int o = 0; o < 2; o++) {
        Define defs[2] = { { "T", dtype_name(dt) }, { "OT", dtype_name(outs[o]) } };
        TirModule *m;
        TirFunc *f = compile_example(&m, "matmul.tsr", "matmul", defs, 2);
        for (size_t i = 0; i < TSR_ARRAY_LEN(matmul_shapes); i++)
            run_matmul(f, dt, outs[o], 32, matmul_shapes[i], i % 2 == 1, 100 + i + 10 * (uint64_t)o);
        tir_module_free(m);
    }
    /* Other tile sizes must give the same answers. */
    Define defs[4] = { { "T", dtype_name(dt) }, { "BM", "16" }, { "BN", "32" }, { "BK", "16" } };
    TirModule *m;
    TirFunc *f = compile_example(&m, "matmul.tsr", "matmul", defs, 4);
    run_matmul(f, dt, dt, 16, matmul_shapes[1], true, 7);
    tir_module_free(m);
}

static void matmul_f16(void **state)
{
    (void)state;
    check_matmul(DT_F16);
}

static void matmul_bf16(void **state)
{
    (void)state;
    check_matmul(DT_BF16);
}

/* f32 operands: the dots run on the CUDA cores on a GPU. */
static void matmul_f32(void **state)
{
    (void)state;
    Define defs[2] = { { "T", "f32" }, { "BK", "16" } };
    TirModule *m;
    TirFunc *f = compile_example(&m, "matmul.tsr", "matmul", defs, 2);
    for (size_t i = 0; i < TSR_ARRAY_LEN(matmul_shapes); i++)
        run_matmul(f, DT_F32, DT_F32, 16, matmul_shapes[i], i % 2 == 1, 300 + i);
    tir_module_free(m);
}

/* matmul_big.tsr: the same products with 128×128 tiles and a resource
 * clause, which changes only how the GPU code is compiled. */
static void matmul_big(void **state)
{
    (void)state;
    Define defs[1] = { { "T", "bf16" } };
    TirModule *m;
    TirFunc *f = compile_example(&m, "matmul_big.tsr", "matmul_big", defs, 1);
    for (size_t i = 0; i < TSR_ARRAY_LEN(matmul_shapes); i++)
        run_matmul(f, DT_BF16, DT_F32, 32, matmul_shapes[i], i % 2 == 1, 400 + i);
    tir_module_free(m);
}

/* ------------------------------------------------------------ softmax */

/* Each output is exp(x - max) / sum. In f32: exp's argument is off by
 * u·|x - max|, exp itself by ~2u, the sum of N positive terms (rescaled once
 * per chunk) by ~N·u; we allow u(f32)·(4N + 16 + 8·max|x - max|) relative
 * error, then T's rounding. */
static void run_softmax(TirFunc *f, DType dt, int64_t M, int64_t N, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    Mat x = mat_new(dt, M, N, 3, false), y = mat_new(dt, M, N, 5, false);
    mat_fill_normal(&x, &rng, 0.5, 3.0);
    KernelArg args[2] = { arg_tensor(x.t), arg_tensor(y.t) };
    launch_or_fail(f, args, 2);

    Check chk = { 0 };
    for (int64_t i = 0; i < M; i++) {
        double mx = -INFINITY, sum = 0.0, spread = 0.0;
        for (int64_t j = 0; j < N; j++)
            mx = fmax(mx, mat_get(&x, i, j));
        for (int64_t j = 0; j < N; j++) {
            sum += exp(mat_get(&x, i, j) - mx);
            spread = fmax(spread, mx - mat_get(&x, i, j));
        }
        double rel = U32 * (4.0 * (double)N + 16.0 + 8.0 * spread);
        for (int64_t j = 0; j < N; j++) {
            double ref = exp(mat_get(&x, i, j) - mx) / sum;
            check_elem(&chk, i * N + j, mat_get(&y, i, j), ref, (1.0 + unit_roundoff(dt)) * rel * ref + round_tol(dt, ref));
        }
    }
    char what[96];
    snprintf(what, sizeof what, "softmax %s M=%lld N=%lld", dtype_name(dt), (long long)M, (long long)N);
    check_done(&chk, what);
    mat_check_padding(&y, what);
    tensor_free(&x.buf);
    tensor_free(&y.buf);
}

static void check_softmax(DType dt)
{
    static const int64_t shapes[][2] = { { 1, 1 }, { 7, 113 }, { 203, 1023 }, { 5, 256 }, { 113, 600 } };
    Define defs[1] = { { "T", dtype_name(dt) } };
    TirModule *m;
    TirFunc *f = compile_example(&m, "softmax.tsr", "softmax", defs, 1);
    for (size_t i = 0; i < TSR_ARRAY_LEN(shapes); i++)
        run_softmax(f, dt, shapes[i][0], shapes[i][1], 200 + i);
    tir_module_free(m);
}

static void softmax_f16(void **state)
{
    (void)state;
    check_softmax(DT_F16);
}

static void softmax_bf16(void **state)
{
    (void)state;
    check_softmax(DT_BF16);
}

static void softmax_f32(void **state)
{
    (void)state;
    check_softmax(DT_F32);
}

/* ------------------------------------------------------------ layer norm */

/* In f32 the mean is off by ~N·u·mean|x| and the variance by ~N·u relative,
 * plus the mean's error over the standard deviation; so x̂ = (x - mean)·rstd
 * is off by at most (4N + 16)·u·(|x̂|·(1 + A·rstd) + A·rstd), A = mean|x|.
 * Then y = x̂·w + b adds a few roundings, and T's rounding. */
static void run_layernorm(TirFunc *f, DType dt, int64_t M, int64_t N, double eps, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    Mat x = mat_new(dt, M, N, 3, false), y = mat_new(dt, M, N, 5, false);
    mat_fill_normal(&x, &rng, 3.0, 2.0); /* |mean| > std: the case two passes are for */
    HostTensor w = vec_new_normal(dt, N, &rng, 1.0, 0.5), b = vec_new_normal(dt, N, &rng, 0.0, 1.0);
    HostTensor mean = vec_new_poisoned(DT_F32, M), rstd = vec_new_poisoned(DT_F32, M);
    KernelArg args[6] = { arg_tensor(x.t), arg_tensor(w), arg_tensor(b), arg_tensor(y.t), arg_tensor(mean),
                          arg_tensor(rstd) };
    launch_or_fail(f, args, 6);

    Check cy = { 0 }, cm = { 0 }, cr = { 0 };
    double n = (double)N, big = 4.0 * n + 16.0;
    for (int64_t i = 0; i < M; i++) {
        double s = 0.0, a = 0.0, ss = 0.0;
        for (int64_t j = 0; j < N; j++) {
            s += mat_get(&x, i, j);
            a += fabs(mat_get(&x, i, j));
        }
        double mu = s / n;
        a /= n;
        for (int64_t j = 0; j < N; j++)
            ss += (mat_get(&x, i, j) - mu) * (mat_get(&x, i, j) - mu);
        double rs = 1.0 / sqrt(ss / n + eps), grow = 1.0 + a * rs;
        check_elem(&cm, i, tensor_get(&mean, i), mu, big * U32 * a + 1e-300);
        check_elem(&cr, i, tensor_get(&rstd, i), rs, big * U32 * rs * grow);
        for (int64_t j = 0; j < N; j++) {
            double xh = (mat_get(&x, i, j) - mu) * rs, wj = tensor_get(&w, j), bj = tensor_get(&b, j);
            double ref = xh * wj + bj;
            double tol = (1.0 + unit_roundoff(dt)) * U32 *
                             (big * fabs(wj) * (fabs(xh) * grow + a * rs) + 4.0 * (fabs(xh * wj) + fabs(bj))) +
                         round_tol(dt, ref);
            check_elem(&cy, i * N + j, mat_get(&y, i, j), ref, tol);
        }
    }
    char what[96];
    snprintf(what, sizeof what, "layernorm %s M=%lld N=%lld: Y", dtype_name(dt), (long long)M, (long long)N);
    check_done(&cy, what);
    mat_check_padding(&y, what);
    snprintf(what, sizeof what, "layernorm %s M=%lld N=%lld: Mean", dtype_name(dt), (long long)M, (long long)N);
    check_done(&cm, what);
    snprintf(what, sizeof what, "layernorm %s M=%lld N=%lld: Rstd", dtype_name(dt), (long long)M, (long long)N);
    check_done(&cr, what);
    tensor_free(&x.buf);
    tensor_free(&y.buf);
    tensor_free(&w);
    tensor_free(&b);
    tensor_free(&mean);
    tensor_free(&rstd);
}

static void check_layernorm(DType dt)
{
    static const int64_t shapes[][2] = { { 1, 1 }, { 113, 203 }, { 7, 1023 }, { 203, 64 } };
    Define defs[2] = { { "T", dtype_name(dt) }, { "EPS", "0.01" } };
    TirModule *m;
    TirFunc *f = compile_example(&m, "layernorm.tsr", "layernorm", defs, 1); /* EPS: its default */
    for (size_t i = 0; i < TSR_ARRAY_LEN(shapes); i++)
        run_layernorm(f, dt, shapes[i][0], shapes[i][1], 1e-5, 300 + i);
    tir_module_free(m);
    f = compile_example(&m, "layernorm.tsr", "layernorm", defs, 2);
    run_layernorm(f, dt, 29, 301, 0.01, 310);
    tir_module_free(m);
}

static void layernorm_f16(void **state)
{
    (void)state;
    check_layernorm(DT_F16);
}

static void layernorm_bf16(void **state)
{
    (void)state;
    check_layernorm(DT_BF16);
}

static void layernorm_f32(void **state)
{
    (void)state;
    check_layernorm(DT_F32);
}

/* ------------------------------------------------------------ two-stage sum */

typedef enum { DATA_SMALL_INTS, DATA_NORMAL, DATA_WIDE_INTS } SumData;

/* Runs partial_sums then sum_partials on N elements and returns S[0]; the
 * exact sum (as double, or modulo 2^32 for i32) and sum|x| come back too. */
static double run_sum(TirFunc *stage1, TirFunc *stage2, DType dt, DType acc, int64_t per_program, int64_t N,
                      SumData data, uint64_t seed, double *exact, double *mag)
{
    Rng rng;
    rng_seed(&rng, seed);
    HostTensor x = tensor_new(dt, 1, &N);
    uint32_t wrapped = 0;
    *exact = 0.0;
    *mag = 0.0;
    for (int64_t i = 0; i < N; i++) {
        double v;
        if (data == DATA_NORMAL) {
            v = rng_normal(&rng);
        } else if (data == DATA_WIDE_INTS) {
            v = (double)(int32_t)(uint32_t)rng_u64(&rng);
        } else {
            v = (double)(1 + (int)(rng_u64(&rng) % 4)); /* never 0: a lost element always shows */
            if (rng_u64(&rng) & 1)
                v = -v;
        }
        tensor_set(&x, i, v);
        v = tensor_get(&x, i);
        *exact += v;
        *mag += fabs(v);
        wrapped += (uint32_t)(int32_t)v;
    }
    if (acc == DT_I32)
        *exact = (double)(int32_t)wrapped;
    int64_t G = (N + per_program - 1) / per_program, one = 1;
    HostTensor p = vec_new_poisoned(acc, G), s = tensor_new(acc, 1, &one);
    tensor_poison(&s);
    KernelArg args1[2] = { arg_tensor(x), arg_tensor(p) };
    launch_or_fail(stage1, args1, 2);
    for (int64_t i = 0; i < G; i++)
        if (acc != DT_I32 && isnan(tensor_get(&p, i)))
            fail_msg("partial_sums left P[%lld] unwritten (N=%lld)", (long long)i, (long long)N);
    KernelArg args2[2] = { arg_tensor(p), arg_tensor(s) };
    launch_or_fail(stage2, args2, 2);
    double got = tensor_get(&s, 0);
    tensor_free(&x);
    tensor_free(&p);
    tensor_free(&s);
    return got;
}

/* With small nonzero integers every partial sum is an integer below 2^24, so
 * f32 adds them exactly: the sum must be exact, and a lost or doubled element
 * shows. With normal data each element goes through at most CHUNKS + BLOCK
 * additions in stage 1 and cdiv(G, BLOCK) + BLOCK in stage 2. */
static void check_sum(DType dt)
{
    static const struct {
        const char *block, *chunks;
        int64_t n;
    } cases[] = { { "1024", "4", 1 }, { "1024", "4", 113 }, { "1024", "4", 4096 }, { "1024", "4", 1000003 },
                  { "64", "2", 203 },   { "64", "2", 100003 } };
    DType acc = dt == DT_I32 ? DT_I32 : DT_F32;
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        Define defs[4] = { { "T", dtype_name(dt) }, { "ACC", dtype_name(acc) }, { "BLOCK", cases[i].block },
                           { "CHUNKS", cases[i].chunks } };
        TirModule *m;
        TirFunc *stage1 = compile_example(&m, "reduce.tsr", "partial_sums", defs, 4);
        TirFunc *stage2 = module_func(m, "sum_partials");
        int64_t block = atoi(cases[i].block), per_program = block * atoi(cases[i].chunks), n = cases[i].n;
        int64_t G = (n + per_program - 1) / per_program;
        const SumData kinds[2] = { DATA_SMALL_INTS, dt == DT_I32 ? DATA_WIDE_INTS : DATA_NORMAL };
        for (int k = 0; k < 2; k++) {
            double exact, mag;
            double got = run_sum(stage1, stage2, dt, acc, per_program, n, kinds[k], 400 + i * 2 + (uint64_t)k,
                                 &exact, &mag);
            double depth = (double)(per_program / block + block + (G + block - 1) / block + block);
            double tol = kinds[k] == DATA_NORMAL ? depth * U32 * mag : 0.0;
            if (isnan(got) || !(fabs(got - exact) <= tol))
                fail_msg("sum %s N=%lld BLOCK=%lld (%s data): got %.17g, want %.17g (tolerance %.3g)", dtype_name(dt),
                         (long long)n, (long long)block, kinds[k] == DATA_NORMAL ? "normal" : "integer", got, exact,
                         tol);
        }
        tir_module_free(m);
    }
}

static void sum_f16(void **state)
{
    (void)state;
    check_sum(DT_F16);
}

static void sum_bf16(void **state)
{
    (void)state;
    check_sum(DT_BF16);
}

static void sum_f32(void **state)
{
    (void)state;
    check_sum(DT_F32);
}

static void sum_i32(void **state)
{
    (void)state;
    check_sum(DT_I32);
}

/* ------------------------------------------------------------ scale, shift, activation */

static double activation(int act, double z, double slope)
{
    if (act == 1)
        return z >= 0.0 ? z : z * slope;
    if (act == 2)
        return z / (1.0 + exp(-z));
    if (act == 3)
        return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
    if (act == 4)
        return 0.5 * z * (1.0 + tanh(sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z)));
    if (act == 5)
        return z * tanh(log1p(exp(z)));
    return z;
}

/* z = x·s + b is off by 2u·(|x·s| + |b|); the activations (slope at most 1,
 * the derivatives of SiLU, GELU and Mish at most 1.13) add a few roundings
 * and the math functions' few units (dsl/README.md §10.1) relative to |y|:
 * we allow 8·u(f32)·(|x·s| + |b| + |y|), then T's rounding. */
static void run_scale_shift(TirFunc *f, DType dt, int act, int64_t M, int64_t N, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    const double slope = 0.125 + 0.75 * rng_uniform(&rng);
    Mat x = mat_new(dt, M, N, 3, false), y = mat_new(dt, M, N, 5, false);
    mat_fill_normal(&x, &rng, 0.0, 2.0);
    HostTensor sc = vec_new_normal(dt, N, &rng, 0.0, 1.0), sh = vec_new_normal(dt, N, &rng, 0.0, 1.0);
    KernelArg args[5] = { arg_tensor(x.t), arg_tensor(sc), arg_tensor(sh), arg_tensor(y.t), arg_scalar(slope) };
    launch_or_fail(f, args, 5);
    double fslope = (float)slope; /* the kernel's slope is an f32 */

    Check chk = { 0 };
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double xs = mat_get(&x, i, j) * tensor_get(&sc, j), b = tensor_get(&sh, j);
            double ref = activation(act, xs + b, fslope);
            double tol = (1.0 + unit_roundoff(dt)) * 8.0 * U32 * (fabs(xs) + fabs(b) + fabs(ref)) + round_tol(dt, ref);
            check_elem(&chk, i * N + j, mat_get(&y, i, j), ref, tol);
        }
    char what[96];
    snprintf(what, sizeof what, "scale_shift %s ACT=%d M=%lld N=%lld", dtype_name(dt), act, (long long)M,
             (long long)N);
    check_done(&chk, what);
    mat_check_padding(&y, what);
    tensor_free(&x.buf);
    tensor_free(&y.buf);
    tensor_free(&sc);
    tensor_free(&sh);
}

static void check_scale_shift(DType dt)
{
    static const int64_t shapes[][2] = { { 1, 1 }, { 113, 203 }, { 203, 1023 } };
    for (int act = 0; act <= 5; act++) {
        char abuf[16];
        snprintf(abuf, sizeof abuf, "%d", act);
        Define defs[2] = { { "T", dtype_name(dt) }, { "ACT", abuf } };
        TirModule *m;
        TirFunc *f = compile_example(&m, "scale_shift.tsr", "scale_shift", defs, 2);
        for (size_t i = 0; i < TSR_ARRAY_LEN(shapes); i++)
            run_scale_shift(f, dt, act, shapes[i][0], shapes[i][1], 500 + i + 10 * (uint64_t)act);
        tir_module_free(m);
    }
}

static void scale_shift_f16(void **state)
{
    (void)state;
    check_scale_shift(DT_F16);
}

static void scale_shift_bf16(void **state)
{
    (void)state;
    check_scale_shift(DT_BF16);
}

static void scale_shift_f32(void **state)
{
    (void)state;
    check_scale_shift(DT_F32);
}

/* Philox4x32-10 in C, from the paper's definition: the reference of the
 * DSL's, itself checked against the known-answer vectors of Random123's
 * kat_vectors (counter, key -> output). */
static void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c[4] = { ctr[0], ctr[1], ctr[2], ctr[3] }, k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        uint32_t n[4] = { (uint32_t)(p1 >> 32) ^ c[1] ^ k0, (uint32_t)p1, (uint32_t)(p0 >> 32) ^ c[3] ^ k1, (uint32_t)p0 };
        memcpy(c, n, sizeof c);
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    memcpy(out, c, sizeof c);
}

static void philox_known_answers(void **state)
{
    (void)state;
    static const uint32_t kat[][10] = {
        { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
        { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
          0x6d5451fd },
        { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
          0x24126ea1 },
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(kat); i++) {
        uint32_t out[4];
        philox4x32_10(kat[i], kat[i] + 4, out);
        for (int w = 0; w < 4; w++)
            assert_int_equal(out[w], kat[i][6 + w]);
    }
}

/* The first Philox word of counter (j, 0, 0, 0), key (seed, 0). */
static uint32_t philox_word(uint32_t j, int32_t seed)
{
    uint32_t ctr[4] = { j, 0, 0, 0 }, key[2] = { (uint32_t)seed, 0 }, out[4];
    philox4x32_10(ctr, key, out);
    return out[0];
}

/* philox: every word equal to the C reference's; dropout: exactly the C
 * reference in f32 (x * (1 / (1 - p)) where (word >> 8) 2^-24 >= p), then
 * rounded to T. */
static void check_dropout(DType dt)
{
    static const int64_t sizes[] = { 1, 1000, 4099 };
    static const int32_t seeds[] = { 0, 42, -7 };
    Define defs[1] = { { "T", dtype_name(dt) } };
    TirModule *m;
    TirFunc *f = compile_example(&m, "dropout.tsr", "dropout", defs, 1);
    TirModule *mp;
    TirFunc *fp = compile_example(&mp, "dropout.tsr", "philox", NULL, 0);
    for (size_t i = 0; i < TSR_ARRAY_LEN(sizes); i++) {
        int64_t shape[1] = { sizes[i] };
        Rng rng;
        rng_seed(&rng, 77 + i);
        HostTensor x = tensor_new(dt, 1, shape), y = tensor_new(dt, 1, shape), r = tensor_new(DT_U32, 1, shape);
        tensor_fill_normal(&x, &rng, 1.0);
        tensor_poison(&y);
        float p = i == 0 ? 0.5f : (float)rng_uniform(&rng);
        KernelArg args[4] = { arg_tensor(x), arg_tensor(y), arg_scalar(seeds[i]), arg_scalar(p) };
        launch_or_fail(f, args, 4);
        KernelArg pargs[2] = { arg_tensor(r), arg_scalar(seeds[i]) };
        launch_or_fail(fp, pargs, 2);
        int64_t kept = 0;
        for (int64_t j = 0; j < sizes[i]; j++) {
            uint32_t w = philox_word((uint32_t)j, seeds[i]);
            assert_int_equal(((const uint32_t *)r.data)[j], w);
            float u = (float)(w >> 8) * 0x1p-24f, scale = 1.0f / (1.0f - p);
            float want = u >= p ? (float)tensor_get(&x, j) * scale : 0.0f;
            kept += u >= p;
            double got = tensor_get(&y, j), ref = (double)round_to_dtype(want, dt);
            if (got != ref)
                fail_msg("dropout %s N=%lld seed %d p %g: element %lld is %.9g, want %.9g", dtype_name(dt),
                         (long long)sizes[i], seeds[i], p, (long long)j, got, ref);
        }
        /* a loose sanity check of the generator: the kept fraction near 1 - p */
        if (sizes[i] > 1000)
            assert_true(fabs((double)kept / (double)sizes[i] - (1.0 - p)) < 0.05);
        tensor_free(&x);
        tensor_free(&y);
        tensor_free(&r);
    }
    tir_module_free(m);
    tir_module_free(mp);
}

static void dropout_f32(void **state)
{
    (void)state;
    check_dropout(DT_F32);
}

static void dropout_f16(void **state)
{
    (void)state;
    check_dropout(DT_F16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_f16),      cmocka_unit_test(matmul_bf16), cmocka_unit_test(matmul_f32), cmocka_unit_test(matmul_big),     cmocka_unit_test(softmax_f16),
        cmocka_unit_test(softmax_bf16),    cmocka_unit_test(softmax_f32),     cmocka_unit_test(layernorm_f16),
        cmocka_unit_test(layernorm_bf16),  cmocka_unit_test(layernorm_f32),   cmocka_unit_test(sum_f16),
        cmocka_unit_test(sum_bf16),        cmocka_unit_test(sum_f32),         cmocka_unit_test(sum_i32),
        cmocka_unit_test(scale_shift_f16), cmocka_unit_test(scale_shift_bf16), cmocka_unit_test(scale_shift_f32),
        cmocka_unit_test(philox_known_answers), cmocka_unit_test(dropout_f32), cmocka_unit_test(dropout_f16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
