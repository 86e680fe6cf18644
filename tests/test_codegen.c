/* The shape of the generated code, checked with ptxas: every attention
 * variant (head dims 64/128/256, f16/bf16, causal or not, the block sizes of
 * kernels/attention_config.c) and every example program compile to PTX that
 * ptxas accepts for sm_80 and sm_90a, touching no local memory and spilling
 * nothing; attention uses mma.sync, ldmatrix and cp.async. Skips when ptxas
 * is absent. */
#include "attention_config.h"
#include "codegen.h"
#include "ptxas.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char *const targets[] = { "sm_80", "sm_90a" };

static char *ptx_of(TirFunc *f, const char *target)
{
    CodegenOptions o = { target, true, 0, 0 };
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

static char ptxas[4096];

static void require_ptxas(void)
{
    if (!ptxas_find(ptxas, sizeof ptxas)) {
        print_message("SKIP: ptxas not found (set PTXAS or install the CUDA toolkit at /usr/local/cuda)\n");
        skip();
    }
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
                    char bm[16], bn[16], dbuf[16];
                    snprintf(bm, sizeof bm, "%d", cfg.bm);
                    snprintf(bn, sizeof bn, "%d", cfg.bn);
                    snprintf(dbuf, sizeof dbuf, "%d", dims[d]);
                    Define defs[5] = { { "T", dtype_name(dts[k]) }, { "D", dbuf }, { "BM", bm }, { "BN", bn },
                                       { "CAUSAL", causal ? "true" : "false" } };
                    TirModule *m = compile_file_or_fail("kernels/attention.tsr", defs, 5);
                    char *ptx = ptx_of(module_func(m, "attention_fwd"), targets[t]);
                    const char *what[] = { "mma.sync.aligned.m16n8k16.row.col.f32", "ldmatrix.sync.aligned",
                                           "cp.async.cg.shared.global", "cp.async.wait_group" };
                    for (size_t w = 0; w < 4; w++)
                        if (!strstr(ptx, what[w]))
                            fail_msg("attention %s D=%d %s: no %s in the PTX", targets[t], dims[d],
                                     dtype_name(dts[k]), what[w]);
                    if (strstr(ptx, "ld.local") || strstr(ptx, "st.local"))
                        fail_msg("attention %s D=%d %s causal=%d touches local memory", targets[t], dims[d],
                                 dtype_name(dts[k]), causal);
                    PtxasReport rep;
                    StrBuf log;
                    sb_init(&log);
                    if (!ptxas_check(ptxas, ptx, targets[t], &rep, &log))
                        fail_msg("ptxas rejects attention %s D=%d:\n%s", targets[t], dims[d], log.data);
                    if (rep.spill_stores || rep.spill_loads || rep.stack)
                        fail_msg("attention %s D=%d %s causal=%d BM=%s BN=%s spills: %s", targets[t], dims[d],
                                 dtype_name(dts[k]), causal, bm, bn, log.data);
                    sb_free(&log);
                    free(ptx);
                    tir_module_free(m);
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
    { "tests/programs/control.tsr", "collatz", { { "T", "f32" } }, 0 },
    { "tests/programs/control.tsr", "jumps", { { "T", "f32" } }, 0 },
    { "dsl/examples/dropout.tsr", "dropout", { { "T", "f16" } }, 1 },
    { "dsl/examples/dropout.tsr", "philox", { { "T", "f32" } }, 0 },
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
            PtxasReport rep;
            StrBuf log;
            sb_init(&log);
            if (!ptxas_check(ptxas, ptx, targets[t], &rep, &log))
                fail_msg("ptxas rejects %s (%s) for %s:\n%s", p->kernel, p->file, targets[t], log.data);
            if (strstr(ptx, "ld.local") || strstr(ptx, "st.local"))
                fail_msg("%s touches local memory", p->kernel);
            if (rep.spill_stores || rep.spill_loads || rep.stack)
                fail_msg("%s (%s) spills for %s: %d bytes stored, %d loaded, %d of stack", p->kernel, p->file,
                         targets[t], rep.spill_stores, rep.spill_loads, rep.stack);
            sb_free(&log);
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
    CodegenOptions o = { "sm_90a", true, 0, 0 };
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
 * k-steps; PV: 16 n-tiles x 4 k-steps) and nothing spills. */
static void sass_counts(void **state)
{
    (void)state;
    const char *text = "//--------------------- .text.k --------------------------\n"
                       ".text.k:\n"
                       ".L_x_0:\n"
                       "        /*0280*/              @!P1 IMAD.IADD R2, R2, 0x1, -R5 ;\n"
                       "        /*36e0*/                   HMMA.16816.F32 R132, R116.reuse, R92, R132 ;\n"
                       "        /*36f0*/                   HMMA.16816.F32 R140, R116.reuse, R96, R140 ;\n"
                       "        /*3de0*/                   LDSM.16.MT88.4 R104, [R140+0xc000] ;\n"
                       "        /*3ff0*/                   MUFU.EX2 R133, R133 ;\n"
                       "        /*4000*/               @P0 BRA `(.L_x_0) ;\n"
                       "        /* not an instruction */\n";
    SassCounts c;
    ptxas_count_sass(text, &c);
    assert_int_equal(c.instructions, 6);
    assert_int_equal(c.hmma, 2);
    assert_int_equal(c.ldsm, 1);
    assert_int_equal(c.mufu, 1);

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
    assert_int_equal(c.hmma, 128);
    assert_true(c.instructions > 4 * c.hmma);
    assert_true(c.ldsm > 0 && c.mufu > 0);
    assert_int_equal(rep.spill_stores, 0);
    sb_free(&log);
    free(ptx);
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attention_variants),
        cmocka_unit_test(examples_assemble),
        cmocka_unit_test(unsupported_dot_is_an_error),
        cmocka_unit_test(f32_multiply_adds_contract),
        cmocka_unit_test(sass_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
