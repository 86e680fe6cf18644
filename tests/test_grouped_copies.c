/* Copies into shared memory of tensors that allow no 16-byte vectors
 * (backend/codegen_mem.c, copy_grouped): rows of an odd number of elements
 * make every tensor "unaligned", so each thread copies its 16 bytes of a
 * row as one group of element loads, and above 64 bytes a thread through a
 * loop. GEMMs whose A slice starts at shifted (also negative) rows and
 * columns put groups across every edge of the tensor: elements outside read
 * 0 (the bounds rule). Checked on emu for the targets that copy this way
 * against a double-precision reference, outputs poisoned first. */
#include "emu_run.h"
#include "testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char src[] =
    "kernel shifted<T: type, BM: int, BN: int, BK: int, W: int>(A: T[M, K], Bt: T[N, K], C: out f32[M, N],\n"
    "    dm: i32, dk: i32) grid (cdiv(M, BM), cdiv(N, BN)) warps W {\n"
    "    let m0 = program_id(0) * BM;\n"
    "    let n0 = program_id(1) * BN;\n"
    "    var acc = zeros<f32>[BM, BN];\n"
    "    for k in 0 .. K step BK pipeline(2) {\n"
    "        acc = acc + dot(A[m0 + dm : +BM, k + dk : +BK], transpose(Bt[n0 : +BN, k : +BK]));\n"
    "    }\n"
    "    C[m0 : +BM, n0 : +BN] = acc;\n"
    "}\n";

typedef struct {
    const char *dt;
    DType dtype;
    int bm, bn, bk, warps;
    const char *targets[3];
    const char *direct; /* a target whose dots read this tile from global memory into registers (no copy) */
} GroupCase;

/* A[i + dm, k + dk] (0 outside A) times Bt[j, k], summed in double. */
static void check(const GroupCase *c, const char *target, const HostTensor *a, const HostTensor *b,
                  const HostTensor *out, int M, int N, int K, int dm, int dk)
{
    int bad = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double want = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                int ai = i + dm, ak = k + dk;
                if (ai < 0 || ai >= M || ak < 0 || ak >= K)
                    continue;
                double x = tensor_get(a, (int64_t)ai * K + ak) * tensor_get(b, (int64_t)j * K + k);
                want += x;
                mag += fabs(x);
            }
            double got = tensor_get(out, (int64_t)i * N + j);
            if ((tensor_is_poison(out, (int64_t)i * N + j) || !(fabs(got - want) <= mag * K * 0x1p-22)) &&
                ++bad <= 5)
                print_error("%s %s %dx%dx%d dm=%d dk=%d: C[%d, %d] = %.9g, want %.9g\n", target, c->dt, c->bm, c->bn,
                            c->bk, dm, dk, i, j, got, want);
        }
    if (bad)
        fail_msg("%s %s %dx%dx%d dm=%d dk=%d: %d wrong elements", target, c->dt, c->bm, c->bn, c->bk, dm, dk, bad);
}

static void run_case(const GroupCase *c)
{
    char bm[8], bn[8], bk[8], w[8];
    snprintf(bm, sizeof bm, "%d", c->bm);
    snprintf(bn, sizeof bn, "%d", c->bn);
    snprintf(bk, sizeof bk, "%d", c->bk);
    snprintf(w, sizeof w, "%d", c->warps);
    Define defs[5] = { { "T", c->dt }, { "BM", bm }, { "BN", bn }, { "BK", bk }, { "W", w } };
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("shifted.tsr", src, defs, 5, &diags);
    if (!m)
        fail_msg("does not compile:\n%s", diags.data ? diags.data : "");
    sb_free(&diags);
    enum { M = 77, N = 45, K = 101 }; /* odd rows: no tensor allows vectors */
    int64_t sa[2] = { M, K }, sb_[2] = { N, K }, sc[2] = { M, N };
    HostTensor a = tensor_new(c->dtype, 2, sa), b = tensor_new(c->dtype, 2, sb_);
    Rng r;
    rng_seed(&r, (uint64_t)(c->bm * 7 + c->bk));
    tensor_fill_normal(&a, &r, 1.0);
    tensor_fill_normal(&b, &r, 1.0);
    static const int shifts[][2] = { { 0, 0 }, { -5, -3 }, { 3, 7 }, { -70, 90 } };
    for (int t = 0; t < 3 && c->targets[t]; t++)
        for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
            HostTensor out = tensor_new(DT_F32, 2, sc);
            tensor_poison(&out);
            KernelArg args[5] = { arg_tensor(a), arg_tensor(b), arg_tensor(out), arg_scalar(shifts[s][0]),
                                  arg_scalar(shifts[s][1]) };
            EmuRunOptions eo = { 0 };
            char *ptx = NULL;
            eo.target = c->targets[t];
            eo.check_uninit = eo.check_races = s == 1;
            eo.host_threads = 2;
            eo.ptx = &ptx;
            StrBuf err;
            sb_init(&err);
            if (!emu_run_kernel(m->funcs.data[0], args, 5, &eo, &err))
                fail_msg("%s %s %dx%dx%d: %s", c->targets[t], c->dt, c->bm, c->bn, c->bk, err.data);
            sb_free(&err);
            /* the grouped copy: element loads at offsets from one address, packed by bfi */
            bool direct = c->direct && !strcmp(c->direct, c->targets[t]);
            if (!direct && (!ptx || !strstr(ptx, "setp.gt.and.s32") || (c->dtype != DT_F32 && !strstr(ptx, "bfi.b32"))))
                fail_msg("%s %s: no grouped copy in the PTX", c->targets[t], c->dt);
            free(ptx);
            check(c, c->targets[t], &a, &b, &out, M, N, K, shifts[s][0], shifts[s][1]);
            tensor_free(&out);
        }
    tensor_free(&a);
    tensor_free(&b);
    tir_module_free(m);
}

static void grouped_copies(void **state)
{
    (void)state;
    static const GroupCase cases[] = {
        /* 64 bytes a thread or less: straight-line groups */
        { "f16", DT_F16, 64, 64, 32, 4, { "sm_80", "sm_90a" }, NULL },
        { "bf16", DT_BF16, 64, 32, 64, 4, { "sm_80", "sm_90a" }, NULL },
        { "e4m3", DT_E4M3, 64, 64, 64, 4, { "sm_89", "sm_90a" }, "sm_89" },
        { "f32", DT_F32, 32, 32, 8, 4, { "sm_80", "sm_90a" }, NULL },
        /* more: the loop of 64 bytes at a time */
        { "f16", DT_F16, 64, 64, 128, 4, { "sm_80", "sm_90a" }, NULL },
        { "e4m3", DT_E4M3, 128, 64, 256, 4, { "sm_89", "sm_90a" }, "sm_89" },
        { "f32", DT_F32, 64, 64, 32, 4, { "sm_80" }, NULL },
        /* tile dims with odd factors (48 = 3 x 16, 80 = 5 x 16, 96 = 3 x 32): straight-line groups */
        { "f16", DT_F16, 48, 80, 80, 4, { "sm_80", "sm_90a" }, NULL },
        { "e4m3", DT_E4M3, 64, 48, 96, 4, { "sm_89", "sm_90a" }, "sm_89" },
        /* 12 warps: three groups of warps along the 192 rows */
        { "f16", DT_F16, 192, 64, 64, 12, { "sm_80", "sm_90a" }, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(grouped_copies) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
