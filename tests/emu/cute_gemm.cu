// GMMA GEMMs written with CUTLASS's CuTe (headers from PyPI nvidia-cutlass),
// compiled by nvcc -arch=sm_90a at test time (tests/test_emu_hopper.c) and
// run on the emulator against a product on the host. CuTe builds the shared
// layouts (its swizzle atoms), the matrix descriptors (make_gmma_desc) and
// the accumulator partition itself, so none of it shares code or reading of
// the ISA with the emulator. D[64][64] = A[64][64] * B[64][64]^T with A and B
// row-major in global memory (K contiguous); each kernel stores its tiles in
// a different shared layout. f16 inputs with f32 accumulators, tf32 with f32
// (k8) and s8/u8 with s32 (k32), the last two K-major only.
#include <cute/arch/mma_sm90.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>

#include "cute_gmma.cuh"

using namespace cute;

constexpr int M = 64, N = 64, K = 64;

template <class LayoutA, class LayoutB, class Atom, bool RegA = false, class TA = half_t, class TB = half_t,
          class TD = float>
__device__ void gemm_body(const TA *A, const TB *B, TD *D)
{
    __shared__ alignas(1024) TA bufA[cosize_v<LayoutA>];
    __shared__ alignas(1024) TB bufB[cosize_v<LayoutB>];
    Tensor sA = make_tensor(make_smem_ptr(bufA), LayoutA{}); // (M, K)
    Tensor sB = make_tensor(make_smem_ptr(bufB), LayoutB{}); // (N, K)
    for (int i = threadIdx.x; i < M * K; i += 128)
        sA(i / K, i % K) = A[i];
    for (int i = threadIdx.x; i < N * K; i += 128)
        sB(i / K, i % K) = B[i];
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    __syncthreads();

    auto tiled_mma = make_tiled_mma(Atom{});
    auto thr_mma = tiled_mma.get_thread_slice(threadIdx.x);
    Tensor tCsA = thr_mma.partition_A(sA);
    Tensor tCsB = thr_mma.partition_B(sB);
    Tensor tCrA = thr_mma.make_fragment_A(tCsA);
    Tensor tCrB = thr_mma.make_fragment_B(tCsB);
    auto [tCgD, tCrD] = gmma_accumulators<M, N>(thr_mma, D);
    if constexpr (RegA)
        copy(tCsA, tCrA); // register A: loaded by the threads
    warpgroup_fence_operand(tCrD);
    warpgroup_arrive();
    gemm(tiled_mma, tCrA, tCrB, tCrD);
    warpgroup_commit_batch();
    warpgroup_wait<0>();
    warpgroup_fence_operand(tCrD);
    copy(tCrD, tCgD);
}

template <class Atom, class Shape>
using Tiled = decltype(tile_to_shape(Atom{}, Shape{}));
using MK = Shape<Int<M>, Int<K>>;
using NK = Shape<Int<N>, Int<K>>;

// A and B K-major, 128B swizzle, both from shared memory
extern "C" __global__ void __launch_bounds__(128)
    cute_ss_k128(const half_t *A, const half_t *B, float *D)
{
    gemm_body<Tiled<GMMA::Layout_K_SW128_Atom<half_t>, MK>,
              Tiled<GMMA::Layout_K_SW128_Atom<half_t>, NK>,
              SM90_64x64x16_F32F16F16_SS<GMMA::Major::K, GMMA::Major::K>>(A, B, D);
}

// A K-major 32B swizzle, B MN-major 64B swizzle
extern "C" __global__ void __launch_bounds__(128)
    cute_ss_mn64(const half_t *A, const half_t *B, float *D)
{
    gemm_body<Tiled<GMMA::Layout_K_SW32_Atom<half_t>, MK>,
              Tiled<GMMA::Layout_MN_SW64_Atom<half_t>, NK>,
              SM90_64x64x16_F32F16F16_SS<GMMA::Major::K, GMMA::Major::MN>>(A, B, D);
}

// A MN-major 128B swizzle, B MN-major without swizzle (interleaved)
extern "C" __global__ void __launch_bounds__(128)
    cute_ss_mn_inter(const half_t *A, const half_t *B, float *D)
{
    gemm_body<Tiled<GMMA::Layout_MN_SW128_Atom<half_t>, MK>,
              Tiled<GMMA::Layout_MN_INTER_Atom<half_t>, NK>,
              SM90_64x64x16_F32F16F16_SS<GMMA::Major::MN, GMMA::Major::MN>>(A, B, D);
}

// A K-major without swizzle, B K-major 64B swizzle
extern "C" __global__ void __launch_bounds__(128)
    cute_ss_kinter(const half_t *A, const half_t *B, float *D)
{
    gemm_body<Tiled<GMMA::Layout_K_INTER_Atom<half_t>, MK>,
              Tiled<GMMA::Layout_K_SW64_Atom<half_t>, NK>,
              SM90_64x64x16_F32F16F16_SS<GMMA::Major::K, GMMA::Major::K>>(A, B, D);
}

// A from registers (CuTe's fragment), B K-major 128B swizzle
extern "C" __global__ void __launch_bounds__(128)
    cute_rs_k128(const half_t *A, const half_t *B, float *D)
{
    gemm_body<Tiled<GMMA::Layout_K_SW128_Atom<half_t>, MK>,
              Tiled<GMMA::Layout_K_SW128_Atom<half_t>, NK>,
              SM90_64x64x16_F32F16F16_RS<GMMA::Major::K, GMMA::Major::K>, true>(A, B, D);
}

// tf32 (k8): A and B K-major, 128B swizzle
extern "C" __global__ void __launch_bounds__(128)
    cute_tf32_ss(const tfloat32_t *A, const tfloat32_t *B, float *D)
{
    gemm_body<Tiled<GMMA::Layout_K_SW128_Atom<tfloat32_t>, MK>, Tiled<GMMA::Layout_K_SW128_Atom<tfloat32_t>, NK>,
              SM90_64x64x8_F32TF32TF32_SS_TN<>, false, tfloat32_t, tfloat32_t>(A, B, D);
}

// tf32, A from registers (CuTe's fragment), B K-major 64B swizzle
extern "C" __global__ void __launch_bounds__(128)
    cute_tf32_rs(const tfloat32_t *A, const tfloat32_t *B, float *D)
{
    gemm_body<Tiled<GMMA::Layout_K_SW32_Atom<tfloat32_t>, MK>, Tiled<GMMA::Layout_K_SW64_Atom<tfloat32_t>, NK>,
              SM90_64x64x8_F32TF32TF32_RS_TN<>, true, tfloat32_t, tfloat32_t>(A, B, D);
}

// s8 x s8 (k32, s32 accumulators): A K-major 64B swizzle, B 32B swizzle
extern "C" __global__ void __launch_bounds__(128)
    cute_s8_ss(const int8_t *A, const int8_t *B, int32_t *D)
{
    gemm_body<Tiled<GMMA::Layout_K_SW64_Atom<int8_t>, MK>, Tiled<GMMA::Layout_K_SW32_Atom<int8_t>, NK>,
              SM90_64x64x32_S32S8S8_SS_TN, false, int8_t, int8_t, int32_t>(A, B, D);
}

// u8 x s8, A from registers, B K-major without swizzle
extern "C" __global__ void __launch_bounds__(128)
    cute_u8s8_rs(const uint8_t *A, const int8_t *B, int32_t *D)
{
    gemm_body<Tiled<GMMA::Layout_K_SW64_Atom<uint8_t>, MK>, Tiled<GMMA::Layout_K_INTER_Atom<int8_t>, NK>,
              SM90_64x64x32_S32U8S8_RS_TN, true, uint8_t, int8_t, int32_t>(A, B, D);
}
