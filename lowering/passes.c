/* The TIR pass pipeline, in order. The verifier runs after each pass; with
 * a dump buffer, the IR after each pass is recorded too (`--dump-passes`).
 *
 * A test hook: the environment variable TSR_SKIP_PASSES, a comma-separated
 * list of pass names or `all`, leaves out those of the optimizations (the
 * passes marked optional below), so differential tests can run programs
 * with the optimizations on and off. The passes that lower (layout, smem)
 * always run. Not for users: the runtime's JIT cache does not know of it. */
#include "tir.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    bool (*run)(TirFunc *f);
    bool optional;
} Pass;

static const Pass pipeline[] = {
    { "fold", tir_pass_fold, true },
    { "cse", tir_pass_cse, true },
    { "fold", tir_pass_fold, true },
    { "dce", tir_pass_dce, true },
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
    { "fuse", tir_pass_fuse, true },
    { "layout", tir_pass_layout, false },
    { "pipeline", tir_pass_pipeline, true },
    { "cse", tir_pass_cse, true },
    { "dce", tir_pass_dce, true },
    { "smem", tir_pass_smem, false },
};

/* Whether TSR_SKIP_PASSES names this pass (see the top of the file). */
static bool skipped(const Pass *p)
{
    const char *list = p->optional ? getenv("TSR_SKIP_PASSES") : NULL;
    if (!list)
        return false;
    size_t len = strlen(p->name);
    for (const char *s = list; *s;) {
        size_t n = strcspn(s, ",");
        if ((n == 3 && !strncmp(s, "all", 3)) || (n == len && !strncmp(s, p->name, n)))
            return true;
        s += n + (s[n] == ',');
    }
    return false;
}

static void run(TirFunc *f, const Pass *passes, size_t n, StrBuf *dump)
{
    for (size_t i = 0; i < n; i++) {
        if (skipped(&passes[i]))
            continue;
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
