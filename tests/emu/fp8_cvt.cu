// fp8 conversions as CUDA's own header writes them (cuda_fp8.h, device
// path: cvt.rn.satfinite.{e4m3x2,e5m2x2}.f32 and cvt.rn.f16x2.{e4m3x2,e5m2x2}),
// compiled by test_fp8 with nvcc -ptx -arch=sm_89 and run on the emulator:
// an oracle for the conversions that Tessera's compiler did not write.
#include <cuda_fp8.h>

// to[i] = fp8 code of x[i]; half_bits[i] = f16 bits of code c[i]. kind:
// 0 e4m3, 1 e5m2. n is even.
extern "C" __global__ void fp8_cvt(const float *x, const unsigned char *c, unsigned char *to,
                                   unsigned short *half_bits, int n, int kind)
{
    int i = 2 * (blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n)
        return;
    __nv_fp8_interpretation_t k = kind ? __NV_E5M2 : __NV_E4M3;
    float2 f = make_float2(x[i], x[i + 1]);
    __nv_fp8x2_storage_t p = __nv_cvt_float2_to_fp8x2(f, __NV_SATFINITE, k);
    to[i] = (unsigned char)(p & 0xff);
    to[i + 1] = (unsigned char)(p >> 8);
    __nv_fp8x2_storage_t q = (__nv_fp8x2_storage_t)(c[i] | (c[i + 1] << 8));
    __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(q, k);
    half_bits[i] = h.x;
    half_bits[i + 1] = h.y;
}
