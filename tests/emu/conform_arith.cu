// Conformance kernels for the emulator: arithmetic and conversions. Each
// thread applies every operation of conform_ops.h to its inputs; the test
// (tests/test_emu_nvcc.c) computes the same on the host. Compiled with
// nvcc -ptx for sm_80 and sm_90 at test time.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "conform_ops.h"

extern "C" __global__ void int_ops(const uint32_t *a, const uint32_t *b, uint32_t *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    for (int k = 0; k < N_INT32_OPS; k++)
        out[i * N_INT32_OPS + k] = int32_op(k, a[i], b[i]);
}

extern "C" __global__ void int64_ops(const uint64_t *a, const uint64_t *b, uint64_t *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        for (int k = 0; k < N_INT64_OPS; k++)
            out[i * N_INT64_OPS + k] = int64_op(k, a[i], b[i]);
}

extern "C" __global__ void f32_ops(const float *a, const float *b, const float *c, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        for (int k = 0; k < N_F32_OPS; k++)
            out[i * N_F32_OPS + k] = f32_op(k, a[i], b[i], c[i]);
}

extern "C" __global__ void f64_ops(const double *a, const double *b, const double *c, double *out,
                                   int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        for (int k = 0; k < N_F64_OPS; k++)
            out[i * N_F64_OPS + k] = f64_op(k, a[i], b[i], c[i]);
}

extern "C" __global__ void libm_ops(const float *a, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        for (int k = 0; k < N_LIBM_OPS; k++)
            out[i * N_LIBM_OPS + k] = libm_op(k, a[i]);
}

// Half precision: conversions and packed arithmetic through the CUDA
// intrinsics (cvt.rn.f16.f32, cvt.rn.f16x2.f32, add/mul/fma .f16x2,
// .bf16x2, cvt.f32.f16).
extern "C" __global__ void half_ops(const float *a, const float *b, uint32_t *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    __half2 x = __floats2half2_rn(a[i], b[i]);
    __half2 y = __floats2half2_rn(b[i], 0.5f);
    __half2 s = __hadd2(x, y), p = __hmul2(x, y), f = __hfma2(x, y, s);
    __nv_bfloat162 bx = __floats2bfloat162_rn(a[i], b[i]);
    __nv_bfloat162 by = __floats2bfloat162_rn(b[i], -2.0f);
    __nv_bfloat162 bf = __hfma2(bx, by, bx);
    uint32_t *o = out + i * 8;
    o[0] = *(uint32_t *)&x;
    o[1] = *(uint32_t *)&s;
    o[2] = *(uint32_t *)&p;
    o[3] = *(uint32_t *)&f;
    o[4] = *(uint32_t *)&bx;
    o[5] = *(uint32_t *)&bf;
    float back = __half2float(__low2half(f)) + __bfloat162float(__high2bfloat16(bf));
    o[6] = __float_as_uint(back);
    o[7] = (uint32_t)__half_as_ushort(__float2half_rz(a[i])) |
           (uint32_t)__half_as_ushort(__hmax(__low2half(x), __high2half(x))) << 16;
}

// Conversions between floats and integers of every size.
extern "C" __global__ void cvt_ops(const float *a, const double *d, uint32_t *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    uint32_t *o = out + i * 10;
    o[0] = (uint32_t)__float2int_rn(a[i]);
    o[1] = (uint32_t)__float2int_rd(a[i]);
    o[2] = __float2uint_ru(a[i]);
    o[3] = (uint32_t)(int8_t)__float2int_rz(a[i]);
    o[4] = __float_as_uint(__int2float_rz((int)(d[i] * 1e3)));
    o[5] = __float_as_uint(__ll2float_rn((long long)(d[i] * 1e15)));
    o[6] = __float_as_uint(__double2float_rd(d[i]));
    o[7] = (uint32_t)__double2ll_rn(d[i] * 1e10);
    o[8] = (uint32_t)(__double2ll_rn(d[i] * 1e10) >> 32);
    o[9] = (uint32_t)(uint16_t)(short)(int)d[i];
}
