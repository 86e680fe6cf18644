/* Loop splitting (passes/pass_loopsplit.c): the kernels of
 * tests/programs/loopsplit.tsr, one per form of a condition monotone in the
 * induction variable, on the interpreter (which runs the loop as written)
 * and on the emulator (the split code, sm_80 and sm_90a), against the same
 * loop in C, at every boundary: no iteration, fewer elements than a block,
 * whole blocks, whole blocks plus one, the flip before the first, inside
 * and after the last iteration, negative starts, and starts where iv + a
 * wraps in i32 (no steady iterations then). Also that the split happens
 * (two loops, the first without the if) and that a condition of another
 * form is left alone; and loads whose start indices move at other rates
 * (2 and -1), near both ends of i32 as well, where they wrap. Then
 * attention (kernels/attention.tsr, whose key
 * loop splits into mask-free blocks and masked ones) at the same
 * boundaries of its key blocks, causal or not, on both devices. */
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

static const char *const FILE_NAME = "tests/programs/loopsplit.tsr";
enum { BN = 16, N = 100 };

typedef enum { GT, GE_SWAPPED, LT_SUB, LE_BARE, NO_SPLIT, CARRIED } Form;
static const char *const names[] = { "split_gt",      "split_ge_swapped", "split_lt_sub", "split_le_bare",
                                     "no_split", "carried" };

static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

/* The kernel's loop in C (i32 arithmetic wraps, as in the language). */
static void reference(Form form, const float *x, int32_t lo, int32_t hi, int32_t lim, float *acc)
{
    for (int j = 0; j < BN; j++)
        acc[j] = 0;
    for (int64_t n64 = lo; n64 < hi; n64 += BN) {
        int32_t n = (int32_t)n64;
        if (form == CARRIED) { /* X[2n + lim : +BN] - X[lim - n : +BN], the starts wrapping */
            int32_t sa = wrap_add(wrap_add(n, n), lim), sb = wrap_add(lim, (int32_t)(0u - (uint32_t)n));
            for (int j = 0; j < BN; j++) {
                int64_t ia = (int64_t)sa + j, ib = (int64_t)sb + j;
                float a = ia >= 0 && ia < N ? x[ia] : 0.0f, b = ib >= 0 && ib < N ? x[ib] : 0.0f;
                acc[j] = acc[j] * 0.5f + a - b;
            }
            continue;
        }
        for (int j = 0; j < BN; j++) {
            int64_t at = n64 + j;
            float v = at >= 0 && at < N ? x[at] : 0.0f;
            switch (form) {
            case GT:
                if (wrap_add(n, BN) > lim && !(at < lim))
                    v = 100.0f;
                break;
            case GE_SWAPPED:
                if (lim <= wrap_add(3, n))
                    v = v * 2.0f + 1.0f;
                break;
            case LT_SUB: v = wrap_add(n, -5) < lim ? v - 3.0f : v * 0.25f; break;
            case LE_BARE:
                if (n <= lim)
                    v = -v;
                break;
            case NO_SPLIT:
                if (n / 2 > lim)
                    v = -v;
                break;
            case CARRIED: break;
            }
            acc[j] = acc[j] * 0.5f + v;
        }
    }
}

/* The loops at the top of the kernel's body after target t's passes, and
 * the ifs at the top of the first two. */
static int top_loops(TirFunc *f, const char *target, int ifs[2])
{
    TirFunc *c = tir_func_clone(f);
    tir_run_codegen_passes(c, target_lookup(target), NULL);
    int loops = 0;
    ifs[0] = ifs[1] = 0;
    TirBlock *b = tir_block(c, c->body);
    for (int i = 0; i < b->insts.len; i++) {
        TirInst *in = tir_inst(c, b->insts.data[i]);
        if (in->op != TIR_FOR)
            continue;
        if (loops < 2) {
            TirBlock *body = tir_block(c, in->blocks[0]);
            for (int k = 0; k < body->insts.len; k++)
                ifs[loops] += tir_inst(c, body->insts.data[k])->op == TIR_IF;
        }
        loops++;
    }
    tir_func_free(c);
    return loops;
}

static void run_form(Form form)
{
    TirModule *m = compile_file_or_fail(FILE_NAME, NULL, 0);
    TirFunc *f = module_func(m, names[form]);
    for (int t = 0; t < 2; t++) {
        int ifs[2];
        int loops = top_loops(f, t ? "sm_90a" : "sm_80", ifs);
        if (form == NO_SPLIT || form == CARRIED) {
            assert_int_equal(loops, 1);
            assert_int_equal(ifs[0], form == NO_SPLIT);
        } else { /* the first loop without the if, the second with it */
            assert_int_equal(loops, 2);
            assert_int_equal(ifs[0], 0);
            assert_int_equal(ifs[1], 1);
        }
    }
    int64_t xs[1] = { N }, ys[1] = { BN };
    HostTensor x = tensor_new(DT_F32, 1, xs);
    Rng rng;
    rng_seed(&rng, 14);
    tensor_fill_uniform(&x, &rng, -4.0, 4.0);
    float *xf = tensor_to_float(&x);
    static const int32_t ranges[][2] = { { 0, 0 },   { 0, 5 },    { 0, 16 },  { 0, 48 },
                                         { 0, 49 },  { 0, 100 },  { 7, 100 }, { -20, 60 },
                                         { INT32_MIN, INT32_MIN + 40 }, { INT32_MAX - 40, INT32_MAX } };
    static const int32_t lims[] = { -1000, -21, -5, 0, 1, 11, 15, 16, 17, 21, 32, 33, 48, 49, 64, 100, 1000 };
    /* the last range (the variable near INT32_MAX) for the carried copies alone */
    size_t nranges = sizeof ranges / sizeof ranges[0] - (form != CARRIED);
    for (size_t r = 0; r < nranges; r++)
        for (size_t l = 0; l < sizeof lims / sizeof lims[0]; l++) {
            int32_t lo = ranges[r][0], hi = ranges[r][1], lim = lims[l];
            float want[BN];
            reference(form, xf, lo, hi, lim, want);
            for (int d = 0; d < 3; d++) {
                HostTensor y = tensor_new(DT_F32, 1, ys);
                tensor_poison(&y);
                KernelArg args[5] = { arg_tensor(x), arg_tensor(y), arg_scalar(lo), arg_scalar(hi), arg_scalar(lim) };
                StrBuf err;
                sb_init(&err);
                EmuRunOptions o = { 0 };
                o.target = d == 1 ? "sm_80" : "sm_90a";
                bool ok = d == 0 ? interp_launch(f, args, 5, 1, &err) : emu_run_kernel(f, args, 5, &o, &err);
                if (!ok)
                    fail_msg("%s on %s: %s", names[form], d ? o.target : "interp", err.data);
                sb_free(&err);
                for (int j = 0; j < BN; j++)
                    if (tensor_get(&y, j) != want[j])
                        fail_msg("%s on %s, n in %d .. %d, lim %d: element %d is %.9g, want %.9g", names[form],
                                 d ? o.target : "interp", lo, hi, lim, j, tensor_get(&y, j), want[j]);
                tensor_free(&y);
            }
        }
    free(xf);
    tensor_free(&x);
    tir_module_free(m);
}

static void gt(void **state) { (void)state; run_form(GT); }
static void ge_swapped(void **state) { (void)state; run_form(GE_SWAPPED); }
static void lt_sub(void **state) { (void)state; run_form(LT_SUB); }
static void le_bare(void **state) { (void)state; run_form(LE_BARE); }
static void no_split(void **state) { (void)state; run_form(NO_SPLIT); }
static void carried(void **state) { (void)state; run_form(CARRIED); }

/* Attention with 64-key blocks (f16, D=64) at the split's boundaries: fewer
 * keys than a block, whole blocks, whole blocks plus one key, and causal
 * masks with Sq != Sk (the diagonal blocks start at row0 + 1 + Sk - Sq), on
 * the interpreter and on the emulator for sm_80 and sm_90a, against the
 * double-precision reference; and with a negative scale and a zero one. */
static void attention_boundaries(void **state)
{
    (void)state;
    static const int pairs[][2] = { { 1, 1 }, { 65, 37 }, { 64, 128 }, { 65, 129 }, { 129, 65 }, { 200, 193 } };
    for (int causal = 0; causal < 2; causal++)
        for (int t = 0; t < 2; t++) {
            const char *target = t ? "sm_90a" : "sm_80";
            TirModule *m = attn_compile(target, DT_F16, 64, causal, 64, 64);
            TirFunc *f = module_func(m, "attention_fwd");
            /* the mask's if only in the second loop (both keep the scale's sign test) */
            int ifs[2];
            assert_int_equal(top_loops(f, target, ifs), 2);
            assert_int_equal(ifs[0], 1);
            assert_int_equal(ifs[1], 2);
            /* the last two pairs again with a negative scale and with 0 (the
             * fused form's rowmin, and masked scores staying -inf) */
            static const double scales[] = { 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, -0.3, 0.0 };
            for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
                size_t pi = i < 6 ? i : i - 2;
                AttnShape sh = { 1, 2, 1, pairs[pi][0], pairs[pi][1], 64, causal, scales[i] };
                EmuRunOptions o = { 0 };
                o.target = target;
                o.host_threads = 2;
                char what[64];
                snprintf(what, sizeof what, "emu %s", target);
                AttnErrors e = attn_check_run(f, DT_F16, sh, 90 + i, attn_run_emu, &o);
                attn_check_assert(&e, DT_F16, &sh, what);
                if (t == 0) {
                    e = attn_check_run(f, DT_F16, sh, 90 + i, attn_run_interp, NULL);
                    attn_check_assert(&e, DT_F16, &sh, "interp");
                }
            }
            tir_module_free(m);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gt), cmocka_unit_test(ge_swapped), cmocka_unit_test(lt_sub),
        cmocka_unit_test(le_bare), cmocka_unit_test(no_split), cmocka_unit_test(carried),
        cmocka_unit_test(attention_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
