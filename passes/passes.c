/* The TIR pass pipeline, in order. The verifier runs after each pass; with
 * a dump buffer, the IR after each pass is recorded too (`--dump-passes`). */
#include "tir.h"

typedef struct {
    const char *name;
    bool (*run)(TirFunc *f);
} Pass;

static const Pass pipeline[] = {
    { "fold", tir_pass_fold },
    { "cse", tir_pass_cse },
    { "fold", tir_pass_fold },
    { "dce", tir_pass_dce },
};

static void verify_or_die(TirFunc *f, const char *after)
{
    StrBuf why;
    sb_init(&why);
    if (!tir_verify(f, &why))
        tsr_die("%s (after %s)", why.data, after);
    sb_free(&why);
}

static const Pass codegen_pipeline[] = {
    { "fuse", tir_pass_fuse },
    { "layout", tir_pass_layout },
    { "pipeline", tir_pass_pipeline },
    { "cse", tir_pass_cse },
    { "dce", tir_pass_dce },
    { "smem", tir_pass_smem },
};

static void run(TirFunc *f, const Pass *passes, size_t n, StrBuf *dump)
{
    for (size_t i = 0; i < n; i++) {
        passes[i].run(f);
        verify_or_die(f, passes[i].name);
        if (dump) {
            sb_printf(dump, "// ----- after %s\n", passes[i].name);
            tir_print(dump, f);
        }
    }
}

void tir_run_passes(TirFunc *f, StrBuf *dump)
{
    verify_or_die(f, "sema");
    run(f, pipeline, TSR_ARRAY_LEN(pipeline), dump);
}

void tir_run_codegen_passes(TirFunc *f, StrBuf *dump)
{
    if (f->laid_out)
        return;
    run(f, codegen_pipeline, TSR_ARRAY_LEN(codegen_pipeline), dump);
    f->laid_out = true;
}
