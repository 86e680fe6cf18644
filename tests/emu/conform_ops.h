/* Per-element operations for the emulator's conformance kernels: compiled by
 * nvcc into the kernels (tests/emu/conform_*.cu) and by the host C compiler
 * into the test (tests/test_emu_nvcc.c), so that the emulator's result and
 * the host's come from the same source. On the host, the CUDA integer
 * intrinsics are defined here from their documented meaning. One operation
 * per case, so that nvcc has nothing to contract into an fma. */
#ifndef TSR_CONFORM_OPS_H
#define TSR_CONFORM_OPS_H

#ifdef __CUDACC__
#define CF __host__ __device__ inline
#include <stdint.h>
#else
#define CF static inline
#include <math.h>
#include <stdint.h>

static inline int __popc(unsigned x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
static inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline unsigned __brev(unsigned x)
{
    unsigned r = 0;
    for (int i = 0; i < 32; i++)
        r |= ((x >> i) & 1u) << (31 - i);
    return r;
}
static inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s)
{
    unsigned long long t = (unsigned long long)y << 32 | x;
    unsigned r = 0;
    for (int i = 0; i < 4; i++)
        r |= (unsigned)((t >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
    return r;
}
static inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
static inline unsigned __umulhi(unsigned a, unsigned b)
{
    return (unsigned)(((unsigned long long)a * b) >> 32);
}
static inline long long __mul64hi(long long a, long long b)
{
    return (long long)(((__int128)a * b) >> 64);
}
static inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned s)
{
    return (unsigned)((((unsigned long long)hi << 32 | lo) << (s & 31)) >> 32);
}
static inline unsigned __funnelshift_rc(unsigned lo, unsigned hi, unsigned s)
{
    return (unsigned)(((unsigned long long)hi << 32 | lo) >> (s > 32 ? 32 : s));
}
static inline unsigned __sad(int a, int b, unsigned c)
{
    return c + (unsigned)(a > b ? (long long)a - b : (long long)b - a);
}
#endif

enum { N_INT32_OPS = 26, N_INT64_OPS = 10, N_F32_OPS = 20, N_F64_OPS = 8 };

CF uint32_t int32_op(int k, uint32_t a, uint32_t b)
{
    int32_t sa = (int32_t)a, sb = (int32_t)b;
    uint32_t nz = b | 1u; /* a divisor that is never 0 */
    switch (k) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return (uint32_t)__mulhi(sa, sb);
    case 4: return __umulhi(a, b);
    case 5: return a / nz;
    case 6: return a % nz;
    case 7: return (int32_t)nz == -1 ? 0u : (uint32_t)(sa / (int32_t)nz);
    case 8: return (int32_t)nz == -1 ? 0u : (uint32_t)(sa % (int32_t)nz);
    case 9: return a << (b & 31);
    case 10: return a >> (b & 31);
    case 11: return (uint32_t)(sa >> (b & 31));
    case 12: return (a & b) ^ (~a | b);
    case 13: return sa < sb ? a : b;
    case 14: return a > b ? a : b;
    case 15: return (uint32_t)(sa < 0 ? -(int64_t)sa : sa);
    case 16: return (uint32_t)__popc(a);
    case 17: return (uint32_t)__clz(sa);
    case 18: return __brev(a);
    case 19: return __byte_perm(a, b, 0x5140);
    case 20: return __funnelshift_l(a, b, b);
    case 21: return __funnelshift_rc(a, b, b & 63);
    case 22: return (uint32_t)__ffs(sa);
    case 23: return (a >> 3) & 0x1f;            /* a bit-field extraction */
    case 24: return (a & ~0xff0u) | ((b << 4) & 0xff0u); /* a bit-field insertion */
    default: return __sad(sa, sb, 7);
    }
}

CF uint64_t int64_op(int k, uint64_t a, uint64_t b)
{
    int64_t sa = (int64_t)a, sb = (int64_t)b;
    uint64_t nz = b | 1u;
    switch (k) {
    case 0: return a + b;
    case 1: return a * b;
    case 2: return (uint64_t)__mul64hi(sa, sb);
    case 3: return a / nz;
    case 4: return (int64_t)nz == -1 ? 0u : (uint64_t)(sa % (int64_t)nz);
    case 5: return a << (b & 63);
    case 6: return (uint64_t)(sa >> (b & 63));
    case 7: return (uint64_t)__popcll(a) + ((uint64_t)__clzll(sa) << 8);
    case 8: return sa < sb ? a : b;
    default: return (uint64_t)(int64_t)(int32_t)a * (uint64_t)(int64_t)(int32_t)b; /* widening */
    }
}

/* Operations with one correctly rounded result (IEEE or exact). */
CF float f32_op(int k, float a, float b, float c)
{
    switch (k) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return sqrtf(a);
    case 5: return fmaf(a, b, c);
    case 6: return fminf(a, b);
    case 7: return fmaxf(a, b);
    case 8: return fabsf(a);
    case 9: return floorf(a);
    case 10: return ceilf(a);
    case 11: return truncf(a);
    case 12: return rintf(a);
    case 13: return roundf(a);
    case 14: return copysignf(a, b);
    case 15: return -a;
    case 16: return (float)(int)fminf(fmaxf(a, -1e9f), 1e9f);
    case 17: return (float)(unsigned)(b > 0 && b < 4e9f ? b : 7.0f);
    case 18: return (float)(double)a;
    default: return 1.0f / a;
    }
}

CF double f64_op(int k, double a, double b, double c)
{
    switch (k) {
    case 0: return a + b;
    case 1: return a * b;
    case 2: return a / b;
    case 3: return sqrt(a);
    case 4: return fma(a, b, c);
    case 5: return floor(a);
    case 6: return (double)(float)a;
    default: return (double)(long long)fmin(fmax(a, -1e18), 1e18);
    }
}

/* Library functions: the GPU's and the host's implementations differ in the
 * last bits; the test allows a few ulp. */
enum { N_LIBM_OPS = 12 };
CF float libm_op(int k, float a)
{
    switch (k) {
    case 0: return expf(a);
    case 1: return logf(fabsf(a) + 1e-3f);
    case 2: return sinf(a);
    case 3: return cosf(a);
    case 4: return tanhf(a);
    case 5: return exp2f(a);
    case 6: return log2f(fabsf(a) + 1e-3f);
    case 7: return powf(fabsf(a), 0.75f);
    case 8: return atanf(a);
    case 9: return erff(a);
    case 10: return (float)exp((double)a);
    default: return (float)sin((double)a * 3.0); /* nvcc calls a .func for large arguments */
    }
}

/* Control flow that diverges per lane. */
CF uint32_t collatz_steps(uint32_t x)
{
    uint32_t n = 0;
    x = x % 1000 + 1;
    while (x != 1) {
        if (x & 1)
            x = 3 * x + 1;
        else
            x /= 2;
        n++;
        if (n > 500)
            break;
    }
    return n;
}

CF int nested_branches(int a, int b)
{
    int r = 0;
    for (int i = 0; i < (a & 7); i++) {
        if ((a >> i) & 1) {
            if (b > i)
                r += i * b;
            else
                r -= i;
            if (r > 1000)
                break;
        } else if (b & 1) {
            r ^= b;
            continue;
        }
        r += 3;
    }
    return r;
}

#endif
