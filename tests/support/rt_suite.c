/* The API suite every device passes, and helpers for API tests (see
 * rt_suite.h). Each test compiles small kernels from strings, fills inputs
 * with random values of odd sizes, poisons outputs, and goes through the
 * public API only, so that the same tests hold for interp, emu and cuda. */
#define _POSIX_C_SOURCE 200809L
#include "rt_suite.h"
#include "npy.h"
#include "target.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

/* ------------------------------------------------------------- helpers */

DLDataType dl_dtype(DType dt)
{
    DLDataType d = { kDLFloat, 32, 1 };
    if (dt == DT_F16)
        d.bits = 16;
    else if (dt == DT_BF16) {
        d.code = kDLBfloat;
        d.bits = 16;
    } else if (dt == DT_I32 || dt == DT_I8 || dt == DT_I64) {
        d.code = kDLInt;
        d.bits = (uint8_t)(8 * dtype_size(dt));
    } else if (dt == DT_U8 || dt == DT_U32) {
        d.code = kDLUInt;
        d.bits = (uint8_t)(8 * dtype_size(dt));
    } else if (dtype_is_fp8(dt)) {
        d.code = dt == DT_E4M3 ? NPY_DL_FLOAT8_E4M3FN : NPY_DL_FLOAT8_E5M2;
        d.bits = 8;
    }
    return d;
}

static size_t host_bytes(const HostTensor *h) { return (size_t)tensor_numel(h) * (size_t)dtype_size(h->dt); }

void dev_upload(tsr_context *ctx, const HostTensor *h, DevTensor *d)
{
    memset(d, 0, sizeof *d);
    d->bytes = host_bytes(h);
    if (tsr_malloc(ctx, d->bytes ? d->bytes : 16, &d->mem) != TSR_OK)
        fail_msg("tsr_malloc: %s", tsr_context_error(ctx));
    if (d->bytes && tsr_memcpy(ctx, d->mem, h->data, d->bytes, TSR_COPY_HOST_TO_DEVICE, NULL) != TSR_OK)
        fail_msg("tsr_memcpy: %s", tsr_context_error(ctx));
    d->t.data = d->mem;
    d->t.device = tsr_context_dl_device(ctx);
    d->t.ndim = h->rank;
    d->t.dtype = dl_dtype(h->dt);
    for (int i = 0; i < h->rank; i++) {
        d->shape[i] = h->shape[i];
        d->strides[i] = h->strides[i];
    }
    d->t.shape = d->shape;
    d->t.strides = d->strides;
}

void dev_download(tsr_context *ctx, const DevTensor *d, HostTensor *h)
{
    if (d->bytes && tsr_memcpy(ctx, h->data, d->mem, d->bytes, TSR_COPY_DEVICE_TO_HOST, NULL) != TSR_OK)
        fail_msg("tsr_memcpy: %s", tsr_context_error(ctx));
}

void dev_free(tsr_context *ctx, DevTensor *d)
{
    if (tsr_free(ctx, d->mem) != TSR_OK)
        fail_msg("tsr_free: %s", tsr_context_error(ctx));
    d->mem = NULL;
}

tsr_context *suite_context(tsr_device_kind kind)
{
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = kind;
    o.host_threads = 2;
    tsr_context *ctx;
    tsr_status s = tsr_context_create(&o, &ctx);
    if (s != TSR_OK)
        fail_msg("tsr_context_create: %s: %s", tsr_status_name(s), tsr_context_error(ctx));
    return ctx;
}

tsr_module *suite_compile(tsr_context *ctx, const char *src, const tsr_define *defs, int ndefs)
{
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = defs;
    co.ndefines = ndefs;
    tsr_module *m;
    tsr_status s = tsr_module_compile(ctx, src, strlen(src), &co, &m);
    if (s != TSR_OK)
        fail_msg("compile: %s: %s", tsr_status_name(s), tsr_context_error(ctx));
    return m;
}

char *make_temp_dir(const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    if (!mkdtemp(path))
        fail_msg("mkdtemp %s: %s", path, strerror(errno));
    return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void rm_rf(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

void suite_default_cache_dir(void)
{
    const char *dir = getenv("TESSERA_CACHE_DIR");
    if (dir && *dir)
        return;
    const char *build = getenv("BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/cache", build && *build ? build : "build");
    setenv("TESSERA_CACHE_DIR", path, 1);
}

/* ------------------------------------------------------------- kernels */

static const char axpy_src[] = "// Z = a X + Y\n"
                               "kernel axpy<BLOCK: int = 128>(X: f32[N], Y: f32[N], Z: out f32[N], a: f32)\n"
                               "  grid (cdiv(N, BLOCK)) warps 4\n"
                               "{\n"
                               "    let i = program_id(0) * BLOCK;\n"
                               "    Z[i : +BLOCK] = X[i : +BLOCK] * a + Y[i : +BLOCK];\n"
                               "}\n";

static const char scalars_src[] = "kernel scalars(X: f32[N], Z: out f32[N], h: f16, n: i32, flag: bool)\n"
                                  "  grid (cdiv(N, 128))\n"
                                  "{\n"
                                  "    let i = program_id(0) * 128;\n"
                                  "    let x = X[i : +128];\n"
                                  "    let v = x * f32(h) + f32(n);\n"
                                  "    Z[i : +128] = flag ? v : x;\n"
                                  "}\n";

static const char two_d_src[] = "kernel scale2d(X: f32[M, N], Y: out f32[M, N])\n"
                                "  grid (cdiv(M, 16), cdiv(N, 32)) warps 2\n"
                                "{\n"
                                "    let r = program_id(0) * 16;\n"
                                "    let c = program_id(1) * 32;\n"
                                "    Y[r : +16, c : +32] = X[r : +16, c : +32] * 2.0;\n"
                                "}\n"
                                "kernel rows<C: int = 16>(X: f16[M, C], Y: out f16[M, C])\n"
                                "  grid (cdiv(M, 16))\n"
                                "{\n"
                                "    let r = program_id(0) * 16;\n"
                                "    Y[r : +16, :] = X[r : +16, :] * f16(2);\n"
                                "}\n"
                                "kernel tall(X: f32[N], Y: out f32[N])\n"
                                "  grid (1, N)\n"
                                "{\n"
                                "    let i = program_id(1);\n"
                                "    Y[i] = X[i];\n"
                                "}\n";

static tsr_device_kind device;

typedef struct {
    tsr_context *ctx;
    tsr_module *mod;
    tsr_kernel *k;
    HostTensor x, y, z;
    DevTensor dx, dy, dz;
} Axpy;

/* An axpy kernel with random inputs of n elements bound, Z poisoned. */
static void axpy_setup(Axpy *a, int64_t n, uint64_t seed)
{
    memset(a, 0, sizeof *a);
    a->ctx = suite_context(device);
    a->mod = suite_compile(a->ctx, axpy_src, NULL, 0);
    assert_int_equal(tsr_module_get_kernel(a->mod, "axpy", &a->k), TSR_OK);
    Rng rng;
    rng_seed(&rng, seed);
    a->x = tensor_new(DT_F32, 1, &n);
    a->y = tensor_new(DT_F32, 1, &n);
    a->z = tensor_new(DT_F32, 1, &n);
    tensor_fill_normal(&a->x, &rng, 1.0);
    tensor_fill_normal(&a->y, &rng, 1.0);
    tensor_poison(&a->z);
    dev_upload(a->ctx, &a->x, &a->dx);
    dev_upload(a->ctx, &a->y, &a->dy);
    dev_upload(a->ctx, &a->z, &a->dz);
    assert_int_equal(tsr_kernel_set_tensor(a->k, 0, &a->dx.t), TSR_OK);
    assert_int_equal(tsr_kernel_set_tensor(a->k, 1, &a->dy.t), TSR_OK);
    assert_int_equal(tsr_kernel_set_tensor(a->k, 2, &a->dz.t), TSR_OK);
    assert_int_equal(tsr_kernel_set_scalar(a->k, 3, 1.5), TSR_OK);
}

static void axpy_teardown(Axpy *a)
{
    tensor_free(&a->x);
    tensor_free(&a->y);
    tensor_free(&a->z);
    tsr_module_destroy(a->mod);
    tsr_context_destroy(a->ctx); /* frees the device tensors too */
}

/* Z against a X + Y; returns the number of wrong elements (NaN: unwritten). */
static int64_t axpy_wrong(Axpy *a, double alpha)
{
    dev_download(a->ctx, &a->dz, &a->z);
    int64_t wrong = 0;
    for (int64_t i = 0, n = tensor_numel(&a->z); i < n; i++) {
        double want = alpha * tensor_get(&a->x, i) + tensor_get(&a->y, i), got = tensor_get(&a->z, i);
        if (!(fabs(got - want) <= 1e-5 * (1 + fabs(want))))
            wrong++;
    }
    return wrong;
}

static int64_t count_nan(tsr_context *ctx, const DevTensor *d, HostTensor *h)
{
    dev_download(ctx, d, h);
    int64_t n = 0;
    for (int64_t i = 0, e = tensor_numel(h); i < e; i++)
        n += isnan(tensor_get(h, i));
    return n;
}

static void expect_error(tsr_status got, tsr_status want, const char *msg, const char *part1, const char *part2)
{
    if (got != want || !strstr(msg, part1) || (part2 && !strstr(msg, part2)))
        fail_msg("expected %s with '%s'%s%s%s, got %s: %s", tsr_status_name(want), part1, part2 ? " and '" : "",
                 part2 ? part2 : "", part2 ? "'" : "", tsr_status_name(got), msg);
}

/* The call runs before the message is read. */
#define EXPECT_ERROR(call, want, msg, part1, part2)                                                               \
    do {                                                                                                          \
        tsr_status s_ = (call);                                                                                   \
        expect_error(s_, want, msg, part1, part2);                                                                \
    } while (0)

static void expect_launch_error(tsr_kernel *k, const char *part1, const char *part2)
{
    EXPECT_ERROR(tsr_kernel_launch(k, NULL), TSR_ERR_LAUNCH, tsr_kernel_error(k), part1, part2);
}

/* --------------------------------------------------------------- tests */

static void launch_positional(void **state)
{
    (void)state;
    static const int64_t sizes[] = { 1000, 1, 128, 4099 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        Axpy a;
        axpy_setup(&a, sizes[i], 10 + i);
        assert_int_equal(tsr_kernel_launch(a.k, NULL), TSR_OK);
        assert_int_equal(tsr_stream_synchronize(a.ctx, NULL), TSR_OK);
        assert_int_equal(axpy_wrong(&a, 1.5), 0);
        axpy_teardown(&a);
    }
}

static void launch_named_and_rebound(void **state)
{
    (void)state;
    Axpy a;
    axpy_setup(&a, 777, 3);
    /* Rebind everything by name, in another order, with another scale. */
    assert_int_equal(tsr_kernel_set_scalar_by_name(a.k, "a", -0.25), TSR_OK);
    assert_int_equal(tsr_kernel_set_tensor_by_name(a.k, "Z", &a.dz.t), TSR_OK);
    assert_int_equal(tsr_kernel_set_tensor_by_name(a.k, "Y", &a.dy.t), TSR_OK);
    assert_int_equal(tsr_kernel_set_tensor_by_name(a.k, "X", &a.dx.t), TSR_OK);
    assert_int_equal(tsr_kernel_launch(a.k, NULL), TSR_OK);
    assert_int_equal(tsr_context_synchronize(a.ctx), TSR_OK);
    assert_int_equal(axpy_wrong(&a, -0.25), 0);
    /* Arguments stay bound: swap X and Y only and run again. */
    assert_int_equal(tsr_kernel_set_tensor_by_name(a.k, "X", &a.dy.t), TSR_OK);
    assert_int_equal(tsr_kernel_set_tensor_by_name(a.k, "Y", &a.dx.t), TSR_OK);
    assert_int_equal(tsr_kernel_launch(a.k, NULL), TSR_OK);
    dev_download(a.ctx, &a.dz, &a.z);
    for (int64_t i = 0; i < 777; i++)
        assert_true(fabs(tensor_get(&a.z, i) - (-0.25 * tensor_get(&a.y, i) + tensor_get(&a.x, i))) < 1e-5);
    /* In place: Z = a X + Z, with Z bound as Y too. */
    assert_int_equal(tsr_kernel_set_tensor_by_name(a.k, "X", &a.dx.t), TSR_OK);
    assert_int_equal(tsr_kernel_set_tensor_by_name(a.k, "Y", &a.dy.t), TSR_OK);
    assert_int_equal(tsr_kernel_set_tensor_by_name(a.k, "Z", &a.dy.t), TSR_OK);
    assert_int_equal(tsr_kernel_launch(a.k, NULL), TSR_OK);
    HostTensor y2 = tensor_new(DT_F32, 1, a.y.shape);
    dev_download(a.ctx, &a.dy, &y2);
    for (int64_t i = 0; i < 777; i++)
        assert_true(fabs(tensor_get(&y2, i) - (-0.25 * tensor_get(&a.x, i) + tensor_get(&a.y, i))) < 1e-5);
    tensor_free(&y2);
    /* Binding errors. */
    EXPECT_ERROR(tsr_kernel_set_scalar_by_name(a.k, "alpha", 1), TSR_ERR_NOT_FOUND, tsr_kernel_error(a.k), "'alpha'",
                 "X, Y, Z, a");
    EXPECT_ERROR(tsr_kernel_set_tensor_by_name(a.k, "a", &a.dx.t), TSR_ERR_INVALID_ARGUMENT, tsr_kernel_error(a.k),
                 "'a'", "scalar");
    EXPECT_ERROR(tsr_kernel_set_scalar(a.k, 0, 1), TSR_ERR_INVALID_ARGUMENT, tsr_kernel_error(a.k), "'X'", "tensor");
    EXPECT_ERROR(tsr_kernel_set_tensor(a.k, 4, &a.dx.t), TSR_ERR_INVALID_ARGUMENT, tsr_kernel_error(a.k),
                 "argument 4", "takes 4");
    EXPECT_ERROR(tsr_kernel_set_tensor(a.k, -1, &a.dx.t), TSR_ERR_INVALID_ARGUMENT, tsr_kernel_error(a.k),
                 "argument -1", NULL);
    EXPECT_ERROR(tsr_kernel_set_tensor(a.k, 0, NULL), TSR_ERR_INVALID_ARGUMENT, tsr_kernel_error(a.k), "'X'", "NULL");
    EXPECT_ERROR(tsr_kernel_set_tensor_by_name(a.k, NULL, &a.dx.t), TSR_ERR_INVALID_ARGUMENT, tsr_kernel_error(a.k),
                 "no parameter", NULL);
    assert_int_equal(tsr_kernel_set_scalar(NULL, 0, 1), TSR_ERR_INVALID_ARGUMENT);
    axpy_teardown(&a);
}

/* f16, i32 and bool scalars, converted and packed per the ABI. */
static void scalar_kinds(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    tsr_module *m = suite_compile(ctx, scalars_src, NULL, 0);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m, NULL, &k), TSR_OK);
    int64_t n = 300;
    Rng rng;
    rng_seed(&rng, 5);
    HostTensor x = tensor_new(DT_F32, 1, &n), z = tensor_new(DT_F32, 1, &n);
    tensor_fill_normal(&x, &rng, 1.0);
    DevTensor dx, dz;
    dev_upload(ctx, &x, &dx);
    dev_upload(ctx, &z, &dz);
    tsr_kernel_set_tensor(k, 0, &dx.t);
    tsr_kernel_set_tensor(k, 1, &dz.t);
    for (int flag = 0; flag < 2; flag++) {
        tensor_poison(&z);
        DevTensor fresh;
        dev_upload(ctx, &z, &fresh);
        tsr_kernel_set_tensor(k, 1, &fresh.t);
        tsr_kernel_set_scalar_by_name(k, "h", 0.1); /* rounds to f16 0.0999755859375 */
        tsr_kernel_set_scalar_by_name(k, "n", -7);
        tsr_kernel_set_scalar_by_name(k, "flag", flag ? 3.0 : 0.0);
        assert_int_equal(tsr_kernel_launch(k, NULL), TSR_OK);
        dev_download(ctx, &fresh, &z);
        for (int64_t i = 0; i < n; i++) {
            double xi = tensor_get(&x, i);
            double want = flag ? (double)(float)(xi * 0.0999755859375) - 7 : xi;
            assert_true(fabs(tensor_get(&z, i) - want) < 1e-5);
        }
        dev_free(ctx, &fresh);
    }
    /* An i32 scalar out of range is refused before anything runs. */
    tsr_kernel_set_scalar_by_name(k, "n", 1e10);
    expect_launch_error(k, "'n'", NULL);
    tsr_kernel_set_scalar_by_name(k, "n", 2.5);
    expect_launch_error(k, "'n'", NULL);
    tensor_free(&x);
    tensor_free(&z);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

/* Every check made before a launch: the status, a message naming the
 * parameter and the dimension, and nothing run (Z stays poisoned). */
static void validation_errors(void **state)
{
    (void)state;
    Axpy a;
    axpy_setup(&a, 1000, 7);
    tsr_kernel *k = a.k;
    DLTensor t;

    t = a.dx.t; /* dtype */
    t.dtype.bits = 16;
    tsr_kernel_set_tensor(k, 0, &t);
    expect_launch_error(k, "tensor 'X'", "dtype f32, not f16");
    t.dtype.bits = 64;
    tsr_kernel_set_tensor(k, 0, &t);
    expect_launch_error(k, "tensor 'X' has dtype float64", "not support");
    t.dtype.bits = 32;
    t.dtype.lanes = 4;
    tsr_kernel_set_tensor(k, 0, &t);
    expect_launch_error(k, "tensor 'X' has dtype float32x4", NULL);

    int64_t shape2[2] = { 10, 100 }; /* rank */
    t = a.dx.t;
    t.ndim = 2;
    t.shape = shape2;
    t.strides = NULL;
    tsr_kernel_set_tensor(k, 0, &t);
    expect_launch_error(k, "tensor 'X'", "1 dimensions, not 2");
    int64_t shape5[5] = { 1, 1, 1, 1, 1000 };
    t.ndim = 5;
    t.shape = shape5;
    tsr_kernel_set_tensor(k, 0, &t);
    expect_launch_error(k, "tensor 'X'", "1 dimensions, not 5");
    t = a.dx.t;
    t.shape = NULL;
    tsr_kernel_set_tensor(k, 0, &t);
    expect_launch_error(k, "tensor 'X'", "no shape");

    t = a.dy.t; /* symbolic dims */
    int64_t short_n = 999;
    t.shape = &short_n;
    tsr_kernel_set_tensor(k, 0, &a.dx.t);
    tsr_kernel_set_tensor(k, 1, &t);
    expect_launch_error(k, "dimension 'N' is 1000 in tensor 'X' but 999 in tensor 'Y'", NULL);
    int64_t neg = -5;
    t.shape = &neg;
    tsr_kernel_set_tensor(k, 1, &t);
    expect_launch_error(k, "dimension 0 of tensor 'Y' is -5", NULL);
    tsr_kernel_set_tensor(k, 1, &a.dy.t);

    t = a.dz.t; /* data pointers */
    t.data = NULL;
    tsr_kernel_set_tensor(k, 2, &t);
    expect_launch_error(k, "tensor 'Z'", "null data pointer");
    t = a.dz.t;
    t.byte_offset = 2;
    tsr_kernel_set_tensor(k, 2, &t);
    expect_launch_error(k, "tensor 'Z'", "not aligned to its element size (4 bytes)");

    int64_t stride2 = 2; /* the last dim must be contiguous */
    int64_t half = 500;
    t = a.dz.t;
    t.shape = &half;
    t.strides = &stride2;
    DLTensor tx = a.dx.t, ty = a.dy.t;
    tx.shape = ty.shape = &half;
    tsr_kernel_set_tensor(k, 0, &tx);
    tsr_kernel_set_tensor(k, 1, &ty);
    tsr_kernel_set_tensor(k, 2, &t);
    expect_launch_error(k, "tensor 'Z': dimension 0, the last, has stride 2", "must be 1");
    tsr_kernel_set_tensor(k, 0, &a.dx.t);
    tsr_kernel_set_tensor(k, 1, &a.dy.t);

    t = a.dz.t; /* device */
    if (t.device.device_type == kDLCPU)
        t.device.device_type = kDLCUDA;
    else
        t.device.device_type = kDLCPU;
    tsr_kernel_set_tensor(k, 2, &t);
    expect_launch_error(k, "tensor 'Z' is on", "its tensors must be");
    t = a.dz.t;
    t.device.device_type = kDLVulkan;
    tsr_kernel_set_tensor(k, 2, &t);
    expect_launch_error(k, "tensor 'Z' is on a device Tessera does not run on", NULL);
    tsr_kernel_set_tensor(k, 2, &a.dz.t);

    int64_t grid[3] = { 0 };
    assert_int_equal(tsr_kernel_grid(k, grid), TSR_OK);
    assert_true(grid[0] == 8 && grid[1] == 1 && grid[2] == 1);
    assert_int_equal(count_nan(a.ctx, &a.dz, &a.z), 1000); /* nothing ran */

    /* An unset argument, on a fresh module. */
    tsr_module *m2 = suite_compile(a.ctx, axpy_src, NULL, 0);
    tsr_kernel *k2;
    tsr_module_get_kernel(m2, NULL, &k2);
    tsr_kernel_set_tensor(k2, 0, &a.dx.t);
    expect_launch_error(k2, "argument 1 ('Y') of kernel 'axpy' is not set", NULL);
    EXPECT_ERROR(tsr_kernel_grid(k2, grid), TSR_ERR_LAUNCH, tsr_kernel_error(k2), "'Y'", NULL);
    tsr_module_destroy(m2);
    axpy_teardown(&a);
}

/* Constant dims (like attention's head dim), grid limits, empty grids. */
static void shapes_and_grids(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    tsr_define c16 = { "C", "16" };
    tsr_module *m = suite_compile(ctx, two_d_src, &c16, 1);
    tsr_kernel *rows, *tall;
    assert_int_equal(tsr_module_get_kernel(m, "rows", &rows), TSR_OK);
    assert_int_equal(tsr_module_get_kernel(m, "tall", &tall), TSR_OK);
    Rng rng;
    rng_seed(&rng, 9);
    int64_t bad_shape[2] = { 37, 8 }, good_shape[2] = { 37, 16 };
    HostTensor xb = tensor_new(DT_F16, 2, bad_shape), x = tensor_new(DT_F16, 2, good_shape),
               y = tensor_new(DT_F16, 2, good_shape);
    tensor_fill_normal(&x, &rng, 1.0);
    tensor_poison(&y);
    DevTensor dxb, dx, dy;
    dev_upload(ctx, &xb, &dxb);
    dev_upload(ctx, &x, &dx);
    dev_upload(ctx, &y, &dy);
    tsr_kernel_set_tensor(rows, 0, &dxb.t);
    tsr_kernel_set_tensor(rows, 1, &dy.t);
    expect_launch_error(rows, "dimension 1 of tensor 'X' must be 16, not 8", NULL);
    assert_int_equal(count_nan(ctx, &dy, &y), 37 * 16);
    tsr_kernel_set_tensor(rows, 0, &dx.t);
    assert_int_equal(tsr_kernel_launch(rows, NULL), TSR_OK);
    dev_download(ctx, &dy, &y);
    for (int64_t i = 0; i < 37 * 16; i++)
        assert_true(tensor_get(&y, i) == (double)round_to_dtype((float)(2 * tensor_get(&x, i)), DT_F16));

    /* A grid past 65535 blocks in y is refused; one of 0 blocks runs nothing. */
    int64_t n = 70000;
    HostTensor big = tensor_new(DT_F32, 1, &n);
    DevTensor dbig;
    dev_upload(ctx, &big, &dbig);
    tsr_kernel_set_tensor(tall, 0, &dbig.t);
    tsr_kernel_set_tensor(tall, 1, &dbig.t);
    expect_launch_error(tall, "grid size 1 of kernel 'tall' is 70000", NULL);
    int64_t zero = 0;
    DLTensor empty = dbig.t;
    empty.shape = &zero;
    tsr_kernel_set_tensor(tall, 0, &empty);
    tsr_kernel_set_tensor(tall, 1, &empty);
    int64_t grid[3];
    assert_int_equal(tsr_kernel_grid(tall, grid), TSR_OK);
    assert_true(grid[0] == 1 && grid[1] == 0 && grid[2] == 1);
    assert_int_equal(tsr_kernel_launch(tall, NULL), TSR_OK);
    tensor_free(&big);
    tensor_free(&xb);
    tensor_free(&x);
    tensor_free(&y);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

/* Tensors that are not 16-byte aligned, or whose rows are not, run the
 * variant with scalar accesses (compiled once, on first need); on emu a
 * vector access to them would fault. */
static void unaligned_tensors(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    tsr_module *m = suite_compile(ctx, two_d_src, NULL, 0);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m, "scale2d", &k), TSR_OK);
    Rng rng;
    rng_seed(&rng, 21);
    /* Rows of 45 elements inside rows of 47 (188 bytes: not a multiple of 16),
     * and the start one element in. */
    int64_t M = 33, N = 45, ld = 47;
    int64_t full[2] = { M, ld };
    HostTensor x = tensor_new(DT_F32, 2, full), y = tensor_new(DT_F32, 2, full);
    tensor_fill_normal(&x, &rng, 1.0);
    tensor_poison(&y);
    DevTensor dx, dy;
    dev_upload(ctx, &x, &dx);
    dev_upload(ctx, &y, &dy);
    int64_t shape[2] = { M, N }, strides[2] = { ld, 1 };
    DLTensor tx = dx.t, ty = dy.t;
    tx.shape = ty.shape = shape;
    tx.strides = ty.strides = strides;
    tx.byte_offset = ty.byte_offset = 4;
    tsr_kernel_set_tensor(k, 0, &tx);
    tsr_kernel_set_tensor(k, 1, &ty);
    tsr_cache_stats before, after;
    tsr_context_cache_stats(ctx, &before);
    for (int run = 0; run < 2; run++)
        assert_int_equal(tsr_kernel_launch(k, NULL), TSR_OK);
    tsr_context_cache_stats(ctx, &after);
    if (tsr_context_device_kind(ctx) != TSR_DEVICE_INTERP) /* one more PTX, once */
        assert_int_equal(after.hits + after.misses, before.hits + before.misses + 1);
    dev_download(ctx, &dy, &y);
    for (int64_t r = 0; r < M; r++)
        for (int64_t c = 0; c < ld; c++) {
            double got = tensor_get(&y, r * ld + c);
            if (c >= 1 && c <= N) /* the view starts one element in */
                assert_true(got == 2 * tensor_get(&x, r * ld + c));
            else
                assert_true(isnan(got));
        }
    tensor_free(&x);
    tensor_free(&y);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

/* A module with two kernels, from a file: the two-launch sum. */
static void multi_kernel_file(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    tsr_define defs[] = { { "T", "f32" } };
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = defs;
    co.ndefines = 1;
    tsr_module *m;
    tsr_status s = tsr_module_compile_file(ctx, "dsl/examples/reduce.tsr", &co, &m);
    if (s != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    assert_int_equal(tsr_module_kernel_count(m), 2);
    assert_string_equal(tsr_module_kernel_name(m, 0), "partial_sums");
    assert_string_equal(tsr_module_kernel_name(m, 1), "sum_partials");
    assert_null(tsr_module_kernel_name(m, 2));
    tsr_kernel *k1, *k2;
    EXPECT_ERROR(tsr_module_get_kernel(m, NULL, &k1), TSR_ERR_NOT_FOUND, tsr_module_error(m), "2 kernels",
                 "'partial_sums', 'sum_partials'");
    EXPECT_ERROR(tsr_module_get_kernel(m, "sum", &k1), TSR_ERR_NOT_FOUND, tsr_module_error(m), "'sum'",
                 "'partial_sums'");
    assert_int_equal(tsr_module_get_kernel(m, "partial_sums", &k1), TSR_OK);
    assert_int_equal(tsr_module_get_kernel(m, "sum_partials", &k2), TSR_OK);
    assert_ptr_equal(tsr_kernel_module(k1), m);
    assert_string_equal(tsr_kernel_name(k2), "sum_partials");
    int64_t n = 10007, g = (n + 4095) / 4096, one = 1;
    Rng rng;
    rng_seed(&rng, 1);
    HostTensor x = tensor_new(DT_F32, 1, &n), p = tensor_new(DT_F32, 1, &g), sum = tensor_new(DT_F32, 1, &one);
    tensor_fill_uniform(&x, &rng, -1, 1);
    tensor_poison(&p);
    tensor_poison(&sum);
    DevTensor dx, dp, ds;
    dev_upload(ctx, &x, &dx);
    dev_upload(ctx, &p, &dp);
    dev_upload(ctx, &sum, &ds);
    tsr_kernel_set_tensor_by_name(k1, "X", &dx.t);
    tsr_kernel_set_tensor_by_name(k1, "P", &dp.t);
    tsr_kernel_set_tensor_by_name(k2, "P", &dp.t);
    tsr_kernel_set_tensor_by_name(k2, "S", &ds.t);
    assert_int_equal(tsr_kernel_launch(k1, NULL), TSR_OK);
    assert_int_equal(tsr_kernel_launch(k2, NULL), TSR_OK);
    dev_download(ctx, &ds, &sum);
    double want = 0;
    for (int64_t i = 0; i < n; i++)
        want += tensor_get(&x, i);
    assert_true(fabs(tensor_get(&sum, 0) - want) < 1e-3);
    /* Parameters as declared. */
    tsr_param_info pi;
    assert_int_equal(tsr_kernel_param_count(k1), 2);
    assert_int_equal(tsr_kernel_param_info(k1, 1, &pi), TSR_OK);
    assert_string_equal(pi.name, "P");
    assert_true(pi.is_tensor && pi.is_output && pi.ndim == 1);
    assert_string_equal(pi.dim_names[0], "G");
    assert_int_equal(pi.dim_values[0], -1);
    assert_true(pi.dtype.code == kDLFloat && pi.dtype.bits == 32 && pi.dtype.lanes == 1);
    assert_int_equal(tsr_kernel_param_index(k1, "X"), 0);
    assert_int_equal(tsr_kernel_param_index(k1, "Q"), -1);
    EXPECT_ERROR(tsr_kernel_param_info(k1, 2, &pi), TSR_ERR_INVALID_ARGUMENT, tsr_kernel_error(k1), "parameter 2",
                 "it has 2");
    tensor_free(&x);
    tensor_free(&p);
    tensor_free(&sum);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

static void param_info_constant_dims(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    tsr_define c = { "C", "32" };
    tsr_module *m = suite_compile(ctx, two_d_src, &c, 1);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m, "rows", &k), TSR_OK);
    tsr_param_info pi;
    assert_int_equal(tsr_kernel_param_info(k, 0, &pi), TSR_OK);
    assert_string_equal(pi.name, "X");
    assert_false(pi.is_output);
    assert_int_equal(pi.ndim, 2);
    assert_string_equal(pi.dim_names[0], "M");
    assert_null(pi.dim_names[1]);
    assert_int_equal(pi.dim_values[1], 32);
    assert_true(pi.dtype.code == kDLFloat && pi.dtype.bits == 16);
    tsr_module *s = suite_compile(ctx, scalars_src, NULL, 0);
    tsr_module_get_kernel(s, NULL, &k);
    assert_int_equal(tsr_kernel_param_info(k, 3, &pi), TSR_OK);
    assert_string_equal(pi.name, "n");
    assert_false(pi.is_tensor);
    assert_int_equal(pi.ndim, 0);
    assert_true(pi.dtype.code == kDLInt && pi.dtype.bits == 32);
    tsr_module_destroy(m);
    tsr_module_destroy(s);
    tsr_context_destroy(ctx);
}

static void compile_errors(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    tsr_module *m = (tsr_module *)1;
    /* Two errors, each with its position, the line and a caret. */
    const char *bad = "kernel k(X: f32[N], Y: out f32[N]) grid (1)\n"
                      "{\n"
                      "    let a = X[0 : +16] + undefined_name;\n"
                      "    Y[0 : +16] = a * nope;\n"
                      "}\n";
    tsr_status s = tsr_module_compile(ctx, bad, strlen(bad), NULL, &m);
    assert_int_equal(s, TSR_ERR_COMPILE);
    assert_null(m);
    const char *msg = tsr_context_error(ctx);
    if (!strstr(msg, "<string>:3:26: error:") || !strstr(msg, "<string>:4:22: error:") ||
        !strstr(msg, "    let a = X[0 : +16] + undefined_name;\n                         ^\n"))
        fail_msg("diagnostics: %s", msg);
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.source_name = "mine.tsr";
    assert_int_equal(tsr_module_compile(ctx, bad, strlen(bad), &co, &m), TSR_ERR_COMPILE);
    assert_non_null(strstr(tsr_context_error(ctx), "mine.tsr:3:26: error:"));
    /* Only `len` bytes count: the text past it is not compiled. */
    assert_int_equal(tsr_module_compile(ctx, axpy_src, 10, NULL, &m), TSR_ERR_COMPILE);
    /* Defines: missing, unknown, malformed. */
    tsr_define d = { "BLOCK", "100" };
    co.source_name = NULL;
    co.defines = &d;
    co.ndefines = 1;
    assert_int_equal(tsr_module_compile(ctx, axpy_src, strlen(axpy_src), &co, &m), TSR_ERR_COMPILE);
    assert_non_null(strstr(tsr_context_error(ctx), "error"));
    d.name = "NOT_A_PARAM";
    assert_int_equal(tsr_module_compile(ctx, axpy_src, strlen(axpy_src), &co, &m), TSR_ERR_COMPILE);
    assert_non_null(strstr(tsr_context_error(ctx), "NOT_A_PARAM"));
    d.value = NULL;
    EXPECT_ERROR(tsr_module_compile(ctx, axpy_src, strlen(axpy_src), &co, &m), TSR_ERR_INVALID_ARGUMENT,
                 tsr_context_error(ctx), "define 0", "NULL value");
    co.ndefines = -1;
    assert_int_equal(tsr_module_compile(ctx, axpy_src, strlen(axpy_src), &co, &m), TSR_ERR_INVALID_ARGUMENT);
    co.ndefines = 0;
    co.kernel = "nope";
    EXPECT_ERROR(tsr_module_compile(ctx, axpy_src, strlen(axpy_src), &co, &m), TSR_ERR_COMPILE, tsr_context_error(ctx),
                 "no kernel named 'nope'", NULL);
    co.kernel = NULL;
    co.target = "sm_75";
    EXPECT_ERROR(tsr_module_compile(ctx, axpy_src, strlen(axpy_src), &co, &m), TSR_ERR_INVALID_ARGUMENT,
                 tsr_context_error(ctx), "unknown target 'sm_75'", NULL);
    co.target = NULL;
    co.keep_ir = 1u << 7;
    assert_int_equal(tsr_module_compile(ctx, axpy_src, strlen(axpy_src), &co, &m), TSR_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(tsr_module_compile_file(ctx, "no/such/file.tsr", NULL, &m), TSR_ERR_IO, tsr_context_error(ctx),
                 "no/such/file.tsr", "No such file");
    assert_int_equal(tsr_module_compile(ctx, NULL, 0, NULL, &m), TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_module_compile(ctx, axpy_src, strlen(axpy_src), NULL, NULL), TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_module_compile(NULL, axpy_src, strlen(axpy_src), NULL, &m), TSR_ERR_INVALID_ARGUMENT);
    /* The context still works after all that. */
    m = suite_compile(ctx, axpy_src, NULL, 0);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

static void ir_dumps(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    bool ptx_device = tsr_context_device_kind(ctx) != TSR_DEVICE_INTERP;
    tsr_module *m = suite_compile(ctx, axpy_src, NULL, 0);
    assert_null(tsr_module_ir(m, NULL, TSR_IR_TIR));
    assert_null(tsr_module_ir(m, "axpy", TSR_IR_LLVM));
    assert_true((tsr_module_ir(m, NULL, TSR_IR_PTX) != NULL) == ptx_device);
    assert_null(tsr_module_ir(m, "other", TSR_IR_PTX));
    tsr_module_destroy(m);
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.keep_ir = TSR_IR_TIR | TSR_IR_LLVM | TSR_IR_PTX;
    /* Another target than the default, except on a GPU, which runs only its own. */
    co.target = tsr_context_device_kind(ctx) == TSR_DEVICE_CUDA ? tsr_context_default_target(ctx) : target_at(0)->name;
    char target_line[32];
    snprintf(target_line, sizeof target_line, ".target %s", co.target);
    assert_int_equal(tsr_module_compile(ctx, axpy_src, strlen(axpy_src), &co, &m), TSR_OK);
    const char *tir = tsr_module_ir(m, NULL, TSR_IR_TIR), *llvm = tsr_module_ir(m, NULL, TSR_IR_LLVM),
               *ptx = tsr_module_ir(m, "axpy", TSR_IR_PTX);
    assert_non_null(tir);
    assert_non_null(llvm);
    assert_non_null(ptx);
    assert_non_null(strstr(tir, "axpy"));
    assert_non_null(strstr(llvm, "define"));
    assert_non_null(strstr(ptx, target_line));
    assert_non_null(strstr(ptx, ".entry axpy"));
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

static void attributes(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    tsr_module *m = suite_compile(ctx, two_d_src, NULL, 0);
    tsr_kernel *k;
    tsr_module_get_kernel(m, "scale2d", &k);
    tsr_kernel_attributes a;
    assert_int_equal(tsr_kernel_get_attributes(k, &a), TSR_OK);
    assert_int_equal(a.threads, 64); /* warps 2 */
    if (tsr_context_device_kind(ctx) != TSR_DEVICE_INTERP) {
        assert_true(a.num_regs > 0);
        assert_true(a.max_dynamic_smem >= 48 * 1024);
    }
    assert_int_equal(tsr_kernel_get_attributes(NULL, &a), TSR_ERR_INVALID_ARGUMENT);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

/* A kernel whose tiles need more shared memory than a GPU block of the
 * target may have is refused when it is compiled, at the source position of
 * its largest shared tile (the launch still checks the device's limit, for
 * PTX loaded as it is). */
static void shared_memory_limit(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    if (tsr_context_device_kind(ctx) == TSR_DEVICE_INTERP) {
        tsr_context_destroy(ctx);
        TEST_SKIP("the interpreter has no shared memory");
    }
    tsr_define defs[] = { { "T", "f16" }, { "BM", "64" }, { "BN", "64" }, { "BK", "1024" } };
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = defs;
    co.ndefines = 4;
    tsr_module *m = (tsr_module *)1;
    assert_int_equal(tsr_module_compile_file(ctx, "dsl/examples/matmul.tsr", &co, &m), TSR_ERR_COMPILE);
    assert_null(m);
    const char *msg = tsr_context_error(ctx);
    if (!strstr(msg, "matmul.tsr:25:25: error: kernel 'matmul' needs") ||
        !strstr(msg, "bytes of shared memory per block, more than the"))
        fail_msg("diagnostics: %s", msg);
    tsr_context_destroy(ctx);
}

static void buffers(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    void *a, *b;
    assert_int_equal(tsr_malloc(ctx, 0, &a), TSR_OK);
    assert_null(a);
    assert_int_equal(tsr_malloc(ctx, 1000, &a), TSR_OK);
    assert_int_equal(tsr_malloc(ctx, 1000, &b), TSR_OK);
    assert_true(((uintptr_t)a & 255) == 0);
    unsigned char host[1000], back[1000];
    for (int i = 0; i < 1000; i++)
        host[i] = (unsigned char)(i * 7);
    assert_int_equal(tsr_memcpy(ctx, a, host, 1000, TSR_COPY_HOST_TO_DEVICE, NULL), TSR_OK);
    assert_int_equal(tsr_memset(ctx, b, 0xab, 1000, NULL), TSR_OK);
    assert_int_equal(tsr_memcpy(ctx, b, a, 500, TSR_COPY_DEVICE_TO_DEVICE, NULL), TSR_OK);
    assert_int_equal(tsr_memcpy(ctx, back, b, 1000, TSR_COPY_DEVICE_TO_HOST, NULL), TSR_OK);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(back[i], i < 500 ? host[i] : 0xab);
    assert_int_equal(tsr_memcpy(ctx, back, b, 0, TSR_COPY_DEVICE_TO_HOST, NULL), TSR_OK);
    EXPECT_ERROR(tsr_memcpy(ctx, NULL, b, 4, TSR_COPY_DEVICE_TO_HOST, NULL), TSR_ERR_INVALID_ARGUMENT,
                 tsr_context_error(ctx), "dst is NULL", NULL);
    EXPECT_ERROR(tsr_memcpy(ctx, back, b, 4, (tsr_copy_kind)9, NULL), TSR_ERR_INVALID_ARGUMENT, tsr_context_error(ctx),
                 "copy kind 9", NULL);
    EXPECT_ERROR(tsr_memset(ctx, NULL, 0, 4, NULL), TSR_ERR_INVALID_ARGUMENT, tsr_context_error(ctx), "NULL", NULL);
    EXPECT_ERROR(tsr_free(ctx, host), TSR_ERR_INVALID_ARGUMENT, tsr_context_error(ctx), "not allocated by tsr_malloc",
                 NULL);
    assert_int_equal(tsr_malloc(ctx, 8, NULL), TSR_ERR_INVALID_ARGUMENT);
    assert_int_equal(tsr_free(ctx, a), TSR_OK);
    EXPECT_ERROR(tsr_free(ctx, a), TSR_ERR_INVALID_ARGUMENT, tsr_context_error(ctx), "not allocated", NULL);
    assert_int_equal(tsr_free(ctx, NULL), TSR_OK);
    assert_int_equal(tsr_stream_synchronize(ctx, NULL), TSR_OK);
    assert_int_equal(tsr_context_synchronize(ctx), TSR_OK);
    tsr_context_destroy(ctx); /* frees b */
}

static void context_info(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(device);
    assert_int_equal(tsr_context_device_kind(ctx), device);
    DLDevice d = tsr_context_dl_device(ctx);
    const char *name = tsr_context_device_name(ctx);
    switch (device) {
    case TSR_DEVICE_INTERP:
        assert_string_equal(name, "interp");
        assert_int_equal(d.device_type, kDLCPU);
        break;
    case TSR_DEVICE_EMU:
        assert_string_equal(name, "emu");
        assert_int_equal(d.device_type, kDLCPU);
        break;
    default:
        assert_true(!strncmp(name, "cuda:0 ", 7));
        assert_int_equal(d.device_type, kDLCUDA);
        break;
    }
    const char *t = tsr_context_default_target(ctx);
    assert_non_null(target_lookup(t));
    assert_string_equal(tsr_context_error(ctx), "");
    tsr_context_destroy(ctx);
}

int rt_suite_run(tsr_device_kind kind, const char *group_name)
{
    device = kind;
    suite_default_cache_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(context_info),
        cmocka_unit_test(launch_positional),
        cmocka_unit_test(launch_named_and_rebound),
        cmocka_unit_test(scalar_kinds),
        cmocka_unit_test(validation_errors),
        cmocka_unit_test(shapes_and_grids),
        cmocka_unit_test(unaligned_tensors),
        cmocka_unit_test(multi_kernel_file),
        cmocka_unit_test(param_info_constant_dims),
        cmocka_unit_test(compile_errors),
        cmocka_unit_test(ir_dumps),
        cmocka_unit_test(attributes),
        cmocka_unit_test(shared_memory_limit),
        cmocka_unit_test(buffers),
    };
    return _cmocka_run_group_tests(group_name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}

static char skip_reason[1024];

static void suite_unavailable(void **state)
{
    (void)state;
    TEST_SKIP("%s", skip_reason);
}

int rt_suite_skip(const char *group_name, const char *reason)
{
    snprintf(skip_reason, sizeof skip_reason, "%s", reason);
    const struct CMUnitTest tests[] = { cmocka_unit_test(suite_unavailable) };
    return _cmocka_run_group_tests(group_name, tests, 1, NULL, NULL);
}
