/* Emulator conformance on nvcc's PTX: the CUDA C kernels tests/emu/conform_*.cu
 * are compiled at test time with `nvcc -ptx` for sm_80 and for sm_90, run
 * under the emulator, and compared with the same computation done on the
 * host (the per-element operations come from one source, conform_ops.h).
 * Without nvcc every test is a skip that says so. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "emu/conform_ops.h"
#include "emu/emu_test.h"

enum { NARCH = 2 };
static const char *const archs[NARCH] = {"sm_80", "sm_90"};

enum { SRC_ARITH, SRC_CONTROL, SRC_TENSOR, NSRC };
static const char *const sources[NSRC] = {"conform_arith", "conform_control", "conform_tensor"};

static EmuModule *mods[NSRC][NARCH];
static const char *nvcc_path;

/* Compiles every source for every architecture into $BUILD/emu/. */
static int setup(void **state)
{
    nvcc_path = et_nvcc();
    if (!nvcc_path)
        return 0;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/emu", et_build_dir());
    et_mkdirs(dir);
    for (int s = 0; s < NSRC; s++)
        for (int a = 0; a < NARCH; a++) {
            char ptx[640], log[700], cmd[2048];
            snprintf(ptx, sizeof ptx, "%s/%s.%s.ptx", dir, sources[s], archs[a]);
            snprintf(log, sizeof log, "%s.log", ptx);
            snprintf(cmd, sizeof cmd, "'%s' -ptx -arch=%s -Itests/emu tests/emu/%s.cu -o '%s'",
                     nvcc_path, archs[a], sources[s], ptx);
            et_system(cmd, log);
            char *text = et_read(ptx);
            mods[s][a] = et_load(text);
            free(text);
        }
    return 0;
}

static int teardown(void **state)
{
    for (int s = 0; s < NSRC; s++)
        for (int a = 0; a < NARCH; a++)
            emu_module_free(mods[s][a]);
    return 0;
}

#define NEED_NVCC()                                                                             \
    do {                                                                                        \
        if (!nvcc_path) {                                                                       \
            print_message("SKIP: nvcc not found (set NVCC, put nvcc on the PATH or install "     \
                          "the CUDA toolkit in /usr/local/cuda); nvcc conformance not checked\n"); \
            skip();                                                                             \
        }                                                                                       \
    } while (0)

/* Runs kernel on a 1-D grid covering n threads in blocks of `block`. Output
 * regions are poisoned first (unless they hold initial values), so that a
 * result the kernel does not write cannot pass. */
static void run_keep(int src, int arch, const char *kernel, void **args, const EmuRegion *regs,
                     int nregs, int n, int block, size_t dyn, int host_threads, bool poison)
{
    for (int i = 0; i < nregs && poison; i++)
        if (regs[i].writable)
            memset((void *)regs[i].base, 0xcd, regs[i].size);
    EtConfig c = ET_CONFIG((unsigned)((n + block - 1) / block), (unsigned)block);
    c.dyn_smem = dyn;
    c.host_threads = host_threads;
    c.uninit = true;
    char *msg;
    if (et_launch(mods[src][arch], kernel, args, regs, nregs, c, &msg, NULL)) {
        print_error("%s (%s): %s\n", kernel, archs[arch], msg);
        free(msg);
        fail();
    }
}

static void run(int src, int arch, const char *kernel, void **args, const EmuRegion *regs,
                int nregs, int n, int block, size_t dyn, int host_threads)
{
    run_keep(src, arch, kernel, args, regs, nregs, n, block, dyn, host_threads, true);
}

/* ---- inputs ---------------------------------------------------------------------- */

enum { N = 640 };

static void gen_u32(uint32_t *v, int n, uint64_t seed)
{
    static const uint32_t sp[] = {0, 1, 2, 31, 32, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe,
                                  0x12345678, 0xdeadbeef, 100, 999};
    EtRng r = {seed};
    for (int i = 0; i < n; i++)
        v[i] = i < (int)TSR_ARRAY_LEN(sp) * 3 ? sp[(size_t)i % TSR_ARRAY_LEN(sp)] + (uint32_t)(i / 13)
                                                : (uint32_t)et_rand(&r);
}

static void gen_f32(float *v, int n, uint64_t seed)
{
    static const float sp[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.5f, -2.5f, 3.5f, 1e-40f,
                               -1e-39f, 1e30f, -3e38f, INFINITY, -INFINITY, NAN, 123456.7f};
    EtRng r = {seed};
    for (int i = 0; i < n; i++) {
        if (i < (int)TSR_ARRAY_LEN(sp))
            v[i] = sp[i];
        else if (i % 3 == 0)
            v[i] = f32_of_bits((uint32_t)et_rand(&r));
        else
            v[i] = et_randf(&r, -100, 100) * (i % 5 == 0 ? 1e5f : 1.0f);
    }
}

static bool same_float(float got, float want, bool zero_sign_free)
{
    if (want != want)
        return got != got;
    if (zero_sign_free && got == 0 && want == 0)
        return true;
    return bits_of_f32(got) == bits_of_f32(want);
}

/* ---- arithmetic ------------------------------------------------------------------ */

static void test_int_ops(void **state)
{
    NEED_NVCC();
    uint32_t a[N], b[N];
    uint32_t *out = calloc(N * N_INT32_OPS, sizeof *out);
    gen_u32(a, N, 1);
    gen_u32(b, N, 2);
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *pb = b, *po = out;
        int n = N;
        void *args[] = {&pa, &pb, &po, &n};
        EmuRegion regs[] = {{a, sizeof a, false}, {b, sizeof b, false},
                            {out, sizeof *out * N * N_INT32_OPS, true}};
        run(SRC_ARITH, arch, "int_ops", args, regs, 3, N, 128, 0, 1);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N_INT32_OPS; k++) {
                uint32_t want = int32_op(k, a[i], b[i]);
                if (out[i * N_INT32_OPS + k] != want) {
                    print_error("%s: int32_op %d (0x%x, 0x%x) = 0x%x, want 0x%x\n", archs[arch], k,
                                a[i], b[i], out[i * N_INT32_OPS + k], want);
                    fail();
                }
            }
    }
    free(out);
}

static void test_int64_ops(void **state)
{
    NEED_NVCC();
    uint64_t a[N], b[N];
    uint64_t *out = calloc(N * N_INT64_OPS, sizeof *out);
    EtRng r = {3};
    for (int i = 0; i < N; i++) {
        a[i] = i < 20 ? (uint64_t)i * 0x1111111111111111ull : et_rand(&r);
        b[i] = i % 7 == 0 ? 0xffffffffffffffffull : et_rand(&r) >> (i % 64);
    }
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *pb = b, *po = out;
        int n = N;
        void *args[] = {&pa, &pb, &po, &n};
        EmuRegion regs[] = {{a, sizeof a, false}, {b, sizeof b, false},
                            {out, sizeof *out * N * N_INT64_OPS, true}};
        run(SRC_ARITH, arch, "int64_ops", args, regs, 3, N, 96, 0, 2);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N_INT64_OPS; k++)
                if (out[i * N_INT64_OPS + k] != int64_op(k, a[i], b[i])) {
                    print_error("%s: int64_op %d (0x%llx, 0x%llx) = 0x%llx, want 0x%llx\n",
                                archs[arch], k, (unsigned long long)a[i], (unsigned long long)b[i],
                                (unsigned long long)out[i * N_INT64_OPS + k],
                                (unsigned long long)int64_op(k, a[i], b[i]));
                    fail();
                }
    }
    free(out);
}

static void test_float_ops(void **state)
{
    NEED_NVCC();
    float a[N], b[N], c[N];
    double da[N], db[N], dc[N];
    gen_f32(a, N, 4);
    gen_f32(b, N, 5);
    gen_f32(c, N, 6);
    for (int i = 0; i < N; i++) {
        da[i] = (double)a[i] * (1 + 1e-9 * i);
        db[i] = (double)b[i] - 1e-12 * i;
        dc[i] = (double)c[i];
    }
    float *out = calloc(N * N_F32_OPS, sizeof *out);
    double *dout = calloc(N * N_F64_OPS, sizeof *dout);
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *pb = b, *pc = c, *po = out;
        int n = N;
        void *args[] = {&pa, &pb, &pc, &po, &n};
        EmuRegion regs[] = {{a, sizeof a, false}, {b, sizeof b, false}, {c, sizeof c, false},
                            {out, sizeof *out * N * N_F32_OPS, true}};
        run(SRC_ARITH, arch, "f32_ops", args, regs, 4, N, 128, 0, 1);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N_F32_OPS; k++) {
                float want = f32_op(k, a[i], b[i], c[i]), got = out[i * N_F32_OPS + k];
                if (!same_float(got, want, k == 6 || k == 7)) {
                    print_error("%s: f32_op %d (%a, %a, %a) = %a, want %a\n", archs[arch], k, a[i],
                                b[i], c[i], got, want);
                    fail();
                }
            }
        void *pda = da, *pdb = db, *pdc = dc, *pdo = dout;
        void *dargs[] = {&pda, &pdb, &pdc, &pdo, &n};
        EmuRegion dregs[] = {{da, sizeof da, false}, {db, sizeof db, false},
                             {dc, sizeof dc, false}, {dout, sizeof *dout * N * N_F64_OPS, true}};
        run(SRC_ARITH, arch, "f64_ops", dargs, dregs, 4, N, 128, 0, 1);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N_F64_OPS; k++) {
                double want = f64_op(k, da[i], db[i], dc[i]), got = dout[i * N_F64_OPS + k];
                if (!(want != want ? got != got : bits_of_f64(got) == bits_of_f64(want))) {
                    print_error("%s: f64_op %d (%a, %a, %a) = %a, want %a\n", archs[arch], k,
                                da[i], db[i], dc[i], got, want);
                    fail();
                }
            }
    }
    free(out);
    free(dout);
}

static void test_libm(void **state)
{
    NEED_NVCC();
    float a[N];
    EtRng r = {7};
    for (int i = 0; i < N; i++)
        a[i] = i < N / 2 ? et_randf(&r, -10, 10) : et_randf(&r, -200, 200);
    for (int i = N - 40; i < N; i++) /* the slow paths of argument reduction (a .func call) */
        a[i] = (i & 1 ? -1.0f : 1.0f) * et_randf(&r, 1e9f, 1e15f);
    float *out = calloc(N * N_LIBM_OPS, sizeof *out);
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *po = out;
        int n = N;
        void *args[] = {&pa, &po, &n};
        EmuRegion regs[] = {{a, sizeof a, false}, {out, sizeof *out * N * N_LIBM_OPS, true}};
        run(SRC_ARITH, arch, "libm_ops", args, regs, 2, N, 64, 0, 2);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N_LIBM_OPS; k++) {
                float want = libm_op(k, a[i]), got = out[i * N_LIBM_OPS + k];
                /* CUDA's and glibc's functions are each within a few ulp */
                double tol = fabs((double)want) * 4e-7 + 1e-7;
                if (isinf(want) ? got != want : !(fabs((double)got - want) <= tol)) {
                    print_error("%s: libm_op %d (%a) = %.9g, want %.9g\n", archs[arch], k, a[i],
                                got, want);
                    fail();
                }
            }
    }
    free(out);
}

/* ---- half precision and conversions ----------------------------------------------- */

static uint16_t h16(float f)
{
    _Float16 h = (_Float16)f;
    uint16_t v;
    memcpy(&v, &h, 2);
    return v;
}
static float fh(uint16_t v)
{
    _Float16 h;
    memcpy(&h, &v, 2);
    return (float)h;
}
static uint16_t hfma(uint16_t x, uint16_t y, uint16_t z)
{
    return h16((float)((long double)fh(x) * fh(y) + fh(z)));
}
static uint16_t bf16(double d) /* round to nearest even from an exact double */
{
    float f = (float)d; /* exact for the values used here (|d| < 2^24, few bits) */
    uint32_t u = bits_of_f32(f);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}
static float fb(uint16_t v) { return f32_of_bits((uint32_t)v << 16); }

/* f32 -> f16 rounded toward zero */
static uint16_t h16_rz(float f)
{
    uint16_t h = h16(f);
    if (fabsf(fh(h)) > fabsf(f) && !isinf(f))
        h = (uint16_t)(h - 1);
    return h;
}

static void test_half_ops(void **state)
{
    NEED_NVCC();
    float a[N], b[N];
    EtRng r = {8};
    for (int i = 0; i < N; i++) {
        a[i] = et_randf(&r, -8, 8);
        b[i] = et_randf(&r, -8, 8);
    }
    uint32_t *out = calloc(N * 8, sizeof *out);
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *pb = b, *po = out;
        int n = N;
        void *args[] = {&pa, &pb, &po, &n};
        EmuRegion regs[] = {{a, sizeof a, false}, {b, sizeof b, false}, {out, sizeof *out * N * 8, true}};
        run(SRC_ARITH, arch, "half_ops", args, regs, 3, N, 128, 0, 1);
        for (int i = 0; i < N; i++) {
            uint16_t xl = h16(a[i]), xh = h16(b[i]), yl = h16(b[i]), yh = h16(0.5f);
            uint16_t sl = h16(fh(xl) + fh(yl)), sh = h16(fh(xh) + fh(yh));
            uint16_t pl = h16(fh(xl) * fh(yl)), ph = h16(fh(xh) * fh(yh));
            uint16_t fl = hfma(xl, yl, sl), fhh = hfma(xh, yh, sh);
            uint16_t bxl = bf16(a[i]), bxh = bf16(b[i]), byl = bf16(b[i]), byh = bf16(-2.0);
            uint16_t bfl = bf16((double)fb(bxl) * fb(byl) + fb(bxl));
            uint16_t bfh = bf16((double)fb(bxh) * fb(byh) + fb(bxh));
            float back = fh(fl) + fb(bfh);
            uint16_t mx = fh(xl) >= fh(xh) ? xl : xh;
            uint32_t want[8] = {(uint32_t)xh << 16 | xl, (uint32_t)sh << 16 | sl,
                                (uint32_t)ph << 16 | pl, (uint32_t)fhh << 16 | fl,
                                (uint32_t)bxh << 16 | bxl, (uint32_t)bfh << 16 | bfl,
                                bits_of_f32(back), (uint32_t)mx << 16 | h16_rz(a[i])};
            for (int k = 0; k < 8; k++)
                if (out[i * 8 + k] != want[k]) {
                    print_error("%s: half_ops[%d] for (%g, %g) = 0x%08x, want 0x%08x\n",
                                archs[arch], k, a[i], b[i], out[i * 8 + k], want[k]);
                    fail();
                }
        }
    }
    free(out);
}

static int64_t sat_int(double x, double lo, double hi)
{
    if (x != x)
        return 0;
    return x <= lo ? (int64_t)lo : x >= hi ? (int64_t)hi : (int64_t)x;
}

static void test_conversions(void **state)
{
    NEED_NVCC();
    float a[N];
    double d[N];
    EtRng r = {9};
    gen_f32(a, N, 10);
    for (int i = 0; i < N; i++) {
        if (i % 4 == 1)
            a[i] = et_randf(&r, -5e9f, 5e9f);
        d[i] = (double)et_randf(&r, -1000, 1000) + (double)et_rand(&r) * 0x1p-70;
    }
    uint32_t *out = calloc(N * 10, sizeof *out);
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *pd = d, *po = out;
        int n = N;
        void *args[] = {&pa, &pd, &po, &n};
        EmuRegion regs[] = {{a, sizeof a, false}, {d, sizeof d, false}, {out, sizeof *out * N * 10, true}};
        run(SRC_ARITH, arch, "cvt_ops", args, regs, 3, N, 128, 0, 1);
        for (int i = 0; i < N; i++) {
            float f = a[i];
            uint32_t want[10];
            want[0] = (uint32_t)sat_int(nearbyint(f), INT32_MIN, INT32_MAX);
            want[1] = (uint32_t)sat_int(floor(f), INT32_MIN, INT32_MAX);
            want[2] = (uint32_t)sat_int(ceil(f), 0, UINT32_MAX);
            want[3] = (uint32_t)(int8_t)sat_int(trunc(f), INT32_MIN, INT32_MAX);
            int iv = (int)(d[i] * 1e3);
            float rz = (float)iv;
            if (fabs((double)rz) > fabs((double)iv))
                rz = nextafterf(rz, 0);
            want[4] = bits_of_f32(rz);
            want[5] = bits_of_f32((float)(long long)(d[i] * 1e15));
            float rd = (float)d[i];
            if ((double)rd > d[i])
                rd = nextafterf(rd, -INFINITY);
            want[6] = bits_of_f32(rd);
            long long ll = (long long)nearbyint(d[i] * 1e10);
            want[7] = (uint32_t)ll;
            want[8] = (uint32_t)(ll >> 32);
            want[9] = (uint32_t)(uint16_t)(short)(int)d[i];
            for (int k = 0; k < 10; k++)
                if (out[i * 10 + k] != want[k]) {
                    print_error("%s: cvt_ops[%d] for (%a, %a) = 0x%08x, want 0x%08x\n",
                                archs[arch], k, a[i], d[i], out[i * 10 + k], want[k]);
                    fail();
                }
        }
    }
    free(out);
}

/* ---- control flow and warps ------------------------------------------------------ */

static void test_branches(void **state)
{
    NEED_NVCC();
    uint32_t a[N], b[N], out[2 * N];
    gen_u32(a, N, 11);
    gen_u32(b, N, 12);
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *pb = b, *po = out;
        int n = N - 5; /* a partial last block */
        void *args[] = {&pa, &pb, &po, &n};
        EmuRegion regs[] = {{a, sizeof a, false}, {b, sizeof b, false}, {out, sizeof out, true}};
        run(SRC_CONTROL, arch, "branches", args, regs, 3, N, 128, 0, 2);
        for (int i = 0; i < n; i++) {
            assert_int_equal(out[2 * i], collatz_steps(a[i]));
            assert_int_equal(out[2 * i + 1], (uint32_t)nested_branches((int)a[i], (int)(b[i] % 64)));
        }
        assert_int_equal(out[2 * n], 0xcdcdcdcd); /* threads past n write nothing */
    }
}

/* The CUDA shuffle functions, from their documentation. */
static uint32_t shfl_idx(const uint32_t *w, int lane, int src, int width)
{
    return w[(lane / width) * width + src % width];
}
static uint32_t shfl_up(const uint32_t *w, int lane, int delta, int width)
{
    return lane % width < delta ? w[lane] : w[lane - delta];
}
static uint32_t shfl_down(const uint32_t *w, int lane, int delta, int width)
{
    return lane % width + delta >= width ? w[lane] : w[lane + delta];
}
static uint32_t shfl_xor(const uint32_t *w, int lane, int mask, int width)
{
    int src = lane ^ mask;
    return src >= (lane / width + 1) * width ? w[lane] : w[src];
}

static void test_warp_ops(void **state)
{
    NEED_NVCC();
    enum { NW = 256 };
    uint32_t a[NW], out[NW * 12];
    gen_u32(a, NW, 13);
    for (int i = 0; i < NW; i += 64) /* a warp where every lane has 12345 */
        if (i == 128)
            for (int l = 0; l < 32; l++)
                a[i + l] = 12345;
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *po = out;
        void *args[] = {&pa, &po};
        EmuRegion regs[] = {{a, sizeof a, false}, {out, sizeof out, true}};
        run(SRC_CONTROL, arch, "warp_ops", args, regs, 2, NW, 64, 0, 1);
        for (int w0 = 0; w0 < NW; w0 += 32) {
            const uint32_t *w = a + w0;
            uint32_t ballot = 0, m2 = 0, m24 = 0, sum = 0, mx = 0, fsum = 0;
            bool all = true;
            for (int l = 0; l < 32; l++) {
                ballot |= (w[l] & 1u) << l;
                m2 |= (uint32_t)((w[l] & 2) != 0) << l;
                m24 |= (uint32_t)((w[l] & 6) == 6) << l;
                sum += w[l] & 0xffff;
                mx = (w[l] >> 8) > mx ? w[l] >> 8 : mx;
                all = all && w[l] != 12345;
                fsum += w[l] & 0xff;
            }
            for (int l = 0; l < 32; l++) {
                const uint32_t *o = out + (w0 + l) * 12;
                uint32_t match = 0;
                for (int k = 0; k < 32; k++)
                    match |= (uint32_t)((w[k] & 3) == (w[l] & 3)) << k;
                uint32_t m = 0;
                if (w[l] & 2) {
                    m = m2;
                    if (w[l] & 4)
                        m ^= m24 << 1;
                }
                uint32_t want[12] = {shfl_idx(w, l, (l * 7) & 31, 32), shfl_up(w, l, 3, 32),
                                     shfl_down(w, l, 5, 16), shfl_xor(w, l, 9, 8), ballot,
                                     (uint32_t)all | 2u, match, sum, mx, m, fsum,
                                     shfl_idx(w, l, 0, 4)};
                for (int k = 0; k < 12; k++)
                    if (o[k] != want[k]) {
                        print_error("%s: warp_ops[%d] of lane %d (warp at %d) = 0x%x, want 0x%x\n",
                                    archs[arch], k, l, w0, o[k], want[k]);
                        fail();
                    }
            }
        }
    }
}

static void test_block_ops(void **state)
{
    NEED_NVCC();
    enum { B = 256, NB = 4 };
    float a[B * NB], sums[NB], tout[B * NB];
    uint32_t counts[NB];
    EtRng r = {14};
    for (int i = 0; i < B * NB; i++)
        a[i] = et_randf(&r, 0, i < B ? 1.5f : 2.5f);
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *ps = sums, *pc = counts, *pt = tout;
        void *args[] = {&pa, &ps, &pc, &pt};
        EmuRegion regs[] = {{a, sizeof a, false}, {sums, sizeof sums, true},
                            {counts, sizeof counts, true}, {tout, sizeof tout, true}};
        run(SRC_CONTROL, arch, "block_ops", args, regs, 4, B * NB, B, B * sizeof(float), 2);
        for (int blk = 0; blk < NB; blk++) {
            float red[B];
            memcpy(red, a + blk * B, sizeof red);
            for (int s = B / 2; s > 0; s >>= 1) /* the kernel's order of additions */
                for (int t = 0; t < s; t++)
                    red[t] += red[t + s];
            assert_true(bits_of_f32(sums[blk]) == bits_of_f32(red[0]));
            uint32_t c = 0, all = 1, any = 0;
            for (int t = 0; t < B; t++) {
                float v = a[blk * B + t];
                c += v > 0.5f;
                all &= v < 2.0f;
                any |= v > 0.99f;
            }
            assert_int_equal(counts[blk], c | all << 16 | any << 17);
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 16; x++)
                    assert_true(tout[blk * 256 + y * 16 + x] == a[blk * 256 + x * 16 + y]);
        }
    }
}

static void test_atomics(void **state)
{
    NEED_NVCC();
    enum { NA = 96 * 24 };
    uint32_t a[NA];
    gen_u32(a, NA, 15);
    for (int arch = 0; arch < NARCH; arch++) {
        uint32_t out[24] = {0};
        out[1] = 0xffffffff;
        out[6] = 0x7fffffff;
        out[7] = 0x80000000;
        void *pa = a, *po = out;
        void *args[] = {&pa, &po};
        EmuRegion regs[] = {{a, sizeof a, false}, {out, sizeof out, true}};
        run_keep(SRC_CONTROL, arch, "atomics", args, regs, 2, NA, 96, 0, 2, false);
        uint32_t orv = 0, andv = 0xffffffff, xorv = 0, cas = 0, hist[16] = {0}, fsum = 0, dsum = 0;
        int mn = 0x7fffffff, mxv = -0x7fffffff;
        for (int i = 0; i < NA; i++) {
            uint32_t v = a[i];
            orv |= 1u << (v & 31);
            andv &= ~(1u << (v % 17));
            xorv ^= v;
            cas += v & 3;
            hist[v & 15]++;
            int s = (int)(v % 1000) - 500;
            mn = s < mn ? s : mn;
            mxv = s > mxv ? s : mxv;
            fsum += v & 7;
            dsum += v & 15;
        }
        assert_int_equal(out[0], orv);
        assert_int_equal(out[1], andv);
        assert_int_equal(out[2], xorv);
        assert_int_equal(out[3], NA % 1001);
        assert_int_equal(out[4], 77);
        assert_int_equal(out[5], cas);
        assert_int_equal((int)out[6], mn);
        assert_int_equal((int)out[7], mxv);
        for (int k = 0; k < 16; k++)
            assert_int_equal(out[8 + k], hist[k]);
        uint32_t g[3];
        void *pg = g;
        void *gargs[] = {&pg};
        EmuRegion greg = {g, sizeof g, true};
        run(SRC_CONTROL, arch, "read_globals", gargs, &greg, 1, 1, 1, 0, 1);
        assert_int_equal(g[0], NA);
        assert_true(f32_of_bits(g[1]) == (float)fsum);
        assert_int_equal(g[2], dsum);
    }
}

static void test_locals(void **state)
{
    NEED_NVCC();
    static const int table[8] = {3, 1, 4, 1, 5, 9, 2, 6};
    uint32_t a[N];
    int out[N];
    gen_u32(a, N, 16);
    struct {
        int scale;
        float bias;
        long long offset;
        short small[3];
    } p = {3, 2.75f, -1000, {7, -8, 9}};
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = a, *po = out;
        void *args[] = {&pa, &po, &p};
        EmuRegion regs[] = {{a, sizeof a, false}, {out, sizeof out, true}};
        run(SRC_CONTROL, arch, "locals", args, regs, 2, N, 64, 0, 1);
        for (int i = 0; i < N; i++) {
            uint32_t buf[24];
            uint32_t v = a[i];
            for (int k = 0; k < 24; k++)
                buf[k] = (v >> (k % 8)) * (uint32_t)table[k & 7];
            int idx = (int)(v % 24);
            uint32_t acc = 0;
            for (int k = 0; k <= idx; k++)
                acc += buf[(idx * 7 + k) % 24];
            int want = (int)(acc * (uint32_t)p.scale + (uint32_t)(int)p.bias +
                             (uint32_t)p.offset + (uint32_t)p.small[v % 3]);
            assert_int_equal(out[i], want);
        }
    }
}

/* ---- tensor cores through inline PTX --------------------------------------------- */

static void test_mma_gemm(void **state)
{
    NEED_NVCC();
    uint16_t A[32 * 16], B[16 * 32];
    float C[32 * 32];
    EtRng r = {17};
    for (int i = 0; i < 32 * 16; i++) {
        A[i] = h16((float)((int)(et_rand(&r) % 9) - 4));
        B[i] = h16((float)((int)(et_rand(&r) % 7) - 3) * 0.5f);
    }
    for (int arch = 0; arch < NARCH; arch++) {
        void *pa = A, *pb = B, *pc = C;
        void *args[] = {&pa, &pb, &pc};
        EmuRegion regs[] = {{A, sizeof A, false}, {B, sizeof B, false}, {C, sizeof C, true}};
        EtConfig c = ET_CONFIG(1, 32);
        c.races = true;
        c.uninit = true;
        char *msg;
        if (et_launch(mods[SRC_TENSOR][arch], "mma_gemm", args, regs, 3, c, &msg, NULL)) {
            print_error("mma_gemm (%s): %s\n", archs[arch], msg);
            free(msg);
            fail();
        }
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < 32; j++) {
                float want = 0;
                for (int k = 0; k < 16; k++)
                    want += fh(A[i * 16 + k]) * fh(B[k * 32 + j]);
                if (C[i * 32 + j] != want) {
                    print_error("%s: C[%d][%d] = %g, want %g\n", archs[arch], i, j, C[i * 32 + j],
                                want);
                    fail();
                }
            }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_ops),     cmocka_unit_test(test_int64_ops),
        cmocka_unit_test(test_float_ops),   cmocka_unit_test(test_libm),
        cmocka_unit_test(test_half_ops),    cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_branches),    cmocka_unit_test(test_warp_ops),
        cmocka_unit_test(test_block_ops),   cmocka_unit_test(test_atomics),
        cmocka_unit_test(test_locals),      cmocka_unit_test(test_mma_gemm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
