/* Loop rotation (passes/pass_rotate.c) on kernels/attention.tsr for sm_90a:
 * the rotated shape (a prologue, a loop whose accumulating dot reads the
 * previous iteration's P, an epilogue) where the kernel allows it, none
 * where it says `overlap = false` or the compile turns it off, none for
 * sm_80; and the rotated code on the emulator, against the double
 * reference, at the boundaries of the key blocks (no full block, one, one
 * plus a row), causal (both split loops rotated) and not. */
#include "attn_check.h"
#include "emu_run.h"
#include "passes.h"
#include "target.h"
#include "testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* kernels/attention.tsr with its overlap option replaced by `overlap` (NULL:
 * as written), for D, causal, bm x bn blocks on w warps. */
static TirModule *attention_blocks(const char *overlap, int D, bool causal, const char *bm, const char *bn,
                                   const char *w)
{
    size_t len;
    char *text = tsr_read_file("kernels/attention.tsr", &len);
    if (!text)
        fail_msg("cannot read kernels/attention.tsr");
    const char *opt = "overlap = (!CAUSAL || D != 128) && W != 12";
    char *at = strstr(text, opt);
    if (!at)
        fail_msg("kernels/attention.tsr no longer says '%s': update this test", opt);
    StrBuf src;
    sb_init(&src);
    sb_putn(&src, text, (size_t)(at - text));
    sb_printf(&src, "overlap = %s", overlap ? overlap : opt + strlen("overlap = "));
    sb_puts(&src, at + strlen(opt));
    char dbuf[16];
    snprintf(dbuf, sizeof dbuf, "%d", D);
    Define defs[6] = { { "T", "f16" }, { "D", dbuf }, { "CAUSAL", causal ? "true" : "false" },
                       { "BM", bm }, { "BN", bn }, { "W", w } };
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("attention.tsr", src.data, defs, 6, &diags);
    if (!m)
        fail_msg("attention does not compile: %s", diags.data ? diags.data : "");
    sb_free(&diags);
    sb_free(&src);
    free(text);
    return m;
}

/* The same for 128 x 128 blocks on 8 warps. */
static TirModule *attention_with(const char *overlap, int D, bool causal)
{
    return attention_blocks(overlap, D, causal, "128", "128", "8");
}

/* Loops of the laid-out kernel whose accumulating dot reads a P carried
 * from the previous iteration (its A operand converts a loop argument). */
static int rotated_loops(TirFunc *f)
{
    int n = 0;
    for (BlockId b = 0; b < f->blocks.len; b++) {
        TirBlock *bl = tir_block(f, b);
        if (bl->parent == TIR_NONE || tir_inst(f, bl->parent)->op != TIR_FOR)
            continue;
        for (int i = 0; i < bl->insts.len; i++) {
            TirInst *in = tir_inst(f, bl->insts.data[i]);
            if (in->op != TIR_DOT || in->nargs != 3)
                continue;
            TirVal *a = tir_val(f, in->args[0]);
            ValId src = a->def != TIR_NONE && tir_inst(f, a->def)->op == TIR_CONVERT ? tir_inst(f, a->def)->args[0]
                                                                                   : in->args[0];
            if (tir_val(f, src)->def == TIR_NONE && tir_val(f, src)->block == b)
                n++;
        }
    }
    return n;
}

static int rotated_after_passes(TirModule *m, const char *target, bool no_overlap)
{
    TirFunc *f = tir_func_clone(module_func(m, "attention_fwd"));
    f->no_overlap = no_overlap;
    tir_run_codegen_passes(f, target_lookup(target), NULL);
    StrBuf why;
    sb_init(&why);
    if (!tir_verify(f, &why))
        fail_msg("%s", why.data);
    sb_free(&why);
    int n = rotated_loops(f);
    tir_func_free(f);
    return n;
}

static void rotation_where_allowed(void **state)
{
    (void)state;
    /* as written: every loop rotates (the steady loop and the masked one
     * after the split) except causal D=128's and 12 warps' */
    TirModule *m = attention_with(NULL, 64, false);
    assert_int_equal(rotated_after_passes(m, "sm_90a", false), 2);
    assert_int_equal(rotated_after_passes(m, "sm_90a", true), 0); /* --no-overlap */
    assert_int_equal(rotated_after_passes(m, "sm_80", false), 0);  /* mma.sync waits at once */
    tir_module_free(m);
    m = attention_with(NULL, 128, false);
    assert_int_equal(rotated_after_passes(m, "sm_90a", false), 2);
    tir_module_free(m);
    m = attention_with(NULL, 128, true);
    assert_int_equal(rotated_after_passes(m, "sm_90a", false), 0); /* overlap = false */
    tir_module_free(m);
    m = attention_with("true", 128, true);
    assert_int_equal(rotated_after_passes(m, "sm_90a", false), 2);
    tir_module_free(m);
    /* three consumer warpgroups keep the written order (the previous P
     * does not fit in their 160 registers); asked to, they rotate */
    for (int causal = 0; causal < 2; causal++) {
        m = attention_blocks(NULL, 64, causal, "192", "128", "12");
        assert_int_equal(rotated_after_passes(m, "sm_90a", false), 0);
        tir_module_free(m);
        m = attention_blocks("true", 64, causal, "192", "128", "12");
        assert_int_equal(rotated_after_passes(m, "sm_90a", false), 2);
        tir_module_free(m);
    }
}

/* The rotated kernel on emu at the key-block boundaries: Sk = 1 (the loop
 * runs once: prologue and epilogue only), 127, 128, 129, 300, with odd Sq. */
static void rotated_on_emu(void **state)
{
    (void)state;
    static const struct {
        int D;
        bool causal;
    } cases[] = { { 64, false }, { 64, true }, { 128, true } };
    static const int sk[] = { 1, 127, 128, 129, 300 };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        TirModule *m = attention_with("true", cases[c].D, cases[c].causal);
        TirFunc *f = module_func(m, "attention_fwd");
        for (size_t i = 0; i < sizeof sk / sizeof sk[0]; i++) {
            AttnShape s = { 1, 2, 1, 61 + 67 * (int)i, sk[i], cases[c].D, cases[c].causal,
                            1.0 / sqrt((double)cases[c].D) };
            EmuRunOptions o = { 0 };
            o.target = "sm_90a";
            o.host_threads = 2;
            o.check_races = o.check_uninit = i == 3;
            char *ptx = NULL;
            o.ptx = &ptx;
            AttnErrors e = attn_check_run(f, DT_F16, s, 900 + i, attn_run_emu, &o);
            char what[64];
            snprintf(what, sizeof what, "rotated D=%d causal=%d", cases[c].D, cases[c].causal);
            attn_check_assert(&e, DT_F16, &s, what);
            if (!ptx || !strstr(ptx, "wgmma.wait_group.sync.aligned 1;"))
                fail_msg("%s: no wgmma wait at depth 1 in the PTX run", what);
            free(ptx);
        }
        tir_module_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rotation_where_allowed),
        cmocka_unit_test(rotated_on_emu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
