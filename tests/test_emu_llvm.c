/* The emulator on PTX from LLVM's NVPTX backend, the compiler Tessera uses:
 * the LLVM IR kernels tests/emu/llvm_*.ll (NVVM intrinsics for cp.async,
 * ldmatrix, mma, shfl, ex2, barriers, votes) are compiled at test time with
 * llc-19 for sm_80 and, when it is installed, llc-22 for sm_90a, run, and
 * compared with the host. Without llc-19 the tests are skips that say so. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "emu/emu_test.h"

typedef struct {
    const char *llc, *cpu;
} Backend;

static Backend backends[2];
static int nbackends;
static EmuModule *mods[2][2]; /* [source][backend] */
static const char *const sources[2] = {"llvm_mma", "llvm_misc"};

static int setup(void **state)
{
    const char *llc19 = et_llc();
    if (!llc19)
        return 0;
    backends[nbackends++] = (Backend){llc19, "sm_80"};
    if (et_have_tool("llc-22"))
        backends[nbackends++] = (Backend){"llc-22", "sm_90a"};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/emu", et_build_dir());
    et_mkdirs(dir);
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < nbackends; b++) {
            char ptx[640], log[700], cmd[2048];
            snprintf(ptx, sizeof ptx, "%s/%s.%s.ptx", dir, sources[s], backends[b].cpu);
            snprintf(log, sizeof log, "%s.log", ptx);
            snprintf(cmd, sizeof cmd,
                     "%s -march=nvptx64 -mcpu=%s -mattr=+ptx80 tests/emu/%s.ll -o '%s'",
                     backends[b].llc, backends[b].cpu, sources[s], ptx);
            et_system(cmd, log);
            char *text = et_read(ptx);
            mods[s][b] = et_load(text);
            free(text);
        }
    return 0;
}

static int teardown(void **state)
{
    for (int s = 0; s < 2; s++)
        for (int b = 0; b < 2; b++)
            emu_module_free(mods[s][b]);
    return 0;
}

#define NEED_LLC()                                                                                \
    do {                                                                                          \
        if (!nbackends) {                                                                         \
            print_message("SKIP: llc-19 not found (install llvm-19 or set LLC); PTX from LLVM "  \
                          "not checked\n");                                                       \
            skip();                                                                               \
        }                                                                                         \
    } while (0)

static uint16_t h16(float f)
{
    _Float16 h = (_Float16)f;
    uint16_t v;
    memcpy(&v, &h, 2);
    return v;
}
static float fh(uint16_t v)
{
    _Float16 h;
    memcpy(&h, &v, 2);
    return (float)h;
}

/* mma_softmax: D = A (16x16) x B (16x8), then exp2(D - rowmax) as f16. */
static void test_mma_softmax(void **state)
{
    NEED_LLC();
    uint16_t A[16 * 16], B[16 * 8];
    EtRng r = {31};
    for (int bf = 0; bf < 2; bf++)
        for (int nb = 256; nb >= 200; nb -= 56) { /* 200: B's last rows zero-filled */
            for (int i = 0; i < 256; i++) {
                float v = et_randf(&r, -1, 1);
                A[i] = bf ? (uint16_t)(bits_of_f32(v) >> 16) : h16(v);
            }
            for (int i = 0; i < 128; i++) {
                float v = et_randf(&r, -1, 1);
                B[i] = bf ? (uint16_t)(bits_of_f32(v) >> 16) : h16(v);
            }
            for (int b = 0; b < nbackends; b++) {
                float d[32][4];
                uint32_t p[32][2];
                void *pa = A, *pb = B, *pd = d, *pp = p;
                int32_t n = nb, use_bf = bf;
                void *args[] = {&pa, &pb, &n, &use_bf, &pd, &pp};
                EmuRegion regs[] = {{A, sizeof A, false}, {B, sizeof B, false},
                                    {d, sizeof d, true}, {p, sizeof p, true}};
                EtConfig c = ET_CONFIG(1, 32);
                c.races = true;
                c.uninit = true;
                memset(d, 0xcd, sizeof d);
                memset(p, 0xcd, sizeof p);
                char *msg;
                if (et_launch(mods[0][b], "mma_softmax", args, regs, 4, c, &msg, NULL)) {
                    print_error("%s: %s\n", backends[b].llc, msg);
                    free(msg);
                    fail();
                }
                float D[16][8], mx[16];
                for (int i = 0; i < 16; i++) {
                    mx[i] = -INFINITY;
                    for (int j = 0; j < 8; j++) {
                        double s = 0;
                        for (int k = 0; k < 16; k++) {
                            float bv = k * 16 + 2 * j + 1 < nb ? 1.0f : 0.0f; /* zero-filled */
                            float av = bf ? f32_of_bits((uint32_t)A[i * 16 + k] << 16) : fh(A[i * 16 + k]);
                            float bk = bf ? f32_of_bits((uint32_t)B[k * 8 + j] << 16) : fh(B[k * 8 + j]);
                            s += (double)av * (bv ? bk : 0.0f);
                        }
                        D[i][j] = (float)s;
                        mx[i] = D[i][j] > mx[i] ? D[i][j] : mx[i];
                    }
                }
                for (int l = 0; l < 32; l++) {
                    int g = l >> 2, t = l & 3;
                    for (int e = 0; e < 4; e++) {
                        int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
                        if (fabsf(d[l][e] - D[row][col]) > 1e-5f) {
                            print_error("%s %s nb=%d: D[%d][%d] = %g, want %g\n",
                                        backends[b].llc, bf ? "bf16" : "f16", nb, row, col,
                                        d[l][e], D[row][col]);
                            fail();
                        }
                        float pw = exp2f(D[row][col] - mx[row]);
                        float pg = fh((uint16_t)(p[l][e >> 1] >> (16 * (e & 1))));
                        assert_true(fabsf(pg - pw) <= 1e-3f);
                    }
                }
            }
        }
}

/* misc: loops, a reduction, atomics, a vote, integer intrinsics, conversions. */
static void test_misc(void **state)
{
    NEED_LLC();
    enum { NT = 128 * 5, NIN = NT - 37 };
    float in[NT];
    int32_t ints[NT];
    EtRng r = {32};
    for (int i = 0; i < NT; i++) {
        in[i] = et_randf(&r, -4, 8);
        ints[i] = (int32_t)et_rand(&r) >> (i % 20);
    }
    for (int b = 0; b < nbackends; b++) {
        uint32_t out[NT][8];
        float sums[5];
        uint32_t counter = 0;
        void *pi = in, *pn = ints, *po = out, *ps = sums, *pc = &counter;
        int32_t n = NIN;
        void *args[] = {&pi, &pn, &n, &po, &ps, &pc};
        EmuRegion regs[] = {{in, sizeof in, false}, {ints, sizeof ints, false},
                            {out, sizeof out, true}, {sums, sizeof sums, true},
                            {&counter, 4, true}};
        EtConfig c = ET_CONFIG(5, 128);
        c.host_threads = 2;
        c.uninit = true;
        char *msg;
        if (et_launch(mods[1][b], "misc", args, regs, 5, c, &msg, NULL)) {
            print_error("%s: %s\n", backends[b].llc, msg);
            free(msg);
            fail();
        }
        assert_int_equal(counter, NT);
        for (int blk = 0; blk < 5; blk++) {
            float red[128];
            for (int t = 0; t < 128; t++)
                red[t] = blk * 128 + t < NIN ? in[blk * 128 + t] : 0.0f;
            for (int st = 64; st > 0; st >>= 1)
                for (int t = 0; t < st; t++)
                    red[t] += red[t + st];
            assert_true(sums[blk] == red[0]);
        }
        for (int i = 0; i < NT; i++) {
            float v = i < NIN ? in[i] : 0.0f;
            int32_t vi = i < NIN ? ints[i] : 0;
            uint32_t uv = (uint32_t)vi;
            float s = 0;
            for (int k = 0; k < i % 5; k++)
                s += v * (float)k;
            uint32_t ballot = 0;
            for (int l = 0; l < 32; l++) {
                int j = (i & ~31) + l;
                ballot |= (uint32_t)((j < NIN ? in[j] : 0.0f) > 0) << l;
            }
            uint32_t mn = uv < 1000 ? uv : 1000;
            int32_t mx = vi > -7 ? vi : -7;
            uint32_t pop = (uint32_t)__builtin_popcount(uv), lz = uv ? (uint32_t)__builtin_clz(uv) : 32;
            uint32_t mix = mn + (uint32_t)mx + (pop ^ lz) * 1000003u;
            uint32_t rv = 0;
            for (int k = 0; k < 32; k++)
                rv |= ((uv >> k) & 1) << (31 - k);
            unsigned sh = (unsigned)(i % 5);
            uint32_t fs = sh ? (uv << sh) | (mn >> (32 - sh)) : uv;
            float q = v / 3.0f;
            uint32_t qb = bits_of_f32(q);
            uint32_t bfw = (qb + 0x7fff + ((qb >> 16) & 1)) >> 16;
            uint32_t want[8] = {bits_of_f32(s), ballot, mix, rv, fs, bits_of_f32(sqrtf(q)), bfw,
                                (uint32_t)(int32_t)s};
            for (int k = 0; k < 8; k++)
                if (out[i][k] != want[k] && !(k == 5 && q < 0 && isnan(f32_of_bits(out[i][k])))) {
                    print_error("%s: out[%d][%d] = 0x%x, want 0x%x\n", backends[b].llc, i, k,
                                out[i][k], want[k]);
                    fail();
                }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mma_softmax),
        cmocka_unit_test(test_misc),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
