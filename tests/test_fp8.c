/* The 8-bit floats e4m3 and e5m2 (dsl/README.md §4.1, §10.3): conversions
 * checked exhaustively against an oracle written here from the formats'
 * definitions (OCP FP8, the PTX ISA's cvt: round to nearest even, satfinite),
 * on the interpreter (support/dtype.c) and on the emulator running the
 * compiler's PTX for sm_89 and sm_90a, which must agree bit for bit; and
 * nvcc's own conversions (cuda_fp8.h compiled for sm_89) run on the
 * emulator against the same oracle. Plus the language's refusals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen.h"
#include "compile.h"
#include "emu/emu_test.h"
#include "emu_run.h"
#include "testutil.h"

/* ---- the oracle: the formats' definitions ------------------------------- */

typedef struct {
    DType dt;
    int ebits, mbits, bias;
    bool ieee; /* e5m2: the top exponent holds inf and NaN; e4m3: only S.1111.111 is NaN */
} Fmt;

static const Fmt fmts[2] = { { DT_E4M3, 4, 3, 7, false }, { DT_E5M2, 5, 2, 15, true } };

/* The value of a code: NaN for NaN codes, +-inf for e5m2's infinities. */
static double oracle_value(const Fmt *f, unsigned code)
{
    unsigned e = (code >> f->mbits) & ((1u << f->ebits) - 1), m = code & ((1u << f->mbits) - 1);
    double s = (code & 0x80) ? -1 : 1;
    unsigned top = (1u << f->ebits) - 1;
    if (f->ieee && e == top)
        return m ? NAN : s * INFINITY;
    if (!f->ieee && e == top && m == (1u << f->mbits) - 1)
        return NAN;
    if (e == 0)
        return s * ldexp(m, 1 - f->bias - f->mbits);
    return s * ldexp((1u << f->mbits) + m, (int)e - f->bias - f->mbits);
}

/* cvt.rn.satfinite: the nearest finite code (ties to the even code; a value
 * beyond the largest finite one, infinities included, is that one), the
 * sign of zero kept, NaN to 0x7f. Found by search over every code. */
static unsigned oracle_encode(const Fmt *f, float x)
{
    if (isnan(x))
        return 0x7f;
    unsigned best = 0;
    double bd = INFINITY;
    for (unsigned c = 0; c < 256; c++) {
        double v = oracle_value(f, c);
        if (isnan(v) || isinf(v) || (v == 0 && (c & 0x80) != (signbit(x) ? 0x80u : 0)))
            continue;
        /* within the range, exact enough to order (ties are exact midpoints);
         * beyond it (infinities too), the largest of x's sign */
        double d = fabs(v - (double)x);
        if (fabs(x) >= 65536.0f)
            d = fabs(v) * (v * x > 0 ? -1 : 1);
        if (d < bd || (d == bd && (c & 1) == 0 && (best & 1))) {
            bd = d;
            best = c;
        }
    }
    return best;
}

/* Inputs: every code's value, every midpoint between neighbours and the
 * f32 values just beside it, the ends of the range, specials, and random
 * f32s of every magnitude. */
static int make_inputs(const Fmt *f, float *x, int cap)
{
    int n = 0;
    for (unsigned c = 0; c < 256; c++) {
        double v = oracle_value(f, c), w = oracle_value(f, (c & 0x80) | ((c & 0x7f) + 1));
        if (isnan(v) || isinf(v))
            continue;
        x[n++] = (float)v;
        if ((c & 0x7f) < 0x7f && !isnan(w) && !isinf(w)) {
            float mid = (float)((v + w) / 2);
            x[n++] = mid;
            x[n++] = nextafterf(mid, INFINITY);
            x[n++] = nextafterf(mid, -INFINITY);
        }
    }
    static const float sp[] = { 0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-30f, -1e-30f, 1e30f, -1e30f,
                                3e38f, 1e-45f, 448.0f, 464.0f, 463.99f, 480.0f, -500.0f, 57344.0f, 61440.0f,
                                61439.0f, 65536.0f, 0x1p-10f, 0x1p-17f, 0x1.8p-10f, 0x1.8p-17f };
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
        x[n++] = sp[i];
    Rng r;
    rng_seed(&r, 8 + (uint64_t)f->dt);
    while (n < cap) {
        double m = rng_uniform(&r) * 2 - 1;
        x[n++] = (float)ldexp(m, (int)(rng_u64(&r) % 60) - 30);
    }
    return n;
}

enum { NIN = 4096 };

/* ---- support/dtype.c against the oracle ---------------------------------- */

static void codes_decode(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++)
        for (unsigned c = 0; c < 256; c++) {
            double want = oracle_value(&fmts[k], c);
            float got = fp8_bits_to_f32((uint8_t)c, fmts[k].dt);
            if (isnan(want) ? !isnan(got) : (got != want || !signbit(got) != !signbit(want)))
                fail_msg("%s code 0x%02x: got %g, want %g", dtype_name(fmts[k].dt), c, got, want);
        }
    assert_true(fp8_max(DT_E4M3) == oracle_value(&fmts[0], 0x7e));
    assert_true(fp8_max(DT_E5M2) == oracle_value(&fmts[1], 0x7b));
}

static void codes_encode(void **state)
{
    (void)state;
    float *x = malloc(sizeof(float) * NIN);
    for (int k = 0; k < 2; k++) {
        int n = make_inputs(&fmts[k], x, NIN);
        for (int i = 0; i < n; i++) {
            unsigned want = oracle_encode(&fmts[k], x[i]), got = f32_to_fp8_bits(x[i], fmts[k].dt);
            if (got != want)
                fail_msg("%s(%a): got 0x%02x, want 0x%02x", dtype_name(fmts[k].dt), (double)x[i], got, want);
        }
    }
    free(x);
}

/* ---- the compiler's conversions on interp and emu ------------------------ */

/* Y = T(X) (f32 to fp8), H = T(f16(X)) and B = T(bf16(X)) (through the
 * 16-bit types), and each code of C widened to f32, f16 and bf16. */
static const char *const cvt_src =
    "kernel cvt8<T: type>(X: f32[N], C: T[N], Y: out T[N], H: out T[N], B: out T[N],\n"
    "                     Z: out f32[N], W: out f16[N], V: out bf16[N]) grid (cdiv(N, 256)) warps 4 {\n"
    "    let i = program_id(0) * 256;\n"
    "    let x = X[i : +256];\n"
    "    Y[i : +256] = T(x);\n"
    "    H[i : +256] = T(f16(x));\n"
    "    B[i : +256] = T(bf16(x));\n"
    "    let c = C[i : +256];\n"
    "    Z[i : +256] = f32(c);\n"
    "    W[i : +256] = f16(c);\n"
    "    V[i : +256] = bf16(c);\n"
    "}\n";

static uint8_t code_at(const HostTensor *t, int64_t i) { return ((const uint8_t *)t->data)[i]; }

/* A NaN of any payload matches a NaN; else the bits must. */
static bool same_value(double got, double want)
{
    return isnan(want) ? isnan(got) : got == want && !signbit(got) == !signbit(want);
}

static int check_outputs(const Fmt *f, const char *where, const HostTensor *o, const HostTensor *x,
                         const HostTensor *c, int64_t n)
{
    int bad = 0;
    for (int64_t i = 0; i < n && bad < 10; i++) {
        float xi = ((const float *)x->data)[i];
        unsigned want = oracle_encode(f, xi), want16 = oracle_encode(f, f16_bits_to_f32(f32_to_f16_bits(xi))),
                 want_b = oracle_encode(f, bf16_bits_to_f32(f32_to_bf16_bits(xi)));
        unsigned got[3] = { code_at(&o[0], i), code_at(&o[1], i), code_at(&o[2], i) };
        unsigned wants[3] = { want, want16, want_b };
        for (int k = 0; k < 3; k++)
            if (got[k] != wants[k] && ++bad <= 10)
                print_error("%s %s output %d of %a: 0x%02x, want 0x%02x\n", where, dtype_name(f->dt), k,
                            (double)xi, got[k], wants[k]);
        double v = oracle_value(f, code_at(c, i));
        double wide[3] = { tensor_get(&o[3], i), tensor_get(&o[4], i), tensor_get(&o[5], i) };
        for (int k = 0; k < 3; k++)
            if ((tensor_is_poison(&o[3 + k], i) || !same_value(wide[k], v)) && ++bad <= 10)
                print_error("%s %s code 0x%02x widened (%d): %g, want %g\n", where, dtype_name(f->dt),
                            code_at(c, i), k, wide[k], v);
    }
    return bad;
}

static void compiled_conversions(void **state)
{
    (void)state;
    static const char *const places[] = { "interp", "sm_89", "sm_90a" };
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        const Fmt *f = &fmts[k];
        Define def = { "T", dtype_name(f->dt) };
        StrBuf diags;
        sb_init(&diags);
        TirModule *m = compile_string("cvt8.tsr", cvt_src, &def, 1, &diags);
        if (!m)
            fail_msg("does not compile:\n%s", diags.data ? diags.data : "");
        sb_free(&diags);
        int64_t shape[1] = { NIN - 3 }; /* odd: the last block is partial */
        HostTensor x = tensor_new(DT_F32, 1, shape), c = tensor_new(f->dt, 1, shape);
        make_inputs(f, (float *)x.data, (int)shape[0]);
        for (int64_t i = 0; i < shape[0]; i++)
            ((uint8_t *)c.data)[i] = (uint8_t)(i * 37 + i / 256); /* every code, many times */
        HostTensor ref[6];
        for (int p = 0; p < 3; p++) {
            DType odt[6] = { f->dt, f->dt, f->dt, DT_F32, DT_F16, DT_BF16 };
            HostTensor o[6];
            KernelArg args[8] = { arg_tensor(x), arg_tensor(c) };
            for (int j = 0; j < 6; j++) {
                o[j] = tensor_new(odt[j], 1, shape);
                tensor_poison(&o[j]);
                args[2 + j] = arg_tensor(o[j]);
            }
            StrBuf err;
            sb_init(&err);
            bool ok;
            if (p == 0) {
                ok = interp_launch(m->funcs.data[0], args, 8, 2, &err);
            } else {
                EmuRunOptions eo = { 0 };
                eo.target = places[p];
                eo.check_uninit = true;
                eo.host_threads = 2;
                ok = emu_run_kernel(m->funcs.data[0], args, 8, &eo, &err);
            }
            if (!ok)
                fail_msg("%s on %s: %s", dtype_name(f->dt), places[p], err.data);
            sb_free(&err);
            bad += check_outputs(f, places[p], o, &x, &c, shape[0]);
            /* bit for bit with the interpreter, NaN payloads of 16-bit results aside */
            for (int j = 0; j < 6; j++) {
                if (p == 0) {
                    ref[j] = o[j];
                    continue;
                }
                size_t es = (size_t)dtype_size(odt[j]);
                for (int64_t i = 0; i < shape[0]; i++)
                    if (memcmp((char *)o[j].data + i * es, (char *)ref[j].data + i * es, es) &&
                        !(isnan(tensor_get(&o[j], i)) && isnan(tensor_get(&ref[j], i))) && ++bad <= 10)
                        print_error("%s output %d element %lld differs from interp\n", places[p], j, (long long)i);
                tensor_free(&o[j]);
            }
        }
        for (int j = 0; j < 6; j++)
            tensor_free(&ref[j]);
        tensor_free(&x);
        tensor_free(&c);
        tir_module_free(m);
    }
    assert_int_equal(bad, 0);
}

/* ---- nvcc's conversions (cuda_fp8.h) on the emulator ---------------------- */

static void nvcc_conversions(void **state)
{
    (void)state;
    const char *nvcc = et_nvcc();
    if (!nvcc) {
        print_message("SKIP: nvcc not found (set NVCC, put nvcc on the PATH or install the CUDA toolkit in "
                      "/usr/local/cuda); cuda_fp8.h's conversions not run on the emulator\n");
        skip();
    }
    char dir[512], ptx[600], cmd[2048];
    snprintf(dir, sizeof dir, "%s/emu", et_build_dir());
    et_mkdirs(dir);
    snprintf(ptx, sizeof ptx, "%s/fp8_cvt.sm_89.ptx", dir);
    snprintf(cmd, sizeof cmd, "'%s' -ptx -arch=sm_89 tests/emu/fp8_cvt.cu -o '%s'", nvcc, ptx);
    char log[700];
    snprintf(log, sizeof log, "%s.log", ptx);
    et_system(cmd, log);
    char *text = et_read(ptx);
    EmuModule *mod = et_load(text);
    free(text);
    float *x = malloc(sizeof(float) * NIN);
    uint8_t *c = malloc(NIN), *to = malloc(NIN);
    uint16_t *h = malloc(sizeof(uint16_t) * NIN);
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        const Fmt *f = &fmts[k];
        int n = make_inputs(f, x, NIN);
        for (int i = 0; i < n; i++)
            c[i] = (uint8_t)i;
        memset(to, 0xcd, NIN);
        memset(h, 0xcd, sizeof(uint16_t) * NIN);
        const float *px = x;
        const uint8_t *pc = c;
        uint8_t *pto = to;
        uint16_t *ph = h;
        int kind = k;
        void *args[] = { &px, &pc, &pto, &ph, &n, &kind };
        EmuRegion regs[] = { { x, sizeof(float) * NIN, false }, { c, NIN, false }, { to, NIN, true },
                             { h, sizeof(uint16_t) * NIN, true } };
        EtConfig cfg = ET_CONFIG((unsigned)((n / 2 + 127) / 128), 128);
        cfg.uninit = true;
        et_run(mod, "fp8_cvt", args, regs, 4, cfg);
        for (int i = 0; i < n; i++) {
            unsigned want = oracle_encode(f, x[i]);
            if (to[i] != want || to[i] != f32_to_fp8_bits(x[i], f->dt)) {
                if (++bad <= 10)
                    print_error("nvcc %s(%a): 0x%02x, oracle 0x%02x, interp 0x%02x\n", dtype_name(f->dt), (double)x[i],
                                to[i], want, f32_to_fp8_bits(x[i], f->dt));
            }
            double v = oracle_value(f, c[i]);
            float hv = f16_bits_to_f32(h[i]);
            if (!same_value(hv, v) && ++bad <= 10)
                print_error("nvcc %s code 0x%02x to f16: %g, want %g\n", dtype_name(f->dt), c[i], hv, v);
        }
    }
    free(x);
    free(c);
    free(to);
    free(h);
    emu_module_free(mod);
    assert_int_equal(bad, 0);
}

/* ---- dots of fp8 tiles ------------------------------------------------------ */

/* C = dot(A, B) * (sa * sb) over a K loop, e4m3 by e5m2 (the ISA mixes
 * them), odd sizes; checked against a double product of the codes' values
 * (f32 sums of exact products: a relative error of K * 2^-24 at most). On
 * sm_89 the dots are mma.sync.m16n8k32 (the PTX is checked for it); on
 * sm_90a (PTX 8.0: no fp8 mma.sync; 32 rows on 4 warps are too few for
 * wgmma's warpgroups) f32 FMAs after exact widening. */
static const char *const dot_src =
    "kernel mm8<A8: type, B8: type>(A: A8[M, K], B: B8[K, N], C: out f32[M, N], sa: f32, sb: f32)\n"
    "  grid (cdiv(M, 32), cdiv(N, 32)) warps 4 {\n"
    "    let m0 = program_id(0) * 32;\n"
    "    let n0 = program_id(1) * 32;\n"
    "    var acc = zeros<f32>[32, 32];\n"
    "    for k in 0 .. K step 32 {\n"
    "        acc = acc + dot(A[m0 : +32, k : +32], B[k : +32, n0 : +32]);\n"
    "    }\n"
    "    C[m0 : +32, n0 : +32] = acc * (sa * sb);\n"
    "}\n";

static void dots(void **state)
{
    (void)state;
    Define defs[2] = { { "A8", "e4m3" }, { "B8", "e5m2" } };
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("mm8.tsr", dot_src, defs, 2, &diags);
    if (!m)
        fail_msg("does not compile:\n%s", diags.data ? diags.data : "");
    sb_free(&diags);
    enum { M = 45, K = 77, N = 39 };
    int64_t sa_[2] = { M, K }, sb_[2] = { K, N }, sc[2] = { M, N };
    HostTensor a = tensor_new(DT_E4M3, 2, sa_), b = tensor_new(DT_E5M2, 2, sb_);
    Rng r;
    rng_seed(&r, 89);
    tensor_fill_normal(&a, &r, 30.0); /* saturates some: the codes are what counts */
    tensor_fill_normal(&b, &r, 1.0);
    static const char *const places[] = { "interp", "sm_89", "sm_90a" };
    int bad = 0;
    for (int p = 0; p < 3; p++) {
        HostTensor c = tensor_new(DT_F32, 2, sc);
        tensor_poison(&c);
        KernelArg args[5] = { arg_tensor(a), arg_tensor(b), arg_tensor(c), arg_scalar(0.25), arg_scalar(2.0) };
        StrBuf err;
        sb_init(&err);
        bool ok;
        if (p == 0) {
            ok = interp_launch(m->funcs.data[0], args, 5, 2, &err);
        } else {
            EmuRunOptions eo = { 0 };
            char *ptx = NULL;
            eo.target = places[p];
            eo.check_uninit = true;
            eo.check_races = true;
            eo.host_threads = 2;
            eo.ptx = &ptx;
            ok = emu_run_kernel(m->funcs.data[0], args, 5, &eo, &err);
            bool mma = ptx && strstr(ptx, "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e5m2.f32");
            if (mma != (p == 1))
                fail_msg("%s: %s mma.sync.m16n8k32 in the PTX", places[p], mma ? "a" : "no");
            free(ptx);
        }
        if (!ok)
            fail_msg("on %s: %s", places[p], err.data);
        sb_free(&err);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double want = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    double x = tensor_get(&a, i * K + k) * tensor_get(&b, k * N + j);
                    want += x;
                    mag += fabs(x);
                }
                want *= 0.5;
                double got = tensor_get(&c, i * N + j);
                if ((tensor_is_poison(&c, i * N + j) || !(fabs(got - want) <= 0.5 * mag * K * 0x1p-23)) && ++bad <= 10)
                    print_error("%s C[%d, %d] = %.9g, want %.9g\n", places[p], i, j, got, want);
            }
        tensor_free(&c);
    }
    tensor_free(&a);
    tensor_free(&b);
    tir_module_free(m);
    assert_int_equal(bad, 0);
}

/* ---- fp8 dots on sm_90a's wgmma ------------------------------------------ */

/* C = dot(A, B) * (sa * sb) on sm_90a's wgmma.mma_async m64nNk32: with B
 * given K-major (Bt: [N, K]) read from shared memory through descriptors
 * (A too, or from registers when RS converts A first); with B given
 * N-major (B8[K, N]: no transpose bits for 8-bit operands), written
 * K-major into a shared tile of its own first; with A given M-major, read
 * into registers (RS). Odd sizes (a masked tail of K, partial
 * tiles), poisoned outputs, checked against a double product of the
 * codes' values. */
static const char *const wgmma_src =
    "kernel kmaj<A8: type, B8: type, BM: int, BN: int, BK: int, W: int, RS: bool = false>(\n"
    "    A: A8[M, K], Bt: B8[N, K], C: out f32[M, N], sa: f32, sb: f32)\n"
    "  grid (cdiv(M, BM), cdiv(N, BN)) warps W {\n"
    "    let m0 = program_id(0) * BM;\n"
    "    let n0 = program_id(1) * BN;\n"
    "    var acc = zeros<f32>[BM, BN];\n"
    "    for k in 0 .. K step BK pipeline(2) {\n"
    "        let a = A[m0 : +BM, k : +BK];\n"
    "        acc = acc + dot(RS ? A8(f32(a)) : a, transpose(Bt[n0 : +BN, k : +BK]));\n"
    "    }\n"
    "    C[m0 : +BM, n0 : +BN] = acc * (sa * sb);\n"
    "}\n"
    "kernel nmaj<A8: type, B8: type, BM: int, BN: int, BK: int, W: int, RS: bool = false>(\n"
    "    A: A8[M, K], B: B8[K, N], C: out f32[M, N], sa: f32, sb: f32)\n"
    "  grid (cdiv(M, BM), cdiv(N, BN)) warps W {\n"
    "    let m0 = program_id(0) * BM;\n"
    "    let n0 = program_id(1) * BN;\n"
    "    var acc = zeros<f32>[BM, BN];\n"
    "    for k in 0 .. K step BK pipeline(2) {\n"
    "        let a = A[m0 : +BM, k : +BK];\n"
    "        acc = acc + dot(RS ? A8(f32(a)) : a, B[k : +BK, n0 : +BN]);\n"
    "    }\n"
    "    C[m0 : +BM, n0 : +BN] = acc * (sa * sb);\n"
    "}\n"
    "kernel mmaj<A8: type, B8: type, BM: int, BN: int, BK: int, W: int, RS: bool = false>(\n"
    "    At: A8[K, M], B: B8[K, N], C: out f32[M, N], sa: f32, sb: f32)\n"
    "  grid (cdiv(M, BM), cdiv(N, BN)) warps W {\n"
    "    let m0 = program_id(0) * BM;\n"
    "    let n0 = program_id(1) * BN;\n"
    "    var acc = zeros<f32>[BM, BN];\n"
    "    for k in 0 .. K step BK pipeline(2) {\n"
    "        acc = acc + dot(transpose(At[k : +BK, m0 : +BM]), B[k : +BK, n0 : +BN]);\n"
    "    }\n"
    "    C[m0 : +BM, n0 : +BN] = acc * (sa * sb);\n"
    "}\n";

/* Whether the first fp8 wgmma of ptx takes A in registers ("}, {" after D). */
static bool ss_or_rs(const char *ptx)
{
    const char *w = strstr(ptx, "k32.f32.e");
    const char *d = w ? strchr(w, '}') : NULL;
    return d && !strncmp(d, "}, {", 4);
}

typedef struct {
    const char *a8, *b8;
    int bm, bn, bk, warps;
    bool rs, k_major; /* A converted in registers; B given K-major (else N-major: staged K-major) */
    int M, N, K;
    bool a_m_major; /* A given M-major (At: [K, M]; B N-major): read into registers (RS) */
} WgmmaCase;

static void wgmma_case(const WgmmaCase *c)
{
    char bm[8], bn[8], bk[8], w[8];
    snprintf(bm, sizeof bm, "%d", c->bm);
    snprintf(bn, sizeof bn, "%d", c->bn);
    snprintf(bk, sizeof bk, "%d", c->bk);
    snprintf(w, sizeof w, "%d", c->warps);
    Define defs[7] = { { "A8", c->a8 }, { "B8", c->b8 }, { "BM", bm }, { "BN", bn }, { "BK", bk }, { "W", w },
                       { "RS", c->rs ? "true" : "false" } };
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("wg8.tsr", wgmma_src, defs, 7, &diags);
    if (!m)
        fail_msg("does not compile:\n%s", diags.data ? diags.data : "");
    sb_free(&diags);
    TirFunc *fn = m->funcs.data[c->a_m_major ? 2 : c->k_major ? 0 : 1];
    DType at = !strcmp(c->a8, "e4m3") ? DT_E4M3 : DT_E5M2, bt = !strcmp(c->b8, "e4m3") ? DT_E4M3 : DT_E5M2;
    int64_t sa_[2] = { c->M, c->K }, sb_[2] = { c->N, c->K }, sc[2] = { c->M, c->N };
    if (c->a_m_major) {
        sa_[0] = c->K;
        sa_[1] = c->M;
    }
    if (!c->k_major) {
        sb_[0] = c->K;
        sb_[1] = c->N;
    }
    HostTensor a = tensor_new(at, 2, sa_), b = tensor_new(bt, 2, sb_), out = tensor_new(DT_F32, 2, sc);
    Rng r;
    rng_seed(&r, (uint64_t)(c->M * 1000 + c->N * 10 + c->K));
    tensor_fill_normal(&a, &r, 30.0); /* saturates some: the codes are what counts */
    tensor_fill_normal(&b, &r, 1.0);
    tensor_poison(&out);
    KernelArg args[5] = { arg_tensor(a), arg_tensor(b), arg_tensor(out), arg_scalar(0.25), arg_scalar(2.0) };
    StrBuf err;
    sb_init(&err);
    EmuRunOptions eo = { 0 };
    char *ptx = NULL;
    eo.target = "sm_90a";
    eo.check_uninit = true;
    eo.check_races = true;
    eo.host_threads = 2;
    eo.ptx = &ptx;
    if (!emu_run_kernel(fn, args, 5, &eo, &err))
        fail_msg("%s x %s %dx%dx%d: %s", c->a8, c->b8, c->bm, c->bn, c->bk, err.data);
    sb_free(&err);
    char want_ins[96];
    snprintf(want_ins, sizeof want_ins, "wgmma.mma_async.sync.aligned.m64n%dk32.f32.%s.%s", c->bn, c->a8, c->b8);
    bool wgmma = ptx && strstr(ptx, want_ins);
    if (!wgmma)
        fail_msg("%s x %s %dx%dx%d%s: %s %s in the PTX", c->a8, c->b8, c->bm, c->bn, c->bk, c->rs ? " RS" : "",
                 wgmma ? "a" : "no", want_ins);
    /* SS reads A through a descriptor (an i64 operand), RS through four b32 registers */
    if (wgmma && (c->rs || c->a_m_major) != ss_or_rs(ptx))
        fail_msg("%s x %s %dx%dx%d: A %s registers", c->a8, c->b8, c->bm, c->bn, c->bk, c->rs ? "not from" : "from");
    free(ptx);
    int bad = 0;
    for (int i = 0; i < c->M; i++)
        for (int j = 0; j < c->N; j++) {
            double want = 0, mag = 0;
            for (int k = 0; k < c->K; k++) {
                int64_t bi = c->k_major ? (int64_t)j * c->K + k : (int64_t)k * c->N + j;
                int64_t ai = c->a_m_major ? (int64_t)k * c->M + i : (int64_t)i * c->K + k;
                double x = tensor_get(&a, ai) * tensor_get(&b, bi);
                want += x;
                mag += fabs(x);
            }
            want *= 0.5;
            double got = tensor_get(&out, (int64_t)i * c->N + j);
            if ((tensor_is_poison(&out, (int64_t)i * c->N + j) || !(fabs(got - want) <= 0.5 * mag * c->K * 0x1p-23)) &&
                ++bad <= 10)
                print_error("%s x %s %dx%dx%d C[%d, %d] = %.9g, want %.9g\n", c->a8, c->b8, c->bm, c->bn, c->bk, i,
                            j, got, want);
        }
    tensor_free(&a);
    tensor_free(&b);
    tensor_free(&out);
    tir_module_free(m);
    assert_int_equal(bad, 0);
}

static void wgmma_dots(void **state)
{
    (void)state;
    static const WgmmaCase cases[] = {
        /* a8      b8      BM   BN   BK  W  RS    B K-major  M    N    K   A M-major */
        { "e4m3", "e5m2", 64, 64, 64, 4, false, true, 77, 45, 150, false },   /* 64B swizzle, tail of K */
        { "e5m2", "e4m3", 128, 32, 32, 4, false, true, 130, 70, 61, false },  /* 32B, two m-tiles a warp */
        { "e4m3", "e4m3", 128, 128, 128, 8, false, true, 129, 131, 200, false }, /* 128B, two warpgroups */
        { "e5m2", "e5m2", 64, 8, 256, 4, false, true, 70, 19, 300, false },   /* two 128-byte panels, N = 8 */
        { "e4m3", "e5m2", 64, 256, 64, 4, false, true, 65, 257, 64, false },  /* N = 256 */
        { "e4m3", "e5m2", 64, 64, 64, 4, true, true, 77, 45, 150, false },    /* A from registers (RS) */
        { "e5m2", "e4m3", 128, 64, 128, 8, true, true, 100, 70, 130, false }, /* RS, two warpgroups */
        { "e4m3", "e5m2", 64, 32, 32, 4, false, false, 70, 45, 77, false },   /* B N-major: staged transposed */
        { "e5m2", "e4m3", 128, 64, 64, 8, true, false, 130, 99, 150, false }, /* the same, RS, two warpgroups */
        { "e4m3", "e4m3", 64, 64, 64, 4, false, false, 90, 77, 99, true }, /* A M-major: RS, B staged */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        wgmma_case(&cases[i]);
}

/* ---- what the language refuses ------------------------------------------ */

/* src must fail to compile with a message containing want. */
static void refused(const char *src, const char *want)
{
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("t.tsr", src, NULL, 0, &diags);
    if (m || !diags.data || !strstr(diags.data, want))
        fail_msg("%s\nwanted \"%s\", got:\n%s", src, want, diags.data ? diags.data : "(compiled)");
    tir_module_free(m);
    sb_free(&diags);
}

static void refusals(void **state)
{
    (void)state;
    const char *head = "kernel k(X: e4m3[N], Y: out e4m3[N], Z: out f32[N]) grid (1) {\n    let x = X[0 : +128];\n";
    static const char *const cases[][2] = {
        { "    Y[0 : +128] = x + x;\n", "t.tsr:3:21: error: '+' is not defined on e4m3; convert to f32 first" },
        { "    Y[0 : +128] = -x;\n", "t.tsr:3:19: error: '-' is not defined on e4m3" },
        { "    Z[0 : +1] = f32(rowsum(x[None, :]));\n", "'rowsum' is not defined on e4m3" },
        { "    Y[0 : +128] = exp(x);\n", "'exp' is not defined on e4m3" },
        { "    Y[0 : +128] = where(x < x, x, x);\n", "'<' is not defined on e4m3" },
        { "    Y[0 : +128] = x * 2.0;\n", "'*' is not defined on e4m3" },
        { "    Y[0 : +128] = 500.0;\n", "the constant 500 is out of range for e4m3" },
        { "    Z[0 : +128] = x;\n", "convert it with f32(...)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[512];
        snprintf(src, sizeof src, "%s%s}\n", head, cases[i][0]);
        refused(src, cases[i][1]);
    }
    refused("kernel k(s: e4m3, Y: out f32[N]) grid (1) { Y[0] = 1.0; }\n",
            "a scalar parameter cannot be e4m3; pass an f32 and convert it");
}

/* Targets below sm_89 have no fp8 conversions: an error at the conversion
 * (or at the dot, whose operands need them), which later targets compile. */
static void sm80_refuses(const char *src, const char *want_ptx, const char *want_error)
{
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("t.tsr", src, NULL, 0, &diags);
    assert_non_null(m);
    Source s = { "t.tsr", src, strlen(src) };
    static const char *const targets[] = { "sm_80", "sm_89", "sm_90", "sm_90a" };
    for (int t = 0; t < 4; t++) {
        CodegenOptions o = { .target = targets[t], .assume_aligned = true };
        CodegenResult r;
        Diag diag;
        diag_init(&diag, &s);
        bool ok = compile_ptx(m->funcs.data[0], &o, false, NULL, &r, &diag);
        if (t) {
            assert_true(ok);
            assert_non_null(strstr(r.ptx, want_ptx));
            codegen_result_free(&r);
        } else {
            assert_false(ok);
            if (!strstr(diag.out.data, want_error))
                fail_msg("wanted \"%s\", got:\n%s", want_error, diag.out.data);
        }
        diag_free(&diag);
    }
    sb_free(&diags);
    tir_module_free(m);
}

static void sm80_refuses_conversions(void **state)
{
    (void)state;
    sm80_refuses("kernel k(X: f32[N], Y: out e5m2[N]) grid (1) {\n"
                 "    Y[0 : +128] = e5m2(X[0 : +128]);\n"
                 "}\n",
                 "cvt.rn.satfinite.e5m2x2.f32", "t.tsr:2:19: error: converting f32 to e5m2 needs sm_89 or later");
    sm80_refuses("kernel k(A: e4m3[M, K], B: e4m3[K, N], C: out f32[M, N]) grid (1) {\n"
                 "    C[0 : +16, 0 : +16] = dot(A[0 : +16, 0 : +32], B[0 : +32, 0 : +16]);\n"
                 "}\n",
                 ".e4m3", /* mma.sync m16n8k32 on sm_89, cvt to f16 and FMAs on sm_90(a) */
                 "t.tsr:2:27: error: a 'dot' of e4m3 and e4m3 tiles needs sm_89 or later");
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(codes_decode), cmocka_unit_test(codes_encode),
                                        cmocka_unit_test(compiled_conversions), cmocka_unit_test(nvcc_conversions),
                                        cmocka_unit_test(dots), cmocka_unit_test(wgmma_dots),
                                        cmocka_unit_test(refusals),
                                        cmocka_unit_test(sm80_refuses_conversions) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
