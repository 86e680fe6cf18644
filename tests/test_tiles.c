/* Tiles whose dims are multiples of 16 but not powers of two (48, 80, 112,
 * 176, 192): elementwise work, reductions along each axis, reshapes, dots
 * (mma.sync on sm_80, wgmma m64nNk16 with N the tile's on sm_90a) and
 * attention at FlashAttention-3's block sizes, on the interpreter and on the
 * emulator with the code of sm_80 and sm_90a, against double-precision C on
 * odd tensor sizes (loads and stores crossing the ends), outputs poisoned.
 * The same on 12 warps (three warpgroups, ir/layout.h's wrep): a dim with a
 * factor 3 split over the three groups of warps (reductions along it meet in
 * shared memory), or none (the groups hold replicas). */
#include "attn_check.h"
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

static const char *const TILES = "tests/programs/tiles.tsr";

enum { M = 113, N = 203, KD = 217 };

static TirModule *compile_with(const char *path, const char *const *kv, int n)
{
    Define defs[8];
    for (int i = 0; i < n; i++) {
        defs[i].name = kv[2 * i];
        defs[i].value = kv[2 * i + 1];
    }
    return compile_file_or_fail(path, defs, n);
}

/* Fails unless got is within tol of want (and was written). */
static void expect_near(const char *what, const char *place, int64_t i, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s on %s: element %lld is %.9g, want %.9g (tolerance %.3g)", what, place, (long long)i, got, want,
                 tol);
}

/* ---------------------------------------------------- rows, cols, reshapes */

static void rows_case(const char *T, const char *bm, const char *bn, const char *w)
{
    const char *kv[] = { "T", T, "BM", bm, "BN", bn, "W", w };
    TirModule *m = compile_with(TILES, kv, 4);
    TirFunc *f = module_func(m, "rows");
    DType dt = strcmp(T, "f16") == 0 ? DT_F16 : strcmp(T, "bf16") == 0 ? DT_BF16 : DT_F32;
    int64_t xs[2] = { M, N }, ns[1] = { N }, ms[1] = { M };
    Rng rng;
    rng_seed(&rng, 5);
    HostTensor x = tensor_new(dt, 2, xs), v = tensor_new(DT_F32, 1, ns);
    tensor_fill_normal(&x, &rng, 1.0);
    tensor_fill_normal(&v, &rng, 1.0);
    double eps = dt == DT_F32 ? 0x1p-24 : dt == DT_F16 ? 0x1p-11 : 0x1p-8;
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor z = tensor_new(dt, 2, xs), rs = tensor_new(DT_F32, 1, ms), rm = tensor_new(DT_F32, 1, ms),
                   io = tensor_new(DT_I32, 1, ns);
        tensor_poison(&z);
        tensor_poison(&rs);
        tensor_poison(&rm);
        tensor_poison(&io);
        KernelArg args[6] = { arg_tensor(x), arg_tensor(v), arg_tensor(z), arg_tensor(rs), arg_tensor(rm), arg_tensor(io) };
        run_kernel_at_or_fail(f, args, 6, place);
        char what[64];
        snprintf(what, sizeof what, "rows %s %sx%s on %s warps", T, bm, bn, w);
        for (int64_t i = 0; i < M; i++) {
            double sum = 0, sabs = 0, mx = -INFINITY;
            for (int64_t j = 0; j < N; j++) {
                double e = tensor_get(&x, i * N + j), want = 2 * e + tensor_get(&v, j);
                sum += e;
                sabs += fabs(e);
                mx = e > mx ? e : mx;
                expect_near(what, run_places[place], i * N + j, tensor_get(&z, i * N + j), want,
                            eps * (fabs(want) + 2 * fabs(e)) + 1e-30);
            }
            expect_near(what, run_places[place], i, tensor_get(&rs, i), sum, N * 0x1p-24 * sabs);
            expect_near(what, run_places[place], i, tensor_get(&rm, i), mx, 0);
        }
        for (int64_t j = 0; j < N; j++)
            expect_near(what, run_places[place], j, tensor_get(&io, j), 3.0 * (double)j, 0);
        tensor_free(&z);
        tensor_free(&rs);
        tensor_free(&rm);
        tensor_free(&io);
    }
    tensor_free(&x);
    tensor_free(&v);
    tir_module_free(m);
}

static void rows(void **state)
{
    (void)state;
    rows_case("f32", "16", "48", "4");
    rows_case("f32", "48", "80", "4");
    rows_case("f16", "80", "176", "4");
    rows_case("bf16", "64", "112", "4");
    rows_case("f32", "192", "64", "12"); /* the groups of warps along the rows */
    rows_case("f32", "16", "192", "12"); /* along the reduced axis */
    rows_case("f16", "64", "80", "12");  /* replicas */
    rows_case("f32", "48", "48", "3");
    rows_case("bf16", "32", "96", "6");
}

static void cols_case(const char *bm, const char *bn, const char *w)
{
    const char *kv[] = { "BM", bm, "BN", bn, "W", w };
    TirModule *m = compile_with(TILES, kv, 3);
    TirFunc *fc = module_func(m, "cols"), *fr = module_func(m, "reshapes"), *ft = module_func(m, "transposes");
    int64_t xs[2] = { M, N }, ns[1] = { N }, ts[2] = { N, M };
    Rng rng;
    rng_seed(&rng, 7);
    HostTensor x = tensor_new(DT_F32, 2, xs);
    tensor_fill_normal(&x, &rng, 1.0);
    char what[64];
    snprintf(what, sizeof what, "cols %sx%s on %s warps", bm, bn, w);
    for (int place = 0; place < RUN_PLACES; place++) {
        HostTensor cs = tensor_new(DT_F32, 1, ns), cm = tensor_new(DT_F32, 1, ns), z = tensor_new(DT_F32, 2, xs),
                   t = tensor_new(DT_F32, 2, ts);
        tensor_poison(&t);
        tensor_poison(&cs);
        tensor_poison(&cm);
        tensor_poison(&z);
        KernelArg args[3] = { arg_tensor(x), arg_tensor(cs), arg_tensor(cm) };
        run_kernel_at_or_fail(fc, args, 3, place);
        KernelArg rargs[2] = { arg_tensor(x), arg_tensor(z) };
        run_kernel_at_or_fail(fr, rargs, 2, place);
        KernelArg targs[2] = { arg_tensor(x), arg_tensor(t) };
        run_kernel_at_or_fail(ft, targs, 2, place);
        for (int64_t j = 0; j < N; j++) {
            double sum = 0, sabs = 0, mn = INFINITY;
            for (int64_t i = 0; i < M; i++) {
                double e = tensor_get(&x, i * N + j);
                sum += e;
                sabs += fabs(e);
                mn = e < mn ? e : mn;
                expect_near("reshapes", run_places[place], i * N + j, tensor_get(&z, i * N + j), e + 1.0,
                            0x1p-23 * (fabs(e) + 1));
                expect_near("transposes", run_places[place], j * M + i, tensor_get(&t, j * M + i), 3 * e,
                            0x1p-23 * fabs(3 * e));
            }
            expect_near(what, run_places[place], j, tensor_get(&cs, j), sum, M * 0x1p-24 * sabs);
            expect_near(what, run_places[place], j, tensor_get(&cm, j), mn, 0);
        }
        tensor_free(&cs);
        tensor_free(&cm);
        tensor_free(&z);
        tensor_free(&t);
    }
    tensor_free(&x);
    tir_module_free(m);
}

static void cols(void **state)
{
    (void)state;
    cols_case("48", "16", "4");
    cols_case("80", "48", "4");
    cols_case("176", "80", "4");
    cols_case("48", "80", "4");
    cols_case("192", "32", "12"); /* the groups of warps along the reduced axis */
    cols_case("64", "192", "12"); /* along the other */
    cols_case("64", "64", "12");  /* replicas */
    cols_case("48", "96", "24");
}

/* ------------------------------------------------------------------ dots */

/* dsl/examples/matmul.tsr at block sizes bm x bn x bk on f16 (or bf16)
 * inputs with an f32 result; on sm_90a the PTX must hold wgmma m64nNk16
 * with N = bn (its last chunk past 256) when want_wgmma. */
static void matmul_case_at(const char *T, int bm, int bn, int bk, int warps, bool want_wgmma, bool sm80)
{
    char sbm[16], sbn[16], sbk[16], sw[16];
    snprintf(sbm, sizeof sbm, "%d", bm);
    snprintf(sbn, sizeof sbn, "%d", bn);
    snprintf(sbk, sizeof sbk, "%d", bk);
    snprintf(sw, sizeof sw, "%d", warps);
    const char *kv[] = { "T", T, "OT", "f32", "BM", sbm, "BN", sbn, "BK", sbk, "W", sw };
    TirModule *m = compile_with("dsl/examples/matmul.tsr", kv, 6);
    TirFunc *f = module_func(m, "matmul");
    DType dt = strcmp(T, "bf16") == 0 ? DT_BF16 : DT_F16;
    int64_t as[2] = { M, KD }, bs[2] = { KD, N }, cs[2] = { M, N };
    Rng rng;
    rng_seed(&rng, 11);
    HostTensor a = tensor_new(dt, 2, as), b = tensor_new(dt, 2, bs);
    tensor_fill_normal(&a, &rng, 1.0);
    tensor_fill_normal(&b, &rng, 1.0);
    const char *targets[2] = { "sm_80", "sm_90a" };
    for (int place = 0; place < 3; place++) {
        if (place == 1 && !sm80)
            continue;
        HostTensor c = tensor_new(DT_F32, 2, cs);
        tensor_poison(&c);
        KernelArg args[3] = { arg_tensor(a), arg_tensor(b), arg_tensor(c) };
        StrBuf err;
        sb_init(&err);
        char *ptx = NULL;
        bool ok;
        if (place == 0) {
            ok = run_kernel_at(f, args, 3, 0, &err);
        } else {
            EmuRunOptions o = { 0 };
            o.target = targets[place - 1];
            o.check_races = o.check_uninit = true;
            o.host_threads = 2;
            o.ptx = &ptx;
            ok = emu_run_kernel(f, args, 3, &o, &err);
        }
        const char *where = place ? targets[place - 1] : "interp";
        if (!ok)
            fail_msg("matmul %dx%dx%d on %d warps on %s: %s", bm, bn, bk, warps, where, err.data);
        sb_free(&err);
        if (place == 2) {
            char want[64];
            snprintf(want, sizeof want, "wgmma.mma_async.sync.aligned.m64n%dk16", bn > 256 ? bn - 256 : bn);
            if (!ptx || !strstr(ptx, want) != !want_wgmma)
                fail_msg("matmul %dx%dx%d on %d warps on sm_90a: the PTX %s %s", bm, bn, bk, warps,
                         want_wgmma ? "has no" : "has", want);
        }
        free(ptx);
        char what[64];
        snprintf(what, sizeof what, "matmul %s %dx%dx%d on %d warps", T, bm, bn, bk, warps);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double sum = 0, sabs = 0;
                for (int64_t k = 0; k < KD; k++) {
                    double p = tensor_get(&a, i * KD + k) * tensor_get(&b, k * N + j);
                    sum += p;
                    sabs += fabs(p);
                }
                expect_near(what, where, i * N + j, tensor_get(&c, i * N + j), sum, KD * 0x1p-24 * sabs);
            }
        tensor_free(&c);
    }
    tensor_free(&a);
    tensor_free(&b);
    tir_module_free(m);
}

static void matmul_case(const char *T, int bm, int bn, int bk, int warps, bool want_wgmma)
{
    matmul_case_at(T, bm, bn, bk, warps, want_wgmma, true);
}

static void dots(void **state)
{
    (void)state;
    matmul_case("f16", 64, 80, 32, 4, true);   /* wgmma n80 */
    matmul_case("f16", 64, 176, 80, 4, true);  /* n176, K-major A in 32-byte panels */
    matmul_case("bf16", 128, 48, 48, 4, true); /* n48, two warpgroup slabs */
    matmul_case("f16", 192, 112, 16, 4, true); /* three 64-row slabs a warpgroup */
    matmul_case("f16", 64, 272, 16, 4, true);  /* N in chunks of 256 and 16 */
    matmul_case("f16", 48, 80, 48, 4, false);  /* M = 48: mma.sync on every target */
    matmul_case("f16", 80, 48, 16, 4, false);
    /* 12 warps: three warpgroups, a 64-row slab each (16 rows a warp; A
     * from shared memory at the warpgroup's slab); other M leave the groups
     * replicas on mma.sync */
    matmul_case("f16", 192, 128, 64, 12, true);
    matmul_case("bf16", 192, 80, 32, 12, true);
    matmul_case("f16", 128, 64, 32, 12, false);
    matmul_case("f16", 384, 64, 16, 12, false);
    /* a 256-column wgmma asks more registers at the start than 512 threads
     * leave: no copying warpgroup (384 threads), wgmma still (sm_80's
     * shared memory cannot hold the f32 result's scratch) */
    matmul_case_at("f16", 192, 256, 16, 12, true, false);
    matmul_case("f16", 48, 48, 32, 3, false); /* 3 warps: 16 rows each, mma.sync */
}

/* ------------------------------------------------------------- attention */

typedef struct {
    int D, bm, bn, warps, stages_sm80;
} AttnTiles;

/* FlashAttention-3's shapes at D = 128 and 256, and a small odd one. On
 * sm_80 the two big ones need a single stage to fit in shared memory. D =
 * 64's 192 x 128 on three consumer warpgroups (12 warps; 16 with the
 * producer, pingpong between three) is checked for races too. */
static const AttnTiles attn_tiles[] = {
    { 128, 128, 176, 8, 1 },
    { 256, 128, 80, 8, 1 },
    { 64, 64, 48, 4, 2 },
    { 64, 192, 128, 12, 2 },
};

static TirModule *attn_tiles_compile(const AttnTiles *c, DType dt, bool causal, int stages)
{
    char d[16], bm[16], bn[16], w[16], st[16];
    snprintf(d, sizeof d, "%d", c->D);
    snprintf(bm, sizeof bm, "%d", c->bm);
    snprintf(bn, sizeof bn, "%d", c->bn);
    snprintf(w, sizeof w, "%d", c->warps);
    snprintf(st, sizeof st, "%d", stages);
    const char *kv[] = { "T", dtype_name(dt), "D", d, "BM", bm, "BN", bn, "W", w, "CAUSAL", causal ? "true" : "false",
                         "STAGES", st };
    return compile_with("kernels/attention.tsr", kv, 7);
}

static void attention(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof attn_tiles / sizeof attn_tiles[0]; i++)
        for (int causal = 0; causal < 2; causal++) {
            const AttnTiles *c = &attn_tiles[i];
            DType dt = causal ? DT_BF16 : DT_F16;
            AttnShape s = { 1, 2, 1, 113, 203, c->D, causal == 1, 1.0 / sqrt((double)c->D) };
            char what[96];
            TirModule *m = attn_tiles_compile(c, dt, causal, 2);
            TirFunc *f = module_func(m, "attention_fwd");
            snprintf(what, sizeof what, "interp %dx%d D=%d", c->bm, c->bn, c->D);
            AttnErrors e = attn_check_run(f, dt, s, 300 + i, attn_run_interp, NULL);
            attn_check_assert(&e, dt, &s, what);
            EmuRunOptions o = { 0 };
            o.host_threads = 2;
            o.check_races = o.check_uninit = i >= 2;
            char *ptx = NULL;
            o.ptx = &ptx;
            snprintf(what, sizeof what, "sm_90a %dx%d D=%d", c->bm, c->bn, c->D);
            e = attn_check_run(f, dt, s, 400 + i, attn_run_emu, &o);
            attn_check_assert(&e, dt, &s, what);
            char want[64];
            snprintf(want, sizeof want, "wgmma.mma_async.sync.aligned.m64n%dk16", c->bn);
            if (!ptx || !strstr(ptx, want) || !strstr(ptx, "cp.async.bulk.tensor"))
                fail_msg("%s: the PTX has no %s or no TMA copy", what, want);
            /* three consumer warpgroups and the producer: 512 threads, 160
             * registers each after reallocation, turns between the three */
            if (c->warps == 12 && (!strstr(ptx, ".maxntid 512") || !strstr(ptx, "setmaxnreg.inc.sync.aligned.u32 160;") ||
                                   !strstr(ptx, "setmaxnreg.dec.sync.aligned.u32 24;") || !strstr(ptx, "bar.sync %r")))
                fail_msg("%s: no warp specialization with pingpong on 512 threads", what);
            free(ptx);
            if (c->warps == 12) {
                /* persistent: one block walks both instances, the producer and
                 * the three warpgroups' turns carried from one to the next */
                EmuRunOptions op = { 0 };
                op.host_threads = 2;
                op.persistent_blocks = 1;
                snprintf(what, sizeof what, "sm_90a persistent %dx%d D=%d", c->bm, c->bn, c->D);
                e = attn_check_run(f, dt, s, 450 + i, attn_run_emu, &op);
                attn_check_assert(&e, dt, &s, what);
            }
            tir_module_free(m);

            m = attn_tiles_compile(c, dt, causal, c->stages_sm80);
            f = module_func(m, "attention_fwd");
            EmuRunOptions o80 = { 0 };
            o80.target = "sm_80";
            o80.host_threads = 2;
            o80.check_races = o80.check_uninit = i == 3;
            snprintf(what, sizeof what, "sm_80 %dx%d D=%d", c->bm, c->bn, c->D);
            e = attn_check_run(f, dt, s, 500 + i, attn_run_emu, &o80);
            attn_check_assert(&e, dt, &s, what);
            tir_module_free(m);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows),
        cmocka_unit_test(cols),
        cmocka_unit_test(dots),
        cmocka_unit_test(attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
