// Conformance kernel for the emulator: a 32x16 by 16x32 matrix product on
// tensor cores, as a tile compiler writes it: cp.async into shared memory,
// ldmatrix (plain for A, .trans for B stored k-major), mma.sync m16n8k16,
// through inline PTX. One warp per CTA; the test compares with the host.
#include <cuda_fp16.h>
#include <stdint.h>

extern "C" __global__ void mma_gemm(const __half *A, const __half *B, float *C)
{
    __shared__ __align__(16) __half sA[32 * 16];
    __shared__ __align__(16) __half sB[16 * 32];
    int lane = threadIdx.x;
    // each lane copies 16 bytes (8 halves) of A and of B, twice
    for (int r = 0; r < 2; r++) {
        int e = (lane + 32 * r) * 8;
        uint32_t da = (uint32_t)__cvta_generic_to_shared(sA + e);
        uint32_t db = (uint32_t)__cvta_generic_to_shared(sB + e);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(da), "l"(A + e));
        asm volatile("cp.async.ca.shared.global [%0], [%1], 16;\n" ::"r"(db), "l"(B + e));
    }
    asm volatile("cp.async.commit_group;\n" ::);
    asm volatile("cp.async.wait_group 0;\n" ::);
    __syncthreads();
    for (int mi = 0; mi < 2; mi++)
        for (int ni = 0; ni < 4; ni++) {
            uint32_t a[4], b[2];
            // A rows mi*16 + (lane % 16), columns 8 * (lane / 16)
            uint32_t pa = (uint32_t)__cvta_generic_to_shared(sA + (mi * 16 + lane % 16) * 16 + 8 * (lane / 16));
            asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                         : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3])
                         : "r"(pa));
            // B is k-major (row k holds 32 columns): rows k = lane % 16, columns ni*8
            uint32_t pb = (uint32_t)__cvta_generic_to_shared(sB + (lane % 16) * 32 + ni * 8);
            asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                         : "=r"(b[0]), "=r"(b[1])
                         : "r"(pb));
            float d[4] = {0, 0, 0, 0};
            asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                         "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                         : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
            int g = lane >> 2, t = lane & 3;
            for (int k = 0; k < 4; k++) {
                int row = mi * 16 + g + 8 * (k >> 1), col = ni * 8 + 2 * t + (k & 1);
                C[row * 32 + col] = d[k];
            }
        }
}
