/* Hopper's asynchronous machinery in the emulator (ops_wgmma.c, ops_mbar.c):
 * wgmma.mma_async against the PTX ISA's tables, written out here from the
 * ISA text in a different form from the emulator's (the canonical layouts
 * evaluated as CuTe shape:stride tuples, the accumulator fragment as the
 * ISA's figure describes it), and every misuse the emulator must report. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "emu/emu_test.h"
#include "hopper_gemm.h"

/* ---- the ISA's tables ------------------------------------------------------------ */

enum { SW_NONE, SW_128, SW_64, SW_32 }; /* the descriptor's swizzle field */

/* 16-byte chunks per swizzle row */
static int sw_chunks(int sw) { return sw == SW_128 ? 8 : sw == SW_64 ? 4 : sw == SW_32 ? 2 : 1; }

/* A canonical operand layout: PTX ISA, "Shared Memory Matrix Layout",
 * canonical layouts in CuTe notation, T = 8 (16-bit elements), c chunks:
 *   K-major:  none ((8,m),(T,2k)):((1T,SBO),(1,LBO)), swizzled ((8,m),(T,2k)):((cT,SBO),(1,T))
 *   MN-major: none ((T,1,m),(8,k)):((1,T,SBO),(1T,LBO)),
 *             swizzled ((T,c,m),(8,k)):((1,T,LBO),(cT,SBO))
 * Strides are in elements; LBO/SBO are kept in bytes in the descriptor. */
typedef struct {
    bool mn_major;
    int sw;
    unsigned lbo, sbo; /* bytes */
} Canon;

/* Evaluates a layout given as the shapes and strides of its modes. */
static unsigned eval_modes(unsigned coord, const unsigned *shape, const unsigned *stride, int n)
{
    unsigned off = 0;
    for (int i = 0; i < n - 1; i++) {
        off += coord % shape[i] * stride[i];
        coord /= shape[i];
    }
    off += coord * stride[n - 1]; /* the last mode takes what is left */
    return off;
}

/* The byte address of element (r, k) (r along M or N) of `es` bytes at `base`. */
static unsigned canon_addr(const Canon *c, unsigned base, unsigned r, unsigned k, unsigned es)
{
    const unsigned T = 16 / es, ch = (unsigned)sw_chunks(c->sw), L = c->lbo / es, S = c->sbo / es;
    unsigned elems;
    if (!c->mn_major) {
        unsigned rs[2] = {8, 0}, ks[2] = {T, 0};
        unsigned rd[2] = {c->sw == SW_NONE ? T : ch * T, S};
        unsigned kd[2] = {1, c->sw == SW_NONE ? L : T};
        elems = eval_modes(r, rs, rd, 2) + eval_modes(k, ks, kd, 2);
    } else {
        unsigned rs[3] = {T, c->sw == SW_NONE ? 1 : ch, 0}, ks[2] = {8, 0};
        unsigned rd[3] = {1, T, c->sw == SW_NONE ? S : L};
        unsigned kd[2] = {c->sw == SW_NONE ? T : ch * T, c->sw == SW_NONE ? L : S};
        elems = eval_modes(r, rs, rd, 3) + eval_modes(k, ks, kd, 2);
    }
    unsigned a = base + es * elems;
    /* Swizzle<B,4,3> on byte addresses: bits [4, 4+B) ^= bits [7, 7+B) */
    unsigned bbits = c->sw == SW_128 ? 3 : c->sw == SW_64 ? 2 : c->sw == SW_32 ? 1 : 0;
    return a ^ ((a >> 3) & (((1u << bbits) - 1) << 4));
}

/* Compact LBO/SBO for a rows x 16 operand (one k16 slice). */
static Canon canon_for(bool mn_major, int sw, unsigned rows, bool alt)
{
    Canon c = {mn_major, sw, 16, 0};
    unsigned ch = (unsigned)sw_chunks(sw);
    if (!mn_major) {
        if (sw == SW_NONE) {
            /* core matrices of 8 rows x 16 B; `alt` swaps which of K and M is outer */
            c.lbo = alt ? 128 * (rows / 8) : 128;
            c.sbo = alt ? 128 : 256;
        } else {
            c.sbo = 8 * ch * 16;
        }
    } else if (sw == SW_NONE) {
        c.sbo = 128;              /* next 8 MN elements */
        c.lbo = 128 * (rows / 8); /* next 8 K rows */
    } else {
        c.sbo = 8 * ch * 16;                    /* next 8 K rows */
        unsigned atoms = (rows + ch * 8 - 1) / (ch * 8);
        c.lbo = atoms > 1 ? 2 * c.sbo : 16;     /* next c*T MN elements */
    }
    return c;
}

static uint64_t make_desc(const Canon *c)
{
    static const uint64_t swf[4] = {0, 1, 2, 3};
    return (uint64_t)(c->lbo >> 4) << 16 | (uint64_t)(c->sbo >> 4) << 32 | swf[c->sw] << 62;
}

/* The accumulator of m64nNk16 (ISA, "Matrix fragments for wgmma.mma_async",
 * the figure of D): warp w of the warpgroup holds rows 16w..16w+15; in it,
 * as for mma.sync's m16n8 D, lane holds rows lane/4 and lane/4 + 8 and
 * columns 2*(lane%4) + {0,1}, repeated for each 8-column block. */
static void d_pos(unsigned tid, unsigned i, unsigned *row, unsigned *col)
{
    unsigned w = tid / 32, lane = tid % 32;
    unsigned block = i / 4, within = i % 4;
    *row = 16 * w + lane / 4 + (within >= 2 ? 8 : 0);
    *col = 8 * block + 2 * (lane % 4) + within % 2;
}

/* A in registers (ISA figure of the m64nNk16 A fragment): per warp the
 * m16n8k16 A fragment of mma.sync, element j of 8. */
static void a_pos(unsigned tid, unsigned j, unsigned *row, unsigned *k)
{
    unsigned w = tid / 32, lane = tid % 32;
    *row = 16 * w + lane / 4 + ((j == 2 || j == 3 || j == 6 || j == 7) ? 8 : 0);
    *k = 2 * (lane % 4) + (j & 1) + (j >= 4 ? 8 : 0);
}

/* The same for 8-bit A of m64nNk32 (per warp mma.sync's m16n8k32 A
 * fragment): element j of 16, four per register; rows g (a0-a3, a8-a11) and
 * g + 8, columns 4 * (lane % 4) + j % 4, plus 16 from a8 on. */
static void a_pos8(unsigned tid, unsigned j, unsigned *row, unsigned *k)
{
    unsigned w = tid / 32, lane = tid % 32;
    *row = 16 * w + lane / 4 + ((j % 8) >= 4 ? 8 : 0);
    *k = 4 * (lane % 4) + j % 4 + (j >= 8 ? 16 : 0);
}

/* tf32 (m64nNk8, per warp mma.sync's m16n8k8 tf32 A fragment): element j
 * of 4, one per register: rows g (a0, a2) and g + 8 (a1, a3), columns
 * lane % 4, plus 4 for a2 and a3. */
static void a_pos32(unsigned tid, unsigned j, unsigned *row, unsigned *k)
{
    unsigned w = tid / 32, lane = tid % 32;
    *row = 16 * w + lane / 4 + (j & 1 ? 8 : 0);
    *k = lane % 4 + (j >= 2 ? 4 : 0);
}

/* fp8 codes decoded from the formats' definitions (e4m3: bias 7, no
 * infinities; e5m2: bias 15), and the code of a value found by search. */
static double f8_value(uint8_t v, bool e5m2)
{
    unsigned mb = e5m2 ? 2 : 3, eb = e5m2 ? 5 : 4, bias = e5m2 ? 15 : 7;
    unsigned e = (v >> mb) & ((1u << eb) - 1), mant = v & ((1u << mb) - 1);
    double mag = e ? ldexp(1.0 + mant / (double)(1u << mb), (int)e - (int)bias)
                   : ldexp(mant / (double)(1u << mb), 1 - (int)bias);
    return (v & 0x80) ? -mag : mag;
}

static uint8_t f8_code(double x, bool e5m2)
{
    for (unsigned v = 0; v < 256; v++)
        if (f8_value((uint8_t)v, e5m2) == x && !(x == 0 && v))
            return (uint8_t)v;
    fail_msg("%g is not exact in %s", x, e5m2 ? "e5m2" : "e4m3");
    return 0;
}

/* ---- f16 / bf16 values ------------------------------------------------------------ */

static uint16_t to_half(float f, bool bf)
{
    if (bf)
        return (uint16_t)(bits_of_f32(f) >> 16); /* values here are exact in bf16 */
    _Float16 h = (_Float16)f;
    uint16_t v;
    memcpy(&v, &h, 2);
    return v;
}

static double from_half(uint16_t v, bool bf)
{
    if (bf)
        return f32_of_bits((uint32_t)v << 16);
    _Float16 h;
    memcpy(&h, &v, 2);
    return (double)h;
}

/* Small values with few significant bits: products and sums are exact. */
static float rand_small(EtRng *r) { return (float)((int)(et_rand(r) % 33) - 16) / 8.0f; }

/* ---- the kernel -------------------------------------------------------------------- */

/* shared image: A (up to 64 rows of 128 B) at 0, B (up to 256 rows of 128 B) at 8 KB */
enum { IMG_BYTES = 40960, A_OFF = 0, B_OFF = 8192 };

typedef struct {
    unsigned n;
    int f8a, f8b; /* fp8 inputs (k32): 1 e4m3, 2 e5m2; 0: 16-bit inputs */
    bool bf16, f16acc, rs;
    bool trans_a, trans_b, neg_a, neg_b;
    int sw_a, sw_b;
    bool alt;    /* the other LBO/SBO arrangement for no swizzle */
    bool chain;  /* two wgmmas into the same accumulators */
    bool tf32;   /* tf32 inputs (k8, f32 accumulators) */
    int i8a, i8b; /* integer inputs (k32, s32 accumulators): 1 s8, 2 u8; 0: none */
    bool satfinite;
    int32_t cbase; /* added to every integer C (to make sums overflow) */
} Case;

/* Bytes per input element and K of a case. */
static unsigned case_es(const Case *c) { return c->tf32 ? 4 : c->f8a || c->i8a ? 1 : 2; }
static unsigned case_k(const Case *c) { return 32 / case_es(c); }

/* PTX: copy the image to shared memory, add the shared base to the
 * descriptors, load C (and A), fence, mma_async (twice when chained),
 * commit, wait, store D. */
static char *wgmma_kernel(const Case *c)
{
    StrBuf sb;
    sb_init(&sb);
    unsigned nd = c->f16acc ? c->n / 4 : c->n / 2;
    static const char *const f8[3] = {"", "e4m3", "e5m2"}, *const i8[3] = {"", "s8", "u8"};
    const char *ina = c->i8a ? i8[c->i8a] : c->tf32 ? "tf32" : c->f8a ? f8[c->f8a] : c->bf16 ? "bf16" : "f16";
    const char *inb = c->i8a ? i8[c->i8b] : c->f8a ? f8[c->f8b] : ina;
    sb_printf(&sb,
              ".version 8.0\n.target sm_90a\n.address_size 64\n"
              ".visible .entry k(.param .u64 img, .param .u64 cin, .param .u64 out, .param .u64 da,"
              " .param .u64 db, .param .u64 afrag, .param .u32 sd)\n{\n"
              ".reg .b32 %%r<40>;\n.reg .b64 %%rd<20>;\n.reg .f32 %%f<130>;\n.reg .b32 %%h<130>;\n"
              ".reg .pred %%p<3>;\n"
              ".shared .align 1024 .b8 smem[%d];\n"
              "ld.param.u64 %%rd1, [img];\nmov.u32 %%r1, %%tid.x;\nmov.u32 %%r2, 0;\n"
              "$copy:\nshl.b32 %%r3, %%r2, 7;\nadd.u32 %%r3, %%r3, %%r1;\nshl.b32 %%r3, %%r3, 4;\n"
              "cvt.u64.u32 %%rd2, %%r3;\nadd.u64 %%rd3, %%rd1, %%rd2;\n"
              "ld.global.v4.u32 {%%r4, %%r5, %%r6, %%r7}, [%%rd3];\n"
              "mov.u32 %%r8, smem;\nadd.u32 %%r8, %%r8, %%r3;\n"
              "st.shared.v4.u32 [%%r8], {%%r4, %%r5, %%r6, %%r7};\n"
              "add.u32 %%r2, %%r2, 1;\nsetp.lt.u32 %%p1, %%r2, %d;\n@%%p1 bra $copy;\n"
              "fence.proxy.async.shared::cta;\nbar.sync 0;\n"
              "mov.u32 %%r9, smem;\nshr.u32 %%r9, %%r9, 4;\ncvt.u64.u32 %%rd6, %%r9;\n"
              "ld.param.u64 %%rd4, [da];\nadd.u64 %%rd4, %%rd4, %%rd6;\n"
              "ld.param.u64 %%rd5, [db];\nadd.u64 %%rd5, %%rd5, %%rd6;\n"
              "ld.param.u32 %%r10, [sd];\nsetp.ne.u32 %%p2, %%r10, 0;\n"
              "ld.param.u64 %%rd7, [cin];\nmul.wide.u32 %%rd8, %%r1, %u;\nadd.u64 %%rd7, %%rd7, %%rd8;\n"
              "ld.param.u64 %%rd9, [out];\nadd.u64 %%rd9, %%rd9, %%rd8;\n"
              "ld.param.u64 %%rd10, [afrag];\nmul.wide.u32 %%rd11, %%r1, 16;\nadd.u64 %%rd10, %%rd10, %%rd11;\n"
              "ld.global.v4.u32 {%%r20, %%r21, %%r22, %%r23}, [%%rd10];\n",
              IMG_BYTES, IMG_BYTES / 16 / 128, nd * 4);
    const char *acc = c->f16acc || c->i8a ? "h" : "f";
    const char *aty = c->f16acc || c->i8a ? "b32" : "f32";
    bool trans = !c->f8a && !c->tf32 && !c->i8a; /* only 16-bit inputs have them */
    for (unsigned i = 0; i < nd; i++)
        sb_printf(&sb, "ld.global.%s %%%s%u, [%%rd7+%u];\n", aty, acc, i, 4 * i);
    sb_puts(&sb, "wgmma.fence.sync.aligned;\n");
    for (int rep = 0; rep < (c->chain ? 2 : 1); rep++) {
        sb_printf(&sb, "wgmma.mma_async.sync.aligned.m64n%uk%u.%s.%s.%s%s {", c->n, case_k(c),
                  c->i8a ? "s32" : c->f16acc ? "f16" : "f32", ina, inb, c->satfinite ? ".satfinite" : "");
        for (unsigned i = 0; i < nd; i++)
            sb_printf(&sb, "%s%%%s%u", i ? ", " : "", acc, i);
        sb_printf(&sb, "}, %s, %%rd5, %s", c->rs ? "{%r20, %r21, %r22, %r23}" : "%rd4", rep ? "1" : "%p2");
        if (!c->i8a) /* integers have no scale immediates */
            sb_printf(&sb, ", %d, %d", c->neg_a ? -1 : 1, c->neg_b ? -1 : 1);
        if (trans && !c->rs)
            sb_printf(&sb, ", %d", c->trans_a);
        if (trans)
            sb_printf(&sb, ", %d", c->trans_b);
        sb_puts(&sb, ";\n");
    }
    sb_puts(&sb, "wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;\n");
    for (unsigned i = 0; i < nd; i++)
        sb_printf(&sb, "st.global.%s [%%rd9+%u], %%%s%u;\n", aty, 4 * i, acc, i);
    sb_puts(&sb, "ret;\n}\n");
    return sb_take(&sb);
}

static const char *sw_name(int sw)
{
    return sw == SW_128 ? "128B" : sw == SW_64 ? "64B" : sw == SW_32 ? "32B" : "none";
}

/* Runs one case against the product on the host; the result must be exact
 * (the inputs make every product and sum exact). */
/* An input value: 16-bit (f16/bf16), fp8, tf32 or an 8-bit integer,
 * returned as its code. */
static uint32_t encode_in(const Case *c, bool b, double v)
{
    int f8 = b ? c->f8b : c->f8a;
    if (c->i8a)
        return (uint8_t)(int)v;
    if (c->tf32)
        return bits_of_f32((float)v); /* values here have few significant bits */
    return f8 ? f8_code(v, f8 == 2) : to_half((float)v, c->bf16);
}

static double decode_in(const Case *c, bool b, uint32_t code)
{
    int f8 = b ? c->f8b : c->f8a, i8 = b ? c->i8b : c->i8a;
    if (i8)
        return i8 == 1 ? (double)(int8_t)code : (double)(code & 0xff);
    if (c->tf32)
        return f32_of_bits(code & 0xffffe000u); /* tf32: 10 mantissa bits */
    return f8 ? f8_value((uint8_t)code, f8 == 2) : from_half((uint16_t)code, c->bf16);
}

/* A random input of the case: fp8 quarters in [-2, 2], the integer type's
 * range, or small values with few significant bits. */
static double rand_in(const Case *c, bool b, EtRng *rng)
{
    int i8 = b ? c->i8b : c->i8a;
    if (i8)
        return i8 == 1 ? (int)(et_rand(rng) % 256) - 128 : (int)(et_rand(rng) % 256);
    return c->f8a ? ((int)(et_rand(rng) % 17) - 8) / 4.0 : rand_small(rng);
}

static void run_case(const Case *c, EtRng *rng)
{
    unsigned N = c->n, nd = c->f16acc ? N / 4 : N / 2, K = case_k(c), es = case_es(c);
    double A[64][32], B[32][256];
    uint8_t *img = calloc(IMG_BYTES, 1);
    Canon ca = canon_for(c->trans_a, c->sw_a, 64, c->alt);
    Canon cb = canon_for(c->trans_b, c->sw_b, N, c->alt);
    for (unsigned m = 0; m < 64; m++)
        for (unsigned k = 0; k < K; k++) {
            uint32_t h = encode_in(c, false, rand_in(c, false, rng));
            A[m][k] = decode_in(c, false, h);
            memcpy(img + canon_addr(&ca, A_OFF, m, k, es), &h, es);
        }
    for (unsigned n = 0; n < N; n++)
        for (unsigned k = 0; k < K; k++) {
            uint32_t h = encode_in(c, true, rand_in(c, true, rng));
            B[k][n] = decode_in(c, true, h);
            unsigned a = canon_addr(&cb, B_OFF, n, k, es);
            assert_true(a + es <= IMG_BYTES);
            memcpy(img + a, &h, es);
        }
    uint32_t *afrag = calloc(128 * 4, 4);
    for (unsigned t = 0; t < 128; t++)
        for (unsigned j = 0; j < 16 / es; j++) {
            unsigned r, k;
            if (es == 4) {
                a_pos32(t, j, &r, &k);
                afrag[t * 4 + j] = encode_in(c, false, A[r][k]);
            } else if (es == 1) {
                a_pos8(t, j, &r, &k);
                afrag[t * 4 + j / 4] |= (uint32_t)encode_in(c, false, A[r][k]) << (8 * (j % 4));
            } else {
                a_pos(t, j, &r, &k);
                afrag[t * 4 + j / 2] |= (uint32_t)encode_in(c, false, A[r][k]) << (16 * (j & 1));
            }
        }
    uint32_t *cin = calloc(128 * nd, 4), *out = calloc(128 * nd, 4);
    double C[64][256];
    for (unsigned t = 0; t < 128; t++)
        for (unsigned i = 0; i < nd; i++)
            for (unsigned h = 0; h < (c->f16acc ? 2u : 1u); h++) {
                unsigned r, col;
                d_pos(t, c->f16acc ? 2 * i + h : i, &r, &col);
                float v = rand_small(rng);
                if (c->i8a) { /* integers: C up to 2^20 around cbase */
                    int32_t iv = (int32_t)((int64_t)c->cbase + (int)(et_rand(rng) % (1 << 21)) - (1 << 20));
                    C[r][col] = iv;
                    cin[t * nd + i] = (uint32_t)iv;
                    continue;
                }
                C[r][col] = v;
                if (c->f16acc)
                    cin[t * nd + i] |= (uint32_t)to_half(v, false) << (16 * h);
                else
                    cin[t * nd + i] = bits_of_f32(v);
            }
    uint32_t sd = (uint32_t)(et_rand(rng) & 1);
    uint64_t da = make_desc(&ca) + (A_OFF >> 4), db = make_desc(&cb) + (B_OFF >> 4);
    char *ptx = wgmma_kernel(c);
    EmuModule *m = et_load(ptx);
    void *pi = img, *pc = cin, *po = out, *pa = afrag;
    void *args[] = {&pi, &pc, &po, &da, &db, &pa, &sd};
    EmuRegion regs[] = {{img, IMG_BYTES, false}, {cin, 128 * nd * 4, false},
                        {out, 128 * nd * 4, true}, {afrag, 128 * 16, false}};
    EtConfig cfg = ET_CONFIG(1, 128);
    cfg.races = cfg.uninit = true;
    et_run(m, "k", args, regs, 4, cfg);
    double sa = c->neg_a ? -1 : 1, sb = c->neg_b ? -1 : 1;
    int bad = 0;
    for (unsigned t = 0; t < 128 && bad < 5; t++)
        for (unsigned i = 0; i < nd && bad < 5; i++)
            for (unsigned h = 0; h < (c->f16acc ? 2u : 1u); h++) {
                unsigned r, col;
                d_pos(t, c->f16acc ? 2 * i + h : i, &r, &col);
                double prod = 0;
                for (unsigned k = 0; k < K; k++)
                    prod += sa * A[r][k] * sb * B[k][col];
                double want = (sd ? C[r][col] : 0) + prod + (c->chain ? prod : 0);
                double got = c->i8a     ? (double)(int32_t)out[t * nd + i]
                             : c->f16acc ? from_half((uint16_t)(out[t * nd + i] >> (16 * h)), false)
                                         : f32_of_bits(out[t * nd + i]);
                double wr = c->f16acc ? from_half(to_half((float)want, false), false)
                                      : (double)(float)want;
                if (c->i8a) { /* s32: clamped with .satfinite, else wrapped (the products are exact) */
                    int64_t wi = (int64_t)want;
                    wr = c->satfinite ? (double)(wi > INT32_MAX ? INT32_MAX : wi < INT32_MIN ? INT32_MIN : wi)
                                      : (double)(int32_t)(uint32_t)wi;
                }
                if (got != wr) {
                    print_error("n%u %s%s %s a:%s%s b:%s%s sd=%u: D[%u][%u] = %.17g, want %.17g "
                                "(thread %u reg %u)\n",
                                N, c->i8a ? "int8" : c->tf32 ? "tf32" : c->f8a ? "fp8" : c->bf16 ? "bf16" : "f16",
                                c->f16acc ? " f16acc" : "",
                                c->rs ? "RS" : "SS", c->trans_a ? "MN/" : "K/", sw_name(c->sw_a),
                                c->trans_b ? "MN/" : "K/", sw_name(c->sw_b), sd, r, col, got, wr,
                                t, i);
                    bad++;
                }
            }
    emu_module_free(m);
    free(ptx);
    free(img);
    free(afrag);
    free(cin);
    free(out);
    assert_int_equal(bad, 0);
}

/* Every swizzle and major of A and B, N from 8 to 256, f16, bf16, e4m3 and
 * e5m2, SS and RS, f32 and f16 accumulators, negation, scale-d and chaining. */
static void test_wgmma_layouts(void **state)
{
    (void)state;
    EtRng rng = {42};
    static const unsigned ns[] = {8, 16, 24, 64, 128, 256};
    int cases = 0;
    for (int sw = SW_NONE; sw <= SW_32; sw++)
        for (int tr = 0; tr < 4; tr++)
            for (size_t ni = 0; ni < TSR_ARRAY_LEN(ns); ni++) {
                Case c = {.n = ns[ni], .trans_a = tr & 1, .trans_b = tr >> 1, .sw_a = sw,
                          .sw_b = (sw + (int)ni) % 4, .bf16 = ni & 1, .alt = (ni + (unsigned)tr) & 1};
                run_case(&c, &rng);
                cases++;
            }
    /* every other N the ISA allows (multiples of 8 up to 256), swizzles and majors rotating */
    for (unsigned n = 8, k = 0; n <= 256; n += 8) {
        bool listed = false;
        for (size_t ni = 0; ni < TSR_ARRAY_LEN(ns); ni++)
            listed = listed || ns[ni] == n;
        if (listed)
            continue;
        Case c = {.n = n, .trans_a = k & 1, .trans_b = (k >> 1) & 1, .sw_a = (int)(k % 4), .sw_b = (int)((k / 4) % 4),
                  .bf16 = (k >> 2) & 1, .rs = k % 3 == 0 && !(k & 1)};
        run_case(&c, &rng);
        cases++;
        k++;
    }
    /* fp8 (k32, K-major only): each pair of formats, SS and RS, every swizzle */
    for (int i = 0; i < 16; i++) {
        Case c = {.n = ns[i % 6], .f8a = 1 + (i & 1), .f8b = 1 + ((i >> 1) & 1), .rs = (i & 4) != 0,
                  .f16acc = (i & 8) != 0, .sw_a = i % 4, .sw_b = (i / 4) % 4, .alt = i & 1,
                  .neg_b = i % 5 == 0, .chain = i % 7 == 0};
        run_case(&c, &rng);
        cases++;
    }
    /* tf32 (k8, K-major only, f32 accumulators): SS and RS, every swizzle, N from 8 to 256 */
    static const unsigned ns_tf32[] = {8, 16, 24, 40, 64, 256};
    for (int i = 0; i < 12; i++) {
        Case c = {.n = ns_tf32[i % 6], .tf32 = true, .rs = (i & 1) != 0, .sw_a = i % 4,
                  .sw_b = (i / 2) % 4, .alt = (i & 2) != 0, .neg_a = i % 5 == 1, .chain = i % 4 == 3};
        run_case(&c, &rng);
        cases++;
    }
    /* s8/u8 (k32, K-major only, s32 accumulators): each pair, SS and RS, every swizzle;
     * N 8, 16, 24 or multiples of 16; sums past the int32 range wrap, or clamp with .satfinite */
    static const unsigned ns_int[] = {8, 16, 24, 32, 48, 256};
    for (int i = 0; i < 16; i++) {
        Case c = {.n = ns_int[i % 6], .i8a = 1 + (i & 1), .i8b = 1 + ((i >> 1) & 1), .rs = (i & 4) != 0,
                  .sw_a = i % 4, .sw_b = (i / 4) % 4, .alt = i & 1, .satfinite = (i & 8) != 0,
                  .cbase = i % 3 == 0 ? INT32_MAX - 100000 : i % 3 == 1 ? INT32_MIN + 100000 : 0};
        run_case(&c, &rng);
        cases++;
    }
    /* A from registers, f16 accumulators, negated operands, chaining */
    for (int i = 0; i < 16; i++) {
        Case c = {.n = ns[i % 6], .rs = i & 1, .f16acc = (i & 2) && !(i & 8), .bf16 = (i & 8) != 0,
                  .neg_a = (i & 4) != 0, .neg_b = (i & 5) == 1, .chain = i % 3 == 0,
                  .trans_a = (i & 2) != 0, .trans_b = (i & 4) != 0, .sw_a = i % 4,
                  .sw_b = (i / 4) % 4};
        run_case(&c, &rng);
        cases++;
    }
    assert_true(cases > 100);
}

/* ---- misuse ------------------------------------------------------------------------ */

/* A kernel around `body`: 128 threads, an 8 KB zeroed shared buffer, the
 * descriptors of a K-major 64x16 A at 0 and an 8x16 B at 2048 (no swizzle),
 * accumulators %f0..%f3. */
static char *misuse_kernel(const char *body)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb,
              ".version 8.0\n.target sm_90a\n.address_size 64\n"
              ".visible .entry k(.param .u64 out)\n{\n"
              ".reg .b32 %%r<20>;\n.reg .b64 %%rd<20>;\n.reg .f32 %%f<20>;\n.reg .pred %%p<4>;\n"
              ".shared .align 1024 .b8 smem[8192];\n"
              "mov.u32 %%r1, %%tid.x;\nshl.b32 %%r2, %%r1, 6;\nmov.u32 %%r3, smem;\n"
              "add.u32 %%r3, %%r3, %%r2;\nmov.u32 %%r4, 0;\n"
              "st.shared.v4.u32 [%%r3], {%%r4, %%r4, %%r4, %%r4};\n"
              "st.shared.v4.u32 [%%r3+16], {%%r4, %%r4, %%r4, %%r4};\n"
              "st.shared.v4.u32 [%%r3+32], {%%r4, %%r4, %%r4, %%r4};\n"
              "st.shared.v4.u32 [%%r3+48], {%%r4, %%r4, %%r4, %%r4};\n"
              "fence.proxy.async.shared::cta;\nbar.sync 0;\n"
              "mov.b64 %%rd2, 0x0000001000080000;\n" /* LBO 128, SBO 256 */
              "mov.u32 %%r5, smem;\nshr.u32 %%r5, %%r5, 4;\ncvt.u64.u32 %%rd4, %%r5;\n"
              "add.u64 %%rd2, %%rd2, %%rd4;\nadd.u64 %%rd3, %%rd2, 128;\n"
              "mov.f32 %%f0, 0f00000000;\nmov.f32 %%f1, 0f00000000;\n"
              "mov.f32 %%f2, 0f00000000;\nmov.f32 %%f3, 0f00000000;\n"
              "mov.u32 %%r6, 0;\nmov.u32 %%r7, 0;\nmov.u32 %%r8, 0;\nmov.u32 %%r9, 0;\n"
              "setp.lt.u32 %%p1, %%r1, 64;\n"
              "%s\nld.param.u64 %%rd5, [out];\nst.global.f32 [%%rd5], %%f0;\nret;\n}\n",
              body);
    return sb_take(&sb);
}

#define W "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f0, %f1, %f2, %f3}, %rd2, %rd3, 1, 1, 1, 0, 0;\n"
#define WR "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f0, %f1, %f2, %f3}, {%r6, %r7, %r8, %r9}, %rd3, 1, 1, 1, 0;\n"
#define FENCE "wgmma.fence.sync.aligned;\n"
#define COMMIT "wgmma.commit_group.sync.aligned;\n"
#define WAIT0 "wgmma.wait_group.sync.aligned 0;\n"

/* Runs `body` with 128 threads (or `threads`); expect NULL: it must pass,
 * else the message must contain it. */
static void misuse(const char *body, unsigned threads, const char *expect)
{
    char *ptx = misuse_kernel(body);
    EmuModule *m = et_load(ptx);
    float out = 0;
    void *po = &out;
    void *args[] = {&po};
    EmuRegion regs[] = {{&out, 4, true}};
    EtConfig cfg = ET_CONFIG(1, threads);
    cfg.races = cfg.uninit = true;
    if (expect)
        et_run_fails(m, "k", args, regs, 1, cfg, expect, NULL);
    else
        et_run(m, "k", args, regs, 1, cfg);
    emu_module_free(m);
    free(ptx);
}

static void test_wgmma_misuse(void **state)
{
    (void)state;
    misuse(FENCE W W COMMIT WAIT0, 128, NULL);
    misuse(FENCE WR COMMIT WAIT0, 128, NULL);
    /* ptxas C7519: no fence before the first wgmma */
    /* the body starts at line 37 */
    misuse(W COMMIT WAIT0, 128, "line 37 (wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16): "
                                "wgmma.mma_async without a wgmma.fence before it");
    /* C7517: the accumulator read before the wait */
    misuse(FENCE W COMMIT "add.f32 %f5, %f0, %f1;\n" WAIT0, 128,
           "read of register %f0, which the wgmma.mma_async at line 38 uses, before the "
           "wgmma.wait_group");
    misuse(FENCE W COMMIT "mov.f32 %f5, %f2;\n" WAIT0, 128, "read of register %f2");
    /* no wait at all: the store of %f0 reads it */
    misuse(FENCE W COMMIT, 128, "read of register %f0");
    /* C7511: an accumulator written between two wgmmas (no fence between) */
    misuse(FENCE W "mov.f32 %f1, 0f3f800000;\n" W COMMIT WAIT0, 128,
           "line 40 (wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16): register %f1 (an "
           "accumulator) was written by another instruction since the last wgmma.fence");
    /* an accumulator written while its wgmma is in flight */
    misuse(FENCE W COMMIT "mov.f32 %f1, 0f3f800000;\n" WAIT0, 128,
           "register %f1, which the wgmma.mma_async at line 38 uses, was written (by line 40, "
           "mov.f32) before this wgmma.wait_group completed it");
    /* The fence rule, no stricter than the ISA: after the first fence, a
     * wgmma needs another only when a register it reads was written since
     * (or its accumulators come from a wgmma of another shape). */
    misuse(FENCE W COMMIT WAIT0 W COMMIT WAIT0, 128, NULL);
    misuse(FENCE W COMMIT WAIT0 "add.f32 %f5, %f0, %f1;\n" W COMMIT WAIT0, 128, NULL);
    misuse(FENCE W COMMIT WAIT0 "mov.f32 %f0, 0f3f800000;\n" W COMMIT WAIT0, 128,
           "line 42 (wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16): register %f0 (an "
           "accumulator) was written by another instruction since the last wgmma.fence");
    misuse(FENCE W COMMIT WAIT0 "mov.f32 %f0, 0f3f800000;\n" FENCE W COMMIT WAIT0, 128, NULL);
    misuse(FENCE W COMMIT WAIT0 "mov.u32 %r7, 1;\n" WR COMMIT WAIT0, 128,
           "register %r7 (an A fragment) was written by another instruction since the last "
           "wgmma.fence");
    /* accumulators written, then a wgmma that does not read them (scale-d 0), as nvcc emits */
    misuse(FENCE "mov.f32 %f0, 0f3f800000;\n"
           "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f0, %f1, %f2, %f3}, %rd2, %rd3, 0, 1, 1, "
           "0, 0;\n" COMMIT WAIT0, 128, NULL);
    misuse(FENCE W "wgmma.mma_async.sync.aligned.m64n16k16.f32.f16.f16 {%f0, %f1, %f2, %f3, %f4, %f5, "
           "%f6, %f7}, %rd2, %rd3, 1, 1, 1, 0, 0;\n" COMMIT WAIT0, 128,
           "register %f0 (an accumulator) was the accumulator of a wgmma of another shape since the "
           "last wgmma.fence");
    /* A registers of the register form written before the wait */
    misuse(FENCE WR "mov.u32 %r7, 5;\n" COMMIT WAIT0, 128,
           "register %r7, which the wgmma.mma_async at line 38 uses, was written (by line 39, "
           "mov.u32)");
    /* the wait covers older groups only */
    misuse(FENCE W COMMIT "wgmma.wait_group.sync.aligned 1;\n", 128,
           "read of register %f0, which the wgmma.mma_async at line 38 uses");
    misuse(FENCE W COMMIT W COMMIT "wgmma.wait_group.sync.aligned 1;\n" WAIT0, 128, NULL);
    /* a wgmma never committed: wait_group 0 does not cover it */
    misuse(FENCE W WAIT0, 128, "read of register %f0");
    /* the shared operand written before the wait (B lies at 2048) */
    misuse(FENCE W COMMIT "mov.u32 %r10, smem;\nst.shared.u32 [%r10+2048], %r4;\n" WAIT0, 128,
           "write to shared memory at offset 0x800, which the asynchronous read (wgmma or bulk "
           "copy) at line 38 has not finished");
    /* C7520: divergent code, part of a warpgroup, an incomplete warpgroup */
    misuse(FENCE "@%p1 bra $skip;\n" W "$skip:\n" COMMIT WAIT0, 128,
           "the warps of warpgroup 0 execute different warpgroup instructions");
    misuse("@%p1 bra $skip;\n" FENCE W COMMIT WAIT0 "$skip:\n", 128,
           "wgmma executed by part of warpgroup 0: warp 0 executed 0 warpgroup instructions "
           "(wgmma.*), warp 2 executed 4");
    misuse(FENCE "setp.lt.u32 %p2, %r1, 16;\n@%p2 " W COMMIT WAIT0, 128,
           "executed by lanes 0x0000ffff of the warp");
    misuse(FENCE W COMMIT WAIT0, 64, "warpgroup 0 is incomplete");
    misuse("@%p1 bra $a;\n" FENCE W COMMIT WAIT0 "bra $b;\n$a:\n" FENCE W W COMMIT WAIT0 "$b:\n",
           128, "the warps of warpgroup 0 execute different warpgroup instructions");
    /* the operands stored after the proxy fence */
#define STORE1 "mov.u32 %r10, smem;\nsetp.eq.u32 %p3, %r1, 0;\n@%p3 st.shared.u32 [%r10+2064], %r4;\n"
    misuse(STORE1 "bar.sync 0;\n" FENCE W COMMIT WAIT0, 128,
           "reads shared memory at offset 0x810 through the async proxy, but the store of "
           "thread tid (0,0,0) (line 39) to it has no fence.proxy.async after it");
    misuse(STORE1 "fence.proxy.async;\nbar.sync 0;\n" FENCE W COMMIT WAIT0, 128, NULL);
    /* in flight at exit */
    misuse(FENCE "mov.u32 %r10, %r1;\n" W "exit;\n", 128,
           "the warp exits with 1 wgmma.mma_async in flight");
}

#undef W
#undef WR
#undef FENCE
#undef COMMIT
#undef WAIT0
#undef STORE1

static void test_wgmma_decode_errors(void **state)
{
    (void)state;
    static const struct {
        const char *insn, *msg;
    } cases[] = {
        {"wgmma.mma_async.sync.aligned.m64n12k16.f32.f16.f16 {%f0,%f1,%f2,%f3,%f4,%f5}, %rd2, %rd3, 1, 1, 1, 0, 0;",
         "N = 12: it must be a multiple of 8"},
        {"wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f0,%f1,%f2}, %rd2, %rd3, 1, 1, 1, 0, 0;",
         "expected a vector of 4 elements, got 3"},
        {"wgmma.mma_async.sync.aligned.m64n8k16.f16.bf16.bf16 {%r1,%r2}, %rd2, %rd3, 1, 1, 1, 0, 0;",
         "accumulator .f16 is not allowed with .bf16 inputs"},
        {"wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f0,%f1,%f2,%f3}, %rd2, %rd3, 1, 2, 1, 0, 0;",
         "imm-scale-a must be the immediate 1 or -1"},
        {"wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f0,%f1,%f2,%f3}, %rd2, %rd3, 1, 1, 1, 0, 3;",
         "imm-trans-b must be the immediate 0 or 1"},
        {"wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f0,%f1,%f2,%f3}, %rd2, %rd3, 1, 1, 1, 0;",
         "expected 8 operands, got 7"},
        {"wgmma.mma_async.m64n8k16.f32.f16.f16 {%f0,%f1,%f2,%f3}, %rd2, %rd3, 1, 1, 1, 0, 0;",
         "needs .sync.aligned"},
        {"wgmma.wait_group.sync.aligned %r1;", "the group count must be an immediate"},
        {"wgmma.mma_async.sync.aligned.m64n8k8.f32.f16.f16 {%f0,%f1,%f2,%f3}, %rd2, %rd3, 1, 1, 1, 0, 0;",
         "K = 8: .f16 inputs need k16"},
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        char ptx[1024];
        snprintf(ptx, sizeof ptx,
                 ".version 8.0\n.target sm_90a\n.address_size 64\n.visible .entry k()\n{\n"
                 ".reg .b32 %%r<8>;\n.reg .b64 %%rd<8>;\n.reg .f32 %%f<8>;\n%s\nret;\n}\n",
                 cases[i].insn);
        char *msg = et_load_error(ptx);
        if (!strstr(msg, cases[i].msg) || !strstr(msg, "ptx:9: error")) {
            print_error("for %s\nexpected \"%s\", got: %s\n", cases[i].insn, cases[i].msg, msg);
            free(msg);
            fail();
        }
        free(msg);
    }
}


/* ---- mbarrier ------------------------------------------------------------------------ */

/* A two-stage ring: warp 0 produces 32 words per iteration into buf[k % 2]
 * and arrives on full[k % 2]; warp 1 waits on full with parity (k/2)&1,
 * sums, and arrives on empty, which the producer waits on with the
 * opposite parity. bug 1 flips the consumer's parity, bug 2 drops its wait
 * and its arrival. */
static const char ring_ptx[] =
    ".version 8.0\n.target sm_90a\n.address_size 64\n"
    ".visible .entry ring(.param .u64 out, .param .u32 iters, .param .u32 bug)\n{\n"
    ".reg .b32 %r<40>;\n.reg .b64 %rd<10>;\n.reg .pred %p<6>;\n"
    ".shared .align 8 .b8 bars[32];\n.shared .align 16 .b8 buf[256];\n"
    "mov.u32 %r1, %tid.x;\nand.b32 %r2, %r1, 31;\nshr.u32 %r3, %r1, 5;\n"
    "ld.param.u32 %r4, [iters];\nld.param.u32 %r30, [bug];\nmov.u32 %r5, bars;\n"
    "setp.ne.u32 %p1, %r1, 0;\n@%p1 bra $inited;\n"
    "mbarrier.init.shared::cta.b64 [%r5], 32;\nmbarrier.init.shared::cta.b64 [%r5+8], 32;\n"
    "mbarrier.init.shared::cta.b64 [%r5+16], 32;\nmbarrier.init.shared::cta.b64 [%r5+24], 32;\n"
    "$inited:\nbar.sync 0;\n"
    "mov.u32 %r6, 0;\nmov.u32 %r7, 0;\nmov.u32 %r8, buf;\nshl.b32 %r9, %r2, 2;\n"
    "setp.eq.u32 %p2, %r3, 0;\n@!%p2 bra $consumer;\n"
    "$prod:\nand.b32 %r10, %r6, 1;\nshr.u32 %r11, %r6, 1;\nand.b32 %r11, %r11, 1;\n"
    "xor.b32 %r11, %r11, 1;\nshl.b32 %r12, %r10, 3;\nadd.u32 %r13, %r5, 16;\n"
    "add.u32 %r13, %r13, %r12;\n"
    "$pw:\nmbarrier.try_wait.parity.shared::cta.b64 %p3, [%r13], %r11;\n@!%p3 bra $pw;\n"
    "shl.b32 %r14, %r10, 7;\nadd.u32 %r14, %r14, %r8;\nadd.u32 %r14, %r14, %r9;\n"
    "mad.lo.u32 %r15, %r6, 100, %r2;\nst.shared.u32 [%r14], %r15;\n"
    "add.u32 %r16, %r5, %r12;\nmbarrier.arrive.release.cta.shared::cta.b64 _, [%r16];\n"
    "add.u32 %r6, %r6, 1;\nsetp.lt.u32 %p4, %r6, %r4;\n@%p4 bra $prod;\nbra $done;\n"
    "$consumer:\nand.b32 %r10, %r6, 1;\nshr.u32 %r11, %r6, 1;\nand.b32 %r11, %r11, 1;\n"
    "and.b32 %r31, %r30, 1;\nxor.b32 %r11, %r11, %r31;\nshl.b32 %r12, %r10, 3;\n"
    "add.u32 %r16, %r5, %r12;\nsetp.eq.u32 %p5, %r30, 2;\n@%p5 bra $read;\n"
    "$cw:\nmbarrier.try_wait.parity.acquire.cta.shared::cta.b64 %p3, [%r16], %r11;\n"
    "@!%p3 bra $cw;\n"
    "$read:\nshl.b32 %r14, %r10, 7;\nadd.u32 %r14, %r14, %r8;\nadd.u32 %r14, %r14, %r9;\n"
    "ld.shared.u32 %r15, [%r14];\nadd.u32 %r7, %r7, %r15;\n"
    "add.u32 %r13, %r5, 16;\nadd.u32 %r13, %r13, %r12;\n"
    "@!%p5 mbarrier.arrive.shared::cta.b64 _, [%r13];\n"
    "add.u32 %r6, %r6, 1;\nsetp.lt.u32 %p4, %r6, %r4;\n@%p4 bra $consumer;\n"
    "ld.param.u64 %rd1, [out];\nmul.wide.u32 %rd2, %r2, 4;\nadd.u64 %rd1, %rd1, %rd2;\n"
    "st.global.u32 [%rd1], %r7;\n"
    "$done:\nret;\n}\n";

static int run_ring(uint32_t iters, uint32_t bug, bool uninit, uint32_t *out, char **msg, EmuStats *st)
{
    EmuModule *m = et_load(ring_ptx);
    void *po = out;
    void *args[] = {&po, &iters, &bug};
    EmuRegion regs[] = {{out, 32 * 4, true}};
    /* three CTAs on two host threads: one thread reuses its CTA's mbarriers
       (every CTA writes the same sums) */
    EtConfig cfg = ET_CONFIG(bug ? 1 : 3, 64);
    cfg.host_threads = 2;
    cfg.races = true;
    cfg.uninit = uninit;
    int rc = et_launch(m, "ring", args, regs, 1, cfg, msg, st);
    emu_module_free(m);
    return rc;
}

static void test_mbarrier_ring(void **state)
{
    (void)state;
    uint32_t out[32];
    char *msg = NULL;
    for (uint32_t iters = 1; iters <= 9; iters += 4) {
        memset(out, 0, sizeof out);
        EmuStats st = {0};
        if (run_ring(iters, 0, true, out, &msg, &st)) {
            print_error("ring of %u: %s\n", iters, msg);
            fail();
        }
        /* a failed try_wait suspends the warp: no spinning (each iteration
           of a warp runs about 25 instructions) */
        if (st.warp_insns > 3 * (60 * iters + 60)) {
            print_error("ring of %u ran %llu warp instructions: try_wait spins\n", iters,
                        (unsigned long long)st.warp_insns);
            fail();
        }
        for (uint32_t l = 0; l < 32; l++)
            assert_int_equal(out[l], 100 * iters * (iters - 1) / 2 + iters * l);
    }
    /* the consumer waits for the wrong parity: it runs first (it completes
       the bar.sync), takes two empty stages as full, and then both sides
       wait forever */
    assert_int_equal(run_ring(5, 1, false, out, &msg, NULL), -1);
    static const char *const want[] = {
        "deadlock: every warp that has not exited waits (at a barrier, an mbarrier or "
        "setmaxnreg.inc)",
        "warp 0 waits on the mbarrier at shared offset 0x10 (line 40, "
        "mbarrier.try_wait.parity.shared::cta.b64) for the end of a phase of parity 1",
        "warp 1 waits on the mbarrier at shared offset 0x0 (line 64, "
        "mbarrier.try_wait.parity.acquire.cta.shared::cta.b64) for the end of a phase of parity 0",
        "mbarrier at shared offset 0x0 (init line 19, count 32): phase 0 (parity 0), 32 of 32 "
        "arrivals pending, 0 transaction bytes pending",
        "mbarrier at shared offset 0x10 (init line 21, count 32): phase 1 (parity 1), 32 of 32",
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(want); i++)
        if (!strstr(msg, want[i])) {
            print_error("deadlock report lacks \"%s\":\n%s\n", want[i], msg);
            fail();
        }
    free(msg);
    /* the same with the uninitialised-read check: the consumer's first
       read of a stage nothing has written is reported before the deadlock */
    assert_int_equal(run_ring(5, 1, true, out, &msg, NULL), -1);
    if (!strstr(msg, "(ld.shared.u32): reads shared memory at offset") ||
        !strstr(msg, "which nothing has written since the block began")) {
        print_error("expected an uninitialised shared read:\n%s\n", msg);
        fail();
    }
    free(msg);
    /* no synchronisation at all: the producer's write races with the read */
    assert_int_equal(run_ring(5, 2, false, out, &msg, NULL), -1);
    if (!strstr(msg, "shared-memory race") || !strstr(msg, "(st.shared.u32)") ||
        !strstr(msg, "(line 70) are not ordered")) {
        print_error("expected a race at the consumer's read:\n%s\n", msg);
        fail();
    }
    free(msg);
}

/* Transaction counts, state tokens, test_wait, and misuse. mode selects a
 * body; out[0..3] receive results. */
static char *mbar_kernel(const char *body)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb,
              ".version 8.0\n.target sm_90a\n.address_size 64\n"
              ".visible .entry k(.param .u64 out)\n{\n"
              ".reg .b32 %%r<20>;\n.reg .b64 %%rd<20>;\n.reg .pred %%p<8>;\n"
              ".shared .align 8 .b64 bar;\n"
              "mov.u32 %%r1, %%tid.x;\nmov.u32 %%r5, bar;\nsetp.eq.u32 %%p1, %%r1, 0;\n"
              "ld.param.u64 %%rd9, [out];\n%s\nret;\n}\n",
              body);
    return sb_take(&sb);
}

static void mbar_case(const char *body, const char *expect, const uint32_t *want)
{
    char *ptx = mbar_kernel(body);
    EmuModule *m = et_load(ptx);
    uint32_t out[4] = {7, 7, 7, 7};
    void *po = out;
    void *args[] = {&po};
    EmuRegion regs[] = {{out, sizeof out, true}};
    EtConfig cfg = ET_CONFIG(1, 32);
    cfg.races = cfg.uninit = true;
    if (expect) {
        et_run_fails(m, "k", args, regs, 1, cfg, expect, NULL);
    } else {
        et_run(m, "k", args, regs, 1, cfg);
        for (int i = 0; i < 4; i++)
            assert_int_equal(out[i], want[i]);
    }
    emu_module_free(m);
    free(ptx);
}

#define INIT1 "@%p1 mbarrier.init.shared.b64 [%r5], 1;\nbar.sync 0;\n"

static void test_mbarrier_tx(void **state)
{
    (void)state;
    /* the phase completes only when the arrivals and the bytes are in */
    static const uint32_t want[4] = {0, 0, 1, 1};
    mbar_case(INIT1
              "@%p1 mbarrier.arrive.expect_tx.shared.b64 %rd1, [%r5], 64;\n"
              "mbarrier.test_wait.parity.shared.b64 %p2, [%r5], 0;\n"
              "@%p1 mbarrier.complete_tx.shared::cta.b64 [%r5], 48;\n"
              "mbarrier.test_wait.parity.shared.b64 %p3, [%r5], 0;\n"
              "@%p1 mbarrier.complete_tx.shared::cta.b64 [%r5], 16;\n"
              "@%p1 mbarrier.test_wait.shared.b64 %p4, [%r5], %rd1;\n"
              "mbarrier.try_wait.parity.shared.b64 %p5, [%r5], 0, 1000;\n"
              "@!%p1 bra $end;\n"
              "selp.u32 %r2, 1, 0, %p2;\nst.global.u32 [%rd9], %r2;\n"
              "selp.u32 %r2, 1, 0, %p3;\nst.global.u32 [%rd9+4], %r2;\n"
              "selp.u32 %r2, 1, 0, %p4;\nst.global.u32 [%rd9+8], %r2;\n"
              "selp.u32 %r2, 1, 0, %p5;\nst.global.u32 [%rd9+12], %r2;\n$end:",
              NULL, want);
    /* expect_tx before the arrive; bytes may land before they are expected */
    static const uint32_t want2[4] = {1, 1, 0, 7};
    mbar_case(INIT1
              "@%p1 mbarrier.complete_tx.shared.b64 [%r5], 32;\n"
              "@%p1 mbarrier.expect_tx.relaxed.cta.shared.b64 [%r5], 32;\n"
              "@%p1 mbarrier.arrive.shared.b64 %rd1, [%r5];\n"
              "mbarrier.test_wait.parity.shared.b64 %p2, [%r5], 0;\n"
              "mbarrier.test_wait.parity.shared.b64 %p3, [%r5], 1;\n"
              "@!%p1 bra $end;\n"
              "selp.u32 %r2, 1, 0, %p2;\nst.global.u32 [%rd9], %r2;\n"
              "cvt.u32.u64 %r3, %rd1;\nselp.u32 %r2, 0, 1, %p3;\nst.global.u32 [%rd9+4], %r2;\n"
              "st.global.u32 [%rd9+8], %r3;\n$end:",
              NULL, want2);
    /* bytes that never arrive */
    mbar_case(INIT1 "@%p1 mbarrier.arrive.expect_tx.shared.b64 _, [%r5], 64;\n"
                    "$w:\nmbarrier.try_wait.parity.shared.b64 %p2, [%r5], 0;\n@!%p2 bra $w;",
              "phase 0 (parity 0), 0 of 1 arrivals pending, 64 transaction bytes pending", NULL);
    /* misuse */
    mbar_case("mbarrier.arrive.shared.b64 _, [%r5];",
              "no mbarrier at shared offset 0x0: mbarrier.init is missing", NULL);
    mbar_case(INIT1 "@%p1 mbarrier.init.shared.b64 [%r5], 1;",
              "mbarrier.init of the live mbarrier at shared offset 0x0 (initialised at line 14)",
              NULL);
    mbar_case(INIT1 "@%p1 mbarrier.inval.shared.b64 [%r5];\nbar.sync 0;\n"
                    "mbarrier.test_wait.parity.shared.b64 %p2, [%r5], 0;",
              "mbarrier at shared offset 0x0 was invalidated (line 16)", NULL);
    mbar_case(INIT1 "@%p1 mbarrier.arrive.shared.b64 _, [%r5], 2;",
              "2 arrivals on the mbarrier at shared offset 0x0, which expects only 1 more", NULL);
    mbar_case("@%p1 mbarrier.init.shared.b64 [%r5], 0;", "mbarrier count 0 is outside", NULL);
    mbar_case(INIT1 "@%p1 st.shared.u32 [%r5+4], %r1;",
              "write of the mbarrier at shared offset 0x0 (initialised at line 14): only mbarrier "
              "instructions may access it until mbarrier.inval", NULL);
    static const uint32_t seven[4] = {7, 7, 7, 7};
    mbar_case(INIT1 "@%p1 mbarrier.inval.shared.b64 [%r5];\n@%p1 st.shared.u32 [%r5+4], %r1;",
              NULL, seven);
    mbar_case(INIT1 "@%p1 mbarrier.expect_tx.shared.b64 [%r5], 1048576;",
              "transaction count of the mbarrier at shared offset 0x0 leaves the range", NULL);
    mbar_case(INIT1 "mov.u64 %rd3, 5;\nmbarrier.test_wait.shared.b64 %p2, [%r5], %rd3;",
              "the state operand (phase 5) does not come from an arrive", NULL);
    mbar_case("mov.u32 %r6, 0;\nmbarrier.init.shared.b64 [%r6+3], 1;", "misaligned", NULL);
}

/* ---- nvcc's PTX --------------------------------------------------------------------- */

/* D[64][64] = A[a_row..a_row+64][64] * Bt[64][64]^T on the host (rows of A
 * past `rows` are zeros, as TMA fills them); compares with D. */
static int check_gemm(const uint16_t *A, int rows, int a_row, const uint16_t *Bt, const float *D)
{
    int bad = 0;
    for (int r = 0; r < 64; r++)
        for (int n = 0; n < 64; n++) {
            double want = 0;
            for (int k = 0; k < 64 && a_row + r < rows; k++)
                want += from_half(A[(a_row + r) * 64 + k], false) * from_half(Bt[n * 64 + k], false);
            if (D[r * 64 + n] != (float)want && bad++ < 5)
                print_error("D[%d][%d] = %g, want %g\n", r, n, D[r * 64 + n], want);
        }
    return bad;
}

/* tests/emu/hopper_gemm.cu, compiled by nvcc -arch=sm_90a: a 64x64x64 GEMM
 * through 128B-swizzled shared tiles and four chained wgmmas, the tiles
 * stored by the threads behind an mbarrier, then loaded by TMA from maps
 * made by emu_tensor_map_encode (grid-constant parameters), against the
 * product on the host. */
static void test_nvcc_gemm(void **state)
{
    (void)state;
    char why[256];
    char *text = hopper_ptx("hopper_gemm", false, why, sizeof why);
    if (!text) {
        print_message("SKIP: %s; the nvcc wgmma/TMA kernels are not checked\n", why);
        skip();
    }
    EmuModule *m = et_load(text);
    free(text);
    enum { ROWS = 80 };
    uint16_t *A = aligned_alloc(64, ROWS * 64 * 2), *Bt = aligned_alloc(64, 64 * 64 * 2);
    float *D = calloc(64 * 64, 4);
    EtRng rng = {7};
    for (int i = 0; i < ROWS * 64; i++)
        A[i] = to_half(rand_small(&rng), false);
    for (int i = 0; i < 64 * 64; i++)
        Bt[i] = to_half(rand_small(&rng), false);
    EmuRegion regs[] = {{A, ROWS * 64 * 2, false}, {Bt, 64 * 64 * 2, false}, {D, 64 * 64 * 4, true}};
    EtConfig cfg = ET_CONFIG(1, 128);
    cfg.races = cfg.uninit = true;
    void *pa = A, *pb = Bt, *pd = D;
    void *args[] = {&pa, &pb, &pd};
    et_run(m, "hopper_gemm", args, regs, 3, cfg);
    assert_int_equal(check_gemm(A, ROWS, 0, Bt, D), 0);

    _Alignas(64) uint8_t ta[EMU_TENSOR_MAP_BYTES], tb[EMU_TENSOR_MAP_BYTES];
    EmuTensorMapDesc da = {.dtype = EMU_TMAP_F16, .rank = 2, .global = A, .dims = {64, ROWS},
                           .strides = {128}, .box = {64, 64}, .swizzle = EMU_TMAP_SWIZZLE_128B};
    EmuTensorMapDesc db = da;
    db.global = Bt;
    db.dims[1] = 64;
    StrBuf err;
    sb_init(&err);
    assert_int_equal(emu_tensor_map_encode(ta, &da, &err) | emu_tensor_map_encode(tb, &db, &err), 0);
    sb_free(&err);
    for (int a_row = 0; a_row <= 40; a_row += 40) {
        memset(D, 0, 64 * 64 * 4);
        void *targs[] = {ta, tb, &pd, &a_row};
        et_run(m, "hopper_tma_gemm", targs, regs, 3, cfg);
        assert_int_equal(check_gemm(A, ROWS, a_row, Bt, D), 0);
    }
    emu_module_free(m);
    free(A);
    free(Bt);
    free(D);
}

/* ---- TMA ------------------------------------------------------------------------------ */

/* A kernel that loads one box of a rank-`rank` tensor map (a grid-constant
 * parameter) into a 1024-aligned tile on an mbarrier and copies the tile's
 * words to out. mode 1 reads the tile without waiting; mode 2 expects 64
 * bytes more than the box holds; mode 3 takes the map from global memory
 * (the pointer gmap) instead of the parameter. Without tile_mod the copy
 * leaves out .tile (the default load mode, as nvcc's and CuTe's copies
 * write it). */
static char *tma_load_kernel(unsigned rank, unsigned tile_bytes, bool tile_mod)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb,
              ".version 8.0\n.target sm_90a\n.address_size 64\n"
              ".visible .entry tload(.param .align 64 .b8 tmap[128], .param .u64 out,"
              " .param .u64 gmap, .param .align 4 .b8 coords[20], .param .u32 bytes,"
              " .param .u32 mode)\n{\n"
              ".reg .b32 %%r<30>;\n.reg .b64 %%rd<10>;\n.reg .pred %%p<6>;\n"
              ".shared .align 1024 .b8 tile[%u];\n.shared .align 8 .b64 bar;\n"
              "mov.u32 %%r1, %%tid.x;\nmov.u32 %%r2, bar;\nmov.u32 %%r3, tile;\n"
              "setp.eq.u32 %%p1, %%r1, 0;\n"
              "@%%p1 mbarrier.init.shared::cta.b64 [%%r2], 1;\n"
              "fence.mbarrier_init.release.cluster;\n"
              /* the tile filled with a pattern first (neither 0 nor the NaN
                 fill): the copy-out reads all of it, and bytes the copy
                 leaves alone are then written, not uninitialised */
              "mov.u32 %%r21, %%r1;\n$f:\nsetp.ge.u32 %%p3, %%r21, %u;\n@%%p3 bra $fd;\n"
              "shl.b32 %%r22, %%r21, 2;\nadd.u32 %%r22, %%r3, %%r22;\nst.shared.u32 [%%r22], 0xa5a5a5a5;\n"
              "add.u32 %%r21, %%r21, 128;\nbra $f;\n$fd:\nfence.proxy.async.shared::cta;\nbar.sync 0;\n"
              "ld.param.u32 %%r4, [coords];\nld.param.u32 %%r5, [coords+4];\n"
              "ld.param.u32 %%r6, [coords+8];\nld.param.u32 %%r7, [coords+12];\n"
              "ld.param.u32 %%r8, [coords+16];\nld.param.u32 %%r9, [bytes];\n"
              "ld.param.u32 %%r20, [mode];\nsetp.eq.u32 %%p4, %%r20, 1;\n"
              "setp.eq.u32 %%p5, %%r20, 3;\n"
              "mov.b64 %%rd1, tmap;\ncvta.param.u64 %%rd2, %%rd1;\n"
              "@%%p5 ld.param.u64 %%rd2, [gmap];\n"
              "@%%p1 mbarrier.arrive.expect_tx.shared::cta.b64 _, [%%r2], %%r9;\n"
              "@%%p1 cp.async.bulk.tensor.%ud.shared::cluster.global%s."
              "mbarrier::complete_tx::bytes [%%r3], [%%rd2, {",
              tile_bytes, tile_bytes / 4, rank, tile_mod ? ".tile" : "");
    for (unsigned d = 0; d < rank; d++)
        sb_printf(&sb, "%s%%r%u", d ? ", " : "", 4 + d);
    sb_printf(&sb,
              "}], [%%r2];\n"
              "@%%p4 bra $copy;\n"
              "$w:\nmbarrier.try_wait.parity.shared::cta.b64 %%p2, [%%r2], 0;\n@!%%p2 bra $w;\n"
              "$copy:\nld.param.u64 %%rd3, [out];\nmov.u32 %%r10, %%r1;\n"
              "$c:\nsetp.ge.u32 %%p3, %%r10, %u;\n@%%p3 bra $end;\n"
              "shl.b32 %%r11, %%r10, 2;\nadd.u32 %%r12, %%r3, %%r11;\nld.shared.u32 %%r13, [%%r12];\n"
              "cvt.u64.u32 %%rd4, %%r11;\nadd.u64 %%rd5, %%rd3, %%rd4;\nst.global.u32 [%%rd5], %%r13;\n"
              "add.u32 %%r10, %%r10, 128;\nbra $c;\n$end:\nret;\n}\n",
              tile_bytes / 4);
    return sb_take(&sb);
}

/* The swizzle of the ISA (CuTe Swizzle<B,4,3> on byte offsets from a
 * 1024-aligned base): bits [4, 4+B) ^= bits [7, 7+B). */
static unsigned tma_swizzle(unsigned a, int sw)
{
    unsigned b = sw == EMU_TMAP_SWIZZLE_128B ? 3 : sw == EMU_TMAP_SWIZZLE_64B ? 2
               : sw == EMU_TMAP_SWIZZLE_32B ? 1 : 0;
    return a ^ ((a >> 3) & (((1u << b) - 1) << 4));
}

typedef struct {
    unsigned rank;
    uint64_t dims[5];
    uint32_t box[5], estride[5];
    int32_t coords[5];
    int swizzle, oob;
    unsigned pitch_pad; /* extra elements per row of the global tensor */
    int mode; /* the kernel's (above); 4: a normal load written without .tile */
} TmaCase;

/* The traversal stride of dimension d: cuTensorMapEncodeTiled's
 * documentation says the first one is ignored without interleave ("TMA
 * doesn't support the stride for dimension zero"); 0 stands for 1. */
static unsigned tma_estride(const TmaCase *t, unsigned d)
{
    return d == 0 || !t->estride[d] ? 1 : t->estride[d];
}

/* Runs a load case; returns the launch's status, *msg on failure. */
static int run_tma_load(const TmaCase *t, char **msg)
{
    /* the global tensor: u32 (or f32) elements holding their index + 1 */
    uint64_t total = 1, pitch[5];
    pitch[0] = 1;
    for (unsigned d = 0; d < t->rank; d++) {
        uint64_t ext = t->dims[d] + (d == 0 ? t->pitch_pad : 0);
        if (d + 1 < 5)
            pitch[d + 1] = pitch[d] * ext;
        total *= ext;
    }
    uint32_t *g = aligned_alloc(64, (total * 4 + 63) / 64 * 64);
    for (uint64_t i = 0; i < total; i++)
        g[i] = (uint32_t)i + 1;
    EmuTensorMapDesc md = {.dtype = t->oob ? EMU_TMAP_F32 : EMU_TMAP_U32, .rank = t->rank,
                           .global = g, .swizzle = t->swizzle, .oob_fill = t->oob};
    unsigned n[5] = {1, 1, 1, 1, 1};
    uint32_t box_elems = 1;
    for (unsigned d = 0; d < t->rank; d++) {
        md.dims[d] = t->dims[d];
        md.box[d] = t->box[d];
        md.elem_strides[d] = t->estride[d];
        if (d)
            md.strides[d - 1] = pitch[d] * 4;
        unsigned e = tma_estride(t, d);
        n[d] = (t->box[d] + e - 1) / e;
        box_elems *= n[d];
    }
    _Alignas(64) uint8_t map[EMU_TENSOR_MAP_BYTES];
    et_tensor_map(map, &md);
    unsigned tile = (box_elems * 4 + 1023) / 1024 * 1024;
    uint32_t *out = calloc(tile / 4, 4);
    char *ptx = tma_load_kernel(t->rank, tile, t->mode != 4);
    EmuModule *m = et_load(ptx);
    int32_t coords[5] = {0};
    memcpy(coords, t->coords, sizeof coords);
    uint32_t bytes = box_elems * 4 + (t->mode == 2 ? 64 : 0), mode = (uint32_t)t->mode;
    uint8_t *gmap = aligned_alloc(64, EMU_TENSOR_MAP_BYTES);
    memcpy(gmap, map, EMU_TENSOR_MAP_BYTES);
    void *po = out, *pg = gmap;
    void *args[] = {map, &po, &pg, coords, &bytes, &mode};
    EmuRegion regs[] = {{g, total * 4, false}, {out, tile, true}, {gmap, EMU_TENSOR_MAP_BYTES, false}};
    EtConfig cfg = ET_CONFIG(3, 128); /* CTAs reuse their state on two host threads */
    cfg.host_threads = 2;
    cfg.races = cfg.uninit = true;
    int rc = et_launch(m, "tload", args, regs, 3, cfg, msg, NULL);
    if (!rc) {
        int bad = 0;
        for (uint32_t lin = 0; lin < box_elems; lin++) {
            uint32_t rest = lin, want = 0;
            bool in = true;
            uint64_t gi = 0;
            for (unsigned d = 0; d < t->rank; d++) {
                unsigned e = tma_estride(t, d);
                int64_t c = t->coords[d] + (int64_t)(rest % n[d]) * e;
                rest /= n[d];
                if (c < 0 || (uint64_t)c >= t->dims[d])
                    in = false;
                else
                    gi += (uint64_t)c * pitch[d];
            }
            want = in ? g[gi] : t->oob ? 0x7fffffffu : 0;
            uint32_t got = out[tma_swizzle(lin * 4, t->swizzle) / 4];
            if (got != want && bad++ < 5)
                print_error("rank %u box element %u: got %u, want %u\n", t->rank, lin, got, want);
        }
        assert_int_equal(bad, 0);
    }
    emu_module_free(m);
    free(ptx);
    free(out);
    free(g);
    free(gmap);
    return rc;
}

static void test_tma_load(void **state)
{
    (void)state;
    static const TmaCase cases[] = {
        /* 2d, inside, then hanging over every edge */
        {2, {37, 23}, {8, 4}, {0}, {3, 5}, 0, 0, 11, 0},
        {2, {37, 23}, {8, 4}, {0}, {-3, -2}, 0, 0, 11, 0},
        {2, {37, 23}, {8, 4}, {0}, {33, 21}, 0, 0, 11, 0},
        /* every swizzle with the inner extent at the span */
        {2, {64, 40}, {8, 16}, {0}, {4, 3}, EMU_TMAP_SWIZZLE_32B, 0, 0, 0},
        {2, {64, 40}, {16, 16}, {0}, {-4, 30}, EMU_TMAP_SWIZZLE_64B, 0, 0, 0},
        {2, {64, 40}, {32, 16}, {0}, {40, 3}, EMU_TMAP_SWIZZLE_128B, 0, 4, 0},
        /* inner extent below the span */
        {2, {64, 40}, {16, 8}, {0}, {1, 1}, EMU_TMAP_SWIZZLE_128B, 0, 0, 0},
        /* 1d, 3d, 4d and 5d, traversal strides, NaN fill */
        {1, {100}, {64}, {0}, {60}, 0, 0, 0, 0},
        {3, {9, 7, 5}, {4, 4, 2}, {0}, {6, -1, 4}, 0, 0, 3, 0},
        {4, {6, 5, 4, 3}, {4, 2, 3, 2}, {0}, {-1, 4, 2, 2}, 0, 0, 2, 0},
        {5, {5, 4, 3, 3, 2}, {4, 2, 2, 2, 2}, {1, 2, 1, 1, 1}, {2, 1, -1, 2, 1}, 0, 0, 3, 0},
        {2, {30, 30}, {4, 8}, {1, 3}, {26, 20}, 0, EMU_TMAP_OOB_NAN, 2, 0},
        /* the map read from global memory */
        {2, {37, 23}, {8, 4}, {0}, {3, 5}, 0, 0, 11, 3},
        /* the first traversal stride is ignored (8 elements along dim 0, not 2) */
        {2, {37, 23}, {8, 4}, {4, 2}, {30, -1}, 0, 0, 11, 0},
        {3, {9, 7, 5}, {4, 4, 2}, {3, 1, 2}, {6, -1, 4}, EMU_TMAP_SWIZZLE_32B, 0, 3, 0},
        /* written without .tile: the default load mode */
        {2, {37, 23}, {8, 4}, {0}, {-3, 20}, 0, 0, 11, 4},
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        char *msg = NULL;
        if (run_tma_load(&cases[i], &msg)) {
            print_error("case %zu: %s\n", i, msg);
            fail();
        }
    }
    /* reading the tile before waiting */
    TmaCase early = {2, {37, 23}, {8, 4}, {0}, {3, 5}, 0, 0, 11, 1};
    char *msg = NULL;
    assert_int_equal(run_tma_load(&early, &msg), -1);
    if (!strstr(msg, "read of shared memory at offset 0x0, which the asynchronous copy at line 42 "
                     "has not written yet: wait on its mbarrier first")) {
        print_error("%s\n", msg);
        fail();
    }
    free(msg);
    /* more bytes expected than the box brings: the phase never completes */
    TmaCase more = {2, {37, 23}, {8, 4}, {0}, {3, 5}, 0, 0, 11, 2};
    assert_int_equal(run_tma_load(&more, &msg), -1);
    if (!strstr(msg, "0 of 1 arrivals pending, 64 transaction bytes pending")) {
        print_error("%s\n", msg);
        fail();
    }
    free(msg);
}

static void test_tma_map_errors(void **state)
{
    (void)state;
    _Alignas(64) static uint32_t g[1024];
    const EmuTensorMapDesc ok = {.dtype = EMU_TMAP_F32, .rank = 2, .global = g, .dims = {32, 32},
                                 .strides = {128}, .box = {8, 8}};
    static const struct {
        int field;
        const char *msg;
    } cases[] = {
        {0, "rank 6 is outside 1..5"},
        {1, "is not 16-byte aligned"},
        {2, "strides[0] = 100 is not a multiple of 16"},
        {3, "box[1] = 300 is outside 1..256"},
        {4, "the inner box extent (3 elements of 4 bytes) is not a multiple of 16 bytes"},
        {5, "the inner box extent (64 bytes) exceeds the swizzle span of 32 bytes"},
        {6, "elem_strides[0] = 9 is outside 1..8"},
        {7, "NaN fill needs a floating-point type"},
        {8, "dims[1] = 0 is outside 1..2^32"},
        {9, "interleaved layouts are not supported"},
    };
    uint8_t map[EMU_TENSOR_MAP_BYTES];
    StrBuf err;
    sb_init(&err);
    assert_int_equal(emu_tensor_map_encode(map, &ok, &err), 0);
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        EmuTensorMapDesc d = ok;
        switch (cases[i].field) {
        case 0: d.rank = 6; break;
        case 1: d.global = (const uint8_t *)g + 4; break;
        case 2: d.strides[0] = 100; break;
        case 3: d.box[1] = 300; break;
        case 4: d.box[0] = 3; break;
        case 5: d.box[0] = 16; d.swizzle = EMU_TMAP_SWIZZLE_32B; break;
        case 6: d.elem_strides[0] = 9; break;
        case 7: d.dtype = EMU_TMAP_U32; d.oob_fill = EMU_TMAP_OOB_NAN; break;
        case 8: d.dims[1] = 0; break;
        default: d.interleave = 1; break;
        }
        sb_free(&err);
        sb_init(&err);
        if (emu_tensor_map_encode(map, &d, &err) != -1 || !strstr(err.data, cases[i].msg)) {
            print_error("case %zu: expected \"%s\", got \"%s\"\n", i, cases[i].msg, err.data);
            fail();
        }
    }
    sb_free(&err);
}

/* A 2d store of a 16 x 8 u32 box (inner 64 bytes, 64B swizzle) from a tile
 * the threads fill from `src`. mode 1 leaves out fence.proxy.async; mode 2
 * overwrites the tile before the store's wait_group.read. */
static const char tstore_ptx[] =
    ".version 8.0\n.target sm_90a\n.address_size 64\n"
    ".visible .entry tstore(.param .align 64 .b8 tmap[128], .param .u64 src, .param .u32 c0,"
    " .param .u32 c1, .param .u32 mode)\n{\n"
    ".reg .b32 %r<30>;\n.reg .b64 %rd<10>;\n.reg .pred %p<6>;\n"
    ".shared .align 1024 .b8 tile[512];\n"
    "mov.u32 %r1, %tid.x;\nmov.u32 %r3, tile;\nld.param.u32 %r20, [mode];\n"
    "ld.param.u64 %rd3, [src];\nmul.wide.u32 %rd4, %r1, 4;\nadd.u64 %rd5, %rd3, %rd4;\n"
    "ld.global.u32 %r4, [%rd5];\nshl.b32 %r5, %r1, 2;\nadd.u32 %r6, %r3, %r5;\n"
    "st.shared.u32 [%r6], %r4;\n"
    "setp.eq.u32 %p2, %r20, 1;\n@!%p2 fence.proxy.async.shared::cta;\nbar.sync 0;\n"
    "setp.eq.u32 %p1, %r1, 0;\nld.param.u32 %r7, [c0];\nld.param.u32 %r8, [c1];\n"
    "mov.b64 %rd1, tmap;\ncvta.param.u64 %rd2, %rd1;\n"
    "@%p1 cp.async.bulk.prefetch.tensor.2d.L2.global.tile [%rd2, {%r7, %r8}];\n"
    "@%p1 cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%rd2, {%r7, %r8}], [%r3];\n"
    "@%p1 cp.async.bulk.commit_group;\n"
    "setp.eq.u32 %p3, %r20, 2;\nand.pred %p3, %p3, %p1;\n@%p3 st.shared.u32 [%r3], %r4;\n"
    "@%p1 cp.async.bulk.wait_group.read 0;\n@%p1 cp.async.bulk.wait_group 0;\n"
    "ret;\n}\n";

/* With add: the store is cp.reduce.async.bulk.tensor .add (u32, wrapping);
 * without tile_mod it is written without .tile (the default load mode). */
static int run_tma_store_op(int32_t c0, int32_t c1, uint32_t mode, bool add, bool tile_mod,
                            char **msg)
{
    enum { W = 40, H = 20 };
    _Alignas(64) static uint32_t g[W * H];
    static uint32_t src[128];
    for (int i = 0; i < W * H; i++)
        g[i] = 0xdeadbeef;
    for (int i = 0; i < 128; i++)
        src[i] = 1000 + (uint32_t)i;
    EmuTensorMapDesc md = {.dtype = EMU_TMAP_U32, .rank = 2, .global = g, .dims = {W, H},
                           .strides = {W * 4}, .box = {16, 8},
                           .swizzle = EMU_TMAP_SWIZZLE_64B};
    _Alignas(64) uint8_t map[EMU_TENSOR_MAP_BYTES];
    StrBuf err;
    sb_init(&err);
    assert_int_equal(emu_tensor_map_encode(map, &md, &err), 0);
    sb_free(&err);
    char ptx[sizeof tstore_ptx + 64];
    static const char store[] = "cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group";
    const char *at = strstr(tstore_ptx, store);
    assert_non_null(at);
    snprintf(ptx, sizeof ptx, "%.*s%s%s", (int)(at - tstore_ptx), tstore_ptx,
             add ? "cp.reduce.async.bulk.tensor.2d.global.shared::cta.add.tile.bulk_group"
             : tile_mod ? store : "cp.async.bulk.tensor.2d.global.shared::cta.bulk_group",
             at + strlen(store));
    EmuModule *m = et_load(ptx);
    void *ps = src;
    void *args[] = {map, &ps, &c0, &c1, &mode};
    EmuRegion regs[] = {{g, sizeof g, true}, {src, sizeof src, false}};
    EtConfig cfg = ET_CONFIG(1, 128);
    cfg.races = cfg.uninit = true;
    int rc = et_launch(m, "tstore", args, regs, 2, cfg, msg, NULL);
    emu_module_free(m);
    if (rc)
        return rc;
    int bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int bx = x - c0, by = y - c1;
            uint32_t want = 0xdeadbeef;
            if (bx >= 0 && bx < 16 && by >= 0 && by < 8) {
                unsigned lin = (unsigned)(by * 16 + bx);
                want = src[tma_swizzle(lin * 4, EMU_TMAP_SWIZZLE_64B) / 4] + (add ? 0xdeadbeefu : 0);
            }
            if (g[y * W + x] != want && bad++ < 5)
                print_error("g[%d][%d] = %u, want %u\n", y, x, g[y * W + x], want);
        }
    assert_int_equal(bad, 0);
    return 0;
}

static int run_tma_store(int32_t c0, int32_t c1, uint32_t mode, char **msg)
{
    return run_tma_store_op(c0, c1, mode, false, true, msg);
}

/* cp.reduce.async.bulk: 256 bytes of shared memory (written by 64 threads
 * from src) reduced into dst by thread 0 in a bulk group, for each
 * operation and type ptxas takes, against the host; the tensor form (.add
 * on a u32 map) through run_tma_store_op; and the forms refused. */
static const char reduce_ptx[] =
    ".version 8.0\n.target sm_90a\n.address_size 64\n"
    ".visible .entry red(.param .u64 src, .param .u64 dst)\n{\n"
    ".reg .b32 %%r<30>;\n.reg .b64 %%rd<10>;\n.reg .pred %%p<6>;\n"
    ".shared .align 128 .b8 tile[256];\n"
    "mov.u32 %%r1, %%tid.x;\nmov.u32 %%r3, tile;\nsetp.eq.u32 %%p1, %%r1, 0;\n"
    "ld.param.u64 %%rd1, [src];\nld.param.u64 %%rd2, [dst];\n"
    "mul.wide.u32 %%rd3, %%r1, 4;\nadd.u64 %%rd4, %%rd1, %%rd3;\nld.global.u32 %%r4, [%%rd4];\n"
    "shl.b32 %%r5, %%r1, 2;\nadd.u32 %%r6, %%r3, %%r5;\nst.shared.u32 [%%r6], %%r4;\n"
    "fence.proxy.async.shared::cta;\nbar.sync 0;\n"
    "@%%p1 cp.reduce.async.bulk.global.shared::cta.bulk_group.%s [%%rd2], [%%r3], 256;\n"
    "@%%p1 cp.async.bulk.commit_group;\n@%%p1 cp.async.bulk.wait_group 0;\n"
    "ret;\n}\n";

static float half_value(uint16_t v, bool bf) { return (float)from_half(v, bf); }

/* The host's reduction of one element (es bytes) for the operation `op`. */
static uint64_t host_reduce(const char *op, uint64_t d, uint64_t s)
{
    if (!strcmp(op, "add.u32") || !strcmp(op, "add.s32"))
        return (uint32_t)(d + s);
    if (!strcmp(op, "add.u64"))
        return d + s;
    if (!strcmp(op, "min.s32"))
        return (int32_t)s < (int32_t)d ? s : d;
    if (!strcmp(op, "max.u64"))
        return s > d ? s : d;
    if (!strcmp(op, "xor.b64"))
        return d ^ s;
    if (!strcmp(op, "and.b32"))
        return d & s;
    if (!strcmp(op, "inc.u32"))
        return d >= s ? 0 : d + 1;
    if (!strcmp(op, "dec.u32"))
        return d == 0 || d > s ? s : d - 1;
    if (!strcmp(op, "add.f32"))
        return bits_of_f32(f32_of_bits((uint32_t)d) + f32_of_bits((uint32_t)s));
    if (!strcmp(op, "add.f64")) {
        double x, y;
        memcpy(&x, &d, 8);
        memcpy(&y, &s, 8);
        x += y;
        uint64_t r;
        memcpy(&r, &x, 8);
        return r;
    }
    bool bf = strstr(op, "bf16") != NULL;
    float x = half_value((uint16_t)d, bf), y = half_value((uint16_t)s, bf);
    if (!strncmp(op, "add", 3))
        return to_half(x + y, bf); /* the values are exact in both */
    bool min = !strncmp(op, "min", 3);
    return (min ? y < x : y > x) ? s : d;
}

static void test_cp_reduce(void **state)
{
    (void)state;
    static const struct {
        const char *op, *name; /* the modifiers written, the host's name */
        unsigned es;
    } ops[] = {{"add.u32", "add.u32", 4},     {"add.s32", "add.s32", 4},   {"add.u64", "add.u64", 8},
               {"min.s32", "min.s32", 4},     {"max.u64", "max.u64", 8},   {"xor.b64", "xor.b64", 8},
               {"and.b32", "and.b32", 4},     {"inc.u32", "inc.u32", 4},   {"dec.u32", "dec.u32", 4},
               {"add.f32", "add.f32", 4},     {"add.f64", "add.f64", 8},   {"add.noftz.f16", "add.f16", 2},
               {"add.noftz.bf16", "add.bf16", 2}, {"min.f16", "min.f16", 2}, {"max.bf16", "max.bf16", 2}};
    _Alignas(16) static uint8_t src[256], dst[256], init[256];
    EtRng rng = {77};
    for (size_t i = 0; i < TSR_ARRAY_LEN(ops); i++) {
        unsigned es = ops[i].es;
        for (unsigned off = 0; off < 256; off += es) {
            uint64_t a = et_rand(&rng) | (uint64_t)et_rand(&rng) << 32, b = et_rand(&rng) | (uint64_t)et_rand(&rng) << 32;
            if (strstr(ops[i].name, "f32")) {
                a = bits_of_f32(rand_small(&rng)), b = bits_of_f32(rand_small(&rng));
            } else if (strstr(ops[i].name, "f64")) {
                double x = rand_small(&rng), y = rand_small(&rng);
                memcpy(&a, &x, 8);
                memcpy(&b, &y, 8);
            } else if (es == 2) {
                bool bf = strstr(ops[i].name, "bf16") != NULL;
                a = to_half(rand_small(&rng), bf), b = to_half(rand_small(&rng), bf);
            } else if (strstr(ops[i].name, "inc") || strstr(ops[i].name, "dec")) {
                a %= 8, b %= 8; /* wrap-arounds happen */
            }
            memcpy(init + off, &a, es);
            memcpy(src + off, &b, es);
        }
        memcpy(dst, init, 256);
        char ptx[sizeof reduce_ptx + 64];
        snprintf(ptx, sizeof ptx, reduce_ptx, ops[i].op);
        EmuModule *m = et_load(ptx);
        void *ps = src, *pd = dst;
        void *args[] = {&ps, &pd};
        EmuRegion regs[] = {{src, sizeof src, false}, {dst, sizeof dst, true}};
        EtConfig cfg = ET_CONFIG(1, 64);
        cfg.races = cfg.uninit = true;
        et_run(m, "red", args, regs, 2, cfg);
        emu_module_free(m);
        for (unsigned off = 0; off < 256; off += es) {
            uint64_t d = 0, s = 0, got = 0;
            memcpy(&d, init + off, es);
            memcpy(&s, src + off, es);
            memcpy(&got, dst + off, es);
            uint64_t want = host_reduce(ops[i].name, d, s) & (es == 8 ? ~0ull : (1ull << (8 * es)) - 1);
            if (got != want)
                fail_msg("%s: element at byte %u: 0x%llx op 0x%llx gave 0x%llx, want 0x%llx", ops[i].op, off,
                         (unsigned long long)d, (unsigned long long)s, (unsigned long long)got,
                         (unsigned long long)want);
        }
    }
    char *msg = NULL;
    assert_int_equal(run_tma_store_op(5, 3, 0, true, true, &msg), 0);
    assert_int_equal(run_tma_store_op(30, 15, 0, true, true, &msg), 0); /* partly out of bounds */
    /* refused when loaded: what ptxas refuses, and the other CTA's shared memory */
    static const char *const refused[][2] = {
        {"add.f16", "a half-precision .add needs .noftz"},
        {"min.f32", "the operation does not take type .f32"},
        {"inc.s32", "the operation does not take type .s32"},
        {"add", "the operation does not take type .(none)"},
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(refused); i++) {
        char ptx[sizeof reduce_ptx + 64];
        snprintf(ptx, sizeof ptx, reduce_ptx, refused[i][0]);
        StrBuf err;
        sb_init(&err);
        EmuModule *bad = NULL;
        assert_int_equal(emu_module_load(ptx, strlen(ptx), &bad, &err), EMU_ERROR);
        if (!strstr(err.data, refused[i][1]))
            fail_msg("%s: %s", refused[i][0], err.data);
        sb_free(&err);
    }
}

/* Non-tensor bulk copies: 256 bytes in on an mbarrier, back out in a bulk
 * group, and a prefetch. */
static const char bulk_ptx[] =
    ".version 8.0\n.target sm_90a\n.address_size 64\n"
    ".visible .entry bulk(.param .u64 src, .param .u64 dst)\n{\n"
    ".reg .b32 %r<30>;\n.reg .b64 %rd<10>;\n.reg .pred %p<6>;\n"
    ".shared .align 128 .b8 tile[256];\n.shared .align 8 .b64 bar;\n"
    "mov.u32 %r1, %tid.x;\nmov.u32 %r2, bar;\nmov.u32 %r3, tile;\nsetp.eq.u32 %p1, %r1, 0;\n"
    "ld.param.u64 %rd1, [src];\nld.param.u64 %rd2, [dst];\n"
    "@%p1 mbarrier.init.shared.b64 [%r2], 1;\nbar.sync 0;\n"
    "@%p1 cp.async.bulk.prefetch.L2.global [%rd1], 256;\n"
    "@%p1 mbarrier.arrive.expect_tx.shared.b64 _, [%r2], 256;\n"
    "@%p1 cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r3], [%rd1], 256, [%r2];\n"
    "$w:\nmbarrier.try_wait.parity.shared.b64 %p2, [%r2], 0;\n@!%p2 bra $w;\n"
    "@%p1 cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%r3], 256;\n"
    "@%p1 cp.async.bulk.commit_group;\n@%p1 cp.async.bulk.wait_group 0;\n"
    "ret;\n}\n";

static void test_tma_store_bulk(void **state)
{
    (void)state;
    char *msg = NULL;
    static const int32_t corners[][2] = {{0, 0}, {5, 3}, {30, 15}, {-4, -3}};
    for (size_t i = 0; i < TSR_ARRAY_LEN(corners); i++)
        if (run_tma_store(corners[i][0], corners[i][1], 0, &msg)) {
            print_error("store at (%d, %d): %s\n", corners[i][0], corners[i][1], msg);
            fail();
        }
    /* the store written without .tile (the default load mode), clipped at the corner */
    if (run_tma_store_op(30, 15, 0, false, false, &msg)) {
        print_error("store without .tile: %s\n", msg);
        fail();
    }
    assert_int_equal(run_tma_store(5, 3, 1, &msg), -1);
    if (!strstr(msg, "reads shared memory at offset 0x0 through the async proxy, but the store "
                     "of thread tid (0,0,0) (line 19) to it has no fence.proxy.async after it")) {
        print_error("%s\n", msg);
        fail();
    }
    free(msg);
    assert_int_equal(run_tma_store(5, 3, 2, &msg), -1);
    if (!strstr(msg, "write to shared memory at offset 0x0, which the asynchronous read (wgmma "
                     "or bulk copy) at line 29 has not finished")) {
        print_error("%s\n", msg);
        fail();
    }
    free(msg);

    _Alignas(16) static uint8_t src[256], dst[256];
    for (int i = 0; i < 256; i++)
        src[i] = (uint8_t)(i * 7 + 1);
    memset(dst, 0, sizeof dst);
    EmuModule *m = et_load(bulk_ptx);
    void *ps = src, *pd = dst;
    void *args[] = {&ps, &pd};
    EmuRegion regs[] = {{src, sizeof src, false}, {dst, sizeof dst, true}};
    EtConfig cfg = ET_CONFIG(1, 64);
    cfg.races = cfg.uninit = true;
    et_run(m, "bulk", args, regs, 2, cfg);
    assert_memory_equal(src, dst, sizeof src);
    emu_module_free(m);
}

/* .multicast::cluster: the emulator's clusters have one CTA, so the mask
 * 0x1 (this CTA) is a plain load and any other mask is reported. */
static const char multicast_ptx[] =
    ".version 8.0\n.target sm_90a\n.address_size 64\n"
    ".visible .entry mc(.param .u64 src, .param .u64 dst, .param .u16 mask)\n{\n"
    ".reg .b16 %rs<2>;\n.reg .b32 %r<30>;\n.reg .b64 %rd<10>;\n.reg .pred %p<6>;\n"
    ".shared .align 128 .b8 tile[256];\n.shared .align 8 .b64 bar;\n"
    "mov.u32 %r1, %tid.x;\nmov.u32 %r2, bar;\nmov.u32 %r3, tile;\nsetp.eq.u32 %p1, %r1, 0;\n"
    "ld.param.u64 %rd1, [src];\nld.param.u64 %rd2, [dst];\nld.param.u16 %rs1, [mask];\n"
    "@%p1 mbarrier.init.shared.b64 [%r2], 1;\nbar.sync 0;\n"
    "@%p1 mbarrier.arrive.expect_tx.shared.b64 _, [%r2], 256;\n"
    "@%p1 cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster "
    "[%r3], [%rd1], 256, [%r2], %rs1;\n"
    "$w:\nmbarrier.try_wait.parity.shared.b64 %p2, [%r2], 0;\n@!%p2 bra $w;\n"
    "fence.proxy.async.shared::cta;\n"
    "@%p1 cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%r3], 256;\n"
    "@%p1 cp.async.bulk.commit_group;\n@%p1 cp.async.bulk.wait_group 0;\n"
    "ret;\n}\n";

static void test_multicast(void **state)
{
    (void)state;
    _Alignas(16) static uint8_t src[256], dst[256];
    for (int i = 0; i < 256; i++)
        src[i] = (uint8_t)(i * 3 + 5);
    EmuModule *m = et_load(multicast_ptx);
    uint16_t mask = 1;
    void *ps = src, *pd = dst;
    void *args[] = {&ps, &pd, &mask};
    EmuRegion regs[] = {{src, sizeof src, false}, {dst, sizeof dst, true}};
    EtConfig cfg = ET_CONFIG(1, 64);
    cfg.races = cfg.uninit = true;
    memset(dst, 0, sizeof dst);
    et_run(m, "mc", args, regs, 2, cfg);
    assert_memory_equal(src, dst, sizeof src);
    mask = 3;
    et_run_fails(m, "mc", args, regs, 2, cfg,
                 "ctaMask 0x3 of .multicast::cluster names CTAs other than rank 0", NULL);
    emu_module_free(m);
    /* stores and prefetches have no multicast */
    static const char store_ptx[] =
        ".version 8.0\n.target sm_90a\n.address_size 64\n.visible .entry k(.param .u64 d)\n{\n"
        ".reg .b64 %rd<3>;\n.reg .b32 %r<3>;\n.reg .b16 %rs<2>;\nld.param.u64 %rd1, [d];\n"
        "mov.u32 %r1, 0;\nmov.u16 %rs1, 1;\n"
        "cp.async.bulk.global.shared::cta.bulk_group.multicast::cluster [%rd1], [%r1], 16, %rs1;\n"
        "ret;\n}\n";
    StrBuf err;
    sb_init(&err);
    EmuModule *bad = NULL;
    assert_int_equal(emu_module_load(store_ptx, strlen(store_ptx), &bad, &err), EMU_ERROR);
    assert_non_null(strstr(err.data, ".multicast::cluster is for loads"));
    sb_free(&err);
}

/* Bulk groups are per thread (ISA: commit_group and wait_group act on the
 * executing thread's groups): thread 1's wait does not complete thread 0's
 * store, so thread 1 still reads the old destination (the store lands as
 * late as the ISA allows: at thread 0's wait). Counted per warp, thread 1's
 * second commit and wait would have performed it. */
static const char groups_ptx[] =
    ".version 8.0\n.target sm_90a\n.address_size 64\n"
    ".visible .entry groups(.param .u64 dst, .param .u64 out)\n{\n"
    ".reg .b32 %r<10>;\n.reg .b64 %rd<6>;\n.reg .pred %p<3>;\n"
    ".shared .align 128 .b8 tile[256];\n"
    "mov.u32 %r1, %tid.x;\nmov.u32 %r2, tile;\nsetp.eq.u32 %p0, %r1, 0;\nsetp.eq.u32 %p1, %r1, 1;\n"
    "ld.param.u64 %rd1, [dst];\nld.param.u64 %rd2, [out];\n"
    "mov.u32 %r3, 7;\nshl.b32 %r4, %r1, 2;\nadd.u32 %r5, %r2, %r4;\nst.shared.u32 [%r5], %r3;\n"
    "fence.proxy.async.shared::cta;\nbar.sync 0;\n"
    "@%p0 cp.async.bulk.global.shared::cta.bulk_group [%rd1], [%r2], 256;\n"
    "cp.async.bulk.commit_group;\n"
    "@%p1 cp.async.bulk.commit_group;\n"
    "@%p1 cp.async.bulk.wait_group 1;\n"
    "@%p1 ld.global.u32 %r6, [%rd1];\n@%p1 st.global.u32 [%rd2], %r6;\n"
    "cp.async.bulk.wait_group 0;\n"
    "ret;\n}\n";

static void test_bulk_groups_per_thread(void **state)
{
    (void)state;
    _Alignas(16) static uint32_t dst[64];
    uint32_t out = 12345;
    memset(dst, 0, sizeof dst);
    EmuModule *m = et_load(groups_ptx);
    void *pd = dst, *po = &out;
    void *args[] = {&pd, &po};
    EmuRegion regs[] = {{dst, sizeof dst, true}, {&out, sizeof out, true}};
    EtConfig cfg = ET_CONFIG(1, 64);
    cfg.races = cfg.uninit = true;
    et_run(m, "groups", args, regs, 2, cfg);
    assert_int_equal(out, 0);     /* thread 1 saw the old contents */
    assert_int_equal(dst[5], 7);  /* thread 0's wait performed the store */
    emu_module_free(m);
}

/* Maps the emulator cannot use: bytes that are not a map, a map copied to
 * local memory (a parameter without __grid_constant__). */
static void test_tma_bad_maps(void **state)
{
    (void)state;
    static const char ptx[] =
        ".version 8.0\n.target sm_90a\n.address_size 64\n"
        ".visible .entry k(.param .align 64 .b8 tmap[128], .param .u32 local)\n{\n"
        ".reg .b32 %r<30>;\n.reg .b64 %rd<10>;\n.reg .pred %p<6>;\n"
        ".local .align 64 .b8 lm[128];\n"
        ".shared .align 1024 .b8 tile[1024];\n.shared .align 8 .b64 bar;\n"
        "mov.u32 %r2, bar;\nmov.u32 %r3, tile;\nmov.u32 %r6, %tid.x;\n"
        "setp.eq.u32 %p3, %r6, 0;\n@%p3 mbarrier.init.shared.b64 [%r2], 1;\n"
        "mov.b64 %rd1, tmap;\ncvta.param.u64 %rd2, %rd1;\nld.param.u32 %r1, [local];\n"
        "setp.ne.u32 %p1, %r1, 0;\n@!%p1 bra $go;\n"
        "mov.u32 %r4, 0;\n$cp:\nld.param.u64 %rd3, [tmap];\nst.local.u64 [lm], %rd3;\n"
        "mov.u64 %rd4, lm;\ncvta.local.u64 %rd2, %rd4;\n"
        "$go:\nmov.u32 %r5, 0;\n"
        "cp.async.bulk.tensor.1d.shared::cluster.global.tile.mbarrier::complete_tx::bytes "
        "[%r3], [%rd2, {%r5}], [%r2];\nret;\n}\n";
    EmuModule *m = et_load(ptx);
    _Alignas(64) uint8_t map[EMU_TENSOR_MAP_BYTES];
    for (int i = 0; i < EMU_TENSOR_MAP_BYTES; i++)
        map[i] = (uint8_t)(i * 13);
    uint32_t local = 0;
    void *args[] = {map, &local};
    EtConfig cfg = ET_CONFIG(1, 32);
    et_run_fails(m, "k", args, NULL, 0, cfg, "are not a tensor map made by emu_tensor_map_encode",
                 NULL);
    local = 1;
    et_run_fails(m, "k", args, NULL, 0, cfg,
                 "the tensor map is in local memory: a kernel parameter holding one must be a "
                 "grid constant",
                 NULL);
    emu_module_free(m);
    static const struct {
        const char *insn, *msg;
    } bad[] = {
        {"cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes "
         "[%r1], [%rd1, {%r1}], [%r1];", "expected [tensor-map, {2 coordinates}]"},
        {"cp.async.bulk.tensor.2d.shared::cluster.global.im2col.mbarrier::complete_tx::bytes "
         "[%r1], [%rd1, {%r1, %r1}], [%r1];", "the load mode '.im2col' is not supported (only .tile"},
        {"cp.async.bulk.tensor.mbarrier::complete_tx::bytes.shared::cluster.global.tile "
         "[%r1], [%rd1, {%r1, %r1}], [%r1];", "needs .1d to .5d"},
        {"cp.async.bulk.tensor.2d.shared::cluster.global.tile [%r1], [%rd1, {%r1, %r1}], [%r1];",
         "a load needs .shared::cluster.global"},
        {"cp.async.bulk.tensor.2d.global.shared::cta.tile [%rd1, {%r1, %r1}], [%r1];",
         "a store needs .global.shared::cta and .bulk_group"},
        {"cp.async.bulk.wait_group %r1;", "the group count must be an immediate"},
        {"ld.global.u32 %r1, [%rd1, {%r1}];", "coordinates {..} in an address are for tensor "
                                              "copies only"},
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(bad); i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 ".version 8.0\n.target sm_90a\n.address_size 64\n.visible .entry k()\n{\n"
                 ".reg .b32 %%r<8>;\n.reg .b64 %%rd<8>;\n%s\nret;\n}\n",
                 bad[i].insn);
        char *msg = et_load_error(text);
        if (!strstr(msg, bad[i].msg) || !strstr(msg, "ptx:8: error")) {
            print_error("for %s\nexpected \"%s\", got: %s\n", bad[i].insn, bad[i].msg, msg);
            free(msg);
            fail();
        }
        free(msg);
    }
}

/* tests/emu/llvm_hopper.ll through llc-22 (LLVM 22's intrinsics: elect.sync,
 * mbarrier.init/arrive.expect_tx/try_wait.parity, fence.proxy.async,
 * prefetch{.param}.tensormap, the g2s TMA with its cvta.to.shared::cluster,
 * wgmma.fence/commit/wait): a 16 x 16 box hanging over two edges. */
static void test_llvm22_tma(void **state)
{
    (void)state;
    if (!et_have_tool("llc-22")) {
        print_message("SKIP: llc-22 not found (install llvm-22); LLVM 22's Hopper intrinsics "
                      "not checked\n");
        skip();
    }
    char dir[512], ptx[640], log[700], cmd[2048];
    snprintf(dir, sizeof dir, "%s/emu", et_build_dir());
    et_mkdirs(dir);
    snprintf(ptx, sizeof ptx, "%s/llvm_hopper.sm_90a.ptx", dir);
    snprintf(log, sizeof log, "%s.log", ptx);
    snprintf(cmd, sizeof cmd,
             "llc-22 -march=nvptx64 -mcpu=sm_90a -mattr=+ptx80 tests/emu/llvm_hopper.ll -o '%s'",
             ptx);
    et_system(cmd, log);
    char *text = et_read(ptx);
    EmuModule *m = et_load(text);
    free(text);
    enum { W = 20, H = 24 };
    _Alignas(64) static uint32_t g[W * H];
    static uint32_t out[256];
    for (int i = 0; i < W * H; i++)
        g[i] = (uint32_t)i + 1;
    EmuTensorMapDesc md = {.dtype = EMU_TMAP_U32, .rank = 2, .global = g, .dims = {W, H},
                           .strides = {W * 4}, .box = {16, 16}};
    _Alignas(64) uint8_t map[EMU_TENSOR_MAP_BYTES];
    StrBuf err;
    sb_init(&err);
    assert_int_equal(emu_tensor_map_encode(map, &md, &err), 0);
    sb_free(&err);
    int32_t c0 = 8, c1 = 12;
    void *po = out;
    void *args[] = {map, &po, &c0, &c1};
    EmuRegion regs[] = {{g, sizeof g, false}, {out, sizeof out, true}};
    EtConfig cfg = ET_CONFIG(1, 128);
    cfg.races = cfg.uninit = true;
    et_run(m, "tma_copy", args, regs, 2, cfg);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            int gx = c0 + x, gy = c1 + y;
            uint32_t want = gx < W && gy < H ? g[gy * W + gx] : 0;
            assert_int_equal(out[y * 16 + x], want);
        }
    emu_module_free(m);
}

/* ---- setmaxnreg ------------------------------------------------------------------------ */

/* FA3's split: warpgroup 0 gives registers back (168 -> 24), warpgroups 1
 * and 2 take them (168 -> 240, or 256 with `big`, which the pool cannot
 * hold). %s: the performance directives. */
static char *regs_kernel(const char *directives)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb,
              ".version 8.0\n.target sm_90a\n.address_size 64\n"
              ".visible .entry regs(.param .u32 big) %s\n{\n"
              ".reg .b32 %%r<8>;\n.reg .pred %%p<4>;\n"
              "mov.u32 %%r1, %%tid.x;\nshr.u32 %%r2, %%r1, 7;\nld.param.u32 %%r3, [big];\n"
              "setp.eq.u32 %%p1, %%r2, 0;\n@%%p1 bra $prod;\n"
              "setp.ne.u32 %%p2, %%r3, 0;\n@%%p2 bra $big;\n"
              "setmaxnreg.inc.sync.aligned.u32 240;\nbra $done;\n"
              "$big:\nsetmaxnreg.inc.sync.aligned.u32 256;\nbra $done;\n"
              "$prod:\nsetmaxnreg.dec.sync.aligned.u32 24;\n"
              "$done:\nret;\n}\n",
              directives);
    return sb_take(&sb);
}

static void test_setmaxnreg(void **state)
{
    (void)state;
    char *ptx = regs_kernel(".maxntid 384, 1, 1 .minnctapersm 1");
    EmuModule *m = et_load(ptx);
    uint32_t big = 0;
    void *args[] = {&big};
    et_run(m, "regs", args, NULL, 0, ET_CONFIG(1, 384));
    big = 1;
    et_run_fails(m, "regs", args, NULL, 0, ET_CONFIG(1, 384),
                 "waits in setmaxnreg.inc.sync.aligned.u32 (line 18) to go from 168 to 256 "
                 "registers per thread; the pool has",
                 NULL);
    emu_module_free(m);
    free(ptx);
    ptx = regs_kernel(".maxntid 384, 1, 1 .maxnreg 200");
    m = et_load(ptx);
    big = 0;
    et_run_fails(m, "regs", args, NULL, 0, ET_CONFIG(1, 384),
                 "200 registers per thread for 12 warps exceed the 65536 of a CTA", NULL);
    emu_module_free(m);
    free(ptx);
    ptx = regs_kernel(".maxntid 384, 1, 1");
    m = et_load(ptx);
    et_run_fails(m, "regs", args, NULL, 0, ET_CONFIG(1, 384),
                 "the register count at entry is unknown: the kernel needs .maxnreg, or .maxntid "
                 "with .minnctapersm (ptxas ignores setmaxnreg otherwise: C7508)",
                 NULL);
    emu_module_free(m);
    free(ptx);
    /* .dec above the current count; a count that is not a multiple of 8 */
    ptx = regs_kernel(".maxntid 256, 1, 1 .minnctapersm 1");
    m = et_load(ptx);
    et_run_fails(m, "regs", args, NULL, 0, ET_CONFIG(1, 256), "setmaxnreg.inc to 240 registers "
                 "from 248", NULL);
    emu_module_free(m);
    free(ptx);
    char *msg = et_load_error(".version 8.0\n.target sm_90a\n.address_size 64\n"
                              ".visible .entry k()\n{\nsetmaxnreg.inc.sync.aligned.u32 100;\n}\n");
    assert_non_null(strstr(msg, "ptx:6: error: 'setmaxnreg.inc.sync.aligned.u32': the register "
                                "count must be an immediate multiple of 8 from 24 to 256"));
    free(msg);
}

/* tests/emu/cute_gemm.cu: GMMA GEMMs whose shared layouts, descriptors and
 * accumulator partitions CuTe computes (K- and MN-major, every swizzle, A
 * from shared memory or registers), against the product on the host. */
/* The CuTe tf32 and s8/u8 kernels: inputs of each type (tf32 values with
 * few significant bits, bytes over the integer ranges), D against the exact
 * product on the host. */
static void cute_other_types(EmuModule *m)
{
    uint32_t *A = malloc(64 * 64 * 4), *Bt = malloc(64 * 64 * 4), *D = malloc(64 * 64 * 4);
    static const struct {
        const char *name;
        int ta, tb; /* 0 tf32, 1 s8, 2 u8 */
    } ks[] = {{"cute_tf32_ss", 0, 0}, {"cute_tf32_rs", 0, 0}, {"cute_s8_ss", 1, 1}, {"cute_u8s8_rs", 2, 1}};
    EtRng rng = {23};
    for (size_t i = 0; i < TSR_ARRAY_LEN(ks); i++) {
        unsigned es = ks[i].ta ? 1 : 4;
        double a[64][64], b[64][64];
        for (int r = 0; r < 64; r++)
            for (int k = 0; k < 64; k++)
                for (int which = 0; which < 2; which++) {
                    int t = which ? ks[i].tb : ks[i].ta;
                    double v = t == 0 ? rand_small(&rng) : t == 1 ? (int)(et_rand(&rng) % 256) - 128
                                                                  : (int)(et_rand(&rng) % 256);
                    uint32_t code = t == 0 ? bits_of_f32((float)v) : (uint8_t)(int)v;
                    memcpy((uint8_t *)(which ? Bt : A) + (size_t)(r * 64 + k) * es, &code, es);
                    (which ? b : a)[r][k] = v;
                }
        memset(D, 0xcd, 64 * 64 * 4);
        void *pa = A, *pb = Bt, *pd = D;
        void *args[] = {&pa, &pb, &pd};
        EmuRegion regs[] = {{A, 64 * 64 * es, false}, {Bt, 64 * 64 * es, false}, {D, 64 * 64 * 4, true}};
        EtConfig cfg = ET_CONFIG(1, 128);
        cfg.races = cfg.uninit = true;
        et_run(m, ks[i].name, args, regs, 3, cfg);
        int bad = 0;
        for (int r = 0; r < 64; r++)
            for (int n = 0; n < 64; n++) {
                double want = 0;
                for (int k = 0; k < 64; k++)
                    want += a[r][k] * b[n][k];
                double got = ks[i].ta ? (double)(int32_t)D[r * 64 + n] : f32_of_bits(D[r * 64 + n]);
                if (got != want && bad++ < 5)
                    print_error("%s: D[%d][%d] = %.17g, want %.17g\n", ks[i].name, r, n, got, want);
            }
        assert_int_equal(bad, 0);
    }
    free(A);
    free(Bt);
    free(D);
}

static void test_cute_gemm(void **state)
{
    (void)state;
    char why[256];
    char *text = hopper_ptx("cute_gemm", true, why, sizeof why);
    if (!text) {
        print_message("SKIP: %s; the CuTe GMMA kernels are not checked\n", why);
        skip();
    }
    EmuModule *m = et_load(text);
    free(text);
    uint16_t *A = malloc(64 * 64 * 2), *Bt = malloc(64 * 64 * 2);
    float *D = malloc(64 * 64 * 4);
    EtRng rng = {11};
    for (int i = 0; i < 64 * 64; i++) {
        A[i] = to_half(rand_small(&rng), false);
        Bt[i] = to_half(rand_small(&rng), false);
    }
    static const char *const kernels[] = {"cute_ss_k128", "cute_ss_mn64", "cute_ss_mn_inter",
                                          "cute_ss_kinter", "cute_rs_k128"};
    for (size_t i = 0; i < TSR_ARRAY_LEN(kernels); i++) {
        memset(D, 0xcd, 64 * 64 * 4);
        void *pa = A, *pb = Bt, *pd = D;
        void *args[] = {&pa, &pb, &pd};
        EmuRegion regs[] = {{A, 64 * 64 * 2, false}, {Bt, 64 * 64 * 2, false},
                            {D, 64 * 64 * 4, true}};
        EtConfig cfg = ET_CONFIG(1, 128);
        cfg.races = cfg.uninit = true;
        et_run(m, kernels[i], args, regs, 3, cfg);
        if (check_gemm(A, 64, 0, Bt, D)) {
            print_error("kernel %s\n", kernels[i]);
            fail();
        }
    }
    cute_other_types(m);
    emu_module_free(m);
    free(A);
    free(Bt);
    free(D);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wgmma_layouts),
        cmocka_unit_test(test_wgmma_misuse),
        cmocka_unit_test(test_wgmma_decode_errors),
        cmocka_unit_test(test_mbarrier_ring),
        cmocka_unit_test(test_mbarrier_tx),
        cmocka_unit_test(test_nvcc_gemm),
        cmocka_unit_test(test_cute_gemm),
        cmocka_unit_test(test_tma_load),
        cmocka_unit_test(test_tma_map_errors),
        cmocka_unit_test(test_tma_store_bulk), cmocka_unit_test(test_bulk_groups_per_thread), cmocka_unit_test(test_multicast), cmocka_unit_test(test_cp_reduce),
        cmocka_unit_test(test_tma_bad_maps),
        cmocka_unit_test(test_llvm22_tma),
        cmocka_unit_test(test_setmaxnreg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
