// Hopper conformance kernels for the GPU recording bundle (tests/emu/hw/
// cases.txt, built for sm_90a by tests/emu/hwprep.sh): what the emulator
// models from the ISA text and a GPU settles.
//   wgmma_ss   a 16 KB shared image (A at 0, B at 8 KB, random f16) read by
//              one wgmma m64n64k16 through descriptors whose LBO, SBO,
//              swizzle and major are parameters; each thread's 32
//              accumulators stored in register order, so the recording holds
//              the hardware's layouts of the operands and of D
//   wgmma_rs   the same with A from registers (each thread's four registers
//              from the input, in fragment order), B K-major 128B-swizzled
//   mbar_phases  one warp through mbarrier phases, arrival counts and
//              transaction bytes, recording test_wait.parity after each step
#include <stdint.h>

__device__ static uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

__device__ static uint64_t desc(uint32_t addr, uint32_t lbo, uint32_t sbo, uint32_t sw)
{
    return (uint64_t)((addr & 0x3ffff) >> 4) | (uint64_t)(lbo >> 4) << 16 |
           (uint64_t)(sbo >> 4) << 32 | (uint64_t)sw << 62;
}

// the 16 KB image, copied into 1024-aligned shared memory by all 128 threads
__device__ static void load_image(uint8_t *s, const uint4 *img)
{
    for (unsigned i = threadIdx.x; i < 16384 / 16; i += 128)
        ((uint4 *)s)[i] = img[i];
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    __syncthreads();
}

__device__ static void store_acc(float *out, const float *d)
{
    for (int i = 0; i < 32; i++)
        out[threadIdx.x * 32 + i] = d[i];
}

#define ACC32                                                                                    \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
    "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define OUT32(d)                                                                                 \
    "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3]), "=f"(d[4]), "=f"(d[5]), "=f"(d[6]),          \
        "=f"(d[7]), "=f"(d[8]), "=f"(d[9]), "=f"(d[10]), "=f"(d[11]), "=f"(d[12]), "=f"(d[13]),  \
        "=f"(d[14]), "=f"(d[15]), "=f"(d[16]), "=f"(d[17]), "=f"(d[18]), "=f"(d[19]),            \
        "=f"(d[20]), "=f"(d[21]), "=f"(d[22]), "=f"(d[23]), "=f"(d[24]), "=f"(d[25]),            \
        "=f"(d[26]), "=f"(d[27]), "=f"(d[28]), "=f"(d[29]), "=f"(d[30]), "=f"(d[31])
#define SS(ta, tb)                                                                               \
    asm volatile("wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " ACC32                   \
                 ", %32, %33, 0, 1, 1, " #ta ", " #tb ";"                                        \
                 : OUT32(d)                                                                      \
                 : "l"(da), "l"(db))

extern "C" __global__ void __launch_bounds__(128)
    wgmma_ss(const uint4 *img, float *out, uint32_t lbo_a, uint32_t sbo_a, uint32_t sw_a,
             uint32_t lbo_b, uint32_t sbo_b, uint32_t sw_b, uint32_t trans)
{
    __shared__ __align__(1024) uint8_t s[16384];
    load_image(s, img);
    uint64_t da = desc(smem_addr(s), lbo_a, sbo_a, sw_a);
    uint64_t db = desc(smem_addr(s + 8192), lbo_b, sbo_b, sw_b);
    float d[32];
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
    switch (trans) {
    case 0: SS(0, 0); break;
    case 1: SS(1, 0); break;
    case 2: SS(0, 1); break;
    default: SS(1, 1); break;
    }
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    store_acc(out, d);
}

extern "C" __global__ void __launch_bounds__(128)
    wgmma_rs(const uint4 *img, const uint4 *afrag, float *out)
{
    __shared__ __align__(1024) uint8_t s[16384];
    load_image(s, img);
    uint4 a = afrag[threadIdx.x];
    uint64_t db = desc(smem_addr(s + 8192), 16, 1024, 1);
    float d[32];
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
    asm volatile("wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " ACC32
                 ", {%32, %33, %34, %35}, %36, 0, 1, 1, 0;"
                 : OUT32(d)
                 : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "l"(db));
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    store_acc(out, d);
}

// test_wait.parity 0 and 1 after each step, by lane 0: out[2 * step + parity]
extern "C" __global__ void mbar_phases(uint32_t *out)
{
    __shared__ __align__(8) uint64_t bar;
    uint32_t b = smem_addr(&bar);
    unsigned step = 0;
#define RECORD()                                                                                 \
    do {                                                                                         \
        for (uint32_t par = 0; par < 2; par++) {                                                 \
            uint32_t ok;                                                                         \
            asm volatile("{\n.reg .pred p;\nmbarrier.test_wait.parity.shared::cta.b64 p, [%1], %2;\n" \
                         "selp.u32 %0, 1, 0, p;\n}"                                              \
                         : "=r"(ok)                                                              \
                         : "r"(b), "r"(par)                                                      \
                         : "memory");                                                            \
            if (threadIdx.x == 0)                                                                \
                out[2 * step + par] = ok;                                                        \
        }                                                                                        \
        step++;                                                                                  \
    } while (0)
    if (threadIdx.x == 0)
        asm volatile("mbarrier.init.shared::cta.b64 [%0], 2;" ::"r"(b) : "memory");
    __syncwarp();
    RECORD(); // phase 0 pending
    if (threadIdx.x == 0)
        asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(b) : "memory");
    RECORD(); // one of two arrivals
    if (threadIdx.x == 0)
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], 48;" ::"r"(b) : "memory");
    RECORD(); // arrivals done, 48 bytes pending
    if (threadIdx.x == 0)
        asm volatile("mbarrier.complete_tx.shared::cta.b64 [%0], 32;" ::"r"(b) : "memory");
    RECORD(); // 16 bytes pending
    if (threadIdx.x == 0)
        asm volatile("mbarrier.complete_tx.shared::cta.b64 [%0], 16;" ::"r"(b) : "memory");
    RECORD(); // phase 0 complete
    if (threadIdx.x == 0)
        asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0], 2;" ::"r"(b) : "memory");
    RECORD(); // phase 1 complete by one arrival of count 2
    if (threadIdx.x == 0)
        asm volatile("mbarrier.complete_tx.shared::cta.b64 [%0], 8;" ::"r"(b) : "memory");
    RECORD(); // bytes ahead of their expect_tx: phase 2 still pending
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.expect_tx.shared::cta.b64 [%0], 8;" ::"r"(b) : "memory");
        asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0], 2;" ::"r"(b) : "memory");
    }
    RECORD(); // phase 2 complete
#undef RECORD
}
