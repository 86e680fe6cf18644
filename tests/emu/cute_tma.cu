// A TMA-fed mbarrier pipeline written with CUTLASS's CuTe (headers from PyPI
// nvidia-cutlass), compiled by nvcc -arch=sm_90a at test time and run on emu
// through the public API (tests/test_runtime_ptx.c): D[64][64] = A[64][256] x
// B[64][256]^T, A and B row-major (K contiguous), in four K tiles of 64
// through a ring of two shared stages. CuTe decides everything the emulator
// must get right without sharing its reading of the ISA: the TMA copy type
// (make_tma_copy's, so its box, coordinates and transaction bytes), the
// 128B-swizzled shared layouts, the mbarrier calls (initialize_barrier,
// set_barrier_transaction_bytes, wait_barrier on each stage's phase), the
// GMMA descriptors and the accumulator partition. The kernel receives the
// two 128-byte descriptors as grid constants (a TMA copy object is 256 bytes:
// the descriptor and CuTe's padding), which the test encodes with
// tsr_tensor_map_encode (boxes of 64 x 64 halves, 128B swizzle: what
// make_tma_copy asks the driver for), and runs make_tma_copy's copies with
// them (.with(descriptor, mbarrier)).
#include <cute/tensor.hpp>
#include <cute/arch/copy_sm90_desc.hpp>
#include <cute/atom/copy_traits_sm90_tma.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cutlass/arch/barrier.h>

#include "cute_gmma.cuh"

using namespace cute;

constexpr int M = 64, N = 64, K = 256, BK = 64, STAGES = 2, KTILES = K / BK;

using SmemA = decltype(tile_to_shape(GMMA::Layout_K_SW128_Atom<half_t>{},
                                     Shape<Int<M>, Int<BK>, Int<STAGES>>{}));
using SmemB = decltype(tile_to_shape(GMMA::Layout_K_SW128_Atom<half_t>{},
                                     Shape<Int<N>, Int<BK>, Int<STAGES>>{}));
using GmemA = Layout<Shape<Int<M>, Int<K>>, Stride<Int<K>, _1>>;
using GmemB = Layout<Shape<Int<N>, Int<K>>, Stride<Int<K>, _1>>;

// the copy types make_tma_copy returns for one stage of each operand
using TmaA = decltype(make_tma_copy(SM90_TMA_LOAD{},
                                    make_tensor(make_gmem_ptr((half_t const *)nullptr), GmemA{}),
                                    SmemA{}(_, _, 0)));
using TmaB = decltype(make_tma_copy(SM90_TMA_LOAD{},
                                    make_tensor(make_gmem_ptr((half_t const *)nullptr), GmemB{}),
                                    SmemB{}(_, _, 0)));


constexpr uint32_t STAGE_BYTES = (M + N) * BK * sizeof(half_t);

extern "C" __global__ void __launch_bounds__(128)
    cute_tma_gemm(const __grid_constant__ TmaDescriptor map_a,
                  const __grid_constant__ TmaDescriptor map_b, float *D)
{
    TmaA const tma_a{}; // their types: the partitions and the coordinates
    TmaB const tma_b{};
    __shared__ alignas(1024) half_t bufA[cosize_v<SmemA>];
    __shared__ alignas(1024) half_t bufB[cosize_v<SmemB>];
    __shared__ alignas(8) uint64_t full[STAGES];
    Tensor sA = make_tensor(make_smem_ptr(bufA), SmemA{}); // (M, BK, stage)
    Tensor sB = make_tensor(make_smem_ptr(bufB), SmemB{}); // (N, BK, stage)

    // the TMA's view of global memory: coordinates, tiled by K
    Tensor gA = local_tile(tma_a.get_tma_tensor(shape(GmemA{})), Shape<Int<M>, Int<BK>>{},
                           make_coord(0, _)); // (M, BK, k)
    Tensor gB = local_tile(tma_b.get_tma_tensor(shape(GmemB{})), Shape<Int<N>, Int<BK>>{},
                           make_coord(0, _)); // (N, BK, k)
    auto tA = tma_partition(tma_a, Int<0>{}, Layout<_1>{}, group_modes<0, 2>(sA),
                            group_modes<0, 2>(gA));
    auto tB = tma_partition(tma_b, Int<0>{}, Layout<_1>{}, group_modes<0, 2>(sB),
                            group_modes<0, 2>(gB));
    auto tAgA = get<0>(tA); // (TMA, k)
    auto tAsA = get<1>(tA); // (TMA, stage)
    auto tBgB = get<0>(tB);
    auto tBsB = get<1>(tB);

    auto issue = [&](int k) { // one thread: tile k into stage k % STAGES
        int s = k % STAGES;
        set_barrier_transaction_bytes(full[s], STAGE_BYTES);
        copy(tma_a.with(&map_a, full[s]), tAgA(_, k), tAsA(_, s));
        copy(tma_b.with(&map_b, full[s]), tBgB(_, k), tBsB(_, s));
    };
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++)
            initialize_barrier(full[s], 1);
        cutlass::arch::fence_barrier_init();
    }
    __syncthreads();
    if (threadIdx.x == 0)
        for (int k = 0; k < STAGES; k++)
            issue(k);

    auto tiled_mma = make_tiled_mma(SM90_64x64x16_F32F16F16_SS<GMMA::Major::K, GMMA::Major::K>{});
    auto thr_mma = tiled_mma.get_thread_slice(threadIdx.x);
    Tensor tCsA = thr_mma.partition_A(sA);
    Tensor tCsB = thr_mma.partition_B(sB);
    Tensor tCrA = thr_mma.make_fragment_A(tCsA); // descriptors, per stage
    Tensor tCrB = thr_mma.make_fragment_B(tCsB);
    auto [tCgD, tCrD] = gmma_accumulators<M, N>(thr_mma, D);

    for (int k = 0; k < KTILES; k++) {
        int s = k % STAGES;
        wait_barrier(full[s], (k / STAGES) & 1); // the stage's phase for tile k
        warpgroup_fence_operand(tCrD);
        warpgroup_arrive();
        gemm(tiled_mma, tCrA(_, _, _, s), tCrB(_, _, _, s), tCrD);
        warpgroup_commit_batch();
        warpgroup_wait<0>();
        warpgroup_fence_operand(tCrD);
        __syncthreads(); // every warp is done reading the stage
        if (threadIdx.x == 0 && k + STAGES < KTILES)
            issue(k + STAGES);
    }
    copy(tCrD, tCgD);
}
