/* The shape of the generated code, checked with ptxas: every attention
 * variant (head dims 64/128/256, f16/bf16, causal or not, the block sizes of
 * kernels/attention_config.c) and every example program compile to PTX that
 * ptxas accepts for sm_80 and sm_90a, touching no local memory and spilling
 * nothing; attention uses mma.sync, ldmatrix and cp.async. The same for the
 * three kernels of the attention backward pass (kernels/attention_bwd.tsr,
 * blocks from attention_bwd_config), whose shared memory must also fit a
 * block of the target, and of kernels/attention_ext.tsr with its features
 * and kernels/attention_decode.tsr's split and combine kernels. Skips when ptxas is absent. */
#include "abi.h"
#include "attn_bwd_check.h"
#include "attention_config.h"
#include "codegen.h"
#include "compile.h"
#include "ptxas.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

static const char *const targets[] = { "sm_80", "sm_90a" };

/* The PTX of f with the options o (aligned tensors assumed). */
static char *ptx_with(TirFunc *f, CodegenOptions o)
{
    o.assume_aligned = true;
    CodegenResult r;
    Diag diag;
    diag_init(&diag, NULL);
    if (!compile_ptx(f, &o, false, NULL, &r, &diag))
        fail_msg("code generation failed for %s: %s", f->name, diag.out.data ? diag.out.data : "");
    diag_free(&diag);
    char *ptx = r.ptx;
    r.ptx = NULL;
    codegen_result_free(&r);
    return ptx;
}

static char *ptx_of(TirFunc *f, const char *target)
{
    return ptx_with(f, (CodegenOptions){ .target = target });
}

/* wgmma commit groups whose wait does not follow at once (deferred waits:
 * the instructions in between run while the tensor cores work). */
static int deferred_waits(const char *ptx)
{
    int n = 0;
    for (const char *c = strstr(ptx, "wgmma.commit_group"); c; c = strstr(c + 1, "wgmma.commit_group")) {
        const char *line = strchr(c, '\n');
        while (line) { /* the next line that is not an asm comment */
            line += strspn(line, "\n\t ");
            if (strncmp(line, "//", 2))
                break;
            line = strchr(line, '\n');
        }
        if (line && strncmp(line, "wgmma.wait_group", 16))
            n++;
    }
    return n;
}

/* The pingpong turns in the PTX (target_sm90a_ws.c): `op` (bar.sync or
 * bar.arrive) on a named barrier for 256 threads whose id is in a register
 * or 3 and up. */
static int turns(const char *ptx, const char *op)
{
    int n = 0;
    size_t len = strlen(op);
    for (const char *c = strstr(ptx, op); c; c = strstr(c + len, op)) {
        const char *id = c + len + strspn(c + len, " \t");
        bool named = *id == '%' || (*id >= '3' && *id <= '9') || (id[0] == '1' && id[1] >= '0' && id[1] <= '5');
        const char *comma = strchr(id, ',');
        if (named && comma && !strncmp(comma, ", 256;", 6))
            n++;
    }
    return n;
}

/* The LLVM IR the emitter made for f (before LLVM's passes). */
static char *llvm_of(TirFunc *f, const char *target)
{
    CodegenOptions o = { .target = target, .assume_aligned = true };
    CodegenResult r;
    Diag diag;
    diag_init(&diag, NULL);
    if (!compile_ptx(f, &o, true, NULL, &r, &diag))
        fail_msg("code generation failed for %s: %s", f->name, diag.out.data ? diag.out.data : "");
    diag_free(&diag);
    char *ir = r.llvm_ir;
    r.llvm_ir = NULL;
    codegen_result_free(&r);
    return ir;
}

/* Pointers a loop carries (backend/codegen_loop.c): phis named "carried". */
static int carried_phis(const char *ir)
{
    int n = 0;
    for (const char *p = ir; (p = strstr(p, "%carried")); p++)
        if (!strncmp(p + strcspn(p, " "), " = phi", 6))
            n++;
    return n;
}

static char ptxas[4096];

static void require_ptxas(void)
{
    if (!ptxas_find(ptxas, sizeof ptxas)) {
        print_message("SKIP: ptxas not found (set PTXAS or install the CUDA toolkit at /usr/local/cuda)\n");
        skip();
    }
}

/* The PTX of `what` (a kernel and its variant, named in messages) touches
 * no local memory and assembles for target without spills, stack or C75xx
 * warnings (wgmma serialized, a warpgroup fence or wait ptxas had to add). */
/* ptxas takes it, without C75xx warnings and with at most max_spill bytes
 * of spills (stores, loads and stack each). */
static void assert_assembles(const char *ptx, const char *target, const char *what, int max_spill)
{
    if (strstr(ptx, "ld.local") || strstr(ptx, "st.local"))
        fail_msg("%s touches local memory", what);
    PtxasReport rep;
    StrBuf log;
    sb_init(&log);
    if (!ptxas_check(ptxas, ptx, target, &rep, &log))
        fail_msg("ptxas rejects %s:\n%s", what, log.data);
    if (rep.spill_stores > max_spill || rep.spill_loads > max_spill || rep.stack > max_spill)
        fail_msg("%s spills: %d bytes stored, %d loaded, %d of stack:\n%s", what, rep.spill_stores, rep.spill_loads,
                 rep.stack, log.data);
    if (rep.c75xx)
        fail_msg("%s: ptxas -v warns:\n%s", what, log.data);
    sb_free(&log);
}

static void assert_assembles_clean(const char *ptx, const char *target, const char *what)
{
    assert_assembles(ptx, target, what, 0);
}

static void attention_variants(void **state)
{
    (void)state;
    require_ptxas();
    static const int dims[] = { 64, 128, 256 };
    static const DType dts[] = { DT_F16, DT_BF16 };
    for (size_t t = 0; t < 2; t++)
        for (size_t d = 0; d < 3; d++)
            for (size_t k = 0; k < 2; k++)
                for (int causal = 0; causal < 2; causal++) {
                    AttnConfig cfg = attention_config(targets[t], dts[k], dims[d], causal);
                    char bm[16], bn[16], dbuf[16], wbuf[16], sbuf[16];
                    snprintf(bm, sizeof bm, "%d", cfg.bm);
                    snprintf(bn, sizeof bn, "%d", cfg.bn);
                    snprintf(dbuf, sizeof dbuf, "%d", dims[d]);
                    snprintf(wbuf, sizeof wbuf, "%d", cfg.warps ? cfg.warps : 4);
                    snprintf(sbuf, sizeof sbuf, "%d", cfg.stages ? cfg.stages : 2);
                    Define defs[7] = { { "T", dtype_name(dts[k]) }, { "D", dbuf }, { "BM", bm }, { "BN", bn },
                                       { "CAUSAL", causal ? "true" : "false" }, { "W", wbuf }, { "STAGES", sbuf } };
                    TirModule *m = compile_file_or_fail("kernels/attention.tsr", defs, 7);
                    char *ptx = ptx_of(module_func(m, "attention_fwd"), targets[t]);
                    /* sm_80: mma.sync from ldmatrix fragments, cp.async copies; sm_90a: wgmma from
                     * descriptors, TMA copies on mbarriers (no mma.sync, ldmatrix or cp.async at all) */
                    bool hopper = strcmp(targets[t], "sm_90a") == 0;
                    const char *sm80[] = { "mma.sync.aligned.m16n8k16.row.col.f32", "ldmatrix.sync.aligned",
                                           "cp.async.cg.shared.global", "cp.async.wait_group", NULL };
                    const char *sm90a[] = { "wgmma.mma_async.sync.aligned.m64n", "wgmma.fence.sync.aligned",
                                            "wgmma.commit_group.sync.aligned", "wgmma.wait_group.sync.aligned 0",
                                            "cp.async.bulk.tensor.4d.shared::cluster.global.tile",
                                            "mbarrier.arrive.expect_tx", "mbarrier.try_wait.parity",
                                            /* a producer warpgroup (target_sm90a_ws.c) */
                                            "384 threads per block", "setmaxnreg.dec.sync.aligned.u32 24",
                                            "setmaxnreg.inc.sync.aligned.u32 240", "bar.arrive 2, 288",
                                            "mbarrier.arrive.shared::cta.b64", NULL };
                    for (const char **w = hopper ? sm90a : sm80; *w; w++)
                        if (!strstr(ptx, *w))
                            fail_msg("attention %s D=%d %s: no %s in the PTX", targets[t], dims[d],
                                     dtype_name(dts[k]), *w);
                    if (hopper && (strstr(ptx, "mma.sync") || strstr(ptx, "ldmatrix") || strstr(ptx, "cp.async.cg")))
                        fail_msg("attention sm_90a D=%d %s: mma.sync, ldmatrix or cp.async in the PTX", dims[d],
                                 dtype_name(dts[k]));
                    char what[128];
                    snprintf(what, sizeof what, "attention %s %s D=%d causal=%d BM=%s BN=%s", targets[t],
                             dtype_name(dts[k]), dims[d], causal, bm, bn);
                    assert_assembles_clean(ptx, targets[t], what);
                    /* the PV dot's wait comes after the row sums (deferred waits) */
                    if (hopper && deferred_waits(ptx) == 0)
                        fail_msg("%s: every wgmma group is waited for at once", what);
                    /* two consumer warpgroups take turns in both loops of the split key loop: a
                     * sync and an arrive in each, the first turn given and the last taken back */
                    int sync = turns(ptx, "bar.sync"), arrive = turns(ptx, "bar.arrive");
                    if (hopper && cfg.warps == 8 && (sync != 3 || arrive != 3))
                        fail_msg("%s: %d pingpong syncs and %d arrives, not 3 and 3", what, sync, arrive);
                    if (!hopper && (sync || arrive))
                        fail_msg("%s: pingpong turns on sm_80", what);
                    free(ptx);
                    if (hopper) { /* without pingpong (the ablation) */
                        ptx = ptx_with(module_func(m, "attention_fwd"),
                                       (CodegenOptions){ .target = targets[t], .no_pingpong = true });
                        if (turns(ptx, "bar.sync") || turns(ptx, "bar.arrive"))
                            fail_msg("%s with --no-pingpong: pingpong turns", what);
                        assert_assembles_clean(ptx, targets[t], what);
                        free(ptx);
                    }
                    if (hopper) { /* with every wait at once (the ablation) */
                        ptx = ptx_with(module_func(m, "attention_fwd"),
                                       (CodegenOptions){ .target = targets[t], .no_overlap = true });
                        if (deferred_waits(ptx) != 0)
                            fail_msg("%s with --no-overlap: a wgmma wait is deferred", what);
                        free(ptx);
                    }
                    if (hopper) { /* persistent (its producer walking the instances too): 24 bytes
                                   * of spills at causal D=128 with LLVM 19, once per instance outside
                                   * the key loops (bench/results/persistent-ptxas.md), none elsewhere */
                        ptx = ptx_with(module_func(m, "attention_fwd"),
                                       (CodegenOptions){ .target = targets[t], .persistent = true });
                        if (!strstr(ptx, "%nctaid.x") || !strstr(ptx, "setmaxnreg.dec"))
                            fail_msg("%s persistent: no loop of instances, or no producer", what);
                        char pwhat[160];
                        snprintf(pwhat, sizeof pwhat, "%s persistent", what);
                        assert_assembles(ptx, targets[t], pwhat, causal && dims[d] == 128 ? 32 : 0);
                        free(ptx);
                    }
                    if (hopper) { /* and without the producer: the kernel's own warps copy */
                        ptx = ptx_with(module_func(m, "attention_fwd"),
                                       (CodegenOptions){ .target = targets[t], .no_warp_specialize = true });
                        if (!strstr(ptx, "256 threads per block") || strstr(ptx, "setmaxnreg") ||
                            strstr(ptx, "bar.arrive") || !strstr(ptx, "cp.async.bulk.tensor"))
                            fail_msg("%s without warp specialization: a producer, or no TMA", what);
                        strncat(what, " no-ws", sizeof what - strlen(what) - 1);
                        assert_assembles_clean(ptx, targets[t], what);
                        free(ptx);
                    }
                    tir_module_free(m);
                }
}

/* The loop's hint `pipeline(S, ..., pingpong = B)`: attention's key loop
 * written with pingpong = false has no turns on sm_90a (two consumer
 * warpgroups), with pingpong = true the three of attention_variants, and
 * either assembles clean. */
static void pingpong_hint(void **state)
{
    (void)state;
    require_ptxas();
    size_t len = 0;
    char *text = tsr_read_file("kernels/attention.tsr", &len);
    assert_non_null(text);
    /* the key loop's options end at the ") {" after "pipeline(" */
    char *open = strstr(text, "pipeline(");
    assert_non_null(open);
    char *at = strstr(open, ") {");
    assert_non_null(at);
    AttnConfig cfg = attention_config("sm_90a", DT_F16, 128, false);
    assert_int_equal(cfg.warps, 8);
    char bm[16], bn[16];
    snprintf(bm, sizeof bm, "%d", cfg.bm);
    snprintf(bn, sizeof bn, "%d", cfg.bn);
    Define defs[6] = { { "T", "f16" }, { "D", "128" }, { "BM", bm }, { "BN", bn }, { "CAUSAL", "false" }, { "W", "8" } };
    for (int on = 0; on < 2; on++) {
        StrBuf src = { 0 }, diags = { 0 };
        sb_printf(&src, "%.*s, pingpong = %s%s", (int)(at - text), text, on ? "true" : "false", at);
        TirModule *m = compile_string("attention.tsr", src.data, defs, 6, &diags);
        if (!m)
            fail_msg("attention with pingpong = %d: %s", on, diags.data);
        char *ptx = ptx_of(module_func(m, "attention_fwd"), "sm_90a");
        int sync = turns(ptx, "bar.sync"), arrive = turns(ptx, "bar.arrive");
        if (on ? sync != 3 || arrive != 3 : sync || arrive)
            fail_msg("attention with pingpong = %s: %d turn syncs and %d arrives", on ? "true" : "false", sync, arrive);
        assert_assembles_clean(ptx, "sm_90a", on ? "attention pingpong = true" : "attention pingpong = false");
        free(ptx);
        tir_module_free(m);
        sb_free(&src);
        sb_free(&diags);
    }
    free(text);
}

/* FlashAttention-3's 192 x 128 blocks at D=64 on three consumer warpgroups
 * (W = 12; ir/layout.h's wrep: a 64-row slab per warpgroup): with the
 * producer 512 threads, 128 registers at entry, the producer down to 24 and
 * the consumers up to 160 (24 x 128 + 160 x 384 <= 128 x 512); every dot on
 * wgmma, turns between the three warpgroups in both loops of the split, and
 * no spills or C75xx, f16 and bf16, causal or not. */
static void three_consumer_warpgroups(void **state)
{
    (void)state;
    require_ptxas();
    for (int k = 0; k < 2; k++)
        for (int causal = 0; causal < 2; causal++) {
            Define defs[6] = { { "T", k ? "bf16" : "f16" }, { "D", "64" }, { "BM", "192" }, { "BN", "128" },
                               { "CAUSAL", causal ? "true" : "false" }, { "W", "12" } };
            TirModule *m = compile_file_or_fail("kernels/attention.tsr", defs, 6);
            char *ptx = ptx_of(module_func(m, "attention_fwd"), "sm_90a");
            char what[96];
            snprintf(what, sizeof what, "attention sm_90a %s D=64 causal=%d 192x128 on 12 warps", defs[0].value,
                     causal);
            const char *want[] = { "512 threads per block", ".maxntid 512", "setmaxnreg.dec.sync.aligned.u32 24;",
                                   "setmaxnreg.inc.sync.aligned.u32 160;", "wgmma.mma_async.sync.aligned.m64n128k16",
                                   "wgmma.mma_async.sync.aligned.m64n64k16", "bar.arrive 2, 416;", NULL };
            for (const char **w = want; *w; w++)
                if (!strstr(ptx, *w))
                    fail_msg("%s: no %s in the PTX", what, *w);
            if (strstr(ptx, "mma.sync") || strstr(ptx, "ldmatrix"))
                fail_msg("%s: mma.sync or ldmatrix in the PTX", what);
            int sync = turns(ptx, "bar.sync"), arrive = turns(ptx, "bar.arrive");
            if (sync != 3 || arrive != 3)
                fail_msg("%s: %d pingpong syncs and %d arrives, not 3 and 3", what, sync, arrive);
            assert_assembles_clean(ptx, "sm_90a", what);
            free(ptx);
            tir_module_free(m);
        }
}

/* ptxas sizes a wgmma by the registers at the kernel's start: at 12 warps
 * a dot of 192 columns keeps the copying warpgroup (512 threads, 128
 * registers at the start), one of 208 or 256 runs without it (384 threads)
 * and assembles clean, and at 24 warps a dot of 128 columns, which ptxas
 * would refuse at 80 registers, is an error at the dot. */
static void wide_wgmma_registers(void **state)
{
    (void)state;
    require_ptxas();
    static const struct { const char *bm, *bn, *w; bool producer; } cases[] = {
        { "192", "192", "12", true }, { "192", "208", "12", false }, { "192", "256", "12", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Define defs[5] = { { "T", "f16" }, { "BM", cases[i].bm }, { "BN", cases[i].bn }, { "BK", "32" },
                           { "W", cases[i].w } };
        TirModule *m = compile_file_or_fail("dsl/examples/matmul.tsr", defs, 5);
        char *ptx = ptx_of(module_func(m, "matmul"), "sm_90a");
        char what[96], want[64];
        snprintf(what, sizeof what, "matmul %sx%s on %s warps", cases[i].bm, cases[i].bn, cases[i].w);
        snprintf(want, sizeof want, "wgmma.mma_async.sync.aligned.m64n%sk16", cases[i].bn);
        if (!strstr(ptx, want))
            fail_msg("%s: no %s", what, want);
        if (!strstr(ptx, "setmaxnreg") != !cases[i].producer ||
            !strstr(ptx, cases[i].producer ? ".maxntid 512" : ".maxntid 384"))
            fail_msg("%s: %s copying warpgroup expected", what, cases[i].producer ? "a" : "no");
        assert_assembles_clean(ptx, "sm_90a", what);
        free(ptx);
        tir_module_free(m);
    }
    Define defs[5] = { { "T", "f16" }, { "BM", "384" }, { "BN", "128" }, { "BK", "32" }, { "W", "24" } };
    TirModule *m = compile_file_or_fail("dsl/examples/matmul.tsr", defs, 5);
    CodegenOptions o = { .target = "sm_90a", .assume_aligned = true };
    CodegenResult r;
    Diag diag;
    diag_init(&diag, NULL);
    if (compile_ptx(m->funcs.data[0], &o, false, NULL, &r, &diag))
        fail_msg("matmul 384x128 on 24 warps compiled for sm_90a");
    const char *want = "25:21: error: this dot's wgmma (64 x 128 per warpgroup) needs about 90 registers per thread "
                       "when the kernel starts, and 768 threads leave at most 80";
    if (!diag.out.data || !strstr(diag.out.data, want))
        fail_msg("wanted \"%s\", got:\n%s", want, diag.out.data ? diag.out.data : "");
    diag_free(&diag);
    tir_module_free(m);
}

/* kernels/attention_fp8.tsr with attention_fp8_config's blocks for sm_89
 * (products on the fp8 tensor cores, mma.sync m16n8k32) and sm_90a (both on
 * fp8 wgmma m64nNk32 from shared memory: Q K^T with N = BN, P V with N = D,
 * V written K-major; no widening, no mma.sync); every D assembles clean; P
 * goes to e4m3 by cvt on both. */
static void attention_fp8_variants(void **state)
{
    (void)state;
    require_ptxas();
    static const char *const fp8_targets[] = { "sm_89", "sm_90a" };
    for (int t = 0; t < 2; t++)
        for (int D = 64; D <= 256; D *= 2)
            for (int causal = 0; causal < 2; causal++) {
                bool widen;
                AttnConfig cfg = attention_fp8_config(fp8_targets[t], D, causal, &widen);
                if (widen)
                    fail_msg("attention_fp8 %s: widened", fp8_targets[t]);
                char bm[16], bn[16], dbuf[16];
                snprintf(bm, sizeof bm, "%d", cfg.bm);
                snprintf(bn, sizeof bn, "%d", cfg.bn);
                snprintf(dbuf, sizeof dbuf, "%d", D);
                Define defs[5] = { { "T", "e4m3" }, { "D", dbuf }, { "BM", bm }, { "BN", bn },
                                   { "CAUSAL", causal ? "true" : "false" } };
                TirModule *m = compile_file_or_fail("kernels/attention_fp8.tsr", defs, 5);
                char *ptx = ptx_of(module_func(m, "attention_fp8_fwd"), fp8_targets[t]);
                const char *native[] = { "cvt.rn.satfinite.e4m3x2.f32",
                                         "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32", NULL };
                char qk[96], pv[96];
                snprintf(qk, sizeof qk, "wgmma.mma_async.sync.aligned.m64n%sk32.f32.e4m3.e4m3", bn);
                snprintf(pv, sizeof pv, "wgmma.mma_async.sync.aligned.m64n%sk32.f32.e4m3.e4m3", dbuf);
                const char *wgmma[] = { qk, pv, "cvt.rn.satfinite.e4m3x2.f32", NULL };
                const char **want = t == 1 ? wgmma : native;
                char what[128];
                snprintf(what, sizeof what, "attention_fp8 %s D=%d causal=%d BM=%s BN=%s", fp8_targets[t], D, causal,
                         bm, bn);
                for (const char **w = want; *w; w++)
                    if (!strstr(ptx, *w))
                        fail_msg("%s: no %s in the PTX", what, *w);
                if (strstr(ptx, "m16n8k16") || strstr(ptx, "cvt.rn.f16x2.e4m3x2") ||
                    (t == 1 && strstr(ptx, "mma.sync")))
                    fail_msg("%s: widened operands or 16-bit mma.sync in the fp8 kernel", what);
                assert_assembles_clean(ptx, fp8_targets[t], what);
                free(ptx);
                tir_module_free(m);
            }
}

/* The PTX of `what` has its dots on the target's tensor cores: on sm_90a
 * wgmma only (no mma.sync) and its copies by TMA, elsewhere mma.sync. */
static void assert_tensor_cores(const char *ptx, const char *target, const char *what)
{
    if (strcmp(target, "sm_90a")) {
        if (!strstr(ptx, "mma.sync.aligned.m16n8k16.row.col.f32"))
            fail_msg("%s: no mma.sync in the PTX", what);
        return;
    }
    if (!strstr(ptx, "wgmma.mma_async.sync.aligned.m64n") || strstr(ptx, "mma.sync"))
        fail_msg("%s: not every dot on wgmma", what);
    if (!strstr(ptx, "cp.async.bulk.tensor"))
        fail_msg("%s: no TMA copy", what);
}

/* kernels/attention_ext.tsr with each group of its features on, for every
 * head dim and both targets, with the blocks of attention_ext_config:
 * tensor-core dots (wgmma alone on sm_90a, with a producer warpgroup
 * unless packed), no local memory, no spills. */
static void attention_ext_variants(void **state)
{
    (void)state;
    require_ptxas();
    static const int dims[] = { 64, 128, 256 };
    /* CAUSAL LOCAL SOFTCAP ALIBI VARLEN */
    static const char *const sets[][5] = { { "true", "true", "false", "false", "false" },
                                           { "false", "false", "true", "true", "false" },
                                           { "true", "true", "true", "true", "true" } };
    static const char *const names[] = { "CAUSAL", "LOCAL", "SOFTCAP", "ALIBI", "VARLEN" };
    for (size_t t = 0; t < 2; t++)
        for (size_t d = 0; d < 3; d++)
            for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
                AttnConfig cfg = attention_ext_config(targets[t], DT_BF16, dims[d], !strcmp(sets[k][0], "true"),
                                                      !strcmp(sets[k][4], "true"));
                char bm[16], bn[16], dbuf[16], w[16];
                snprintf(bm, sizeof bm, "%d", cfg.bm);
                snprintf(bn, sizeof bn, "%d", cfg.bn);
                snprintf(dbuf, sizeof dbuf, "%d", dims[d]);
                snprintf(w, sizeof w, "%d", cfg.warps);
                Define defs[10] = { { "T", "bf16" }, { "D", dbuf }, { "BM", bm }, { "BN", bn }, { "W", w } };
                for (int i = 0; i < 5; i++)
                    defs[5 + i] = (Define){ names[i], sets[k][i] };
                TirModule *m = compile_file_or_fail("kernels/attention_ext.tsr", defs, 10);
                char *ptx = ptx_of(module_func(m, "attention_fwd_ext"), targets[t]);
                char what[160];
                snprintf(what, sizeof what, "attention_ext %s bf16 D=%d BM=%s BN=%s W=%s CAUSAL=%s LOCAL=%s "
                         "SOFTCAP=%s ALIBI=%s VARLEN=%s", targets[t], dims[d], bm, bn, w, sets[k][0], sets[k][1],
                         sets[k][2], sets[k][3], sets[k][4]);
                assert_tensor_cores(ptx, targets[t], what);
                /* a producer warpgroup on sm_90a but for packed batches (their key offsets are loads) */
                bool packed = !strcmp(sets[k][4], "true");
                if (!strcmp(targets[t], "sm_90a") && !strstr(ptx, "setmaxnreg.dec") != packed)
                    fail_msg("%s: %s", what, packed ? "a producer warpgroup" : "no producer warpgroup");
                assert_assembles_clean(ptx, targets[t], what);
                free(ptx);
                tir_module_free(m);
            }
}

/* kernels/attention_decode.tsr's two kernels with the blocks of
 * attention_decode_config and attention_decode_combine_config, for every
 * head dim, packed row counts of 1, 16 and 64 (a GQA group of 4 x Sq 16)
 * and pages of 7, 16 and 256 keys (window, soft-cap and ALiBi on for 1
 * and 64 rows), on both targets: tensor-core dots (the
 * split kernel; wgmma alone and TMA on sm_90a), no local memory, no spills. */
static void attention_decode_variants(void **state)
{
    (void)state;
    require_ptxas();
    static const int dims[] = { 64, 128, 256 }, rows[] = { 1, 16, 64 }, pages[] = { 7, 16, 256 };
    for (size_t t = 0; t < 2; t++)
        for (size_t d = 0; d < 3; d++)
            for (size_t k = 0; k < 4; k++) { /* three split kernels, then the combine kernel */
                bool split = k < 3;
                AttnBlocks b = split ? attention_decode_config(targets[t], DT_F16, dims[d], rows[k], pages[k])
                                     : attention_decode_combine_config(targets[t], DT_F16, dims[d]);
                char bm[16], bn[16], w[16], dbuf[16];
                snprintf(bm, sizeof bm, "%d", b.bm);
                snprintf(bn, sizeof bn, "%d", b.bn);
                snprintf(w, sizeof w, "%d", b.warps);
                snprintf(dbuf, sizeof dbuf, "%d", dims[d]);
                /* the split kernels with every feature on but for 16 packed rows */
                const char *feat = split && k != 1 ? "true" : "false";
                Define defs[9] = { { "T", "f16" },        { "D", dbuf },         { "BM", bm },
                                   { "W", w },            { "BN", bn },          { "CAUSAL", "true" },
                                   { "LOCAL", feat },     { "SOFTCAP", feat },   { "ALIBI", feat } };
                TirModule *m = compile_file_or_fail("kernels/attention_decode.tsr", defs, split ? 9 : 4);
                const char *name = split ? "attention_decode_split" : "attention_decode_combine";
                char *ptx = ptx_of(module_func(m, name), targets[t]);
                char what[160];
                snprintf(what, sizeof what, "%s %s f16 D=%d BM=%s BN=%s W=%s features=%s", name, targets[t],
                         dims[d], bm, split ? bn : "-", w, feat);
                if (split)
                    assert_tensor_cores(ptx, targets[t], what);
                assert_assembles_clean(ptx, targets[t], what);
                free(ptx);
                tir_module_free(m);
            }
}

/* One backward kernel: assembles, runs its dots on the tensor cores
 * (wgmma where wanted, else mma.sync), no local memory, no spills, no
 * ptxas C75xx warning, and shared memory a block of the target may have. */
static void backward_kernel_clean(TirFunc *f, const char *target, DType dt, int D, bool causal, bool wgmma)
{
    CodegenOptions o = { .target = target, .assume_aligned = true };
    CodegenResult r;
    Diag diag;
    diag_init(&diag, NULL);
    if (!compile_ptx(f, &o, false, NULL, &r, &diag))
        fail_msg("code generation failed for %s: %s", f->name, diag.out.data ? diag.out.data : "");
    diag_free(&diag);
    const char *what = f->name;
    const char *mma = wgmma ? "wgmma.mma_async.sync.aligned.m64n" : "mma.sync.aligned.m16n8k16.row.col.f32";
    if (strcmp(what, "attention_bwd_pre") && !strstr(r.ptx, mma))
        fail_msg("%s %s D=%d %s: no %s", what, target, D, dtype_name(dt), mma);
    if (wgmma && strstr(r.ptx, "mma.sync"))
        fail_msg("%s %s D=%d %s: mma.sync beside wgmma", what, target, D, dtype_name(dt));
    if (r.smem_bytes > target_lookup(target)->smem_per_block)
        fail_msg("%s %s D=%d: %zu bytes of shared memory, more than a block has", what, target, D, r.smem_bytes);
    char name[128];
    snprintf(name, sizeof name, "%s %s D=%d %s causal=%d", what, target, D, dtype_name(dt), causal);
    assert_assembles_clean(r.ptx, target, name);
    codegen_result_free(&r);
}

static void attention_backward_variants(void **state)
{
    (void)state;
    require_ptxas();
    static const int dims[] = { 64, 128, 256 };
    static const DType dts[] = { DT_F16, DT_BF16 };
    for (size_t t = 0; t < 2; t++)
        for (size_t d = 0; d < 3; d++)
            for (size_t k = 0; k < 2; k++)
                for (int causal = 0; causal < 2; causal++) {
                    AttnBwdKernels kk = attn_bwd_compile(targets[t], dts[k], dims[d], causal);
                    TirFunc *fs[4] = { kk.pre, kk.dkdv, kk.dq, kk.dv };
                    /* On sm_90a every dot on wgmma (attention_config.c), the D=256 dK/dV kernel in
                     * two launches */
                    bool hopper = !strcmp(targets[t], "sm_90a");
                    if (hopper && dims[d] == 256 && !kk.dv)
                        fail_msg("attention_bwd_dkdv sm_90a D=256: not split into dK and dV launches");
                    for (int i = causal ? 1 : 0; i < 4; i++) /* the preprocessing has no mask */
                        if (fs[i])
                            backward_kernel_clean(fs[i], targets[t], dts[k], dims[d], causal, hopper && i);
                    attn_bwd_free(&kk);
                }
}

typedef struct {
    const char *file, *kernel;
    Define defs[4];
    int ndefs;
} Program;

static const Program programs[] = {
    { "dsl/examples/matmul.tsr", "matmul", { { "T", "f16" } }, 1 },
    { "dsl/examples/matmul.tsr", "matmul", { { "T", "bf16" }, { "OT", "f32" } }, 2 },
    { "dsl/examples/matmul.tsr", "matmul", { { "T", "f32" }, { "BK", "8" } }, 2 }, /* on the CUDA cores */
    { "dsl/examples/softmax.tsr", "softmax", { { "T", "f16" } }, 1 },
    { "dsl/examples/softmax.tsr", "softmax", { { "T", "f32" } }, 1 },
    { "dsl/examples/layernorm.tsr", "layernorm", { { "T", "bf16" } }, 1 },
    { "dsl/examples/reduce.tsr", "partial_sums", { { "T", "f16" } }, 1 },
    { "dsl/examples/reduce.tsr", "sum_partials", { { "T", "f16" } }, 1 },
    { "dsl/examples/scale_shift.tsr", "scale_shift", { { "T", "f16" }, { "ACT", "2" } }, 2 },
    { "dsl/examples/scale_shift.tsr", "scale_shift", { { "T", "f32" }, { "ACT", "3" } }, 2 }, /* erf */
    { "dsl/examples/scale_shift.tsr", "scale_shift", { { "T", "bf16" }, { "ACT", "4" } }, 2 }, /* tanh.approx */
    { "dsl/examples/scale_shift.tsr", "scale_shift", { { "T", "f32" }, { "ACT", "5" } }, 2 }, /* tanh, log1p */
    { "tests/programs/math.tsr", "math", { { "T", "f32" } }, 1 },
    { "tests/programs/math.tsr", "math", { { "T", "f16" } }, 1 },
    { "tests/programs/ints.tsr", "ints", { { "T", "f32" } }, 0 },
    { "tests/programs/ints.tsr", "int_scalars", { { "T", "f32" } }, 0 },
    { "tests/programs/control.tsr", "collatz", { { "T", "f32" } }, 0 },
    { "tests/programs/control.tsr", "jumps", { { "T", "f32" } }, 0 },
    { "dsl/examples/dropout.tsr", "dropout", { { "T", "f16" } }, 1 },
    { "dsl/examples/dropout.tsr", "philox", { { "T", "f32" } }, 0 },
    { "tests/programs/indexed.tsr", "embed", { { "T", "f16" } }, 1 },
    { "tests/programs/indexed.tsr", "masked_copy", { { "T", "f32" } }, 0 },
    { "tests/programs/indexed.tsr", "scatter_odd", { { "T", "f32" } }, 0 },
    { "tests/programs/indexed.tsr", "lookup", { { "T", "f32" } }, 0 },
    { "tests/programs/indexed.tsr", "even_programs", { { "T", "f32" } }, 0 },
    { "tests/programs/indexed.tsr", "histogram", { { "T", "f32" } }, 0 },
    { "tests/programs/indexed.tsr", "partials", { { "T", "f16" } }, 1 },
    { "tests/programs/indexed.tsr", "int_atomics", { { "T", "f32" } }, 0 },
    { "tests/programs/indexed.tsr", "half_adds", { { "T", "f16" } }, 1 },
    { "dsl/examples/matmul_big.tsr", "matmul_big", { { "T", "f16" } }, 1 }, /* spills on sm_80 without min_blocks 1 */
    { "tests/programs/reshape.tsr", "shapes", { { "T", "f32" } }, 0 },
    { "tests/programs/reshape.tsr", "mask_rows", { { "T", "f32" } }, 0 },
    { "dsl/examples/moe_route.tsr", "count_tokens", { { "T", "f32" } }, 0 },
    { "dsl/examples/moe_route.tsr", "expert_sums", { { "T", "f16" } }, 1 },
    { "dsl/examples/moe_route.tsr", "expert_means", { { "T", "f32" } }, 0 },
};

static void examples_assemble(void **state)
{
    (void)state;
    require_ptxas();
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++)
        for (size_t t = 0; t < 2; t++) {
            const Program *p = &programs[i];
            TirModule *m = compile_file_or_fail(p->file, p->defs, p->ndefs);
            char *ptx = ptx_of(module_func(m, p->kernel), targets[t]);
            char what[160];
            snprintf(what, sizeof what, "%s (%s) for %s", p->kernel, p->file, targets[t]);
            assert_assembles_clean(ptx, targets[t], what);
            free(ptx);
            tir_module_free(m);
        }
}

/* A dot the tensor cores cannot run (f32, or shapes mma.sync does not
 * take) runs on the CUDA cores while its operands fit in registers; a
 * bigger one is an error at its position, before any layout is built. */
static void unsupported_dot_is_an_error(void **state)
{
    (void)state;
    const char *src = "kernel k(A: f32[M, 128], B: f32[128, 128], C: out f32[M, 128]) grid (1) {\n"
                      "    C[0 : +128, :] = dot(A[0 : +128, :], B[:, :]);\n"
                      "}\n";
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("t.tsr", src, NULL, 0, &diags);
    assert_non_null(m);
    CodegenOptions o = { .target = "sm_90a", .assume_aligned = true };
    CodegenResult r;
    Source s = { "t.tsr", src, strlen(src) };
    Diag diag;
    diag_init(&diag, &s);
    assert_false(compile_ptx(m->funcs.data[0], &o, false, NULL, &r, &diag));
    assert_non_null(strstr(diag.out.data, "t.tsr:2:22: error: this dot of f32[128, 128] by [128, 128] is too big"));
    diag_free(&diag);
    sb_free(&diags);
    tir_module_free(m);
}

/* The PTX of src's kernel for target, or NULL with the diagnostics in diags. */
static char *ptx_of_source(const char *src, const char *target, StrBuf *diags)
{
    TirModule *m = compile_string("t.tsr", src, NULL, 0, diags);
    assert_non_null(m);
    CodegenOptions o = { .target = target, .assume_aligned = true };
    CodegenResult r;
    Source s = { "t.tsr", src, strlen(src) };
    Diag diag;
    diag_init(&diag, &s);
    char *ptx = NULL;
    if (compile_ptx(m->funcs.data[0], &o, false, NULL, &r, &diag)) {
        ptx = r.ptx;
        r.ptx = NULL;
        codegen_result_free(&r);
    } else {
        sb_puts(diags, diag.out.data);
    }
    diag_free(&diag);
    tir_module_free(m);
    return ptx;
}

/* The resource clauses become ptxas's launch bounds: regs R is .maxnreg R
 * without the computed .minnctapersm (which would cap the registers lower),
 * min_blocks B is .minnctapersm B; a regs clause a block cannot hold, and
 * shared memory beyond what a block may have, are errors at their source
 * positions, for the target that lacks them only. */
static void resource_clauses(void **state)
{
    (void)state;
    static const struct {
        const char *clause, *want, *unwanted;
    } cases[] = {
        { "", ".minnctapersm", ".maxnreg" },
        { " regs 255", ".maxnreg 255", ".minnctapersm" },
        { " warps 8 regs 64 min_blocks 2", ".maxnreg 64", NULL },
        { " min_blocks 2", ".minnctapersm 2", ".maxnreg" },
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++)
        for (int t = 0; t < 2; t++) {
            char src[256];
            snprintf(src, sizeof src, "kernel k(X: f32[N], Y: out f32[N]) grid (1)%s { Y[0 : +128] = X[0 : +128]; }\n",
                     cases[i].clause);
            StrBuf diags;
            sb_init(&diags);
            char *ptx = ptx_of_source(src, targets[t], &diags);
            if (!ptx)
                fail_msg("'%s' for %s: %s", cases[i].clause, targets[t], diags.data);
            assert_non_null(strstr(ptx, cases[i].want));
            if (cases[i].unwanted)
                assert_null(strstr(ptx, cases[i].unwanted));
            if (i == 2)
                assert_non_null(strstr(ptx, ".minnctapersm 2"));
            free(ptx);
            sb_free(&diags);
        }
    StrBuf diags;
    sb_init(&diags);
    assert_null(ptx_of_source("kernel k(X: f32[N], Y: out f32[N]) grid (1) warps 16\n"
                              "    regs 255 { Y[0 : +128] = X[0 : +128]; }\n", "sm_80", &diags));
    assert_non_null(strstr(diags.data, "t.tsr:2:10: error: 'regs 255' for 16 warps asks for 130560 registers per "
                                       "block, but a multiprocessor of sm_80 has 65536: ask for at most 128"));
    sb_free(&diags);
    /* 256x256 tiles with K steps of 64 in 3 stages: 196608 bytes; sm_80 gives a block 166912, sm_90a 232448 */
    TirModule *m = compile_file_or_fail("dsl/examples/matmul.tsr",
                                        (Define[]){ { "T", "f16" }, { "BM", "256" }, { "BN", "256" }, { "BK", "64" } }, 4);
    for (int t = 0; t < 2; t++) {
        CodegenOptions o = { .target = targets[t], .assume_aligned = true };
        CodegenResult r;
        Source s = { "dsl/examples/matmul.tsr", "", 0 };
        Diag diag;
        diag_init(&diag, &s);
        diag.max_errors = 1;
        bool ok = compile_ptx(m->funcs.data[0], &o, false, NULL, &r, &diag);
        if (t == 0) {
            assert_false(ok);
            assert_non_null(strstr(diag.out.data, "matmul.tsr:25:25: error: kernel 'matmul' needs 196608 bytes of "
                                                  "shared memory per block, more than the 166912 a block may have on "
                                                  "sm_80; the largest part is this slice of 'A'"));
        } else {
            assert_true(ok);
            assert_true(r.smem_bytes <= target_lookup(targets[t])->smem_per_block);
            codegen_result_free(&r);
        }
        diag_free(&diag);
    }
    tir_module_free(m);
}

/* device_print and device_assert call the driver's vprintf and
 * __assertfail: the kernels of tests/programs/debug.tsr assemble without
 * spills or C75xx warnings for both targets. vprintf's argument buffer is
 * the one use of local memory (a stack frame) they may make. */
static void debug_calls_assemble(void **state)
{
    (void)state;
    require_ptxas();
    static const char *const kernels[] = { "show", "checked" };
    for (size_t k = 0; k < 2; k++)
        for (size_t t = 0; t < 2; t++) {
            TirModule *m = compile_file_or_fail("tests/programs/debug.tsr", NULL, 0);
            char *ptx = ptx_of(module_func(m, kernels[k]), targets[t]);
            assert_non_null(strstr(ptx, k == 0 ? "vprintf" : "__assertfail"));
            PtxasReport rep;
            StrBuf log;
            sb_init(&log);
            if (!ptxas_check(ptxas, ptx, targets[t], &rep, &log))
                fail_msg("ptxas rejects %s for %s:\n%s", kernels[k], targets[t], log.data);
            if (rep.spill_stores || rep.spill_loads || rep.c75xx || (k == 1 && rep.stack))
                fail_msg("%s for %s: spills or warnings:\n%s", kernels[k], targets[t], log.data);
            sb_free(&log);
            free(ptx);
            tir_module_free(m);
        }
}

/* An atomic add on bf16 needs sm_90 (red.add.noftz.bf16): for sm_80 it is
 * an error at the atomic's position; sm_90a takes it. */
static void bf16_atomic_needs_sm90(void **state)
{
    (void)state;
    const char *src = "kernel k(X: bf16[N], Y: out bf16[N]) grid (1) {\n"
                      "    atomic_add(Y[0 : +128], X[0 : +128]);\n"
                      "}\n";
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("t.tsr", src, NULL, 0, &diags);
    assert_non_null(m);
    Source s = { "t.tsr", src, strlen(src) };
    for (int t = 0; t < 2; t++) {
        CodegenOptions o = { .target = t ? "sm_90a" : "sm_80", .assume_aligned = true };
        CodegenResult r;
        Diag diag;
        diag_init(&diag, &s);
        bool ok = compile_ptx(m->funcs.data[0], &o, false, NULL, &r, &diag);
        if (t) {
            assert_true(ok);
            assert_non_null(strstr(r.ptx, "red.global.add.noftz.bf16"));
            codegen_result_free(&r);
        } else {
            assert_false(ok);
            assert_non_null(strstr(diag.out.data, "t.tsr:2:5: error: an atomic add on bf16 needs sm_90 or later"));
        }
        diag_free(&diag);
    }
    sb_free(&diags);
    tir_module_free(m);
}

/* f32 multiply-adds contract into fma (rounded once, as nvcc does by
 * default); f16 ones round after each operation, so they stay apart. */
static void f32_multiply_adds_contract(void **state)
{
    (void)state;
    const char *src = "kernel k(X: f32[N], H: f16[N], Y: out f32[N], G: out f16[N], a: f32, c: f32) grid (1) {\n"
                      "    Y[0 : +128] = X[0 : +128] * a + c;\n"
                      "    G[0 : +128] = H[0 : +128] * f16(a) + f16(c);\n"
                      "}\n";
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("t.tsr", src, NULL, 0, &diags);
    assert_non_null(m);
    char *ptx = ptx_of(m->funcs.data[0], "sm_90a");
    assert_non_null(strstr(ptx, "fma.rn.f32"));
    assert_null(strstr(ptx, "mul.rn.f32"));
    assert_null(strstr(ptx, "fma.rn.f16"));
    assert_non_null(strstr(ptx, "mul.rn.f16"));
    free(ptx);
    sb_free(&diags);
    tir_module_free(m);
}

/* Counting nvdisasm's instructions: address comments, predicates, labels
 * and headers; then, when nvdisasm is there, attention D=128 has exactly
 * the 64 + 64 mma.sync of its loop body per warp (QK^T: 8 n-tiles x 8
 * k-steps; PV: 16 n-tiles x 4 k-steps) in each of its two key loops (the
 * mask-free one and the masked one after it, passes/pass_loopsplit.c) and
 * nothing spills. */
/* Copies in loops whose start indices move with the loop's variable
 * advance a pointer the loop carries instead of rebuilding their address:
 * attention's K and V copies in both key loops (sm_80; sm_90a copies by
 * TMA). */
static void loops_advance_pointers(void **state)
{
    (void)state;
    Define defs[5] = { { "T", "f16" }, { "D", "128" }, { "BM", "64" }, { "BN", "64" }, { "CAUSAL", "false" } };
    TirModule *m = compile_file_or_fail("kernels/attention.tsr", defs, 5);
    char *ir = llvm_of(m->funcs.data[0], "sm_80");
    assert_int_equal(carried_phis(ir), 4);
    free(ir);
    tir_module_free(m);
}

/* An fp8 GEMM for sm_90a whose B is given K-major (Bt: [N, K]): its dots are
 * wgmma.mma_async m64nNk32 on e4m3 (by e5m2) from shared-memory descriptors,
 * copied by TMA (aligned tensors: assembles clean, no spills, no C75xx;
 * nvdisasm, where there is one, finds QGMMA and no HGMMA or HMMA) or, for
 * unaligned ones, byte by byte in 16-byte groups, a loop of 64 bytes a
 * thread at a time (codegen_mem.c, copy_grouped): clean too (they spilled
 * 12-272 bytes at 64 x {64, 128, 256} x 128 on 4 warps when every byte had
 * its own address and test). */
static void fp8_gemm_sm90a(void **state)
{
    (void)state;
    require_ptxas();
    char nvdisasm[4096];
    bool sass = nvdisasm_find(nvdisasm, sizeof nvdisasm);
    static const char *const src =
        "kernel gemm8<A8: type, B8: type, BM: int, BN: int, BK: int, W: int>(A: A8[M, K], Bt: B8[N, K],\n"
        "    C: out f32[M, N]) grid (cdiv(M, BM), cdiv(N, BN)) warps W {\n"
        "    var acc = zeros<f32>[BM, BN];\n"
        "    for k in 0 .. K step BK pipeline(3) {\n"
        "        acc = acc + dot(A[program_id(0) * BM : +BM, k : +BK], transpose(Bt[program_id(1) * BN : +BN, k : +BK]));\n"
        "    }\n"
        "    C[program_id(0) * BM : +BM, program_id(1) * BN : +BN] = acc;\n"
        "}\n";
    static const struct { const char *a8, *b8, *bm, *bn, *bk, *w; int wgmmas; } cases[] = {
        { "e4m3", "e4m3", "128", "128", "64", "8", 2 },  /* two warpgroups, 64B swizzle */
        { "e4m3", "e5m2", "64", "256", "128", "4", 4 },  /* N = 256, 128B swizzle */
        { "e5m2", "e4m3", "128", "64", "256", "4", 16 }, /* two 128-byte panels, two m-tiles a warp */
        { "e4m3", "e4m3", "64", "64", "128", "4", 4 },
        { "e4m3", "e4m3", "64", "128", "128", "4", 4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int aligned = 0; aligned < 2; aligned++) {
            Define defs[6] = { { "A8", cases[i].a8 }, { "B8", cases[i].b8 }, { "BM", cases[i].bm },
                               { "BN", cases[i].bn }, { "BK", cases[i].bk }, { "W", cases[i].w } };
            StrBuf diags;
            sb_init(&diags);
            TirModule *m = compile_string("gemm8.tsr", src, defs, 6, &diags);
            if (!m)
                fail_msg("gemm8 does not compile:\n%s", diags.data);
            sb_free(&diags);
            char *ptx = ptx_with(m->funcs.data[0], (CodegenOptions){ .target = "sm_90a", .unaligned_params = aligned ? 0 : ~0ull });
            char what[128], want[96];
            snprintf(what, sizeof what, "gemm8 %s x %s %sx%sx%s on %s warps%s", cases[i].a8, cases[i].b8,
                     cases[i].bm, cases[i].bn, cases[i].bk, cases[i].w, aligned ? " (TMA)" : "");
            snprintf(want, sizeof want, "wgmma.mma_async.sync.aligned.m64n%sk32.f32.%s.%s", cases[i].bn, cases[i].a8,
                     cases[i].b8);
            if (!strstr(ptx, want) || strstr(ptx, "mma.sync") || strstr(ptx, "cvt.rn.f16x2"))
                fail_msg("%s: not (only) %s in the PTX", what, want);
            if (aligned != (strstr(ptx, "cp.async.bulk.tensor") != NULL))
                fail_msg("%s: %s TMA copies", what, aligned ? "no" : "");
            assert_assembles_clean(ptx, "sm_90a", what);
            if (sass && aligned) {
                PtxasReport rep;
                SassCounts c;
                StrBuf log;
                sb_init(&log);
                if (!ptxas_check_sass(ptxas, nvdisasm, ptx, "sm_90a", &rep, &c, &log))
                    fail_msg("ptxas or nvdisasm failed:\n%s", log.data);
                sb_free(&log);
                if (c.qgmma != cases[i].wgmmas || c.hgmma || c.hmma)
                    fail_msg("%s: %d QGMMA (want %d), %d HGMMA, %d HMMA", what, c.qgmma, cases[i].wgmmas, c.hgmma,
                             c.hmma);
            }
            free(ptx);
            tir_module_free(m);
        }
}

static void sass_counts(void **state)
{
    (void)state;
    const char *text = "//--------------------- .text.k --------------------------\n"
                       ".text.k:\n"
                       ".L_x_0:\n"
                       "        /*0280*/              @!P1 IMAD.IADD R2, R2, 0x1, -R5 ;\n"
                       "        /*36e0*/                   HMMA.16816.F32 R132, R116.reuse, R92, R132 ;\n"
                       "        /*36f0*/                   HMMA.16816.F32 R140, R116.reuse, R96, R140 ;\n"
                       "        /*3700*/                   HGMMA.64x64x16.F32 R24, gdesc[UR4], R24, gsb0 ;\n"
                       "        /*3de0*/                   LDSM.16.MT88.4 R104, [R140+0xc000] ;\n"
                       "        /*3ff0*/                   MUFU.EX2 R133, R133 ;\n"
                       "        /*3ff8*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;\n"
                       "        /*3ffa*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;\n"
                       "        /*3ffc*/                   USETMAXREG.DEALLOC.CTAPOOL 0x18 ;\n"
                       "        /*4000*/               @P0 BRA `(.L_x_0) ;\n"
                       "        /* not an instruction */\n";
    SassCounts c;
    ptxas_count_sass(text, &c);
    assert_int_equal(c.instructions, 10);
    assert_int_equal(c.hmma, 2);
    assert_int_equal(c.hgmma, 1);
    assert_int_equal(c.ldsm, 1);
    assert_int_equal(c.mufu, 1);
    assert_int_equal(c.wgmma_wait_deep, 1);
    assert_int_equal(c.usetmaxreg, 1);

    require_ptxas();
    char nvdisasm[4096];
    if (!nvdisasm_find(nvdisasm, sizeof nvdisasm)) {
        printf("SKIP: nvdisasm not found (set NVDISASM; PyPI's nvidia-cuda-nvdisasm has one): no SASS counted\n");
        skip();
    }
    Define defs[5] = { { "T", "f16" }, { "D", "128" }, { "BM", "64" }, { "BN", "64" }, { "CAUSAL", "false" } };
    TirModule *m = compile_file_or_fail("kernels/attention.tsr", defs, 5);
    char *ptx = ptx_of(m->funcs.data[0], "sm_90a");
    PtxasReport rep;
    StrBuf log;
    sb_init(&log);
    if (!ptxas_check_sass(ptxas, nvdisasm, ptx, "sm_90a", &rep, &c, &log))
        fail_msg("ptxas or nvdisasm failed:\n%s", log.data);
    /* 8 wgmmas for Q K^T (K = 128 in steps of 16), 4 for P V (K = 64), in
     * each of the two loops, and again in each rotated loop's prologue (Q
     * K^T) and epilogue (P V); each rotated loop waits for its Q K^T while
     * the previous P V runs (a wait at depth 1) */
    assert_int_equal(c.hgmma, 2 * (12 + 8 + 4));
    assert_int_equal(c.wgmma_wait_deep, 2);
    assert_int_equal(c.hmma, 0);
    assert_int_equal(c.ldsm, 0);
    assert_int_equal(c.ldgsts, 0);
    assert_true(c.utmaldg > 0 && c.mufu > 0 && c.instructions > 25 * c.hgmma);
    /* the producer gives registers back (the 4 consumer warps start with
     * 248 at one block per multiprocessor and take none) */
    assert_int_equal(c.usetmaxreg, 1);
    assert_int_equal(rep.spill_stores, 0);
    assert_int_equal(rep.c75xx, 0);
    free(ptx);
    sb_free(&log);
    sb_init(&log);
    /* the mma.sync path of sm_80 */
    ptx = ptx_of(m->funcs.data[0], "sm_80");
    if (!ptxas_check_sass(ptxas, nvdisasm, ptx, "sm_80", &rep, &c, &log))
        fail_msg("ptxas or nvdisasm failed:\n%s", log.data);
    assert_int_equal(c.hmma, 2 * 128);
    assert_int_equal(c.hgmma, 0);
    assert_true(c.instructions > 2 * c.hmma);
    assert_true(c.ldsm > 0 && c.mufu > 0);
    assert_int_equal(rep.spill_stores, 0);
    sb_free(&log);
    free(ptx);
    tir_module_free(m);
}

/* CodegenOptions.line_info: the PTX names the DSL lines (.file/.loc, no
 * `.target ..., debug`, which would make ptxas compile without optimizing);
 * without it there are none. Where ptxas and nvdisasm are, both assemble to
 * the same number of machine instructions. */
static void line_info(void **state)
{
    (void)state;
    Define defs[1] = { { "T", "f16" } };
    TirModule *m = compile_file_or_fail("dsl/examples/softmax.tsr", defs, 1);
    char *ptx[2];
    for (int on = 0; on < 2; on++) {
        CodegenOptions o = { .target = "sm_90a", .assume_aligned = true, .line_info = on };
        CodegenResult r;
        Source src = { "dsl/examples/softmax.tsr", "", 0 };
        Diag diag;
        diag_init(&diag, &src);
        if (!compile_ptx(m->funcs.data[0], &o, false, NULL, &r, &diag))
            fail_msg("%s", diag.out.data);
        diag_free(&diag);
        ptx[on] = r.ptx;
        r.ptx = NULL;
        codegen_result_free(&r);
    }
    assert_null(strstr(ptx[0], ".loc"));
    assert_null(strstr(ptx[0], ".file"));
    assert_non_null(strstr(ptx[1], ".file\t1 \"dsl/examples/softmax.tsr\""));
    assert_non_null(strstr(ptx[1], ".loc\t1 11 0")); /* the kernel header: line 11 */
    assert_null(strstr(ptx[1], ", debug"));
    require_ptxas();
    char nvdisasm[4096];
    bool sass = nvdisasm_find(nvdisasm, sizeof nvdisasm);
    SassCounts c[2];
    for (int on = 0; on < 2; on++) {
        PtxasReport rep;
        StrBuf log;
        sb_init(&log);
        if (!ptxas_check_sass(ptxas, sass ? nvdisasm : NULL, ptx[on], "sm_90a", &rep, &c[on], &log))
            fail_msg("ptxas refused the PTX%s:\n%s", on ? " with line info" : "", log.data);
        sb_free(&log);
    }
    if (sass)
        assert_int_equal(c[0].instructions, c[1].instructions);
    else
        print_message("nvdisasm not found: the SASS of both is not compared\n");
    free(ptx[0]);
    free(ptx[1]);
    tir_module_free(m);
}

/* ---- tensor-map parameters (TirFunc.tma) */

static const char tma_src[] = "kernel k(A: f16[M, 64], B: out f16[M, 64]) grid (cdiv(M, 64)) {\n"
                              "    let r = program_id(0) * 64;\n"
                              "    B[r : +64, :] = A[r : +64, :];\n"
                              "}\n";

/* The kernel of tma_src laid out for sm_90a with the given requests, then
 * emitted; false with the diagnostics in diags when code generation refuses. */
static bool emit_with_requests(const TmaRequest *req, int n, uint64_t unaligned, CodegenResult *r, StrBuf *diags)
{
    TirModule *m = compile_string("t.tsr", tma_src, NULL, 0, diags);
    assert_non_null(m);
    TirFunc *f = tir_func_clone(m->funcs.data[0]);
    tir_module_free(m);
    Source s = { "t.tsr", tma_src, strlen(tma_src) };
    Diag diag;
    diag_init(&diag, &s);
    const Target *t = target_lookup("sm_90a");
    assert_true(compile_layout(f, t, &diag, NULL));
    for (int i = 0; i < n; i++) {
        assert_int_equal(tir_tma_request(f, &req[i]), i);
        assert_int_equal(tir_tma_request(f, &req[i]), i); /* the same request again: the same map */
    }
    if (n && req[0].param == 0) {
        StrBuf text;
        sb_init(&text);
        tir_print(&text, f);
        char line[96];
        snprintf(line, sizeof line, "tensor_map 0: %s box [%d", f->params.data[req[0].param].name, req[0].box[0]);
        if (!strstr(text.data, line))
            fail_msg("no '%s' in\n%s", line, text.data);
        sb_free(&text);
    }
    CodegenOptions o = { .target = "sm_90a", .assume_aligned = true, .unaligned_params = unaligned };
    bool ok = codegen_emit(f, t, &o, true, r, &diag);
    if (diag.out.data)
        sb_puts(diags, diag.out.data);
    diag_free(&diag);
    tir_func_free(f);
    return ok;
}

/* The LLVM IR of a kernel with its last parameter's address passed to
 * prefetch.tensormap (the way TMA instructions name a map), through llc of
 * the LLVM version Tessera links; returns the PTX, or NULL (skipped) when
 * that llc is not installed. */
static char *llc_with_map_use(const char *ir, int param)
{
    char llvm[32], llc[48];
    codegen_llvm_version(llvm, sizeof llvm);
    snprintf(llc, sizeof llc, "/usr/bin/llc-%d", atoi(llvm));
    if (access(llc, X_OK) != 0) {
        print_message("SKIP (part): %s not found; the address of a tensor map is not checked\n", llc);
        return NULL;
    }
    const char *ret = strstr(ir, "ret void");
    assert_non_null(ret);
    char dir[] = "/tmp/tsr-tmap-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char llpath[64], ptxpath[64], cmd[256];
    snprintf(llpath, sizeof llpath, "%s/k.ll", dir);
    snprintf(ptxpath, sizeof ptxpath, "%s/k.ptx", dir);
    FILE *fp = fopen(llpath, "w");
    assert_non_null(fp);
    fprintf(fp, "%.*scall void asm sideeffect \"prefetch.tensormap [$0];\", \"l\"(ptr %%%d)\n  %s", (int)(ret - ir), ir,
            param, ret);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "%s -march=nvptx64 -mcpu=sm_90a -mattr=+ptx80 '%s' -o '%s'", llc, llpath, ptxpath);
    assert_int_equal(system(cmd), 0);
    size_t n;
    char *ptx = tsr_read_file(ptxpath, &n);
    assert_non_null(ptx);
    unlink(llpath);
    unlink(ptxpath);
    rmdir(dir);
    return ptx;
}

/* A kernel with a tensor-map request takes the map as its last PTX
 * parameter, `.param .align 64 .b8 k_param_7[128]` (after A's pointer and
 * strides, B's, and M), and a use of its address reads the parameter in
 * place (cvta.param of the parameter symbol), never a copy in local memory;
 * ptxas takes it. Kernels without requests keep their parameters
 * (scripts/ptx-digest.sh). Requests that cannot be encoded, or that name a
 * tensor the variant accesses element by element, are internal errors. */
static void tensor_map_parameters(void **state)
{
    (void)state;
    TmaRequest req = { .param = 0, .rank = 2, .box = { 64, 64 }, .swizzle = TMA_SWIZZLE_128B };
    CodegenResult r;
    StrBuf diags;
    sb_init(&diags);
    if (!emit_with_requests(&req, 1, 0, &r, &diags))
        fail_msg("%s", diags.data);
    assert_int_equal(r.ntma, 1);
    assert_int_equal(r.tma[0].box[1], 64);
    assert_non_null(strstr(r.ptx, ".param .align 64 .b8 k_param_7[128]"));
    assert_null(strstr(r.ptx, "k_param_8"));
    char *ptx = llc_with_map_use(r.llvm_ir, 7);
    if (ptx) {
        if (!strstr(ptx, "cvta.param.u64") || !strstr(ptx, ", k_param_7;") ||
            strstr(ptx, "__local_depot") || strstr(ptx, "st.local"))
            fail_msg("the tensor map is not read in place:\n%s", ptx);
        if (ptxas_find(ptxas, sizeof ptxas)) {
            PtxasReport rep;
            StrBuf log;
            sb_init(&log);
            if (!ptxas_check(ptxas, ptx, "sm_90a", &rep, &log))
                fail_msg("ptxas rejects the kernel with a tensor map:\n%s\n%s", log.data, ptx);
            sb_free(&log);
        }
        free(ptx);
    }
    codegen_result_free(&r);

    static const struct {
        TmaRequest req;
        uint64_t unaligned;
        const char *msg;
    } bad[] = {
        { { 0, 2, { 64, 64 }, TMA_SWIZZLE_128B }, 1, "'A', which this variant accesses element by element" },
        { { 0, 1, { 64 }, TMA_SWIZZLE_NONE }, 0, "has rank 1; the tensor has 2" },
        { { 0, 2, { 128, 64 }, TMA_SWIZZLE_128B }, 0, "inner box extent (256 bytes) must be a multiple of 16 bytes within the swizzle span" },
        { { 0, 2, { 4, 64 }, TMA_SWIZZLE_NONE }, 0, "inner box extent (8 bytes)" },
        { { 0, 2, { 64, 512 }, TMA_SWIZZLE_NONE }, 0, "box[1] = 512 is outside 1..256" },
        { { 2, 1, { 64 }, TMA_SWIZZLE_NONE }, 0, "parameter 2, which is not a tensor parameter" },
        { { 0, 2, { 64, 64 }, 7 }, 0, "unknown swizzle 7" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sb_free(&diags);
        sb_init(&diags);
        assert_false(emit_with_requests(&bad[i].req, 1, bad[i].unaligned, &r, &diags));
        if (!strstr(diags.data, "internal error in kernel 'k'") || !strstr(diags.data, bad[i].msg))
            fail_msg("case %zu: %s", i, diags.data);
    }
    sb_free(&diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attention_variants),
        cmocka_unit_test(pingpong_hint),
        cmocka_unit_test(three_consumer_warpgroups),
        cmocka_unit_test(wide_wgmma_registers),
        cmocka_unit_test(attention_ext_variants),
        cmocka_unit_test(attention_fp8_variants),
        cmocka_unit_test(fp8_gemm_sm90a),
        cmocka_unit_test(attention_decode_variants),
        cmocka_unit_test(line_info),
        cmocka_unit_test(attention_backward_variants),
        cmocka_unit_test(examples_assemble),
        cmocka_unit_test(unsupported_dot_is_an_error), cmocka_unit_test(bf16_atomic_needs_sm90),
        cmocka_unit_test(debug_calls_assemble), cmocka_unit_test(resource_clauses),
        cmocka_unit_test(f32_multiply_adds_contract),
        cmocka_unit_test(loops_advance_pointers),
        cmocka_unit_test(sass_counts),
        cmocka_unit_test(tensor_map_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
