/* The cuda device. Without a driver: the distinct status and a message that
 * says what to do. With the machine's driver, when there is one: a launch
 * on the GPU (skipped, with the reason, otherwise; on a GPU machine
 * test_runtime runs the whole API suite on cuda). With a mock driver
 * (tests/mock/libcuda_mock.c: the driver API over the PTX emulator, opened
 * through TESSERA_LIBCUDA): the whole API suite, plus what only cuda does:
 * the device's limits, dynamic shared memory above 48 KB, the driver's logs
 * when it refuses PTX, host pointers given as GPU memory, faults surfacing at
 * synchronization, the primary context pushed and popped around every
 * call, and tensor maps asked of cuTensorMapEncodeTiled (once per tensor
 * description) for a kernel that takes one (tests/support/tma_fixture.h). */
#define _POSIX_C_SOURCE 200809L
#include "attn_check.h"
#include "hopper_gemm.h"
#include "mock/libcuda_mock.h"
#include "rt_suite.h"
#include "tma_fixture.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

typedef struct {
    long launches, loads, set_smem_calls, last_set_smem;
    unsigned last_grid[3], last_block[3], last_smem;
    int live_allocs;
    void *last_stream;
    int live_streams;
} MockStats;

static char mock_path[8192];
static MockStats (*mock_stats)(void);
static int (*mock_depth)(void);
static MockTensorMapCall (*mock_tensor_maps)(void);

static tsr_context *cuda_context(tsr_status *status)
{
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_CUDA;
    tsr_context *ctx;
    *status = tsr_context_create(&o, &ctx);
    return ctx;
}

static void no_driver(void **state)
{
    (void)state;
    setenv("TESSERA_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
    tsr_status s;
    tsr_context *ctx = cuda_context(&s);
    assert_int_equal(s, TSR_ERR_NO_DEVICE);
    const char *msg = tsr_context_error(ctx);
    if (!strstr(msg, "NVIDIA driver") || !strstr(msg, "/nonexistent/libcuda.so.1") || !strstr(msg, "TSR_DEVICE_EMU"))
        fail_msg("message: %s", msg);
    tsr_context_destroy(ctx);
    /* AUTO falls back to the emulator. */
    assert_int_equal(tsr_context_create(NULL, &ctx), TSR_OK);
    assert_int_equal(tsr_context_device_kind(ctx), TSR_DEVICE_EMU);
    tsr_context_destroy(ctx);
    unsetenv("TESSERA_LIBCUDA");
}

static const char copy_src[] = "kernel copy(X: f32[N], Y: out f32[N]) grid (cdiv(N, 128)) {\n"
                               "    let i = program_id(0) * 128;\n"
                               "    Y[i : +128] = X[i : +128];\n"
                               "}\n";

/* The machine's own driver and GPU, when there are: a copy kernel end to
 * end (test_runtime runs the whole API suite there). */
static void real_gpu(void **state)
{
    (void)state;
    unsetenv("TESSERA_LIBCUDA");
    tsr_status s;
    tsr_context *ctx = cuda_context(&s);
    if (s != TSR_OK) {
        assert_true(s == TSR_ERR_NO_DEVICE || s == TSR_ERR_UNSUPPORTED);
        char why[512];
        snprintf(why, sizeof why, "%s", tsr_context_error(ctx));
        tsr_context_destroy(ctx);
        TEST_SKIP("no usable GPU here: %s: %s", tsr_status_name(s), why);
    }
    printf("running on %s\n", tsr_context_device_name(ctx));
    tsr_module *m = suite_compile(ctx, copy_src, NULL, 0);
    tsr_kernel *k;
    tsr_module_get_kernel(m, NULL, &k);
    int64_t n = 1000;
    HostTensor h = tensor_new(DT_F32, 1, &n), out = tensor_new(DT_F32, 1, &n);
    Rng rng;
    rng_seed(&rng, 2);
    tensor_fill_normal(&h, &rng, 1);
    tensor_poison(&out);
    DevTensor x, y;
    dev_upload(ctx, &h, &x);
    dev_upload(ctx, &out, &y);
    tsr_kernel_set_tensor(k, 0, &x.t);
    tsr_kernel_set_tensor(k, 1, &y.t);
    if (tsr_kernel_launch(k, NULL) != TSR_OK || tsr_stream_synchronize(ctx, NULL) != TSR_OK)
        fail_msg("%s %s", tsr_kernel_error(k), tsr_context_error(ctx));
    dev_download(ctx, &y, &out);
    assert_memory_equal(out.data, h.data, sizeof(float) * 1000);
    tsr_kernel_attributes a;
    tsr_kernel_get_attributes(k, &a);
    printf("copy kernel: %d registers, %zu bytes of local memory\n", a.num_regs, a.local_bytes);
    tensor_free(&h);
    tensor_free(&out);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

/* Events on the cuda device (what tessera-bench times with), through the
 * mock driver's events, which read the host clock. */
static void mock_events(void **state);

static bool use_mock(void)
{
    if (!mock_stats)
        return false;
    setenv("TESSERA_LIBCUDA", mock_path, 1);
    return true;
}

#define NEED_MOCK()                                                                                               \
    do {                                                                                                          \
        if (!use_mock()) {                                                                                        \
            TEST_SKIP("no mock driver at %s (built only with CUDA's cuda.h)", mock_path);                        \
        }                                                                                                         \
    } while (0)

static void mock_contexts(void **state)
{
    (void)state;
    NEED_MOCK();
    tsr_status s;
    tsr_context *ctx = cuda_context(&s);
    assert_int_equal(s, TSR_OK);
    assert_string_equal(tsr_context_device_name(ctx), "cuda:0 Tessera mock GPU (sm_80, driver 12.4)");
    assert_string_equal(tsr_context_default_target(ctx), "sm_80");
    DLDevice d = tsr_context_dl_device(ctx);
    assert_true(d.device_type == kDLCUDA && d.device_id == 0);
    tsr_context_destroy(ctx);
    /* AUTO picks the GPU. */
    assert_int_equal(tsr_context_create(NULL, &ctx), TSR_OK);
    assert_int_equal(tsr_context_device_kind(ctx), TSR_DEVICE_CUDA);
    tsr_context_destroy(ctx);
    setenv("MOCK_CUDA_CC", "90", 1);
    ctx = cuda_context(&s);
    assert_string_equal(tsr_context_default_target(ctx), "sm_90a");
    tsr_context_destroy(ctx);
    setenv("MOCK_CUDA_CC", "100", 1);
    ctx = cuda_context(&s);
    assert_string_equal(tsr_context_default_target(ctx), "sm_90");
    tsr_context_destroy(ctx);
    setenv("MOCK_CUDA_CC", "75", 1);
    ctx = cuda_context(&s);
    assert_int_equal(s, TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "compute capability 7.5"));
    tsr_context_destroy(ctx);
    unsetenv("MOCK_CUDA_CC");
    setenv("MOCK_CUDA_NO_DEVICE", "1", 1);
    ctx = cuda_context(&s);
    assert_int_equal(s, TSR_ERR_NO_DEVICE);
    assert_non_null(strstr(tsr_context_error(ctx), "CUDA_ERROR_NO_DEVICE"));
    tsr_context_destroy(ctx);
    unsetenv("MOCK_CUDA_NO_DEVICE");
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_CUDA;
    o.device_ordinal = 1;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_ERR_NO_DEVICE);
    assert_non_null(strstr(tsr_context_error(ctx), "there is no GPU 1"));
    tsr_context_destroy(ctx);
    assert_int_equal(mock_depth(), 0);
}

static void mock_host_pointer_and_faults(void **state)
{
    (void)state;
    NEED_MOCK();
    tsr_status s;
    tsr_context *ctx = cuda_context(&s);
    tsr_module *m = suite_compile(ctx, copy_src, NULL, 0);
    tsr_kernel *k;
    tsr_module_get_kernel(m, NULL, &k);
    int64_t n = 300;
    HostTensor h = tensor_new(DT_F32, 1, &n);
    DevTensor x, y;
    dev_upload(ctx, &h, &x);
    dev_upload(ctx, &h, &y);
    /* Host memory passed as a GPU tensor. */
    DLTensor bad = x.t;
    bad.data = h.data;
    tsr_kernel_set_tensor(k, 0, &bad);
    tsr_kernel_set_tensor(k, 1, &y.t);
    assert_int_equal(tsr_kernel_launch(k, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_kernel_error(k), "tensor 'X'"));
    assert_non_null(strstr(tsr_kernel_error(k), "not GPU memory"));
    /* The launch's geometry. */
    tsr_kernel_set_tensor(k, 0, &x.t);
    long before = mock_stats().launches;
    assert_int_equal(tsr_kernel_launch(k, NULL), TSR_OK);
    MockStats st = mock_stats();
    assert_int_equal(st.launches, before + 1);
    assert_true(st.last_grid[0] == 3 && st.last_grid[1] == 1 && st.last_grid[2] == 1);
    assert_true(st.last_block[0] == 128 && st.last_block[1] == 1 && st.last_block[2] == 1);
    /* A launch the driver refuses, and a fault found at synchronization. */
    setenv("MOCK_CUDA_FAIL_LAUNCH", "1", 1);
    assert_int_equal(tsr_kernel_launch(k, NULL), TSR_ERR_DEVICE);
    assert_non_null(strstr(tsr_kernel_error(k), "cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED"));
    unsetenv("MOCK_CUDA_FAIL_LAUNCH");
    setenv("MOCK_CUDA_FAULT", "1", 1);
    assert_int_equal(tsr_kernel_launch(k, NULL), TSR_OK);
    unsetenv("MOCK_CUDA_FAULT");
    assert_int_equal(tsr_stream_synchronize(ctx, NULL), TSR_ERR_DEVICE);
    assert_non_null(strstr(tsr_context_error(ctx), "CUDA_ERROR_ILLEGAL_ADDRESS"));
    assert_int_equal(tsr_context_synchronize(ctx), TSR_OK);
    /* Device memory running out. */
    setenv("MOCK_CUDA_OOM", "1", 1);
    void *p;
    assert_int_equal(tsr_malloc(ctx, 1 << 20, &p), TSR_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(tsr_context_error(ctx), "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY"));
    unsetenv("MOCK_CUDA_OOM");
    /* Too many threads for the compiled function (its registers). */
    setenv("MOCK_CUDA_FUNC_MAX_THREADS", "64", 1);
    tsr_module *m2 = suite_compile(ctx, copy_src, NULL, 0);
    tsr_kernel *k2;
    tsr_module_get_kernel(m2, NULL, &k2);
    tsr_kernel_set_tensor(k2, 0, &x.t);
    tsr_kernel_set_tensor(k2, 1, &y.t);
    assert_int_equal(tsr_kernel_launch(k2, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_kernel_error(k2), "needs 128 threads per block; the device allows 64"));
    tsr_kernel_attributes a;
    tsr_kernel_get_attributes(k2, &a);
    assert_int_equal(a.max_threads, 64);
    unsetenv("MOCK_CUDA_FUNC_MAX_THREADS");
    tensor_free(&h);
    tsr_module_destroy(m);
    tsr_module_destroy(m2);
    tsr_context_destroy(ctx);
    assert_int_equal(mock_depth(), 0);
}

static void mock_driver_refuses_ptx(void **state)
{
    (void)state;
    NEED_MOCK();
    tsr_status s;
    tsr_context *ctx = cuda_context(&s);
    setenv("MOCK_CUDA_FAIL_LOAD", "1", 1);
    tsr_module *m;
    s = tsr_module_compile(ctx, copy_src, strlen(copy_src), NULL, &m);
    unsetenv("MOCK_CUDA_FAIL_LOAD");
    assert_int_equal(s, TSR_ERR_DEVICE);
    const char *msg = tsr_context_error(ctx);
    if (!strstr(msg, "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX") || !strstr(msg, "kernel 'copy'") ||
        !strstr(msg, "error log:\nmock ptxas fatal: refused on purpose") ||
        !strstr(msg, "info log:\nmock ptxas info: compiling"))
        fail_msg("message: %s", msg);
    /* PTX for a newer GPU than this one. */
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.target = "sm_90a";
    s = tsr_module_compile(ctx, copy_src, strlen(copy_src), &co, &m);
    assert_int_equal(s, TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "compiled for sm_90a, which GPU 0 (sm_80) cannot run"));
    tsr_context_destroy(ctx);
    assert_int_equal(mock_depth(), 0);
}

/* A matmul whose tiles need more than 48 KB of shared memory: the runtime
 * opts in (cuFuncSetAttribute) and the result is right. */
static void mock_large_shared_memory(void **state)
{
    (void)state;
    NEED_MOCK();
    tsr_status s;
    tsr_context *ctx = cuda_context(&s);
    tsr_define defs[] = { { "T", "f16" }, { "OT", "f32" }, { "BM", "64" }, { "BN", "64" }, { "BK", "128" } };
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = defs;
    co.ndefines = 5;
    tsr_module *m;
    if (tsr_module_compile_file(ctx, "dsl/examples/matmul.tsr", &co, &m) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    tsr_kernel *k;
    tsr_module_get_kernel(m, NULL, &k);
    tsr_kernel_attributes a;
    tsr_kernel_get_attributes(k, &a);
    assert_true(a.dynamic_smem > 48 * 1024 && a.dynamic_smem <= a.max_dynamic_smem);
    assert_true(a.num_regs > 0);
    MockStats st = mock_stats();
    assert_int_equal(st.last_set_smem, (long)a.dynamic_smem);
    int64_t M = 70, K = 200, N = 90, as[2] = { M, K }, bs[2] = { K, N }, cs[2] = { M, N };
    Rng rng;
    rng_seed(&rng, 4);
    HostTensor A = tensor_new(DT_F16, 2, as), B = tensor_new(DT_F16, 2, bs), C = tensor_new(DT_F32, 2, cs);
    tensor_fill_normal(&A, &rng, 1.0);
    tensor_fill_normal(&B, &rng, 1.0);
    tensor_poison(&C);
    DevTensor dA, dB, dC;
    dev_upload(ctx, &A, &dA);
    dev_upload(ctx, &B, &dB);
    dev_upload(ctx, &C, &dC);
    tsr_kernel_set_tensor_by_name(k, "A", &dA.t);
    tsr_kernel_set_tensor_by_name(k, "B", &dB.t);
    tsr_kernel_set_tensor_by_name(k, "C", &dC.t);
    if (tsr_kernel_launch(k, NULL) != TSR_OK)
        fail_msg("%s", tsr_kernel_error(k));
    assert_int_equal(tsr_stream_synchronize(ctx, NULL), TSR_OK);
    assert_int_equal(mock_stats().last_smem, (unsigned)a.dynamic_smem);
    dev_download(ctx, &dC, &C);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double want = 0;
            for (int64_t l = 0; l < K; l++)
                want += tensor_get(&A, i * K + l) * tensor_get(&B, l * N + j);
            assert_true(fabs(tensor_get(&C, i * N + j) - want) < 1e-3 * (1 + fabs(want)));
        }
    tensor_free(&A);
    tensor_free(&B);
    tensor_free(&C);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
}

typedef struct {
    tsr_context *ctx;
} Runner;

static bool run_attention(TirFunc *f, KernelArg *args, int nargs, void *arg, StrBuf *err)
{
    (void)f;
    (void)nargs;
    Runner *r = arg;
    DevTensor d[5];
    for (int i = 0; i < 5; i++)
        dev_upload(r->ctx, &args[i].tensor, &d[i]);
    tsr_status s = tsr_attention_forward(r->ctx, &d[0].t, &d[1].t, &d[2].t, &d[3].t, &d[4].t, (float)args[5].scalar,
                                         1, NULL);
    if (s == TSR_OK)
        s = tsr_stream_synchronize(r->ctx, NULL);
    if (s != TSR_OK)
        sb_printf(err, "%s", tsr_context_error(r->ctx));
    dev_download(r->ctx, &d[3], &args[3].tensor);
    dev_download(r->ctx, &d[4], &args[4].tensor);
    for (int i = 0; i < 5; i++)
        dev_free(r->ctx, &d[i]);
    return s == TSR_OK;
}

/* Streams and the driver's context through the API, and launches with
 * per-call arguments from several threads at once, each on its own stream. */
typedef struct {
    tsr_context *ctx;
    tsr_kernel *k;
    int id, failures;
    char why[256];
} StreamWorker;

static void *stream_work(void *arg)
{
    StreamWorker *w = arg;
    void *stream;
    if (tsr_stream_create(w->ctx, &stream) != TSR_OK || !stream) {
        snprintf(w->why, sizeof w->why, "stream: %s", tsr_context_error(w->ctx));
        w->failures++;
        return NULL;
    }
    int64_t n = 500 + 129 * w->id;
    HostTensor h = tensor_new(DT_F32, 1, &n), out = tensor_new(DT_F32, 1, &n);
    for (int64_t i = 0; i < n; i++)
        ((float *)h.data)[i] = (float)(i * (w->id + 1));
    tensor_poison(&out);
    DevTensor x, y;
    dev_upload(w->ctx, &h, &x);
    dev_upload(w->ctx, &out, &y);
    for (int round = 0; round < 3 && !w->failures; round++) {
        tsr_arg args[2] = { { &x.t, 0 }, { &y.t, 0 } };
        if (tsr_kernel_launch_args(w->k, args, 2, stream) != TSR_OK ||
            tsr_stream_synchronize(w->ctx, stream) != TSR_OK) {
            snprintf(w->why, sizeof w->why, "launch: %s", tsr_context_error(w->ctx));
            w->failures++;
        }
    }
    dev_download(w->ctx, &y, &out);
    if (memcmp(out.data, h.data, sizeof(float) * (size_t)n) != 0) {
        snprintf(w->why, sizeof w->why, "thread %d: wrong result", w->id);
        w->failures++;
    }
    dev_free(w->ctx, &x);
    dev_free(w->ctx, &y);
    tensor_free(&h);
    tensor_free(&out);
    if (tsr_stream_destroy(w->ctx, stream) != TSR_OK)
        w->failures++;
    return NULL;
}

static void mock_streams_and_threads(void **state)
{
    (void)state;
    NEED_MOCK();
    tsr_status s;
    tsr_context *ctx = cuda_context(&s);
    assert_int_equal(s, TSR_OK);
    void *cu_ctx = NULL;
    int cu_dev = -1;
    assert_int_equal(tsr_context_cuda(ctx, &cu_ctx, &cu_dev), TSR_OK);
    assert_non_null(cu_ctx);
    assert_int_equal(cu_dev, 0);
    tsr_module *m = suite_compile(ctx, copy_src, NULL, 0);
    tsr_kernel *k;
    tsr_module_get_kernel(m, NULL, &k);
    /* A launch goes on the stream it is given. */
    void *stream;
    assert_int_equal(tsr_stream_create(ctx, &stream), TSR_OK);
    assert_non_null(stream);
    assert_int_equal(mock_stats().live_streams, 1);
    int64_t n = 300;
    HostTensor h = tensor_new(DT_F32, 1, &n);
    DevTensor x, y;
    dev_upload(ctx, &h, &x);
    dev_upload(ctx, &h, &y);
    tsr_arg args[2] = { { &x.t, 0 }, { &y.t, 0 } };
    assert_int_equal(tsr_kernel_launch_args(k, args, 2, stream), TSR_OK);
    assert_ptr_equal(mock_stats().last_stream, stream);
    assert_int_equal(tsr_stream_synchronize(ctx, stream), TSR_OK);
    assert_int_equal(tsr_stream_destroy(ctx, stream), TSR_OK);
    assert_int_equal(mock_stats().live_streams, 0);
    assert_int_equal(tsr_stream_destroy(ctx, stream), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "is not a stream of this context"));
    /* Threads launching one kernel at once, each on a stream of its own. */
    enum { N = 4 };
    pthread_t tids[N];
    StreamWorker w[N];
    for (int i = 0; i < N; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].ctx = ctx;
        w[i].k = k;
        w[i].id = i;
        assert_int_equal(pthread_create(&tids[i], NULL, stream_work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(tids[i], NULL);
        if (w[i].failures)
            fail_msg("thread %d: %s", i, w[i].why);
    }
    /* A stream left live is destroyed with the context. */
    assert_int_equal(tsr_stream_create(ctx, &stream), TSR_OK);
    tensor_free(&h);
    tsr_context_destroy(ctx);
    assert_int_equal(mock_stats().live_streams, 0);
    assert_int_equal(mock_depth(), 0);
    tsr_module_destroy(m); /* after its context: harmless */
    /* The host devices have one stream, NULL, and no CUDA context. */
    ctx = suite_context(TSR_DEVICE_EMU);
    stream = &n;
    assert_int_equal(tsr_stream_create(ctx, &stream), TSR_OK);
    assert_null(stream);
    assert_int_equal(tsr_context_cuda(ctx, &cu_ctx, NULL), TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "not cuda"));
    tsr_context_destroy(ctx);
}

static void mock_attention(void **state)
{
    (void)state;
    NEED_MOCK();
    tsr_status s;
    Runner r = { cuda_context(&s) };
    AttnShape shape = { 1, 4, 2, 80, 97, 64, true, 0.125 };
    AttnErrors e = attn_check_run(NULL, DT_BF16, shape, 3, run_attention, &r);
    attn_check_assert(&e, DT_BF16, &shape, "tsr_attention_forward on the mock cuda device");
    tsr_context_destroy(r.ctx);
}

/* A device copy of the fixture's tensors, launched; B is checked on the host. */
static void mock_tma_copy(tsr_context *ctx, tsr_kernel *k, int64_t m, void **a_dev, void **b_dev)
{
    uint16_t *a = calloc((size_t)m * 64, 2), *b = calloc((size_t)m * 64, 2);
    TmaFixtureData d;
    tma_fixture_data(&d, m, 64, a, b);
    size_t bytes = (size_t)m * 128;
    assert_int_equal(tsr_memcpy(ctx, *a_dev, a, bytes, TSR_COPY_HOST_TO_DEVICE, NULL), TSR_OK);
    d.ta.data = *a_dev;
    d.tb.data = *b_dev;
    d.ta.device = d.tb.device = tsr_context_dl_device(ctx);
    tsr_arg args[2] = { { &d.ta, 0 }, { &d.tb, 0 } };
    if (tsr_kernel_launch_args(k, args, 2, NULL) != TSR_OK)
        fail_msg("%s", tsr_kernel_error(k));
    assert_int_equal(tsr_stream_synchronize(ctx, NULL), TSR_OK);
    assert_int_equal(tsr_memcpy(ctx, b, *b_dev, bytes, TSR_COPY_DEVICE_TO_HOST, NULL), TSR_OK);
    assert_int_equal(tma_fixture_mismatches(&d, b), 0);
    free(a);
    free(b);
}

/* On a Hopper (the mock as compute capability 9.0), a kernel that takes a
 * tensor map gets one from cuTensorMapEncodeTiled with A's description
 * (dims and byte strides innermost first, the request's box and swizzle,
 * no interleave, L2 promotion 128B, zero fill), once per description:
 * launches with the same tensor reuse it. */
static void mock_tensor_maps_encoded(void **state)
{
    (void)state;
    NEED_MOCK();
    setenv("MOCK_CUDA_CC", "90", 1);
    char dir[] = "/tmp/tsr-tma-cuda-XXXXXX";
    assert_non_null(mkdtemp(dir));
    tma_fixture_install(dir, "sm_90a", NULL, 0);
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_CUDA;
    o.cache = TSR_CACHE_ON;
    o.cache_dir = dir;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&o, &ctx), TSR_OK);
    assert_string_equal(tsr_context_default_target(ctx), "sm_90a");
    tsr_module *m;
    assert_int_equal(tsr_module_compile(ctx, tma_fixture_src, strlen(tma_fixture_src), NULL, &m), TSR_OK);
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m, NULL, &k), TSR_OK);
    void *a1, *a2, *b;
    assert_int_equal(tsr_malloc(ctx, 100 * 128, &a1) | tsr_malloc(ctx, 100 * 128, &a2) | tsr_malloc(ctx, 100 * 128, &b),
                     TSR_OK);
    long before = mock_tensor_maps().calls;
    mock_tma_copy(ctx, k, 100, &a1, &b);
    MockTensorMapCall c = mock_tensor_maps();
    assert_int_equal(c.calls, before + 1);
    assert_int_equal(c.dtype, 6 /* CU_TENSOR_MAP_DATA_TYPE_FLOAT16 */);
    assert_int_equal(c.rank, 2);
    assert_ptr_equal(c.global, a1);
    assert_int_equal(c.dims[0], 64);
    assert_int_equal(c.dims[1], 100);
    assert_int_equal(c.strides[0], 128);
    assert_int_equal(c.box[0], 64);
    assert_int_equal(c.box[1], 64);
    assert_int_equal(c.elem_strides[0], 1);
    assert_int_equal(c.elem_strides[1], 1);
    assert_int_equal(c.interleave, 0);
    assert_int_equal(c.swizzle, 3 /* CU_TENSOR_MAP_SWIZZLE_128B */);
    assert_int_equal(c.l2_promotion, 2 /* CU_TENSOR_MAP_L2_PROMOTION_L2_128B */);
    assert_int_equal(c.oob_fill, 0);
    mock_tma_copy(ctx, k, 100, &a1, &b);
    assert_int_equal(mock_tensor_maps().calls, before + 1); /* reused */
    mock_tma_copy(ctx, k, 100, &a2, &b);
    assert_int_equal(mock_tensor_maps().calls, before + 2);
    assert_ptr_equal(mock_tensor_maps().global, a2);
    mock_tma_copy(ctx, k, 70, &a1, &b); /* another shape */
    assert_int_equal(mock_tensor_maps().calls, before + 3);
    assert_int_equal(mock_tensor_maps().dims[1], 70);
    tsr_free(ctx, a1);
    tsr_free(ctx, a2);
    tsr_free(ctx, b);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
    unsetenv("MOCK_CUDA_CC");
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* nvcc's TMA GEMM through the public API on the mock Hopper: the PTX loaded
 * by the driver, the maps made by cuTensorMapEncodeTiled, the launch with
 * its explicit shape; and a map of this device refused by an emu kernel. */
static void mock_ptx_module(void **state)
{
    (void)state;
    NEED_MOCK();
    char why[256];
    char *ptx = hopper_gemm_ptx(why, sizeof why);
    if (!ptx)
        TEST_SKIP("%s", why);
    setenv("MOCK_CUDA_CC", "90", 1);
    tsr_status s;
    tsr_context *ctx = cuda_context(&s);
    assert_int_equal(s, TSR_OK);
    tsr_module *m;
    if (tsr_module_load_ptx(ctx, ptx, strlen(ptx), hopper_gemm_kernels, 2, &m) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    tsr_kernel *k;
    assert_int_equal(tsr_module_get_kernel(m, "hopper_tma_gemm", &k), TSR_OK);
    uint16_t *A = malloc(HG_ROWS * 64 * 2), *Bt = malloc(64 * 64 * 2);
    float *D = malloc(64 * 64 * 4);
    hopper_gemm_inputs(A, Bt);
    void *da, *db, *dd;
    assert_int_equal(tsr_malloc(ctx, HG_ROWS * 128, &da) | tsr_malloc(ctx, 64 * 128, &db) |
                         tsr_malloc(ctx, 64 * 64 * 4, &dd),
                     TSR_OK);
    tsr_memcpy(ctx, da, A, HG_ROWS * 128, TSR_COPY_HOST_TO_DEVICE, NULL);
    tsr_memcpy(ctx, db, Bt, 64 * 128, TSR_COPY_HOST_TO_DEVICE, NULL);
    int64_t as[2] = { HG_ROWS, 64 }, bs[2] = { 64, 64 }, ds[2] = { 64, 64 };
    DLDevice dev = tsr_context_dl_device(ctx);
    DLTensor ta = { da, dev, 2, { kDLFloat, 16, 1 }, as, NULL, 0 }, tb = { db, dev, 2, { kDLFloat, 16, 1 }, bs, NULL, 0 },
             td = { dd, dev, 2, { kDLFloat, 32, 1 }, ds, NULL, 0 };
    tsr_tensor_map ma, mb;
    uint32_t box[2] = { 64, 64 };
    long before = mock_tensor_maps().calls;
    assert_int_equal(tsr_tensor_map_encode(ctx, &ta, 2, box, TSR_TMA_SWIZZLE_128B, &ma), TSR_OK);
    assert_int_equal(mock_tensor_maps().dims[1], HG_ROWS);
    assert_int_equal(tsr_tensor_map_encode(ctx, &tb, 2, box, TSR_TMA_SWIZZLE_128B, &mb), TSR_OK);
    assert_int_equal(mock_tensor_maps().calls, before + 2);
    tsr_ptx_arg args[4] = { { .map = &ma }, { .map = &mb }, { .tensor = &td }, { .i = 40 } };
    tsr_launch_dims dims = { { 1, 1, 1 }, { 128, 1, 1 }, 0 };
    if (tsr_kernel_launch_ptx(k, &dims, args, 4, NULL) != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    assert_int_equal(tsr_stream_synchronize(ctx, NULL), TSR_OK);
    tsr_memcpy(ctx, D, dd, 64 * 64 * 4, TSR_COPY_DEVICE_TO_HOST, NULL);
    assert_int_equal(hopper_gemm_mismatches(A, 40, Bt, D), 0);
    /* Host memory is not the GPU's. */
    DLTensor host = { A, dev, 2, { kDLFloat, 16, 1 }, as, NULL, 0 };
    assert_int_equal(tsr_tensor_map_encode(ctx, &host, 2, box, TSR_TMA_SWIZZLE_128B, &mb), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "is not GPU memory"));

    /* The cuda map given to the same kernel on emu. */
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = TSR_DEVICE_EMU;
    tsr_context *emu;
    assert_int_equal(tsr_context_create(&o, &emu), TSR_OK);
    tsr_module *em;
    assert_int_equal(tsr_module_load_ptx(emu, ptx, strlen(ptx), hopper_gemm_kernels, 2, &em), TSR_OK);
    tsr_kernel *ek;
    tsr_module_get_kernel(em, "hopper_tma_gemm", &ek);
    DLTensor hd = { D, { kDLCPU, 0 }, 2, { kDLFloat, 32, 1 }, ds, NULL, 0 };
    args[2].tensor = &hd;
    assert_int_equal(tsr_kernel_launch_ptx(ek, &dims, args, 4, NULL), TSR_ERR_LAUNCH);
    if (!strstr(tsr_context_error(emu), "argument 0 is a tensor map made for another device (cuda:0)"))
        fail_msg("%s", tsr_context_error(emu));
    tsr_module_destroy(em);
    tsr_context_destroy(emu);
    tsr_free(ctx, da);
    tsr_free(ctx, db);
    tsr_free(ctx, dd);
    tsr_module_destroy(m);
    tsr_context_destroy(ctx);
    unsetenv("MOCK_CUDA_CC");
    free(A);
    free(Bt);
    free(D);
    free(ptx);
}

int main(void)
{
    suite_default_cache_dir();
    const char *build = getenv("BUILD");
    char cwd[2048] = ".";
    if (!build || !*build)
        build = "build";
    if (build[0] != '/' && !getcwd(cwd, sizeof cwd)) /* an absolute path: dlopen then takes it as it is */
        strcpy(cwd, ".");
    snprintf(mock_path, sizeof mock_path, "%s%s%s/tests/libcuda_mock.so", build[0] == '/' ? "" : cwd,
             build[0] == '/' ? "" : "/", build);
    void *lib = access(mock_path, R_OK) == 0 ? dlopen(mock_path, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (lib) {
        *(void **)&mock_stats = dlsym(lib, "mock_cuda_stats");
        *(void **)&mock_depth = dlsym(lib, "mock_cuda_depth");
        *(void **)&mock_tensor_maps = dlsym(lib, "mock_cuda_tensor_maps");
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_driver),
        cmocka_unit_test(real_gpu),
        cmocka_unit_test(mock_contexts),
        cmocka_unit_test(mock_host_pointer_and_faults),
        cmocka_unit_test(mock_driver_refuses_ptx),
        cmocka_unit_test(mock_large_shared_memory),
        cmocka_unit_test(mock_attention),
        cmocka_unit_test(mock_streams_and_threads),
        cmocka_unit_test(mock_events),
        cmocka_unit_test(mock_tensor_maps_encoded),
        cmocka_unit_test(mock_ptx_module),
    };
    int failed = cmocka_run_group_tests_name("cuda", tests, NULL, NULL);
    /* The API suite on the mock, then on the machine's GPU when there is one. */
    if (use_mock()) {
        failed += rt_suite_run(TSR_DEVICE_CUDA, "api_mock_cuda");
        if (mock_depth() != 0 || mock_stats().live_allocs != 0) {
            fprintf(stderr, "after the suite on the mock: %d contexts pushed, %d allocations live\n", mock_depth(),
                    mock_stats().live_allocs);
            failed++;
        }
    } else {
        char why[600];
        snprintf(why, sizeof why, "the API suite on the mock driver: no %.500s", mock_path);
        failed += rt_suite_skip("api_mock_cuda", why);
    }
    unsetenv("TESSERA_LIBCUDA");
    if (lib)
        dlclose(lib);
    return failed != 0;
}

static void mock_events(void **state)
{
    (void)state;
    NEED_MOCK();
    tsr_status s;
    tsr_context *ctx = cuda_context(&s);
    assert_int_equal(s, TSR_OK);
    tsr_event *a, *b;
    if (tsr_event_create(ctx, &a) != TSR_OK || tsr_event_create(ctx, &b) != TSR_OK)
        fail_msg("tsr_event_create: %s", tsr_context_error(ctx));
    assert_int_equal(tsr_event_record(a, NULL), TSR_OK);
    struct timespec ts = { 0, 20 * 1000000L };
    nanosleep(&ts, NULL);
    assert_int_equal(tsr_event_record(b, NULL), TSR_OK);
    assert_int_equal(tsr_event_synchronize(b), TSR_OK);
    float ms = -1;
    assert_int_equal(tsr_event_elapsed_ms(a, b, &ms), TSR_OK);
    if (!(ms >= 15 && ms < 5000))
        fail_msg("elapsed %g ms between two records 20 ms apart", ms);
    assert_int_equal(mock_depth(), 0); /* every call pushed and popped the context */
    tsr_event_destroy(a);
    tsr_event_destroy(b);
    tsr_context_destroy(ctx);
}
