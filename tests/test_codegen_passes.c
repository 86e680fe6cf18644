/* The TIR passes that prepare code generation (fuse, layout, pipeline,
 * smem), checked on the attention kernel and on small programs: what they
 * produce, and that the verifier accepts it. */
#include "passes.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static TirFunc *laid_out_attention(TirModule **m, const char *D, const char *causal, const Target *target)
{
    Define defs[3] = { { "T", "f16" }, { "D", D }, { "CAUSAL", causal } };
    *m = compile_file_or_fail("kernels/attention.tsr", defs, 3);
    TirFunc *f = tir_func_clone(module_func(*m, "attention_fwd"));
    tir_run_codegen_passes(f, target, NULL);
    StrBuf why;
    sb_init(&why);
    if (!tir_verify(f, &why))
        fail_msg("%s", why.data);
    sb_free(&why);
    return f;
}

typedef struct {
    int count[TIR_OP_COUNT];
    int dot3;             /* dots that accumulate into an operand */
    int stage_waits;      /* waits for one stage (not all) */
    int stage_wait_later; /* the later stages those waits leave in flight, summed */
    int local_converts;   /* conversions done in registers */
    int shared_converts;  /* conversions out of shared tiles */
    int smem_converts;    /* conversions through scratch */
    int untyped_tiles;    /* tile values without a layout */
} Census;

static void census_block(TirFunc *f, BlockId b, Census *c)
{
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        c->count[in->op]++;
        if (in->op == TIR_DOT && in->nargs == 3)
            c->dot3++;
        if (in->op == TIR_ASYNC_WAIT && in->nargs == 1) {
            c->stage_waits++;
            c->stage_wait_later += (int)in->ival;
        }
        for (int r = 0; r < in->nres; r++)
            if (tir_type(f, in->res[r]).rank && !tir_layout(f, in->res[r]))
                c->untyped_tiles++;
        if (in->op == TIR_CONVERT) {
            if (tir_layout(f, in->args[0])->kind == LAYOUT_SHARED)
                c->shared_converts++;
            else if (smem_scratch_bytes(f, in))
                c->smem_converts++;
            else
                c->local_converts++;
        }
        for (int k = 0; k < 2; k++)
            if ((in->op == TIR_FOR || in->op == TIR_IF) && in->blocks[k] != TIR_NONE)
                census_block(f, in->blocks[k], c);
    }
}

static void attention_shape(void **state)
{
    (void)state;
    TirModule *m;
    TirFunc *f = laid_out_attention(&m, "64", "true", target_lookup("sm_80"));
    Census c = { 0 };
    census_block(f, f->body, &c);
    assert_int_equal(c.untyped_tiles, 0);
    /* Loop splitting (passes/pass_loopsplit.c): the key loop is two loops,
     * the mask-free one and the masked blocks after it, each with the same
     * dots, copies and stage operations. */
    assert_int_equal(c.count[TIR_FOR], 2);
    assert_int_equal(c.count[TIR_DOT], 2 * 2);
    assert_int_equal(c.dot3, 2); /* acc * alpha + dot(p, v) accumulates in place */
    /* Q, K and V reach the tensor cores from shared memory (ldmatrix); P
     * goes from the accumulator to the A operand in registers; the output
     * is converted once, for 16-byte stores. */
    assert_int_equal(c.shared_converts, 2 * 3);
    assert_true(c.local_converts >= 1);
    assert_int_equal(c.smem_converts, 1);
    /* Pipelining: K and V are copied two iterations ahead. */
    assert_int_equal(c.count[TIR_ASYNC_COPY], 2 * 4); /* prologue and loop, K and V */
    assert_int_equal(c.count[TIR_SMEM_TILE], 2 * 2);
    /* Stage operations: one commit per filled stage (prologue, loop); a
     * wait for every stage before the prologue and after the loop, and in
     * the loop a wait for the loop's stage with none later in flight (two
     * stages) and its release after the body. */
    assert_int_equal(c.count[TIR_ASYNC_COMMIT], 2 * 2);
    assert_int_equal(c.count[TIR_ASYNC_WAIT], 2 * 3);
    assert_int_equal(c.count[TIR_ASYNC_RELEASE], 2 * 1);
    assert_int_equal(c.stage_waits, 2 * 1);
    assert_int_equal(c.stage_wait_later, 0);
    assert_int_equal(f->buffers.len, 2 * 2);
    for (int i = 0; i < f->buffers.len; i++)
        assert_int_equal(f->buffers.data[i].stages, 2);
    /* Shared memory: Q (8 KiB) and two stages of K and V (2 x 2 x 8 KiB),
     * the two loops' rings in the same space, with the output's conversion
     * reusing it. */
    assert_int_equal(f->smem_bytes, 8192 + 4 * 8192);
    tir_func_free(f);
    tir_module_free(m);
    /* sm_90a rotates both loops (passes/pass_rotate.c): each gains the
     * first iteration's score dot before it and the last accumulating dot
     * after it. */
    f = laid_out_attention(&m, "64", "true", target_lookup("sm_90a"));
    Census h = { 0 };
    census_block(f, f->body, &h);
    assert_int_equal(h.count[TIR_FOR], 2);
    assert_int_equal(h.count[TIR_DOT], 2 * 2 + 2 * 2);
    tir_func_free(f);
    tir_module_free(m);
}

/* Shared-memory offsets never overlap for users alive at once: here, Q's
 * tile lives through both key loops, and each loop's two pipelined buffers
 * through that loop (the two loops' rings, never alive at once, may
 * share space). */
static void smem_plan_is_disjoint(void **state)
{
    (void)state;
    TirModule *m;
    TirFunc *f = laid_out_attention(&m, "128", "false", target_default());
    size_t q_off = 0, q_bytes = 0;
    for (int i = 0; i < f->insts.len; i++) {
        TirInst *in = &f->insts.data[i];
        if (in->op == TIR_LOAD && in->smem >= 0) {
            q_off = (size_t)in->smem;
            q_bytes = (size_t)ttype_numel(tir_type(f, in->res[0])) * 2;
        }
    }
    assert_true(q_bytes > 0);
    for (int i = 0; i < f->buffers.len; i++) {
        TirBuffer *b = &f->buffers.data[i];
        size_t lo = (size_t)b->offset, hi = lo + (size_t)b->stages * (size_t)ttype_numel(b->type) * 2;
        assert_true(hi <= q_off || lo >= q_off + q_bytes);
        assert_true(hi <= f->smem_bytes);
        for (int j = 0; j < i; j++) {
            TirBuffer *o = &f->buffers.data[j];
            if (o->ring != b->ring)
                continue;
            size_t olo = (size_t)o->offset, ohi = olo + (size_t)o->stages * (size_t)ttype_numel(o->type) * 2;
            assert_true(hi <= olo || lo >= ohi);
        }
    }
    tir_func_free(f);
    tir_module_free(m);
}

static TirFunc *laid_out(TirModule **m, const char *src)
{
    StrBuf diags;
    sb_init(&diags);
    *m = compile_string("t.tsr", src, NULL, 0, &diags);
    if (!*m)
        fail_msg("%s", diags.data);
    sb_free(&diags);
    TirFunc *f = tir_func_clone((*m)->funcs.data[0]);
    tir_run_codegen_passes(f, target_default(), NULL);
    return f;
}

/* A dot whose result has another use keeps its own accumulator; a loop
 * without pipeline() is not pipelined. */
static void fuse_and_pipeline_only_when_asked(void **state)
{
    (void)state;
    TirModule *m;
    TirFunc *f = laid_out(&m, "kernel k(A: f16[64, 64], B: f16[64, 64], C: out f32[64, 64], E: out f32[64, 64])\n"
                              "  grid (1) {\n"
                              "    var acc = zeros<f32>[64, 64];\n"
                              "    for i in 0 .. 4 {\n"
                              "        let d = dot(A[:, :], B[:, :]);\n"
                              "        acc = acc + d;\n"
                              "        E[:, :] = d;\n"
                              "    }\n"
                              "    C[:, :] = acc;\n"
                              "}\n");
    Census c = { 0 };
    census_block(f, f->body, &c);
    assert_int_equal(c.dot3, 0);
    assert_int_equal(c.count[TIR_ASYNC_COPY], 0);
    assert_int_equal(c.count[TIR_ADD], 1);
    tir_func_free(f);
    tir_module_free(m);
}

/* The codegen passes leave the function they were given alone when it is
 * cloned, and run once. */
static void passes_run_once(void **state)
{
    (void)state;
    TirModule *m;
    TirFunc *f = laid_out_attention(&m, "64", "false", target_default());
    int before = f->insts.len;
    tir_run_codegen_passes(f, target_default(), NULL);
    assert_int_equal(f->insts.len, before);
    assert_int_equal(module_func(m, "attention_fwd")->layouts.len, 0);
    tir_func_free(f);
    tir_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attention_shape),
        cmocka_unit_test(smem_plan_is_disjoint),
        cmocka_unit_test(fuse_and_pipeline_only_when_asked),
        cmocka_unit_test(passes_run_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
