/* The SASS loop counter (support/sass.h): loops and the instruction counts
 * of the shortest and longest paths through one iteration, on small
 * listings counted by hand, then on ptxas' real output for attention
 * (skipped without ptxas and nvdisasm). */
#include "codegen.h"
#include "compile.h"
#include "ptxas.h"
#include "sass.h"
#include "testutil.h"
#include "tir_work.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

/* One loop with a predicated forward branch over a call (which returns), a
 * branch to a retry loop placed after the code that comes back into the
 * loop's middle (as ptxas places mbarrier waits), a branch predicated by a
 * uniform predicate among its operands, an exit by CALL.REL.NOINC to a
 * label (ptxas' loop exit) and an unconditional back edge; then a loop
 * without tensor-core instructions, a subroutine, and the trap loop ptxas
 * puts after the code (not reached). Hand count, first loop: a..j and the
 * retry's r1..r3 are 14 instructions; the shortest path skips c, d, e, the
 * retry and h (7), the longest takes them all (14). The branch r3 back into
 * the loop is no back edge: its target does not dominate it. */
static const char *const listing =
    "//--------------------- .text.k --------------------------\n"
    "        .global         k\n"
    "k:\n"
    ".text.k:\n"
    "        /*0000*/                   MOV R1, c[0x0][0x28] ;\n"
    ".L_x_0:\n"
    "        /*0010*/                   IADD3 R2, R2, 0x1, RZ ;\n"              /* a */
    "        /*0020*/               @P0 BRA `(.L_x_1) ;\n"                      /* b */
    "        /*0030*/                   FMUL R3, R3, R4 ;\n"                    /* c */
    "        /*0040*/                   CALL.REL.NOINC `($__internal_0_$__cuda_sm20_rcp_rn_f32_slowpath) ;\n" /* d */
    "        /*0050*/                   FMUL R3, R3, R4 ;\n"                    /* e */
    ".L_x_1:\n"
    "        /*0060*/                   HMMA.16816.F32 R4, R8, R12, R4 ;\n"     /* f */
    "        /*0068*/              @!P4 BRA `(.L_x_6) ;\n"                     /* w */
    ".L_x_7:\n"
    "        /*0070*/                   BRA.U !UP0, `(.L_x_4) ;\n"              /* g */
    "        /*0080*/                   HMMA.16816.F32 R4, R8, R14, R4 ;\n"     /* h */
    ".L_x_4:\n"
    "        /*0090*/               @P1 CALL.REL.NOINC `(.L_x_2) ;\n"           /* i */
    "        /*00a0*/                   BRA `(.L_x_0) ;\n"                      /* j */
    ".L_x_2:\n"
    "        /*00b0*/               @P2 EXIT ;\n"
    ".L_x_5:\n"
    "        /*00c0*/                   FADD R3, R3, R4 ;\n"
    "        /*00d0*/                   FADD R3, R3, R4 ;\n"
    "        /*00e0*/               @P3 BRA `(.L_x_5) ;\n"
    "        /*00f0*/                   EXIT ;\n"
    "$__internal_0_$__cuda_sm20_rcp_rn_f32_slowpath:\n"
    "        /*0100*/                   RET.REL.NODEC R18 `(k) ;\n"
    ".L_x_6:\n"
    "        /*0104*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P4, [UR4], R0 ;\n" /* r1 */
    "        /*0108*/              @!P4 BRA `(.L_x_6) ;\n"                     /* r2 */
    "        /*010c*/                   BRA `(.L_x_7) ;\n"                     /* r3 */
    ".L_x_3:\n"
    "        /*0110*/                   BRA `(.L_x_3);\n"
    "        /*0120*/                   NOP;\n";

static void hand_counted_loops(void **state)
{
    (void)state;
    SassLoop l[8];
    int n = sass_loops(listing, l, 8);
    assert_int_equal(n, 3);
    assert_int_equal(l[0].first, 1);
    assert_int_equal(l[0].last, 11);
    assert_int_equal(l[0].instructions, 14);
    assert_int_equal(l[0].shortest, 7);
    assert_int_equal(l[0].longest, 14);
    assert_int_equal(l[0].mma, 2);
    assert_int_equal(l[1].first, 13);
    assert_int_equal(l[1].instructions, 3);
    assert_int_equal(l[1].shortest, 3);
    assert_int_equal(l[1].longest, 3);
    assert_int_equal(l[1].mma, 0);
    /* the retry loop */
    assert_int_equal(l[2].first, 18);
    assert_int_equal(l[2].last, 19);
    assert_int_equal(l[2].instructions, 2);
    assert_int_equal(sass_main_loop(l, n), 0);
    /* without tensor-core work: the longest loop */
    assert_int_equal(sass_main_loop(l + 1, 2), 0);
    assert_int_equal(sass_main_loop(l, 0), -1);
    /* no loops at all */
    assert_int_equal(sass_loops("        /*0000*/                   EXIT ;\n", l, 8), 0);
    assert_int_equal(sass_loops("", l, 8), 0);
}

/* An inner loop inside an outer one: the inner back edge is not an end of
 * the outer iteration, which goes once through the inner body. */
static void nested_loops(void **state)
{
    (void)state;
    const char *text = ".L_x_0:\n"
                       "        /*0000*/                   IADD3 R2, R2, 0x1, RZ ;\n"
                       ".L_x_1:\n"
                       "        /*0010*/                   HMMA.16816.F32 R4, R8, R12, R4 ;\n"
                       "        /*0020*/               @P0 BRA `(.L_x_1) ;\n"
                       "        /*0030*/               @P1 BRA `(.L_x_0) ;\n"
                       "        /*0040*/                   EXIT ;\n";
    SassLoop l[4];
    assert_int_equal(sass_loops(text, l, 4), 2);
    /* found in the order of their back edges: the inner one first */
    assert_int_equal(l[0].first, 1);
    assert_int_equal(l[0].shortest, 2);
    assert_int_equal(l[1].first, 0);
    assert_int_equal(l[1].shortest, 4);
    assert_int_equal(l[1].longest, 4);
    /* equal tensor-core work: the inner loop */
    assert_int_equal(sass_main_loop(l, 2), 0);
    /* two loops one after the other with as much work: the first, even if
     * the second has the shorter iteration */
    SassLoop two[2] = { { 10, 20, 11, 9, 11, 4 }, { 30, 40, 11, 7, 11, 4 } };
    assert_int_equal(sass_main_loop(two, 2), 0);
    two[1].mma = 5; /* more work wins */
    assert_int_equal(sass_main_loop(two, 2), 1);
    /* more loops than asked for: the count says so */
    assert_int_equal(sass_loops(text, l, 1), 2);
}

/* ptxas' real output: the main loop of attention (f16, D=64, 64x64 blocks,
 * 4 warps) holds one iteration's tensor-core instructions, as many as the
 * kernel's own dots make: on sm_80 an m16n8k16 mma.sync does 2048
 * multiply-adds of a warp's share, on sm_90a an m64n64k16 wgmma 16384 (a
 * quarter of the warpgroup's). On sm_90a the loop also branches to
 * mbarrier retry loops placed after the code. */
static void attention_main_loop(void **state)
{
    (void)state;
    char ptxas[4096], nvdisasm[4096];
    if (!ptxas_find(ptxas, sizeof ptxas))
        TEST_SKIP("ptxas not found (set PTXAS or install the CUDA toolkit at /usr/local/cuda)");
    if (!nvdisasm_find(nvdisasm, sizeof nvdisasm))
        TEST_SKIP("nvdisasm not found (set NVDISASM; PyPI's nvidia-cuda-nvdisasm has one)");
    Define defs[5] = { { "T", "f16" }, { "D", "64" }, { "BM", "64" }, { "BN", "64" }, { "CAUSAL", "false" } };
    TirModule *m = compile_file_or_fail("kernels/attention.tsr", defs, 5);
    TirFunc *f = m->funcs.data[0];
    double mads = tir_loop_mads_per_warp(f);
    assert_true(mads == 64.0 * 64 * 64 * 2 / 4);
    static const struct {
        const char *target;
        double mads_per_mma;
    } targets[] = { { "sm_80", 16 * 8 * 16 }, { "sm_90a", 16 * 64 * 16 } };
    for (int t = 0; t < 2; t++) {
        CodegenOptions o = { .target = targets[t].target, .assume_aligned = true };
        CodegenResult r;
        Diag diag;
        diag_init(&diag, NULL);
        if (!compile_ptx(f, &o, false, NULL, &r, &diag))
            fail_msg("code generation failed: %s", diag.out.data ? diag.out.data : "");
        PtxasReport rep;
        StrBuf text, log;
        sb_init(&text);
        sb_init(&log);
        if (!ptxas_check_listing(ptxas, nvdisasm, r.ptx, targets[t].target, &rep, &text, &log))
            fail_msg("ptxas or nvdisasm failed:\n%s", log.data);
        SassLoop l[32];
        int n = sass_loops(text.data, l, 32);
        assert_true(n >= 1 && n <= 32);
        int k = sass_main_loop(l, n);
        assert_true(k >= 0);
        assert_int_equal(l[k].mma, (int)(mads / targets[t].mads_per_mma));
        assert_true(l[k].shortest > l[k].mma && l[k].shortest <= l[k].longest &&
                    l[k].longest <= l[k].instructions);
        codegen_result_free(&r);
        diag_free(&diag);
        sb_free(&text);
        sb_free(&log);
    }
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_counted_loops),
        cmocka_unit_test(nested_loops),
        cmocka_unit_test(attention_main_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
