/* The TIR passes (passes/pass_fold.c, pass_cse.c, pass_dce.c, passes.c):
 * for each, what it must change and what it must leave alone, that a second
 * run finds nothing more to do, that the IR still verifies, and that the
 * whole pipeline keeps the meaning of programs (interpreter outputs are
 * bitwise the same before and after). Inputs are built by sema from small
 * kernels, before any pass has run. */
#include "ast.h"
#include "passes.h"
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

/* The unoptimized TIR of the first kernel of text. */
static TirModule *build(const char *text, const Define *defs, int ndefs)
{
    Source src = { "p.tsr", text, strlen(text) };
    Diag diag;
    diag_init(&diag, &src);
    Arena arena;
    arena_init(&arena);
    AstProgram *prog = parse_program(&arena, &src, &diag);
    TirModule *m = diag.nerrors ? NULL : sema_program(prog, defs, ndefs, NULL, &diag);
    if (!m)
        fail_msg("does not compile:\n%s", diag.out.data);
    arena_free(&arena);
    diag_free(&diag);
    return m;
}

/* A kernel with X: f32[N], O: out f32[N], I: i32[N], OI: out i32[N],
 * s: f32, c: bool around body. */
static TirModule *kernel(const char *body)
{
    char text[8192];
    snprintf(text, sizeof text,
             "kernel k(X: f32[N], O: out f32[N], I: i32[N], OI: out i32[N], OH: out f16[N], s: f32, c: bool)\n"
             "  grid (1)\n{\n%s\n}\n",
             body);
    return build(text, NULL, 0);
}

static void verify(TirFunc *f)
{
    StrBuf why;
    sb_init(&why);
    if (!tir_verify(f, &why))
        fail_msg("%s", why.data);
    sb_free(&why);
}

static void count_in(TirFunc *f, BlockId b, TirOp op, int *n)
{
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        *n += in->op == op;
        for (int k = 0; k < 2; k++)
            if ((in->op == TIR_FOR || in->op == TIR_IF) && in->blocks[k] != TIR_NONE)
                count_in(f, in->blocks[k], op, n);
    }
}

/* Live instructions of one op, in the body (nested blocks included). */
static int count(TirFunc *f, TirOp op)
{
    int n = 0;
    count_in(f, f->body, op, &n);
    return n;
}

static int count_grid(TirFunc *f, TirOp op)
{
    int n = 0;
    count_in(f, f->grid_block, op, &n);
    return n;
}

/* The instruction that defines the value stored by the k-th store. */
static TirInst *stored_def(TirFunc *f, int k)
{
    TirBlock *bl = tir_block(f, f->body);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        if (in->op == TIR_STORE && k-- == 0)
            return tir_inst(f, tir_val(f, in->args[in->nargs - 1])->def);
    }
    fail_msg("no store %d", k);
    return NULL;
}

static ValId stored_val(TirFunc *f, int k)
{
    TirBlock *bl = tir_block(f, f->body);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        if (in->op == TIR_STORE && k-- == 0)
            return in->args[in->nargs - 1];
    }
    fail_msg("no store %d", k);
    return TIR_NONE;
}

/* ------------------------------------------------------------------ fold */

static void fold_scalar_constants(void **state)
{
    (void)state;
    TirModule *m = kernel("O[0] = f32(2) * 3.0 + 1.0;\n"            /* 7 */
                          "OI[0] = i32(7) / i32(0);\n"              /* GPU division by zero: -1 */
                          "OI[1] = i32(7) % i32(0) + -i32(-5);\n"   /* remainder by zero: the dividend; 7 + 5 */
                          "OI[2] = i32(2147483647) + i32(1);\n"     /* wraps */
                          "OH[0] = f16(0.1) * 3.0;\n"               /* rounded to f16 at each step */
                          "O[1] = where(f32(1) > f32(2), s, X[0]);\n" /* select on a constant condition */
                          "O[2] = f32(i32(-2.5) < i32(0)) + exp2(f32(3));");
    TirFunc *f = m->funcs.data[0];
    assert_true(tir_pass_fold(f, NULL));
    verify(f);
    TirInst *d = stored_def(f, 0);
    assert_int_equal(d->op, TIR_CONST);
    assert_true(d->fval == 7.0);
    assert_int_equal(stored_def(f, 1)->op, TIR_CONST);
    assert_int_equal(stored_def(f, 1)->ival, -1);
    assert_int_equal(stored_def(f, 2)->ival, 12);
    assert_int_equal(stored_def(f, 3)->ival, INT32_MIN);
    float h = round_to_dtype(round_to_dtype(0.1f, DT_F16) * 3.0f, DT_F16);
    assert_true(stored_def(f, 4)->fval == (double)h);
    assert_int_equal(stored_def(f, 5)->op, TIR_LOAD); /* the select is gone: X[0] is stored */
    assert_int_equal(count(f, TIR_SELECT), 0);
    assert_true(stored_def(f, 6)->fval == 9.0);
    /* nothing arithmetic is left, and a second run has nothing to do */
    assert_int_equal(count(f, TIR_MUL) + count(f, TIR_ADD) + count(f, TIR_DIV) + count(f, TIR_REM), 0);
    assert_false(tir_pass_fold(f, NULL));
    tir_module_free(m);
}

static void fold_leaves_what_is_not_constant(void **state)
{
    (void)state;
    TirModule *m = kernel("O[0] = s * 2.0;\n"                           /* a parameter */
                          "O[1] = X[0] + 1.0;\n"                        /* a load */
                          "O[0 : +16] = f32(arange<16>(0)) * 2.0;\n"   /* tiles are not folded */
                          "O[0 : +16] = where(c, X[0 : +16], 0.0);\n"); /* run-time condition */
    TirFunc *f = m->funcs.data[0];
    int mul = count(f, TIR_MUL), add = count(f, TIR_ADD), sel = count(f, TIR_SELECT);
    assert_false(tir_pass_fold(f, NULL));
    assert_int_equal(count(f, TIR_MUL), mul);
    assert_int_equal(count(f, TIR_ADD), add);
    assert_int_equal(count(f, TIR_SELECT), sel);
    assert_int_equal(count(f, TIR_SPLAT), 3);
    tir_module_free(m);
}

/* cdiv by a constant leaves 'and'/'or' with constant operands: those that
 * decide nothing go, those that decide everything become constants. */
static void fold_and_or_identities(void **state)
{
    (void)state;
    TirModule *m = kernel("OI[0] = cdiv(OI[1], 4);\n"
                          "OI[1] = cdiv(OI[2], -4);");
    TirFunc *f = m->funcs.data[0];
    assert_int_equal(count(f, TIR_AND), 4);
    assert_int_equal(count(f, TIR_OR), 2);
    assert_true(tir_pass_fold(f, NULL));
    verify(f);
    assert_int_equal(count(f, TIR_AND) + count(f, TIR_OR), 0);
    /* each select now tests the remainder's sign directly */
    for (int k = 0; k < 2; k++) {
        TirInst *sel = stored_def(f, k);
        assert_int_equal(sel->op, TIR_SELECT);
        TirOp test = tir_inst(f, tir_val(f, sel->args[0])->def)->op;
        assert_int_equal(test, k == 0 ? TIR_GT : TIR_LT);
    }
    assert_false(tir_pass_fold(f, NULL));
    tir_module_free(m);
}

static void fold_nested_blocks_and_grid(void **state)
{
    (void)state;
    TirModule *m = build("kernel k(O: out f32[N], c: bool) grid (i32(4) * 2, i32(3) - 1)\n"
                         "{\n"
                         "    for i in 0 .. 4 {\n"
                         "        if c { O[i] = f32(1) + 2.0; } else { O[i] = where(f32(1) < 0.0, 5.0, f32(2) * 3.0); }\n"
                         "    }\n"
                         "}\n",
                         NULL, 0);
    TirFunc *f = m->funcs.data[0];
    assert_true(tir_pass_fold(f, NULL));
    verify(f);
    assert_int_equal(count(f, TIR_ADD) + count(f, TIR_MUL) + count(f, TIR_SELECT) + count(f, TIR_CAST), 0);
    assert_int_equal(count_grid(f, TIR_MUL) + count_grid(f, TIR_SUB) + count_grid(f, TIR_CAST), 0);
    TirInst *g0 = tir_inst(f, tir_val(f, f->grid[0])->def), *g1 = tir_inst(f, tir_val(f, f->grid[1])->def);
    assert_int_equal(g0->op, TIR_CONST);
    assert_int_equal(g0->ival, 8);
    assert_int_equal(g1->ival, 2);
    assert_false(tir_pass_fold(f, NULL));
    tir_module_free(m);
}

/* ------------------------------------------------------------------- cse */

static void cse_merges_equal_pure_instructions(void **state)
{
    (void)state;
    TirModule *m = kernel("O[0] = s * 2.0;\n"
                          "O[1] = s * 2.0;\n"
                          "O[2] = exp(s * 2.0) + exp(s * 2.0);\n"
                          "OI[0] = program_id(0) + program_id(0);");
    TirFunc *f = m->funcs.data[0];
    assert_int_equal(count(f, TIR_PARAM), 4);
    assert_true(tir_pass_cse(f, NULL));
    verify(f);
    assert_int_equal(count(f, TIR_PARAM), 1);
    assert_int_equal(count(f, TIR_MUL), 1);
    assert_int_equal(count(f, TIR_EXP), 1);
    assert_int_equal(count(f, TIR_PROGRAM_ID), 1);
    assert_int_equal(stored_val(f, 0), stored_val(f, 1));
    assert_int_equal(count(f, TIR_STORE), 4); /* stores are never merged */
    assert_false(tir_pass_cse(f, NULL));
    tir_module_free(m);
}

static void cse_keeps_what_differs(void **state)
{
    (void)state;
    TirModule *m = kernel("OI[0] = program_id(0) + program_id(1) + num_programs(0);\n"
                          "let t = X[0 : +16][:, None] + X[0 : +16][None, :];\n"
                          "O[0 : +16] = reduce_sum(t, 0) + reduce_sum(t, 1) + reduce_max(t, 0);\n"
                          "O[0] = s / 0.0;\n"
                          "O[1] = s / -0.0;\n"  /* 0.0 and -0.0 are different constants */
                          "OH[0] = f16(s) * 2.0;\n"
                          "O[2] = s * 2.0;");   /* same value, other dtype */
    TirFunc *f = m->funcs.data[0];
    tir_pass_cse(f, NULL);
    verify(f);
    assert_int_equal(count(f, TIR_PROGRAM_ID), 2);
    assert_int_equal(count(f, TIR_NUM_PROGRAMS), 1);
    assert_int_equal(count(f, TIR_REDUCE), 3);
    assert_int_equal(count(f, TIR_EXPAND_DIMS), 2);
    assert_int_equal(count(f, TIR_BROADCAST), 2);
    assert_int_equal(count(f, TIR_DIV), 2);
    assert_int_equal(count(f, TIR_MUL), 2);
    assert_true(stored_val(f, 1) != stored_val(f, 2));
    tir_module_free(m);
}

/* Loads are never merged: another store (also through another tensor, which
 * may alias) can change memory between them. */
static void cse_does_not_merge_loads(void **state)
{
    (void)state;
    TirModule *m = kernel("let a = O[0 : +16];\n"
                          "O[0 : +16] = a + 1.0;\n"
                          "let b = O[0 : +16];\n"
                          "O[16 : +16] = b;\n"
                          "O[32] = X[0] + X[0];");
    TirFunc *f = m->funcs.data[0];
    tir_pass_cse(f, NULL);
    verify(f);
    assert_int_equal(count(f, TIR_LOAD), 4);
    assert_int_equal(count(f, TIR_STORE), 3);
    tir_module_free(m);
}

/* Only a dominating instruction replaces another: not one in a sibling
 * branch, nor one inside a loop for one after it. */
static void cse_respects_dominance(void **state)
{
    (void)state;
    TirModule *m = kernel("let a = s * 3.0;\n"
                          "if c { O[0] = s * 5.0; O[1] = s * 3.0; } else { O[0] = s * 5.0; }\n"
                          "for i in 0 .. 4 { O[i] = s * 7.0 + s * 3.0; }\n"
                          "O[2] = s * 5.0 + s * 7.0 + a;");
    TirFunc *f = m->funcs.data[0];
    assert_true(tir_pass_cse(f, NULL));
    verify(f);
    /* s * 3.0 once (the outer one serves both nested uses); s * 5.0 in each
     * branch and after the if; s * 7.0 in the loop and after it */
    assert_int_equal(count(f, TIR_MUL), 1 + 2 + 1 + 1 + 1);
    assert_int_equal(count(f, TIR_PARAM), 2); /* s and c */
    tir_module_free(m);
}

static void cse_keeps_grid_and_body_apart(void **state)
{
    (void)state;
    TirModule *m = build("kernel k(O: out i32[N]) grid (N, N) { O[0] = N; O[1] = N; }", NULL, 0);
    TirFunc *f = m->funcs.data[0];
    tir_pass_cse(f, NULL);
    verify(f);
    assert_int_equal(count_grid(f, TIR_DIM), 1);
    assert_int_equal(count(f, TIR_DIM), 1);
    assert_int_equal(f->grid[0], f->grid[1]);
    tir_module_free(m);
}

/* ------------------------------------------------------------------- dce */

static void dce_removes_unused_pure_code(void **state)
{
    (void)state;
    TirModule *m = kernel("let a = X[0 : +16] * 2.0;\n"       /* dead, load included */
                          "let b = exp(a) + f32(arange<16>(0));\n"
                          "var t = s;\n"
                          "for i in 0 .. 8 { t = t * 2.0 + X[i]; }\n"  /* a pure loop whose result is unused */
                          "if c { t = t + 1.0; }\n"                   /* a pure if, result unused */
                          "O[0] = s;");
    TirFunc *f = m->funcs.data[0];
    assert_true(tir_pass_dce(f, NULL));
    verify(f);
    assert_int_equal(count(f, TIR_FOR) + count(f, TIR_IF) + count(f, TIR_LOAD) + count(f, TIR_EXP), 0);
    assert_int_equal(count(f, TIR_MUL) + count(f, TIR_ADD) + count(f, TIR_ARANGE), 0);
    /* only the store and what it needs are left */
    TirBlock *bl = tir_block(f, f->body);
    assert_int_equal(bl->insts.len, 3); /* const index, param, store */
    assert_false(tir_pass_dce(f, NULL));
    tir_module_free(m);
}

static void dce_keeps_side_effects(void **state)
{
    (void)state;
    TirModule *m = kernel("var t = s;\n"
                          "for i in 0 .. 8 { t = t + 1.0; O[i] = t; }\n"           /* stores: stays */
                          "var u = s;\n"
                          "if c { u = u * 2.0; } else { OI[0] = 1; }\n"            /* a store in one branch */
                          "for i in 0 .. 2 { for j in 0 .. 2 { if c { O[j] = 1.0; } } }\n" /* deep inside */
                          "var w = s;\n"
                          "for i in 0 .. 8 { w = w + 1.0; }\n"                     /* result used below */
                          "O[9] = w;");
    TirFunc *f = m->funcs.data[0];
    int stores = count(f, TIR_STORE);
    tir_pass_dce(f, NULL);
    verify(f);
    assert_int_equal(count(f, TIR_STORE), stores);
    assert_int_equal(count(f, TIR_FOR), 4);
    assert_int_equal(count(f, TIR_IF), 2);
    assert_int_equal(count(f, TIR_YIELD), 8);
    /* the if stays for its store, and with it what its branches yield
     * (u * 2.0), although nothing uses the if's result */
    assert_int_equal(count(f, TIR_MUL), 1);
    tir_module_free(m);
}

/* A long dead chain goes in one call; on a long live chain CSE and fold run
 * in linear time too (20000 statements in well under a second). */
static void long_chains(void **state)
{
    (void)state;
    for (int live = 0; live < 2; live++) {
        StrBuf body;
        sb_init(&body);
        sb_puts(&body, "var t = s;\n");
        for (int i = 0; i < 20000; i++)
            sb_puts(&body, "t = t * 1.5 + 1.0;\n");
        sb_puts(&body, live ? "O[0] = t;\n" : "O[0] = s;\n");
        char *text = tsr_xmalloc(body.len + 512);
        snprintf(text, body.len + 512, "kernel k(O: out f32[N], s: f32) grid (1) {\n%s}\n", body.data);
        TirModule *m = build(text, NULL, 0);
        TirFunc *f = m->funcs.data[0];
        clock_t t0 = clock();
        if (live) {
            assert_true(tir_pass_cse(f, NULL)); /* the constants 1.5 and 1.0 */
            assert_false(tir_pass_fold(f, NULL));
            assert_false(tir_pass_dce(f, NULL));
            assert_int_equal(count(f, TIR_MUL), 20000);
            assert_int_equal(count(f, TIR_CONST), 3);
        } else {
            assert_true(tir_pass_dce(f, NULL));
            assert_int_equal(count(f, TIR_MUL) + count(f, TIR_ADD), 0);
        }
        double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
        verify(f);
        if (secs > 1.0)
            fail_msg("passes took %.2f s on 20000 statements", secs);
        tir_module_free(m);
        free(text);
        sb_free(&body);
    }
}

/* -------------------------------------------------------------- pipeline */

static void pipeline_dumps_each_pass(void **state)
{
    (void)state;
    TirModule *m = kernel("O[0] = f32(2) * s;");
    StrBuf dump;
    sb_init(&dump);
    tir_run_passes(m->funcs.data[0], &dump);
    const char *fold = strstr(dump.data, "// ----- after fold\nkernel k(");
    const char *cse = strstr(dump.data, "// ----- after cse\nkernel k(");
    const char *dce = strstr(dump.data, "// ----- after dce\nkernel k(");
    assert_non_null(fold);
    assert_true(cse > fold && dce > cse);
    sb_free(&dump);
    tir_module_free(m);
}

/* Runs f on fixed inputs; returns the bytes of every out tensor. */
static char *run_bytes(TirFunc *f, size_t *len)
{
    enum { ROWS = 37 };
    KernelArg args[8];
    HostTensor ts[8];
    Rng rng;
    rng_seed(&rng, 7);
    StrBuf out;
    sb_init(&out);
    assert_true(f->params.len <= 8);
    for (int i = 0; i < f->params.len; i++) {
        const TirParam *p = &f->params.data[i];
        if (!p->is_tensor) {
            args[i] = arg_scalar(p->dt == DT_BOOL ? 1 : 0.75);
            continue;
        }
        int64_t shape[TIR_MAX_RANK];
        for (int d = 0; d < p->rank; d++)
            shape[d] = p->dim_sym[d] == TIR_NONE ? p->dim_const[d] : ROWS;
        ts[i] = tensor_new(p->dt, p->rank, shape);
        if (p->is_out)
            tensor_poison(&ts[i]);
        else
            tensor_fill_normal(&ts[i], &rng, 1.0);
        args[i] = arg_tensor(ts[i]);
    }
    StrBuf err;
    sb_init(&err);
    if (!interp_launch(f, args, f->params.len, 1, &err))
        fail_msg("launch: %s", err.data);
    sb_free(&err);
    for (int i = 0; i < f->params.len; i++)
        if (f->params.data[i].is_tensor) {
            if (f->params.data[i].is_out)
                sb_putn(&out, ts[i].data, (size_t)tensor_numel(&ts[i]) * (size_t)dtype_size(ts[i].dt));
            tensor_free(&ts[i]);
        }
    *len = out.len;
    return sb_take(&out);
}

/* The passes keep the meaning: the same outputs, bit for bit. */
static void pipeline_keeps_meaning(void **state)
{
    (void)state;
    const char *files[][2] = { { "tests/golden/emit/softmax.tsr", NULL }, { "tests/golden/emit/loop_if.tsr", NULL } };
    Define sm[2] = { { "N", "64" }, { "T", "bf16" } }, li[1] = { { "BM", "16" } };
    for (int i = 0; i < 2; i++) {
        char *text = tsr_read_file(files[i][0], NULL);
        assert_non_null(text);
        TirModule *m = build(text, i == 0 ? sm : li, i == 0 ? 2 : 1);
        TirFunc *f = m->funcs.data[0];
        size_t n0, n1;
        char *before = run_bytes(f, &n0);
        tir_run_passes(f, NULL);
        char *after = run_bytes(f, &n1);
        assert_int_equal(n0, n1);
        if (memcmp(before, after, n0) != 0)
            fail_msg("%s computes something else after the passes", files[i][0]);
        free(before);
        free(after);
        tir_module_free(m);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fold_scalar_constants),
        cmocka_unit_test(fold_leaves_what_is_not_constant),
        cmocka_unit_test(fold_nested_blocks_and_grid),
        cmocka_unit_test(fold_and_or_identities),
        cmocka_unit_test(cse_merges_equal_pure_instructions),
        cmocka_unit_test(cse_keeps_what_differs),
        cmocka_unit_test(cse_does_not_merge_loads),
        cmocka_unit_test(cse_respects_dominance),
        cmocka_unit_test(cse_keeps_grid_and_body_apart),
        cmocka_unit_test(dce_removes_unused_pure_code),
        cmocka_unit_test(dce_keeps_side_effects),
        cmocka_unit_test(long_chains),
        cmocka_unit_test(pipeline_dumps_each_pass),
        cmocka_unit_test(pipeline_keeps_meaning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
