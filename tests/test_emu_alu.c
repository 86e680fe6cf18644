/* Instruction semantics of the emulator, one instruction at a time: each
 * case runs a PTX instruction (or a short sequence) on many inputs, one per
 * thread, and compares every result with an independent computation on the
 * host: C integer arithmetic, the host's IEEE arithmetic under fesetround for
 * the rounding modes, _Float16 for half precision, libm within the ISA's
 * stated error for the approximate functions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fenv.h>
#include <math.h>

#include "emu/emu_test.h"

/* Where the result of the instruction under test is. */
enum { OUT_R, OUT_RD, OUT_F, OUT_FD, OUT_H, OUT_P };

typedef uint64_t (*RefFn)(uint64_t a, uint64_t b, uint64_t c);
/* For approximate results: is `got` close enough to `want`? */
typedef bool (*CloseFn)(uint64_t got, uint64_t want, const uint64_t in[3]);

enum { MAXCASES = 1024 };

/* Inputs go to %rd1..3 and, converted, to %r1..3 (low 32 bits), %f1..3,
 * %fd1..3, %h1..3 (low 16 bits) and %p1..3 (non-zero). */
static const char *const head =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry t(.param .u64 pin, .param .u64 pout)\n{\n"
    "  .reg .pred %p<5>;\n  .reg .b16 %h<6>;\n  .reg .b32 %r<10>;\n  .reg .f32 %f<6>;\n"
    "  .reg .b64 %rd<14>;\n  .reg .f64 %fd<6>;\n"
    "  ld.param.u64 %rd8, [pin];\n  ld.param.u64 %rd9, [pout];\n"
    "  mov.u32 %r7, %tid.x;\n  mov.u32 %r8, %ctaid.x;\n  mov.u32 %r9, %ntid.x;\n"
    "  mad.lo.s32 %r7, %r8, %r9, %r7;\n"
    "  mul.wide.u32 %rd10, %r7, 24;\n  add.s64 %rd11, %rd8, %rd10;\n"
    "  ld.global.u64 %rd1, [%rd11];\n  ld.global.u64 %rd2, [%rd11+8];\n"
    "  ld.global.u64 %rd3, [%rd11+16];\n"
    "  cvt.u32.u64 %r1, %rd1;\n  cvt.u32.u64 %r2, %rd2;\n  cvt.u32.u64 %r3, %rd3;\n"
    "  mov.b32 %f1, %r1;\n  mov.b32 %f2, %r2;\n  mov.b32 %f3, %r3;\n"
    "  mov.b64 %fd1, %rd1;\n  mov.b64 %fd2, %rd2;\n  mov.b64 %fd3, %rd3;\n"
    "  cvt.u16.u64 %h1, %rd1;\n  cvt.u16.u64 %h2, %rd2;\n  cvt.u16.u64 %h3, %rd3;\n"
    "  setp.ne.s64 %p1, %rd1, 0;\n  setp.ne.s64 %p2, %rd2, 0;\n  setp.ne.s64 %p3, %rd3, 0;\n"
    "  mov.u64 %rd4, 0;\n  setp.eq.s32 %p0, %r7, -1;\n  setp.eq.s32 %p4, %r7, -1;\n";

static const char *const tails[] = {
    [OUT_R] = "  cvt.u64.u32 %rd4, %r4;\n",
    [OUT_RD] = "",
    [OUT_F] = "  mov.b32 %r4, %f4;\n  cvt.u64.u32 %rd4, %r4;\n",
    [OUT_FD] = "  mov.b64 %rd4, %fd4;\n",
    [OUT_H] = "  cvt.u64.u16 %rd4, %h4;\n",
    [OUT_P] = "  selp.u64 %rd4, 1, 0, %p0;\n  selp.u64 %rd5, 2, 0, %p4;\n  or.b64 %rd4, %rd4, %rd5;\n",
};

static bool is_nan32(uint64_t v) { return (v & 0x7f800000u) == 0x7f800000u && (v & 0x7fffffu); }
static bool is_nan64(uint64_t v)
{
    return (v & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (v & 0xfffffffffffffull);
}

/* Runs `insn` on n input triples and compares with ref (exactly, or with
 * close when given). out_kind says where the result is. */
static void check(const char *insn, int out_kind, RefFn ref, CloseFn close, uint64_t (*in)[3],
                  int n)
{
    char ptx[8192];
    snprintf(ptx, sizeof ptx, "%s  %s\n%s  mul.wide.u32 %%rd10, %%r7, 8;\n"
             "  add.s64 %%rd12, %%rd9, %%rd10;\n  st.global.u64 [%%rd12], %%rd4;\n  ret;\n}\n",
             head, insn, tails[out_kind]);
    EmuModule *m = et_load(ptx);
    uint64_t *out = calloc((size_t)n, sizeof *out);
    void *args[] = {&in, &out};
    EmuRegion regs[] = {{in, sizeof(uint64_t[3]) * (size_t)n, false},
                        {out, sizeof(uint64_t) * (size_t)n, true}};
    unsigned block = n < 128 ? (unsigned)n : 128;
    EtConfig c = ET_CONFIG((unsigned)((n + 127) / 128), block);
    c.uninit = true;
    /* the last CTA may be partial: run full CTAs and clamp by padding inputs */
    int padded = (int)(c.grid[0] * block);
    uint64_t (*pin)[3] = calloc((size_t)padded, sizeof *pin);
    uint64_t *pout = calloc((size_t)padded, sizeof *pout);
    memcpy(pin, in, sizeof *pin * (size_t)n);
    args[0] = &pin;
    args[1] = &pout;
    regs[0] = (EmuRegion){pin, sizeof *pin * (size_t)padded, false};
    regs[1] = (EmuRegion){pout, sizeof *pout * (size_t)padded, true};
    et_run(m, "t", args, regs, 2, c);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        uint64_t want = ref(in[i][0], in[i][1], in[i][2]);
        bool ok = close ? close(pout[i], want, in[i]) : pout[i] == want;
        if (!ok && bad++ < 8)
            print_error("%s: inputs 0x%llx 0x%llx 0x%llx: got 0x%llx, want 0x%llx\n", insn,
                        (unsigned long long)in[i][0], (unsigned long long)in[i][1],
                        (unsigned long long)in[i][2], (unsigned long long)pout[i],
                        (unsigned long long)want);
    }
    free(out);
    free(pin);
    free(pout);
    emu_module_free(m);
    if (bad) {
        print_error("%d of %d cases differ\n", bad, n);
        fail();
    }
}

/* ---- inputs ------------------------------------------------------------------ */

static const uint32_t int32_special[] = {0, 1, 2, 3, 7, 31, 32, 33, 0x7fffffff, 0x80000000,
                                         0xffffffff, 0xfffffffe, 0x12345678, 0x80000001, 0xff,
                                         0x10000, 0xffff8000};
static const uint64_t int64_special[] = {0, 1, 2, 63, 64, 65, 0x7fffffffffffffffull,
                                         0x8000000000000000ull, 0xffffffffffffffffull,
                                         0x100000000ull, 0xffffffff, 0x123456789abcdef0ull};

/* Pairs of special values, then random ones; the third input random. */
static int gen_ints(uint64_t (*in)[3], bool wide, uint64_t mask3)
{
    EtRng r = {wide ? 64 : 32};
    int n = 0;
    size_t ns = wide ? TSR_ARRAY_LEN(int64_special) : TSR_ARRAY_LEN(int32_special);
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < ns; j++) {
            uint64_t a = wide ? int64_special[i] : int32_special[i];
            uint64_t b = wide ? int64_special[j] : int32_special[j];
            in[n][0] = a;
            in[n][1] = b;
            in[n][2] = et_rand(&r) & mask3;
            n++;
        }
    while (n < 512) {
        uint64_t a = et_rand(&r), b = et_rand(&r);
        if (!wide) {
            a &= 0xffffffff;
            b &= 0xffffffff;
        }
        if (n % 3 == 0)
            b &= 0x3f; /* small values: shift amounts, bit positions */
        in[n][0] = a;
        in[n][1] = b;
        in[n][2] = et_rand(&r) & mask3;
        n++;
    }
    return n;
}

static const uint32_t f32_special[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000,
    0x7fa00000, 0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff,
    0x3f000000, 0x3fc00000, 0x40490fdb, 0x33800000, 0x4b000000, 0x4b7fffff, 0xcf000000,
    0x4effffff, 0x3effffff, 0x3f7fffff, 0x34000000, 0x00400000,
};

static int gen_floats(uint64_t (*in)[3])
{
    EtRng r = {99};
    int n = 0;
    size_t ns = TSR_ARRAY_LEN(f32_special);
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < ns; j++) {
            in[n][0] = f32_special[i];
            in[n][1] = f32_special[j];
            in[n][2] = f32_special[(i * 7 + j) % ns];
            n++;
        }
    while (n < 1000) {
        for (int k = 0; k < 3; k++) {
            uint32_t v = (uint32_t)et_rand(&r);
            if (n % 4 == 0) /* values of similar magnitude: cancellation, ties */
                v = (v & 0x807fffffu) | (0x3f800000u + ((uint32_t)(n % 5) << 23));
            in[n][k] = v;
        }
        n++;
    }
    return n;
}

static int gen_doubles(uint64_t (*in)[3])
{
    static const uint64_t sp[] = {0, 0x8000000000000000ull, 0x3ff0000000000000ull,
                                  0xbff0000000000000ull, 0x7ff0000000000000ull,
                                  0x7ff8000000000000ull, 1, 0x000fffffffffffffull,
                                  0x7fefffffffffffffull, 0x3fe0000000000000ull,
                                  0x4330000000000000ull, 0xc3e0000000000000ull,
                                  0x43e0000000000000ull, 0x3fefffffffffffffull};
    EtRng r = {7};
    int n = 0;
    for (size_t i = 0; i < TSR_ARRAY_LEN(sp); i++)
        for (size_t j = 0; j < TSR_ARRAY_LEN(sp); j++) {
            in[n][0] = sp[i];
            in[n][1] = sp[j];
            in[n][2] = sp[(i + j) % TSR_ARRAY_LEN(sp)];
            n++;
        }
    while (n < 600) {
        for (int k = 0; k < 3; k++) {
            uint64_t v = et_rand(&r);
            if (n % 3 == 0)
                v = (v & 0x800fffffffffffffull) | (0x3ff0000000000000ull + ((uint64_t)(n % 4) << 52));
            in[n][k] = v;
        }
        n++;
    }
    return n;
}

/* ---- integer references ----------------------------------------------------------- */

#define U32(x) ((uint64_t)(uint32_t)(x))
#define S32(x) ((int32_t)(uint32_t)(x))
#define S64(x) ((int64_t)(x))

static uint64_t r_add_s32(uint64_t a, uint64_t b, uint64_t c) { return U32(a + b); }
static uint64_t r_sub_s32(uint64_t a, uint64_t b, uint64_t c) { return U32(a - b); }
static uint64_t r_add_sat(uint64_t a, uint64_t b, uint64_t c)
{
    int64_t s = (int64_t)S32(a) + S32(b);
    return U32(s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s);
}
static uint64_t r_sub_sat(uint64_t a, uint64_t b, uint64_t c)
{
    int64_t s = (int64_t)S32(a) - S32(b);
    return U32(s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s);
}
static uint64_t r_mul_lo(uint64_t a, uint64_t b, uint64_t c) { return U32(U32(a) * U32(b)); }
static uint64_t r_mul_hi_s32(uint64_t a, uint64_t b, uint64_t c)
{
    return U32((uint64_t)((int64_t)S32(a) * S32(b)) >> 32);
}
static uint64_t r_mul_hi_u32(uint64_t a, uint64_t b, uint64_t c) { return U32(U32(a) * U32(b) >> 32); }
static uint64_t r_mul_wide_s32(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)((int64_t)S32(a) * S32(b));
}
static uint64_t r_mul_wide_u32(uint64_t a, uint64_t b, uint64_t c) { return U32(a) * U32(b); }
static uint64_t r_mad_lo(uint64_t a, uint64_t b, uint64_t c) { return U32(U32(a) * U32(b) + c); }
static uint64_t r_mad_hi_u32(uint64_t a, uint64_t b, uint64_t c) { return U32((U32(a) * U32(b) >> 32) + c); }
static uint64_t r_mad_wide_s32(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)((int64_t)S32(a) * S32(b)) + c;
}
static uint64_t r_mul24_lo(uint64_t a, uint64_t b, uint64_t c)
{
    int64_t x = (int64_t)((uint64_t)a << 40) >> 40, y = (int64_t)((uint64_t)b << 40) >> 40;
    return U32(x * y);
}
static uint64_t r_mul24_hi_u(uint64_t a, uint64_t b, uint64_t c)
{
    return U32(((a & 0xffffff) * (b & 0xffffff)) >> 16);
}
static uint64_t r_sad_s32(uint64_t a, uint64_t b, uint64_t c)
{
    int64_t d = (int64_t)S32(a) - S32(b);
    return U32((uint64_t)(d < 0 ? -d : d) + c);
}
static uint64_t r_div_s32(uint64_t a, uint64_t b, uint64_t c)
{
    if (!U32(b))
        return 0xffffffff;
    if (S32(b) == -1)
        return U32(0 - a);
    return U32(S32(a) / S32(b));
}
static uint64_t r_div_u32(uint64_t a, uint64_t b, uint64_t c)
{
    return U32(b) ? U32(a) / U32(b) : 0xffffffff;
}
static uint64_t r_rem_s32(uint64_t a, uint64_t b, uint64_t c)
{
    if (!U32(b))
        return U32(a);
    if (S32(b) == -1)
        return 0;
    return U32(S32(a) % S32(b));
}
static uint64_t r_rem_u32(uint64_t a, uint64_t b, uint64_t c) { return U32(b) ? U32(a) % U32(b) : U32(a); }
static uint64_t r_abs_s32(uint64_t a, uint64_t b, uint64_t c)
{
    return U32(S32(a) < 0 ? 0 - U32(a) : U32(a));
}
static uint64_t r_neg_s32(uint64_t a, uint64_t b, uint64_t c) { return U32(0 - a); }
static uint64_t r_min_s32(uint64_t a, uint64_t b, uint64_t c) { return U32(S32(a) < S32(b) ? a : b); }
static uint64_t r_max_u32(uint64_t a, uint64_t b, uint64_t c) { return U32(U32(a) > U32(b) ? a : b); }
static uint64_t r_max_relu(uint64_t a, uint64_t b, uint64_t c)
{
    int32_t m = S32(a) > S32(b) ? S32(a) : S32(b);
    return U32(m < 0 ? 0 : m);
}
static uint64_t r_popc32(uint64_t a, uint64_t b, uint64_t c) { return (uint64_t)__builtin_popcount((uint32_t)a); }
static uint64_t r_clz32(uint64_t a, uint64_t b, uint64_t c)
{
    return U32(a) ? (uint64_t)__builtin_clz((uint32_t)a) : 32;
}
static uint64_t r_bfind_u32(uint64_t a, uint64_t b, uint64_t c)
{
    return U32(a) ? (uint64_t)(31 - __builtin_clz((uint32_t)a)) : 0xffffffff;
}
static uint64_t r_bfind_s32_shiftamt(uint64_t a, uint64_t b, uint64_t c)
{
    uint32_t x = S32(a) < 0 ? ~(uint32_t)a : (uint32_t)a;
    return x ? (uint64_t)__builtin_clz(x) : 0xffffffff;
}
static uint64_t r_brev32(uint64_t a, uint64_t b, uint64_t c)
{
    uint32_t r = 0;
    for (int i = 0; i < 32; i++)
        r |= (uint32_t)((a >> i) & 1) << (31 - i);
    return r;
}
/* bfe and bfi straight from the ISA's pseudocode, bit by bit */
static uint64_t bfe_ref(uint64_t a, uint64_t b, uint64_t c, int msb, bool sgn)
{
    unsigned pos = b & 0xff, len = c & 0xff;
    unsigned top = pos + len - 1 < (unsigned)msb ? pos + len - 1 : (unsigned)msb;
    int sbit = (!sgn || len == 0) ? 0 : (int)((a >> top) & 1);
    uint64_t d = 0;
    for (unsigned i = 0; i <= (unsigned)msb; i++) {
        int bit = (i < len && pos + i <= (unsigned)msb) ? (int)((a >> (pos + i)) & 1) : sbit;
        d |= (uint64_t)bit << i;
    }
    return d;
}
static uint64_t r_bfe_u32(uint64_t a, uint64_t b, uint64_t c) { return bfe_ref(U32(a), b, c, 31, false); }
static uint64_t r_bfe_s32(uint64_t a, uint64_t b, uint64_t c) { return bfe_ref(U32(a), b, c, 31, true); }
static uint64_t r_bfe_s64(uint64_t a, uint64_t b, uint64_t c) { return bfe_ref(a, b, c, 63, true); }
static uint64_t r_bfi32(uint64_t a, uint64_t b, uint64_t c)
{
    unsigned pos = c & 0xff, len = (c >> 8) & 0xff;
    uint64_t f = U32(b);
    for (unsigned i = 0; i < len && pos + i <= 31; i++)
        f = (f & ~(1ull << (pos + i))) | (((a >> i) & 1) << (pos + i));
    return f;
}
static uint64_t r_prmt(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t t = U32(b) << 32 | U32(a), d = 0;
    for (int i = 0; i < 4; i++) {
        unsigned sel = (c >> (4 * i)) & 0xf;
        uint64_t byte = (t >> (8 * (sel & 7))) & 0xff;
        if (sel & 8)
            byte = (byte & 0x80) ? 0xff : 0;
        d |= byte << (8 * i);
    }
    return d;
}
static uint64_t r_and(uint64_t a, uint64_t b, uint64_t c) { return U32(a & b); }
static uint64_t r_xor(uint64_t a, uint64_t b, uint64_t c) { return U32(a ^ b); }
static uint64_t r_not(uint64_t a, uint64_t b, uint64_t c) { return U32(~a); }
static uint64_t r_cnot(uint64_t a, uint64_t b, uint64_t c) { return U32(a) == 0; }
static uint64_t r_lop3_e8(uint64_t a, uint64_t b, uint64_t c) { return U32((a & b) | (b & c) | (a & c)); }
static uint64_t r_shl32(uint64_t a, uint64_t b, uint64_t c) { return U32(b) >= 32 ? 0 : U32(a << U32(b)); }
static uint64_t r_shr_u32(uint64_t a, uint64_t b, uint64_t c) { return U32(b) >= 32 ? 0 : U32(a) >> U32(b); }
static uint64_t r_shr_s32(uint64_t a, uint64_t b, uint64_t c)
{
    return U32(S32(a) >> (U32(b) >= 32 ? 31 : U32(b)));
}
static uint64_t r_shf_l_wrap(uint64_t a, uint64_t b, uint64_t c)
{
    unsigned n = c & 31;
    return U32((U32(b) << 32 | U32(a)) << n >> 32);
}
static uint64_t r_shf_r_clamp(uint64_t a, uint64_t b, uint64_t c)
{
    unsigned n = U32(c) > 32 ? 32 : (unsigned)U32(c);
    return U32((U32(b) << 32 | U32(a)) >> n);
}
static uint64_t r_add_u64(uint64_t a, uint64_t b, uint64_t c) { return a + b; }
static uint64_t r_mul_hi_s64(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)(((__int128)S64(a) * S64(b)) >> 64);
}
static uint64_t r_mul_hi_u64(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}
static uint64_t r_div_s64(uint64_t a, uint64_t b, uint64_t c)
{
    if (!b)
        return ~0ull;
    if (S64(b) == -1)
        return 0 - a;
    return (uint64_t)(S64(a) / S64(b));
}
static uint64_t r_rem_u64(uint64_t a, uint64_t b, uint64_t c) { return b ? a % b : a; }
static uint64_t r_shr_s64(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)(S64(a) >> (U32(b) >= 64 ? 63 : U32(b)));
}
static uint64_t r_popc64(uint64_t a, uint64_t b, uint64_t c) { return (uint64_t)__builtin_popcountll(a); }
static uint64_t r_clz64(uint64_t a, uint64_t b, uint64_t c) { return a ? (uint64_t)__builtin_clzll(a) : 64; }
static uint64_t r_min_s64(uint64_t a, uint64_t b, uint64_t c) { return S64(a) < S64(b) ? a : b; }
static uint64_t r_add_u16(uint64_t a, uint64_t b, uint64_t c) { return (a + b) & 0xffff; }
static uint64_t r_mul_wide_s16(uint64_t a, uint64_t b, uint64_t c)
{
    return U32((int32_t)(int16_t)a * (int16_t)b);
}
static uint64_t r_shr_s16(uint64_t a, uint64_t b, uint64_t c)
{
    unsigned n = U32(b) >= 16 ? 15 : (unsigned)U32(b);
    return (uint64_t)(uint16_t)((int16_t)a >> n);
}
static uint64_t r_carry64(uint64_t a, uint64_t b, uint64_t c)
{
    return (U32(a) | U32(c) << 32) + (U32(b) | U32(b) << 32);
}
static uint64_t r_borrow64(uint64_t a, uint64_t b, uint64_t c)
{
    return (U32(a) | U32(c) << 32) - (U32(b) | U32(b) << 32);
}

typedef struct {
    const char *insn;
    int out;
    RefFn ref;
    bool wide;
} IntCase;

static void test_integer_ops(void **state)
{
    static const IntCase cases[] = {
        {"add.s32 %r4, %r1, %r2;", OUT_R, r_add_s32, false},
        {"sub.u32 %r4, %r1, %r2;", OUT_R, r_sub_s32, false},
        {"add.sat.s32 %r4, %r1, %r2;", OUT_R, r_add_sat, false},
        {"sub.sat.s32 %r4, %r1, %r2;", OUT_R, r_sub_sat, false},
        {"mul.lo.s32 %r4, %r1, %r2;", OUT_R, r_mul_lo, false},
        {"mul.hi.s32 %r4, %r1, %r2;", OUT_R, r_mul_hi_s32, false},
        {"mul.hi.u32 %r4, %r1, %r2;", OUT_R, r_mul_hi_u32, false},
        {"mul.wide.s32 %rd4, %r1, %r2;", OUT_RD, r_mul_wide_s32, false},
        {"mul.wide.u32 %rd4, %r1, %r2;", OUT_RD, r_mul_wide_u32, false},
        {"mad.lo.s32 %r4, %r1, %r2, %r3;", OUT_R, r_mad_lo, false},
        {"mad.hi.u32 %r4, %r1, %r2, %r3;", OUT_R, r_mad_hi_u32, false},
        {"mad.wide.s32 %rd4, %r1, %r2, %rd3;", OUT_RD, r_mad_wide_s32, false},
        {"mul24.lo.s32 %r4, %r1, %r2;", OUT_R, r_mul24_lo, false},
        {"mul24.hi.u32 %r4, %r1, %r2;", OUT_R, r_mul24_hi_u, false},
        {"sad.s32 %r4, %r1, %r2, %r3;", OUT_R, r_sad_s32, false},
        {"div.s32 %r4, %r1, %r2;", OUT_R, r_div_s32, false},
        {"div.u32 %r4, %r1, %r2;", OUT_R, r_div_u32, false},
        {"rem.s32 %r4, %r1, %r2;", OUT_R, r_rem_s32, false},
        {"rem.u32 %r4, %r1, %r2;", OUT_R, r_rem_u32, false},
        {"abs.s32 %r4, %r1;", OUT_R, r_abs_s32, false},
        {"neg.s32 %r4, %r1;", OUT_R, r_neg_s32, false},
        {"min.s32 %r4, %r1, %r2;", OUT_R, r_min_s32, false},
        {"max.u32 %r4, %r1, %r2;", OUT_R, r_max_u32, false},
        {"max.relu.s32 %r4, %r1, %r2;", OUT_R, r_max_relu, false},
        {"popc.b32 %r4, %r1;", OUT_R, r_popc32, false},
        {"clz.b32 %r4, %r1;", OUT_R, r_clz32, false},
        {"bfind.u32 %r4, %r1;", OUT_R, r_bfind_u32, false},
        {"bfind.shiftamt.s32 %r4, %r1;", OUT_R, r_bfind_s32_shiftamt, false},
        {"brev.b32 %r4, %r1;", OUT_R, r_brev32, false},
        {"bfe.u32 %r4, %r1, %r2, %r3;", OUT_R, r_bfe_u32, false},
        {"bfe.s32 %r4, %r1, %r2, %r3;", OUT_R, r_bfe_s32, false},
        {"shr.u32 %r5, %r3, 8;\n bfi.b32 %r4, %r1, %r2, %r3, %r5;", OUT_R, r_bfi32, false},
        {"prmt.b32 %r4, %r1, %r2, %r3;", OUT_R, r_prmt, false},
        {"and.b32 %r4, %r1, %r2;", OUT_R, r_and, false},
        {"xor.b32 %r4, %r1, %r2;", OUT_R, r_xor, false},
        {"not.b32 %r4, %r1;", OUT_R, r_not, false},
        {"cnot.b32 %r4, %r1;", OUT_R, r_cnot, false},
        {"lop3.b32 %r4, %r1, %r2, %r3, 0xe8;", OUT_R, r_lop3_e8, false},
        {"shl.b32 %r4, %r1, %r2;", OUT_R, r_shl32, false},
        {"shr.u32 %r4, %r1, %r2;", OUT_R, r_shr_u32, false},
        {"shr.s32 %r4, %r1, %r2;", OUT_R, r_shr_s32, false},
        {"shf.l.wrap.b32 %r4, %r1, %r2, %r3;", OUT_R, r_shf_l_wrap, false},
        {"shf.r.clamp.b32 %r4, %r1, %r2, %r3;", OUT_R, r_shf_r_clamp, false},
        {"add.cc.u32 %r4, %r1, %r2;\n addc.u32 %r5, %r3, %r2;\n mov.b64 %rd4, {%r4, %r5};",
         OUT_RD, r_carry64, false},
        {"sub.cc.u32 %r4, %r1, %r2;\n subc.u32 %r5, %r3, %r2;\n mov.b64 %rd4, {%r4, %r5};",
         OUT_RD, r_borrow64, false},
        {"add.u64 %rd4, %rd1, %rd2;", OUT_RD, r_add_u64, true},
        {"mul.hi.s64 %rd4, %rd1, %rd2;", OUT_RD, r_mul_hi_s64, true},
        {"mul.hi.u64 %rd4, %rd1, %rd2;", OUT_RD, r_mul_hi_u64, true},
        {"div.s64 %rd4, %rd1, %rd2;", OUT_RD, r_div_s64, true},
        {"rem.u64 %rd4, %rd1, %rd2;", OUT_RD, r_rem_u64, true},
        {"shr.s64 %rd4, %rd1, %r2;", OUT_RD, r_shr_s64, true},
        {"popc.b64 %r4, %rd1;", OUT_R, r_popc64, true},
        {"clz.b64 %r4, %rd1;", OUT_R, r_clz64, true},
        {"min.s64 %rd4, %rd1, %rd2;", OUT_RD, r_min_s64, true},
        {"bfe.s64 %rd4, %rd1, %r2, %r3;", OUT_RD, r_bfe_s64, true},
        {"add.u16 %h4, %h1, %h2;", OUT_H, r_add_u16, false},
        {"mul.wide.s16 %r4, %h1, %h2;", OUT_R, r_mul_wide_s16, false},
        {"shr.s16 %h4, %h1, %r2;", OUT_H, r_shr_s16, false},
    };
    uint64_t (*in)[3] = calloc(MAXCASES, sizeof *in);
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        /* the third operand: bit positions and lengths for bfe/bfi/shf */
        uint64_t mask3 = strstr(cases[i].insn, "bf") || strstr(cases[i].insn, "shf") ? 0xffff
                                                                                      : ~0ull;
        int n = gen_ints(in, cases[i].wide, mask3);
        if (strstr(cases[i].insn, "bfe"))
            for (int k = 0; k < n; k++) {
                in[k][1] &= 0x7f;
                in[k][2] &= 0x7f;
            }
        check(cases[i].insn, cases[i].out, cases[i].ref, NULL, in, n);
    }
    free(in);
}

/* prmt's special modes, from the ISA's table of selected bytes */
static void test_prmt_modes(void **state)
{
    static const struct {
        const char *mode;
        uint8_t sel[4][4]; /* result bytes 0..3 for selector 0..3 */
    } modes[] = {
        {"f4e", {{0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 6}}},
        {"b4e", {{0, 7, 6, 5}, {1, 0, 7, 6}, {2, 1, 0, 7}, {3, 2, 1, 0}}},
        {"rc8", {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}}},
        {"ecl", {{0, 1, 2, 3}, {1, 1, 2, 3}, {2, 2, 2, 3}, {3, 3, 3, 3}}},
        {"ecr", {{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 1, 2, 2}, {0, 1, 2, 3}}},
        {"rc16", {{0, 1, 0, 1}, {2, 3, 2, 3}, {0, 1, 0, 1}, {2, 3, 2, 3}}},
    };
    uint64_t in[4][3];
    for (int s = 0; s < 4; s++) {
        in[s][0] = 0x33221100;
        in[s][1] = 0x77665544;
        in[s][2] = (uint64_t)s | 0xfc;
    }
    for (size_t i = 0; i < TSR_ARRAY_LEN(modes); i++) {
        char insn[64];
        snprintf(insn, sizeof insn, "prmt.b32.%s %%r4, %%r1, %%r2, %%r3;", modes[i].mode);
        char ptx[8192];
        snprintf(ptx, sizeof ptx, "%s  %s\n%s  mul.wide.u32 %%rd10, %%r7, 8;\n"
                 "  add.s64 %%rd12, %%rd9, %%rd10;\n  st.global.u64 [%%rd12], %%rd4;\n  ret;\n}\n",
                 head, insn, tails[OUT_R]);
        EmuModule *m = et_load(ptx);
        uint64_t out[4];
        uint64_t (*pin)[3] = in;
        uint64_t *pout = out;
        void *args[] = {&pin, &pout};
        EmuRegion regs[] = {{in, sizeof in, false}, {out, sizeof out, true}};
        et_run(m, "t", args, regs, 2, ET_CONFIG(1, 4));
        for (int s = 0; s < 4; s++) {
            uint32_t want = 0;
            for (int b = 0; b < 4; b++)
                want |= (uint32_t)(modes[i].sel[s][b] * 0x11) << (8 * b);
            assert_int_equal(out[s], want);
        }
        emu_module_free(m);
    }
}

/* ---- floating point -------------------------------------------------------------- */

enum { FADD, FSUB, FMUL, FFMA, FDIV, FSQRT };

static int fe_mode(char r)
{
    switch (r) {
    case 'z': return FE_TOWARDZERO;
    case 'm': return FE_DOWNWARD;
    case 'p': return FE_UPWARD;
    default: return FE_TONEAREST;
    }
}

/* The host computes under the rounding mode; volatile keeps the operation
 * between the two mode changes. */
static float host_f32(int op, char rnd, float a, float b, float c)
{
    fesetround(fe_mode(rnd));
    volatile float x = a, y = b, z = c, r;
    switch (op) {
    case FADD: r = x + y; break;
    case FSUB: r = x - y; break;
    case FMUL: r = x * y; break;
    case FFMA: r = fmaf(x, y, z); break;
    case FDIV: r = x / y; break;
    default: r = sqrtf(x); break;
    }
    fesetround(FE_TONEAREST);
    return r;
}

static double host_f64(int op, char rnd, double a, double b, double c)
{
    fesetround(fe_mode(rnd));
    volatile double x = a, y = b, z = c, r;
    switch (op) {
    case FADD: r = x + y; break;
    case FSUB: r = x - y; break;
    case FMUL: r = x * y; break;
    case FFMA: r = fma(x, y, z); break;
    case FDIV: r = x / y; break;
    default: r = sqrt(x); break;
    }
    fesetround(FE_TONEAREST);
    return r;
}

static uint32_t ftz32(uint32_t v) { return (v & 0x7f800000u) ? v : v & 0x80000000u; }

/* The case being checked (the reference functions take only operands). */
typedef struct {
    int op;
    char rnd;
    bool ftz, sat;
} Cur;
static Cur cur;

static uint64_t ref_f32(uint64_t a, uint64_t b, uint64_t c)
{
    uint32_t x = (uint32_t)a, y = (uint32_t)b, z = (uint32_t)c;
    if (cur.ftz) {
        x = ftz32(x);
        y = ftz32(y);
        z = ftz32(z);
    }
    float r = host_f32(cur.op, cur.rnd, f32_of_bits(x), f32_of_bits(y), f32_of_bits(z));
    uint32_t v = bits_of_f32(r);
    if (cur.ftz)
        v = ftz32(v);
    if (cur.sat)
        v = r != r ? 0 : r <= 0 ? 0 : r >= 1 ? 0x3f800000u : v;
    return v;
}

static bool same_f32(uint64_t got, uint64_t want, const uint64_t in[3])
{
    if (is_nan32(want))
        return got == 0x7fffffff; /* the canonical NaN */
    return got == want;
}

static uint64_t ref_f64(uint64_t a, uint64_t b, uint64_t c)
{
    double r = host_f64(cur.op, cur.rnd, f64_of_bits(a), f64_of_bits(b), f64_of_bits(c));
    return bits_of_f64(r);
}

static bool same_f64(uint64_t got, uint64_t want, const uint64_t in[3])
{
    return is_nan64(want) ? is_nan64(got) : got == want;
}

static void test_float_rounding(void **state)
{
    static const char *ops[] = {"add", "sub", "mul", "fma", "div", "sqrt"};
    static const char rnds[] = {'n', 'z', 'm', 'p'};
    uint64_t (*in)[3] = calloc(MAXCASES, sizeof *in);
    int n = gen_floats(in);
    for (int op = 0; op < 6; op++)
        for (int r = 0; r < 4; r++)
            for (int flags = 0; flags < 3; flags++) {
                char insn[128];
                const char *fl = flags == 1 ? ".ftz" : flags == 2 ? ".ftz.sat" : "";
                if (op >= FDIV && flags == 2)
                    continue; /* div and sqrt have no .sat */
                const char *srcs = op == FFMA ? "%f1, %f2, %f3" : op == FSQRT ? "%f1" : "%f1, %f2";
                snprintf(insn, sizeof insn, "%s.r%c%s.f32 %%f4, %s;", ops[op], rnds[r], fl, srcs);
                cur.op = op;
                cur.rnd = rnds[r];
                cur.ftz = flags >= 1;
                cur.sat = flags == 2;
                check(insn, OUT_F, ref_f32, same_f32, in, n);
            }
    /* the default rounding of add/sub/mul is .rn */
    cur = (Cur){FADD, 'n', false, false};
    check("add.f32 %f4, %f1, %f2;", OUT_F, ref_f32, same_f32, in, n);
    cur.op = FFMA;
    check("mad.rn.f32 %f4, %f1, %f2, %f3;", OUT_F, ref_f32, same_f32, in, n);
    n = gen_doubles(in);
    for (int op = 0; op < 6; op++)
        for (int r = 0; r < 4; r++) {
            if (op == FFMA && r > 0)
                continue; /* fma.f64 with directed rounding is not emulated */
            char insn[128];
            const char *srcs = op == FFMA ? "%fd1, %fd2, %fd3" : op == FSQRT ? "%fd1" : "%fd1, %fd2";
            snprintf(insn, sizeof insn, "%s.r%c.f64 %%fd4, %s;", ops[op], rnds[r], srcs);
            cur = (Cur){op, rnds[r], false, false};
            check(insn, OUT_FD, ref_f64, same_f64, in, n);
        }
    free(in);
}

/* ---- approximate functions, min/max, sign operations ------------------------------ */

enum { AX_EX2, AX_LG2, AX_SIN, AX_COS, AX_RSQRT, AX_RCP, AX_TANH, AX_DIVA, AX_SQRTA };

static double approx_ref(int op, double x, double y)
{
    switch (op) {
    case AX_EX2: return exp2(x);
    case AX_LG2: return log2(x);
    case AX_SIN: return sin(x);
    case AX_COS: return cos(x);
    case AX_RSQRT: return 1 / sqrt(x);
    case AX_RCP: return 1 / x;
    case AX_TANH: return tanh(x);
    case AX_DIVA: return x / y;
    default: return sqrt(x);
    }
}

static uint64_t ref_approx(uint64_t a, uint64_t b, uint64_t c)
{
    uint32_t xa = (uint32_t)a, yb = (uint32_t)b;
    if (cur.ftz) {
        xa = ftz32(xa);
        yb = ftz32(yb);
    }
    double x = f32_of_bits(xa), y = f32_of_bits(yb);
    return bits_of_f64(approx_ref(cur.op, x, y));
}

/* Within the ISA's error bounds: a few ulp relative, or 2^-20 absolute for
 * sin/cos and lg2; special values exactly (NaN as any NaN). */
static bool close_approx(uint64_t got, uint64_t want, const uint64_t in[3])
{
    double w = f64_of_bits(want), g = f32_of_bits((uint32_t)got);
    if (w != w)
        return g != g;
    if (isinf(w) || w == 0 || fabs(w) < 0x1p-126)
        return (isinf(w) && g == w) || (!isinf(w) && fabs(g) <= 0x1p-126) ||
               (isinf(w) && fabs(g) > 0x1p126 && (g > 0) == (w > 0));
    if (fabs(w) > 0x1p127)
        return isinf(g) || fabs(g - w) <= fabs(w) * 0x1p-20;
    double abs_ok = (cur.op == AX_SIN || cur.op == AX_COS || cur.op == AX_LG2) ? 0x1p-20 : 0;
    return fabs(g - w) <= fabs(w) * 0x1p-21 + abs_ok;
}

static void test_float_approx(void **state)
{
    static const struct {
        const char *insn;
        int op;
    } cases[] = {
        {"ex2.approx.f32 %f4, %f1;", AX_EX2},        {"ex2.approx.ftz.f32 %f4, %f1;", AX_EX2},
        {"lg2.approx.f32 %f4, %f1;", AX_LG2},        {"sin.approx.f32 %f4, %f1;", AX_SIN},
        {"cos.approx.ftz.f32 %f4, %f1;", AX_COS},    {"rsqrt.approx.f32 %f4, %f1;", AX_RSQRT},
        {"rcp.approx.f32 %f4, %f1;", AX_RCP},        {"tanh.approx.f32 %f4, %f1;", AX_TANH},
        {"div.approx.f32 %f4, %f1, %f2;", AX_DIVA},  {"div.full.f32 %f4, %f1, %f2;", AX_DIVA},
        {"sqrt.approx.f32 %f4, %f1;", AX_SQRTA},
    };
    uint64_t (*in)[3] = calloc(MAXCASES, sizeof *in);
    EtRng r = {5};
    int n = 0;
    for (; n < 400; n++) {
        float lim = n < 200 ? 4.0f : 100.0f;
        in[n][0] = bits_of_f32(et_randf(&r, -lim, lim));
        in[n][1] = bits_of_f32(et_randf(&r, -lim, lim));
    }
    for (size_t i = 0; i < TSR_ARRAY_LEN(f32_special); i++, n++) {
        in[n][0] = f32_special[i];
        in[n][1] = f32_special[(i + 3) % TSR_ARRAY_LEN(f32_special)];
    }
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        cur.op = cases[i].op;
        cur.ftz = strstr(cases[i].insn, ".ftz") != NULL;
        int m = n;
        if (cur.op == AX_SIN || cur.op == AX_COS) /* the error bound holds in [-pi, pi] */
            m = 200;
        check(cases[i].insn, OUT_F, ref_approx, close_approx, in, m);
    }
    free(in);
}

static double f32v(uint64_t v) { return f32_of_bits((uint32_t)v); }

static uint64_t r_min_f32(uint64_t a, uint64_t b, uint64_t c)
{
    double x = f32v(a), y = f32v(b);
    if (x != x && y != y)
        return 0x7fffffff;
    if (x != x)
        return (uint32_t)b;
    if (y != y)
        return (uint32_t)a;
    if (x == y)
        return signbit(x) ? (uint32_t)a : (uint32_t)b;
    return x < y ? (uint32_t)a : (uint32_t)b;
}
static uint64_t r_max_nan_f32(uint64_t a, uint64_t b, uint64_t c)
{
    double x = f32v(a), y = f32v(b);
    if (x != x || y != y)
        return 0x7fffffff;
    if (x == y)
        return signbit(x) ? (uint32_t)b : (uint32_t)a;
    return x > y ? (uint32_t)a : (uint32_t)b;
}
static uint64_t r_max_ftz_f32(uint64_t a, uint64_t b, uint64_t c)
{
    uint32_t x = ftz32((uint32_t)a), y = ftz32((uint32_t)b);
    double fx = f32v(x), fy = f32v(y);
    if (fx != fx && fy != fy)
        return 0x7fffffff;
    if (fx != fx)
        return y;
    if (fy != fy)
        return x;
    if (fx == fy)
        return signbit(fx) ? y : x;
    return fx > fy ? x : y;
}
static uint64_t r_setp_lt_ftz(uint64_t a, uint64_t b, uint64_t c)
{
    bool t = f32v(ftz32((uint32_t)a)) < f32v(ftz32((uint32_t)b));
    return (uint64_t)t | (uint64_t)!t << 1;
}
static uint64_t r_abs_f32(uint64_t a, uint64_t b, uint64_t c) { return (uint32_t)a & 0x7fffffffu; }
static uint64_t r_neg_f32(uint64_t a, uint64_t b, uint64_t c) { return ((uint32_t)a ^ 0x80000000u); }
static uint64_t r_copysign(uint64_t a, uint64_t b, uint64_t c)
{
    return ((uint32_t)b & 0x7fffffffu) | ((uint32_t)a & 0x80000000u);
}
static uint64_t r_testp_normal(uint64_t a, uint64_t b, uint64_t c)
{
    return fpclassify(f32_of_bits((uint32_t)a)) == FP_NORMAL ? 1 : 0;
}
static uint64_t r_testp_nan(uint64_t a, uint64_t b, uint64_t c) { return f32v(a) != f32v(a); }

static void test_float_misc(void **state)
{
    static const struct {
        const char *insn;
        int out;
        RefFn ref;
    } cases[] = {
        {"min.f32 %f4, %f1, %f2;", OUT_F, r_min_f32},
        {"max.NaN.f32 %f4, %f1, %f2;", OUT_F, r_max_nan_f32},
        {"max.ftz.f32 %f4, %f1, %f2;", OUT_F, r_max_ftz_f32},
        {"setp.lt.ftz.f32 %p0|%p4, %f1, %f2;", OUT_P, r_setp_lt_ftz},
        {"abs.f32 %f4, %f1;", OUT_F, r_abs_f32},
        {"neg.f32 %f4, %f1;", OUT_F, r_neg_f32},
        {"copysign.f32 %f4, %f1, %f2;", OUT_F, r_copysign},
        {"testp.normal.f32 %p0, %f1;", OUT_P, r_testp_normal},
        {"testp.notanumber.f32 %p0, %f1;", OUT_P, r_testp_nan},
    };
    uint64_t (*in)[3] = calloc(MAXCASES, sizeof *in);
    int n = gen_floats(in);
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++)
        check(cases[i].insn, cases[i].out, cases[i].ref, NULL, in, n);
    free(in);
}

/* ---- half precision ---------------------------------------------------------------- */

static uint16_t f16_bits(_Float16 h)
{
    uint16_t v;
    memcpy(&v, &h, 2);
    return v;
}
static _Float16 f16_of(uint64_t v)
{
    uint16_t b = (uint16_t)v;
    _Float16 h;
    memcpy(&h, &b, 2);
    return h;
}
static uint16_t canon16(uint16_t v) { return ((v & 0x7c00) == 0x7c00 && (v & 0x3ff)) ? 0x7fff : v; }

/* bf16 round-to-nearest-even of a float, the well-known way */
static uint16_t bf16_rn(float f)
{
    uint32_t u = bits_of_f32(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return 0x7fff;
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}
static float bf16v(uint64_t v) { return f32_of_bits((uint32_t)(v & 0xffff) << 16); }

static uint16_t half_op(int op, uint64_t a, uint64_t b, uint64_t c, bool bf)
{
    if (bf) {
        float x = bf16v(a), y = bf16v(b), z = bf16v(c);
        float r = op == FADD ? x + y : op == FMUL ? x * y : op == FSUB ? x - y
                                                           : (float)fma((double)x, y, z);
        return bf16_rn(r);
    }
    _Float16 x = f16_of(a), y = f16_of(b), z = f16_of(c);
    _Float16 r = op == FADD ? x + y : op == FMUL ? x * y : op == FSUB ? x - y
                 : (_Float16)((long double)x * (long double)y + (long double)z);
    return canon16(f16_bits(r));
}

static bool cur_bf;
static uint64_t ref_half(uint64_t a, uint64_t b, uint64_t c)
{
    return half_op(cur.op, a, b, c, cur_bf);
}
static uint64_t ref_half2(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t lo = half_op(cur.op, a & 0xffff, b & 0xffff, c & 0xffff, cur_bf);
    uint64_t hi = half_op(cur.op, (a >> 16) & 0xffff, (b >> 16) & 0xffff, (c >> 16) & 0xffff, cur_bf);
    return hi << 16 | lo;
}

static int cur_mm;

static uint16_t minmax_half(uint16_t a, uint16_t b)
{
    double x = cur_bf ? (double)bf16v(a) : (double)f16_of(a);
    double y = cur_bf ? (double)bf16v(b) : (double)f16_of(b);
    switch (cur_mm) {
    case 3: return a ^ 0x8000;
    case 4: return a & 0x7fff;
    case 2:
        if (x != x || y != y)
            return 0x7fff;
        break;
    default:
        if (x != x && y != y)
            return 0x7fff;
        if (x != x)
            return b;
        if (y != y)
            return a;
        break;
    }
    if (x == y) /* -0 orders below +0 */
        return (cur_mm == 0) == ((a & 0x8000) != 0) ? a : b;
    return (cur_mm == 0) == (x < y) ? a : b;
}

static uint64_t ref_minmax_half2(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)minmax_half((uint16_t)(a >> 16), (uint16_t)(b >> 16)) << 16 |
           minmax_half((uint16_t)a, (uint16_t)b);
}

static void test_half_arith(void **state)
{
    uint64_t (*in)[3] = calloc(MAXCASES, sizeof *in);
    EtRng r = {16};
    static const uint16_t sp[] = {0, 0x8000, 0x3c00, 0xbc00, 0x7c00, 0xfc00, 0x7e00, 1, 0x3ff,
                                  0x400, 0x7bff, 0x3555, 0x0200, 0xc000};
    int n = 0;
    for (size_t i = 0; i < TSR_ARRAY_LEN(sp); i++)
        for (size_t j = 0; j < TSR_ARRAY_LEN(sp); j++, n++) {
            in[n][0] = sp[i] | (uint64_t)sp[j] << 16;
            in[n][1] = sp[j] | (uint64_t)sp[i] << 16;
            in[n][2] = sp[(i + j) % TSR_ARRAY_LEN(sp)] * 0x10001ull;
        }
    for (; n < 700; n++)
        for (int k = 0; k < 3; k++)
            in[n][k] = et_rand(&r) & 0xffffffff;
    static const char *ops[] = {"add", "sub", "mul", "fma.rn"};
    for (int bf = 0; bf < 2; bf++)
        for (int op = 0; op < 4; op++) {
            cur.op = op;
            cur_bf = bf;
            int m = n;
            if (bf && op == FFMA) { /* keep bf16 exponents moderate: the reference is then exact */
                m = 0;
                for (int k = 0; k < n; k++) {
                    uint64_t e = (in[k][0] >> 7) & 0xff;
                    if (e > 100 && e < 150)
                        m++;
                }
                (void)m;
                m = n;
            }
            char insn[128];
            const char *t = bf ? "bf16" : "f16";
            const char *srcs2 = op == FFMA ? "%h1, %h2, %h3" : "%h1, %h2";
            const char *srcs = op == FFMA ? "%r1, %r2, %r3" : "%r1, %r2";
            if (bf && op == FFMA)
                continue; /* checked below on moderate values */
            snprintf(insn, sizeof insn, "%s.%s %%h4, %s;", ops[op], t, srcs2);
            check(insn, OUT_H, ref_half, NULL, in, n);
            snprintf(insn, sizeof insn, "%s.%sx2 %%r4, %s;", ops[op], t, srcs);
            check(insn, OUT_R, ref_half2, NULL, in, n);
        }
    /* min/max (NaN-aware), neg and abs, on both halves */
    static const struct {
        const char *insn;
        int op; /* 0 min, 1 max, 2 max.NaN, 3 neg, 4 abs */
    } mm[] = {{"min.f16x2 %r4, %r1, %r2;", 0},  {"max.f16x2 %r4, %r1, %r2;", 1},
              {"max.NaN.bf16x2 %r4, %r1, %r2;", 2}, {"neg.bf16x2 %r4, %r1;", 3},
              {"abs.f16x2 %r4, %r1;", 4}};
    for (size_t i = 0; i < TSR_ARRAY_LEN(mm); i++) {
        cur_mm = mm[i].op;
        cur_bf = strstr(mm[i].insn, "bf16") != NULL;
        check(mm[i].insn, OUT_R, ref_minmax_half2, NULL, in, n);
    }
    /* bf16 fma on values whose exact result fits a double */
    int m = 0;
    for (int k = 0; k < 300; k++, m++)
        for (int j = 0; j < 3; j++)
            in[m][j] = bf16_rn(et_randf(&r, -50, 50)) | (uint64_t)bf16_rn(et_randf(&r, -3, 3)) << 16;
    cur.op = FFMA;
    cur_bf = true;
    check("fma.rn.bf16x2 %r4, %r1, %r2, %r3;", OUT_R, ref_half2, NULL, in, m);
    free(in);
}

/* ---- conversions ------------------------------------------------------------------- */

/* The f16 values in increasing order, for directed-rounding references. */
static double f16_sorted[63490];
static int f16_count;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void f16_table(void)
{
    if (f16_count)
        return;
    for (uint32_t v = 0; v < 0x10000; v++) {
        if ((v & 0x7c00) == 0x7c00 || v == 0x8000)
            continue;
        f16_sorted[f16_count++] = (double)f16_of(v);
    }
    qsort(f16_sorted, (size_t)f16_count, sizeof(double), cmp_double);
}

/* f32 -> f16 rounded toward zero / -inf / +inf, by searching the neighbours. */
static uint16_t f16_directed(float f, char rnd)
{
    double x = f;
    if (x != x)
        return 0x7fff;
    int lo = 0, hi = f16_count - 1;
    if (x > f16_sorted[hi] || x < f16_sorted[0]) {
        bool pos = x > 0;
        bool to_inf = rnd == 'p' ? pos : rnd == 'm' ? !pos : false;
        if (isinf(x))
            to_inf = true;
        return pos ? (to_inf ? 0x7c00 : 0x7bff) : (to_inf ? 0xfc00 : 0xfbff);
    }
    while (hi - lo > 1) { /* f16_sorted[lo] <= x <= f16_sorted[hi] */
        int mid = (lo + hi) / 2;
        if (f16_sorted[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    double below = f16_sorted[lo], above = f16_sorted[hi];
    double r = x == below ? below : x == above ? above
               : rnd == 'm' ? below : rnd == 'p' ? above : (x > 0 ? below : above);
    _Float16 h = (_Float16)r;
    uint16_t bits = f16_bits(h);
    if (r == 0 && signbit(x))
        bits = 0x8000;
    return bits;
}

typedef struct {
    const char *insn;
    int out;
    RefFn ref;
} CvtCase;

static uint64_t r_cvt_f16_rn(uint64_t a, uint64_t b, uint64_t c)
{
    return canon16(f16_bits((_Float16)f32v(a)));
}
static uint64_t r_cvt_f16_rz(uint64_t a, uint64_t b, uint64_t c) { return f16_directed((float)f32v(a), 'z'); }
static uint64_t r_cvt_f16_rm(uint64_t a, uint64_t b, uint64_t c) { return f16_directed((float)f32v(a), 'm'); }
static uint64_t r_cvt_f16_rp(uint64_t a, uint64_t b, uint64_t c) { return f16_directed((float)f32v(a), 'p'); }
static uint64_t r_cvt_f32_f16(uint64_t a, uint64_t b, uint64_t c)
{
    float f = (float)f16_of(a);
    return f != f ? 0x7fffffff : bits_of_f32(f);
}
static uint64_t r_cvt_f16x2(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)canon16(f16_bits((_Float16)f32v(a))) << 16 |
           canon16(f16_bits((_Float16)f32v(b)));
}
static uint64_t r_cvt_bf16_rn(uint64_t a, uint64_t b, uint64_t c) { return bf16_rn((float)f32v(a)); }
static uint64_t r_cvt_bf16x2(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)bf16_rn((float)f32v(a)) << 16 | bf16_rn((float)f32v(b));
}
static uint64_t r_cvt_f32_bf16(uint64_t a, uint64_t b, uint64_t c)
{
    float f = bf16v(a);
    return f != f ? 0x7fffffff : bits_of_f32(f);
}
static uint64_t r_cvt_tf32(uint64_t a, uint64_t b, uint64_t c)
{
    uint32_t u = (uint32_t)a;
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return 0x7fffffff;
    if ((u & 0x7f800000u) == 0x7f800000u)
        return u;
    return (u + 0x1000u) & 0xffffe000u; /* ties away from zero on the magnitude */
}
/* float -> integer: round, saturate, NaN -> 0 */
static int64_t sat_round(double x, char mode, double lo, double hi)
{
    if (x != x)
        return 0;
    x = mode == 'z' ? trunc(x) : mode == 'm' ? floor(x) : mode == 'p' ? ceil(x) : nearbyint(x);
    if (x <= lo)
        return (int64_t)lo;
    if (x >= hi)
        return hi >= 0x1p63 ? INT64_MAX : (int64_t)hi;
    return (int64_t)x;
}
static uint64_t r_cvt_rni_s32(uint64_t a, uint64_t b, uint64_t c)
{
    return U32(sat_round(f32v(a), 'n', INT32_MIN, INT32_MAX));
}
static uint64_t r_cvt_rzi_u32(uint64_t a, uint64_t b, uint64_t c)
{
    return U32(sat_round(f32v(a), 'z', 0, UINT32_MAX));
}
static uint64_t r_cvt_rmi_s64_f64(uint64_t a, uint64_t b, uint64_t c)
{
    double x = f64_of_bits(a);
    if (x != x)
        return 0;
    x = floor(x);
    if (x >= 0x1p63)
        return INT64_MAX;
    if (x < -0x1p63)
        return (uint64_t)INT64_MIN;
    return (uint64_t)(int64_t)x;
}
static uint64_t r_cvt_rpi_s16(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)(uint16_t)sat_round(f32v(a), 'p', INT16_MIN, INT16_MAX);
}
static float host_cvt_i2f(int64_t v, char rnd, bool is_unsigned)
{
    fesetround(fe_mode(rnd));
    volatile int64_t x = v;
    volatile uint64_t ux = (uint64_t)v;
    volatile float r = is_unsigned ? (float)ux : (float)x;
    fesetround(FE_TONEAREST);
    return r;
}
static uint64_t r_cvt_rz_f32_s32(uint64_t a, uint64_t b, uint64_t c)
{
    return bits_of_f32(host_cvt_i2f(S32(a), 'z', false));
}
static uint64_t r_cvt_rm_f32_s64(uint64_t a, uint64_t b, uint64_t c)
{
    return bits_of_f32(host_cvt_i2f(S64(a), 'm', false));
}
static uint64_t r_cvt_rp_f32_u64(uint64_t a, uint64_t b, uint64_t c)
{
    return bits_of_f32(host_cvt_i2f((int64_t)a, 'p', true));
}
static uint64_t r_cvt_rn_f64_s64(uint64_t a, uint64_t b, uint64_t c)
{
    return bits_of_f64((double)S64(a));
}
static uint64_t r_cvt_rz_f32_f64(uint64_t a, uint64_t b, uint64_t c)
{
    fesetround(FE_TOWARDZERO);
    volatile double x = f64_of_bits(a);
    volatile float r = (float)x;
    fesetround(FE_TONEAREST);
    return r != r ? 0x7fffffff : bits_of_f32(r);
}
static uint64_t r_cvt_f64_f32(uint64_t a, uint64_t b, uint64_t c)
{
    double d = f32v(a);
    return d != d ? 0x7fffffffffffffffull : bits_of_f64(d);
}
static uint64_t r_cvt_s32_s16(uint64_t a, uint64_t b, uint64_t c) { return U32((int16_t)a); }
static uint64_t r_cvt_u16_u32(uint64_t a, uint64_t b, uint64_t c) { return a & 0xffff; }
static uint64_t r_cvt_sat_u8_s32(uint64_t a, uint64_t b, uint64_t c)
{
    int32_t v = S32(a);
    return (uint64_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}
static uint64_t r_cvt_sat_s16_u32(uint64_t a, uint64_t b, uint64_t c)
{
    uint32_t v = (uint32_t)a;
    return v > 32767 ? 32767 : v;
}
static uint64_t r_cvt_s64_s32(uint64_t a, uint64_t b, uint64_t c) { return (uint64_t)(int64_t)S32(a); }
static uint64_t r_cvt_rni_f32(uint64_t a, uint64_t b, uint64_t c)
{
    float f = (float)f32v(a);
    if (f != f)
        return 0x7fffffff;
    return bits_of_f32(nearbyintf(f));
}
static uint64_t r_cvt_sat_f32(uint64_t a, uint64_t b, uint64_t c)
{
    float f = (float)f32v(a);
    return f != f || f <= 0 ? 0 : f >= 1 ? 0x3f800000u : (uint32_t)a;
}
static uint64_t r_cvt_relu_f16(uint64_t a, uint64_t b, uint64_t c)
{
    uint16_t h = canon16(f16_bits((_Float16)f32v(a)));
    return (h & 0x8000) && h != 0x7fff ? 0 : h;
}

static void test_conversions(void **state)
{
    static const CvtCase cases[] = {
        {"cvt.rn.f16.f32 %h4, %f1;", OUT_H, r_cvt_f16_rn},
        {"cvt.rz.f16.f32 %h4, %f1;", OUT_H, r_cvt_f16_rz},
        {"cvt.rm.f16.f32 %h4, %f1;", OUT_H, r_cvt_f16_rm},
        {"cvt.rp.f16.f32 %h4, %f1;", OUT_H, r_cvt_f16_rp},
        {"cvt.f32.f16 %f4, %h1;", OUT_F, r_cvt_f32_f16},
        {"cvt.rn.f16x2.f32 %r4, %f1, %f2;", OUT_R, r_cvt_f16x2},
        {"cvt.rn.bf16.f32 %h4, %f1;", OUT_H, r_cvt_bf16_rn},
        {"cvt.rn.bf16x2.f32 %r4, %f1, %f2;", OUT_R, r_cvt_bf16x2},
        {"cvt.f32.bf16 %f4, %h1;", OUT_F, r_cvt_f32_bf16},
        {"cvt.rna.tf32.f32 %r4, %f1;", OUT_R, r_cvt_tf32},
        {"cvt.rni.s32.f32 %r4, %f1;", OUT_R, r_cvt_rni_s32},
        {"cvt.rzi.u32.f32 %r4, %f1;", OUT_R, r_cvt_rzi_u32},
        {"cvt.rmi.s64.f64 %rd4, %fd1;", OUT_RD, r_cvt_rmi_s64_f64},
        {"cvt.rpi.s16.f32 %h4, %f1;", OUT_H, r_cvt_rpi_s16},
        {"cvt.rz.f32.s32 %f4, %r1;", OUT_F, r_cvt_rz_f32_s32},
        {"cvt.rm.f32.s64 %f4, %rd1;", OUT_F, r_cvt_rm_f32_s64},
        {"cvt.rp.f32.u64 %f4, %rd1;", OUT_F, r_cvt_rp_f32_u64},
        {"cvt.rn.f64.s64 %fd4, %rd1;", OUT_FD, r_cvt_rn_f64_s64},
        {"cvt.rz.f32.f64 %f4, %fd1;", OUT_F, r_cvt_rz_f32_f64},
        {"cvt.f64.f32 %fd4, %f1;", OUT_FD, r_cvt_f64_f32},
        {"cvt.s32.s16 %r4, %h1;", OUT_R, r_cvt_s32_s16},
        {"cvt.u16.u32 %h4, %r1;", OUT_H, r_cvt_u16_u32},
        {"cvt.sat.u8.s32 %h4, %r1;", OUT_H, r_cvt_sat_u8_s32},
        {"cvt.sat.s16.u32 %h4, %r1;", OUT_H, r_cvt_sat_s16_u32},
        {"cvt.s64.s32 %rd4, %r1;", OUT_RD, r_cvt_s64_s32},
        {"cvt.rni.f32.f32 %f4, %f1;", OUT_F, r_cvt_rni_f32},
        {"cvt.sat.f32.f32 %f4, %f1;", OUT_F, r_cvt_sat_f32},
        {"cvt.rn.relu.f16.f32 %h4, %f1;", OUT_H, r_cvt_relu_f16},
    };
    f16_table();
    uint64_t (*in)[3] = calloc(MAXCASES, sizeof *in);
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        const char *s = cases[i].insn;
        int n;
        if (strstr(s, ".f64 %fd4, %rd") || strstr(s, "%rd1;") || strstr(s, ".s32 %r4, %h") ||
            strstr(s, "%r1;")) {
            n = gen_ints(in, strstr(s, "%rd1") != NULL, ~0ull);
        } else if (strstr(s, "%fd1")) {
            n = gen_doubles(in);
        } else if (strstr(s, "%h1")) {
            n = 0;
            for (uint32_t v = 0; v < 0x10000; v += 97, n++)
                in[n][0] = v;
            in[n++][0] = 0x7c00;
            in[n++][0] = 0xfc00;
            in[n++][0] = 0x7fff;
            in[n++][0] = 0x0001;
        } else {
            n = gen_floats(in);
            for (int k = 0; k < n; k += 2) /* values near the f16 range and its ties */
                in[k][0] = bits_of_f32((float)ldexp(1.0 + (double)(k % 2048) / 2048.0 +
                                                        (k % 3) * 0x1p-12, (k % 50) - 28) *
                                       (k % 4 ? 1 : -1));
        }
        check(s, cases[i].out, cases[i].ref, NULL, in, n);
    }
    free(in);
}

/* ---- comparisons and selection ---------------------------------------------------- */

static int cur_cmp;
static const char *const cmp_names[] = {"eq", "ne", "lt", "le", "gt", "ge", "lo", "ls", "hi",
                                        "hs", "equ", "neu", "ltu", "leu", "gtu", "geu", "num",
                                        "nan"};

static bool cmp_float(int cmp, double x, double y)
{
    bool un = x != x || y != y;
    switch (cmp) {
    case 0: return !un && x == y;
    case 1: return !un && x != y;
    case 2: return !un && x < y;
    case 3: return !un && x <= y;
    case 4: return !un && x > y;
    case 5: return !un && x >= y;
    case 10: return un || x == y;
    case 11: return un || x != y;
    case 12: return un || x < y;
    case 13: return un || x <= y;
    case 14: return un || x > y;
    case 15: return un || x >= y;
    case 16: return !un;
    default: return un;
    }
}

static bool cmp_int(int cmp, int64_t x, int64_t y, bool sgn)
{
    uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    switch (cmp) {
    case 0: return x == y;
    case 1: return x != y;
    case 2: return sgn ? x < y : ux < uy;
    case 3: return sgn ? x <= y : ux <= uy;
    case 4: return sgn ? x > y : ux > uy;
    case 5: return sgn ? x >= y : ux >= uy;
    case 6: return ux < uy;
    case 7: return ux <= uy;
    case 8: return ux > uy;
    default: return ux >= uy;
    }
}

/* p = t, q = !t */
static uint64_t r_setp_f32(uint64_t a, uint64_t b, uint64_t c)
{
    bool t = cmp_float(cur_cmp, f32v(a), f32v(b));
    return (uint64_t)t | (uint64_t)!t << 1;
}
static uint64_t r_setp_s32(uint64_t a, uint64_t b, uint64_t c)
{
    bool t = cmp_int(cur_cmp, S32(a), S32(b), true);
    return (uint64_t)t | (uint64_t)!t << 1;
}
static uint64_t r_setp_u64_and(uint64_t a, uint64_t b, uint64_t c)
{
    bool t = cmp_int(cur_cmp, (int64_t)a, (int64_t)b, false), p3 = c != 0;
    return (uint64_t)(t && p3) | (uint64_t)(!t && p3) << 1;
}
static uint64_t r_setp_u64_or_not(uint64_t a, uint64_t b, uint64_t c)
{
    bool t = cmp_int(cur_cmp, (int64_t)a, (int64_t)b, false), np3 = c == 0;
    return (uint64_t)(t || np3) | (uint64_t)(!t || np3) << 1;
}
static uint64_t r_setp_f16x2(uint64_t a, uint64_t b, uint64_t c)
{
    bool lo = cmp_float(cur_cmp, (double)f16_of(a), (double)f16_of(b));
    bool hi = cmp_float(cur_cmp, (double)f16_of(a >> 16), (double)f16_of(b >> 16));
    return (uint64_t)lo | (uint64_t)hi << 1;
}
static uint64_t r_set_f32(uint64_t a, uint64_t b, uint64_t c)
{
    return cmp_float(cur_cmp, f32v(a), f32v(b)) ? 0x3f800000u : 0;
}
static uint64_t r_selp(uint64_t a, uint64_t b, uint64_t c) { return c ? a : b; }
static uint64_t r_slct(uint64_t a, uint64_t b, uint64_t c) { return S32(c) >= 0 ? U32(a) : U32(b); }

static void test_compare_select(void **state)
{
    uint64_t (*in)[3] = calloc(MAXCASES, sizeof *in);
    char insn[160];
    for (int cmp = 0; cmp < 18; cmp++) {
        cur_cmp = cmp;
        bool fl = cmp < 6 || cmp >= 10, in_ = cmp < 10;
        if (fl) {
            int n = gen_floats(in);
            snprintf(insn, sizeof insn, "setp.%s.f32 %%p0|%%p4, %%f1, %%f2;", cmp_names[cmp]);
            check(insn, OUT_P, r_setp_f32, NULL, in, n);
            snprintf(insn, sizeof insn, "set.%s.f32.f32 %%f4, %%f1, %%f2;", cmp_names[cmp]);
            check(insn, OUT_F, r_set_f32, NULL, in, n);
            for (int k = 0; k < n; k++) {
                in[k][0] = (in[k][0] & 0xffff) | (in[k][1] & 0xffff0000);
                in[k][1] = (in[k][1] & 0xffff) | (in[k][0] & 0xffff) << 16;
            }
            snprintf(insn, sizeof insn, "setp.%s.f16x2 %%p0|%%p4, %%r1, %%r2;", cmp_names[cmp]);
            check(insn, OUT_P, r_setp_f16x2, NULL, in, n);
        }
        if (in_) {
            int n = gen_ints(in, false, 1);
            if (cmp < 6) {
                snprintf(insn, sizeof insn, "setp.%s.s32 %%p0|%%p4, %%r1, %%r2;", cmp_names[cmp]);
                check(insn, OUT_P, r_setp_s32, NULL, in, n);
            }
            n = gen_ints(in, true, 1);
            snprintf(insn, sizeof insn, "setp.%s.and.u64 %%p0|%%p4, %%rd1, %%rd2, %%p3;",
                     cmp_names[cmp]);
            check(insn, OUT_P, r_setp_u64_and, NULL, in, n);
            snprintf(insn, sizeof insn, "setp.%s.or.u64 %%p0|%%p4, %%rd1, %%rd2, !%%p3;",
                     cmp_names[cmp]);
            check(insn, OUT_P, r_setp_u64_or_not, NULL, in, n);
        }
    }
    int n = gen_ints(in, false, 1);
    check("selp.b32 %r4, %r1, %r2, %p3;", OUT_R, r_selp, NULL, in, n);
    n = gen_ints(in, false, ~0ull);
    check("slct.u32.s32 %r4, %r1, %r2, %r3;", OUT_R, r_slct, NULL, in, n);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_ops),    cmocka_unit_test(test_prmt_modes),
        cmocka_unit_test(test_float_rounding), cmocka_unit_test(test_float_approx),
        cmocka_unit_test(test_float_misc),     cmocka_unit_test(test_half_arith),
        cmocka_unit_test(test_conversions),    cmocka_unit_test(test_compare_select),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
