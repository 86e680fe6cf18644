// What the CuTe kernels of tests/emu (cute_gemm.cu, cute_tma.cu) share: the
// accumulators of one thread of a tiled GMMA and where they go in D.
#pragma once
#include <cute/tensor.hpp>

// D (M x N, row-major in global memory) partitioned for this thread of the
// tiled MMA: (where the accumulators go, the accumulators, cleared).
template <int M, int N, class ThrMma, class TD>
__device__ auto gmma_accumulators(ThrMma const &thr_mma, TD *D)
{
    using namespace cute;
    Tensor gD = make_tensor(make_gmem_ptr(D), make_shape(Int<M>{}, Int<N>{}),
                            make_stride(Int<N>{}, Int<1>{}));
    Tensor tCgD = thr_mma.partition_C(gD);
    Tensor tCrD = thr_mma.make_fragment_C(tCgD);
    clear(tCrD);
    return cute::make_tuple(tCgD, tCrD);
}
