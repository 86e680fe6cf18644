// TMA conformance kernels for the GPU recording bundle (tests/emu/hw/cases.txt,
// built for sm_90a by tests/emu/hwprep.sh; test_emu_hw also runs them on the
// emulator against the driver's and the ISA's documented rules). The tensor
// map is the first parameter (cases.txt's map:..., encoded by the driver on a
// GPU, by the emulator's encoder on emu); the tensor it describes is the
// second, unused by the code. The copies leave out .tile, as nvcc's and
// CuTe's do (the default load mode).
//   tma_load   one thread loads the box at (c0..c4) into a 1024-aligned tile
//              (filled with 0xab first) on an mbarrier that expects `bytes`
//              (the whole box, out-of-bounds elements included); out[0] is 1
//              when the phase completed within a bounded number of polls (a
//              GPU that counts other bytes records 0 instead of hanging),
//              out[1..] the tile's first `bytes` bytes as they lie in shared
//              memory: the zero fill and the swizzle are both in the record
//   tma_store  the tile is filled from src (`bytes` bytes, in shared-memory
//              order, so swizzled) and stored at (c0..c4) by one thread in a
//              bulk group; the tensor (an out buffer poisoned with 0xcd)
//              records which elements the store wrote and with what
#include <stdint.h>

struct __align__(64) TensorMap {
    uint64_t bytes[16];
};

enum { TILE = 16384 };

__device__ static uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

// the rank-`rank` tensor copy global -> shared (.tile left out)
__device__ static void load_box(const TensorMap *map, uint32_t dst, uint32_t bar, const int *c,
                                uint32_t rank)
{
    switch (rank) {
    case 1:
        asm volatile("cp.async.bulk.tensor.1d.shared::cluster.global.mbarrier::complete_tx::bytes"
                     " [%0], [%1, {%2}], [%3];" ::"r"(dst), "l"(map), "r"(c[0]), "r"(bar)
                     : "memory");
        break;
    case 2:
        asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
                     " [%0], [%1, {%2, %3}], [%4];" ::"r"(dst), "l"(map), "r"(c[0]), "r"(c[1]),
                     "r"(bar)
                     : "memory");
        break;
    case 3:
        asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes"
                     " [%0], [%1, {%2, %3, %4}], [%5];" ::"r"(dst), "l"(map), "r"(c[0]),
                     "r"(c[1]), "r"(c[2]), "r"(bar)
                     : "memory");
        break;
    case 4:
        asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes"
                     " [%0], [%1, {%2, %3, %4, %5}], [%6];" ::"r"(dst), "l"(map), "r"(c[0]),
                     "r"(c[1]), "r"(c[2]), "r"(c[3]), "r"(bar)
                     : "memory");
        break;
    default:
        asm volatile("cp.async.bulk.tensor.5d.shared::cluster.global.mbarrier::complete_tx::bytes"
                     " [%0], [%1, {%2, %3, %4, %5, %6}], [%7];" ::"r"(dst), "l"(map), "r"(c[0]),
                     "r"(c[1]), "r"(c[2]), "r"(c[3]), "r"(c[4]), "r"(bar)
                     : "memory");
        break;
    }
}

// the rank-`rank` tensor copy shared -> global in a bulk group (.tile left out)
__device__ static void store_box(const TensorMap *map, uint32_t src, const int *c, uint32_t rank)
{
    switch (rank) {
    case 1:
        asm volatile("cp.async.bulk.tensor.1d.global.shared::cta.bulk_group [%0, {%1}], [%2];"
                     ::"l"(map), "r"(c[0]), "r"(src) : "memory");
        break;
    case 2:
        asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];"
                     ::"l"(map), "r"(c[0]), "r"(c[1]), "r"(src) : "memory");
        break;
    case 3:
        asm volatile("cp.async.bulk.tensor.3d.global.shared::cta.bulk_group [%0, {%1, %2, %3}],"
                     " [%4];" ::"l"(map), "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(src) : "memory");
        break;
    case 4:
        asm volatile("cp.async.bulk.tensor.4d.global.shared::cta.bulk_group [%0, {%1, %2, %3, %4}],"
                     " [%5];" ::"l"(map), "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(c[3]), "r"(src)
                     : "memory");
        break;
    default:
        asm volatile("cp.async.bulk.tensor.5d.global.shared::cta.bulk_group [%0, {%1, %2, %3, %4,"
                     " %5}], [%6];" ::"l"(map), "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(c[3]),
                     "r"(c[4]), "r"(src) : "memory");
        break;
    }
    asm volatile("cp.async.bulk.commit_group;" ::: "memory");
    asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
}

extern "C" __global__ void tma_load(const __grid_constant__ TensorMap map, const void *tensor,
                                    uint32_t *out, int c0, int c1, int c2, int c3, int c4,
                                    uint32_t bytes, uint32_t rank)
{
    __shared__ __align__(1024) uint32_t tile[TILE / 4];
    __shared__ __align__(8) uint64_t bar;
    const int c[5] = {c0, c1, c2, c3, c4};
    (void)tensor;
    if (bytes > TILE || bytes % 16)
        __trap();
    for (uint32_t i = threadIdx.x; i < bytes / 4; i += blockDim.x)
        tile[i] = 0xabababab;
    // the generic stores above before the async proxy writes the same bytes
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    uint32_t b = smem_addr(&bar);
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(b) : "memory");
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(b), "r"(bytes)
                     : "memory");
        load_box(&map, smem_addr(tile), b, c, rank);
    }
    uint32_t done = 0;
    for (int poll = 0; poll < (1 << 20) && !done; poll++)
        asm volatile("{\n.reg .pred p;\nmbarrier.test_wait.parity.shared::cta.b64 p, [%1], 0;\n"
                     "selp.u32 %0, 1, 0, p;\n}"
                     : "=r"(done)
                     : "r"(b)
                     : "memory");
    __syncthreads();
    if (threadIdx.x == 0)
        out[0] = done;
    for (uint32_t i = threadIdx.x; i < bytes / 4; i += blockDim.x)
        out[1 + i] = tile[i];
}

extern "C" __global__ void tma_store(const __grid_constant__ TensorMap map, void *tensor,
                                     const uint32_t *src, int c0, int c1, int c2, int c3, int c4,
                                     uint32_t bytes, uint32_t rank)
{
    __shared__ __align__(1024) uint32_t tile[TILE / 4];
    const int c[5] = {c0, c1, c2, c3, c4};
    (void)tensor;
    if (bytes > TILE || bytes % 16)
        __trap();
    for (uint32_t i = threadIdx.x; i < bytes / 4; i += blockDim.x)
        tile[i] = src[i];
    // the tile's generic stores before the async proxy reads them
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    __syncthreads();
    if (threadIdx.x == 0)
        store_box(&map, smem_addr(tile), c, rank);
}
