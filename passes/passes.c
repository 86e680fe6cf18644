/* The TIR pass pipelines. The target-independent one is the list below; the
 * code-generation one is the target's (Target.codegen_passes, see
 * backend/target.c). The verifier runs after each pass; with a dump buffer,
 * the IR after each pass is recorded too (`--dump-passes`). */
#include "passes.h"

static const Pass pipeline[] = {
    { "fold", tir_pass_fold },
    { "cse", tir_pass_cse },
    { "fold", tir_pass_fold },
    { "dce", tir_pass_dce },
    { NULL, NULL },
};

static void verify_or_die(TirFunc *f, const char *after)
{
    StrBuf why;
    sb_init(&why);
    if (!tir_verify(f, &why))
        tsr_die("%s (after %s)", why.data, after);
    sb_free(&why);
}

static void run(TirFunc *f, const Pass *passes, const Target *t, StrBuf *dump)
{
    for (const Pass *p = passes; p->name; p++) {
        p->run(f, t);
        verify_or_die(f, p->name);
        if (dump) {
            sb_printf(dump, "// ----- after %s\n", p->name);
            tir_print(dump, f);
        }
    }
}

void tir_run_passes(TirFunc *f, StrBuf *dump)
{
    verify_or_die(f, "sema");
    run(f, pipeline, NULL, dump);
}

void tir_run_codegen_passes(TirFunc *f, const Target *t, StrBuf *dump)
{
    if (f->laid_out)
        return;
    run(f, t->codegen_passes, t, dump);
    f->laid_out = true;
}
