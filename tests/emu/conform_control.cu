// Conformance kernels for the emulator: divergent control flow, warp
// collectives, shared memory with barriers, atomics, local arrays, constant
// and global variables, struct parameters. The test (tests/test_emu_nvcc.c)
// computes the expected results on the host. Compiled with nvcc -ptx for
// sm_80 and sm_90 at test time.
#include <stdint.h>

#include "conform_ops.h"

extern "C" __global__ void branches(const uint32_t *a, const uint32_t *b, uint32_t *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    out[2 * i] = collatz_steps(a[i]);
    out[2 * i + 1] = (uint32_t)nested_branches((int)a[i], (int)(b[i] % 64));
}

// Shuffles (every mode and width), votes, activemask in divergent code,
// match, reduce; one warp per 32 elements.
extern "C" __global__ void warp_ops(const uint32_t *a, uint32_t *out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int lane = threadIdx.x & 31;
    uint32_t v = a[i];
    uint32_t *o = out + i * 12;
    o[0] = __shfl_sync(0xffffffffu, v, (lane * 7) & 31);
    o[1] = __shfl_up_sync(0xffffffffu, v, 3);
    o[2] = __shfl_down_sync(0xffffffffu, v, 5, 16);
    o[3] = __shfl_xor_sync(0xffffffffu, v, 9, 8);
    o[4] = __ballot_sync(0xffffffffu, v & 1);
    o[5] = __all_sync(0xffffffffu, v != 12345) | (__any_sync(0xffffffffu, v == a[i | 31]) << 1);
    o[6] = __match_any_sync(0xffffffffu, v & 3);
    o[7] = __reduce_add_sync(0xffffffffu, v & 0xffff);
    o[8] = __reduce_max_sync(0xffffffffu, v >> 8);
    uint32_t m = 0;
    if (v & 2) {
        m = __activemask();
        if (v & 4)
            m ^= __ballot_sync(__activemask(), 1) << 1;
    }
    o[9] = m;
    // a butterfly sum over the warp, as reductions do it
    float s = (float)(v & 0xff);
    for (int off = 16; off > 0; off >>= 1)
        s += __shfl_xor_sync(0xffffffffu, s, off);
    o[10] = (uint32_t)s;
    __syncwarp();
    o[11] = __shfl_sync(0xffffffffu, v, 0, 4);
}

// A tree reduction in dynamic shared memory, __syncthreads_count/_and/_or,
// and a tile transpose through padded static shared memory.
extern "C" __global__ void block_ops(const float *a, float *sums, uint32_t *counts, float *tout)
{
    extern __shared__ float red[];
    __shared__ float tile[16][17];
    int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    red[t] = a[i];
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s)
            red[t] += red[t + s];
        __syncthreads();
    }
    if (t == 0)
        sums[blockIdx.x] = red[0];
    int c = __syncthreads_count(a[i] > 0.5f);
    int all = __syncthreads_and(a[i] < 2.0f);
    int any = __syncthreads_or(a[i] > 0.99f);
    if (t == 0)
        counts[blockIdx.x] = (uint32_t)c | (uint32_t)all << 16 | (uint32_t)any << 17;
    // transpose the block's 16x16 tile (blockDim.x == 256) through padded shared memory
    const float *src = a + blockIdx.x * 256;
    int x = t & 15, y = t >> 4;
    tile[y][x] = src[y * 16 + x];
    __syncthreads();
    tout[blockIdx.x * 256 + y * 16 + x] = tile[x][y];
}

__device__ unsigned int g_counter;
__device__ float g_fsum;
__device__ double g_dsum;

extern "C" __global__ void atomics(const uint32_t *a, uint32_t *out)
{
    __shared__ uint32_t s_hist[16];
    __shared__ int s_min, s_max;
    int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    if (t < 16)
        s_hist[t] = 0;
    if (t == 0) {
        s_min = 0x7fffffff;
        s_max = -0x7fffffff;
    }
    __syncthreads();
    uint32_t v = a[i];
    atomicAdd(&s_hist[v & 15], 1u);
    atomicMin(&s_min, (int)(v % 1000) - 500);
    atomicMax(&s_max, (int)(v % 1000) - 500);
    atomicAdd(&g_counter, 1u);
    atomicAdd(&g_fsum, (float)(v & 7));
    atomicAdd(&g_dsum, (double)(v & 15) * 0.25);
    atomicOr(&out[0], 1u << (v & 31));
    atomicAnd(&out[1], ~(1u << (v % 17)));
    atomicXor(&out[2], v);
    atomicInc(&out[3], 1000u);
    atomicExch(&out[4], 77u);
    uint32_t old = out[5], assumed;
    do {
        assumed = old;
        old = atomicCAS(&out[5], assumed, assumed + (v & 3));
    } while (old != assumed);
    __syncthreads();
    if (t < 16)
        atomicAdd(&out[8 + t], s_hist[t]);
    if (t == 0) {
        atomicMin((int *)&out[6], s_min);
        atomicMax((int *)&out[7], s_max);
    }
}

extern "C" __global__ void read_globals(uint32_t *out)
{
    out[0] = g_counter;
    out[1] = __float_as_uint(g_fsum);
    out[2] = (uint32_t)(g_dsum * 4);
}

__constant__ int c_table[8] = {3, 1, 4, 1, 5, 9, 2, 6};

struct Params {
    int scale;
    float bias;
    long long offset;
    short small[3];
};

// Local arrays indexed dynamically (local memory), constant memory, a struct
// passed by value.
extern "C" __global__ void locals(const uint32_t *a, int *out, Params p)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    uint32_t buf[24]; // unsigned: the sums wrap
    uint32_t v = a[i];
    for (int k = 0; k < 24; k++)
        buf[k] = (v >> (k % 8)) * (uint32_t)c_table[k & 7];
    int idx = (int)(v % 24);
    uint32_t acc = 0;
    for (int k = 0; k <= idx; k++)
        acc += buf[(idx * 7 + k) % 24];
    out[i] = (int)(acc * (uint32_t)p.scale + (uint32_t)(int)p.bias + (uint32_t)p.offset +
                   (uint32_t)p.small[v % 3]);
}
