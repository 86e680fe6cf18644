// A 64 x N x K GEMM on one warpgroup the way CUTLASS/FA3 kernels issue it,
// compiled by nvcc -arch=sm_90a at test time (tests/test_emu_hopper.c) and
// run on the emulator against a product on the host. Two kernels: the
// tiles stored by the threads (hopper_gemm), or loaded by TMA from tensor
// maps passed as __grid_constant__ parameters (hopper_tma_gemm). The shared tiles use
// the 128-byte swizzle written here as the usual "16-byte chunk c of row r
// lives at chunk c ^ (r % 8)" rule (rows of 64 halves = 128 bytes, K-major),
// the descriptor is built from its bit fields, and K advances inside the
// swizzle atom by adding 32 bytes (2 units) to the start address. An mbarrier
// (init, fence.mbarrier_init, arrive, try_wait.parity) orders the stores
// before the wgmmas; fence.proxy.async hands them to the async proxy.
#include <stdint.h>

#define N 64
#define K 64

__device__ static uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

// byte offset of element (r, k) of a [rows][64] half tile, 128B swizzle
__device__ static uint32_t sw128(uint32_t r, uint32_t k)
{
    uint32_t chunk = (k * 2) / 16, within = (k * 2) % 16;
    return r * 128 + ((chunk ^ (r % 8)) * 16) + within;
}

__device__ static uint64_t desc_sw128(uint32_t addr)
{
    uint64_t d = (addr & 0x3ffff) >> 4;  // start address
    d |= (uint64_t)1 << 16;              // LBO: unused for swizzled K-major (1)
    d |= (uint64_t)(1024 >> 4) << 32;    // SBO: 8 rows of 128 bytes
    d |= (uint64_t)1 << 62;              // 128B swizzle
    return d;
}

// The four chained wgmmas over K on 128B-swizzled K-major tiles, and the
// accumulators stored to D by the fragment layout.
__device__ static void gemm_tile(const uint8_t *sa, const uint8_t *sb, float *D)
{
    unsigned tid = threadIdx.x;
    float d[N / 2];
    for (int i = 0; i < N / 2; i++)
        d[i] = 0.0f;
    uint64_t da = desc_sw128(smem_addr(sa)), db = desc_sw128(smem_addr(sb));
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
    for (int ks = 0; ks < K / 16; ks++) {
        asm volatile(
            "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
            "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
            "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
            "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
            "%32, %33, p, 1, 1, 0, 0;\n}\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
              "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]),
              "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]),
              "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
              "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]),
              "+f"(d[31])
            : "l"(da + 2 * ks), "l"(db + 2 * ks), "r"(ks > 0 ? 1 : 0));
    }
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    unsigned warp = tid / 32, lane = tid % 32;
    for (int i = 0; i < N / 2; i++) {
        unsigned row = 16 * warp + lane / 4 + 8 * ((i >> 1) & 1);
        unsigned col = 8 * (i >> 2) + 2 * (lane % 4) + (i & 1);
        D[row * N + col] = d[i];
    }
}

// D[64][N] = A[64][K] * B[K][N]; A row-major, Bt[N][K] row-major (K-major B).
extern "C" __global__ void __launch_bounds__(128) hopper_gemm(const uint16_t *A, const uint16_t *Bt,
                                                             float *D)
{
    __shared__ __align__(1024) uint8_t sa[64 * 128];
    __shared__ __align__(1024) uint8_t sb[N * 128];
    __shared__ __align__(8) uint64_t bar;
    unsigned tid = threadIdx.x;
    if (tid == 0) {
        asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(&bar)), "r"(128));
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncthreads();
    for (unsigned i = tid; i < 64 * K; i += 128) {
        unsigned r = i / K, k = i % K;
        *(uint16_t *)(sa + sw128(r, k)) = A[i];
    }
    for (unsigned i = tid; i < N * K; i += 128) {
        unsigned r = i / K, k = i % K;
        *(uint16_t *)(sb + sw128(r, k)) = Bt[i];
    }
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_addr(&bar)) : "memory");
    asm volatile(
        "{\n.reg .pred p;\nwait:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], 0;\n"
        "@!p bra wait;\n}\n" ::"r"(smem_addr(&bar))
        : "memory");

    gemm_tile(sa, sb, D);
}

struct __align__(64) TensorMap {
    uint64_t opaque[16];
};

// The same product with A rows [a_row, a_row + 64) and all of Bt loaded by
// TMA (boxes of 64 x 64 halves, 128B swizzle) on one mbarrier; rows past
// the end of A arrive as zeros.
extern "C" __global__ void __launch_bounds__(128)
    hopper_tma_gemm(const __grid_constant__ TensorMap ta, const __grid_constant__ TensorMap tb,
                    float *D, int a_row)
{
    __shared__ __align__(1024) uint8_t sa[64 * 128];
    __shared__ __align__(1024) uint8_t sb[N * 128];
    __shared__ __align__(8) uint64_t bar;
    uint32_t b = smem_addr(&bar);
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(b), "r"(1));
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(b),
                     "r"((64 + N) * 128)
                     : "memory");
        asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::"
                     "bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(smem_addr(sa)),
                     "l"(&ta), "r"(0), "r"(a_row), "r"(b)
                     : "memory");
        asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::"
                     "bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(smem_addr(sb)),
                     "l"(&tb), "r"(0), "r"(0), "r"(b)
                     : "memory");
    }
    asm volatile(
        "{\n.reg .pred p;\nwait:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], 0;\n"
        "@!p bra wait;\n}\n" ::"r"(b)
        : "memory");
    gemm_tile(sa, sb, D);
}
