/* Persistent kernels (CodegenOptions.persistent, TSR_COMPILE_PERSISTENT):
 * each launched block runs the program's instances from its index in steps
 * of the blocks launched. Every instance must run exactly once whatever
 * the number of blocks (fewer or more than the instances), with its own
 * program ids and the program's num_programs, in the order the kernel's
 * `schedule` clause asks for; and attention compiled persistent must give
 * what it gives otherwise, against the double-precision reference, on the
 * emulator for sm_90a and sm_80, and agree with the interpreter. */
#include "attn_check.h"
#include "emu_run.h"
#include "jitcache.h"
#include "target.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Each instance adds 1 to its own element of Count and writes its program
 * ids and num_programs; instances with a == 1 return first (the return of
 * an instance must not end the block's loop). A shared tile (the dot's
 * operands) is reused by every instance a block runs. */
static const char tiles_src[] =
    "kernel tiles(X: f16[16, 16], Count: out f32[C, B, A], Ids: out i32[C, B, A, 8], Sums: out f32[C, B, A, 16])\n"
    "  grid (A, B, C) warps 4 {\n"
    "    let a = program_id(0);\n"
    "    let b = program_id(1);\n"
    "    let c = program_id(2);\n"
    "    Ids[c, b, a, 0] = a;\n"
    "    Ids[c, b, a, 1] = b;\n"
    "    Ids[c, b, a, 2] = c;\n"
    "    Ids[c, b, a, 3] = num_programs(0);\n"
    "    Ids[c, b, a, 4] = num_programs(1);\n"
    "    Ids[c, b, a, 5] = num_programs(2);\n"
    "    let x = X[0 : +16, 0 : +16];\n"
    "    let d = dot(x, transpose(x));\n"
    "    Sums[c, b, a, :] = rowsum(d) + f32(a);\n"
    "    Ids[c, b, a, 6] = 6;\n"
    "    Ids[c, b, a, 7] = 7;\n"
    "    if a == 1 {\n"
    "        return;\n"
    "    }\n"
    "    atomic_add(Count[c, b, a], 1.0);\n"
    "}\n";

/* Each instance's last use of shared memory is a read (the dot's
 * operands) and its first a write (the copy of its operand): the next
 * instance a block runs must not overwrite what a slower warp still reads. */
static const char reuse_src[] =
    "kernel reuse(X: f16[N, 64], Y: out f32[N, N]) grid (cdiv(N, 64), cdiv(N, 64)) warps 4 {\n"
    "    let i = program_id(0) * 64;\n"
    "    let j = program_id(1) * 64;\n"
    "    let d = dot(X[i : +64, :], transpose(X[j : +64, :]));\n"
    "    Y[i : +64, j] = rowsum(d);\n"
    "}\n";

/* On one block the instances run one after the other: each reads the
 * clock, writes it as its rank and advances it. (Instances reading what
 * others write break §11 of dsl/README.md in general; one block that runs
 * them in turn, with its barrier between instances, orders them.) */
static const char order_src[] =
    "kernel order<OUTER: int = 0, REV: bool = false>(Clock: out i32[1], Rank: out i32[C, B, A])\n"
    "  grid (A, B, C) warps 2 {\n"
    "    let t = Clock[0];\n"
    "    Rank[program_id(2), program_id(1), program_id(0)] = t;\n"
    "    Clock[0] = t + 1;\n"
    "}\n"
    "kernel order_sched<OUTER: int = 0, REV: bool = false>(Clock: out i32[1], Rank: out i32[C, B, A])\n"
    "  grid (A, B, C) warps 2 schedule(OUTER, reverse = REV) {\n"
    "    let t = Clock[0];\n"
    "    Rank[program_id(2), program_id(1), program_id(0)] = t;\n"
    "    Clock[0] = t + 1;\n"
    "}\n";

enum { PLACES = 3 };
static const char *const places[PLACES] = { "interp", "sm_80", "sm_90a" };

static void run_tiles(TirFunc *f, int place, int blocks, int A, int B, int C)
{
    int64_t xs[2] = { 16, 16 }, cs[3] = { C, B, A }, is[4] = { C, B, A, 8 }, ss[4] = { C, B, A, 16 };
    HostTensor x = tensor_new(DT_F16, 2, xs), count = tensor_new(DT_F32, 3, cs), ids = tensor_new(DT_I32, 4, is);
    HostTensor sums = tensor_new(DT_F32, 4, ss);
    for (int64_t i = 0; i < 256; i++)
        tensor_set(&x, i, (double)(i % 5) - 2.0);
    double want_sum[16] = { 0 }; /* row sums of x x^T */
    for (int r = 0; r < 16; r++)
        for (int j = 0; j < 16; j++)
            for (int k = 0; k < 16; k++)
                want_sum[r] += (double)((16 * r + k) % 5 - 2) * (double)((16 * j + k) % 5 - 2);
    for (int64_t i = 0; i < tensor_numel(&count); i++)
        tensor_set(&count, i, 0.0);
    tensor_poison(&ids);
    tensor_poison(&sums);
    KernelArg args[4] = { arg_tensor(x), arg_tensor(count), arg_tensor(ids), arg_tensor(sums) };
    StrBuf err;
    sb_init(&err);
    bool ok;
    if (place == 0) {
        ok = interp_launch(f, args, 4, 2, &err);
    } else {
        EmuRunOptions o = { 0 };
        o.target = places[place];
        o.persistent_blocks = blocks;
        o.check_races = o.check_uninit = true;
        o.host_threads = 2;
        char *ptx = NULL;
        o.ptx = &ptx;
        ok = emu_run_kernel(f, args, 4, &o, &err);
        if (ok && (!ptx || !strstr(ptx, "%nctaid.x")))
            fail_msg("%s: the persistent PTX does not read the launched grid", places[place]);
        free(ptx);
    }
    if (!ok)
        fail_msg("%s, %d blocks, grid %d x %d x %d: %s", places[place], blocks, A, B, C, err.data);
    sb_free(&err);
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            for (int a = 0; a < A; a++) {
                int64_t t = ((int64_t)c * B + b) * A + a;
                double n = tensor_get(&count, t);
                if (n != (a == 1 ? 0.0 : 1.0))
                    fail_msg("%s, %d blocks, grid %d x %d x %d: instance (%d, %d, %d) ran %g times", places[place],
                             blocks, A, B, C, a, b, c, n);
                double want[8] = { a, b, c, A, B, C, 6, 7 };
                for (int k = 0; k < 8; k++)
                    if (tensor_get(&ids, t * 8 + k) != want[k])
                        fail_msg("%s, %d blocks, grid %d x %d x %d: instance (%d, %d, %d) wrote %g at %d, not %g",
                                 places[place], blocks, A, B, C, a, b, c, tensor_get(&ids, t * 8 + k), k, want[k]);
                for (int r = 0; r < 16; r++)
                    if (tensor_get(&sums, t * 16 + r) != want_sum[r] + a)
                        fail_msg("%s, %d blocks, grid %d x %d x %d: instance (%d, %d, %d) row sum %d is %g, not %g",
                                 places[place], blocks, A, B, C, a, b, c, r, tensor_get(&sums, t * 16 + r),
                                 want_sum[r] + a);
            }
    tensor_free(&x);
    tensor_free(&count);
    tensor_free(&ids);
    tensor_free(&sums);
}

/* Every instance once, with grids of fewer and more instances than the
 * blocks launched, on every device. */
static void every_instance_once(void **state)
{
    (void)state;
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("tiles.tsr", tiles_src, NULL, 0, &diags);
    if (!m)
        fail_msg("%s", diags.data);
    TirFunc *f = module_func(m, "tiles");
    static const int grids[][3] = { { 1, 1, 1 }, { 3, 1, 1 }, { 5, 3, 2 }, { 2, 7, 3 } };
    static const int blocks[] = { 1, 4, 7, 64 };
    for (int p = 0; p < PLACES; p++)
        for (size_t g = 0; g < TSR_ARRAY_LEN(grids); g++)
            for (size_t k = 0; k < TSR_ARRAY_LEN(blocks); k++) {
                if (p == 0 && k > 0)
                    continue; /* interp runs the program's grid */
                run_tiles(f, p, blocks[k], grids[g][0], grids[g][1], grids[g][2]);
            }
    tir_module_free(m);
    sb_free(&diags);
}

static void shared_memory_reuse(void **state)
{
    (void)state;
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("reuse.tsr", reuse_src, NULL, 0, &diags);
    if (!m)
        fail_msg("%s", diags.data);
    TirFunc *f = module_func(m, "reuse");
    int N = 200;
    int64_t xs[2] = { N, 64 }, ys[2] = { N, N };
    HostTensor x = tensor_new(DT_F16, 2, xs);
    Rng rng;
    rng_seed(&rng, 5);
    tensor_fill_normal(&x, &rng, 1.0);
    HostTensor y[2] = { tensor_new(DT_F32, 2, ys), tensor_new(DT_F32, 2, ys) };
    for (int p = 0; p < PLACES; p++) {
        HostTensor *out = &y[p > 0];
        tensor_poison(out);
        KernelArg args[2] = { arg_tensor(x), arg_tensor(*out) };
        StrBuf err;
        sb_init(&err);
        EmuRunOptions o = { 0 };
        o.target = places[p];
        o.persistent_blocks = 3;
        o.check_races = o.check_uninit = true;
        o.host_threads = 2;
        if (!(p == 0 ? interp_launch(f, args, 2, 2, &err) : emu_run_kernel(f, args, 2, &o, &err)))
            fail_msg("%s: %s", places[p], err.data);
        sb_free(&err);
        if (p == 0)
            continue;
        for (int64_t k = 0; k < N * N; k++) /* (the columns not a multiple of 64: poison in both) */
            if (tensor_is_poison(&y[0], k) != tensor_is_poison(&y[1], k) ||
                (!tensor_is_poison(&y[0], k) && !(fabs(tensor_get(&y[0], k) - tensor_get(&y[1], k)) <= 1e-2)))
                fail_msg("%s: element %lld is %g, interp %g", places[p], (long long)k, tensor_get(&y[1], k),
                         tensor_get(&y[0], k));
    }
    tensor_free(&x);
    tensor_free(&y[0]);
    tensor_free(&y[1]);
    tir_module_free(m);
    sb_free(&diags);
}

/* The rank instance (a, b, c) of a grid A x B x C must get: axis `outer`
 * slowest (reversed when rev), the others with axis 0 fastest; outer -1:
 * axis 0 fastest, axis 2 slowest. */
static int64_t want_rank(int outer, bool rev, const int g[3], const int id[3])
{
    int64_t r = 0, scale = 1;
    for (int i = 0; i < 3; i++) {
        if (i == outer)
            continue;
        r += id[i] * scale;
        scale *= g[i];
    }
    if (outer >= 0)
        r += (rev ? g[outer] - 1 - id[outer] : id[outer]) * scale;
    return r;
}

static void schedule_order(void **state)
{
    (void)state;
    static const int grid[3] = { 3, 4, 2 };
    for (int outer = -1; outer < 3; outer++)
        for (int rev = 0; rev < 2; rev++) {
            if (outer < 0 && rev)
                continue;
            char ov[16];
            snprintf(ov, sizeof ov, "%d", outer);
            Define defs[2] = { { "OUTER", ov }, { "REV", rev ? "true" : "false" } };
            StrBuf diags;
            sb_init(&diags);
            TirModule *m = compile_string("order.tsr", order_src, defs, outer < 0 ? 0 : 2, &diags);
            if (!m)
                fail_msg("%s", diags.data);
            TirFunc *f = module_func(m, outer < 0 ? "order" : "order_sched");
            for (int p = 1; p < PLACES; p++) {
                int64_t one = 1, rs[3] = { grid[2], grid[1], grid[0] };
                HostTensor clock = tensor_new(DT_I32, 1, &one), rank = tensor_new(DT_I32, 3, rs);
                tensor_set(&clock, 0, 0);
                tensor_poison(&rank);
                KernelArg args[2] = { arg_tensor(clock), arg_tensor(rank) };
                EmuRunOptions o = { 0 };
                o.target = places[p];
                o.persistent_blocks = 1;
                o.check_races = o.check_uninit = true;
                o.host_threads = 2;
                StrBuf err;
                sb_init(&err);
                if (!emu_run_kernel(f, args, 2, &o, &err))
                    fail_msg("%s: %s", places[p], err.data);
                sb_free(&err);
                for (int c = 0; c < grid[2]; c++)
                    for (int b = 0; b < grid[1]; b++)
                        for (int a = 0; a < grid[0]; a++) {
                            int id[3] = { a, b, c };
                            int64_t at = ((int64_t)c * grid[1] + b) * grid[0] + a;
                            int64_t want = want_rank(outer, rev, grid, id);
                            if (tensor_get(&rank, at) != (double)want)
                                fail_msg("%s, schedule(%d, reverse = %d): instance (%d, %d, %d) ran %g-th, not %lld-th",
                                         places[p], outer, rev, a, b, c, tensor_get(&rank, at), (long long)want);
                        }
                tensor_free(&clock);
                tensor_free(&rank);
            }
            tir_module_free(m);
            sb_free(&diags);
        }
}

/* Attention compiled persistent, against the reference: grids larger than
 * the blocks launched (2 x 6 x 2 instances on 5 blocks) and smaller (one
 * instance), GQA, odd lengths, causal or not, with the emulator's race and
 * uninitialized-register checks on one shape. */
static void attention_variant(DType dt, int D, bool causal)
{
    /* sm_90a with its producer warpgroup, sm_80, sm_90a without the producer */
    const char *targets[] = { "sm_90a", "sm_80", "sm_90a" };
    static const AttnShape shapes[] = {
        { 2, 6, 2, 113, 203, 0, false, 0 },
        { 1, 1, 1, 1, 1, 0, false, 0 },
        { 1, 2, 1, 239, 17, 0, false, 0 },
        { 1, 3, 1, 300, 517, 0, false, 0 }, /* main loops of several iterations: the producer's ring */
    };
    for (int t = 0; t < 3; t++) {
        TirModule *m = attn_compile(targets[t], dt, D, causal, 0, 0);
        TirFunc *f = module_func(m, "attention_fwd");
        for (size_t i = 0; i < TSR_ARRAY_LEN(shapes); i++) {
            if (t == 2 && i != 0 && i != 3)
                continue;
            AttnShape s = shapes[i];
            s.D = D;
            s.causal = causal;
            s.scale = 1.0 / sqrt((double)D);
            EmuRunOptions o = { 0 };
            o.target = targets[t];
            o.no_warp_specialize = t == 2;
            o.persistent_blocks = i == 1 ? 64 : i == 3 ? 2 : 5;
            o.host_threads = 2;
            o.check_races = o.check_uninit = i == 0;
            char *ptx = NULL;
            o.ptx = &ptx;
            AttnErrors e = attn_check_run(f, dt, s, 3000 + i, attn_run_emu, &o);
            /* what ran: a loop over instances; on sm_90a with the producer
             * warpgroup (which walks them too) */
            if (!ptx || !strstr(ptx, "%nctaid.x") || (t == 0) != (strstr(ptx, "setmaxnreg.dec") != NULL))
                fail_msg("%s D=%d: the PTX run is not persistent%s", targets[t], D,
                         t == 0 ? " with a producer warpgroup" : "");
            free(ptx);
            char what[64];
            snprintf(what, sizeof what, "%s persistent%s", targets[t], t == 2 ? " no-ws" : "");
            attn_check_assert(&e, dt, &s, what);
        }
        tir_module_free(m);
    }
}

static void attention_f16_d64_causal(void **state)
{
    (void)state;
    attention_variant(DT_F16, 64, true);
}

static void attention_bf16_d128(void **state)
{
    (void)state;
    attention_variant(DT_BF16, 128, false);
}

/* The option is part of the JIT cache key: a persistent kernel never
 * reads the PTX of the ordinary one. */
static void cache_key(void **state)
{
    (void)state;
    JitKeyInput in = { tiles_src, strlen(tiles_src), NULL, 0, "tiles", "sm_90a", 0, 0,
                       false, false, false, false, false };
    char plain[65], pers[65];
    jit_key(&in, plain);
    in.persistent = true;
    jit_key(&in, pers);
    assert_string_not_equal(plain, pers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cache_key),
        cmocka_unit_test(every_instance_once),
        cmocka_unit_test(shared_memory_reuse),
        cmocka_unit_test(schedule_order),
        cmocka_unit_test(attention_f16_d64_causal),
        cmocka_unit_test(attention_bf16_d128),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
